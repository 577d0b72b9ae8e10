/* boot_linux.c: loading a Linux bzImage by the x86 boot protocol's 64-bit entry. */
#include "boot_linux.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot_params.h"
#include "layout.h"
#include "../../vmm/file.h"
#include "../../devices/base/log.h"

#define LOADED_HIGH	0x01 /* loadflags: a bzImage, loaded at 1 MiB and up */
#define XLF_KERNEL_64	0x01 /* xloadflags: has the 64-bit entry at load address + 0x200 */
#define ENTRY_64_OFFSET 0x200
#define MIB		UINT64_C(0x100000)

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | get16(p + 2) << 16;
}

static const char *identify_other(const uint8_t *img, size_t len)
{
	if (len >= 4 && memcmp(img,
			       "\x7f"
			       "ELF",
			       4) == 0)
		return "is an ELF file with no Multiboot header (a vmlinux?): boot arch/x86/boot/bzImage or a Multiboot image";
	if (len >= 2 && img[0] == 0x1f && img[1] == 0x8b)
		return "is gzip data, not a bzImage: an initrd given as --kernel?";
	if (len >= 6 && memcmp(img, "070701", 6) == 0)
		return "is a cpio archive, not a bzImage: an initrd given as --kernel?";
	return "is not a Linux bzImage (no boot signature 0xAA55 and 'HdrS' setup header)";
}

static int check_header(const uint8_t *img, size_t len, struct bzimage *bz, const char **why)
{
	size_t hdr_end;

	if (len < 0x300) {
		*why = "is too small to be a Linux bzImage (truncated?)";
		return -EINVAL;
	}
	if (get16(img + HDR_BOOT_FLAG) != 0xaa55 || memcmp(img + HDR_MAGIC, "HdrS", 4) != 0) {
		*why = identify_other(img, len);
		return -EINVAL;
	}
	bz->version = (uint16_t)get16(img + HDR_VERSION);
	if (bz->version < BZIMAGE_MIN_VERSION) {
		*why = "uses a boot protocol older than 2.12 (Linux 3.8), which has no 64-bit entry: use a newer kernel";
		return -EINVAL;
	}
	/* The header ends where the jump at 0x200 lands: 0x202 + its 8-bit displacement. */
	hdr_end = HDR_MAGIC + img[HDR_JUMP + 1];
	if (hdr_end > BP_SETUP_HDR_END || hdr_end <= HDR_INIT_SIZE + 4) {
		*why = "has a malformed setup header (its length is out of range)";
		return -EINVAL;
	}
	bz->hdr_len = hdr_end - BP_SETUP_HDR;
	if (!(img[HDR_LOADFLAGS] & LOADED_HIGH)) {
		*why = "is a zImage (loaded below 1 MiB), which kvmini does not boot: build a bzImage";
		return -EINVAL;
	}
	if (!(get16(img + HDR_XLOADFLAGS) & XLF_KERNEL_64)) {
		*why = "has no 64-bit entry point (a 32-bit kernel?): build it with CONFIG_X86_64";
		return -EINVAL;
	}
	return 0;
}

int bzimage_parse(const uint8_t *img, size_t len, struct bzimage *bz, const char **why)
{
	unsigned int setup_sects;
	uint64_t syssize;
	int ret;

	memset(bz, 0, sizeof(*bz));
	ret = check_header(img, len, bz, why);
	if (ret)
		return ret;
	setup_sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
	bz->setup_len = ((size_t)setup_sects + 1) * 512;
	syssize = (uint64_t)get32(img + HDR_SYSSIZE) * 16;
	if (bz->setup_len >= len || syssize > len - bz->setup_len) {
		*why = "is truncated: the setup header promises more bytes than the file has";
		return -EINVAL;
	}
	bz->kernel_len = len - bz->setup_len;
	bz->initrd_addr_max = get32(img + HDR_INITRD_ADDR_MAX);
	bz->kernel_alignment = get32(img + HDR_KERNEL_ALIGNMENT);
	bz->relocatable = img[HDR_RELOCATABLE] != 0;
	bz->cmdline_size = get32(img + HDR_CMDLINE_SIZE);
	memcpy(&bz->pref_address, img + HDR_PREF_ADDRESS, sizeof(bz->pref_address));
	bz->init_size = get32(img + HDR_INIT_SIZE);
	if (bz->pref_address < GUEST_HIGH_RAM_START || bz->pref_address >= PCI_HOLE_START ||
	    (bz->relocatable && bz->kernel_alignment &&
	     (bz->kernel_alignment & (bz->kernel_alignment - 1)))) {
		*why = "has a setup header with an impossible load address or alignment";
		return -EINVAL;
	}
	return 0;
}

/* The top of the RAM that starts at 1 MiB (below the PCI hole). */
static uint64_t low_ram_top(const struct gmem *m)
{
	return m->regions[0].size;
}

