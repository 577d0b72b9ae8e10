/*
 * fuzz_bzimage.c: libFuzzer target for the bzImage loader: a hostile kernel file, its setup header and
 * the sizes it claims, parsed by bzimage_parse() and loaded by boot_linux_load() into 64 MiB of guest
 * RAM, once without an initrd and once with one.
 *
 * Input: the kernel image itself. Inputs are capped at 12 KiB (the Makefile's FUZZ_MAX_LEN): enough
 * for a setup header and a small protected-mode part, while the header may claim any size (syssize,
 * init_size, setup_sects up to 23 sectors) and any address (pref_address, initrd_addr_max).
 * The initrd is a 5000-byte memfd; the command line is 27 bytes; RAM is one 64 MiB allocation, so that
 * ASan sees any write past its end.
 *
 * Checked, against boot_linux.h and the boot protocol (Documentation/arch/x86/boot.rst):
 * bzimage_parse() accepts or says why not; what it accepts has a sane header (version, length, load
 * address, alignment) and splits the file into its two parts. boot_linux_load() refuses what the parse
 * refuses, and either fails with one error line naming the file, or logs no error and has loaded: the
 * protected-mode part at pref_address, its decompression room inside RAM, the entry at +0x200, the
 * zero page holding the image's setup header with the loader's fields (type_of_loader, cmd_line_ptr,
 * the initrd's address and size) and zeros past the header, the command line within cmdline_size, the
 * initrd page-aligned above the kernel's room, below initrd_addr_max and inside RAM, byte for byte.
 *
 * Build: make build/tests/fuzz/fuzz_bzimage
 * Seeds:  cc -std=c11 -D_GNU_SOURCE -DFUZZ_SEED_MAIN -Ivmm -Idevices -Idevices/base -Ifirmware/x86 tests/fuzz/fuzz_bzimage.c \
 *            firmware/x86/boot_linux.c vmm/file.c devices/base/mem.c firmware/x86/boot_params.c -o /tmp/bzimage-seeds && \
 *         /tmp/bzimage-seeds tests/fuzz/corpus/bzimage
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../firmware/x86/boot_params.h"
#include "../../firmware/x86/layout.h"
#include "boot_linux.h"
#include "fuzz_boot.h"
#include "mem.h"

#define MIB	       (1ULL << 20)
#define RAM_SIZE       (64 * MIB)
#define INITRD_LEN     5000
#define KERNEL_PATH    "fuzz-bzImage"
#define CMDLINE	       "console=ttyS0 root=/dev/vda"
#define RSDP_GPA       GUEST_ACPI_ADDR
#define LOADER_UNKNOWN 0xff
#define POISON	       0xcc

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The machine the loader sees, as kvmini's e820.c describes 64 MiB. */
static const struct e820_entry e820[] = {
	{ 0, GUEST_EBDA_START, E820_RAM },
	{ GUEST_EBDA_START, GUEST_LOW_RAM_END - GUEST_EBDA_START, E820_RESERVED },
	{ GUEST_ACPI_ADDR, GUEST_HIGH_RAM_START - GUEST_ACPI_ADDR, E820_RESERVED },
	{ GUEST_HIGH_RAM_START, RAM_SIZE - GUEST_HIGH_RAM_START, E820_RAM },
};

/* What the target keeps between inputs: libFuzzer gives it no other place. */
static struct {
	struct gmem mem;
	const char *initrd;
	uint8_t *ram;
} fz;

/* A failed invariant: crash loudly so that libFuzzer keeps the input. */
static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bzImage invariant broken: %s\n", what);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz.ram = fuzz_ram(&fz.mem, RAM_SIZE, POISON);
	fz.initrd = fuzz_file("initrd", INITRD_LEN, fuzz_initrd_byte);
	return 0;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* What bzimage_parse() accepts: a header a 64-bit boot can use, and a file split in two. */
