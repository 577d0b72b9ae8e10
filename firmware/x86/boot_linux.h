/* boot_linux.h: loading a Linux bzImage by the x86 boot protocol's 64-bit entry. */
#ifndef KVMINI_BOOT_LINUX_H
#define KVMINI_BOOT_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "e820.h"
#include "../../devices/base/mem.h"

#define BZIMAGE_MIN_VERSION 0x020c /* 2.12: xloadflags, the 64-bit entry's flag */

/* What the setup header says, validated. */
struct bzimage {
	uint16_t version;
	size_t setup_len;  /* real-mode part: (setup_sects + 1) * 512 bytes */
	size_t kernel_len; /* protected-mode part, the rest of the file */
	size_t hdr_len;	   /* bytes of setup header from 0x1f1 */
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	int relocatable;
	uint32_t cmdline_size; /* longest command line, without its NUL */
	uint64_t pref_address;
	uint32_t init_size; /* memory the kernel needs from its load address to decompress */
};

/*
 * bzimage_parse: check that (img, len) is a bzImage kvmini can boot and fill (bz). Returns 0,
 * or -EINVAL with (*why) set to a sentence saying what is wrong and what to do.
 */
int bzimage_parse(const uint8_t *img, size_t len, struct bzimage *bz, const char **why);

struct boot_linux_args {
	const char *kernel_path; /* for messages */
	const uint8_t *image;	 /* the bzImage's bytes */
	size_t image_len;
	const char *initrd_path; /* NULL: none */
	const char *cmdline;
	const struct e820_entry *e820;
	int e820_nr;
	uint64_t rsdp_gpa;
};

/* Where the vCPU starts. */
struct boot_linux_entry {
	uint64_t rip;
	uint64_t zero_page;
};

/*
 * boot_linux_load: load the kernel, initrd and command line of (a) into (m) and build the zero
 * page. Errors are logged as one line naming the file and the fix. Returns 0 or -errno.
 */
int boot_linux_load(struct gmem *m, const struct boot_linux_args *a, struct boot_linux_entry *out);

#endif
