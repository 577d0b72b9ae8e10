/* boot_params.c: the Linux x86 "zero page" that a 64-bit boot loader hands the kernel. */
#include "boot_params.h"

#include <errno.h>
#include <string.h>

#define LOADER_TYPE_UNDEFINED 0xff /* boot.rst: a loader with no assigned ID */

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

int boot_params_build(uint8_t *zp, const struct boot_params_config *c)
{
	if (c->setup_hdr_len > BP_SETUP_HDR_END - BP_SETUP_HDR || c->e820_nr < 0 || c->e820_nr > BP_E820_MAX)
		return -EINVAL;
	/* The initrd and command line fields used here are 32-bit: both must lie below 4 GiB. */
	if (c->cmdline_gpa > UINT32_MAX || c->initrd_gpa > UINT32_MAX || c->initrd_size > UINT32_MAX ||
	    c->initrd_gpa + c->initrd_size > 0x100000000ULL)
		return -EINVAL;
	memset(zp, 0, BOOT_PARAMS_SIZE);
	memcpy(zp + BP_SETUP_HDR, c->setup_hdr, c->setup_hdr_len);
	zp[HDR_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
	put32(zp + HDR_CMD_LINE_PTR, (uint32_t)c->cmdline_gpa);
	put32(zp + HDR_RAMDISK_IMAGE, (uint32_t)c->initrd_gpa);
	put32(zp + HDR_RAMDISK_SIZE, (uint32_t)c->initrd_size);
	put64(zp + BP_ACPI_RSDP_ADDR, c->rsdp_gpa);
	zp[BP_E820_ENTRIES] = (uint8_t)c->e820_nr;
	if (c->e820_nr)
		memcpy(zp + BP_E820_TABLE, c->e820, (size_t)c->e820_nr * sizeof(struct e820_entry));
	return 0;
}
