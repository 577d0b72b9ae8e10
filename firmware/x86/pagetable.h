/* pagetable.h: the GDT and identity-mapped page tables a 64-bit entry point starts on. */
#ifndef KVMINI_PAGETABLE_H
#define KVMINI_PAGETABLE_H

#include <stdint.h>

#define PAGETABLE_PAGES	 6		/* PML4, PDPT, four page directories */
#define PAGETABLE_MAPPED 0x100000000ULL /* identity-mapped: the first 4 GiB, 2 MiB pages */

/* GDT selectors: 0x10 and 0x18 as Linux's boot protocol names them (__BOOT_CS, __BOOT_DS) */
#define GDT_SEL_CODE32 0x08 /* flat 32-bit code, for Multiboot's protected-mode entry */
#define GDT_SEL_CODE64 0x10
#define GDT_SEL_DATA   0x18
#define GDT_SEL_TSS    0x20
#define GDT_ENTRIES    5

/*
 * pagetable_build_identity: write PAGETABLE_PAGES pages at (pages) (guest-physical (gpa)):
 * PML4, PDPT and four page directories mapping [0, 4 GiB) onto itself with 2 MiB pages.
 * CR3 is (gpa).
 */
void pagetable_build_identity(uint64_t *pages, uint64_t gpa);
/* pagetable_build_gdt: the flat GDT (null, 32-bit code, 64-bit code, data, TSS) in (gdt). */
void pagetable_build_gdt(uint64_t gdt[GDT_ENTRIES]);

#endif
