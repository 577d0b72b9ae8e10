/* test_image.c: boot_arm64_load() on synthetic Images, Image.gz streams made here with zlib, and hostile files. */
#include <criterion/criterion.h>
#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "image.h"
#include "file.h"
#include "mem.h"

#define KIB	 UINT64_C(0x400)
#define MIB	 UINT64_C(0x100000)
#define GIB	 UINT64_C(0x40000000)
#define RAM_BASE UINT64_C(0x40000000) /* where QEMU's virt machine starts RAM */
#define FLAGS	 UINT64_C(0xa)	      /* little-endian, 4 KiB pages, anywhere in RAM: as Linux 6.x */
#define KERNEL	 "Image"

static struct gmem ram;
static uint64_t ram_base, ram_size;
static uint8_t *img, *gzbuf;
static size_t gzlen;
static char msg[4096];
static struct boot_arm64 out;
static char initrd_path[64];

/* RAM of (size) bytes at guest address (base): anonymous and lazily backed, so 40 GiB costs nothing. */
static void ram_make(uint64_t base, uint64_t size)
{
	void *p =
		mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	cr_assert_neq(p, MAP_FAILED, "cannot map %llu bytes of test RAM", (unsigned long long)size);
	if (ram.nr_regions)
		munmap(ram.regions[0].host, ram.regions[0].size);
	ram = (struct gmem){ .fd = -1, .size = size, .nr_regions = 1 };
	ram.regions[0] = (struct gmem_region){ .gpa = base, .size = size, .host = p };
	ram_base = base;
	ram_size = size;
}

static void setup(void)
{
	ram_make(RAM_BASE, 32 * MIB);
	img = calloc(1, 8 * MIB);
	cr_assert_not_null(img);
	gzbuf = NULL;
	gzlen = 0;
	initrd_path[0] = 0;
}

static void teardown(void)
{
	munmap(ram.regions[0].host, ram.regions[0].size);
	ram.nr_regions = 0;
	free(img);
	free(gzbuf);
	if (initrd_path[0])
		unlink(initrd_path);
}

TestSuite(arm64, .init = setup, .fini = teardown);

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 9) + 3);
}

/* An arm64 Image of (len) bytes in img: the 64-byte header as booting.rst describes it, then a pattern. */
static size_t build(size_t len, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	memset(img, 0, ARM64_IMAGE_HDR_LEN);
	memcpy(img, "MZ@\xfa", 4); /* code0: the EFI stub's "MZ", which is also a branch */
	put64(img + 8, text_offset);
	put64(img + 16, image_size);
	put64(img + 24, flags);
	memcpy(img + 56, "ARM\x64", 4);
	img[60] = 0x40; /* PE header offset */
	for (size_t i = ARM64_IMAGE_HDR_LEN; i < len; i++)
		img[i] = pattern(i);
	return len;
}

/* gzip (len) bytes of (src), appended to gzbuf as one member (as `gzip -9` writes it). */
static void gzip_append(const uint8_t *src, size_t len)
{
	z_stream z = { 0 };

	cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	gzbuf = realloc(gzbuf, gzlen + deflateBound(&z, len));
	cr_assert_not_null(gzbuf);
	z.next_in = (Bytef *)src;
	z.avail_in = (uInt)len;
	z.next_out = gzbuf + gzlen;
	z.avail_out = (uInt)deflateBound(&z, len);
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	gzlen += z.total_out;
	deflateEnd(&z);
}

/* A gzip member of (hdr_len) bytes of img, then (zeros) zero bytes, streamed: a bomb is made small. */
static void gzip_zeros(size_t hdr_len, uint64_t zeros)
{
	static uint8_t zero[MIB];
	z_stream z = { 0 };
	size_t cap = 1 * MIB + zeros / 512;

	cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	gzbuf = malloc(cap);
	cr_assert_not_null(gzbuf);
	z.next_out = gzbuf;
	z.avail_out = (uInt)cap;
	z.next_in = img;
	z.avail_in = (uInt)hdr_len;
	cr_assert_eq(deflate(&z, Z_NO_FLUSH), Z_OK);
	for (uint64_t left = zeros; left;) {
		uInt n = (uInt)(left < sizeof(zero) ? left : sizeof(zero));

		z.next_in = zero;
		z.avail_in = n;
		left -= n;
		cr_assert_eq(deflate(&z, left ? Z_NO_FLUSH : Z_FINISH), left ? Z_OK : Z_STREAM_END);
	}
	gzlen = z.total_out;
	deflateEnd(&z);
}

