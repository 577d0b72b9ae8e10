/* mmu.h: identity-mapped translation with the caches on: devices below 1 GiB, RAM above, 1 GiB blocks. */
#ifndef EXITLAT_ARM64_MMU_H
#define EXITLAT_ARM64_MMU_H

/* mmu_build: write the one translation table (vCPU 0, once, before any mmu_enable). */
void mmu_build(void);
/*
 * mmu_enable: translate through that table on this vCPU, data and instruction caches on. Reads no
 * memory but the table (the walker's reads are coherent), so an AP may call it with its MMU still off.
 */
void mmu_enable(void);

#endif
