/* main.c: the arm64 exit-latency guest: time every row, hand kvmini the raw samples, print a summary line each. */
#include "abi.h"
#include "boot.h"
#include "cpu.h"
#include "gic.h"
#include "mmu.h"
#include "report.h"
#include "rows.h"
#include "serial.h"
#include "smp.h"
#include "trap.h"
#include "uart.h"

extern char exitlat_image_end[]; /* link.ld: page-aligned end of the image, .bss included */

/*
 * main: the C entry (entry.S) on vCPU 0, with (dtb) the device tree's address that the loader left in
 * x0 (booting.rst). Powers the VM off at the end.
 */
void main(uint64_t dtb) __attribute__((noreturn));

/* The samples go after the image, up to the device tree, which the loader put above it. */
static void fit_samples(struct boot_config *cfg, uint64_t dtb)
{
	uint64_t start = (uint64_t)(uintptr_t)exitlat_image_end;
	uint64_t room = dtb > start ? (dtb - start) / sizeof(uint64_t) : 0;

	cmdline_fit(&cfg->cmd, room, "below the device tree");
}

/* kvmini copies the raw samples during this write, before summarising sorts them in place. */
static void send_result(uint32_t row, uint32_t status, uint32_t count, const uint64_t *samples)
{
	struct exitlat_result res = report_record(row, status, count, samples);

	__asm__ __volatile__("dsb ish" : : : "memory"); /* the record and samples before the exit */
	mmio_write32(EXITLAT_ARM64_MMIO_RESULT, (uint32_t)(uintptr_t)&res);
}

static void run_row(uint32_t row, const struct rows_cpu *cpu, uint32_t iterations)
{
	struct rows_run r = { .row = row,
			      .cpu = cpu,
			      .samples = (uint64_t *)(uintptr_t)exitlat_image_end,
			      .iterations = iterations };

	rows_measure(&r);
	send_result(row, r.status, r.count, r.samples);
	report_row(&r);
	if (row == EXITLAT_ROW_HVC && r.count && r.ret != -1) {
		/* Not SMCCC's NOT_SUPPORTED: something answered the call, maybe not inside KVM. */
		serial_put_kv("exitlat: hvc returned ", (uint64_t)r.ret);
		serial_puts(", not NOT_SUPPORTED (-1)\n");
	}
}

void main(uint64_t dtb)
{
	static const uint8_t rows[] = EXITLAT_ROWS_ARM64;
	struct boot_config cfg;
	struct rows_cpu cpu;

	mmu_build();
	mmu_enable();
	boot_devices(dtb, &cfg); /* kvmini's 16550A or QEMU virt's PL011, and where the GIC is */
	uart_select(cfg.uart, cfg.uart_pl011);
	serial_init();
	boot_parse(dtb, &cfg);
	fit_samples(&cfg, dtb);
	gic_init_dist(cfg.gicd, cfg.gicr);
	gic_init_cpu(0);
	cpu = (struct rows_cpu){ .hz = counter_hz(), .cpus = cfg.cmd.cpus };
	cpu.budget = cpu.hz * ROWS_BUDGET_SECONDS;
	serial_put_kv("exitlat: iterations=", cfg.cmd.iterations);
	serial_put_kv(" cpus=", cfg.cmd.cpus);
	serial_put_kv(" counter_hz=", cpu.hz);
	serial_puts(" hypercall=hvc samples=");
	serial_put_hex((uint64_t)(uintptr_t)exitlat_image_end, 16);
	serial_puts("\n");
	for (unsigned int i = 0; i < sizeof(rows); i++)
		run_row(rows[i], &cpu, cfg.cmd.iterations);
	send_result(EXITLAT_ROW_DONE, EXITLAT_OK, 0, (const uint64_t *)(uintptr_t)exitlat_image_end);
	report_done(trap_unexpected);
	smp_system_off();
}
