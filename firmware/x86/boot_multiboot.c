/* boot_multiboot.c: loading a Multiboot (v1) kernel: ELF32 or the a.out kludge, info block, modules. */
#include "boot_multiboot.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"
#include "../../vmm/file.h"
#include "../../devices/base/log.h"

#define FLAGS_UNDERSTOOD    0x00000007u /* page-aligned modules, memory info, video (text only) */
#define FLAGS_REQUIRED_MASK 0x0000ffffu /* a loader must refuse required bits it lacks */
#define FLAG_VIDEO	    (1u << 2)
#define INFO_MEM	    (1u << 0)
#define INFO_CMDLINE	    (1u << 2)
#define INFO_MODS	    (1u << 3)
#define INFO_MMAP	    (1u << 6)
#define INFO_LOADER_NAME    (1u << 9)
/* The information structure and what it points to share the zero page's slot and the command line's. */
#define INFO_ADDR	 GUEST_ZERO_PAGE_ADDR
#define INFO_MODS_ADDR	 (GUEST_ZERO_PAGE_ADDR + 0x80)
#define INFO_MMAP_ADDR	 (GUEST_ZERO_PAGE_ADDR + 0x100)
#define INFO_MMAP_MAX	 ((0x1000 - 0x100) / 24)
#define INFO_SIZE	 0x58
#define RESERVED_LOW_END (GUEST_CMDLINE_ADDR + GUEST_CMDLINE_MAX) /* kvmini's structures below */
#define PAGE_MASK	 UINT64_C(0xfff)

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

int multiboot_find_header(const uint8_t *img, size_t len, struct multiboot_header *h, const char **why)
{
	size_t end = len < MULTIBOOT_SEARCH ? len : MULTIBOOT_SEARCH;

	for (size_t off = 0; off + 12 <= end; off += 4) {
		const uint8_t *p = img + off;

		if (get32(p) != MULTIBOOT_MAGIC || get32(p) + get32(p + 4) + get32(p + 8) != 0)
			continue;
		memset(h, 0, sizeof(*h));
		h->offset = off;
		h->flags = get32(p + 4);
		if (h->flags & FLAGS_REQUIRED_MASK & ~FLAGS_UNDERSTOOD) {
			*why = "has a Multiboot header that requires features kvmini lacks (flags 3-15)";
			return -EINVAL;
		}
		if (!(h->flags & MULTIBOOT_AOUT_KLUDGE))
			return 0;
		if (off + 32 > len) {
			*why = "has a Multiboot header cut short before its address fields";
			return -EINVAL;
		}
		h->header_addr = get32(p + 12);
		h->load_addr = get32(p + 16);
		h->load_end_addr = get32(p + 20);
		h->bss_end_addr = get32(p + 24);
		h->entry_addr = get32(p + 28);
		return 0;
	}
	return -ENOENT;
}

/* The a.out kludge: the header says where the file's bytes from load_addr's offset go. */
static int aout_segment(size_t len, const struct multiboot_header *h, struct multiboot_segment *seg,
			uint32_t *entry, const char **why)
{
	uint64_t before = (uint64_t)h->header_addr - h->load_addr;

	*why = "has inconsistent Multiboot a.out-kludge addresses";
	if (h->header_addr < h->load_addr || before > h->offset)
		return -EINVAL;
	seg->gpa = h->load_addr;
	seg->file_offset = h->offset - before;
	seg->file_size =
		h->load_end_addr ? (uint64_t)h->load_end_addr - h->load_addr : len - seg->file_offset;
	if (h->load_end_addr && h->load_end_addr <= h->load_addr)
		return -EINVAL;
	if (seg->file_offset + seg->file_size > len)
		return -EINVAL;
	seg->mem_size = seg->file_size;
	if (h->bss_end_addr) {
		if ((uint64_t)h->bss_end_addr < seg->gpa + seg->file_size)
			return -EINVAL;
		seg->mem_size = (uint64_t)h->bss_end_addr - h->load_addr;
	}
	*entry = h->entry_addr;
	return 1;
}

