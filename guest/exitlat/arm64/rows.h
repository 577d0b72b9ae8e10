/* rows.h: timing each row's operation: (t1 - t0) around exactly one of them, per iteration. */
#ifndef EXITLAT_ARM64_ROWS_H
#define EXITLAT_ARM64_ROWS_H

#include <stdint.h>

/* A wait longer than this many seconds of the counter marks its row EXITLAT_TIMEOUT: a stall. */
#define ROWS_BUDGET_SECONDS 4

struct rows_cpu {
	uint64_t budget; /* ROWS_BUDGET_SECONDS in counter ticks */
	uint64_t hz;	 /* the counter's frequency */
	uint32_t cpus;	 /* vCPUs there are: the ipi row needs 2 */
};

struct rows_run {
	uint32_t row; /* enum exitlat_row */
	const struct rows_cpu *cpu;
	uint64_t *samples; /* room for (iterations) samples */
	uint32_t iterations;
	uint32_t count;	 /* out: samples taken */
	uint32_t status; /* out: enum exitlat_status */
	int64_t hvc_ret; /* out, hvc row: what the last call returned (-1: NOT_SUPPORTED) */
};

/* rows_measure: take the samples of the row (r) names and set its count and status. */
void rows_measure(struct rows_run *r);

#endif
