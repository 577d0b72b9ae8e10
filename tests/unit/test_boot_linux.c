/* test_boot_linux.c: bzimage_parse() on synthetic setup headers and on the host's own kernel. */
#include <criterion/criterion.h>
#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_linux.h"
#include "boot_params.h"
#include "layout.h"

#define SETUP_SECTS 4
#define SETUP_LEN   ((SETUP_SECTS + 1) * 512)
#define KERNEL_LEN  0x1000
#define IMG_LEN	    (SETUP_LEN + KERNEL_LEN)
#define JUMP_DISP   0x66 /* header ends at 0x268, as in Linux 6.x */

static uint8_t img[IMG_LEN];
static struct bzimage bz;
static const char *why;

static void put16(size_t off, uint16_t v)
{
	img[off] = (uint8_t)v;
	img[off + 1] = (uint8_t)(v >> 8);
}

static void put32(size_t off, uint32_t v)
{
	put16(off, (uint16_t)v);
	put16(off + 2, (uint16_t)(v >> 16));
}

static void put64(size_t off, uint64_t v)
{
	put32(off, (uint32_t)v);
	put32(off + 4, (uint32_t)(v >> 32));
}

/* A 64-bit relocatable bzImage with boot protocol 2.15 and a 4 KiB protected-mode part. */
static void build_image(void)
{
	memset(img, 0, sizeof(img));
	img[HDR_SETUP_SECTS] = SETUP_SECTS;
	put32(HDR_SYSSIZE, KERNEL_LEN / 16);
	put16(HDR_BOOT_FLAG, 0xaa55);
	img[HDR_JUMP] = 0xeb;
	img[HDR_JUMP + 1] = JUMP_DISP;
	memcpy(img + HDR_MAGIC, "HdrS", 4);
	put16(HDR_VERSION, 0x020f);
	img[HDR_LOADFLAGS] = 0x01; /* LOADED_HIGH */
	put32(HDR_INITRD_ADDR_MAX, 0x7fffffff);
	put32(HDR_KERNEL_ALIGNMENT, 0x200000);
	img[HDR_RELOCATABLE] = 1;
	put16(HDR_XLOADFLAGS, 0x0001); /* XLF_KERNEL_64 */
	put32(HDR_CMDLINE_SIZE, 2047);
	put64(HDR_PREF_ADDRESS, 0x1000000);
	put32(HDR_INIT_SIZE, 0x2000000);
	why = NULL;
}

TestSuite(bzimage, .init = build_image);

static void assert_rejected(size_t len, const char *why_part)
{
	cr_assert_eq(bzimage_parse(img, len, &bz, &why), -EINVAL);
	cr_assert_not_null(why);
	cr_assert_not_null(strstr(why, why_part), "why: \"%s\", expected it to mention \"%s\"", why,
			   why_part);
}

Test(bzimage, valid_image_parses_with_its_header_fields)
{
	cr_assert_eq(bzimage_parse(img, IMG_LEN, &bz, &why), 0);
	cr_assert_eq(bz.version, 0x020f);
	cr_assert_eq(bz.setup_len, SETUP_LEN);
	cr_assert_eq(bz.kernel_len, KERNEL_LEN);
	cr_assert_eq(bz.hdr_len, HDR_MAGIC + JUMP_DISP - BP_SETUP_HDR);
	cr_assert_eq(bz.initrd_addr_max, 0x7fffffff);
	cr_assert_eq(bz.kernel_alignment, 0x200000);
	cr_assert_eq(bz.relocatable, 1);
	cr_assert_eq(bz.cmdline_size, 2047);
	cr_assert_eq(bz.pref_address, 0x1000000);
	cr_assert_eq(bz.init_size, 0x2000000);
}

Test(bzimage, setup_sects_0_means_4)
{
	img[HDR_SETUP_SECTS] = 0;
	cr_assert_eq(bzimage_parse(img, IMG_LEN, &bz, &why), 0);
	cr_assert_eq(bz.setup_len, 5 * 512);
}

Test(bzimage, kernel_part_starts_after_setup_sects_plus_one_sectors)
{
	img[HDR_SETUP_SECTS] = 2;
	cr_assert_eq(bzimage_parse(img, IMG_LEN, &bz, &why), 0);
	cr_assert_eq(bz.setup_len, 3 * 512);
	cr_assert_eq(bz.kernel_len, IMG_LEN - 3 * 512);
}

Test(bzimage, file_longer_than_syssize_parses)
{
	put32(HDR_SYSSIZE, KERNEL_LEN / 16 - 1);
	cr_assert_eq(bzimage_parse(img, IMG_LEN, &bz, &why), 0);
	cr_assert_eq(bz.kernel_len, KERNEL_LEN);
}

Test(bzimage, protocol_2_12_is_accepted)
{
	put16(HDR_VERSION, 0x020c);
	cr_assert_eq(bzimage_parse(img, IMG_LEN, &bz, &why), 0);
	cr_assert_eq(bz.version, 0x020c);
}

Test(bzimage, too_small_is_rejected)
{
	assert_rejected(0x200, "too small");
}

Test(bzimage, empty_file_is_rejected)
{
	assert_rejected(0, "too small");
}

Test(bzimage, elf_file_is_identified)
{
	memset(img, 0, sizeof(img));
	memcpy(img, "\177ELF\002\001\001", 7);
	assert_rejected(IMG_LEN, "ELF");
}