static void check_parse(const uint8_t *img, size_t len, int ret, const struct bzimage *bz, const char *why)
{
	check(ret == 0 || ret == -EINVAL, "bzimage_parse returns 0 or -EINVAL");
	if (ret) {
		check(why && why[0], "a refusal says why");
		return;
	}
	check(len >= 0x300 && bz->version >= BZIMAGE_MIN_VERSION,
	      "an accepted image has boot protocol 2.12+");
	check(bz->hdr_len > HDR_INIT_SIZE + 4 - BP_SETUP_HDR &&
		      bz->hdr_len <= BP_SETUP_HDR_END - BP_SETUP_HDR,
	      "the setup header's length fits its area and holds init_size");
	check(bz->setup_len % 512 == 0 && bz->setup_len >= 512 && bz->setup_len + bz->kernel_len == len &&
		      bz->kernel_len > 0,
	      "the file is the setup sectors, then the kernel");
	check((uint64_t)get32(img + HDR_SYSSIZE) * 16 <= bz->kernel_len, "syssize fits the file");
	check(bz->pref_address >= GUEST_HIGH_RAM_START && bz->pref_address < PCI_HOLE_START,
	      "the load address is RAM above 1 MiB");
	check(!bz->relocatable || !(bz->kernel_alignment & (bz->kernel_alignment - 1)),
	      "a relocatable kernel's alignment is a power of two");
	check(bz->init_size == get32(img + HDR_INIT_SIZE) &&
		      bz->cmdline_size == get32(img + HDR_CMDLINE_SIZE) &&
		      bz->initrd_addr_max == get32(img + HDR_INITRD_ADDR_MAX),
	      "the header's fields are read as they are");
}

static void check_zero_page(const uint8_t *img, const struct bzimage *bz, uint64_t initrd_gpa, bool initrd)
{
	const uint8_t *zp = fz.ram + GUEST_ZERO_PAGE_ADDR;
	static const struct {
		uint32_t off, len;
	} loader_fields[] = { { HDR_TYPE_OF_LOADER, 1 }, { HDR_RAMDISK_IMAGE, 8 }, { HDR_CMD_LINE_PTR, 4 } };

	for (uint32_t off = BP_SETUP_HDR; off < BP_SETUP_HDR + bz->hdr_len; off++) {
		bool ours = false;

		for (size_t i = 0; i < sizeof(loader_fields) / sizeof(loader_fields[0]); i++)
			ours |= off >= loader_fields[i].off &&
				off < loader_fields[i].off + loader_fields[i].len;
		check(ours || zp[off] == img[off], "the zero page holds the image's setup header");
	}
	for (uint32_t off = BP_SETUP_HDR + (uint32_t)bz->hdr_len; off < BP_SETUP_HDR_END; off++)
		check(zp[off] == 0, "the zero page is zero past the image's setup header");
	check(zp[HDR_TYPE_OF_LOADER] == LOADER_UNKNOWN, "type_of_loader says an unregistered loader");
	check(get32(zp + HDR_CMD_LINE_PTR) == GUEST_CMDLINE_ADDR, "cmd_line_ptr points at the command line");
	check(get32(zp + HDR_RAMDISK_IMAGE) == (initrd ? initrd_gpa : 0) &&
		      get32(zp + HDR_RAMDISK_SIZE) == (initrd ? INITRD_LEN : 0),
	      "ramdisk_image and ramdisk_size say where the initrd is");
	check(zp[BP_E820_ENTRIES] == sizeof(e820) / sizeof(e820[0]) &&
		      memcmp(zp + BP_E820_TABLE, e820, sizeof(e820)) == 0,
	      "the zero page holds the E820 map");
}

/* Where the initrd went: the highest page-aligned spot under its limit, clear of the kernel's room. */
static uint64_t check_initrd(const struct bzimage *bz, uint64_t kernel_end)
{
	uint64_t top =
		RAM_SIZE < (uint64_t)bz->initrd_addr_max + 1 ? RAM_SIZE : (uint64_t)bz->initrd_addr_max + 1;
	uint64_t gpa = get32(fz.ram + GUEST_ZERO_PAGE_ADDR + HDR_RAMDISK_IMAGE);

	check(gpa % 4096 == 0 && gpa >= kernel_end && gpa + INITRD_LEN <= top,
	      "the initrd is page-aligned, above the kernel's room, under its limit and in RAM");
	for (size_t i = 0; i < INITRD_LEN; i++)
		check(fz.ram[gpa + i] == fuzz_initrd_byte(i), "the initrd is loaded byte for byte");
	memset(fz.ram + gpa, POISON, INITRD_LEN);
	return gpa;
}

