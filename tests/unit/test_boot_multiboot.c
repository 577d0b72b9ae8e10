/* test_boot_multiboot.c: Multiboot header search, ELF32 and a.out-kludge segments, and loading. */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot_multiboot.h"
#include "e820.h"
#include "mem.h"

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)

#define KLUDGE MULTIBOOT_AOUT_KLUDGE
#define FLAGS  0x3u /* page-aligned modules, memory information: what kernels usually ask for */

static void put32(uint8_t *buf, size_t off, uint32_t v)
{
	memcpy(buf + off, &v, sizeof(v));
}

/* A Multiboot header of (flags) at (off) in (buf), with a checksum that makes the three sum to 0. */
static void put_header(uint8_t *buf, size_t off, uint32_t flags)
{
	put32(buf, off, MULTIBOOT_MAGIC);
	put32(buf, off + 4, flags);
	put32(buf, off + 8, 0u - MULTIBOOT_MAGIC - flags);
}

static void put_aout(uint8_t *buf, size_t off, uint32_t header_addr, uint32_t load_addr, uint32_t load_end,
		     uint32_t bss_end, uint32_t entry)
{
	put_header(buf, off, FLAGS | KLUDGE);
	put32(buf, off + 12, header_addr);
	put32(buf, off + 16, load_addr);
	put32(buf, off + 20, load_end);
	put32(buf, off + 24, bss_end);
	put32(buf, off + 28, entry);
}

/* A copy of exactly (len) bytes on the heap: ASan then catches any read past the image. */
static uint8_t *exact_copy(const uint8_t *src, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	cr_assert_not_null(p);
	memcpy(p, src, len);
	return p;
}

static struct multiboot_header h;
static struct multiboot_segment seg[MULTIBOOT_MAX_SEGMENTS];
static uint32_t entry;
static const char *why;

static void assert_why_mentions(const char *part)
{
	cr_assert_not_null(why);
	cr_assert_not_null(strstr(why, part), "why: \"%s\", expected it to mention \"%s\"", why, part);
}

/*
 * multiboot_find_header
 */

#define RAW_LEN (16 * KIB)
static uint8_t raw[RAW_LEN];

static void clear_raw(void)
{
	memset(raw, 0, sizeof(raw));
	memset(&h, 0xa5, sizeof(h));
	why = NULL;
}

TestSuite(multiboot_header, .init = clear_raw);

Test(multiboot_header, at_offset_0_is_found_with_its_flags)
{
	put_header(raw, 0, FLAGS);
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), 0);
	cr_assert_eq(h.offset, 0);
	cr_assert_eq(h.flags, FLAGS);
}

Test(multiboot_header, at_offset_4096_is_found)
{
	put_header(raw, 4096, 0x1);
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), 0);
	cr_assert_eq(h.offset, 4096);
	cr_assert_eq(h.flags, 0x1);
}

Test(multiboot_header, in_the_last_slot_of_the_first_8_kib_is_found)
{
	put_header(raw, MULTIBOOT_SEARCH - 12, 0);
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), 0);
	cr_assert_eq(h.offset, MULTIBOOT_SEARCH - 12);
}

Test(multiboot_header, at_offset_8192_is_not_found)
{
	put_header(raw, 8192, FLAGS);
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), -ENOENT);
}

Test(multiboot_header, beyond_8_kib_is_not_found)
{
	put_header(raw, 12288, FLAGS);
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), -ENOENT);
}

Test(multiboot_header, straddling_8_kib_is_not_found)
{
	put_header(raw, MULTIBOOT_SEARCH - 8, 0);
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), -ENOENT);
}

Test(multiboot_header, with_a_bad_checksum_is_not_found)
{
	put_header(raw, 0, FLAGS);
	put32(raw, 8, 0u - MULTIBOOT_MAGIC - FLAGS + 1);
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), -ENOENT);
}

Test(multiboot_header, misaligned_is_not_found)
{
	put_header(raw, 2, FLAGS);
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), -ENOENT);
}

Test(multiboot_header, bad_checksum_candidate_is_skipped_for_a_later_good_one)
{
	put_header(raw, 0x40, FLAGS);
	put32(raw, 0x48, 0);
	put_header(raw, 0x80, 0x1);
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), 0);
	cr_assert_eq(h.offset, 0x80);
	cr_assert_eq(h.flags, 0x1);
}

Test(multiboot_header, in_an_empty_or_tiny_image_is_not_found)
{
	uint8_t *p = exact_copy(raw, 11);

	cr_assert_eq(multiboot_find_header(p, 0, &h, &why), -ENOENT);
	cr_assert_eq(multiboot_find_header(p, 11, &h, &why), -ENOENT);
	free(p);
}

Test(multiboot_header, filling_the_whole_of_a_12_byte_image_is_found)
{
	uint8_t *p;

	put_header(raw, 0, FLAGS);
	p = exact_copy(raw, 12);
	cr_assert_eq(multiboot_find_header(p, 12, &h, &why), 0);
	free(p);
}

Test(multiboot_header, video_flag_is_accepted)
{
	put_header(raw, 0, 0x7);
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), 0);
	cr_assert_eq(h.flags, 0x7);
}

Test(multiboot_header, required_flag_bit_3_is_rejected_with_a_reason)
{
	put_header(raw, 0, FLAGS | (1u << 3));
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_header, required_flag_bit_15_is_rejected)
{
	put_header(raw, 0, 1u << 15);
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_header, optional_flag_bits_above_16_are_accepted)
{
	put_header(raw, 0, FLAGS | (1u << 20));
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), 0);
}