/* An initrd file of (len) bytes of pattern(i + 1); its path in initrd_path. */
static const char *make_initrd(size_t len)
{
	FILE *f;
	int fd;

	snprintf(initrd_path, sizeof(initrd_path), "/tmp/test_image.initrd.XXXXXX");
	fd = mkstemp(initrd_path);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "wb");
	for (size_t i = 0; i < len; i++)
		fputc(pattern(i + 1), f);
	cr_assert_eq(fclose(f), 0);
	return initrd_path;
}

/* boot_arm64_load() on (k, len) with (initrd), what it logs caught in msg. */
static int load(const uint8_t *k, size_t len, const char *initrd)
{
	const struct boot_arm64_args a = {
		.kernel_path = KERNEL, .initrd_path = initrd, .ram_base = ram_base, .ram_size = ram_size
	};
	int fd = memfd_create("stderr", MFD_CLOEXEC), saved = dup(STDERR_FILENO), ret;
	ssize_t n;

	cr_assert(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	ret = boot_arm64_load(&ram, &a, k, len, &out);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, msg, sizeof(msg) - 1, 0);
	msg[n > 0 ? n : 0] = 0;
	close(fd);
	return ret;
}

/* The load failed with (err) and one line naming (file), saying (words). */
static void assert_refused(int ret, int err, const char *file, const char *words)
{
	cr_assert_eq(ret, err, "returned %d, expected %d; logged: %s", ret, err, msg);
	cr_assert_not_null(strstr(msg, file), "\"%s\" does not name %s", msg, file);
	cr_assert_not_null(strstr(msg, words), "\"%s\" does not say \"%s\"", msg, words);
	cr_assert_eq(strchr(msg, '\n'), msg + strlen(msg) - 1, "not one line: \"%s\"", msg);
}

static void assert_loaded(int ret)
{
	cr_assert_eq(ret, 0, "refused: %s", msg);
	cr_assert_str_empty(msg);
}

static const uint8_t *at(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gmem_ptr(&ram, gpa, len);

	cr_assert_not_null(p, "0x%llx is not RAM", (unsigned long long)gpa);
	return p;
}

/* What every accepted load must be, as booting.rst states it. */
static void assert_booting_rules(void)
{
	uint64_t base = out.entry - out.hdr.text_offset;

	cr_assert_eq(base % (2 * MIB), 0, "the kernel's base is 2 MiB aligned");
	cr_assert(base >= ram_base && out.kernel_end <= ram_base + ram_size, "the kernel is in RAM");
	cr_assert_eq(out.dtb % (2 * MIB), 0, "the DTB has a 2 MiB block of its own");
	cr_assert(out.dtb >= out.kernel_end && out.dtb + 2 * MIB <= ram_base + ram_size);
	if (out.kernel_end <= base + 510 * MIB)
		cr_assert_leq(out.dtb + 2 * MIB, base + 512 * MIB, "the DTB is within 512 MiB of the base");
	if (!out.initrd_size)
		return;
	cr_assert_eq(out.initrd % (64 * KIB), 0);
	cr_assert(out.initrd >= out.kernel_end && out.initrd + out.initrd_size <= ram_base + ram_size);
	cr_assert(out.initrd + out.initrd_size <= out.dtb || out.initrd >= out.dtb + 2 * MIB,
		  "the initrd is clear of the DTB's block");
	cr_assert_leq(out.initrd + out.initrd_size, (base & ~(GIB - 1)) + 32 * GIB,
		      "the initrd is in the kernel's 1 GiB aligned 32 GiB window");
}

/* ---- The header ---- */

Test(arm64, header_fields_are_read_little_endian)
{
	struct arm64_image h;
	const char *why = NULL;

	build(4096, 0x80000, 0x1234000, FLAGS);
	cr_assert_eq(arm64_image_parse(img, 4096, &h, &why), 0);
	cr_assert_eq(h.text_offset, 0x80000);
	cr_assert_eq(h.image_size, 0x1234000);
	cr_assert_eq(h.flags, FLAGS);
	cr_assert_eq(h.page_kib, 4);
}

