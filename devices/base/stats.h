/* stats.h: order statistics of TSC samples; freestanding, so the exit-latency guest uses it too. */
#ifndef KVMINI_STATS_H
#define KVMINI_STATS_H

#include <stddef.h>
#include <stdint.h>

struct stats_summary {
	uint64_t min, median, p99, max;
	uint64_t count;
};

/* stats_sort: sort (n) values at (v) ascending, in place (heapsort: no recursion, no allocation). */
void stats_sort(uint64_t *v, size_t n);
/* stats_percentile: the nearest-rank (pct)th percentile, 0 < pct <= 100, of (n) > 0 sorted values. */
uint64_t stats_percentile(const uint64_t *sorted, size_t n, unsigned int pct);
/* stats_summarize: sort (v) and fill (s); all zero when (n) is 0. */
void stats_summarize(uint64_t *v, size_t n, struct stats_summary *s);

#endif