static void check_loaded(const uint8_t *img, const struct bzimage *bz, const struct boot_linux_entry *out,
			 bool initrd)
{
	uint64_t room = bz->init_size > bz->kernel_len ? bz->init_size : bz->kernel_len;
	uint64_t initrd_gpa = 0;

	check(bz->pref_address + room <= RAM_SIZE, "the kernel and its decompression room are in RAM");
	check(memcmp(fz.ram + bz->pref_address, img + bz->setup_len, bz->kernel_len) == 0,
	      "the protected-mode part is loaded at pref_address");
	check(out->rip == bz->pref_address + 0x200 && out->zero_page == GUEST_ZERO_PAGE_ADDR,
	      "the vCPU starts at the 64-bit entry with the zero page");
	check(strlen(CMDLINE) <= bz->cmdline_size &&
		      memcmp(fz.ram + GUEST_CMDLINE_ADDR, CMDLINE, sizeof(CMDLINE)) == 0,
	      "the command line is in place, within cmdline_size");
	if (initrd)
		initrd_gpa = check_initrd(bz, bz->pref_address + room);
	check_zero_page(img, bz, initrd_gpa, initrd);
	memset(fz.ram + GUEST_ZERO_PAGE_ADDR, POISON, BOOT_PARAMS_SIZE);
	memset(fz.ram + GUEST_CMDLINE_ADDR, POISON, sizeof(CMDLINE));
}