Test(arm64, page_size_is_flags_bits_1_and_2)
{
	static const unsigned int kib[] = { 0, 4, 16, 64 };
	struct arm64_image h;
	const char *why = NULL;

	for (unsigned int i = 0; i < 4; i++) {
		build(4096, 0, 2 * MIB, (uint64_t)i << 1);
		cr_assert_eq(arm64_image_parse(img, 4096, &h, &why), 0);
		cr_assert_eq(h.page_kib, kib[i]);
	}
}

Test(arm64, old_kernel_with_image_size_0_is_taken_at_text_offset_0x80000)
{
	struct arm64_image h;
	const char *why = NULL;

	/* Before 3.17 text_offset was in the kernel's endianness: booting.rst says assume 0x80000. */
	build(4096, 0x8000000000000ULL, 0, 0xffff);
	cr_assert_eq(arm64_image_parse(img, 4096, &h, &why), 0);
	cr_assert_eq(h.text_offset, 0x80000);
	cr_assert_eq(h.image_size, 0);
	cr_assert_eq(h.flags, 0);
}

/* ---- Placement ---- */

Test(arm64, image_loads_at_the_start_of_ram_with_the_dtb_at_the_top)
{
	size_t len = build(256 * KIB, 0, 4 * MIB, FLAGS);

	assert_loaded(load(img, len, NULL));
	cr_assert_eq(out.entry, RAM_BASE);
	cr_assert_eq(out.dtb, RAM_BASE + 30 * MIB);
	cr_assert_eq(out.kernel_end, RAM_BASE + 4 * MIB);
	cr_assert_eq(out.image_len, len);
	cr_assert_eq(out.initrd, 0);
	cr_assert_eq(out.initrd_size, 0);
	cr_assert_not(out.inflated);
	cr_assert_eq(memcmp(at(out.entry, len), img, len), 0, "the Image is in RAM byte for byte");
	assert_booting_rules();
}

Test(arm64, text_offset_0x80000_is_honoured)
{
	size_t len = build(64 * KIB, 0x80000, 2 * MIB, FLAGS);

	assert_loaded(load(img, len, NULL));
	cr_assert_eq(out.entry, RAM_BASE + 0x80000);
	cr_assert_eq(memcmp(at(out.entry, len), img, len), 0);
	assert_booting_rules();
}

Test(arm64, unaligned_ram_base_puts_the_kernel_at_the_next_2_mib)
{
	size_t len = build(64 * KIB, 0x1000, 2 * MIB, FLAGS);

	ram_make(RAM_BASE + 0x3000, 32 * MIB);
	assert_loaded(load(img, len, NULL));
	cr_assert_eq(out.entry, RAM_BASE + 2 * MIB + 0x1000);
	assert_booting_rules();
}

Test(arm64, old_kernel_loads_at_0x80000_and_ends_with_its_file)
{
	size_t len = build(100 * KIB, 0, 0, 0);

	assert_loaded(load(img, len, NULL));
	cr_assert_eq(out.entry, RAM_BASE + 0x80000);
	cr_assert_eq(out.kernel_end, out.entry + len);
	cr_assert_eq(out.dtb, RAM_BASE + 30 * MIB, "the rest of RAM after the kernel is left to it");
	cr_assert_eq(memcmp(at(out.entry, len), img, len), 0);
	assert_booting_rules();
}

Test(arm64, initrd_goes_below_the_dtb_in_small_ram)
{
	size_t len = build(64 * KIB, 0, 4 * MIB, FLAGS), ilen = MIB + 123;
	const char *path = make_initrd(ilen);
	const uint8_t *p;

	assert_loaded(load(img, len, path));
	cr_assert_eq(out.initrd_size, ilen);
	cr_assert_eq(out.initrd, (RAM_BASE + 30 * MIB - ilen) & ~(64 * KIB - 1));
	p = at(out.initrd, ilen);
	for (size_t i = 0; i < ilen; i++)
		cr_assert_eq(p[i], pattern(i + 1), "initrd byte %zu", i);
	assert_booting_rules();
}

