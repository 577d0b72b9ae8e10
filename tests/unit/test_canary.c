/* test_canary.c: the canary guest's code bytes. */
#include <criterion/criterion.h>
#include <string.h>

#include "canary.h"
#include "layout.h"
#include "pagetable.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The offset of the first (len) bytes of (needle) in (code), or -1. */
static long find(const uint8_t *code, size_t n, const uint8_t *needle, size_t len)
{
	for (size_t i = 0; i + len <= n; i++)
		if (memcmp(code + i, needle, len) == 0)
			return (long)i;
	return -1;
}

Test(canary, far_jumps_land_on_the_code_for_their_mode)
{
	uint8_t code[CANARY_CODE_MAX];
	size_t n = canary_build(code, 1000);
	const uint8_t ljmpl16[] = { 0x66, 0xea };
	long j16 = find(code, n, ljmpl16, 2);
	uint32_t pm32, lm64;
	long j64;

	cr_assert_geq(j16, 0);
	pm32 = le32(code + j16 + 2) - CANARY_CODE_ADDR;
	cr_assert_eq(code[j16 + 6] | code[j16 + 7] << 8, GDT_SEL_CODE32);
	cr_assert_lt(pm32, n);
	cr_assert_eq(code[pm32], 0x66, "pm32 starts with mov ax, GDT_SEL_DATA");
	cr_assert_eq(code[pm32 + 1], 0xb8);
	cr_assert_eq(code[pm32 + 2], GDT_SEL_DATA);
	j64 = find(code + pm32, n - pm32, (const uint8_t[]){ 0xea }, 1);
	cr_assert_geq(j64, 0);
	lm64 = le32(code + pm32 + j64 + 1) - CANARY_CODE_ADDR;
	cr_assert_eq(code[pm32 + j64 + 5] | code[pm32 + j64 + 6] << 8, GDT_SEL_CODE64);
	cr_assert_lt(lm64, n);
	cr_assert_eq(code[lm64], 0x66, "lm64 reloads the port: rdmsr took edx");
	cr_assert_eq(code[lm64 + 1], 0xba);
	cr_assert_eq(code[lm64 + 2] | code[lm64 + 3] << 8, CANARY_PORT);
}

Test(canary, gdt_pointer_names_the_gdt)
{
	uint8_t code[CANARY_CODE_MAX];
	size_t n = canary_build(code, 1000);
	uint32_t gdtp = (uint32_t)(code[11] | code[12] << 8) - CANARY_CODE_ADDR; /* lgdtl's disp16 */

	cr_assert_eq(code[7], 0x66, "lgdtl after out and cli");
	cr_assert_eq(code[8], 0x0f);
	cr_assert_eq(gdtp + 6, n, "the pointer is the code's last 6 bytes");
	cr_assert_eq(code[gdtp] | code[gdtp + 1] << 8, GDT_ENTRIES * 8 - 1);
	cr_assert_eq(le32(code + gdtp + 2), GUEST_GDT_ADDR);
}

Test(canary, loop_count_is_encoded_and_zero_means_one)
{
	uint8_t code[CANARY_CODE_MAX];
	const uint8_t loop[] = { 0xff, 0xc9, 0x75, 0xfc }; /* dec ecx; jnz */
	size_t n = canary_build(code, 123456);
	long at = find(code, n, loop, sizeof(loop));

	cr_assert_geq(at, 5);
	cr_assert_eq(code[at - 5], 0xb9, "mov ecx, imm32 before the loop");
	cr_assert_eq(le32(code + at - 4), 123456);
	canary_build(code, 0);
	cr_assert_eq(le32(code + at - 4), 1, "0 would turn 2^32 times");
}

Test(canary, reports_each_stage_in_order)
{
	uint8_t code[CANARY_CODE_MAX];
	size_t n = canary_build(code, 5);
	unsigned int want = CANARY_REAL_MODE;

	for (size_t i = 0; i + 2 < n; i++)
		if (code[i] == 0xb0 && code[i + 2] == 0xee) { /* mov al, imm8; out dx, al */
			cr_assert_eq(code[i + 1], want);
			want++;
		}
	cr_assert_eq(want, CANARY_LOOP_DONE + 1);
}
