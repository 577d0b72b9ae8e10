/* lapic.h: the local APIC in xAPIC mode (MMIO at 0xfee00000): enable, EOI, one-shot timer, IPIs. */
#ifndef EXITLAT_LAPIC_H
#define EXITLAT_LAPIC_H

#include <stdint.h>

#define LAPIC_BASE 0xfee00000u

/* lapic_enable: enable this CPU's LAPIC (global and software enable), spurious vector (spurious). */
void lapic_enable(uint8_t spurious);
/* lapic_id: this CPU's APIC ID. */
uint32_t lapic_id(void);
/* lapic_eoi: end the interrupt in service. */
void lapic_eoi(void);
/* lapic_timer_oneshot: make the timer one-shot at (vector), divide by 1; it stays idle until armed. */
void lapic_timer_oneshot(uint8_t vector);
/* lapic_timer_arm: start the one-shot timer at (ticks) bus clocks; 0 stops it. */
void lapic_timer_arm(uint32_t ticks);
/* lapic_send_ipi: a fixed, edge-triggered interrupt at (vector) to APIC ID (dest). */
void lapic_send_ipi(uint32_t dest, uint8_t vector);
/* lapic_send_init: INIT to APIC ID (dest): it waits for a SIPI. */
void lapic_send_init(uint32_t dest);
/* lapic_send_sipi: a start-up IPI to (dest): it starts in real mode at (page) << 12. */
void lapic_send_sipi(uint32_t dest, uint8_t page);

#endif
