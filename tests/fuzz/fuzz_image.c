/*
 * fuzz_image.c: libFuzzer target for the arm64 kernel loader: a hostile Image, Image.gz or EFI zboot
 * file, its header and the sizes it claims, loaded by boot_arm64_load() into 6 MiB of guest RAM.
 *
 * Input: byte 0 picks the mode, the rest is the kernel file.
 *   bit 0: the target gzips the file first (deflate level 1, 3, 6 or 9 by bits 4-5), so that headers behind
 *          gzip are explored as well as raw gzip streams (which the input may also be, with bit 0 clear);
 *   bit 1: with a 5000-byte initrd;
 *   bit 2: RAM starts 12 KiB past a 2 MiB boundary (the kernel's base is then rounded up);
 *   bit 3: (with bit 0) the next 4 bytes, modulo 8 MiB, are a count of zeros appended before gzipping:
 *          a small input inflates past RAM, as a gzip bomb does.
 * Inputs are capped at 12 KiB (the Makefile's FUZZ_MAX_LEN); a raw deflate stream that long still
 * inflates to ~12 MiB, twice the RAM. RAM is one allocation, so that ASan sees any write past its end,
 * poisoned so that the target sees any write inside it that the loader had no business making.
 *
 * Checked, against image.h and Documentation/arch/arm64/booting.rst: a failure logs one error line
 * naming the kernel or the initrd and writes nothing below the kernel's base nor in the DTB's block;
 * a success logs nothing and has: the kernel text_offset (4 KiB aligned, below 2 MiB) above the first
 * 2 MiB boundary in RAM, its image_size (or length) inside RAM, the file's bytes there (the payload's,
 * for what the target gzipped), the header arm64_image_parse() reads from them, the DTB's 2 MiB block
 * above the kernel and inside RAM, the initrd 64 KiB aligned above the kernel, clear of the DTB, byte
 * for byte, and no other byte of RAM written.
 *
 * Build: make build/tests/fuzz/fuzz_image
 * Seeds:  cc -std=c11 -D_GNU_SOURCE -DFUZZ_SEED_MAIN -Ivmm -Idevices -Idevices/base -Ifirmware/arm64 tests/fuzz/fuzz_image.c \
 *            firmware/arm64/image.c vmm/file.c devices/base/mem.c -lz -o /tmp/image-seeds && \
 *         /tmp/image-seeds tests/fuzz/corpus/image
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "image.h"
#include "fuzz_boot.h"
#include "mem.h"

#define MIB	      (UINT64_C(1) << 20)
#define RAM_BASE      UINT64_C(0x40000000)
#define RAM_SIZE      (6 * MIB)
#define ODD_BASE      (RAM_BASE + 0x3000)
#define INITRD_LEN    5000
#define KERNEL_PATH   "fuzz-Image"
#define POISON	      0xcc
#define MODE_GZIP     0x01
#define MODE_INITRD   0x02
#define MODE_ODD_BASE 0x04
#define MODE_ZEROS    0x08
#define ZEROS_MAX     (8 * MIB)
#define GZ_MAX	      (64 * 1024 + ZEROS_MAX / 512)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the target keeps between inputs: libFuzzer gives it no other place. */
static struct {
	struct gmem mem;
	uint8_t *ram;
	const char *initrd;
	uint8_t poison[2 * MIB];
	uint8_t gz[GZ_MAX];
} fz;

/* A failed invariant: crash loudly so that libFuzzer keeps the input. */
static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "arm64 Image invariant broken: %s\n", what);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz.ram = fuzz_ram(&fz.mem, RAM_SIZE, POISON);
	memset(fz.poison, POISON, sizeof(fz.poison));
	fz.initrd = fuzz_file("initrd", INITRD_LEN, fuzz_initrd_byte);
	return 0;
}

/* [gpa, gpa + len) of RAM is still poison: the loader wrote nothing there. */
static bool untouched(uint64_t base, uint64_t gpa, uint64_t len)
{
	for (uint64_t off = 0; off < len; off += sizeof(fz.poison)) {
		uint64_t n = len - off < sizeof(fz.poison) ? len - off : sizeof(fz.poison);

		if (memcmp(fz.ram + (gpa - base) + off, fz.poison, n) != 0)
			return false;
	}
	return true;
}

