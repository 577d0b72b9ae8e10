/* x86/cpu.h: an x86-64 vCPU's registers: CPUID, the LAPIC and the boot entries. */
#ifndef KVMINI_X86_CPU_H
#define KVMINI_X86_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "../vcpu.h"

struct cpuid_table;

/* cpu_set_cpuid: tell (v) what CPUID reports, from KVM's supported (t) adjusted for (v)'s topology. */
int cpu_set_cpuid(struct vcpu *v, const struct cpuid_table *t, unsigned int ncpus, bool tsc_deadline);
/* cpu_init_lapic: virtual-wire mode (LINT0 ExtINT, LINT1 NMI), as firmware leaves a PC. */
int cpu_init_lapic(struct vcpu *v);
/*
 * cpu_set_long_mode: registers for a 64-bit entry at (rip) with paging on the tables at (cr3),
 * the GDT at (gdt), RSI = (rsi), as Linux's 64-bit boot protocol asks. Returns 0 or -errno.
 */
int cpu_set_long_mode(struct vcpu *v, uint64_t rip, uint64_t rsi, uint64_t cr3, uint64_t gdt);
/*
 * cpu_set_protected_mode: registers for a 32-bit entry at (eip) with paging off, flat segments
 * from the GDT at (gdt), and EAX = (eax), EBX = (ebx), as Multiboot asks. Returns 0 or -errno.
 */
int cpu_set_protected_mode(struct vcpu *v, uint32_t eip, uint32_t eax, uint32_t ebx, uint64_t gdt);

#endif
