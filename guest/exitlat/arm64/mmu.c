/* mmu.c: identity-mapped translation with the caches on: devices below 1 GiB, RAM above, 1 GiB blocks. */
#include "mmu.h"
#include "cpu.h"

#include <stdint.h>

/*
 * With the MMU off every data access is Device-nGnRnE: uncached, so kvmini would read results
 * behind the guest's back only by luck on hardware without FWB, and every sample store would be slow.
 */
#define MAIR_DEVICE   0x00 /* attribute 0: Device-nGnRnE */
#define MAIR_NORMAL   0xff /* attribute 1: Normal, write-back, read- and write-allocate */
#define BLOCK	      (1ull << 0)
#define ATTR(i)	      ((uint64_t)(i) << 2)
#define SH_INNER      (3ull << 8)
#define AF	      (1ull << 10)
#define XN	      (3ull << 53) /* PXN and UXN */
#define GIB	      (1ull << 30)
#define TCR_T0SZ      25 /* 39-bit addresses: translation starts at level 1, 1 GiB a block */
#define TCR_IRGN_WBWA (1ull << 8)
#define TCR_ORGN_WBWA (1ull << 10)
#define TCR_SH_INNER  (3ull << 12)
#define TCR_EPD1      (1ull << 23) /* no TTBR1 walks */
#define TCR_IPS_SHIFT 32
#define SCTLR_M	      (1ull << 0)
#define SCTLR_A	      (1ull << 1)
#define SCTLR_C	      (1ull << 2)
#define SCTLR_I	      (1ull << 12)
#define RAM_BLOCKS    3 /* 1 GiB to 4 GiB: the guest's RAM, whatever --mem the benchmark picks */

static uint64_t table[512] __attribute__((aligned(4096), section(".pagetable"))); /* link.ld: in .bss */

void mmu_build(void)
{
	table[0] = BLOCK | ATTR(0) | AF | XN; /* GIC, UART, the exitlat targets, ECAM, PCI window */
	for (uint64_t i = 1; i <= RAM_BLOCKS; i++)
		table[i] = i * GIB | BLOCK | ATTR(1) | SH_INNER | AF;
}

void mmu_enable(void)
{
	uint64_t pa_range = SYSREG_READ("id_aa64mmfr0_el1") & 7;
	uint64_t tcr = TCR_T0SZ | TCR_IRGN_WBWA | TCR_ORGN_WBWA | TCR_SH_INNER | TCR_EPD1 |
		       (pa_range > 5 ? 5 : pa_range) << TCR_IPS_SHIFT;

	SYSREG_WRITE("mair_el1", MAIR_DEVICE | (uint64_t)MAIR_NORMAL << 8);
	SYSREG_WRITE("tcr_el1", tcr);
	SYSREG_WRITE("ttbr0_el1", (uint64_t)(uintptr_t)table);
	__asm__ __volatile__("isb; tlbi vmalle1; ic iallu; dsb nsh; isb" : : : "memory");
	SYSREG_WRITE("sctlr_el1", (SYSREG_READ("sctlr_el1") | SCTLR_M | SCTLR_C | SCTLR_I) & ~SCTLR_A);
	isb();
}