static void repoison(uint64_t base, uint64_t gpa, uint64_t len)
{
	memset(fz.ram + (gpa - base), POISON, len);
}

/* gzip (len) bytes of (src) and (zeros) zeros at (level) into fz.gz; its length, or 0 if it does not fit. */
static size_t gzip_input(const uint8_t *src, size_t len, uint64_t zeros, int level)
{
	static const uint8_t zero[64 * 1024];
	z_stream z = { 0 };
	int ret;

	check(deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK,
	      "deflateInit2");
	z.next_out = fz.gz;
	z.avail_out = sizeof(fz.gz);
	z.next_in = (Bytef *)src;
	z.avail_in = (uInt)len;
	ret = deflate(&z, Z_NO_FLUSH);
	while (ret == Z_OK && zeros) {
		uInt n = (uInt)(zeros < sizeof(zero) ? zeros : sizeof(zero));

		z.next_in = (Bytef *)zero;
		z.avail_in = n;
		zeros -= n;
		ret = deflate(&z, Z_NO_FLUSH);
	}
	if (ret == Z_OK)
		ret = deflate(&z, Z_FINISH);
	len = ret == Z_STREAM_END ? z.total_out : 0;
	deflateEnd(&z);
	return len;
}

/* What an accepted load must be. (payload, plen): the Image's bytes when the target knows them. */
static void check_loaded(const struct boot_arm64 *out, uint64_t base, const uint8_t *payload, size_t plen,
			 bool initrd)
{
	uint64_t end = base + RAM_SIZE, kbase = (base + 2 * MIB - 1) & ~(2 * MIB - 1);
	const uint8_t *k = fz.ram + (out->entry - base);
	struct arm64_image h;
	const char *why = NULL;

	check(out->hdr.text_offset % 4096 == 0 && out->hdr.text_offset < 2 * MIB &&
		      out->entry == kbase + out->hdr.text_offset,
	      "the kernel is text_offset above the first 2 MiB boundary in RAM");
	check(out->hdr.image_size
		      ? out->kernel_end == out->entry + out->hdr.image_size &&
				out->image_len <= out->hdr.image_size
		      : out->kernel_end == out->entry + out->image_len && out->hdr.text_offset == 0x80000,
	      "the kernel ends image_size (old kernel: its length) after its load address");
	check(out->image_len >= 64 && out->kernel_end <= end, "the kernel, a header at least, is in RAM");
	check(arm64_image_parse(k, out->image_len, &h, &why) == 0 && h.text_offset == out->hdr.text_offset &&
		      h.image_size == out->hdr.image_size && h.flags == out->hdr.flags &&
		      h.page_kib == out->hdr.page_kib,
	      "the header in RAM is the one the loader went by");
	check(!payload || (plen == out->image_len && memcmp(k, payload, plen) == 0),
	      "the Image is in RAM byte for byte");
	check(out->dtb % (2 * MIB) == 0 && out->dtb >= out->kernel_end && out->dtb + 2 * MIB <= end,
	      "the DTB has its own 2 MiB block above the kernel, in RAM");
	check(initrd == (out->initrd_size != 0), "there is an initrd when one was given");
	if (initrd) {
		check(out->initrd_size == INITRD_LEN && out->initrd % 0x10000 == 0 &&
			      out->initrd >= out->kernel_end &&
			      (out->initrd + INITRD_LEN <= out->dtb || out->initrd >= out->dtb + 2 * MIB) &&
			      out->initrd + INITRD_LEN <= end,
		      "the initrd is 64 KiB aligned above the kernel, clear of the DTB, in RAM");
		for (size_t i = 0; i < INITRD_LEN; i++)
			check(fz.ram[out->initrd - base + i] == fuzz_initrd_byte(i),
			      "the initrd is loaded byte for byte");
		repoison(base, out->initrd, INITRD_LEN);
	}
	repoison(base, out->entry, out->image_len);
	check(untouched(base, base, RAM_SIZE), "the loader wrote nothing but the kernel and the initrd");
}

