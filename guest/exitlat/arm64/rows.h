/* rows.h: timing each row's operation: (t1 - t0) around exactly one of them, per iteration. */
#ifndef EXITLAT_ARM64_ROWS_H
#define EXITLAT_ARM64_ROWS_H

#include <stdint.h>

#include "run.h"

/* A wait longer than this many seconds of the counter marks its row EXITLAT_TIMEOUT: a stall. */
#define ROWS_BUDGET_SECONDS 4

struct rows_cpu {
	uint64_t budget; /* ROWS_BUDGET_SECONDS in counter ticks */
	uint64_t hz;	 /* the counter's frequency */
	uint32_t cpus;	 /* vCPUs there are: the ipi row needs 2 */
};

/* rows_measure: take the samples of the row (r) names and set its count and status. */
void rows_measure(struct rows_run *r);

#endif
