/* test_stats.c: stats_sort() against qsort(), nearest-rank percentiles, and summaries. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define MAX_N 1000

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* A fixed-seed xorshift64: the same "random" arrays on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Sorts a copy of (v) with qsort() and with stats_sort(), and requires the same result. */
static void assert_sorts_like_qsort(const uint64_t *v, size_t n)
{
	static uint64_t want[MAX_N], got[MAX_N];

	memcpy(want, v, n * sizeof(*v));
	memcpy(got, v, n * sizeof(*v));
	qsort(want, n, sizeof(*want), cmp_u64);
	stats_sort(got, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "n %zu: [%zu] is %llu, want %llu", n, i,
			     (unsigned long long)got[i], (unsigned long long)want[i]);
}

Test(stats, sort_of_nothing_touches_nothing)
{
	uint64_t v[1] = { 42 };

	stats_sort(v, 0);
	stats_sort(NULL, 0);
	cr_assert_eq(v[0], 42);
}

Test(stats, sort_of_one_value_keeps_it)
{
	uint64_t v[2] = { 7, 3 };

	stats_sort(v, 1);
	cr_assert_eq(v[0], 7);
	cr_assert_eq(v[1], 3, "sorted past the end");
}

Test(stats, sort_of_two_values_orders_them)
{
	uint64_t v[2] = { 9, 2 };

	stats_sort(v, 2);
	cr_assert_eq(v[0], 2);
	cr_assert_eq(v[1], 9);
}

Test(stats, sort_of_sorted_values_keeps_them)
{
	uint64_t v[MAX_N];

	for (size_t i = 0; i < MAX_N; i++)
		v[i] = i * 3;
	stats_sort(v, MAX_N);
	for (size_t i = 0; i < MAX_N; i++)
		cr_assert_eq(v[i], i * 3);
}

Test(stats, sort_of_reversed_values_reverses_them)
{
	uint64_t v[MAX_N];

	for (size_t i = 0; i < MAX_N; i++)
		v[i] = MAX_N - i;
	stats_sort(v, MAX_N);
	for (size_t i = 0; i < MAX_N; i++)
		cr_assert_eq(v[i], i + 1);
}

Test(stats, sort_of_equal_values_keeps_them)
{
	uint64_t v[MAX_N];

	for (size_t i = 0; i < MAX_N; i++)
		v[i] = 5;
	stats_sort(v, MAX_N);
	for (size_t i = 0; i < MAX_N; i++)
		cr_assert_eq(v[i], 5);
}

Test(stats, sort_with_many_duplicates_matches_qsort)
{
	uint64_t v[MAX_N];

	for (size_t n = 1; n <= MAX_N; n++) {
		for (size_t i = 0; i < n; i++)
			v[i] = rng() % 4;
		assert_sorts_like_qsort(v, n);
	}
}

Test(stats, sort_of_random_arrays_of_every_size_up_to_1000_matches_qsort)
{
	uint64_t v[MAX_N];

	for (size_t n = 1; n <= MAX_N; n++) {
		for (size_t i = 0; i < n; i++)
			v[i] = rng() % 100000;
		assert_sorts_like_qsort(v, n);
	}
}

Test(stats, sort_of_full_range_values_matches_qsort)
{
	/* Values near 0 and UINT64_MAX: a comparison by subtraction would get these wrong. */
	uint64_t v[MAX_N];

	for (size_t n = 1; n <= MAX_N; n += 37) {
		for (size_t i = 0; i < n; i++)
			v[i] = i % 3 == 0 ? UINT64_MAX - rng() % 4 : i % 3 == 1 ? rng() % 4 : rng();
		assert_sorts_like_qsort(v, n);
	}
}

Test(stats, percentile_of_one_value_is_that_value)
{
	const uint64_t v[1] = { 123 };

	cr_assert_eq(stats_percentile(v, 1, 1), 123);
	cr_assert_eq(stats_percentile(v, 1, 50), 123);
	cr_assert_eq(stats_percentile(v, 1, 99), 123);
	cr_assert_eq(stats_percentile(v, 1, 100), 123);
}

Test(stats, percentiles_of_1_to_100_are_their_rank)
{
	uint64_t v[100];

	for (int i = 0; i < 100; i++)
		v[i] = (uint64_t)i + 1;
	cr_assert_eq(stats_percentile(v, 100, 1), 1);
	cr_assert_eq(stats_percentile(v, 100, 50), 50);
	cr_assert_eq(stats_percentile(v, 100, 99), 99);
	cr_assert_eq(stats_percentile(v, 100, 100), 100);
}

Test(stats, p99_of_ten_values_is_the_tenth)
{
	const uint64_t v[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 1000 };

	/* Nearest rank: ceil(10 * 0.99) = 10, the largest. */
	cr_assert_eq(stats_percentile(v, 10, 99), 1000);
}

Test(stats, median_of_ten_values_is_the_fifth)
{
	const uint64_t v[10] = { 10, 20, 30, 40, 50, 60, 70, 80, 90, 100 };

	/* ceil(10 * 0.5) = 5: the lower middle value, not an average of two. */
	cr_assert_eq(stats_percentile(v, 10, 50), 50);
}

Test(stats, percentile_rounds_the_rank_up)
{
	const uint64_t v[3] = { 1, 2, 3 };

	cr_assert_eq(stats_percentile(v, 3, 33), 1);
	cr_assert_eq(stats_percentile(v, 3, 34), 2);
	cr_assert_eq(stats_percentile(v, 3, 67), 3);
}

Test(stats, percentile_of_no_values_is_zero)
{
	cr_assert_eq(stats_percentile(NULL, 0, 50), 0);
}

Test(stats, summarize_gives_min_median_p99_max_and_count)
{
	uint64_t v[100];
	struct stats_summary s;

	/* 1..100, shuffled: the summary sorts first. */
	for (int i = 0; i < 100; i++)
		v[i] = (uint64_t)(i * 37 % 100) + 1;
	stats_summarize(v, 100, &s);
	cr_assert_eq(s.count, 100);
	cr_assert_eq(s.min, 1);
	cr_assert_eq(s.median, 50);
	cr_assert_eq(s.p99, 99);
	cr_assert_eq(s.max, 100);
}

Test(stats, summarize_leaves_the_values_sorted)
{
	uint64_t v[5] = { 50, 10, 40, 20, 30 };
	struct stats_summary s;

	stats_summarize(v, 5, &s);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(v[i], (uint64_t)(i + 1) * 10);
}

Test(stats, summarize_of_one_value_is_that_value_throughout)
{
	uint64_t v[1] = { 77 };
	struct stats_summary s;

	stats_summarize(v, 1, &s);
	cr_assert_eq(s.count, 1);
	cr_assert_eq(s.min, 77);
	cr_assert_eq(s.median, 77);
	cr_assert_eq(s.p99, 77);
	cr_assert_eq(s.max, 77);
}

Test(stats, summarize_of_no_values_is_all_zero)
{
	struct stats_summary s;

	memset(&s, 0xa5, sizeof(s));
	stats_summarize(NULL, 0, &s);
	cr_assert_eq(s.count, 0);
	cr_assert_eq(s.min, 0);
	cr_assert_eq(s.median, 0);
	cr_assert_eq(s.p99, 0);
	cr_assert_eq(s.max, 0);
}
