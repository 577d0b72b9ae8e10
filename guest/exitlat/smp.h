/* smp.h: starting the second vCPU (the AP) with INIT-SIPI-SIPI, and what it runs. */
#ifndef EXITLAT_SMP_H
#define EXITLAT_SMP_H

#include <stdint.h>

/* Where the AP's real-mode trampoline is copied: a free page below 1 MiB (SIPI vector 0x08). */
#define SMP_TRAMPOLINE 0x8000u

/*
 * smp_start_ap: start the AP with APIC ID (apic_id) and wait, at most (budget) TSC cycles, until
 * it runs with its LAPIC enabled, halted with interrupts on. Returns 0, or -1 if it never came up.
 */
int smp_start_ap(uint32_t apic_id, uint64_t budget);
/* ap_main: the AP's C entry (trampoline.S); answers pings until the VM ends. */
void ap_main(void) __attribute__((noreturn));

#endif
