/* bench.h: "kvmini bench exits": what each kind of VM exit costs, measured by a bare-metal guest. */
#ifndef KVMINI_BENCH_H
#define KVMINI_BENCH_H

#include <stdint.h>

#include "../guest/exitlat/abi.h"
#include "../devices/base/mem.h"

#define BENCH_DEFAULT_ITERATIONS 10000
#define BENCH_MAX_ITERATIONS	 10000000

/*
 * bench_decode: read the result record the guest put at (gpa) in (m): once, into (r), then check
 * it. (*samples) points at its r->count samples in guest RAM (copy them before the guest runs on).
 * Returns 1 for the final record, 0 for a row, -EINVAL with (*why) for anything malformed: bad
 * magic, row or status out of range, more than (max_count) samples, any byte outside RAM.
 */
int bench_decode(const struct gmem *m, uint64_t gpa, uint32_t max_count, struct exitlat_result *r,
		 const uint64_t **samples, const char **why);
/* bench_main: "kvmini bench exits ..." from (argc, argv) at "bench". Returns the exit status. */
int bench_main(int argc, char **argv, uint64_t start_ns);

#endif
