/* trap.h: the IDT, interrupt dispatch, and recovery from an exception that a row raises. */
#ifndef EXITLAT_TRAP_H
#define EXITLAT_TRAP_H

#include <stdint.h>

#define TRAP_VEC_NMI	  2
#define TRAP_VEC_TIMER	  0x40 /* the BSP's LAPIC timer (hlt_timer row) */
#define TRAP_VEC_PING	  0x50 /* IPI, BSP to AP: the AP answers with TRAP_VEC_REPLY */
#define TRAP_VEC_REPLY	  0x51 /* IPI, AP to BSP: ends one ipi sample */
#define TRAP_VEC_PIC	  0x20 /* the 8259s, remapped here and masked, away from exceptions */
#define TRAP_VEC_SPURIOUS 0xff

/* The frame entry.S builds: PUSHAL's registers, the vector, the error code (or 0), the CPU's IRET frame. */
struct trap_frame {
	uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
	uint32_t vector, error;
	uint32_t eip, cs, eflags;
};

/* Set by the NMI handler: kvmini injects an NMI when a row stalls, to get the guest out of a wait. */
extern volatile uint32_t watchdog_fired;
/* Set by the handlers of TRAP_VEC_TIMER and TRAP_VEC_REPLY. */
extern volatile uint32_t trap_timer_fired, trap_ipi_replied;
/* Interrupts that nobody asked for (counted, EOIed, otherwise ignored). */
extern volatile uint32_t trap_unexpected;
/* The EIP of the last exception that trap_try() caught. */
extern volatile uint32_t trap_caught_eip;

/* trap_init: build the IDT and load it on this CPU (the BSP). */
void trap_init(void);
/* trap_load: load the IDT that trap_init() built on this CPU (an AP). */
void trap_load(void);
/* trap: the C half of every interrupt and exception; (f) is the frame on the interrupted stack. */
void trap(struct trap_frame *f);
/*
 * trap_try (entry.S): run (fn)(arg) on the BSP. Returns 0, or 0x100 | vector when fn raised an
 * exception: fn is abandoned at that point (trap_caught_eip says where) and interrupts are left off.
 */
uint32_t trap_try(void (*fn)(void *), void *arg);

#endif
