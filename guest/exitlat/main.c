/* main.c: the exit-latency guest: time every row, hand kvmini the raw samples, print a summary line each. */
#include "abi.h"
#include "boot.h"
#include "cpu.h"
#include "lapic.h"
#include "rows.h"
#include "serial.h"
#include "stats.h"
#include "trap.h"

#define DEBUG_EXIT_PORT 0xf4 /* QEMU's isa-debug-exit, and kvmini's: the VM ends */

extern char exitlat_image_end[]; /* link.ld: page-aligned end of the image, .bss included */

/*
 * main: the C entry (entry.S), with (magic) and (mbi) as the Multiboot loader left them in EAX and
 * EBX. Returns only if the debug-exit port did not end the VM; entry.S then halts.
 */
void main(uint32_t magic, uint32_t mbi);

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

/* The samples go after the image: clamp (cfg)'s iterations to the memory mem_upper reports. */
static void fit_samples(struct boot_config *cfg)
{
	uint64_t start = (uint32_t)exitlat_image_end, top = cfg->mem_top, room;

	if (!top) {
		top = start + (1u << 20);
		serial_puts("exitlat: no mem_upper from the loader: assuming 1 MiB after the image\n");
	}
	room = top > start ? (top - start) / sizeof(uint64_t) : 0;
	if (cfg->iterations > room) {
		print_kv("exitlat: the samples of iterations=", cfg->iterations);
		print_kv(" do not fit in RAM: using iterations=", room);
		serial_puts("\n");
		cfg->iterations = (uint32_t)room;
	}
}

/* kvmini copies the raw samples during this OUT, before summarising sorts them in place. */
static void send_result(uint32_t row, uint32_t status, uint32_t count, const uint64_t *samples)
{
	struct exitlat_result res = {
		.magic = EXITLAT_MAGIC,
		.row = row,
		.status = status,
		.count = count,
		.samples_gpa = (uint32_t)samples, /* paging is off: the pointer is the GPA */
	};

	outl(EXITLAT_PORT_RESULT, (uint32_t)&res);
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
	struct rows_run r = { row, cpu, (uint64_t *)exitlat_image_end, iterations, 0, EXITLAT_OK };
	uint32_t fault;

	watchdog_fired = 0;
	fault = trap_try(rows_measure, &r);
	if (fault) {
		serial_puts("exitlat: row=");
		serial_puts(exitlat_row_name(row));
		print_kv(" raised exception ", fault & 0xff);
		serial_puts(" at ");
		serial_put_hex32(trap_caught_eip);
		serial_puts(": unsupported here\n");
		r.status = EXITLAT_UNSUPPORTED;
		r.count = 0;
	}
	send_result(row, r.status, r.count, r.samples);
	print_row(&r);
}

static void print_config(const struct boot_config *cfg, const struct rows_cpu *cpu)
{
	print_kv("exitlat: iterations=", cfg->iterations);
	print_kv(" cpus=", cfg->cpus);
	serial_puts(cpu->amd ? " hypercall=vmmcall" : " hypercall=vmcall");
	serial_puts(cpu->rdtscp ? " t1=rdtscp" : " t1=rdtsc");
	serial_puts(" samples=");
	serial_put_hex32((uint32_t)exitlat_image_end);
	serial_puts("\n");
}

void main(uint32_t magic, uint32_t mbi)
{
	static const uint8_t rows[] = EXITLAT_ROWS_X86;
	struct boot_config cfg;
	struct rows_cpu cpu;

	trap_init();
	serial_init();
	boot_parse(magic, mbi, &cfg);
	fit_samples(&cfg);
	lapic_enable(TRAP_VEC_SPURIOUS);
	rows_probe_cpu(&cpu, cfg.cpus);
	print_config(&cfg, &cpu);
	for (uint32_t i = 0; i < sizeof(rows); i++)
		run_row(rows[i], &cpu, cfg.iterations);
	send_result(EXITLAT_ROW_DONE, EXITLAT_OK, 0, (const uint64_t *)exitlat_image_end);
	if (trap_unexpected) {
		/* An interrupt nobody armed woke a halt or lengthened a sample: the numbers may show it. */
		print_kv("exitlat: unexpected interrupts=", trap_unexpected);
		serial_puts("\n");
	}
	serial_puts("exitlat: done\n");
	outb(DEBUG_EXIT_PORT, 0);
}
