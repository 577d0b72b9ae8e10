/* smp.h: PSCI through HVC: starting the second vCPU (the AP) with CPU_ON, and what it runs; SYSTEM_OFF. */
#ifndef EXITLAT_ARM64_SMP_H
#define EXITLAT_ARM64_SMP_H

#include <stdint.h>

/*
 * smp_start_ap: PSCI CPU_ON of vCPU (cpu) at ap_entry (entry.S), then wait until it runs with its
 * interrupts open, at most (budget) counter ticks. Returns 0, or -1 (CPU_ON refused, or no sign of it).
 */
int smp_start_ap(uint32_t cpu, uint64_t budget);
/* ap_main: the AP's C entry (entry.S), on its own stack: answers pings (trap.c) until the VM ends. */
void ap_main(void);
/* smp_system_off: PSCI SYSTEM_OFF: KVM tells kvmini the guest powered off. Does not return. */
void smp_system_off(void) __attribute__((noreturn));

#endif
