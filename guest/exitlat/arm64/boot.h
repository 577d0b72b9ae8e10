/* boot.h: what kvmini's device tree tells the guest: its command line (/chosen/bootargs). */
#ifndef EXITLAT_ARM64_BOOT_H
#define EXITLAT_ARM64_BOOT_H

#include <stdint.h>

#define BOOT_DEFAULT_ITERATIONS 10000
#define BOOT_DEFAULT_CPUS	1

struct boot_config {
	uint32_t iterations; /* iterations=N: samples per row */
	uint32_t cpus;	     /* cpus=N: vCPUs the VMM gave us (the ipi row needs 2) */
};

/*
 * boot_parse: read iterations= and cpus= from the bootargs of the device tree at (dtb) into (cfg),
 * printing a line for each thing it cannot use (and using the default instead). Returns 0, or -1 when
 * there is no valid tree or no bootargs (cfg then holds the defaults).
 */
int boot_parse(uint64_t dtb, struct boot_config *cfg);

#endif
