/* test_cpuid.c: the APIC IDs and topology cpuid_apply_topology() writes into a KVM CPUID table. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cpuid.h"

#define LEAF1_ECX_TSC_DEADLINE (1u << 24)
#define LEAF1_ECX_HYPERVISOR   (1u << 31)
#define LEAF1_EDX_HTT	       (1u << 28)
#define SIG		       KVM_CPUID_FLAG_SIGNIFCANT_INDEX

/* Leaf 4 EAX: cache type in [4:0], level in [7:5]; the host's sharing fields are garbage here. */
#define CACHE(type, level) ((0x3fu << 26) | (0xabcu << 14) | ((level) << 5) | (type))
#define HOST_LEAF1_EBX	   0x00020800u /* CLFLUSH line 8 (x8 bytes), brand index 0 */
#define HOST_LEAF1_ECX	   0x00000201u /* SSE3, SSSE3 */
#define HOST_LEAF1_EDX	   0x078bfbffu /* without HTT */
#define HOST_80000008_ECX  0x00030a3fu /* PerfTscSize 3, reserved 0xa, NC 0x3f */

static struct cpuid_table t;

static void add(uint32_t function, uint32_t index, uint32_t flags, uint32_t eax, uint32_t ebx, uint32_t ecx,
		uint32_t edx)
{
	cr_assert_lt(t.nent, CPUID_MAX_ENTRIES);
	t.entries[t.nent++] = (struct kvm_cpuid_entry2){
		.function = function,
		.index = index,
		.flags = flags,
		.eax = eax,
		.ebx = ebx,
		.ecx = ecx,
		.edx = edx,
	};
}

/* What KVM_GET_SUPPORTED_CPUID might say on a small Intel-like host, plus AMD's leaves. */
static void fake_host_table(void)
{
	memset(&t, 0, sizeof(t));
	add(0x0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69);
	add(0x1, 0, 0, 0x000906ea, HOST_LEAF1_EBX | 0xff000000u, HOST_LEAF1_ECX, HOST_LEAF1_EDX);
	add(0x4, 0, SIG, CACHE(1, 1), 0x01c0003f, 0x3f, 0);   /* L1d */
	add(0x4, 1, SIG, CACHE(2, 1), 0x01c0003f, 0x3f, 0);   /* L1i */
	add(0x4, 2, SIG, CACHE(3, 2), 0x00c0003f, 0x3ff, 0);  /* L2 */
	add(0x4, 3, SIG, CACHE(3, 3), 0x03c0003f, 0x2fff, 6); /* L3 */
	add(0x4, 4, SIG, 0, 0, 0, 0);			      /* no more caches */
	add(0xb, 0, SIG, 1, 2, 0x100, 0x2a);		      /* the host's own topology: 2 threads */
	add(0xb, 1, SIG, 4, 8, 0x201, 0x2a);
	add(0x80000000, 0, 0, 0x8000001e, 0, 0, 0);
	add(0x80000008, 0, 0, 0x3027, 0, HOST_80000008_ECX, 0);
	add(0x8000001e, 0, 0, 0x77, 0x0103, 0x0301, 0);
}

static const struct kvm_cpuid_entry2 *leaf(unsigned int function, unsigned int index)
{
	const struct kvm_cpuid_entry2 *e = cpuid_find(&t, function, index);

	cr_assert_not_null(e, "no leaf 0x%x.%u", function, index);
	return e;
}

static void apply(unsigned int cpu, unsigned int ncpus, bool tsc_deadline)
{
	const struct cpuid_topology topo = { .cpu = cpu, .ncpus = ncpus, .tsc_deadline = tsc_deadline };

	cr_assert_eq(cpuid_apply_topology(&t, &topo), 0);
}

static unsigned int count_leaf(unsigned int function)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < t.nent; i++)
		n += t.entries[i].function == function;
	return n;
}

/* Takes (function) out of the table, as a CPU without that leaf would report it. */
static void drop_leaf(unsigned int function)
{
	unsigned int j = 0;

	for (unsigned int i = 0; i < t.nent; i++)
		if (t.entries[i].function != function)
			t.entries[j++] = t.entries[i];
	t.nent = j;
}

TestSuite(cpuid, .init = fake_host_table);

Test(cpuid, find_ignores_index_of_a_leaf_without_significant_index)
{
	cr_assert_eq(cpuid_find(&t, 1, 7), cpuid_find(&t, 1, 0));
}

Test(cpuid, find_matches_index_of_a_leaf_with_significant_index)
{
	cr_assert_eq(cpuid_find(&t, 4, 3)->eax & 0xff, CACHE(3, 3) & 0xff);
	cr_assert_null(cpuid_find(&t, 4, 9));
	cr_assert_null(cpuid_find(&t, 0x40000000, 0));
}

