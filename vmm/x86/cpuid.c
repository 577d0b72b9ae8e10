/* cpuid.c: what each vCPU is told by CPUID: KVM's supported set, with its own APIC ID and topology. */
#include "cpuid.h"

#include <errno.h>
#include <string.h>

#define LEAF1_ECX_TSC_DEADLINE (1u << 24)
#define LEAF1_EDX_HTT	       (1u << 28)
#define LEAF1_ECX_HYPERVISOR   (1u << 31)
#define TOPO_LEVEL_SMT	       1
#define TOPO_LEVEL_CORE	       2

struct kvm_cpuid_entry2 *cpuid_find(struct cpuid_table *t, unsigned int function, unsigned int index)
{
	for (unsigned int i = 0; i < t->nent; i++) {
		struct kvm_cpuid_entry2 *e = &t->entries[i];

		if (e->function != function)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == index)
			return e;
	}
	return NULL;
}

/* Bits of APIC ID that number (n) items: ceil(log2(n)). */
static unsigned int id_bits(unsigned int n)
{
	unsigned int bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

static void remove_leaf(struct cpuid_table *t, unsigned int function)
{
	unsigned int j = 0;

	for (unsigned int i = 0; i < t->nent; i++)
		if (t->entries[i].function != function)
			t->entries[j++] = t->entries[i];
	t->nent = j;
}

/* Leaves 0xb and 0x1f: an SMT level of one thread, a core level of ncpus, then the end marker. */
static int set_extended_topology(struct cpuid_table *t, unsigned int function,
				 const struct cpuid_topology *topo)
{
	const unsigned int shift = id_bits(topo->ncpus);
	const struct kvm_cpuid_entry2 levels[3] = {
		{ .eax = 0, .ebx = 1, .ecx = (TOPO_LEVEL_SMT << 8) | 0 },
		{ .eax = shift, .ebx = topo->ncpus, .ecx = (TOPO_LEVEL_CORE << 8) | 1 },
		{ .eax = 0, .ebx = 0, .ecx = 2 },
	};

	if (!cpuid_find(t, function, 0))
		return 0; /* the CPU does not have this leaf: leave it out */
	remove_leaf(t, function);
	if (t->nent + 3 > CPUID_MAX_ENTRIES)
		return -ENOSPC;
	for (unsigned int i = 0; i < 3; i++) {
		struct kvm_cpuid_entry2 *e = &t->entries[t->nent++];

		*e = levels[i];
		e->function = function;
		e->index = i;
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		e->edx = topo->cpu; /* x2APIC ID */
	}
	return 0;
}

static void set_leaf1(struct cpuid_table *t, const struct cpuid_topology *topo)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(t, 1, 0);
	unsigned int logical = topo->ncpus > 255 ? 255 : topo->ncpus;

	if (!e)
		return;
	e->ebx = (e->ebx & 0x0000ffff) | (logical << 16) | ((topo->cpu & 0xff) << 24);
	if (topo->ncpus > 1)
		e->edx |= LEAF1_EDX_HTT; /* means "EBX[23:16] is valid", not hyper-threading */
	else
		e->edx &= ~LEAF1_EDX_HTT;
	if (topo->tsc_deadline)
		e->ecx |= LEAF1_ECX_TSC_DEADLINE;
	/* KVM leaves this to userspace; without it Linux never looks for kvmclock and the PV leaves. */
	e->ecx |= LEAF1_ECX_HYPERVISOR;
}

/* Intel's leaf 4: cores per package in EAX[31:26]; caches shared by all cores above level 2. */
static void set_leaf4(struct cpuid_table *t, const struct cpuid_topology *topo)
{
	unsigned int cores = topo->ncpus > 64 ? 64 : topo->ncpus;

	for (unsigned int i = 0; i < t->nent; i++) {
		struct kvm_cpuid_entry2 *e = &t->entries[i];
		unsigned int level = (e->eax >> 5) & 7;
		unsigned int sharing = level >= 3 ? topo->ncpus - 1 : 0;

		if (e->function != 4 || (e->eax & 0x1f) == 0)
			continue;
		e->eax = (e->eax & 0x3fff) | ((sharing & 0xfff) << 14) | ((cores - 1) << 26);
	}
}

static void set_amd_leaves(struct cpuid_table *t, const struct cpuid_topology *topo)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(t, 0x80000008, 0);

	if (e)
		e->ecx = (e->ecx & ~0xf0ffu) | (id_bits(topo->ncpus) << 12) | ((topo->ncpus - 1) & 0xff);
	e = cpuid_find(t, 0x8000001e, 0);
	if (e) {
		e->eax = topo->cpu;	   /* extended APIC ID */
		e->ebx = topo->cpu & 0xff; /* core ID; one thread per core */
		e->ecx = 0;		   /* node 0, one node */
	}
}

int cpuid_apply_topology(struct cpuid_table *t, const struct cpuid_topology *topo)
{
	int ret;

	set_leaf1(t, topo);
	set_leaf4(t, topo);
	set_amd_leaves(t, topo);
	ret = set_extended_topology(t, 0xb, topo);
	if (!ret)
		ret = set_extended_topology(t, 0x1f, topo);
	return ret;
}