static void load(const uint8_t *img, size_t len, int parse_ret, const struct bzimage *bz, bool initrd)
{
	const struct boot_linux_args a = { .kernel_path = KERNEL_PATH,
					   .image = img,
					   .image_len = len,
					   .initrd_path = initrd ? fz.initrd : NULL,
					   .cmdline = CMDLINE,
					   .e820 = e820,
					   .e820_nr = sizeof(e820) / sizeof(e820[0]),
					   .rsdp_gpa = RSDP_GPA };
	struct boot_linux_entry out = { 0, 0 };
	int ret;

	fuzz_log_reset(KERNEL_PATH, fz.initrd);
	ret = boot_linux_load(&fz.mem, &a, &out);
	check(ret <= 0, "boot_linux_load returns 0 or -errno");
	check(parse_ret == 0 || ret != 0, "what bzimage_parse refuses is not loaded");
	check(fuzz_log.errors == (ret ? 1u : 0u) && fuzz_log.warnings == 0,
	      "a failure logs one error line, a success none");
	check(fuzz_log.named, "each message names the file");
	if (!ret)
		check_loaded(img, bz, &out, initrd);
	/* The next input must not find this one's kernel where it expects its own. */
	if (parse_ret == 0 && bz->pref_address + bz->kernel_len <= RAM_SIZE)
		memset(fz.ram + bz->pref_address, POISON, bz->kernel_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bzimage bz;
	const char *why = NULL;
	int ret;

	/* An exact copy: ASan then sees a read past the image's end. */
	uint8_t *img = malloc(size ? size : 1);

	if (!img)
		abort();
	memcpy(img, data, size);
	ret = bzimage_parse(img, size, &bz, &why);
	check_parse(img, size, ret, &bz, why);
	load(img, size, ret, &bz, false);
	load(img, size, ret, &bz, true);
	free(img);
	return 0;
}

#ifdef FUZZ_SEED_MAIN
/* Seed corpus: well-formed images of each shape the header allows, and the refusals next to them. */

#define SEED_MAX 12304 /* the Makefile's FUZZ_MAX_LEN */

static uint8_t seed[SEED_MAX];

static void put16(size_t off, uint16_t v)
{
	seed[off] = (uint8_t)v;
	seed[off + 1] = (uint8_t)(v >> 8);
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

/*
 * A 64-bit relocatable bzImage of protocol 2.15, as Linux 6.x builds it: (setup_sects) sectors of setup
 * after the boot sector, (kernel_len) bytes of protected-mode code (a pattern), loading at 16 MiB with
 * 32 MiB of room. Returns the file's length.
 */
static size_t build(uint8_t setup_sects, size_t kernel_len)
{
	size_t setup_len = ((size_t)(setup_sects ? setup_sects : 4) + 1) * 512;

	memset(seed, 0, sizeof(seed));
	seed[HDR_SETUP_SECTS] = setup_sects;
	put32(HDR_SYSSIZE, (uint32_t)(kernel_len / 16));
	put16(HDR_BOOT_FLAG, 0xaa55);
	seed[HDR_JUMP] = 0xeb;
	seed[HDR_JUMP + 1] = 0x66; /* the header ends at 0x268 */
	memcpy(seed + HDR_MAGIC, "HdrS", 4);
	put16(HDR_VERSION, 0x020f);
	seed[HDR_LOADFLAGS] = 0x01; /* LOADED_HIGH */
	put32(HDR_INITRD_ADDR_MAX, 0x7fffffff);
	put32(HDR_KERNEL_ALIGNMENT, 0x200000);
	seed[HDR_RELOCATABLE] = 1;
	put16(HDR_XLOADFLAGS, 0x0001); /* XLF_KERNEL_64 */
	put32(HDR_CMDLINE_SIZE, 2047);
	put64(HDR_PREF_ADDRESS, 0x1000000);
	put32(HDR_INIT_SIZE, 0x2000000);
	for (size_t i = 0; i < kernel_len; i++)
		seed[setup_len + i] = (uint8_t)(i * 7 + 3);
	return setup_len + kernel_len;
}

static void emit(const char *dir, const char *name, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(seed, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
	LLVMFuzzerTestOneInput(seed, len);
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
	emit(dir, "linux-6", build(4, 1024));
	emit(dir, "setup-sects-0", build(0, 512));
	emit(dir, "setup-sects-7", build(7, 256));
	len = build(1, 2048);
	put16(HDR_VERSION, 0x020c);
	seed[HDR_JUMP + 1] = BP_SETUP_HDR_END - HDR_MAGIC; /* the header fills its whole area */
	seed[HDR_RELOCATABLE] = 0;
	put32(HDR_KERNEL_ALIGNMENT, 0x300000);
	emit(dir, "protocol-2.12-full-header", len);
	len = build(2, 1024);
	put64(HDR_PREF_ADDRESS, GUEST_HIGH_RAM_START);
	put32(HDR_INIT_SIZE, RAM_SIZE - GUEST_HIGH_RAM_START - 8192); /* the initrd's two pages left */
	emit(dir, "initrd-just-fits", len);
	put32(HDR_INIT_SIZE, RAM_SIZE - GUEST_HIGH_RAM_START - 4096);
	emit(dir, "no-room-for-the-initrd", len);
	len = build(2, 1024);
	put32(HDR_INIT_SIZE, 0x1fff000);
	/* The initrd's last byte at most 2 pages above the kernel's room: it just fits. */
	put32(HDR_INITRD_ADDR_MAX, 0x3000fff);
	emit(dir, "initrd-addr-max", len);
	len = build(4, 1024);
	put32(HDR_INIT_SIZE, 0xffffffff);
	emit(dir, "init-size-too-big", len);
	len = build(4, 1024);
	put32(HDR_CMDLINE_SIZE, 8);
	emit(dir, "cmdline-size-8", len);
	len = build(4, 1024);
	put32(HDR_SYSSIZE, 1024 / 16 + 1);
	emit(dir, "syssize-past-the-end", len);
	len = build(4, 1024);
	put64(HDR_PREF_ADDRESS, PCI_HOLE_START - 0x1000);
	emit(dir, "pref-address-under-the-hole", len);
	memset(seed, 0, 0x300);
	memcpy(seed, "\177ELF\002\001\001", 7);
	emit(dir, "elf", 0x300);
	return 0;
}
#endif
