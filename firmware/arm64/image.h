/* image.h: loading an arm64 Linux Image, or a gzip'd Image.gz, by the arm64 boot protocol. */
#ifndef KVMINI_FIRMWARE_ARM64_IMAGE_H
#define KVMINI_FIRMWARE_ARM64_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../devices/base/mem.h"

/* The Image header (Documentation/arch/arm64/booting.rst): 64 bytes, little-endian fields. */
#define ARM64_IMAGE_HDR_LEN	   64
#define ARM64_IMAGE_MAGIC	   0x644d5241 /* "ARM\x64" at offset 56 */
#define ARM64_IMAGE_FLAG_BE	   (1u << 0)  /* a big-endian kernel */
#define ARM64_IMAGE_FLAG_PHYS_BASE (1u << 3)  /* the 2 MiB base may be anywhere in RAM */
#define ARM64_OLD_TEXT_OFFSET	   0x80000    /* what a kernel before 3.17 (image_size 0) wants */

#define ARM64_KERNEL_ALIGN UINT64_C(0x200000) /* the kernel goes text_offset above a 2 MiB boundary */
#define ARM64_DTB_MAX	   UINT64_C(0x200000) /* the largest DTB a kernel maps: 2 MiB */

/* What the Image header says, validated. */
struct arm64_image {
	uint64_t text_offset; /* from the 2 MiB aligned base to the load address; 0x80000 for an old kernel */
	uint64_t
		image_size; /* bytes the kernel needs from its load address, bss included; 0: an old kernel */
	uint64_t flags;	    /* 0 for an old kernel, whose header has none */
	unsigned int page_kib; /* the kernel's page size (flags bits 1-2): 4, 16, 64, or 0 unspecified */
};

/*
 * arm64_image_parse: check that (img, len), uncompressed, is a little-endian arm64 Image whose header
 * kvmini can place, and fill (h). Returns 0, or -EINVAL with (*why) set to words that follow "kernel
 * FILE " in a message, starting "is" or "has" and ending with what to do ("is an x86 kernel (a
 * bzImage): kvmini for arm64 boots arm64 Images ...").
 */
int arm64_image_parse(const uint8_t *img, size_t len, struct arm64_image *h, const char **why);

/* Where guest RAM is, and what to load besides the kernel. */
struct boot_arm64_args {
	const char *kernel_path; /* names the kernel in messages */
	const char *initrd_path; /* NULL: no initrd */
	uint64_t ram_base;	 /* guest-physical start of RAM (2 MiB aligned, or rounded up to be) */
	uint64_t ram_size;	 /* bytes of RAM from ram_base: one range of the gmem, below 2^52 */
};

/*
 * Where the boot vCPU starts and where the rest went. The vCPU enters at (entry) with x0 = (dtb),
 * x1 = x2 = x3 = 0, the MMU off and interrupts masked (booting.rst section 4).
 */
struct boot_arm64 {
	uint64_t entry;	      /* the kernel's load address: its 2 MiB aligned base + text_offset */
	uint64_t dtb;	      /* x0: where the caller writes the DTB, ARM64_DTB_MAX bytes at most */
	uint64_t kernel_end;  /* entry + image_size (old kernel: entry + image_len): the kernel's */
	uint64_t image_len;   /* bytes of Image written at entry (after inflating) */
	uint64_t initrd;      /* the initrd's address, 0 without one */
	uint64_t initrd_size; /* its length in bytes, for /chosen's linux,initrd-end */
	struct arm64_image hdr;
	bool inflated; /* the kernel file was gzip data, or an EFI zboot image with a gzip payload */
};

/*
 * boot_arm64_load: load the kernel file's bytes (img, len) and the initrd (a) names into guest RAM
 * (m) at [a->ram_base, a->ram_base + a->ram_size), and say in (out) where the DTB goes. (img) is an
 * arm64 Image, an Image.gz (gzip: inflated by zlib straight into guest RAM, never past the RAM the
 * kernel may use), or an EFI zboot image with a gzip payload. Placement:
 *   - kernel: text_offset above the lowest 2 MiB boundary in RAM (as close to the start of RAM as
 *     possible, which flags bit 3 clear requires and kernels before 4.6 need);
 *   - DTB: a 2 MiB block of its own (the kernel maps it with 2 MiB blocks), the highest one in RAM
 *     that is within 512 MiB of the kernel's base (kernels before 4.2 need that), but always above
 *     image_size, so the kernel's room after its end is as large as RAM allows (old kernels need it);
 *   - initrd: 64 KiB aligned (it shares no page with anything at any page size), at the top of RAM
 *     above the DTB if it fits there, else just below the DTB; either way inside the 1 GiB aligned
 *     32 GiB window that holds the kernel, as booting.rst requires.
 * Writes into guest RAM only through gmem's bounds-checked accessors. Every refusal is logged as one
 * line naming the file and what to do. Returns 0, -EINVAL (not a bootable arm64 kernel, a corrupt or
 * truncated gzip stream, an initrd that cannot be read), -ENOMEM (the kernel or initrd does not fit
 * in --mem; a gzip stream that inflates past the RAM it may use, a gzip bomb included) or -errno.
 */
int boot_arm64_load(const struct gmem *m, const struct boot_arm64_args *a, const uint8_t *img, size_t len,
		    struct boot_arm64 *out);

#endif
