/* test_pagetable.c: the identity map and GDT a 64-bit entry starts on, decoded as the CPU would. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "layout.h"
#include "pagetable.h"

#define PAGE_SIZE   4096
#define PTE_P	    (1ULL << 0)
#define PTE_RW	    (1ULL << 1)
#define PTE_PS	    (1ULL << 7)
#define PTE_ADDR    0x000ffffffffff000ULL
#define PDE_2M_ADDR 0x000fffffffe00000ULL
#define MIB	    (1ULL << 20)
#define GIB	    (1ULL << 30)

/* The pages as they would sit in guest memory at GUEST_PML4_ADDR. */
static uint64_t pages[PAGETABLE_PAGES * PAGE_SIZE / 8] __attribute__((aligned(PAGE_SIZE)));

static void setup(void)
{
	memset(pages, 0xa5, sizeof(pages)); /* leftovers the builder must clear */
	pagetable_build_identity(pages, GUEST_PML4_ADDR);
}

/* The table the entry (e) points to, which must be one of the pages built. */
static const uint64_t *next_table(uint64_t e)
{
	uint64_t gpa = e & PTE_ADDR;

	cr_assert_geq(gpa, GUEST_PML4_ADDR, "entry 0x%llx points below the tables", (unsigned long long)e);
	cr_assert_lt(gpa, GUEST_PML4_ADDR + PAGETABLE_PAGES * PAGE_SIZE,
		     "entry 0x%llx points past the tables", (unsigned long long)e);
	return pages + (gpa - GUEST_PML4_ADDR) / 8;
}

/* Walks PML4 -> PDPT -> PD for (va); returns 1 and sets (*pa) when a present 2 MiB page maps it. */
static int translate(uint64_t va, uint64_t *pa)
{
	uint64_t e = pages[(va >> 39) & 511];
	const uint64_t *t;

	if (!(e & PTE_P))
		return 0;
	cr_assert(e & PTE_RW);
	t = next_table(e);
	e = t[(va >> 30) & 511];
	if (!(e & PTE_P))
		return 0;
	cr_assert(e & PTE_RW);
	cr_assert_not(e & PTE_PS, "a 1 GiB page where a PD was expected");
	t = next_table(e);
	e = t[(va >> 21) & 511];
	if (!(e & PTE_P))
		return 0;
	cr_assert(e & PTE_RW);
	cr_assert(e & PTE_PS, "PDE 0x%llx is not a 2 MiB page", (unsigned long long)e);
	*pa = (e & PDE_2M_ADDR) | (va & (2 * MIB - 1));
	return 1;
}

static void assert_identity(uint64_t va)
{
	uint64_t pa = ~0ULL;

	cr_assert(translate(va, &pa), "0x%llx is not mapped", (unsigned long long)va);
	cr_assert_eq(pa, va, "0x%llx maps to 0x%llx", (unsigned long long)va, (unsigned long long)pa);
}

TestSuite(pagetable, .init = setup);

Test(pagetable, maps_0_to_itself)
{
	assert_identity(0);
}

Test(pagetable, maps_2mib_to_itself)
{
	assert_identity(2 * MIB);
}

Test(pagetable, maps_1gib_to_itself)
{
	assert_identity(1 * GIB);
}

Test(pagetable, maps_the_last_2mib_below_4gib_to_itself)
{
	assert_identity(4 * GIB - 2 * MIB);
	assert_identity(4 * GIB - 1);
}

Test(pagetable, maps_every_2mib_page_below_4gib_to_itself)
{
	for (uint64_t va = 0; va < PAGETABLE_MAPPED; va += 2 * MIB)
		assert_identity(va + 0x1234);
}

Test(pagetable, leaves_4gib_and_above_unmapped)
{
	uint64_t pa;

	cr_assert_not(translate(4 * GIB, &pa));
	cr_assert_not(translate(512 * GIB, &pa));
	cr_assert_not(translate(0xffffffff80000000ULL, &pa));
}

Test(pagetable, tables_sit_where_layout_h_says)
{
	cr_assert_eq(pages[0] & PTE_ADDR, GUEST_PDPT_ADDR);
	cr_assert_eq(pages[PAGE_SIZE / 8] & PTE_ADDR, GUEST_PD_ADDR);
	cr_assert_leq(GUEST_PML4_ADDR + PAGETABLE_PAGES * PAGE_SIZE, GUEST_CMDLINE_ADDR,
		      "page tables overlap the command line");
}