Test(arm64, large_ram_keeps_the_dtb_within_512_mib_and_puts_the_initrd_at_the_top)
{
	size_t len = build(64 * KIB, 0, 20 * MIB, FLAGS);
	const char *path = make_initrd(3 * MIB + 5);

	ram_make(RAM_BASE, 2 * GIB);
	assert_loaded(load(img, len, path));
	cr_assert_eq(out.dtb, RAM_BASE + 510 * MIB);
	cr_assert_eq(out.initrd, (RAM_BASE + 2 * GIB - (3 * MIB + 5)) & ~(64 * KIB - 1));
	assert_booting_rules();
}

Test(arm64, initrd_stays_in_the_kernels_32_gib_window)
{
	size_t len = build(64 * KIB, 0, 20 * MIB, FLAGS);
	const char *path = make_initrd(4096);

	ram_make(RAM_BASE, 40 * GIB);
	assert_loaded(load(img, len, path));
	cr_assert_eq(out.initrd, RAM_BASE + 32 * GIB - 64 * KIB);
	assert_booting_rules();
}

Test(arm64, a_kernel_larger_than_512_mib_gets_the_dtb_above_it)
{
	size_t len = build(64 * KIB, 0, 600 * MIB, FLAGS);

	ram_make(RAM_BASE, 1 * GIB);
	assert_loaded(load(img, len, NULL));
	cr_assert_eq(out.dtb, RAM_BASE + 600 * MIB, "the DTB's block is the first after the kernel");
	assert_booting_rules();
}

/* ---- gzip ---- */

Test(arm64, image_gz_inflates_into_ram_byte_for_byte)
{
	size_t len = build(3 * MIB, 0, 5 * MIB, FLAGS);

	gzip_append(img, len);
	cr_assert_lt(gzlen, len);
	assert_loaded(load(gzbuf, gzlen, NULL));
	cr_assert(out.inflated);
	cr_assert_eq(out.entry, RAM_BASE);
	cr_assert_eq(out.image_len, len);
	cr_assert_eq(out.kernel_end, RAM_BASE + 5 * MIB);
	cr_assert_eq(memcmp(at(out.entry, len), img, len), 0);
	assert_booting_rules();
}

Test(arm64, image_gz_as_long_as_image_size_loads)
{
	size_t len = build(2 * MIB, 0x80000, 2 * MIB, FLAGS);

	gzip_append(img, len);
	assert_loaded(load(gzbuf, gzlen, NULL));
	cr_assert_eq(out.image_len, 2 * MIB);
	cr_assert_eq(memcmp(at(out.entry, len), img, len), 0);
}

Test(arm64, small_image_gz_inflated_within_the_first_kib_loads)
{
	size_t len = build(200, 0, 64 * KIB, FLAGS);

	gzip_append(img, len);
	assert_loaded(load(gzbuf, gzlen, NULL));
	cr_assert_eq(out.image_len, 200);
	cr_assert_eq(memcmp(at(out.entry, len), img, len), 0);
}

Test(arm64, old_kernel_gz_ends_with_what_it_inflates_to)
{
	size_t len = build(1 * MIB + 17, 0, 0, 0);

	gzip_append(img, len);
	assert_loaded(load(gzbuf, gzlen, NULL));
	cr_assert_eq(out.entry, RAM_BASE + 0x80000);
	cr_assert_eq(out.kernel_end, out.entry + len);
	cr_assert_eq(memcmp(at(out.entry, len), img, len), 0);
	assert_booting_rules();
}

Test(arm64, gzip_of_several_members_inflates_whole_as_gzip_does)
{
	size_t len = build(1 * MIB, 0, 2 * MIB, FLAGS);

	gzip_append(img, 300 * KIB);
	gzip_append(img + 300 * KIB, len - 300 * KIB);
	assert_loaded(load(gzbuf, gzlen, NULL));
	cr_assert_eq(out.image_len, len);
	cr_assert_eq(memcmp(at(out.entry, len), img, len), 0);
}

Test(arm64, image_gz_with_an_initrd_loads_both)
{
	size_t len = build(1 * MIB, 0, 2 * MIB, FLAGS);
	const char *path = make_initrd(5000);

	gzip_append(img, len);
	assert_loaded(load(gzbuf, gzlen, path));
	cr_assert_eq(memcmp(at(out.entry, len), img, len), 0);
	cr_assert_eq(*at(out.initrd + 4999, 1), pattern(5000));
	assert_booting_rules();
}

