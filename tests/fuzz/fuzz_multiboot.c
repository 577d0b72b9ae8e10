/*
 * fuzz_multiboot.c: libFuzzer target for the Multiboot (v1) loader: a hostile kernel file, its
 * Multiboot header, its ELF32 program headers or its a.out-kludge addresses and sizes, searched by
 * multiboot_find_header(), turned into segments by multiboot_segments() and loaded by multiboot_load()
 * into 4 MiB of guest RAM with a module.
 *
 * Input: the kernel image itself (up to 12 KiB, the Makefile's FUZZ_MAX_LEN: the header must be in the
 * first 8 KiB anyway), whose header and program headers may claim any address and size.
 * The module is a 3000-byte memfd; the command line is fixed; RAM is one 4 MiB allocation, so that
 * ASan sees any write past its end (small, as a segment's bss may claim all of it, to be zeroed).
 *
 * Checked, against boot_multiboot.h and the Multiboot 0.6.96 specification: the header found is the
 * first 4-byte-aligned magic with a good checksum in the first 8 KiB, with no required flag kvmini
 * lacks, and its a.out fields are read as they are; segments lie within the file, file bytes never more
 * than memory; multiboot_load() returns 0 (nothing logged, nothing written) for a file without a
 * header, else fails with one error line naming the file, or logs no error and has loaded: each segment
 * in free RAM (not kvmini's low structures, the EBDA or the BIOS area), its bytes and zeroed bss in
 * place, the entry point inside one, EBX at the information structure, which says what it fills in:
 * memory sizes, the command line, the module (page-aligned above the image, inside RAM, byte for byte,
 * with its name), the memory map as E820 says, and the loader's name.
 *
 * Build: make build/tests/fuzz/fuzz_multiboot
 * Seeds:  cc -std=c11 -D_GNU_SOURCE -DFUZZ_SEED_MAIN -Ivmm -Idevices -Idevices/base -Ifirmware/x86 tests/fuzz/fuzz_multiboot.c \
 *            firmware/x86/boot_multiboot.c vmm/file.c devices/base/mem.c firmware/x86/e820.c -o /tmp/multiboot-seeds && \
 *         /tmp/multiboot-seeds tests/fuzz/corpus/multiboot
 */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../firmware/x86/e820.h"
#include "../../firmware/x86/layout.h"
#include "boot_multiboot.h"
#include "fuzz_boot.h"
#include "mem.h"

#define MIB	       (1ULL << 20)
#define RAM_SIZE       (4 * MIB)
#define MOD_LEN	       3000
#define KERNEL_PATH    "fuzz-multiboot"
#define CMDLINE	       "console=ttyS0 quiet"
#define POISON	       0xcc
#define INFO_FLAGS     0x24d /* memory sizes, command line, modules, memory map, loader name */
#define INFO_SIZE      0x58
#define LOW_FREE_START (GUEST_CMDLINE_ADDR + GUEST_CMDLINE_MAX) /* kvmini's structures below */
#define FLAGS_MISSING  0xfff8u /* required flags kvmini does not understand */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the target keeps between inputs: libFuzzer gives it no other place. */
static struct {
	struct gmem mem;
	uint8_t *ram;
	const char *module;
	struct e820_entry e820[E820_MAX_ENTRIES];
	int e820_nr;
	bool dirty; /* RAM beyond the information area may hold an earlier input's bytes */
} fz;

/* A failed invariant: crash loudly so that libFuzzer keeps the input. */
static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "multiboot invariant broken: %s\n", what);
		abort();
	}
}

