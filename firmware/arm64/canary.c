/* canary.c: the arm64 canary guest, a few A64 instructions at EL1 that run a kernel-mode loop. */
#include "canary.h"

#include <string.h>

/* A64 encodings (Arm ARM, C6): the move-wide, store, subtract and branch forms the canary uses. */
#define MOVZ_W(rd, imm16)     (0x52800000u | (uint32_t)(imm16) << 5 | (rd))
#define MOVZ_X(rd, imm16, hw) (0xd2800000u | (uint32_t)(hw) << 21 | (uint32_t)(imm16) << 5 | (rd))
#define MOVK_X(rd, imm16, hw) (0xf2800000u | (uint32_t)(hw) << 21 | (uint32_t)(imm16) << 5 | (rd))
#define STR_W(rt, rn)	      (0xb9000000u | (uint32_t)(rn) << 5 | (rt)) /* str wt, [xn] */
#define SUBS_X_1(rd)	      (0xf1000400u | (uint32_t)(rd) << 5 | (rd)) /* subs xd, xd, #1 */
#define B_NE(back)	      (0x54000001u | ((uint32_t) - (back)&0x7ffffu) << 5)
#define B_SELF		      0x14000000u /* b . */

size_t canary_arm64_build(uint8_t code[CANARY_ARM64_CODE_MAX], uint32_t iterations)
{
	const uint32_t turns = iterations ? iterations : 1; /* 0 would mean 2^64 turns */
	const uint32_t words[] = {
		MOVZ_X(1, CANARY_ARM64_MMIO >> 16, 1), /* x1 = CANARY_ARM64_MMIO */
		MOVZ_W(2, CANARY_ARM64_ENTRY),
		STR_W(2, 1), /* stage 1 */
		MOVZ_X(0, turns & 0xffff, 0),
		MOVK_X(0, turns >> 16, 1), /* x0 = turns */
		MOVZ_W(2, CANARY_ARM64_LOOP),
		STR_W(2, 1), /* stage 2 */
		SUBS_X_1(0), /* loop: subs x0, x0, #1 */
		B_NE(1),     /* b.ne loop */
		MOVZ_W(2, CANARY_ARM64_DONE),
		STR_W(2, 1), /* stage 3 */
		B_SELF,
	};

	_Static_assert(sizeof(words) <= CANARY_ARM64_CODE_MAX, "the canary fits");
	_Static_assert((CANARY_ARM64_MMIO & 0xffff) == 0, "one move-wide makes its address");
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		code[4 * i] = (uint8_t)words[i];
		code[4 * i + 1] = (uint8_t)(words[i] >> 8);
		code[4 * i + 2] = (uint8_t)(words[i] >> 16);
		code[4 * i + 3] = (uint8_t)(words[i] >> 24);
	}
	memset(code + sizeof(words), 0, CANARY_ARM64_CODE_MAX - sizeof(words));
	return sizeof(words);
}
