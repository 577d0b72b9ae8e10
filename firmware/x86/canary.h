/* canary.h: the canary guest, a few bytes that go from real mode to long mode and run ring-0 code. */
#ifndef KVMINI_CANARY_H
#define KVMINI_CANARY_H

#include <stddef.h>
#include <stdint.h>

/*
 * The canary asks what a stock kernel's boot asks of KVM, in miniature: real mode, the switch to
 * protected mode and long mode (GDT, CR0, CR4, CR3, EFER), then a tight loop of ring-0
 * instructions, where a KVM that emulates guest kernel code (PVM) is thousands of times slower than
 * hardware. It reports each stage with one byte written to CANARY_PORT.
 */
#define CANARY_CODE_ADDR  0x8000u /* real-mode entry, CS 0 and IP here; below the page tables */
#define CANARY_CODE_MAX	  128u
#define CANARY_PORT	  0x3f1u
#define CANARY_REAL_MODE  1u /* the first instruction ran (real mode) */
#define CANARY_LONG_MODE  2u /* 64-bit code runs, paging on */
#define CANARY_LOOP_DONE  3u /* the ring-0 loop ended; the canary halts */
#define CANARY_LOOP_INSNS 2u /* instructions an iteration: dec, jnz */

/*
 * canary_build: the canary's code, to be placed at CANARY_CODE_ADDR, into (code) (CANARY_CODE_MAX
 * bytes), with (iterations) turns of its ring-0 loop (at least 1). It expects the GDT of
 * pagetable_build_gdt() at GUEST_GDT_ADDR and the tables of pagetable_build_identity() at
 * GUEST_PML4_ADDR. Returns its length in bytes.
 */
size_t canary_build(uint8_t code[CANARY_CODE_MAX], uint32_t iterations);

#endif
