/* main.c: the arm64 exit-latency guest: time every row, hand kvmini the raw samples, print a summary line each. */
#include "abi.h"
#include "boot.h"
#include "cpu.h"
#include "gic.h"
#include "mmu.h"
#include "rows.h"
#include "serial.h"
#include "smp.h"
#include "stats.h"
#include "trap.h"

extern char exitlat_image_end[]; /* link.ld: page-aligned end of the image, .bss included */

/*
 * main: the C entry (entry.S) on vCPU 0, with (dtb) the device tree's address that the loader left in
 * x0 (booting.rst). Powers the VM off at the end.
 */
void main(uint64_t dtb) __attribute__((noreturn));

static const char *status_name(uint32_t status)
{
	static const char *const names[] = { "ok", "timeout", "unsupported" };

	return status < 3 ? names[status] : "?";
}

static void print_kv(const char *key, uint64_t v)
{
	serial_puts(key);
	serial_put_u64(v);
}

/* The samples go after the image, up to the device tree, which the loader put above it. */
static void fit_samples(struct boot_config *cfg, uint64_t dtb)
{
	uint64_t start = (uint64_t)(uintptr_t)exitlat_image_end;
	uint64_t room = dtb > start ? (dtb - start) / sizeof(uint64_t) : 0;

	if (cfg->iterations > room) {
		print_kv("exitlat: the samples of iterations=", cfg->iterations);
		print_kv(" do not fit below the device tree: using iterations=", room);
		serial_puts("\n");
		cfg->iterations = (uint32_t)room;
	}
}

/* kvmini copies the raw samples during this write, before summarising sorts them in place. */
static void send_result(uint32_t row, uint32_t status, uint32_t count, const uint64_t *samples)
{
	struct exitlat_result res = {
		.magic = EXITLAT_MAGIC,
		.row = row,
		.status = status,
		.count = count,
		.samples_gpa = (uint64_t)(uintptr_t)samples, /* identity-mapped: the pointer is the GPA */
	};

	__asm__ __volatile__("dsb ish" : : : "memory"); /* the record and samples before the exit */
	mmio_write32(EXITLAT_ARM64_MMIO_RESULT, (uint32_t)(uintptr_t)&res);
}

static void print_row(const struct rows_run *r)
{
	struct stats_summary s;

	stats_summarize(r->samples, r->count, &s);
	serial_puts("exitlat: row=");
	serial_puts(exitlat_row_name(r->row));
	serial_puts(" status=");
	serial_puts(status_name(r->status));
	print_kv(" count=", r->count);
	print_kv(" min=", s.min);
	print_kv(" p50=", s.median);
	print_kv(" p99=", s.p99);
	print_kv(" max=", s.max);
	serial_puts("\n");
}

static void run_row(uint32_t row, const struct rows_cpu *cpu, uint32_t iterations)
{
	struct rows_run r = { .row = row,
			      .cpu = cpu,
			      .samples = (uint64_t *)(uintptr_t)exitlat_image_end,
			      .iterations = iterations };

	rows_measure(&r);
	send_result(row, r.status, r.count, r.samples);
	print_row(&r);
	if (row == EXITLAT_ROW_HVC && r.count && r.hvc_ret != -1) {
		/* Not SMCCC's NOT_SUPPORTED: something answered the call, maybe not inside KVM. */
		print_kv("exitlat: hvc returned ", (uint64_t)r.hvc_ret);
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
	serial_init();
	boot_parse(dtb, &cfg);
	fit_samples(&cfg, dtb);
	gic_init_dist();
	gic_init_cpu(0);
	cpu = (struct rows_cpu){ .hz = counter_hz(), .cpus = cfg.cpus };
	cpu.budget = cpu.hz * ROWS_BUDGET_SECONDS;
	print_kv("exitlat: iterations=", cfg.iterations);
	print_kv(" cpus=", cfg.cpus);
	print_kv(" counter_hz=", cpu.hz);
	serial_puts(" hypercall=hvc samples=");
	serial_put_hex64((uint64_t)(uintptr_t)exitlat_image_end);
	serial_puts("\n");
	for (unsigned int i = 0; i < sizeof(rows); i++)
		run_row(rows[i], &cpu, cfg.iterations);
	send_result(EXITLAT_ROW_DONE, EXITLAT_OK, 0, (const uint64_t *)(uintptr_t)exitlat_image_end);
	if (trap_unexpected) {
		/* An interrupt nobody armed woke a WFI or lengthened a sample: the numbers may show it. */
		print_kv("exitlat: unexpected interrupts=", trap_unexpected);
		serial_puts("\n");
	}
	serial_puts("exitlat: done\n");
	smp_system_off();
}
