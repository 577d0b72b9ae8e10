/* test_diagnose.c: rates, findings once per episode after their hold time, request queues by type. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "diagnose.h"

#define S 1000000000ULL

Test(diagnose, rate_is_per_second_and_ignores_a_counter_that_goes_back)
{
	cr_assert_eq(diag_rate(100, 1100, S), 1000);
	cr_assert_eq(diag_rate(0, 500, S / 2), 1000);
	cr_assert_eq(diag_rate(0, 3, 3 * S), 1);
	cr_assert_eq(diag_rate(10, 5, S), 0, "a counter that went back is no storm");
	cr_assert_eq(diag_rate(0, 10, 0), 0);
	cr_assert_eq(diag_rate(0, UINT64_MAX, 1000 * S), UINT64_MAX / 1000, "no overflow");
	cr_assert_eq(diag_rate(0, UINT64_MAX, 1), UINT64_MAX, "capped");
}

Test(diagnose, a_finding_is_said_once_after_it_held_long_enough)
{
	struct diag_watch w = { 0 };

	cr_assert_not(diag_update(&w, 1, true, 10 * S, 2 * S), "held 0 s of 2");
	cr_assert_not(diag_update(&w, 1, true, 11 * S, 2 * S), "held 1 s of 2");
	cr_assert(diag_update(&w, 1, true, 12 * S, 2 * S), "held 2 s: said");
	cr_assert_not(diag_update(&w, 1, true, 20 * S, 2 * S), "said once per episode");
	cr_assert_eq(w.count, 1);
	cr_assert_not(diag_update(&w, 2, false, 21 * S, 2 * S), "cleared");
	cr_assert_not(diag_update(&w, 2, true, 22 * S, 2 * S));
	cr_assert(diag_update(&w, 2, true, 24 * S, 2 * S), "a new episode is said again");
}

Test(diagnose, a_finding_without_hold_time_is_said_at_once)
{
	struct diag_watch w = { 0 };

	cr_assert(diag_update(&w, 5, true, S, 0));
	cr_assert_not(diag_update(&w, 6, true, 2 * S, 0));
}

Test(diagnose, request_queues_follow_the_virtio_layouts)
{
	for (unsigned int q = 0; q < 8; q++)
		cr_assert(diag_request_queue("virtio-blk", q), "every blk queue carries requests");
	cr_assert_not(diag_request_queue("virtio-net", 0), "receiveq1 holds buffers for packets");
	cr_assert(diag_request_queue("virtio-net", 1), "transmitq1");
	cr_assert_not(diag_request_queue("virtio-vsock", 0));
	cr_assert(diag_request_queue("virtio-vsock", 1));
	cr_assert_not(diag_request_queue("virtio-vsock", 2), "the event queue");
	cr_assert_not(diag_request_queue("virtio-gpu", 0), "unknown: no alarm");
}

Test(diagnose, a_driver_behind_the_used_index_wraps_with_it)
{
	cr_assert_not(diag_index_behind(100, 100), "all taken");
	cr_assert(diag_index_behind(100, 101), "one completion not taken");
	cr_assert(diag_index_behind(65535, 2), "across the wrap");
	cr_assert_not(diag_index_behind(2, 65535), "ahead of it is not behind");
	cr_assert(diag_index_behind(0, 300),
		  "Linux's used_event 0 while it polls: behind, until it takes them");
}
