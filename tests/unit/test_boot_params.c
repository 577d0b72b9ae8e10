/* test_boot_params.c: where boot_params_build() puts each field of the Linux zero page. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "boot_params.h"
#include "e820.h"

#define HDR_LEN 0x77 /* 0x1f1 up to 0x268, a Linux 6.x header */

static uint8_t zp[BOOT_PARAMS_SIZE];
static uint8_t hdr[BP_SETUP_HDR_END - BP_SETUP_HDR];
static struct e820_entry map[BP_E820_MAX + 1];
static struct boot_params_config c;

static uint32_t get32(size_t off)
{
	uint32_t v;

	memcpy(&v, zp + off, sizeof(v));
	return v;
}

static uint64_t get64(size_t off)
{
	uint64_t v;

	memcpy(&v, zp + off, sizeof(v));
	return v;
}

/* A header as the image has it: recognisable bytes, with the image's own loader type. */
static void setup(void)
{
	for (size_t i = 0; i < sizeof(hdr); i++)
		hdr[i] = (uint8_t)(0x40 + i);
	hdr[HDR_TYPE_OF_LOADER - BP_SETUP_HDR] = 0x00;
	memset(zp, 0xaa, sizeof(zp)); /* what was in guest memory before */
	map[0] = (struct e820_entry){ .addr = 0, .size = 0x9fc00, .type = E820_RAM };
	map[1] = (struct e820_entry){ .addr = 0x9fc00, .size = 0x400, .type = E820_RESERVED };
	map[2] = (struct e820_entry){ .addr = 0x100000, .size = 0xff00000, .type = E820_RAM };
	c = (struct boot_params_config){
		.setup_hdr = hdr,
		.setup_hdr_len = HDR_LEN,
		.cmdline_gpa = 0x20000,
		.initrd_gpa = 0x0f000000,
		.initrd_size = 0x00800000,
		.e820 = map,
		.e820_nr = 3,
		.rsdp_gpa = 0xe0000,
	};
}

TestSuite(boot_params, .init = setup);

static void build(void)
{
	cr_assert_eq(boot_params_build(zp, &c), 0);
}

Test(boot_params, type_of_loader_is_0xff)
{
	build();
	cr_assert_eq(zp[0x210], 0xff);
}

Test(boot_params, cmd_line_ptr_at_0x228)
{
	build();
	cr_assert_eq(get32(0x228), 0x20000);
}

Test(boot_params, ramdisk_image_and_size_at_0x218_and_0x21c)
{
	build();
	cr_assert_eq(get32(0x218), 0x0f000000);
	cr_assert_eq(get32(0x21c), 0x00800000);
}

Test(boot_params, no_initrd_leaves_ramdisk_fields_zero)
{
	c.initrd_gpa = 0;
	c.initrd_size = 0;
	build();
	cr_assert_eq(get32(0x218), 0);
	cr_assert_eq(get32(0x21c), 0);
}

Test(boot_params, acpi_rsdp_addr_at_0x70)
{
	build();
	cr_assert_eq(get64(0x70), 0xe0000);
}

Test(boot_params, e820_count_at_0x1e8)
{
	build();
	cr_assert_eq(zp[0x1e8], 3);
}

Test(boot_params, e820_entries_at_0x2d0_twenty_bytes_each)
{
	build();
	for (int i = 0; i < 3; i++) {
		size_t off = 0x2d0 + 20 * (size_t)i;

		cr_assert_eq(get64(off), map[i].addr, "entry %d addr", i);
		cr_assert_eq(get64(off + 8), map[i].size, "entry %d size", i);
		cr_assert_eq(get32(off + 16), map[i].type, "entry %d type", i);
	}
	cr_assert_eq(get64(0x2d0 + 60), 0, "a fourth entry was written");
}

