/* boot_multiboot.h: loading a Multiboot (v1) kernel: ELF32 or the a.out kludge, info block, modules. */
#ifndef KVMINI_BOOT_MULTIBOOT_H
#define KVMINI_BOOT_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "e820.h"
#include "../../devices/base/mem.h"

#define MULTIBOOT_MAGIC	      0x1badb002u /* in the image's header */
#define MULTIBOOT_BOOT_MAGIC  0x2badb002u /* in EAX at entry */
#define MULTIBOOT_SEARCH      8192	  /* the header is in the first 8 KiB, 4-byte aligned */
#define MULTIBOOT_AOUT_KLUDGE (1u << 16)

/* The image's Multiboot header, validated. */
struct multiboot_header {
	size_t offset; /* where it is in the file */
	uint32_t flags;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

/*
 * multiboot_find_header: look for a valid Multiboot header in (img, len). Returns 0 and fills (h),
 * -ENOENT when there is none, or -EINVAL with (*why) when one is there but unusable.
 */
int multiboot_find_header(const uint8_t *img, size_t len, struct multiboot_header *h, const char **why);

/* One piece of the image to copy into guest RAM: [gpa, gpa + mem_size), file bytes then zeros. */
struct multiboot_segment {
	uint64_t gpa;
	uint64_t file_offset;
	uint64_t file_size;
	uint64_t mem_size;
};

#define MULTIBOOT_MAX_SEGMENTS 16

/*
 * multiboot_segments: where (img, len) with header (h) wants its bytes: the a.out kludge's
 * addresses when flag 16 is set, else the ELF32 program headers. Fills at most
 * MULTIBOOT_MAX_SEGMENTS in (seg) and the entry point. Returns the count, or -EINVAL with (*why).
 */
int multiboot_segments(const uint8_t *img, size_t len, const struct multiboot_header *h,
		       struct multiboot_segment *seg, uint32_t *entry, const char **why);

struct multiboot_args {
	const char *kernel_path; /* for messages, and the command line's first word */
	const uint8_t *image;	 /* the kernel file's bytes */
	size_t image_len;
	const char *module_path; /* --initrd: module 0, or NULL */
	const char *cmdline;	 /* the arguments; the image path goes first */
	const struct e820_entry *e820;
	int e820_nr;
};

struct multiboot_entry {
	uint32_t eip;
	uint32_t ebx; /* the Multiboot information structure */
};

/*
 * multiboot_load: if (a)'s image is a Multiboot kernel, load it, its module and its information
 * structure into (m) and return 1; return 0 when it is not one (nothing done); errors are logged
 * as one line naming the file and the fix, and return -errno.
 */
int multiboot_load(struct gmem *m, const struct multiboot_args *a, struct multiboot_entry *out);

#endif
