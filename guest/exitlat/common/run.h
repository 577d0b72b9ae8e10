/* run.h: one row's run: what each architecture's rows_measure() fills in and report_row() prints. */
#ifndef EXITLAT_RUN_H
#define EXITLAT_RUN_H

#include <stdint.h>

struct rows_cpu; /* the architecture's rows.h: what its rows need to know of the CPU */

struct rows_run {
	uint32_t row; /* enum exitlat_row */
	const struct rows_cpu *cpu;
	uint64_t *samples; /* room for (iterations) samples */
	uint32_t iterations;
	uint32_t count;	 /* out: samples taken */
	uint32_t status; /* out: enum exitlat_status */
	int64_t ret;	 /* out, arm64's hvc row: what the last call returned (-1: NOT_SUPPORTED) */
};

#endif