/* An EFI zboot image (CONFIG_EFI_ZBOOT) around gzbuf, with compression type (comp), in (z). */
static size_t build_zboot(uint8_t *z, const char *comp)
{
	size_t off = 4096;

	memset(z, 0, off);
	memcpy(z, "MZ\0\0zimg", 8);
	z[8] = (uint8_t)off;
	z[9] = (uint8_t)(off >> 8);
	for (int i = 0; i < 4; i++)
		z[12 + i] = (uint8_t)(gzlen >> (8 * i));
	strcpy((char *)z + 24, comp);
	memcpy(z + 56, "\xcd\x23\x82\x81\x40\0\0\0", 8); /* LINUX_PE_MAGIC, the PE header's offset */
	memcpy(z + off, gzbuf, gzlen);
	return off + gzlen;
}

Test(arm64, efi_zboot_with_a_gzip_payload_loads)
{
	size_t len = build(1 * MIB, 0, 2 * MIB, FLAGS), zlen;
	uint8_t *z;

	gzip_append(img, len);
	z = malloc(4096 + gzlen);
	zlen = build_zboot(z, "gzip");
	assert_loaded(load(z, zlen, NULL));
	cr_assert(out.inflated);
	cr_assert_eq(memcmp(at(out.entry, len), img, len), 0);
	free(z);
}

Test(arm64, efi_zboot_with_zstd_is_refused_naming_it)
{
	size_t zlen;
	uint8_t *z;

	gzip_append(img, build(4096, 0, 2 * MIB, FLAGS));
	z = malloc(4096 + gzlen);
	zlen = build_zboot(z, "zstd22");
	assert_refused(load(z, zlen, NULL), -EINVAL, KERNEL, "compressed with zstd22");
	free(z);
}

Test(arm64, efi_zboot_with_its_payload_past_the_end_is_refused)
{
	size_t zlen;
	uint8_t *z;

	gzip_append(img, build(4096, 0, 2 * MIB, FLAGS));
	z = malloc(4096 + gzlen);
	zlen = build_zboot(z, "gzip");
	assert_refused(load(z, zlen - 1, NULL), -EINVAL, KERNEL, "damaged");
	free(z);
}

/* ---- Not an arm64 Image ---- */

Test(arm64, x86_bzimage_is_named_an_x86_kernel)
{
	memset(img, 0, 0x400);
	img[0x1fe] = 0x55;
	img[0x1ff] = 0xaa;
	memcpy(img + 0x202, "HdrS", 4);
	assert_refused(load(img, 0x400, NULL), -EINVAL, KERNEL,
		       "is an x86 kernel (a bzImage): kvmini for arm64 boots arm64 Images");
}

Test(arm64, the_hosts_x86_kernel_is_named_an_x86_kernel)
{
	glob_t g;
	uint8_t *k = NULL;
	size_t len = 0;

	if (glob("/boot/vmlinuz-*", 0, NULL, &g) != 0)
		cr_skip_test("no /boot/vmlinuz-* on this host");
	if (file_read_all(g.gl_pathv[0], 512 * MIB, &k, &len) != 0) {
		globfree(&g);
		cr_skip_test("cannot read the host's kernel");
	}
	globfree(&g);
	assert_refused(load(k, len, NULL), -EINVAL, KERNEL, "is an x86 kernel");
	free(k);
}

Test(arm64, elf_vmlinux_is_named)
{
	memset(img, 0, 4096);
	memcpy(img, "\177ELF\002\001\001", 7);
	assert_refused(load(img, 4096, NULL), -EINVAL, KERNEL, "is an ELF file (a vmlinux?)");
}

Test(arm64, big_endian_image_is_refused)
{
	size_t len = build(4096, 0, 2 * MIB, FLAGS | 1);

	assert_refused(load(img, len, NULL), -EINVAL, KERNEL, "big-endian");
}

Test(arm64, gzip_of_an_x86_kernel_is_named_once_inflated)
{
	memset(img, 0, 0x400);
	memcpy(img + 0x202, "HdrS", 4);
	gzip_append(img, 0x400);
	assert_refused(load(gzbuf, gzlen, NULL), -EINVAL, KERNEL, "once inflated, is an x86 kernel");
}

Test(arm64, gzip_of_something_else_is_not_an_arm64_image)
{
	static const char text[] = "#!/bin/sh\necho this is a shell script, not a kernel image at all\n";

	gzip_append((const uint8_t *)text, sizeof(text));
	assert_refused(load(gzbuf, gzlen, NULL), -EINVAL, KERNEL, "once inflated, is not an arm64 Image");
}