Test(cpuid, leaf1_ebx_has_the_apic_id_and_the_cpu_count)
{
	apply(3, 4, false);
	cr_assert_eq(leaf(1, 0)->ebx >> 24, 3);
	cr_assert_eq((leaf(1, 0)->ebx >> 16) & 0xff, 4);
}

Test(cpuid, leaf1_ebx_keeps_the_host_low_half)
{
	apply(3, 4, false);
	cr_assert_eq(leaf(1, 0)->ebx & 0xffff, HOST_LEAF1_EBX & 0xffff);
}

Test(cpuid, leaf1_sets_htt_for_several_cpus)
{
	apply(3, 4, false);
	cr_assert(leaf(1, 0)->edx & LEAF1_EDX_HTT);
	cr_assert_eq(leaf(1, 0)->edx & ~LEAF1_EDX_HTT, HOST_LEAF1_EDX, "other EDX bits changed");
}

Test(cpuid, leaf1_clears_htt_for_a_single_cpu)
{
	cpuid_find(&t, 1, 0)->edx |= LEAF1_EDX_HTT;
	apply(0, 1, false);
	cr_assert_not(leaf(1, 0)->edx & LEAF1_EDX_HTT);
	cr_assert_eq((leaf(1, 0)->ebx >> 16) & 0xff, 1);
	cr_assert_eq(leaf(1, 0)->ebx >> 24, 0);
}

Test(cpuid, leaf1_sets_the_hypervisor_bit)
{
	apply(3, 4, false);
	cr_assert(leaf(1, 0)->ecx & LEAF1_ECX_HYPERVISOR);
}

Test(cpuid, leaf1_sets_tsc_deadline_when_asked)
{
	apply(3, 4, true);
	cr_assert(leaf(1, 0)->ecx & LEAF1_ECX_TSC_DEADLINE);
}

Test(cpuid, leaf1_leaves_tsc_deadline_clear_when_not_asked)
{
	apply(3, 4, false);
	cr_assert_not(leaf(1, 0)->ecx & LEAF1_ECX_TSC_DEADLINE);
	cr_assert_eq(leaf(1, 0)->ecx & ~LEAF1_ECX_HYPERVISOR, HOST_LEAF1_ECX, "other ECX bits changed");
}

Test(cpuid, leaf4_gives_cores_per_package_in_every_cache)
{
	apply(3, 4, false);
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(leaf(4, i)->eax >> 26, 3, "subleaf %u", i);
}

Test(cpuid, leaf4_shares_only_the_l3_between_cores)
{
	apply(3, 4, false);
	cr_assert_eq((leaf(4, 0)->eax >> 14) & 0xfff, 0);
	cr_assert_eq((leaf(4, 1)->eax >> 14) & 0xfff, 0);
	cr_assert_eq((leaf(4, 2)->eax >> 14) & 0xfff, 0);
	cr_assert_eq((leaf(4, 3)->eax >> 14) & 0xfff, 3);
}

Test(cpuid, leaf4_keeps_cache_type_and_level_and_the_null_subleaf)
{
	apply(3, 4, false);
	cr_assert_eq(leaf(4, 3)->eax & 0x3fff, CACHE(3, 3) & 0x3fff);
	cr_assert_eq(leaf(4, 3)->ecx, 0x2fff);
	cr_assert_eq(leaf(4, 4)->eax, 0);
}

Test(cpuid, leafb_subleaf0_is_the_smt_level_of_one_thread)
{
	const struct kvm_cpuid_entry2 *e;

	apply(3, 4, false);
	e = leaf(0xb, 0);
	cr_assert_eq(e->eax & 0x1f, 0, "SMT level shift");
	cr_assert_eq(e->ebx & 0xffff, 1, "threads per core");
	cr_assert_eq((e->ecx >> 8) & 0xff, 1, "level type SMT");
	cr_assert_eq(e->ecx & 0xff, 0, "level number");
	cr_assert_eq(e->edx, 3, "x2APIC ID");
	cr_assert(e->flags & SIG);
}

Test(cpuid, leafb_subleaf1_is_the_core_level_of_four_cores)
{
	const struct kvm_cpuid_entry2 *e;

	apply(3, 4, false);
	e = leaf(0xb, 1);
	cr_assert_eq(e->eax & 0x1f, 2, "core level shift");
	cr_assert_eq(e->ebx & 0xffff, 4, "logical processors");
	cr_assert_eq((e->ecx >> 8) & 0xff, 2, "level type core");
	cr_assert_eq(e->ecx & 0xff, 1, "level number");
	cr_assert_eq(e->edx, 3, "x2APIC ID");
}

