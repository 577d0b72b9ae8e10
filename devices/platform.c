/* platform.c: the small fixed devices of the machine: power, reset, pvpanic, debug-exit, boot marker. */
#include "platform.h"

#include "../firmware/x86/layout.h"
#include "base/log.h"

static void sleep_write(struct dev *d, uint64_t off, const void *data, uint32_t len)
{
	struct platform *p = container_of(d, struct platform, sleep);
	uint8_t v = (uint8_t)dev_get_le(data, len);
	unsigned int slp_typ = (v >> 2) & 7;

	if (off != 0 || !(v & ACPI_SLP_EN))
		return;
	if (slp_typ == ACPI_S5_SLP_TYP) {
		p->host->stop(p->host, DEV_STOP_POWEROFF, 0);
		return;
	}
	/* Only \_S5 is offered in the DSDT; a guest asking for another state gets nothing. */
	if (!atomic_flag_test_and_set(&p->odd_sleep_logged))
		log_warn("guest asked for ACPI sleep type %u, which kvmini does not offer: ignored", slp_typ);
}

static const struct dev_ops sleep_ops = {
	.name = "acpi-sleep",
	.write = sleep_write,
};

static const struct dev_ops sleep_sts_ops = {
	.name = "acpi-sleep-status",
};

static void reset_write(struct dev *d, uint64_t off, const void *data, uint32_t len)
{
	struct platform *p = container_of(d, struct platform, reset);

	log_debug("reset control: 0x%x written", (unsigned int)dev_get_le(data, len));
	/* Bit 2 starts the reset; the other bits only choose its kind. */
	if (off == 0 && (dev_get_le(data, len) & 0x04))
		p->host->stop(p->host, DEV_STOP_REBOOT, 0);
}

static const struct dev_ops reset_ops = {
	.name = "reset-control",
	.write = reset_write,
};

static void i8042_write(struct dev *d, uint64_t off, const void *data, uint32_t len)
{
	struct platform *p = container_of(d, struct platform, i8042);

	log_debug("i8042 command: 0x%x written", (unsigned int)dev_get_le(data, len));
	if (off == 0 && (dev_get_le(data, len) & 0xff) == 0xfe)
		p->host->stop(p->host, DEV_STOP_REBOOT, 0);
}

static const struct dev_ops i8042_ops = {
	.name = "i8042-reset",
	.write = i8042_write,
};

static void pvpanic_read(struct dev *d, uint64_t off, void *data, uint32_t len)
{
	(void)d;
	if (off == 0)
		dev_put_le(data, len, PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
}

static void pvpanic_write(struct dev *d, uint64_t off, const void *data, uint32_t len)
{
	struct platform *p = container_of(d, struct platform, pvpanic);
	uint64_t v = dev_get_le(data, len);

	if (off != 0)
		return;
	if (v & PVPANIC_PANICKED)
		p->host->stop(p->host, DEV_STOP_PANIC, 0);
	else if (v & PVPANIC_CRASH_LOADED)
		log_info("guest panicked with a crash kernel loaded: letting it run");
}

static const struct dev_ops pvpanic_ops = {
	.name = "pvpanic",
	.read = pvpanic_read,
	.write = pvpanic_write,
};

static void debug_exit_write(struct dev *d, uint64_t off, const void *data, uint32_t len)
{
	struct platform *p = container_of(d, struct platform, debug_exit);

	if (off == 0)
		p->host->stop(p->host, DEV_STOP_DEBUG_EXIT, (uint32_t)dev_get_le(data, len));
}

static const struct dev_ops debug_exit_ops = {
	.name = "debug-exit",
	.write = debug_exit_write,
};

static void boot_marker_write(struct dev *d, uint64_t off, const void *data, uint32_t len)
{
	struct platform *p = container_of(d, struct platform, boot_marker);

	if (off == 0 && dev_get_le(data, len) == BOOT_MARKER_MAGIC)
		p->host->boot_marker(p->host);
}

static const struct dev_ops boot_marker_ops = {
	.name = "boot-marker",
	.write = boot_marker_write,
};

void platform_init(struct platform *p, struct dev_host *host)
{
	p->host = host;
	p->sleep.ops = &sleep_ops;
	p->sleep_sts.ops = &sleep_sts_ops;
	p->reset.ops = &reset_ops;
	p->i8042.ops = &i8042_ops;
	p->pvpanic.ops = &pvpanic_ops;
	p->debug_exit.ops = &debug_exit_ops;
	p->boot_marker.ops = &boot_marker_ops;
	atomic_flag_clear(&p->odd_sleep_logged);
}

int platform_ports(struct platform *p, struct platform_port out[PLATFORM_NR_PORTS])
{
	const struct platform_port ports[PLATFORM_NR_PORTS] = {
		{ PORT_ACPI_SLEEP_CTL, 1, &p->sleep },
		{ PORT_ACPI_SLEEP_STS, 1, &p->sleep_sts },
		{ PORT_RESET, 1, &p->reset },
		{ PORT_I8042_CMD, 1, &p->i8042 },
		{ PORT_PVPANIC, 1, &p->pvpanic },
		{ PORT_DEBUG_EXIT, 4, &p->debug_exit },
		{ PORT_BOOT_MARKER, 1, &p->boot_marker },
	};

	for (int i = 0; i < PLATFORM_NR_PORTS; i++)
		out[i] = ports[i];
	return PLATFORM_NR_PORTS;
}