Test(bzimage, gzip_file_is_identified)
{
	memset(img, 0, sizeof(img));
	img[0] = 0x1f;
	img[1] = 0x8b;
	img[2] = 0x08;
	assert_rejected(IMG_LEN, "gzip");
}

Test(bzimage, cpio_file_is_identified)
{
	memset(img, 0, sizeof(img));
	memcpy(img, "070701", 6);
	assert_rejected(IMG_LEN, "cpio");
}

Test(bzimage, missing_hdrs_magic_is_rejected)
{
	memcpy(img + HDR_MAGIC, "HdrX", 4);
	assert_rejected(IMG_LEN, "not a Linux bzImage");
}

Test(bzimage, missing_boot_flag_is_rejected)
{
	put16(HDR_BOOT_FLAG, 0);
	assert_rejected(IMG_LEN, "not a Linux bzImage");
}

Test(bzimage, protocol_2_11_is_rejected)
{
	put16(HDR_VERSION, 0x020b);
	assert_rejected(IMG_LEN, "2.12");
}

Test(bzimage, header_shorter_than_init_size_is_rejected)
{
	img[HDR_JUMP + 1] = HDR_INIT_SIZE + 4 - HDR_MAGIC; /* ends right after init_size: too short */
	assert_rejected(IMG_LEN, "malformed setup header");
}

Test(bzimage, header_past_its_area_in_the_zero_page_is_rejected)
{
	img[HDR_JUMP + 1] = BP_SETUP_HDR_END - HDR_MAGIC + 1;
	assert_rejected(IMG_LEN, "malformed setup header");
}

Test(bzimage, header_filling_its_whole_area_is_accepted)
{
	img[HDR_JUMP + 1] = BP_SETUP_HDR_END - HDR_MAGIC;
	cr_assert_eq(bzimage_parse(img, IMG_LEN, &bz, &why), 0);
	cr_assert_eq(bz.hdr_len, BP_SETUP_HDR_END - BP_SETUP_HDR);
}

Test(bzimage, without_loaded_high_is_rejected)
{
	img[HDR_LOADFLAGS] = 0x80; /* CAN_USE_HEAP only */
	assert_rejected(IMG_LEN, "zImage");
}

Test(bzimage, without_xlf_kernel_64_is_rejected)
{
	put16(HDR_XLOADFLAGS, 0x0002); /* XLF_CAN_BE_LOADED_ABOVE_4G alone */
	assert_rejected(IMG_LEN, "64-bit");
}

Test(bzimage, syssize_beyond_the_file_is_rejected_as_truncated)
{
	put32(HDR_SYSSIZE, KERNEL_LEN / 16 + 1);
	assert_rejected(IMG_LEN, "truncated");
}

Test(bzimage, huge_syssize_is_rejected_as_truncated)
{
	put32(HDR_SYSSIZE, UINT32_MAX);
	assert_rejected(IMG_LEN, "truncated");
}

Test(bzimage, setup_sects_past_the_end_of_the_file_is_rejected_as_truncated)
{
	img[HDR_SETUP_SECTS] = 255;
	assert_rejected(IMG_LEN, "truncated");
}

Test(bzimage, pref_address_below_1mib_is_rejected)
{
	put64(HDR_PREF_ADDRESS, 0x10000);
	assert_rejected(IMG_LEN, "impossible load address");
}

Test(bzimage, pref_address_in_the_pci_hole_is_rejected)
{
	put64(HDR_PREF_ADDRESS, PCI_HOLE_START);
	assert_rejected(IMG_LEN, "impossible load address");
}

Test(bzimage, pref_address_above_4gib_is_rejected)
{
	put64(HDR_PREF_ADDRESS, 0x100001000000ULL);
	assert_rejected(IMG_LEN, "impossible load address");
}

Test(bzimage, relocatable_with_alignment_not_a_power_of_two_is_rejected)
{
	put32(HDR_KERNEL_ALIGNMENT, 0x300000);
	assert_rejected(IMG_LEN, "alignment");
}

Test(bzimage, debian_kernel_in_boot_parses)
{
	glob_t g;
	FILE *f;
	uint8_t *buf;
	long len;

	if (glob("/boot/vmlinuz-*", 0, NULL, &g) != 0 || g.gl_pathc == 0)
		cr_skip_test("no /boot/vmlinuz-* on this host");
	f = fopen(g.gl_pathv[0], "rb");
	if (!f)
		cr_skip_test("%s is not readable", g.gl_pathv[0]);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	cr_assert_gt(len, 0);
	rewind(f);
	buf = malloc((size_t)len);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);

	cr_assert_eq(bzimage_parse(buf, (size_t)len, &bz, &why), 0, "%s %s", g.gl_pathv[0], why);
	cr_assert_geq(bz.version, 0x020c, "%s: boot protocol 0x%x", g.gl_pathv[0], bz.version);
	cr_assert_eq(bz.setup_len + bz.kernel_len, (size_t)len);
	cr_assert_geq(bz.pref_address, GUEST_HIGH_RAM_START);
	cr_assert_gt(bz.init_size, bz.kernel_len, "a compressed kernel needs more room than its file");
	cr_assert_gt(bz.cmdline_size, 0);
	free(buf);
	globfree(&g);
}