static int elf_check(const uint8_t *img, size_t len, Elf32_Ehdr *eh, const char **why)
{
	if (len < sizeof(*eh) || memcmp(img, ELFMAG, SELFMAG) != 0) {
		*why = "has a Multiboot header but is not ELF: set the a.out kludge (flag 16) in the header";
		return -EINVAL;
	}
	if (img[EI_CLASS] != ELFCLASS32) {
		*why = "is ELF64: Multiboot v1 loads ELF32 images, or any with the a.out kludge (flag 16)";
		return -EINVAL;
	}
	memcpy(eh, img, sizeof(*eh));
	if (img[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_386 || eh->e_phentsize < sizeof(Elf32_Phdr) ||
	    (uint64_t)eh->e_phoff + (uint64_t)eh->e_phnum * eh->e_phentsize > len) {
		*why = "is not a well-formed little-endian x86 ELF32 file (machine or program headers)";
		return -EINVAL;
	}
	return 0;
}

static int elf_segments(const uint8_t *img, size_t len, struct multiboot_segment *seg, uint32_t *entry,
			const char **why)
{
	Elf32_Ehdr eh;
	int n = 0, ret = elf_check(img, len, &eh, why);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf32_Phdr ph;

		memcpy(&ph, img + eh.e_phoff + (size_t)i * eh.e_phentsize, sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if ((uint64_t)ph.p_offset + ph.p_filesz > len || ph.p_filesz > ph.p_memsz) {
			*why = "has an ELF program header that points outside the file";
			return -EINVAL;
		}
		if (n == MULTIBOOT_MAX_SEGMENTS) {
			*why = "has more loadable ELF segments than kvmini takes (16)";
			return -EINVAL;
		}
		/* Physical addresses: paging is off at entry. */
		seg[n++] = (struct multiboot_segment){ .gpa = ph.p_paddr,
						       .file_offset = ph.p_offset,
						       .file_size = ph.p_filesz,
						       .mem_size = ph.p_memsz };
	}
	if (n == 0) {
		*why = "has no loadable ELF segment";
		return -EINVAL;
	}
	*entry = eh.e_entry;
	return n;
}

int multiboot_segments(const uint8_t *img, size_t len, const struct multiboot_header *h,
		       struct multiboot_segment *seg, uint32_t *entry, const char **why)
{
	if (h->flags & MULTIBOOT_AOUT_KLUDGE)
		return aout_segment(len, h, seg, entry, why);
	return elf_segments(img, len, seg, entry, why);
}

/* A segment may go anywhere in RAM that kvmini does not use itself. */
static bool segment_fits(const struct gmem *m, const struct multiboot_segment *s)
{
	uint64_t end = s->gpa + s->mem_size;

	if (s->gpa < RESERVED_LOW_END || !gmem_ptr(m, s->gpa, s->mem_size))
		return false;
	return end <= GUEST_EBDA_START || s->gpa >= GUEST_HIGH_RAM_START;
}

static int copy_segments(struct gmem *m, const char *path, const uint8_t *img,
			 const struct multiboot_segment *seg, int n, uint32_t entry, uint64_t *image_end)
{
	bool entry_loaded = false;

	*image_end = 0;
	for (int i = 0; i < n; i++) {
		const struct multiboot_segment *s = &seg[i];

		if (!segment_fits(m, s)) {
			log_err("kernel %s wants [0x%" PRIx64 ", 0x%" PRIx64 "), which is not free guest RAM "
				"(kvmini keeps [0, 0x%llx) and [0x9fc00, 1 MiB) for itself): link it at 1 MiB "
				"or above, or give more --mem",
				path, s->gpa, s->gpa + s->mem_size, (unsigned long long)RESERVED_LOW_END);
			return -EINVAL;
		}
		/* segment_fits() checked the range: these cannot fail, and are checked all the same. */
		if (gmem_write(m, s->gpa, img + s->file_offset, s->file_size) < 0 ||
		    gmem_zero(m, s->gpa + s->file_size, s->mem_size - s->file_size) < 0)
			return -EFAULT;
		if (s->gpa + s->mem_size > *image_end)
			*image_end = s->gpa + s->mem_size;
		if (entry >= s->gpa && entry < s->gpa + s->mem_size)
			entry_loaded = true;
	}
	if (!entry_loaded) {
		log_err("kernel %s: its entry point 0x%x lies outside what it loads", path, entry);
		return -EINVAL;
	}
	return 0;
}

/* Loads the module page-aligned above the image; fills its 16-byte entry at (mod). */
static int load_module(struct gmem *m, const char *path, uint64_t image_end, uint32_t string_gpa,
		       uint8_t *mod)
{
	uint64_t start = (image_end + PAGE_MASK) & ~PAGE_MASK, size = 0;
	int fd = file_open_sized(path, UINT32_MAX, &size), ret = -EINVAL;

	if (fd < 0) {
		log_err("module %s: %s", path, file_strerror(fd));
		return -EINVAL;
	}
	/* After a kernel below 640 KiB: skip the EBDA and BIOS area, reserved and holding ACPI. */
	if (start < GUEST_HIGH_RAM_START && start + size > GUEST_EBDA_START)
		start = GUEST_HIGH_RAM_START;
	if (start + size > m->regions[0].size || !gmem_ptr(m, start, size))
		log_err("module %s (%" PRIu64
			" KiB) does not fit in guest RAM after the kernel: give more --mem",
			path, size >> 10);
	else if ((ret = file_read_guest(fd, m, start, size)) < 0)
		log_err("module %s: %s", path, file_strerror(ret));
	close(fd);
	if (ret < 0)
		return -EINVAL;
	put32(mod, (uint32_t)start);
	put32(mod + 4, (uint32_t)(start + size));
	put32(mod + 8, string_gpa);
	put32(mod + 12, 0);
	return 0;
}

/* Strings for the information structure, in the command-line area: returns the next free address. */
static int put_string(struct gmem *m, uint64_t *at, const char *a, const char *b, uint32_t *gpa)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0, len = la + (lb ? 1 + lb : 0);

	if (*at + len + 1 > GUEST_CMDLINE_ADDR + GUEST_CMDLINE_MAX) {
		log_err("the Multiboot command line and module names exceed %llu KiB: shorten --cmdline",
			(unsigned long long)GUEST_CMDLINE_MAX >> 10);
		return -E2BIG;
	}
	/* "a", or "a b", then the NUL: the area is RAM (the check above), each copy is checked all the same. */
	if (gmem_write(m, *at, a, la) < 0 || (lb && gmem_write(m, *at + la, " ", 1) < 0) ||
	    (lb && gmem_write(m, *at + la + 1, b, lb) < 0) || gmem_write(m, *at + len, "", 1) < 0)
		return -EFAULT;
	*gpa = (uint32_t)*at;
	*at += len + 1;
	return 0;
}

