/* boot.h: what the Multiboot v1 loader tells the guest: its command line and how much memory there is. */
#ifndef EXITLAT_BOOT_H
#define EXITLAT_BOOT_H

#include <stdint.h>

#include "cmdline.h"

struct boot_config {
	struct cmdline cmd; /* iterations=, cpus= */
	uint64_t mem_top;   /* end of the RAM that starts at 1 MiB (mem_upper); 0 if not given */
};

/*
 * boot_parse: read the Multiboot information at (mbi) into (cfg), printing a line for each thing
 * it cannot use (and using the default instead). Returns 0, or -1 if (magic) is not a Multiboot
 * v1 loader's (cfg then holds the defaults). The information may be overwritten afterwards.
 */
int boot_parse(uint32_t magic, uint32_t mbi, struct boot_config *cfg);

#endif
