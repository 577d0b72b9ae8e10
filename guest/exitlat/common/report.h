/* report.h: what the guest tells the host: result records (kvmini) and console lines (kvmini, scripts/bench-exits). */
#ifndef EXITLAT_REPORT_H
#define EXITLAT_REPORT_H

#include <stdint.h>

#include "abi.h"
#include "run.h"

/*
 * report_record: the result record of (row): (status), (count) samples at (samples), which must be
 * their guest-physical address too (x86: paging off; arm64: identity-mapped). The architecture's
 * main.c hands its address to kvmini (x86: a port, arm64: an MMIO write).
 */
struct exitlat_result report_record(uint32_t row, uint32_t status, uint32_t count, const uint64_t *samples);
/*
 * report_row: print (r)'s line, "exitlat: row=NAME status=S count=N min=A p50=B p99=C max=D".
 * Summarising sorts (r)'s samples in place: hand them to kvmini first.
 */
void report_row(const struct rows_run *r);
/* report_done: print how many interrupts nobody armed came in (when (unexpected) is not 0), then "exitlat: done". */
void report_done(uint32_t unexpected);

#endif
