/* pagetable.c: the GDT and identity-mapped page tables a 64-bit entry point starts on. */
#include "pagetable.h"

#include <string.h>

#define PTE_PRESENT (1ULL << 0)
#define PTE_WRITE   (1ULL << 1)
#define PTE_LARGE   (1ULL << 7)
#define PAGE_SIZE   4096
#define PD_COUNT    4

void pagetable_build_identity(uint64_t *pages, uint64_t gpa)
{
	uint64_t *pml4 = pages;
	uint64_t *pdpt = pages + PAGE_SIZE / 8;
	uint64_t *pd = pages + 2 * PAGE_SIZE / 8;

	memset(pages, 0, PAGETABLE_PAGES * PAGE_SIZE);
	pml4[0] = (gpa + PAGE_SIZE) | PTE_PRESENT | PTE_WRITE;
	for (uint64_t i = 0; i < PD_COUNT; i++)
		pdpt[i] = (gpa + (2 + i) * PAGE_SIZE) | PTE_PRESENT | PTE_WRITE;
	for (uint64_t i = 0; i < PD_COUNT * 512; i++)
		pd[i] = (i << 21) | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
}

/* A segment descriptor from its parts (Intel SDM vol. 3, 3.4.5). */
static uint64_t descriptor(uint64_t flags, uint64_t base, uint64_t limit)
{
	return ((base & 0xff000000ULL) << 32) | ((flags & 0xf0ffULL) << 40) | ((limit & 0xf0000ULL) << 32) |
	       ((base & 0x00ffffffULL) << 16) | (limit & 0xffffULL);
}

void pagetable_build_gdt(uint64_t gdt[GDT_ENTRIES])
{
	gdt[0] = 0;
	gdt[GDT_SEL_CODE32 / 8] = descriptor(0xc09b, 0, 0xfffff); /* G, D/B, P, code r/x, accessed */
	gdt[GDT_SEL_CODE64 / 8] = descriptor(0xa09b, 0, 0xfffff); /* G, L, P, code r/x, accessed */
	gdt[GDT_SEL_DATA / 8] = descriptor(0xc093, 0, 0xfffff);	  /* G, D/B, P, data r/w, accessed */
	gdt[GDT_SEL_TSS / 8] = descriptor(0x008b, 0, 0x67);	  /* P, busy 32/64-bit TSS */
}
