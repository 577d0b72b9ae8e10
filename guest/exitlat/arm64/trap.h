/* trap.h: the exception vectors' C half: interrupts (timer, SGIs) and the exceptions that end the run. */
#ifndef EXITLAT_ARM64_TRAP_H
#define EXITLAT_ARM64_TRAP_H

#include <stdint.h>

/* Set by the interrupt handler: the virtual timer fired (vCPU 0); vCPU 1's reply SGI came. */
extern volatile uint32_t trap_timer_fired, trap_ipi_replied;
/* Interrupts that nobody asked for (counted, EOIed, otherwise ignored). */
extern volatile uint32_t trap_unexpected;

/* trap_irq: the C half of the IRQ vector (entry.S), on the interrupted stack, interrupts masked. */
void trap_irq(void);
/*
 * trap_fault: the C half of every other vector (entry.S): (kind) is the vector's index (0-15),
 * (esr, elr, far) its syndrome, return address and fault address. Prints them and powers off.
 */
void trap_fault(uint64_t kind, uint64_t esr, uint64_t elr, uint64_t far);

#endif