Test(arm64, gzip_inside_gzip_is_named)
{
	uint8_t inner[64];
	size_t n;

	gzip_append(img, build(4096, 0, 2 * MIB, FLAGS));
	n = gzlen < sizeof(inner) ? gzlen : sizeof(inner);
	memcpy(inner, gzbuf, n);
	gzlen = 0;
	gzip_append(inner, n);
	assert_refused(load(gzbuf, gzlen, NULL), -EINVAL, KERNEL, "gzip data again");
}

Test(arm64, truncated_header_is_refused)
{
	build(4096, 0, 2 * MIB, FLAGS);
	assert_refused(load(img, 63, NULL), -EINVAL, KERNEL, "too short");
	assert_refused(load(img, 0, NULL), -EINVAL, KERNEL, "too short");
}

Test(arm64, gzip_of_a_truncated_header_is_refused)
{
	gzip_append(img, build(40, 0, 2 * MIB, FLAGS));
	assert_refused(load(gzbuf, gzlen, NULL), -EINVAL, KERNEL, "once inflated, is too short");
}

Test(arm64, other_compressors_and_archives_are_named)
{
	static const struct {
		const char *magic;
		size_t len;
		const char *words;
	} files[] = {
		{ "\xfd"
		  "7zXZ\0",
		  6, "is xz data" },
		{ "\x28\xb5\x2f\xfd", 4, "is zstd data" },
		{ "BZh9", 4, "is bzip2 data" },
		{ "070701", 6, "is a cpio archive" },
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		memset(img, 0, 4096);
		memcpy(img, files[i].magic, files[i].len);
		assert_refused(load(img, 4096, NULL), -EINVAL, KERNEL, files[i].words);
	}
}

Test(arm64, arm32_zimage_is_named)
{
	memset(img, 0, 4096);
	memcpy(img + 0x24, "\x18\x28\x6f\x01", 4);
	assert_refused(load(img, 4096, NULL), -EINVAL, KERNEL, "32-bit ARM zImage");
}

Test(arm64, no_magic_is_not_an_arm64_image)
{
	size_t len = build(4096, 0, 2 * MIB, FLAGS);

	img[56] = 'X';
	assert_refused(load(img, len, NULL), -EINVAL, KERNEL, "is not an arm64 Image");
}

/* ---- Hostile headers ---- */

Test(arm64, unaligned_text_offset_is_refused)
{
	size_t len = build(4096, 0x80001, 2 * MIB, FLAGS);

	assert_refused(load(img, len, NULL), -EINVAL, KERNEL, "text_offset");
	build(4096, 0x800, 2 * MIB, FLAGS);
	assert_refused(load(img, len, NULL), -EINVAL, KERNEL, "text_offset");
}

Test(arm64, text_offset_of_2_mib_or_more_is_refused)
{
	size_t len = build(4096, 2 * MIB, 2 * MIB, FLAGS);

	assert_refused(load(img, len, NULL), -EINVAL, KERNEL, "text_offset");
}

Test(arm64, image_size_too_large_for_mem_says_what_mem_to_give)
{
	size_t len = build(4096, 0, 64 * MIB, FLAGS);

	assert_refused(load(img, len, NULL), -ENOMEM, KERNEL, "give --mem 66M or more");
	/* and that is enough */
	ram_make(RAM_BASE, 66 * MIB);
	assert_loaded(load(img, len, NULL));
	assert_booting_rules();
}

Test(arm64, absurd_image_size_is_a_corrupt_header)
{
	size_t len = build(4096, 0, UINT64_C(1) << 60, FLAGS);

	assert_refused(load(img, len, NULL), -EINVAL, KERNEL, "corrupt header");
	build(4096, 0, UINT64_MAX, FLAGS);
	assert_refused(load(img, len, NULL), -EINVAL, KERNEL, "corrupt header");
}

Test(arm64, file_longer_than_image_size_is_refused)
{
	size_t len = build(3 * MIB, 0, 2 * MIB, FLAGS);

	assert_refused(load(img, len, NULL), -EINVAL, KERNEL, "longer than the image_size");
	build(100, 0, 80, FLAGS);
	assert_refused(load(img, 100, NULL), -EINVAL, KERNEL, "longer than the image_size");
}