static void load(const uint8_t *file, size_t len, uint64_t base, const uint8_t *payload, size_t plen,
		 bool initrd)
{
	const struct boot_arm64_args a = { .kernel_path = KERNEL_PATH,
					   .initrd_path = initrd ? fz.initrd : NULL,
					   .ram_base = base,
					   .ram_size = RAM_SIZE };
	uint64_t kbase = (base + 2 * MIB - 1) & ~(2 * MIB - 1), top = (base + RAM_SIZE) & ~(2 * MIB - 1);
	struct boot_arm64 out;
	int ret;

	fz.mem.regions[0].gpa = base;
	fuzz_log_reset(KERNEL_PATH, fz.initrd);
	ret = boot_arm64_load(&fz.mem, &a, file, len, &out);
	check(ret == 0 || ret == -EINVAL || ret == -ENOMEM, "boot_arm64_load returns 0, -EINVAL or -ENOMEM");
	check(fuzz_log.errors == (ret ? 1u : 0u) && fuzz_log.warnings == 0,
	      "a failure logs one error line, a success none");
	check(fuzz_log.named, "each message names the file");
	if (!ret) {
		check_loaded(&out, base, payload, plen, initrd);
		return;
	}
	check(untouched(base, base, kbase - base) &&
		      untouched(base, top - 2 * MIB, base + RAM_SIZE - (top - 2 * MIB)),
	      "a failed load wrote nothing below the kernel's base nor in the DTB's block");
	repoison(base, kbase, top - 2 * MIB - kbase);
}

