/* stats.c: order statistics of TSC samples; freestanding, so the exit-latency guest uses it too. */
#include "stats.h"

static void sift_down(uint64_t *v, size_t root, size_t n)
{
	for (;;) {
		size_t child = 2 * root + 1;
		uint64_t t;

		if (child >= n)
			return;
		if (child + 1 < n && v[child + 1] > v[child])
			child++;
		if (v[root] >= v[child])
			return;
		t = v[root];
		v[root] = v[child];
		v[child] = t;
		root = child;
	}
}

void stats_sort(uint64_t *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(v, i, n);
	for (size_t end = n; end-- > 1;) {
		uint64_t t = v[0];

		v[0] = v[end];
		v[end] = t;
		sift_down(v, 0, end);
	}
}

uint64_t stats_percentile(const uint64_t *sorted, size_t n, unsigned int pct)
{
	/* Nearest rank: the smallest value with at least pct% of the samples at or below it. */
	uint64_t rank = ((uint64_t)n * pct + 99) / 100;

	if (n == 0)
		return 0;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

void stats_summarize(uint64_t *v, size_t n, struct stats_summary *s)
{
	s->count = n;
	if (n == 0) {
		s->min = s->median = s->p99 = s->max = 0;
		return;
	}
	stats_sort(v, n);
	s->min = v[0];
	s->median = stats_percentile(v, n, 50);
	s->p99 = stats_percentile(v, n, 99);
	s->max = v[n - 1];
}
