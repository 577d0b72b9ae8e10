/* report.c: what the guest tells the host: result records (kvmini) and console lines (kvmini, scripts/bench-exits). */
#include "report.h"
#include "abi.h"
#include "serial.h"
#include "stats.h"

static const char *status_name(uint32_t status)
{
	static const char *const names[] = { "ok", "timeout", "unsupported" };

	return status < 3 ? names[status] : "?";
}

struct exitlat_result report_record(uint32_t row, uint32_t status, uint32_t count, const uint64_t *samples)
{
	struct exitlat_result res = {
		.magic = EXITLAT_MAGIC,
		.row = row,
		.status = status,
		.count = count,
		.samples_gpa = (uint64_t)(uintptr_t)samples,
	};

	return res;
}

void report_row(const struct rows_run *r)
{
	struct stats_summary s;

	stats_summarize(r->samples, r->count, &s);
	serial_puts("exitlat: row=");
	serial_puts(exitlat_row_name(r->row));
	serial_puts(" status=");
	serial_puts(status_name(r->status));
	serial_put_kv(" count=", r->count);
	serial_put_kv(" min=", s.min);
	serial_put_kv(" p50=", s.median);
	serial_put_kv(" p99=", s.p99);
	serial_put_kv(" max=", s.max);
	serial_puts("\n");
}

void report_done(uint32_t unexpected)
{
	if (unexpected) {
		/* An interrupt nobody armed woke a halt or WFI, or lengthened a sample: the numbers may show it. */
		serial_put_kv("exitlat: unexpected interrupts=", unexpected);
		serial_puts("\n");
	}
	serial_puts("exitlat: done\n");
}