/* Whether the loader unpacks (file): then the Image's bytes are not the file's. */
static bool packed(const uint8_t *file, size_t len)
{
	return (len >= 2 && file[0] == 0x1f && file[1] == 0x8b) ||
	       (len >= 64 && memcmp(file, "MZ", 2) == 0 && memcmp(file + 4, "zimg", 4) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode = size ? data[0] : 0;
	size_t skip = 1 + (mode & MODE_GZIP && mode & MODE_ZEROS ? 4 : 0);
	uint64_t base = mode & MODE_ODD_BASE ? ODD_BASE : RAM_BASE, zeros = 0;
	const uint8_t *rest = data + (size < skip ? size : skip);
	size_t rlen = size > skip ? size - skip : 0, plen = 0;
	const uint8_t *payload = NULL;
	uint8_t *file;

	if (mode & MODE_GZIP) {
		payload = rest;
		plen = rlen;
		if (mode & MODE_ZEROS && size >= 5)
			zeros = (data[1] | (uint64_t)data[2] << 8 | (uint64_t)data[3] << 16 |
				 (uint64_t)data[4] << 24) %
				ZEROS_MAX;
		rlen = gzip_input(rest, rlen, zeros, (int[]){ 1, 3, 6, 9 }[(mode >> 4) & 3]);
		if (!rlen)
			return 0;
		rest = fz.gz;
		if (zeros)
			payload = NULL;
	}
	/* An exact copy: ASan then sees a read past the file's end. */
	file = malloc(rlen ? rlen : 1);
	check(file != NULL, "malloc");
	memcpy(file, rest, rlen);
	if (!(mode & MODE_GZIP) && !packed(file, rlen)) {
		payload = file;
		plen = rlen;
	}
	load(file, rlen, base, payload, plen, mode & MODE_INITRD);
	free(file);
	return 0;
}

#ifdef FUZZ_SEED_MAIN
/* Seed corpus: well-formed kernels of each shape the loader takes, and the refusals next to them. */

#define SEED_MAX 12304 /* the Makefile's FUZZ_MAX_LEN */

static uint8_t seed[SEED_MAX];
static uint8_t image[SEED_MAX];

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* An arm64 Image of (len) bytes in image[]: header, then a pattern. */
static size_t build(size_t len, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	memset(image, 0, 64);
	memcpy(image, "MZ@\xfa", 4);
	put64(image + 8, text_offset);
	put64(image + 16, image_size);
	put64(image + 24, flags);
	memcpy(image + 56, "ARM\x64", 4);
	for (size_t i = 64; i < len; i++)
		image[i] = (uint8_t)(i * 7 + 3);
	return len;
}

static void emit(const char *dir, const char *name, size_t len)
{
	char path[4096];
	FILE *f;

	if (len > SEED_MAX) {
		fprintf(stderr, "seed %s is %zu bytes, over %d\n", name, len, SEED_MAX);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(seed, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
	LLVMFuzzerTestOneInput(seed, len);
}

/* A seed of (mode) and image[0, len). */
static size_t with_mode(uint8_t mode, size_t len)
{
	seed[0] = mode;
	memcpy(seed + 1, image, len);
	return 1 + len;
}

/* A seed of mode 0 and a gzip stream of image[0, len) and (zeros) zeros, made here. */
static size_t gzipped(size_t len, uint64_t zeros)
{
	size_t n = gzip_input(image, len, zeros, 9);

	seed[0] = 0;
	memcpy(seed + 1, fz.gz, n);
	return 1 + n;
}

int main(int argc, char **argv)
{
	const char *dir = argv[1];
	size_t len;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	emit(dir, "linux-6", with_mode(0, build(4096, 0, 1 * MIB, 0xa)));
	emit(dir, "linux-6-initrd", with_mode(MODE_INITRD, build(4096, 0, 1 * MIB, 0xa)));
	emit(dir, "text-offset-0x80000-odd-base",
	     with_mode(MODE_ODD_BASE, build(2048, 0x80000, 64 * 1024, 0xa)));
	emit(dir, "old-kernel", with_mode(0, build(3000, 0x12345, 0, 0)));
	emit(dir, "image-size-3-mib-initrd", with_mode(MODE_INITRD, build(4096, 0, 3 * MIB, 0xa)));
	emit(dir, "image-size-too-big", with_mode(0, build(4096, 0, 5 * MIB, 0xa)));
	emit(dir, "big-endian", with_mode(0, build(4096, 0, 1 * MIB, 0xb)));
	emit(dir, "gzip-by-target", with_mode(MODE_GZIP, build(8192, 0, 1 * MIB, 0xa)));
	emit(dir, "gzip-by-target-initrd",
	     with_mode(MODE_GZIP | MODE_INITRD | 0x30, build(8192, 0, 1 * MIB, 0x2)));
	len = with_mode(MODE_GZIP | MODE_ZEROS, build(512, 0, 0, 0)) + 4;
	memmove(seed + 5, seed + 1, 512);
	memcpy(seed + 1, "\x00\x00\x70\x00", 4); /* 7 MiB of zeros: past RAM */
	emit(dir, "gzip-bomb-by-target", len);
	emit(dir, "image-gz", gzipped(build(6000, 0, 1 * MIB, 0xa), 0));
	emit(dir, "image-gz-bomb", gzipped(build(512, 0, 0, 0), 10 * MIB));
	emit(dir, "image-gz-past-image-size", gzipped(build(512, 0, 1 * MIB, 0xa), 2 * MIB));
	len = gzipped(build(6000, 0, 1 * MIB, 0xa), 0);
	emit(dir, "image-gz-truncated", len - 9);
	seed[len - 6] ^= 1;
	emit(dir, "image-gz-bad-crc", len);
	len = gzipped(build(3000, 0, 1 * MIB, 0xa), 0);
	memcpy(seed + len, seed + 1, len - 1); /* the same member twice: gzip(1) reads both */
	emit(dir, "image-gz-two-members", 2 * len - 1);
	len = gzip_input(image, build(6000, 0, 1 * MIB, 0xa), 0, 9);
	memset(seed, 0, 1 + 4096);
	memcpy(seed + 1, "MZ\0\0zimg\x00\x10\0\0", 12);
	seed[1 + 12] = (uint8_t)len;
	seed[1 + 13] = (uint8_t)(len >> 8);
	memcpy(seed + 1 + 24, "gzip", 5);
	memcpy(seed + 1 + 4096, fz.gz, len);
	emit(dir, "efi-zboot-gzip", 1 + 4096 + len);
	memset(seed, 0, 0x401);
	memcpy(seed + 1 + 0x202, "HdrS", 4);
	emit(dir, "x86-bzimage", 0x401);
	memset(seed, 0, 65);
	memcpy(seed + 1, "\177ELF\002\001\001", 7);
	emit(dir, "elf", 65);
	return 0;
}
#endif