Test(multiboot_header, aout_kludge_fields_are_read)
{
	put_aout(raw, 0x40, 0x100040, 0x100000, 0x101000, 0x102000, 0x100080);
	cr_assert_eq(multiboot_find_header(raw, RAW_LEN, &h, &why), 0);
	cr_assert_eq(h.offset, 0x40);
	cr_assert_eq(h.flags, FLAGS | KLUDGE);
	cr_assert_eq(h.header_addr, 0x100040);
	cr_assert_eq(h.load_addr, 0x100000);
	cr_assert_eq(h.load_end_addr, 0x101000);
	cr_assert_eq(h.bss_end_addr, 0x102000);
	cr_assert_eq(h.entry_addr, 0x100080);
}

Test(multiboot_header, aout_kludge_filling_the_image_exactly_is_read)
{
	uint8_t *p;

	put_aout(raw, 0, 0x100000, 0x100000, 0, 0, 0x100000);
	p = exact_copy(raw, 32);
	cr_assert_eq(multiboot_find_header(p, 32, &h, &why), 0);
	cr_assert_eq(h.entry_addr, 0x100000);
	free(p);
}

Test(multiboot_header, aout_kludge_cut_short_is_rejected)
{
	uint8_t *p;

	put_aout(raw, 0, 0x100000, 0x100000, 0, 0, 0x100000);
	p = exact_copy(raw, 31);
	cr_assert_eq(multiboot_find_header(p, 31, &h, &why), -EINVAL);
	cr_assert_not_null(why);
	free(p);
}

Test(multiboot_header, aout_kludge_with_only_its_first_12_bytes_is_rejected)
{
	uint8_t *p;

	put_aout(raw, 0, 0x100000, 0x100000, 0, 0, 0x100000);
	p = exact_copy(raw, 12);
	cr_assert_eq(multiboot_find_header(p, 12, &h, &why), -EINVAL);
	cr_assert_not_null(why);
	free(p);
}

/*
 * A minimal ELF32 Multiboot kernel: two PT_LOAD segments (the second mostly bss) and a PT_NOTE,
 * the Multiboot header after the program headers, and 0xee filler that must never be loaded.
 */

#define IMG_LEN	     0x3000
#define MB_OFF	     0x800
#define SEG0_OFF     0x1000
#define SEG0_GPA     0x100000
#define SEG0_FILESZ  0x800
#define SEG0_MEMSZ   0x1000
#define SEG1_OFF     0x2000
#define SEG1_GPA     0x200000
#define SEG1_FILESZ  0x400
#define SEG1_MEMSZ   0x2000
#define ELF_ENTRY    (SEG0_GPA + 0x10)
#define KERNEL_END   (SEG1_GPA + SEG1_MEMSZ)
#define VIRT_OFFSET  0xc0000000u /* p_vaddr differs: paging is off, p_paddr counts */
#define FILLER	     0xee
#define PHDR_OFF(i)  (sizeof(Elf32_Ehdr) + (size_t)(i) * sizeof(Elf32_Phdr))
#define NR_TEST_PHDR 3

static uint8_t img[IMG_LEN];

static Elf32_Ehdr get_ehdr(void)
{
	Elf32_Ehdr eh;

	memcpy(&eh, img, sizeof(eh));
	return eh;
}

static void put_ehdr(const Elf32_Ehdr *eh)
{
	memcpy(img, eh, sizeof(*eh));
}

static Elf32_Phdr get_phdr(int i)
{
	Elf32_Phdr ph;

	memcpy(&ph, img + PHDR_OFF(i), sizeof(ph));
	return ph;
}

static void put_phdr(int i, const Elf32_Phdr *ph)
{
	memcpy(img + PHDR_OFF(i), ph, sizeof(*ph));
}

static void set_phdr(int i, uint32_t type, uint32_t offset, uint32_t paddr, uint32_t filesz, uint32_t memsz)
{
	Elf32_Phdr ph = { .p_type = type,
			  .p_offset = offset,
			  .p_vaddr = paddr + VIRT_OFFSET,
			  .p_paddr = paddr,
			  .p_filesz = filesz,
			  .p_memsz = memsz,
			  .p_flags = PF_R | PF_X,
			  .p_align = 0x1000 };

	put_phdr(i, &ph);
}

static uint8_t seg0_byte(size_t i)
{
	return (uint8_t)(i * 7 + 1);
}

static uint8_t seg1_byte(size_t i)
{
	return (uint8_t)(i * 13 + 5);
}

static void build_elf(void)
{
	Elf32_Ehdr eh = { .e_type = ET_EXEC,
			  .e_machine = EM_386,
			  .e_version = EV_CURRENT,
			  .e_entry = ELF_ENTRY,
			  .e_phoff = sizeof(Elf32_Ehdr),
			  .e_ehsize = sizeof(Elf32_Ehdr),
			  .e_phentsize = sizeof(Elf32_Phdr),
			  .e_phnum = NR_TEST_PHDR };

	memset(img, FILLER, sizeof(img));
	memset(img, 0, SEG0_OFF);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	put_ehdr(&eh);
	set_phdr(0, PT_LOAD, SEG0_OFF, SEG0_GPA, SEG0_FILESZ, SEG0_MEMSZ);
	/* Never loaded: at 0x10000 it would be refused, so a loader that took it would fail. */
	set_phdr(1, PT_NOTE, 0x200, 0x10000, 0x10, 0x10);
	set_phdr(2, PT_LOAD, SEG1_OFF, SEG1_GPA, SEG1_FILESZ, SEG1_MEMSZ);
	for (size_t i = 0; i < SEG0_FILESZ; i++)
		img[SEG0_OFF + i] = seg0_byte(i);
	for (size_t i = 0; i < SEG1_FILESZ; i++)
		img[SEG1_OFF + i] = seg1_byte(i);
	put_header(img, MB_OFF, FLAGS);
	memset(seg, 0, sizeof(seg));
	entry = 0;
	why = NULL;
}