Test(boot_params, full_e820_table_of_128_entries_fits)
{
	for (int i = 0; i < BP_E820_MAX; i++)
		map[i] = (struct e820_entry){ .addr = (uint64_t)i << 21, .size = 1 << 21, .type = E820_RAM };
	c.e820_nr = BP_E820_MAX;
	build();
	cr_assert_eq(zp[0x1e8], BP_E820_MAX);
	cr_assert_eq(get64(0x2d0 + 20 * 127), (uint64_t)127 << 21);
	cr_assert_eq(0x2d0 + 20 * BP_E820_MAX, 0xcd0, "the table would overrun its area");
}

Test(boot_params, setup_header_is_copied_to_0x1f1)
{
	build();
	cr_assert_eq(zp[0x1f1], hdr[0]);
	cr_assert_eq(zp[0x202], hdr[0x202 - 0x1f1]);
	cr_assert_eq(zp[0x1f1 + HDR_LEN - 1], hdr[HDR_LEN - 1]);
}

Test(boot_params, bytes_past_the_header_are_zero)
{
	build();
	for (size_t off = 0x1f1 + HDR_LEN; off < BP_SETUP_HDR_END; off++)
		cr_assert_eq(zp[off], 0, "byte 0x%zx is 0x%x", off, zp[off]);
}

/* Whether (off) is in a field that boot_params_build() is meant to write. */
static int written(size_t off)
{
	return (off >= 0x70 && off < 0x78) || off == 0x1e8 || (off >= 0x1f1 && off < 0x1f1 + HDR_LEN) ||
	       (off >= 0x2d0 && off < 0x2d0 + 3 * 20);
}

Test(boot_params, rest_of_the_page_is_cleared)
{
	build();
	for (size_t off = 0; off < BOOT_PARAMS_SIZE; off++)
		if (!written(off))
			cr_assert_eq(zp[off], 0, "byte 0x%zx is 0x%x", off, zp[off]);
}

Test(boot_params, too_many_e820_entries_returns_einval)
{
	c.e820_nr = BP_E820_MAX + 1;
	cr_assert_eq(boot_params_build(zp, &c), -EINVAL);
}

Test(boot_params, negative_e820_count_returns_einval)
{
	c.e820_nr = -1;
	cr_assert_eq(boot_params_build(zp, &c), -EINVAL);
}

Test(boot_params, header_past_0x290_returns_einval)
{
	c.setup_hdr_len = BP_SETUP_HDR_END - BP_SETUP_HDR + 1;
	cr_assert_eq(boot_params_build(zp, &c), -EINVAL);
}

Test(boot_params, header_up_to_0x290_fits)
{
	c.setup_hdr_len = BP_SETUP_HDR_END - BP_SETUP_HDR;
	build();
	cr_assert_eq(zp[BP_SETUP_HDR_END - 1], hdr[sizeof(hdr) - 1]);
}

Test(boot_params, initrd_above_4gib_returns_einval)
{
	c.initrd_gpa = 0x100000000ULL;
	cr_assert_eq(boot_params_build(zp, &c), -EINVAL);
}

Test(boot_params, initrd_ending_above_4gib_returns_einval)
{
	c.initrd_gpa = 0xfff00000ULL;
	c.initrd_size = 0x00200000ULL;
	cr_assert_eq(boot_params_build(zp, &c), -EINVAL);
}

Test(boot_params, initrd_ending_at_4gib_fits)
{
	c.initrd_gpa = 0xfff00000ULL;
	c.initrd_size = 0x00100000ULL;
	build();
	cr_assert_eq(get32(0x218), 0xfff00000);
}

Test(boot_params, cmdline_above_4gib_returns_einval)
{
	c.cmdline_gpa = 0x100000000ULL;
	cr_assert_eq(boot_params_build(zp, &c), -EINVAL);
}

Test(boot_params, rejected_build_leaves_the_page_untouched)
{
	c.e820_nr = BP_E820_MAX + 1;
	cr_assert_eq(boot_params_build(zp, &c), -EINVAL);
	for (size_t off = 0; off < BOOT_PARAMS_SIZE; off++)
		cr_assert_eq(zp[off], 0xaa, "byte 0x%zx written", off);
}
