/* canary.h: the arm64 canary guest, a few A64 instructions at EL1 that run a kernel-mode loop. */
#ifndef KVMINI_ARM64_CANARY_H
#define KVMINI_ARM64_CANARY_H

#include <stddef.h>
#include <stdint.h>

/*
 * The arm64 counterpart of the x86 canary (firmware/x86/canary.h): KVM enters it at EL1, where a guest
 * kernel runs, and it runs a tight loop of kernel-mode instructions, reporting each stage with a 32-bit
 * write of the stage's number to CANARY_ARM64_MMIO (no memory slot there: each is an MMIO exit). arm64
 * has no mode switches to make on the way, so its first two stages come one after the other.
 */
#define CANARY_ARM64_CODE_ADDR 0x40000000u /* the start of RAM, where kvmini's RAM starts on arm64 */
#define CANARY_ARM64_CODE_MAX  64u
#define CANARY_ARM64_MMIO      0x0f000000u /* in the hole below PCI's ECAM (firmware/arm64/dtb.h) */
#define CANARY_ARM64_ENTRY     1u	   /* the first instruction ran, at EL1 */
#define CANARY_ARM64_LOOP      2u	   /* its loop starts */
#define CANARY_ARM64_DONE      3u	   /* the loop ended; the canary spins */
#define CANARY_ARM64_INSNS     2u	   /* instructions a turn: subs, b.ne */

/*
 * canary_arm64_build: the canary's code, to be placed at CANARY_ARM64_CODE_ADDR, into (code)
 * (CANARY_ARM64_CODE_MAX bytes), with (iterations) turns of its loop (at least 1; the counter is x0).
 * Returns its length in bytes.
 */
size_t canary_arm64_build(uint8_t code[CANARY_ARM64_CODE_MAX], uint32_t iterations);

#endif
