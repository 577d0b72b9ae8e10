/* boot_params.h: the Linux x86 "zero page" that a 64-bit boot loader hands the kernel. */
#ifndef KVMINI_BOOT_PARAMS_H
#define KVMINI_BOOT_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "e820.h"

#define BOOT_PARAMS_SIZE 4096
/* Offsets in struct boot_params (Documentation/arch/x86/zero-page.rst, boot.rst) */
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_E820_ENTRIES	  0x1e8
#define BP_SETUP_HDR	  0x1f1 /* the setup header, copied from the bzImage */
#define BP_SETUP_HDR_END  0x290
#define BP_E820_TABLE	  0x2d0
#define BP_E820_MAX	  128
/* Setup-header fields, at the same offsets in the image and in the zero page */
#define HDR_SETUP_SECTS	     0x1f1
#define HDR_SYSSIZE	     0x1f4
#define HDR_BOOT_FLAG	     0x1fe
#define HDR_JUMP	     0x200
#define HDR_MAGIC	     0x202
#define HDR_VERSION	     0x206
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS	     0x211
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_ADDR_MAX  0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE	     0x234
#define HDR_XLOADFLAGS	     0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_PREF_ADDRESS     0x258
#define HDR_INIT_SIZE	     0x260

struct boot_params_config {
	const uint8_t *setup_hdr; /* the image's bytes from BP_SETUP_HDR */
	size_t setup_hdr_len;	  /* how many of them the header spans */
	uint64_t cmdline_gpa;
	uint64_t initrd_gpa; /* 0 when there is no initrd */
	uint64_t initrd_size;
	const struct e820_entry *e820;
	int e820_nr;
	uint64_t rsdp_gpa;
};

/*
 * boot_params_build: fill the (BOOT_PARAMS_SIZE) bytes at (zp) as (c) says. Returns 0, or
 * -EINVAL when the header overruns its area, there are more than BP_E820_MAX E820 entries, or an
 * address does not fit the fields the kernel reads.
 */
int boot_params_build(uint8_t *zp, const struct boot_params_config *c);

#endif