Test(arm64, initrd_too_large_for_mem_says_what_mem_to_give)
{
	size_t len = build(4096, 0, 20 * MIB, FLAGS);
	const char *path = make_initrd(11 * MIB);

	assert_refused(load(img, len, path), -ENOMEM, path, "give --mem 34M or more");
	/* and that is enough */
	ram_make(RAM_BASE, 34 * MIB);
	assert_loaded(load(img, len, path));
	assert_booting_rules();
}

Test(arm64, missing_or_empty_initrd_is_refused)
{
	size_t len = build(4096, 0, 2 * MIB, FLAGS);

	assert_refused(load(img, len, "/nonexistent/initrd.img"), -EINVAL, "/nonexistent/initrd.img",
		       "No such file");
	assert_refused(load(img, len, make_initrd(0)), -EINVAL, initrd_path, "is empty");
}

Test(arm64, ram_that_is_not_mapped_is_a_bug_in_the_caller)
{
	size_t len = build(4096, 0, 2 * MIB, FLAGS);

	ram_size = 64 * MIB; /* the gmem holds 32 */
	assert_refused(load(img, len, NULL), -EINVAL, KERNEL, "(a bug)");
}

/* ---- Broken gzip streams ---- */

Test(arm64, truncated_gzip_is_refused_naming_what_zlib_saw)
{
	gzip_append(img, build(2 * MIB, 0, 4 * MIB, FLAGS));
	assert_refused(load(gzbuf, gzlen / 2, NULL), -EINVAL, KERNEL, "ends early");
	cr_assert_not_null(strstr(msg, "truncated"));
	assert_refused(load(gzbuf, gzlen - 4, NULL), -EINVAL, KERNEL, "ends early");
	assert_refused(load(gzbuf, 10, NULL), -EINVAL, KERNEL, "ends early");
}

Test(arm64, corrupt_gzip_is_refused_with_zlibs_words)
{
	gzip_append(img, build(2 * MIB, 0, 4 * MIB, FLAGS));
	gzbuf[gzlen - 6] ^= 0x55; /* the CRC-32 in the trailer */
	assert_refused(load(gzbuf, gzlen, NULL), -EINVAL, KERNEL, "zlib: incorrect data check");
	gzbuf[gzlen - 6] ^= 0x55;
	gzbuf[3] = 0xe0; /* reserved FLG bits */
	assert_refused(load(gzbuf, gzlen, NULL), -EINVAL, KERNEL, "corrupt");
}

Test(arm64, garbage_after_the_gzip_data_is_refused)
{
	size_t len = build(64 * KIB, 0, 2 * MIB, FLAGS);

	gzip_append(img, len);
	gzbuf = realloc(gzbuf, gzlen + 3);
	memcpy(gzbuf + gzlen, "abc", 3);
	assert_refused(load(gzbuf, gzlen + 3, NULL), -EINVAL, KERNEL, "3 bytes after its gzip data");
}

static double seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

Test(arm64, gzip_bomb_stops_at_the_ram_it_may_use)
{
	double t;

	/* An old kernel's header (image_size 0: no bound but RAM), then 64 MiB of zeros: ~64 KiB. */
	gzip_zeros(build(4096, 0, 0, 0), 64 * MIB);
	cr_assert_lt(gzlen, 128 * KIB);
	t = seconds();
	assert_refused(load(gzbuf, gzlen, NULL), -ENOMEM, KERNEL, "gzip bomb");
	cr_assert_not_null(strstr(msg, "--mem"));
	cr_assert_lt(seconds() - t, 2.0, "refused in %.2f s", seconds() - t);
}

Test(arm64, gzip_past_its_image_size_stops_there)
{
	double t;

	gzip_zeros(build(4096, 0, 1 * MIB, FLAGS), 64 * MIB);
	t = seconds();
	assert_refused(load(gzbuf, gzlen, NULL), -EINVAL, KERNEL, "more than the image_size");
	cr_assert_lt(seconds() - t, 1.0);
}

Test(arm64, gzip_whose_image_size_exceeds_mem_is_refused_before_inflating)
{
	gzip_zeros(build(4096, 0, 64 * MIB, FLAGS), 64 * MIB);
	assert_refused(load(gzbuf, gzlen, NULL), -ENOMEM, KERNEL, "give --mem 66M or more");
}