static int load_kernel(struct gmem *m, const struct boot_linux_args *a, struct bzimage *bz,
		       uint64_t *kernel_end)
{
	const char *why;
	int ret = bzimage_parse(a->image, a->image_len, bz, &why);
	uint64_t need;

	if (ret) {
		log_err("kernel %s %s", a->kernel_path, why);
		return ret;
	}
	/* Load where the kernel prefers: it decompresses there in place, needing init_size. */
	need = bz->pref_address + (bz->init_size > bz->kernel_len ? bz->init_size : bz->kernel_len);
	if (need > low_ram_top(m)) {
		log_err("kernel %s needs %" PRIu64 " MiB of guest RAM to decompress (loads at 0x%" PRIx64
			", needs %u bytes there): give --mem %" PRIu64 "M or more",
			a->kernel_path, (need + MIB - 1) / MIB, bz->pref_address, bz->init_size,
			(need + MIB - 1) / MIB + 16);
		return -ENOMEM;
	}
	ret = gmem_write(m, bz->pref_address, a->image + bz->setup_len, bz->kernel_len);
	if (ret)
		log_err("kernel %s does not fit at 0x%" PRIx64 " in guest RAM: give more --mem",
			a->kernel_path, bz->pref_address);
	*kernel_end = need;
	return ret;
}

static int place_initrd(const struct gmem *m, const struct bzimage *bz, uint64_t size, uint64_t kernel_end,
			uint64_t *gpa)
{
	uint64_t top = low_ram_top(m);

	if ((uint64_t)bz->initrd_addr_max + 1 < top)
		top = (uint64_t)bz->initrd_addr_max + 1;
	/* Highest page-aligned spot below the limit, clear of the kernel's decompression area. */
	if (size > top || ((top - size) & ~0xfffULL) < kernel_end)
		return -ENOSPC;
	*gpa = (top - size) & ~0xfffULL;
	return 0;
}

static int load_initrd(struct gmem *m, const char *path, const struct bzimage *bz, uint64_t kernel_end,
		       uint64_t *gpa, uint64_t *size)
{
	int fd = file_open_sized(path, UINT32_MAX, size), ret;

	if (fd < 0) {
		log_err("initrd %s: %s", path, file_strerror(fd));
		return -EINVAL;
	}
	ret = place_initrd(m, bz, *size, kernel_end, gpa);
	if (ret < 0)
		log_err("initrd %s (%" PRIu64
			" MiB) does not fit in guest RAM beside the kernel: give --mem %" PRIu64 "M or more",
			path, (*size + MIB - 1) / MIB, (kernel_end + *size) / MIB + 32);
	/* Straight into guest RAM: no second copy of what may be a large image. */
	else if ((ret = file_read_guest(fd, m, *gpa, *size)) < 0)
		log_err("initrd %s: %s", path, file_strerror(ret));
	close(fd);
	return ret < 0 ? -EINVAL : 0;
}

static int write_cmdline(struct gmem *m, const struct bzimage *bz, const char *path, const char *cmdline)
{
	size_t len = strlen(cmdline);
	uint64_t max = bz->cmdline_size < GUEST_CMDLINE_MAX - 1 ? bz->cmdline_size : GUEST_CMDLINE_MAX - 1;

	if (len > max) {
		log_err("command line is %zu bytes; kernel %s accepts at most %" PRIu64 ": shorten --cmdline",
			len, path, max);
		return -E2BIG;
	}
	return gmem_write(m, GUEST_CMDLINE_ADDR, cmdline, len + 1);
}

int boot_linux_load(struct gmem *m, const struct boot_linux_args *a, struct boot_linux_entry *out)
{
	struct bzimage bz = { .version = 0 };
	uint64_t kernel_end, initrd_gpa = 0, initrd_size = 0;
	struct boot_params_config bp;
	uint8_t zero_page[BOOT_PARAMS_SIZE];
	int ret = load_kernel(m, a, &bz, &kernel_end);

	if (!ret && a->initrd_path)
		ret = load_initrd(m, a->initrd_path, &bz, kernel_end, &initrd_gpa, &initrd_size);
	if (!ret)
		ret = write_cmdline(m, &bz, a->kernel_path, a->cmdline);
	if (!ret) {
		bp = (struct boot_params_config){
			.setup_hdr = a->image + BP_SETUP_HDR,
			.setup_hdr_len = bz.hdr_len,
			.cmdline_gpa = GUEST_CMDLINE_ADDR,
			.initrd_gpa = initrd_gpa,
			.initrd_size = initrd_size,
			.e820 = a->e820,
			.e820_nr = a->e820_nr,
			.rsdp_gpa = a->rsdp_gpa,
		};
		ret = boot_params_build(zero_page, &bp);
		if (!ret)
			ret = gmem_write(m, GUEST_ZERO_PAGE_ADDR, zero_page, sizeof(zero_page));
		if (ret)
			log_err("kernel %s: cannot describe this machine in its zero page", a->kernel_path);
	}
	out->rip = bz.pref_address + ENTRY_64_OFFSET;
	out->zero_page = GUEST_ZERO_PAGE_ADDR;
	return ret;
}