Test(pagetable, unused_entries_are_cleared)
{
	for (int i = 1; i < 512; i++)
		cr_assert_eq(pages[i], 0, "PML4[%d]", i);
	for (int i = 4; i < 512; i++)
		cr_assert_eq(pages[PAGE_SIZE / 8 + i], 0, "PDPT[%d]", i);
}

Test(pagetable, built_for_another_address_points_there)
{
	pagetable_build_identity(pages, 0x100000);
	cr_assert_eq(pages[0] & PTE_ADDR, 0x101000);
	cr_assert_eq(pages[PAGE_SIZE / 8 + 3] & PTE_ADDR, 0x105000);
}

/* Fields of a segment descriptor (Intel SDM vol. 3, 3.4.5). */
struct seg {
	unsigned int type, s, dpl, p, avl, l, db, g;
	uint32_t base, limit;
};

static struct seg decode(uint64_t d)
{
	return (struct seg){
		.type = (d >> 40) & 0xf,
		.s = (d >> 44) & 1,
		.dpl = (d >> 45) & 3,
		.p = (d >> 47) & 1,
		.avl = (d >> 52) & 1,
		.l = (d >> 53) & 1,
		.db = (d >> 54) & 1,
		.g = (d >> 55) & 1,
		.base = (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 56) << 24)),
		.limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000)),
	};
}

static uint64_t gdt[GDT_ENTRIES];

static void build_gdt(void)
{
	memset(gdt, 0xa5, sizeof(gdt));
	pagetable_build_gdt(gdt);
}

Test(gdt, first_entry_is_the_null_descriptor)
{
	build_gdt();
	cr_assert_eq(gdt[0], 0);
}

Test(gdt, code32_descriptor_is_32_bit_present_execute_read)
{
	struct seg s;

	build_gdt();
	s = decode(gdt[GDT_SEL_CODE32 / 8]);
	cr_assert_eq(s.type, 0xb, "type 0x%x", s.type);
	cr_assert_eq(s.s, 1);
	cr_assert_eq(s.dpl, 0);
	cr_assert_eq(s.p, 1);
	cr_assert_eq(s.l, 0);
	cr_assert_eq(s.db, 1);
	cr_assert_eq(s.g, 1);
	cr_assert_eq(s.base, 0);
	cr_assert_eq(s.limit, 0xfffff);
}

Test(gdt, code_descriptor_is_64_bit_present_execute_read)
{
	struct seg s;

	build_gdt();
	s = decode(gdt[GDT_SEL_CODE64 / 8]);
	cr_assert_eq(s.type, 0xb, "type 0x%x", s.type);
	cr_assert_eq(s.s, 1);
	cr_assert_eq(s.dpl, 0);
	cr_assert_eq(s.p, 1);
	cr_assert_eq(s.l, 1);
	cr_assert_eq(s.db, 0, "D must be 0 with L = 1");
	cr_assert_eq(s.g, 1);
	cr_assert_eq(s.base, 0);
	cr_assert_eq(s.limit, 0xfffff);
}

Test(gdt, data_descriptor_is_present_read_write_flat)
{
	struct seg s;

	build_gdt();
	s = decode(gdt[GDT_SEL_DATA / 8]);
	cr_assert_eq(s.type, 0x3, "type 0x%x", s.type);
	cr_assert_eq(s.s, 1);
	cr_assert_eq(s.dpl, 0);
	cr_assert_eq(s.p, 1);
	cr_assert_eq(s.db, 1);
	cr_assert_eq(s.g, 1);
	cr_assert_eq(s.base, 0);
	cr_assert_eq(s.limit, 0xfffff);
}

Test(gdt, tss_descriptor_is_a_present_busy_tss)
{
	struct seg s;

	build_gdt();
	s = decode(gdt[GDT_SEL_TSS / 8]);
	cr_assert_eq(s.type, 0xb, "type 0x%x", s.type);
	cr_assert_eq(s.s, 0, "a TSS is a system descriptor");
	cr_assert_eq(s.p, 1);
	cr_assert_eq(s.limit, 0x67);
}

Test(gdt, selectors_are_linux_boot_cs_and_ds)
{
	cr_assert_eq(GDT_SEL_CODE32, 0x08);
	cr_assert_eq(GDT_SEL_CODE64, 0x10);
	cr_assert_eq(GDT_SEL_DATA, 0x18);
	cr_assert_lt(GDT_SEL_TSS / 8, GDT_ENTRIES);
}
