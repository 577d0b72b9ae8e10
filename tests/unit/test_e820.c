/* test_e820.c: the E820 map that e820_build() gives for guest sizes around the PCI hole. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "e820.h"
#include "layout.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static void assert_entry(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	cr_assert_eq(e->addr, addr, "addr 0x%llx, want 0x%llx", (unsigned long long)e->addr,
		     (unsigned long long)addr);
	cr_assert_eq(e->size, size, "size 0x%llx at 0x%llx, want 0x%llx", (unsigned long long)e->size,
		     (unsigned long long)addr, (unsigned long long)size);
	cr_assert_eq(e->type, type, "type at 0x%llx", (unsigned long long)addr);
}

static uint64_t ram_total(const struct e820_entry *e, int n)
{
	uint64_t total = 0;

	for (int i = 0; i < n; i++) {
		if (e[i].type == E820_RAM)
			total += e[i].size;
	}
	return total;
}

/* The low RAM, EBDA and ACPI-area entries that every guest has. */
static void assert_low_entries(const struct e820_entry *e)
{
	assert_entry(&e[0], 0, GUEST_EBDA_START, E820_RAM);
	assert_entry(&e[1], GUEST_EBDA_START, GUEST_LOW_RAM_END - GUEST_EBDA_START, E820_RESERVED);
	assert_entry(&e[2], GUEST_ACPI_ADDR, 1 * MIB - GUEST_ACPI_ADDR, E820_RESERVED);
}

Test(e820, layout_256mib_is_low_ram_ebda_acpi_and_ram_from_1mib)
{
	struct e820_entry e[E820_MAX_ENTRIES];

	cr_assert_eq(e820_build(256 * MIB, e, E820_MAX_ENTRIES), 4);
	assert_low_entries(e);
	assert_entry(&e[3], 1 * MIB, 255 * MIB, E820_RAM);
}

Test(e820, layout_4gib_splits_ram_around_the_pci_hole)
{
	struct e820_entry e[E820_MAX_ENTRIES];

	cr_assert_eq(e820_build(4 * GIB, e, E820_MAX_ENTRIES), 5);
	assert_low_entries(e);
	assert_entry(&e[3], 1 * MIB, PCI_HOLE_START - 1 * MIB, E820_RAM);
	assert_entry(&e[4], PCI_HOLE_END, 4 * GIB - PCI_HOLE_START, E820_RAM);
}

/* The legacy area [EBDA, 1 MiB) is backed guest memory but not RAM to the guest. */
Test(e820, layout_4gib_ram_plus_legacy_area_equals_mem_size)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	int n = e820_build(4 * GIB, e, E820_MAX_ENTRIES);

	cr_assert_eq(n, 5);
	cr_assert_eq(ram_total(e, n) + (1 * MIB - GUEST_EBDA_START), 4 * GIB);
}

Test(e820, mem_size_equal_to_hole_start_has_no_ram_above_4gib)
{
	struct e820_entry e[E820_MAX_ENTRIES];

	cr_assert_eq(e820_build(PCI_HOLE_START, e, E820_MAX_ENTRIES), 4);
	assert_entry(&e[3], 1 * MIB, PCI_HOLE_START - 1 * MIB, E820_RAM);
}

Test(e820, entries_are_sorted_and_disjoint)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	int n = e820_build(8 * GIB, e, E820_MAX_ENTRIES);

	cr_assert_eq(n, 5);
	for (int i = 1; i < n; i++)
		cr_assert_leq(e[i - 1].addr + e[i - 1].size, e[i].addr, "entry %d", i);
}

Test(e820, minimum_2mib_guest_is_accepted)
{
	struct e820_entry e[E820_MAX_ENTRIES];

	cr_assert_eq(e820_build(2 * MIB, e, E820_MAX_ENTRIES), 4);
	assert_entry(&e[3], 1 * MIB, 1 * MIB, E820_RAM);
}

Test(e820, mem_size_below_2mib_returns_einval)
{
	struct e820_entry e[E820_MAX_ENTRIES];

	cr_assert_eq(e820_build(2 * MIB - 4096, e, E820_MAX_ENTRIES), -EINVAL);
	cr_assert_eq(e820_build(0, e, E820_MAX_ENTRIES), -EINVAL);
}

Test(e820, mem_size_not_4k_aligned_returns_einval)
{
	struct e820_entry e[E820_MAX_ENTRIES];

	cr_assert_eq(e820_build(256 * MIB + 512, e, E820_MAX_ENTRIES), -EINVAL);
}

/* RAM above the hole, remapped to 4 GiB, must end below 2^64 so that addr + size does not wrap. */
Test(e820, mem_size_reaching_2_64_returns_einval)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	uint64_t reaches = 0 - PCI_HOLE_END + PCI_HOLE_START; /* 2^64 - 1 GiB */

	cr_assert_eq(e820_build(reaches, e, E820_MAX_ENTRIES), -EINVAL);
	cr_assert_eq(e820_build(UINT64_MAX & ~4095ULL, e, E820_MAX_ENTRIES), -EINVAL);
}

Test(e820, largest_mem_size_ends_ram_one_page_below_2_64)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	uint64_t mem = 0 - PCI_HOLE_END + PCI_HOLE_START - 4096;

	cr_assert_eq(e820_build(mem, e, E820_MAX_ENTRIES), 5);
	cr_assert_eq(e[4].addr + e[4].size, 0 - 4096ULL);
}

Test(e820, max_too_small_returns_enospc)
{
	struct e820_entry e[E820_MAX_ENTRIES];

	cr_assert_eq(e820_build(4 * GIB, e, 4), -ENOSPC);
	cr_assert_eq(e820_build(256 * MIB, e, 3), -ENOSPC);
	cr_assert_eq(e820_build(256 * MIB, NULL, 0), -ENOSPC);
}
