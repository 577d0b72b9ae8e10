/* boot.h: what kvmini's device tree tells the guest: its command line (/chosen/bootargs). */
#ifndef EXITLAT_ARM64_BOOT_H
#define EXITLAT_ARM64_BOOT_H

#include <stdint.h>

#include "cmdline.h"

struct boot_config {
	struct cmdline cmd; /* iterations=, cpus= */
};

/*
 * boot_parse: read iterations= and cpus= from the bootargs of the device tree at (dtb) into (cfg),
 * printing a line for each thing it cannot use (and using the default instead). Returns 0, or -1 when
 * there is no valid tree or no bootargs (cfg then holds the defaults).
 */
int boot_parse(uint64_t dtb, struct boot_config *cfg);

#endif
