/* boot.h: what the device tree at x0 (kvmini's or QEMU virt's) tells the guest: command line, GIC, UART. */
#ifndef EXITLAT_ARM64_BOOT_H
#define EXITLAT_ARM64_BOOT_H

#include <stdint.h>

#include "cmdline.h"

struct boot_config {
	struct cmdline cmd; /* iterations=, cpus= */
	uint64_t gicd;	    /* the GICv3 distributor ("arm,gic-v3" reg 0) */
	uint64_t gicr;	    /* its first redistributor (reg 1): kvmini 0x0a000000, QEMU virt 0x080a0000 */
	uint64_t uart;	    /* the console UART's registers */
	int uart_pl011;	    /* 1: an "arm,pl011" (QEMU virt), 0: an "ns16550a" (kvmini) */
};

/*
 * boot_devices: fill (cfg)'s gicd, gicr, uart and uart_pl011 from the device tree at (dtb): the
 * "arm,gic-v3" node and the first "arm,pl011" or "ns16550a" node at the top level. What the tree
 * lacks (or an unreadable tree) keeps kvmini's address (firmware/arm64/dtb.h). Prints nothing: it
 * runs before the console is known.
 */
void boot_devices(uint64_t dtb, struct boot_config *cfg);
/*
 * boot_parse: read iterations= and cpus= from the bootargs of the device tree at (dtb) into (cfg),
 * printing a line for each thing it cannot use (and using the default instead). Returns 0, or -1 when
 * there is no valid tree or no bootargs (cfg then holds the defaults).
 */
int boot_parse(uint64_t dtb, struct boot_config *cfg);

#endif
