/* test_platform.c: power-off, reset, pvpanic, debug-exit and the boot marker, with a fake VM. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "layout.h"
#include "platform.h"

/* The VM side: records what the devices asked for. */
struct fake_host {
	struct dev_host host;
	int stops;
	enum dev_stop_reason reason;
	uint32_t value;
	int boot_markers;
};

static void fake_stop(struct dev_host *h, enum dev_stop_reason reason, uint32_t value)
{
	struct fake_host *f = container_of(h, struct fake_host, host);

	f->stops++;
	f->reason = reason;
	f->value = value;
}

static void fake_boot_marker(struct dev_host *h)
{
	struct fake_host *f = container_of(h, struct fake_host, host);

	f->boot_markers++;
}

static struct fake_host host;
static struct platform p;
static struct platform_port ports[PLATFORM_NR_PORTS];

static void setup(void)
{
	host = (struct fake_host){ .host = { .stop = fake_stop, .boot_marker = fake_boot_marker } };
	platform_init(&p, &host.host);
	cr_assert_eq(platform_ports(&p, ports), PLATFORM_NR_PORTS);
}

TestSuite(platform, .init = setup);

/* The device decoded at (port), found the way the VM finds it. */
static struct dev *at(uint16_t port)
{
	for (int i = 0; i < PLATFORM_NR_PORTS; i++)
		if (ports[i].port == port)
			return ports[i].dev;
	cr_assert_fail("no device at port 0x%x", port);
	return NULL;
}

static void out(uint16_t port, uint64_t v, uint32_t len)
{
	uint8_t data[8];
	struct dev *d = at(port);

	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * i));
	cr_assert_not_null(d->ops->write, "port 0x%x takes no writes", port);
	d->ops->write(d, 0, data, len);
}

static void outb(uint16_t port, uint8_t v)
{
	out(port, v, 1);
}

static void assert_stopped(enum dev_stop_reason reason, uint32_t value)
{
	cr_assert_eq(host.stops, 1, "%d stops", host.stops);
	cr_assert_eq(host.reason, reason);
	cr_assert_eq(host.value, value);
}

Test(platform, ports_lists_the_seven_ports_of_the_layout)
{
	const uint16_t want[PLATFORM_NR_PORTS] = {
		PORT_ACPI_SLEEP_CTL, PORT_ACPI_SLEEP_STS, PORT_RESET,	    PORT_I8042_CMD,
		PORT_PVPANIC,	     PORT_DEBUG_EXIT,	  PORT_BOOT_MARKER,
	};

	cr_assert_eq(PLATFORM_NR_PORTS, 7);
	for (int i = 0; i < PLATFORM_NR_PORTS; i++) {
		int found = 0;

		for (int j = 0; j < PLATFORM_NR_PORTS; j++)
			found += ports[j].port == want[i];
		cr_assert_eq(found, 1, "port 0x%x listed %d times", want[i], found);
	}
}

Test(platform, ports_match_the_documented_numbers)
{
	cr_assert_eq(PORT_ACPI_SLEEP_CTL, 0x600);
	cr_assert_eq(PORT_ACPI_SLEEP_STS, 0x601);
	cr_assert_eq(PORT_RESET, 0xcf9);
	cr_assert_eq(PORT_I8042_CMD, 0x64);
	cr_assert_eq(PORT_PVPANIC, 0x505);
	cr_assert_eq(PORT_DEBUG_EXIT, 0xf4);
	cr_assert_eq(PORT_BOOT_MARKER, 0x3f0);
}

Test(platform, ports_do_not_overlap_and_each_has_a_device)
{
	for (int i = 0; i < PLATFORM_NR_PORTS; i++) {
		cr_assert_gt(ports[i].len, 0);
		cr_assert_not_null(ports[i].dev);
		cr_assert_not_null(ports[i].dev->ops);
		for (int j = i + 1; j < PLATFORM_NR_PORTS; j++)
			cr_assert(ports[i].port + ports[i].len <= ports[j].port ||
					  ports[j].port + ports[j].len <= ports[i].port,
				  "ports 0x%x and 0x%x overlap", ports[i].port, ports[j].port);
	}
}

Test(platform, debug_exit_decodes_four_bytes)
{
	for (int i = 0; i < PLATFORM_NR_PORTS; i++)
		if (ports[i].port == PORT_DEBUG_EXIT)
			cr_assert_eq(ports[i].len, 4);
}

Test(platform, sleep_control_s5_with_slp_en_powers_off)
{
	outb(PORT_ACPI_SLEEP_CTL, (ACPI_S5_SLP_TYP << 2) | ACPI_SLP_EN);
	assert_stopped(DEV_STOP_POWEROFF, 0);
}