static uint8_t module_byte(size_t i)
{
	return (uint8_t)(i * 31 + 3);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz.ram = fuzz_ram(&fz.mem, RAM_SIZE, POISON);
	fz.module = fuzz_file("module", MOD_LEN, module_byte);
	fz.e820_nr = e820_build(RAM_SIZE, fz.e820, E820_MAX_ENTRIES);
	if (fz.e820_nr <= 0)
		abort();
	return 0;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t ram32(uint64_t gpa)
{
	check(gpa + 4 <= RAM_SIZE, "the information structure points into RAM");
	return get32(fz.ram + gpa);
}

/* The first 4-byte-aligned magic with a good checksum in the first 8 KiB, or -1. */
static long first_header(const uint8_t *img, size_t len)
{
	size_t end = len < MULTIBOOT_SEARCH ? len : MULTIBOOT_SEARCH;

	for (size_t off = 0; off + 12 <= end; off += 4)
		if (get32(img + off) == MULTIBOOT_MAGIC &&
		    (uint32_t)(get32(img + off) + get32(img + off + 4) + get32(img + off + 8)) == 0)
			return (long)off;
	return -1;
}

static void check_header(const uint8_t *img, size_t len, int ret, const struct multiboot_header *h,
			 const char *why)
{
	long first = first_header(img, len);

	check(ret == 0 || ret == -ENOENT || ret == -EINVAL,
	      "multiboot_find_header returns 0, -ENOENT or -EINVAL");
	check((ret == -ENOENT) == (first < 0), "a header is found where there is one, and only there");
	if (ret == -EINVAL)
		check(why && why[0], "an unusable header says why");
	if (ret)
		return;
	check((long)h->offset == first && h->flags == get32(img + first + 4),
	      "the first good header is taken");
	check(!(h->flags & FLAGS_MISSING), "no required flag kvmini lacks is accepted");
	if (h->flags & MULTIBOOT_AOUT_KLUDGE)
		check(h->offset + 32 <= len && h->header_addr == get32(img + h->offset + 12) &&
			      h->load_addr == get32(img + h->offset + 16) &&
			      h->load_end_addr == get32(img + h->offset + 20) &&
			      h->bss_end_addr == get32(img + h->offset + 24) &&
			      h->entry_addr == get32(img + h->offset + 28),
		      "the a.out-kludge fields are read as they are");
}

static void check_segments(const uint8_t *img, size_t len, const struct multiboot_header *h, int n,
			   const struct multiboot_segment *seg, uint32_t entry, const char *why)
{
	Elf32_Ehdr eh;

	check((n >= 1 && n <= MULTIBOOT_MAX_SEGMENTS) || n == -EINVAL,
	      "multiboot_segments returns 1 to 16 segments, or -EINVAL");
	if (n < 0) {
		check(why && why[0], "refused segments say why");
		return;
	}
	for (int i = 0; i < n; i++)
		check(seg[i].file_offset <= len && seg[i].file_size <= len - seg[i].file_offset &&
			      seg[i].file_size <= seg[i].mem_size,
		      "a segment's file bytes are in the file and no more than its memory");
	if (h->flags & MULTIBOOT_AOUT_KLUDGE) {
		check(n == 1 && seg[0].gpa == h->load_addr && entry == h->entry_addr,
		      "the a.out kludge loads one segment at load_addr and enters at entry_addr");
		return;
	}
	memcpy(&eh, img, sizeof(eh)); /* elf_check() needed the whole header */
	check(eh.e_ident[EI_CLASS] == ELFCLASS32 && eh.e_machine == EM_386 && entry == eh.e_entry,
	      "an ELF image is x86 ELF32 and enters at e_entry");
}

/* Whether segment (i) is overwritten anywhere by a later one (the later one's bytes win). */
static bool overlapped(const struct multiboot_segment *seg, int n, int i)
{
	for (int j = i + 1; j < n; j++)
		if (seg[j].gpa < seg[i].gpa + seg[i].mem_size && seg[i].gpa < seg[j].gpa + seg[j].mem_size)
			return true;
	return false;
}

static uint64_t check_loaded_segments(const uint8_t *img, const struct multiboot_segment *seg, int n,
				      uint32_t entry)
{
	uint64_t image_end = 0;
	bool entry_in = false;

	for (int i = 0; i < n; i++) {
		const struct multiboot_segment *s = &seg[i];
		uint64_t end = s->gpa + s->mem_size;

		check(s->gpa >= LOW_FREE_START && end <= RAM_SIZE &&
			      (end <= GUEST_EBDA_START || s->gpa >= GUEST_HIGH_RAM_START),
		      "a segment lies in free RAM, clear of kvmini's structures, the EBDA and the BIOS area");
		entry_in |= entry >= s->gpa && entry < end;
		image_end = end > image_end ? end : image_end;
		if (overlapped(seg, n, i))
			continue;
		check(memcmp(fz.ram + s->gpa, img + s->file_offset, s->file_size) == 0,
		      "a segment's file bytes are loaded");
		for (uint64_t k = s->file_size; k < s->mem_size; k++)
			check(fz.ram[s->gpa + k] == 0, "a segment's bss is zeroed");
	}
	check(entry_in, "the entry point is inside a loaded segment");
	return image_end;
}

static bool ram_string_is(uint64_t gpa, const char *s)
{
	size_t n = strlen(s) + 1;

	return gpa < RAM_SIZE && n <= RAM_SIZE - gpa && memcmp(fz.ram + gpa, s, n) == 0;
}

static void check_info(uint64_t image_end)
{
	uint64_t info = GUEST_ZERO_PAGE_ADDR, mod = ram32(info + 24), mmap = ram32(info + 48);
	uint32_t start = ram32(mod), end = ram32(mod + 4);

	check(ram32(info) == INFO_FLAGS, "the information structure's flags say what it fills in");
	check(ram32(info + 4) == GUEST_EBDA_START >> 10 &&
		      ram32(info + 8) == (RAM_SIZE - GUEST_HIGH_RAM_START) >> 10,
	      "mem_lower and mem_upper are the RAM below 640 KiB and above 1 MiB");
	check(ram_string_is(ram32(info + 16), KERNEL_PATH " " CMDLINE),
	      "the command line is the path, then the arguments");
	check(ram32(info + 20) == 1, "one module is listed");
	check(start % 4096 == 0 && start >= image_end && end - start == MOD_LEN && end <= RAM_SIZE &&
		      (start >= GUEST_HIGH_RAM_START || end <= GUEST_EBDA_START),
	      "the module is page-aligned above the image, inside free RAM");
	for (uint32_t i = 0; i < MOD_LEN; i++)
		check(fz.ram[start + i] == module_byte(i), "the module is loaded byte for byte");
	check(ram_string_is(ram32(mod + 8), fz.module), "the module's string is its path");
	check(ram32(info + 44) == (uint32_t)fz.e820_nr * 24, "the memory map has an entry per E820 entry");
	for (int i = 0; i < fz.e820_nr; i++) {
		uint64_t e = mmap + 24ULL * (unsigned int)i;

		check(ram32(e) == 20 && memcmp(fz.ram + e + 4, &fz.e820[i].addr, 8) == 0 &&
			      memcmp(fz.ram + e + 12, &fz.e820[i].size, 8) == 0 &&
			      ram32(e + 20) == fz.e820[i].type,
		      "each memory map entry is the E820 entry");
	}
	check(ram_string_is(ram32(info + 64), "kvmini"), "the loader's name is kvmini");
}

static void load(const uint8_t *img, size_t len, int found, int n, const struct multiboot_segment *seg,
		 uint32_t entry, uint32_t flags)
{
	const struct multiboot_args a = { .kernel_path = KERNEL_PATH,
					  .image = img,
					  .image_len = len,
					  .module_path = fz.module,
					  .cmdline = CMDLINE,
					  .e820 = fz.e820,
					  .e820_nr = fz.e820_nr };
	struct multiboot_entry out = { 0, 0 };
	int ret;

	fuzz_log_reset(KERNEL_PATH, fz.module);
	ret = multiboot_load(&fz.mem, &a, &out);
	check(fuzz_log.named, "each message names the file");
	if (found == -ENOENT) {
		check(ret == 0 && !fuzz_log.errors && !fuzz_log.warnings,
		      "a file without a header is left alone");
		for (size_t i = 0; i < 0x1000; i++)
			check(fz.ram[GUEST_ZERO_PAGE_ADDR + i] == POISON,
			      "nothing is written for a non-Multiboot file");
		return;
	}
	check(ret == 1 || ret < 0, "multiboot_load returns 1 or -errno for a file with a header");
	check(found == 0 || ret == found, "an unusable header fails the load");
	check(found || n > 0 || ret == n, "refused segments fail the load");
	fz.dirty |= n > 0;
	if (ret < 0) {
		check(fuzz_log.errors == 1 && fuzz_log.warnings <= 1, "a failure logs one error line");
		return;
	}
	check(fuzz_log.errors == 0 && fuzz_log.warnings == (flags & 4 ? 1u : 0u),
	      "a success logs no error, and a warning for a video mode only");
	check(out.eip == entry && out.ebx == GUEST_ZERO_PAGE_ADDR,
	      "the vCPU starts at the entry, EBX at the information structure");
	check_info(check_loaded_segments(img, seg, n, entry));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct multiboot_segment seg[MULTIBOOT_MAX_SEGMENTS];
	struct multiboot_header h;
	const char *why = NULL;
	uint32_t entry = 0;
	int found, n = 0;
	/* An exact copy: ASan then sees a read past the image's end. */
	uint8_t *img = malloc(size ? size : 1);

	if (!img)
		abort();
	memcpy(img, data, size);
	memset(&h, 0, sizeof(h));
	found = multiboot_find_header(img, size, &h, &why);
	check_header(img, size, found, &h, why);
	if (found == 0) {
		why = NULL;
		n = multiboot_segments(img, size, &h, seg, &entry, &why);
		check_segments(img, size, &h, n, seg, entry, why);
	}
	load(img, size, found, n, seg, entry, h.flags);
	/* The next input starts from poison: what it finds in RAM is what it loaded. */
	if (fz.dirty)
		memset(fz.ram, POISON, RAM_SIZE);
	else
		memset(fz.ram + GUEST_ZERO_PAGE_ADDR, POISON, LOW_FREE_START - GUEST_ZERO_PAGE_ADDR);
	fz.dirty = false;
	free(img);
	return 0;
}

#ifdef FUZZ_SEED_MAIN
/* Seed corpus: small ELF32 and a.out-kludge kernels of each shape the loader takes, and refusals. */

#define SEED_MAX 12304 /* the Makefile's FUZZ_MAX_LEN */
#define FLAGS	 0x3u  /* page-aligned modules, memory information: what kernels usually ask for */

static uint8_t seed[SEED_MAX];

static void put32(size_t off, uint32_t v)
{
	memcpy(seed + off, &v, sizeof(v));
}

/* A Multiboot header of (flags) at (off), with a checksum that makes the three sum to 0. */
static void mb_header(size_t off, uint32_t flags)
{
	put32(off, MULTIBOOT_MAGIC);
	put32(off + 4, flags);
	put32(off + 8, 0u - MULTIBOOT_MAGIC - flags);
}

static void aout_fields(size_t off, uint32_t header_addr, uint32_t load, uint32_t load_end, uint32_t bss_end,
			uint32_t entry)
{
	put32(off + 12, header_addr);
	put32(off + 16, load);
	put32(off + 20, load_end);
	put32(off + 24, bss_end);
	put32(off + 28, entry);
}

/* An ELF32 x86 executable of (phnum) program headers at 52, entering at (entry); 0x1000 bytes of code. */
static size_t elf(uint16_t phnum, uint32_t entry, size_t len)
{
	Elf32_Ehdr eh = { .e_type = ET_EXEC,
			  .e_machine = EM_386,
			  .e_version = EV_CURRENT,
			  .e_entry = entry,
			  .e_phoff = sizeof(Elf32_Ehdr),
			  .e_ehsize = sizeof(Elf32_Ehdr),
			  .e_phentsize = sizeof(Elf32_Phdr),
			  .e_phnum = phnum };

	memset(seed, 0, sizeof(seed));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	memcpy(seed, &eh, sizeof(eh));
	for (size_t i = 0x400; i < len; i++)
		seed[i] = (uint8_t)(i * 7 + 1);
	return len;
}

static void phdr(int i, uint32_t type, uint32_t offset, uint32_t paddr, uint32_t filesz, uint32_t memsz)
{
	Elf32_Phdr ph = { .p_type = type,
			  .p_offset = offset,
			  .p_vaddr = paddr + 0xc0000000u, /* paging is off at entry: p_paddr counts */
			  .p_paddr = paddr,
			  .p_filesz = filesz,
			  .p_memsz = memsz,
			  .p_flags = PF_R | PF_X,
			  .p_align = 0x1000 };

	memcpy(seed + sizeof(Elf32_Ehdr) + (size_t)i * sizeof(ph), &ph, sizeof(ph));
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

/* ELF kernels: one segment with bss at 1 MiB; text and data with a note between; one low, below 640 KiB. */
static void seed_elf(const char *dir)
{
	size_t len = elf(1, 0x100000 + 0x400, 0x800);

	phdr(0, PT_LOAD, 0x400, 0x100000, 0x400, 0x2000);
	mb_header(0x200, FLAGS);
	emit(dir, "elf-one-segment", len);
	len = elf(3, 0x200000 + 0x1800, 0xc00);
	phdr(0, PT_LOAD, 0x400, 0x100000, 0x400, 0x400);
	phdr(1, PT_NOTE, 0x200, 0x10000, 0x10, 0x10);
	phdr(2, PT_LOAD, 0x800, 0x200000, 0x400, 0x2000); /* the entry is in its bss */
	mb_header(0x100, FLAGS);
	emit(dir, "elf-text-note-data", len);
	len = elf(1, 0x40000, 0x800);
	phdr(0, PT_LOAD, 0x400, 0x40000, 0x400, 0x1000);
	mb_header(0x300, 0x1);
	emit(dir, "elf-low", len);
	len = elf(2, 0x100000, 0x800);
	phdr(0, PT_LOAD, 0x400, 0x100000, 0x400, 0x800);
	/* The second segment overlaps the first; the header asks for a video mode. */
	phdr(1, PT_LOAD, 0x400, 0x100200, 0x400, 0x400);
	mb_header(0x200, FLAGS | 0x4);
	emit(dir, "elf-overlap-video", len);
	len = elf(MULTIBOOT_MAX_SEGMENTS, 0x300000, 0x800);
	for (int i = 0; i < MULTIBOOT_MAX_SEGMENTS; i++)
		phdr(i, PT_LOAD, 0x400, 0x300000 + 0x1000u * (unsigned int)i, 0x400, 0x1000);
	mb_header(0x3f0, FLAGS);
	emit(dir, "elf-sixteen-segments", len);
	len = elf(1, 0x100000, 0x800);
	seed[EI_CLASS] = ELFCLASS64;
	mb_header(0x200, FLAGS);
	emit(dir, "elf64", len);
}

/* a.out-kludge kernels: load from the file's start, with bss; and addresses that do not add up. */
static void seed_aout(const char *dir)
{
	memset(seed, 0, sizeof(seed));
	for (size_t i = 0; i < 0x1000; i++)
		seed[i] = (uint8_t)(i * 13 + 5);
	mb_header(0x40, FLAGS | MULTIBOOT_AOUT_KLUDGE);
	aout_fields(0x40, 0x100040, 0x100000, 0, 0x104000, 0x100060);
	emit(dir, "aout", 0x1000);
	mb_header(0x40, FLAGS | MULTIBOOT_AOUT_KLUDGE);
	aout_fields(0x40, 0x100040, 0x100000, 0x100800, 0x100800, 0x100060);
	emit(dir, "aout-load-end", 0x1000);
	aout_fields(0x40, 0x100040, 0x100080, 0x100800, 0, 0x100060); /* header below load_addr */
	emit(dir, "aout-header-below-load", 0x1000);
	memset(seed, 0, 0x2000);
	mb_header(0x1ff4, FLAGS | MULTIBOOT_AOUT_KLUDGE); /* the last slot: its fields past the end */
	emit(dir, "aout-cut-short", 0x2000);
	memset(seed, 0, 0x100);
	mb_header(0x20, FLAGS | 0x8); /* a required flag kvmini lacks */
	emit(dir, "required-flag", 0x100);
	memset(seed, 0xa5, 0x100);
	emit(dir, "no-header", 0x100);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	seed_elf(argv[1]);
	seed_aout(argv[1]);
	return 0;
}
#endif
