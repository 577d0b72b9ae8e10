/* cpuid.h: what each vCPU is told by CPUID: KVM's supported set, with its own APIC ID and topology. */
#ifndef KVMINI_CPUID_H
#define KVMINI_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPUID_MAX_ENTRIES 256

/*
 * Room for KVM_GET_SUPPORTED_CPUID's answer: struct kvm_cpuid2 laid out with a fixed array in
 * place of its flexible one (cpuid_kvm() gives the view the ioctls take).
 */
struct cpuid_table {
	uint32_t nent;
	uint32_t padding;
	struct kvm_cpuid_entry2 entries[CPUID_MAX_ENTRIES];
};

_Static_assert(offsetof(struct cpuid_table, entries) == offsetof(struct kvm_cpuid2, entries),
	       "cpuid_table must match struct kvm_cpuid2");

/* cpuid_kvm: (t) as the struct kvm_cpuid2 that KVM_GET_SUPPORTED_CPUID and KVM_SET_CPUID2 take. */
static inline struct kvm_cpuid2 *cpuid_kvm(struct cpuid_table *t)
{
	return (struct kvm_cpuid2 *)(void *)t;
}

struct cpuid_topology {
	unsigned int cpu;   /* this vCPU's index, which is also its APIC ID */
	unsigned int ncpus; /* cores in the one socket, one thread each */
	bool tsc_deadline;  /* advertise the TSC-deadline timer (KVM emulates it) */
};

/*
 * cpuid_apply_topology: rewrite (t)'s entries for the vCPU described by (topo): the hypervisor
 * bit, the TSC-deadline timer, APIC IDs in
 * leaves 0x1, 0xb, 0x1f and 0x8000001e, core counts in 0x1, 0x4, 0xb, 0x1f and 0x80000008.
 * Returns 0, or -ENOSPC if the table cannot hold the topology leaves.
 */
int cpuid_apply_topology(struct cpuid_table *t, const struct cpuid_topology *topo);
/* cpuid_find: the entry for (function, index) in (t), or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct cpuid_table *t, unsigned int function, unsigned int index);

#endif
