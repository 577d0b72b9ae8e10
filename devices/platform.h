/* platform.h: the small fixed devices of the machine: power, reset, pvpanic, debug-exit, boot marker. */
#ifndef KVMINI_PLATFORM_H
#define KVMINI_PLATFORM_H

#include <stdatomic.h>
#include <stdint.h>

#include "dev.h"

/* One port-mapped register each; the port map is in firmware/x86/layout.h. */
struct platform {
	struct dev_host *host;
	struct dev sleep;	/* ACPI hardware-reduced SLEEP_CONTROL register */
	struct dev sleep_sts;	/* ACPI SLEEP_STATUS: reads as zero, writes (clearing WAK_STS) ignored */
	struct dev reset;	/* ACPI RESET_REG: the PC reset control register 0xcf9 */
	struct dev i8042;	/* keyboard controller command port: 0xfe pulses the reset line */
	struct dev pvpanic;	/* QEMU pvpanic: the guest reports a panic */
	struct dev debug_exit;	/* QEMU isa-debug-exit: a test guest chooses kvmini's exit status */
	struct dev boot_marker; /* Firecracker's boot timer: the guest reports reaching init */
	atomic_flag odd_sleep_logged;
};

struct platform_port {
	uint16_t port;
	uint16_t len;
	struct dev *dev;
};

#define PLATFORM_NR_PORTS 7

/* platform_init: the devices of (p), reporting to (host). */
void platform_init(struct platform *p, struct dev_host *host);
/* platform_ports: fill (out) with where each device of (p) is decoded. Returns PLATFORM_NR_PORTS. */
int platform_ports(struct platform *p, struct platform_port out[PLATFORM_NR_PORTS]);

#endif