static int elf_segments(void)
{
	cr_assert_eq(multiboot_find_header(img, IMG_LEN, &h, &why), 0);
	return multiboot_segments(img, IMG_LEN, &h, seg, &entry, &why);
}

static void assert_segment(int i, uint64_t gpa, uint64_t offset, uint64_t filesz, uint64_t memsz)
{
	cr_assert_eq(seg[i].gpa, gpa, "segment %d: gpa 0x%llx, want 0x%llx", i,
		     (unsigned long long)seg[i].gpa, (unsigned long long)gpa);
	cr_assert_eq(seg[i].file_offset, offset, "segment %d: file offset 0x%llx, want 0x%llx", i,
		     (unsigned long long)seg[i].file_offset, (unsigned long long)offset);
	cr_assert_eq(seg[i].file_size, filesz, "segment %d: file size 0x%llx, want 0x%llx", i,
		     (unsigned long long)seg[i].file_size, (unsigned long long)filesz);
	cr_assert_eq(seg[i].mem_size, memsz, "segment %d: memory size 0x%llx, want 0x%llx", i,
		     (unsigned long long)seg[i].mem_size, (unsigned long long)memsz);
}

TestSuite(multiboot_elf, .init = build_elf);

Test(multiboot_elf, two_load_segments_at_their_physical_addresses)
{
	cr_assert_eq(elf_segments(), 2);
	assert_segment(0, SEG0_GPA, SEG0_OFF, SEG0_FILESZ, SEG0_MEMSZ);
	assert_segment(1, SEG1_GPA, SEG1_OFF, SEG1_FILESZ, SEG1_MEMSZ);
}

Test(multiboot_elf, entry_is_e_entry)
{
	cr_assert_eq(elf_segments(), 2);
	cr_assert_eq(entry, ELF_ENTRY);
}

Test(multiboot_elf, load_segment_of_memsz_0_is_skipped)
{
	set_phdr(2, PT_LOAD, SEG1_OFF, 0x10000, 0, 0);
	cr_assert_eq(elf_segments(), 1);
	assert_segment(0, SEG0_GPA, SEG0_OFF, SEG0_FILESZ, SEG0_MEMSZ);
}

Test(multiboot_elf, segment_ending_exactly_at_the_end_of_the_file_is_taken)
{
	set_phdr(2, PT_LOAD, SEG1_OFF, SEG1_GPA, IMG_LEN - SEG1_OFF, IMG_LEN - SEG1_OFF);
	cr_assert_eq(elf_segments(), 2);
	assert_segment(1, SEG1_GPA, SEG1_OFF, IMG_LEN - SEG1_OFF, IMG_LEN - SEG1_OFF);
}

Test(multiboot_elf, elf64_is_rejected_naming_elf64)
{
	img[EI_CLASS] = ELFCLASS64;
	cr_assert_eq(elf_segments(), -EINVAL);
	assert_why_mentions("ELF64");
}

