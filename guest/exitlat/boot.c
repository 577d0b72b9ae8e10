/* boot.c: what the Multiboot v1 loader tells the guest: its command line and how much memory there is. */
#include "boot.h"
#include "serial.h"

#define MB_LOADER_MAGIC 0x2badb002
#define MB_INFO_MEMORY	(1u << 0) /* mem_lower, mem_upper are valid */
#define MB_INFO_CMDLINE (1u << 2) /* cmdline is valid */
#define CMDLINE_MAX	4096	  /* a bound on a string we did not write */

/* The fields of the Multiboot v1 information structure that we read. */
struct mb_info {
	uint32_t flags;
	uint32_t mem_lower; /* KiB from 0 */
	uint32_t mem_upper; /* KiB from 1 MiB, up to the first hole */
	uint32_t boot_device;
	uint32_t cmdline; /* physical address of a NUL-terminated string */
};

int boot_parse(uint32_t magic, uint32_t mbi, struct boot_config *cfg)
{
	const struct mb_info *info = (const struct mb_info *)mbi;

	cmdline_defaults(&cfg->cmd);
	cfg->mem_top = 0;
	if (magic != MB_LOADER_MAGIC) {
		serial_puts("exitlat: not started by a Multiboot v1 loader (EAX ");
		serial_put_hex(magic, 8);
		serial_puts("): using the defaults\n");
		return -1;
	}
	if (info->flags & MB_INFO_CMDLINE)
		cmdline_parse((const char *)info->cmdline, CMDLINE_MAX, 1, &cfg->cmd);
	if (info->flags & MB_INFO_MEMORY)
		cfg->mem_top = 0x100000ull + (uint64_t)info->mem_upper * 1024;
	return 0;
}
