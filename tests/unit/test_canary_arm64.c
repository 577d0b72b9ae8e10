/* test_canary_arm64.c: the arm64 canary's A64 code, word by word, against what GNU as assembles. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../firmware/arm64/canary.h"

static uint32_t word(const uint8_t *code, size_t i)
{
	return (uint32_t)code[4 * i] | (uint32_t)code[4 * i + 1] << 8 | (uint32_t)code[4 * i + 2] << 16 |
	       (uint32_t)code[4 * i + 3] << 24;
}

Test(canary_arm64, four_million_turns_assemble_as_gnu_as_does)
{
	/* aarch64-linux-gnu-as of the listing in canary.c, with 4000000 (0x3d0900) turns */
	static const uint32_t want[] = {
		0xd2a1e001, /* movz x1, #0xf00, lsl #16 */
		0x52800022, /* movz w2, #1 */
		0xb9000022, /* str w2, [x1] */
		0xd2812000, /* movz x0, #0x900 */
		0xf2a007a0, /* movk x0, #0x3d, lsl #16 */
		0x52800042, /* movz w2, #2 */
		0xb9000022, /* str w2, [x1] */
		0xf1000400, /* subs x0, x0, #1 */
		0x54ffffe1, /* b.ne back to the subs */
		0x52800062, /* movz w2, #3 */
		0xb9000022, /* str w2, [x1] */
		0x14000000, /* b . */
	};
	uint8_t code[CANARY_ARM64_CODE_MAX];
	size_t len = canary_arm64_build(code, 4000000);

	cr_assert_eq(len, sizeof(want));
	for (size_t i = 0; i < len / 4; i++)
		cr_assert_eq(word(code, i), want[i], "word %zu: 0x%08x, want 0x%08x", i, word(code, i),
			     want[i]);
	for (size_t i = len; i < sizeof(code); i++)
		cr_assert_eq(code[i], 0, "byte %zu past the code is not zero", i);
}

Test(canary_arm64, zero_turns_make_one_not_two_to_the_64)
{
	uint8_t code[CANARY_ARM64_CODE_MAX];

	canary_arm64_build(code, 0);
	cr_assert_eq(word(code, 3), 0xd2800020, "movz x0, #1"); /* and movk x0, #0, lsl #16 */
	cr_assert_eq(word(code, 4), 0xf2a00000);
}