Test(multiboot_elf, non_elf_without_the_kludge_is_rejected)
{
	memcpy(img, "MZ\0\0", 4);
	cr_assert_eq(elf_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_elf, big_endian_elf_is_rejected)
{
	img[EI_DATA] = ELFDATA2MSB;
	cr_assert_eq(elf_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_elf, non_x86_machine_is_rejected)
{
	Elf32_Ehdr eh = get_ehdr();

	eh.e_machine = EM_ARM;
	put_ehdr(&eh);
	cr_assert_eq(elf_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_elf, program_header_table_beyond_the_file_is_rejected)
{
	Elf32_Ehdr eh = get_ehdr();

	eh.e_phoff = IMG_LEN - sizeof(Elf32_Phdr);
	put_ehdr(&eh);
	cr_assert_eq(elf_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_elf, program_header_count_beyond_the_file_is_rejected)
{
	Elf32_Ehdr eh = get_ehdr();

	eh.e_phnum = 0xffff;
	put_ehdr(&eh);
	cr_assert_eq(elf_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_elf, program_header_offset_that_wraps_is_rejected)
{
	Elf32_Ehdr eh = get_ehdr();

	eh.e_phoff = 0xffffffe0u;
	put_ehdr(&eh);
	cr_assert_eq(elf_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_elf, program_header_entries_smaller_than_elf32_phdr_are_rejected)
{
	Elf32_Ehdr eh = get_ehdr();

	eh.e_phentsize = sizeof(Elf32_Phdr) - 4;
	put_ehdr(&eh);
	cr_assert_eq(elf_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_elf, image_shorter_than_an_elf_header_is_rejected)
{
	uint8_t *p = exact_copy(img, sizeof(Elf32_Ehdr) - 1);

	h = (struct multiboot_header){ .offset = 0, .flags = FLAGS };
	cr_assert_eq(multiboot_segments(p, sizeof(Elf32_Ehdr) - 1, &h, seg, &entry, &why), -EINVAL);
	cr_assert_not_null(why);
	free(p);
}

Test(multiboot_elf, segment_data_beyond_the_file_is_rejected)
{
	set_phdr(2, PT_LOAD, SEG1_OFF, SEG1_GPA, IMG_LEN - SEG1_OFF + 1, SEG1_MEMSZ);
	cr_assert_eq(elf_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_elf, segment_offset_that_wraps_is_rejected)
{
	set_phdr(2, PT_LOAD, 0xfffffff0u, SEG1_GPA, 0x20, SEG1_MEMSZ);
	cr_assert_eq(elf_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_elf, filesz_above_memsz_is_rejected)
{
	set_phdr(0, PT_LOAD, SEG0_OFF, SEG0_GPA, SEG0_FILESZ, SEG0_FILESZ - 1);
	cr_assert_eq(elf_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_elf, no_load_segment_is_rejected)
{
	Elf32_Phdr ph = get_phdr(0);

	ph.p_type = PT_NOTE;
	put_phdr(0, &ph);
	ph = get_phdr(2);
	ph.p_type = PT_DYNAMIC;
	put_phdr(2, &ph);
	cr_assert_eq(elf_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_elf, no_program_headers_is_rejected)
{
	Elf32_Ehdr eh = get_ehdr();

	eh.e_phnum = 0;
	put_ehdr(&eh);
	cr_assert_eq(elf_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_elf, sixteen_load_segments_are_taken)
{
	Elf32_Ehdr eh = get_ehdr();

	eh.e_phnum = MULTIBOOT_MAX_SEGMENTS;
	put_ehdr(&eh);
	for (int i = 0; i < MULTIBOOT_MAX_SEGMENTS; i++)
		set_phdr(i, PT_LOAD, SEG0_OFF, SEG0_GPA + (uint32_t)i * 0x1000, 0x10, 0x1000);
	cr_assert_eq(elf_segments(), MULTIBOOT_MAX_SEGMENTS);
	assert_segment(MULTIBOOT_MAX_SEGMENTS - 1, SEG0_GPA + (MULTIBOOT_MAX_SEGMENTS - 1) * 0x1000, SEG0_OFF,
		       0x10, 0x1000);
}

Test(multiboot_elf, more_than_sixteen_load_segments_are_rejected)
{
	Elf32_Ehdr eh = get_ehdr();

	/* The headers end at 52 + 17 * 32 = 596, before the Multiboot header. */
	eh.e_phnum = MULTIBOOT_MAX_SEGMENTS + 1;
	put_ehdr(&eh);
	for (int i = 0; i < MULTIBOOT_MAX_SEGMENTS + 1; i++)
		set_phdr(i, PT_LOAD, SEG0_OFF, SEG0_GPA + (uint32_t)i * 0x1000, 0x10, 0x1000);
	cr_assert_eq(elf_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_elf, kludge_flag_takes_the_header_addresses_over_the_elf_ones)
{
	/* Multiboot: with flag 16 the header's addresses count, even in an ELF file. */
	put_aout(img, MB_OFF, 0x300000 + MB_OFF, 0x300000, 0, 0, 0x300000 + MB_OFF + 32);
	cr_assert_eq(elf_segments(), 1);
	assert_segment(0, 0x300000, 0, IMG_LEN, IMG_LEN);
	cr_assert_eq(entry, 0x300000 + MB_OFF + 32);
}

/*
 * The a.out kludge: the header at file offset AOUT_OFF says it is at AOUT_HDR_ADDR, so the file
 * byte at AOUT_OFF - (AOUT_HDR_ADDR - AOUT_LOAD) goes to AOUT_LOAD.
 */

#define AOUT_OFF      0x1040
#define AOUT_LOAD     0x100000
#define AOUT_HDR_ADDR (AOUT_LOAD + 0x40)
#define AOUT_FILE_OFF (AOUT_OFF - (AOUT_HDR_ADDR - AOUT_LOAD))
#define AOUT_LOAD_END (AOUT_LOAD + 0x800)
#define AOUT_BSS_END  (AOUT_LOAD + 0x1000)
#define AOUT_ENTRY    (AOUT_HDR_ADDR + 0x20)

static void build_aout_with(uint32_t header_addr, uint32_t load_addr, uint32_t load_end, uint32_t bss_end)
{
	put_aout(img, AOUT_OFF, header_addr, load_addr, load_end, bss_end, AOUT_ENTRY);
	cr_assert_eq(multiboot_find_header(img, IMG_LEN, &h, &why), 0);
	cr_assert_eq(h.offset, AOUT_OFF);
}

static void build_aout(void)
{
	memset(img, FILLER, sizeof(img));
	for (size_t i = 0; i < AOUT_OFF - AOUT_FILE_OFF; i++)
		img[AOUT_FILE_OFF + i] = seg0_byte(i);
	memset(seg, 0, sizeof(seg));
	entry = 0;
	why = NULL;
	build_aout_with(AOUT_HDR_ADDR, AOUT_LOAD, AOUT_LOAD_END, AOUT_BSS_END);
}

static int aout_segments(void)
{
	return multiboot_segments(img, IMG_LEN, &h, seg, &entry, &why);
}

TestSuite(multiboot_aout, .init = build_aout);

Test(multiboot_aout, header_addresses_give_one_segment)
{
	cr_assert_eq(aout_segments(), 1);
	assert_segment(0, AOUT_LOAD, AOUT_FILE_OFF, AOUT_LOAD_END - AOUT_LOAD, AOUT_BSS_END - AOUT_LOAD);
}

Test(multiboot_aout, entry_is_the_header_entry_addr)
{
	cr_assert_eq(aout_segments(), 1);
	cr_assert_eq(entry, AOUT_ENTRY);
}

Test(multiboot_aout, header_at_load_addr_loads_from_the_header_itself)
{
	build_aout_with(AOUT_LOAD, AOUT_LOAD, AOUT_LOAD_END, AOUT_BSS_END);
	cr_assert_eq(aout_segments(), 1);
	assert_segment(0, AOUT_LOAD, AOUT_OFF, AOUT_LOAD_END - AOUT_LOAD, AOUT_BSS_END - AOUT_LOAD);
}

Test(multiboot_aout, load_end_0_means_to_the_end_of_the_file)
{
	build_aout_with(AOUT_HDR_ADDR, AOUT_LOAD, 0, 0);
	cr_assert_eq(aout_segments(), 1);
	assert_segment(0, AOUT_LOAD, AOUT_FILE_OFF, IMG_LEN - AOUT_FILE_OFF, IMG_LEN - AOUT_FILE_OFF);
}

Test(multiboot_aout, bss_end_0_means_no_bss)
{
	build_aout_with(AOUT_HDR_ADDR, AOUT_LOAD, AOUT_LOAD_END, 0);
	cr_assert_eq(aout_segments(), 1);
	assert_segment(0, AOUT_LOAD, AOUT_FILE_OFF, AOUT_LOAD_END - AOUT_LOAD, AOUT_LOAD_END - AOUT_LOAD);
}

Test(multiboot_aout, bss_end_equal_to_load_end_is_no_bss)
{
	build_aout_with(AOUT_HDR_ADDR, AOUT_LOAD, AOUT_LOAD_END, AOUT_LOAD_END);
	cr_assert_eq(aout_segments(), 1);
	assert_segment(0, AOUT_LOAD, AOUT_FILE_OFF, AOUT_LOAD_END - AOUT_LOAD, AOUT_LOAD_END - AOUT_LOAD);
}

Test(multiboot_aout, load_end_at_the_end_of_the_file_is_taken)
{
	build_aout_with(AOUT_HDR_ADDR, AOUT_LOAD, AOUT_LOAD + IMG_LEN - AOUT_FILE_OFF, 0);
	cr_assert_eq(aout_segments(), 1);
	assert_segment(0, AOUT_LOAD, AOUT_FILE_OFF, IMG_LEN - AOUT_FILE_OFF, IMG_LEN - AOUT_FILE_OFF);
}

Test(multiboot_aout, header_addr_below_load_addr_is_rejected)
{
	build_aout_with(AOUT_LOAD - 4, AOUT_LOAD, AOUT_LOAD_END, AOUT_BSS_END);
	cr_assert_eq(aout_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_aout, load_addr_before_the_start_of_the_file_is_rejected)
{
	/* The header would be 0x2000 bytes into the load, but it is only 0x1040 into the file. */
	build_aout_with(AOUT_LOAD + 0x2000, AOUT_LOAD, AOUT_LOAD + 0x2800, 0);
	cr_assert_eq(aout_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_aout, load_end_beyond_the_file_is_rejected)
{
	build_aout_with(AOUT_HDR_ADDR, AOUT_LOAD, AOUT_LOAD + IMG_LEN - AOUT_FILE_OFF + 1, 0);
	cr_assert_eq(aout_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_aout, load_end_at_or_below_load_addr_is_rejected)
{
	build_aout_with(AOUT_HDR_ADDR, AOUT_LOAD, AOUT_LOAD, 0);
	cr_assert_eq(aout_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_aout, bss_end_below_load_end_is_rejected)
{
	build_aout_with(AOUT_HDR_ADDR, AOUT_LOAD, AOUT_LOAD_END, AOUT_LOAD_END - 4);
	cr_assert_eq(aout_segments(), -EINVAL);
	cr_assert_not_null(why);
}

Test(multiboot_aout, bss_end_below_the_end_of_the_whole_file_is_rejected)
{
	/* load_end 0 loads to the end of the file: a bss end inside that is inconsistent. */
	build_aout_with(AOUT_HDR_ADDR, AOUT_LOAD, 0, AOUT_LOAD + 0x100);
	cr_assert_eq(aout_segments(), -EINVAL);
	cr_assert_not_null(why);
}

/*
 * multiboot_load: the ELF kernel above into 64 MiB of guest RAM, with a module and a command line.
 */

#define RAM_SIZE	(64 * MIB)
#define HOLE_START	0xc0000000ULL
#define MOD_LEN		5000
#define INFO_FLAGS	0
#define INFO_MEM_LOWER	4
#define INFO_MEM_UPPER	8
#define INFO_CMDLINE	16
#define INFO_MODS_COUNT 20
#define INFO_MODS_ADDR	24
#define INFO_MMAP_LEN	44
#define INFO_MMAP_ADDR	48
#define INFO_LOADER	64
#define EBDA_START	0x9fc00ULL
#define BIOS_AREA	0xe0000ULL

static struct gmem m;
static struct multiboot_args args;
static struct multiboot_entry out;
static struct e820_entry e820[E820_MAX_ENTRIES];
static char mod_path[] = "/tmp/kvmini-test-module.XXXXXX";
static uint8_t mod_bytes[MOD_LEN];

static void write_module(size_t len)
{
	int fd = mkstemp(mod_path);

	cr_assert_geq(fd, 0, "mkstemp %s", mod_path);
	for (size_t i = 0; i < MOD_LEN; i++)
		mod_bytes[i] = (uint8_t)(i * 31 + 3);
	cr_assert_eq(write(fd, mod_bytes, MOD_LEN), MOD_LEN);
	if (len > MOD_LEN)
		cr_assert_eq(ftruncate(fd, (off_t)len), 0);
	close(fd);
}

static void setup_load(void)
{
	int nr;

	build_elf();
	cr_assert_eq(gmem_create(&m, 0, RAM_SIZE, HOLE_START), 0);
	nr = e820_build(RAM_SIZE, e820, E820_MAX_ENTRIES);
	cr_assert_gt(nr, 0);
	write_module(MOD_LEN);
	args = (struct multiboot_args){ .kernel_path = "k",
					.image = img,
					.image_len = IMG_LEN,
					.module_path = mod_path,
					.cmdline = "a=1 b",
					.e820 = e820,
					.e820_nr = nr };
	memset(&out, 0x5a, sizeof(out));
}

static void teardown_load(void)
{
	unlink(mod_path);
	gmem_destroy(&m);
}

TestSuite(multiboot_load, .init = setup_load, .fini = teardown_load);

static const uint8_t *guest(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gmem_ptr(&m, gpa, len);

	cr_assert_not_null(p, "[0x%llx, +0x%llx) is not guest RAM", (unsigned long long)gpa,
			   (unsigned long long)len);
	return p;
}

static uint32_t guest32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, guest(gpa, 4), 4);
	return v;
}

static uint64_t guest64(uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, guest(gpa, 8), 8);
	return v;
}

static const char *guest_str(uint64_t gpa)
{
	const char *s = (const char *)guest(gpa, 1);

	cr_assert_not_null(gmem_ptr(&m, gpa, strnlen(s, 4096) + 1), "string at 0x%llx runs off RAM",
			   (unsigned long long)gpa);
	return s;
}

static uint32_t info32(uint32_t field)
{
	return guest32((uint64_t)out.ebx + field);
}

static void load_ok(void)
{
	cr_assert_eq(multiboot_load(&m, &args, &out), 1);
}

static void assert_all_zero(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = guest(gpa, len);

	for (uint64_t i = 0; i < len; i++)
		cr_assert_eq(p[i], 0, "guest byte 0x%llx is 0x%02x, want 0", (unsigned long long)(gpa + i),
			     p[i]);
}

static int ram_is_untouched(void)
{
	static const uint8_t zero[64 * KIB];

	for (uint64_t off = 0; off < RAM_SIZE; off += sizeof(zero))
		if (memcmp(m.base + off, zero, sizeof(zero)) != 0)
			return 0;
	return 1;
}

Test(multiboot_load, returns_1_with_the_entry_point_in_eip)
{
	load_ok();
	cr_assert_eq(out.eip, ELF_ENTRY);
}

Test(multiboot_load, ebx_is_the_information_structure_below_the_kernel)
{
	load_ok();
	cr_assert_not_null(gmem_ptr(&m, out.ebx, 0x58), "ebx 0x%x: no 88-byte structure there", out.ebx);
	cr_assert_lt(out.ebx, SEG0_GPA);
}

Test(multiboot_load, info_flags_say_mem_cmdline_mods_mmap_and_loader_name)
{
	const uint32_t want = 1u << 0 | 1u << 2 | 1u << 3 | 1u << 6 | 1u << 9;

	load_ok();
	cr_assert_eq(info32(INFO_FLAGS) & want, want, "flags 0x%x lack some of 0x%x", info32(INFO_FLAGS),
		     want);
}

Test(multiboot_load, info_flags_do_not_claim_what_is_not_filled_in)
{
	/* boot_device, a.out/ELF symbols, drives, config table, APM, VBE, framebuffer. */
	const uint32_t absent =
		1u << 1 | 1u << 4 | 1u << 5 | 1u << 7 | 1u << 8 | 1u << 10 | 1u << 11 | 1u << 12;

	load_ok();
	cr_assert_eq(info32(INFO_FLAGS) & absent, 0, "flags 0x%x", info32(INFO_FLAGS));
}

Test(multiboot_load, mem_lower_is_639_kib)
{
	load_ok();
	cr_assert_eq(info32(INFO_MEM_LOWER), 639);
}

Test(multiboot_load, mem_upper_is_the_ram_above_1_mib_in_kib)
{
	load_ok();
	cr_assert_eq(info32(INFO_MEM_UPPER), (RAM_SIZE - MIB) / 1024);
}

Test(multiboot_load, cmdline_is_the_kernel_path_then_the_arguments)
{
	load_ok();
	cr_assert_str_eq(guest_str(info32(INFO_CMDLINE)), "k a=1 b");
}

Test(multiboot_load, cmdline_without_arguments_is_the_kernel_path)
{
	args.cmdline = NULL;
	load_ok();
	cr_assert_str_eq(guest_str(info32(INFO_CMDLINE)), "k");
}

Test(multiboot_load, cmdline_of_more_than_64_kib_is_rejected)
{
	static char longline[70 * KIB];

	memset(longline, 'x', sizeof(longline) - 1);
	args.cmdline = longline;
	cr_assert_lt(multiboot_load(&m, &args, &out), 0);
}

Test(multiboot_load, one_module_is_listed)
{
	load_ok();
	cr_assert_eq(info32(INFO_MODS_COUNT), 1);
	cr_assert_not_null(gmem_ptr(&m, info32(INFO_MODS_ADDR), 16));
}

Test(multiboot_load, module_starts_page_aligned_above_the_kernel)
{
	uint32_t start;

	load_ok();
	start = guest32(info32(INFO_MODS_ADDR));
	cr_assert_eq(start % 4096, 0, "mod_start 0x%x", start);
	cr_assert_geq(start, KERNEL_END, "mod_start 0x%x is inside the kernel (ends 0x%x)", start,
		      KERNEL_END);
}

Test(multiboot_load, module_holds_the_file_bytes_and_ends_at_start_plus_size)
{
	uint32_t mods, start;

	load_ok();
	mods = info32(INFO_MODS_ADDR);
	start = guest32(mods);
	cr_assert_eq(guest32(mods + 4), start + MOD_LEN);
	cr_assert_eq(memcmp(guest(start, MOD_LEN), mod_bytes, MOD_LEN), 0);
}

Test(multiboot_load, module_string_is_its_path)
{
	uint32_t mods;

	load_ok();
	mods = info32(INFO_MODS_ADDR);
	cr_assert_str_eq(guest_str(guest32(mods + 8)), mod_path);
	cr_assert_eq(guest32(mods + 12), 0, "the reserved word");
}

Test(multiboot_load, no_module_gives_mods_count_0)
{
	args.module_path = NULL;
	load_ok();
	cr_assert_eq(info32(INFO_MODS_COUNT), 0);
}

Test(multiboot_load, missing_module_file_is_rejected)
{
	args.module_path = "/nonexistent/kvmini-module";
	cr_assert_eq(multiboot_load(&m, &args, &out), -EINVAL);
}

Test(multiboot_load, module_larger_than_ram_is_rejected)
{
	unlink(mod_path);
	strcpy(mod_path, "/tmp/kvmini-test-module.XXXXXX");
	write_module(RAM_SIZE + MIB); /* sparse: costs no disk */
	cr_assert_eq(multiboot_load(&m, &args, &out), -EINVAL);
}

Test(multiboot_load, module_after_a_low_kernel_stays_out_of_the_ebda_and_bios_area)
{
	/*
	 * A kernel may load below 640 KiB; its module, page-aligned after it, must then not run over
	 * [EBDA, 1 MiB), which the E820 map reports reserved and where the ACPI tables already are.
	 */
	Elf32_Ehdr eh = get_ehdr();
	uint32_t mods, start, end;

	set_phdr(0, PT_LOAD, SEG0_OFF, 0x40000, SEG0_FILESZ, SEG0_MEMSZ);
	set_phdr(2, PT_NOTE, SEG1_OFF, SEG1_GPA, SEG1_FILESZ, SEG1_MEMSZ);
	eh.e_entry = 0x40010;
	put_ehdr(&eh);
	unlink(mod_path);
	strcpy(mod_path, "/tmp/kvmini-test-module.XXXXXX");
	write_module(MIB);
	memcpy(gmem_ptr(&m, BIOS_AREA, 8), "RSD PTR ", 8);
	load_ok();
	mods = info32(INFO_MODS_ADDR);
	start = guest32(mods);
	end = guest32(mods + 4);
	cr_assert(end <= EBDA_START || start >= MIB, "module [0x%x, 0x%x) overlaps [0x9fc00, 1 MiB)", start,
		  end);
	cr_assert_eq(memcmp(guest(BIOS_AREA, 8), "RSD PTR ", 8), 0, "the module overwrote the ACPI tables");
}

Test(multiboot_load, mmap_entries_are_the_e820_map)
{
	uint32_t len, addr;

	load_ok();
	len = info32(INFO_MMAP_LEN);
	addr = info32(INFO_MMAP_ADDR);
	cr_assert_eq(len, (uint32_t)args.e820_nr * 24);
	for (int i = 0; i < args.e820_nr; i++) {
		uint64_t e = (uint64_t)addr + (uint64_t)i * 24;

		cr_assert_eq(guest32(e), 20, "entry %d: size field", i);
		cr_assert_eq(guest64(e + 4), e820[i].addr, "entry %d: base", i);
		cr_assert_eq(guest64(e + 12), e820[i].size, "entry %d: length", i);
		cr_assert_eq(guest32(e + 20), e820[i].type, "entry %d: type", i);
	}
}

Test(multiboot_load, mmap_longer_than_its_page_is_cut_to_what_fits)
{
	static struct e820_entry many[200];
	uint32_t len;

	for (int i = 0; i < 200; i++)
		many[i] = (struct e820_entry){ .addr = (uint64_t)i << 20, .size = MIB, .type = 1 };
	args.e820 = many;
	args.e820_nr = 200;
	load_ok();
	len = info32(INFO_MMAP_LEN);
	cr_assert_gt(len, 0);
	cr_assert_lt(len, 200 * 24);
	cr_assert_eq(len % 24, 0);
	cr_assert_not_null(gmem_ptr(&m, info32(INFO_MMAP_ADDR), len));
	cr_assert_eq(guest64(info32(INFO_MMAP_ADDR) + len - 24 + 4), (uint64_t)(len / 24 - 1) << 20);
}

Test(multiboot_load, segments_hold_the_file_bytes)
{
	const uint8_t *p, *q;

	load_ok();
	p = guest(SEG0_GPA, SEG0_FILESZ);
	q = guest(SEG1_GPA, SEG1_FILESZ);
	for (size_t i = 0; i < SEG0_FILESZ; i++)
		cr_assert_eq(p[i], seg0_byte(i), "segment 0 byte 0x%zx", i);
	for (size_t i = 0; i < SEG1_FILESZ; i++)
		cr_assert_eq(q[i], seg1_byte(i), "segment 1 byte 0x%zx", i);
}

Test(multiboot_load, bss_is_zeroed)
{
	/* RAM the kernel's bss covers is dirty beforehand, as after a reboot; the file's filler is 0xee. */
	memset(gmem_ptr(&m, SEG0_GPA, SEG0_MEMSZ), 0xaa, SEG0_MEMSZ);
	memset(gmem_ptr(&m, SEG1_GPA, SEG1_MEMSZ), 0xaa, SEG1_MEMSZ);
	load_ok();
	assert_all_zero(SEG0_GPA + SEG0_FILESZ, SEG0_MEMSZ - SEG0_FILESZ);
	assert_all_zero(SEG1_GPA + SEG1_FILESZ, SEG1_MEMSZ - SEG1_FILESZ);
}

Test(multiboot_load, note_segment_is_not_loaded)
{
	load_ok();
	assert_all_zero(0x10000, 0x10);
}

Test(multiboot_load, loader_name_is_kvmini)
{
	load_ok();
	cr_assert_str_eq(guest_str(info32(INFO_LOADER)), "kvmini");
}

Test(multiboot_load, aout_kludge_image_loads_its_bytes_at_load_addr)
{
	build_aout();
	load_ok();
	cr_assert_eq(out.eip, AOUT_ENTRY);
	cr_assert_eq(memcmp(guest(AOUT_LOAD, AOUT_LOAD_END - AOUT_LOAD), img + AOUT_FILE_OFF,
			    AOUT_LOAD_END - AOUT_LOAD),
		     0);
	assert_all_zero(AOUT_LOAD_END, AOUT_BSS_END - AOUT_LOAD_END);
}

Test(multiboot_load, non_multiboot_image_returns_0_and_changes_nothing)
{
	struct multiboot_entry before;

	memset(img + MB_OFF, 0, 12);
	memcpy(&before, &out, sizeof(out));
	cr_assert_eq(multiboot_load(&m, &args, &out), 0);
	cr_assert_eq(memcmp(&before, &out, sizeof(out)), 0, "out changed");
	cr_assert(ram_is_untouched(), "guest RAM changed");
}

Test(multiboot_load, unusable_header_is_an_error_not_a_non_multiboot_image)
{
	put_header(img, MB_OFF, FLAGS | (1u << 3));
	cr_assert_eq(multiboot_load(&m, &args, &out), -EINVAL);
}

Test(multiboot_load, malformed_elf_is_an_error)
{
	img[EI_CLASS] = ELFCLASS64;
	cr_assert_eq(multiboot_load(&m, &args, &out), -EINVAL);
}

Test(multiboot_load, segment_in_kvmini_own_low_memory_is_rejected)
{
	Elf32_Ehdr eh = get_ehdr();

	set_phdr(0, PT_LOAD, SEG0_OFF, 0x10000, SEG0_FILESZ, SEG0_MEMSZ);
	eh.e_entry = 0x10010;
	put_ehdr(&eh);
	cr_assert_eq(multiboot_load(&m, &args, &out), -EINVAL);
}

Test(multiboot_load, segment_over_the_ebda_is_rejected)
{
	set_phdr(2, PT_LOAD, SEG1_OFF, EBDA_START - 0x1000, SEG1_FILESZ, SEG1_MEMSZ);
	cr_assert_eq(multiboot_load(&m, &args, &out), -EINVAL);
}

Test(multiboot_load, segment_below_640_kib_is_loaded)
{
	set_phdr(2, PT_LOAD, SEG1_OFF, 0x40000, SEG1_FILESZ, SEG1_MEMSZ);
	load_ok();
	cr_assert_eq(*guest(0x40000, 1), seg1_byte(0));
}

Test(multiboot_load, segment_beyond_ram_is_rejected)
{
	set_phdr(2, PT_LOAD, SEG1_OFF, RAM_SIZE - 0x1000, SEG1_FILESZ, SEG1_MEMSZ);
	cr_assert_eq(multiboot_load(&m, &args, &out), -EINVAL);
}

Test(multiboot_load, entry_outside_every_segment_is_rejected)
{
	Elf32_Ehdr eh = get_ehdr();

	eh.e_entry = SEG0_GPA + SEG0_MEMSZ; /* one past the first segment's end, before the second */
	put_ehdr(&eh);
	cr_assert_eq(multiboot_load(&m, &args, &out), -EINVAL);
}

Test(multiboot_load, entry_in_the_second_segment_bss_is_accepted)
{
	Elf32_Ehdr eh = get_ehdr();

	eh.e_entry = KERNEL_END - 1;
	put_ehdr(&eh);
	load_ok();
	cr_assert_eq(out.eip, KERNEL_END - 1);
}