Test(platform, sleep_control_value_0x34_powers_off)
{
	outb(PORT_ACPI_SLEEP_CTL, (5 << 2) | 0x20);
	assert_stopped(DEV_STOP_POWEROFF, 0);
}

Test(platform, sleep_control_other_sleep_types_are_ignored)
{
	for (unsigned int typ = 0; typ < 8; typ++) {
		if (typ == ACPI_S5_SLP_TYP)
			continue;
		outb(PORT_ACPI_SLEEP_CTL, (uint8_t)((typ << 2) | ACPI_SLP_EN));
	}
	cr_assert_eq(host.stops, 0);
}

Test(platform, sleep_control_s5_without_slp_en_is_ignored)
{
	outb(PORT_ACPI_SLEEP_CTL, ACPI_S5_SLP_TYP << 2);
	cr_assert_eq(host.stops, 0);
}

Test(platform, sleep_status_takes_writes_and_stops_nothing)
{
	struct dev *d = at(PORT_ACPI_SLEEP_STS);
	uint8_t v = 0x80; /* WAK_STS: write one to clear */

	if (d->ops->write)
		d->ops->write(d, 0, &v, 1);
	v = 0xff;
	if (d->ops->read)
		d->ops->read(d, 0, &v, 1);
	else
		v = 0; /* the bus zero-fills a read of a device without one */
	cr_assert_eq(v, 0);
	cr_assert_eq(host.stops, 0);
}

Test(platform, reset_register_0x06_reboots)
{
	outb(PORT_RESET, RESET_VALUE);
	assert_stopped(DEV_STOP_REBOOT, 0);
}

Test(platform, reset_register_0x02_is_ignored)
{
	outb(PORT_RESET, 0x02);
	cr_assert_eq(host.stops, 0);
}

Test(platform, i8042_command_0xfe_reboots)
{
	outb(PORT_I8042_CMD, 0xfe);
	assert_stopped(DEV_STOP_REBOOT, 0);
}

Test(platform, i8042_other_commands_are_ignored)
{
	outb(PORT_I8042_CMD, 0xd1);
	outb(PORT_I8042_CMD, 0xff);
	outb(PORT_I8042_CMD, 0xad);
	cr_assert_eq(host.stops, 0);
}

Test(platform, pvpanic_read_offers_panicked_and_crash_loaded)
{
	struct dev *d = at(PORT_PVPANIC);
	uint8_t v = 0;

	cr_assert_not_null(d->ops->read);
	d->ops->read(d, 0, &v, 1);
	cr_assert_eq(v, 3);
}

Test(platform, pvpanic_write_1_is_a_panic)
{
	outb(PORT_PVPANIC, PVPANIC_PANICKED);
	assert_stopped(DEV_STOP_PANIC, 0);
}

Test(platform, pvpanic_write_2_lets_the_guest_run)
{
	outb(PORT_PVPANIC, PVPANIC_CRASH_LOADED);
	cr_assert_eq(host.stops, 0);
}

Test(platform, debug_exit_byte_write_stops_with_its_value)
{
	out(PORT_DEBUG_EXIT, 0x21, 1);
	assert_stopped(DEV_STOP_DEBUG_EXIT, 0x21);
}

Test(platform, debug_exit_word_write_stops_with_its_value)
{
	out(PORT_DEBUG_EXIT, 0x1234, 2);
	assert_stopped(DEV_STOP_DEBUG_EXIT, 0x1234);
}

Test(platform, debug_exit_long_write_stops_with_its_value)
{
	out(PORT_DEBUG_EXIT, 0x89abcdef, 4);
	assert_stopped(DEV_STOP_DEBUG_EXIT, 0x89abcdef);
}

Test(platform, debug_exit_zero_still_stops)
{
	out(PORT_DEBUG_EXIT, 0, 1);
	assert_stopped(DEV_STOP_DEBUG_EXIT, 0);
}

Test(platform, boot_marker_123_is_reported)
{
	outb(PORT_BOOT_MARKER, BOOT_MARKER_MAGIC);
	cr_assert_eq(host.boot_markers, 1);
	cr_assert_eq(host.stops, 0);
}

Test(platform, boot_marker_other_values_are_ignored)
{
	outb(PORT_BOOT_MARKER, 0);
	outb(PORT_BOOT_MARKER, 122);
	outb(PORT_BOOT_MARKER, 124);
	outb(PORT_BOOT_MARKER, 0xff);
	cr_assert_eq(host.boot_markers, 0);
}
