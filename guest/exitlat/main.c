/* main.c: the exit-latency guest: time every row, hand kvmini the raw samples, print a summary line each. */
#include "abi.h"
#include "boot.h"
#include "cpu.h"
#include "lapic.h"
#include "report.h"
#include "rows.h"
#include "serial.h"
#include "trap.h"

#define DEBUG_EXIT_PORT 0xf4 /* QEMU's isa-debug-exit, and kvmini's: the VM ends */

extern char exitlat_image_end[]; /* link.ld: page-aligned end of the image, .bss included */

/*
 * main: the C entry (entry.S), with (magic) and (mbi) as the Multiboot loader left them in EAX and
 * EBX. Returns only if the debug-exit port did not end the VM; entry.S then halts.
 */
void main(uint32_t magic, uint32_t mbi);

/* The samples go after the image: clamp (cfg)'s iterations to the memory mem_upper reports. */
static void fit_samples(struct boot_config *cfg)
{
	uint64_t start = (uint32_t)exitlat_image_end, top = cfg->mem_top, room;

	if (!top) {
		top = start + (1u << 20);
		serial_puts("exitlat: no mem_upper from the loader: assuming 1 MiB after the image\n");
	}
	room = top > start ? (top - start) / sizeof(uint64_t) : 0;
	cmdline_fit(&cfg->cmd, room, "in RAM");
}

/* kvmini copies the raw samples during this OUT, before summarising sorts them in place. */
static void send_result(uint32_t row, uint32_t status, uint32_t count, const uint64_t *samples)
{
	struct exitlat_result res = report_record(row, status, count, samples);

	outl(EXITLAT_PORT_RESULT, (uint32_t)&res);
}

static void run_row(uint32_t row, const struct rows_cpu *cpu, uint32_t iterations)
{
	struct rows_run r = {
		.row = row, .cpu = cpu, .samples = (uint64_t *)exitlat_image_end, .iterations = iterations
	};
	uint32_t fault;

	watchdog_fired = 0;
	fault = trap_try(rows_measure, &r);
	if (fault) {
		serial_puts("exitlat: row=");
		serial_puts(exitlat_row_name(row));
		serial_put_kv(" raised exception ", fault & 0xff);
		serial_puts(" at ");
		serial_put_hex(trap_caught_eip, 8);
		serial_puts(": unsupported here\n");
		r.status = EXITLAT_UNSUPPORTED;
		r.count = 0;
	}
	send_result(row, r.status, r.count, r.samples);
	report_row(&r);
}

static void print_config(const struct boot_config *cfg, const struct rows_cpu *cpu)
{
	serial_put_kv("exitlat: iterations=", cfg->cmd.iterations);
	serial_put_kv(" cpus=", cfg->cmd.cpus);
	serial_puts(cpu->amd ? " hypercall=vmmcall" : " hypercall=vmcall");
	serial_puts(cpu->rdtscp ? " t1=rdtscp" : " t1=rdtsc");
	serial_puts(" samples=");
	serial_put_hex((uint32_t)exitlat_image_end, 8);
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
	rows_probe_cpu(&cpu, cfg.cmd.cpus);
	print_config(&cfg, &cpu);
	for (uint32_t i = 0; i < sizeof(rows); i++)
		run_row(rows[i], &cpu, cfg.cmd.iterations);
	send_result(EXITLAT_ROW_DONE, EXITLAT_OK, 0, (const uint64_t *)exitlat_image_end);
	report_done(trap_unexpected);
	outb(DEBUG_EXIT_PORT, 0);
}