static int put_mmap(struct gmem *m, uint8_t *info, const struct e820_entry *e820, int nr)
{
	uint8_t map[INFO_MMAP_MAX * 24], *p = map;

	if (nr > (int)INFO_MMAP_MAX)
		nr = INFO_MMAP_MAX;
	for (int i = 0; i < nr; i++, p += 24) {
		put32(p, 20); /* size of the rest of the entry */
		memcpy(p + 4, &e820[i].addr, 8);
		memcpy(p + 12, &e820[i].size, 8);
		put32(p + 20, e820[i].type); /* E820 and Multiboot number the types alike */
	}
	put32(info + 44, (uint32_t)nr * 24);
	put32(info + 48, INFO_MMAP_ADDR);
	return gmem_write(m, INFO_MMAP_ADDR, map, (uint64_t)nr * 24);
}

static int write_info(struct gmem *m, const struct multiboot_args *a, uint64_t image_end)
{
	uint8_t info[INFO_SIZE] = { 0 }, mod[16] = { 0 };
	uint64_t at = GUEST_CMDLINE_ADDR;
	uint32_t cmdline, modname = 0, loader;
	int ret;

	/* As GRUB and QEMU pass it: the image's path, then the arguments. */
	ret = put_string(m, &at, a->kernel_path, a->cmdline, &cmdline);
	if (!ret && a->module_path)
		ret = put_string(m, &at, a->module_path, NULL, &modname);
	if (!ret)
		ret = put_string(m, &at, "kvmini", NULL, &loader);
	if (!ret && a->module_path)
		ret = load_module(m, a->module_path, image_end, modname, mod);
	if (!ret)
		ret = gmem_write(m, INFO_MODS_ADDR, mod, sizeof(mod));
	if (ret)
		return ret;
	put32(info, INFO_MEM | INFO_CMDLINE | INFO_MODS | INFO_MMAP | INFO_LOADER_NAME);
	put32(info + 4, GUEST_EBDA_START >> 10);					/* mem_lower, KiB */
	put32(info + 8, (uint32_t)((m->regions[0].size - GUEST_HIGH_RAM_START) >> 10)); /* mem_upper */
	put32(info + 16, cmdline);
	put32(info + 20, a->module_path ? 1 : 0);
	put32(info + 24, INFO_MODS_ADDR);
	put32(info + 64, loader);
	ret = put_mmap(m, info, a->e820, a->e820_nr);
	return ret ? ret : gmem_write(m, INFO_ADDR, info, sizeof(info));
}

int multiboot_load(struct gmem *m, const struct multiboot_args *a, struct multiboot_entry *out)
{
	struct multiboot_segment seg[MULTIBOOT_MAX_SEGMENTS];
	struct multiboot_header h;
	uint64_t image_end = 0;
	const char *why = NULL;
	uint32_t entry = 0;
	int n, ret = multiboot_find_header(a->image, a->image_len, &h, &why);

	if (ret == -ENOENT)
		return 0;
	n = ret ? ret : multiboot_segments(a->image, a->image_len, &h, seg, &entry, &why);
	if (n < 0) {
		log_err("kernel %s %s", a->kernel_path, why);
		return n;
	}
	ret = copy_segments(m, a->kernel_path, a->image, seg, n, entry, &image_end);
	if (ret)
		return ret;
	if (h.flags & FLAG_VIDEO)
		log_warn("kernel %s asks for a video mode: kvmini has no display, it gets none",
			 a->kernel_path);
	ret = write_info(m, a, image_end);
	if (ret)
		return ret;
	out->eip = entry;
	out->ebx = INFO_ADDR;
	return 1;
}