Test(cpuid, leafb_subleaf2_ends_the_levels)
{
	const struct kvm_cpuid_entry2 *e;

	apply(3, 4, false);
	e = leaf(0xb, 2);
	cr_assert_eq(e->eax, 0);
	cr_assert_eq(e->ebx, 0);
	cr_assert_eq((e->ecx >> 8) & 0xff, 0, "level type invalid");
	cr_assert_eq(e->ecx & 0xff, 2, "level number");
	cr_assert_eq(e->edx, 3, "x2APIC ID");
}

Test(cpuid, leafb_replaces_the_host_subleaves)
{
	apply(3, 4, false);
	cr_assert_eq(count_leaf(0xb), 3);
	cr_assert_null(cpuid_find(&t, 0xb, 3));
}

Test(cpuid, leafb_core_shift_rounds_up_to_a_power_of_two)
{
	apply(2, 3, false);
	cr_assert_eq(leaf(0xb, 1)->eax & 0x1f, 2);
	cr_assert_eq(leaf(0xb, 1)->ebx & 0xffff, 3);
}

Test(cpuid, table_without_leafb_gets_none_added)
{
	unsigned int nent;

	drop_leaf(0xb);
	cr_assert_null(cpuid_find(&t, 0xb, 0));
	nent = t.nent;
	apply(3, 4, false);
	cr_assert_null(cpuid_find(&t, 0xb, 0));
	cr_assert_null(cpuid_find(&t, 0x1f, 0));
	cr_assert_eq(t.nent, nent);
}

Test(cpuid, leaf1f_when_present_gets_the_same_levels)
{
	add(0x1f, 0, SIG, 1, 2, 0x100, 0x2a);
	add(0x1f, 1, SIG, 5, 16, 0x501, 0x2a); /* a die level the VM does not have */
	apply(3, 4, false);
	cr_assert_eq(count_leaf(0x1f), 3);
	cr_assert_eq(leaf(0x1f, 1)->eax & 0x1f, 2);
	cr_assert_eq((leaf(0x1f, 1)->ecx >> 8) & 0xff, 2);
	cr_assert_eq(leaf(0x1f, 2)->edx, 3);
}

Test(cpuid, amd_80000008_ecx_has_apic_id_size_and_core_count)
{
	uint32_t ecx;

	apply(3, 4, false);
	ecx = leaf(0x80000008, 0)->ecx;
	cr_assert_eq((ecx >> 12) & 0xf, 2, "ApicIdSize");
	cr_assert_eq(ecx & 0xff, 3, "NC");
	cr_assert_eq(ecx & ~0xf0ffu, HOST_80000008_ECX & ~0xf0ffu, "other ECX bits changed");
}

Test(cpuid, amd_8000001e_has_the_extended_apic_id_and_one_node)
{
	apply(3, 4, false);
	cr_assert_eq(leaf(0x8000001e, 0)->eax, 3);
	cr_assert_eq(leaf(0x8000001e, 0)->ebx & 0xff, 3);
	cr_assert_eq(leaf(0x8000001e, 0)->ecx, 0);
}

Test(cpuid, full_table_returns_enospc)
{
	const struct cpuid_topology topo = { .cpu = 3, .ncpus = 4 };

	/* 256 entries, two of them leaf 0xb: replacing them with three does not fit. */
	for (uint32_t i = 0; t.nent < CPUID_MAX_ENTRIES; i++)
		add(0x40000100 + i, 0, 0, 0, 0, 0, 0);
	cr_assert_eq(t.nent, CPUID_MAX_ENTRIES);
	cr_assert_eq(cpuid_apply_topology(&t, &topo), -ENOSPC);
	cr_assert_leq(t.nent, CPUID_MAX_ENTRIES);
}

Test(cpuid, table_with_room_for_exactly_one_more_entry_fits)
{
	/* 255 entries, two of them leaf 0xb: after replacing them there are 256. */
	for (uint32_t i = 0; t.nent < CPUID_MAX_ENTRIES - 1; i++)
		add(0x40000100 + i, 0, 0, 0, 0, 0, 0);
	apply(3, 4, false);
	cr_assert_eq(t.nent, CPUID_MAX_ENTRIES);
	cr_assert_not_null(cpuid_find(&t, 0xb, 2));
}

Test(cpuid, each_cpu_gets_its_own_apic_id)
{
	struct cpuid_table host;

	host = t;
	for (unsigned int cpu = 0; cpu < 4; cpu++) {
		t = host;
		apply(cpu, 4, false);
		cr_assert_eq(leaf(1, 0)->ebx >> 24, cpu);
		cr_assert_eq(leaf(0xb, 0)->edx, cpu);
		cr_assert_eq(leaf(0x8000001e, 0)->eax, cpu);
	}
}
