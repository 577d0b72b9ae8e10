/* test_virtq.c: the split-virtqueue core against a driver written out here, well-behaved and hostile. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "guest_ram.h"
#include "mem.h"
#include "virtio/virtq.h"

#define MIB	 (1ULL << 20)
#define GIB	 (1ULL << 30)
#define FOUR_GIB 0x100000000ULL

/* Two regions, [0, 4 MiB) and [4 GiB, 4 GiB + 4 MiB), so that a range can straddle the hole. */
#define RAM_SIZE   (8 * MIB)
#define HOLE_START (4 * MIB)
#define HIGH_END   (FOUR_GIB + RAM_SIZE - HOLE_START)

/* Where the test's driver lays out its queue; room for 512 descriptors in each table. */
#define DESC_GPA     0x10000ULL
#define AVAIL_GPA    0x20000ULL
#define USED_GPA     0x30000ULL
#define INDIRECT_GPA 0x40000ULL
#define BUF_GPA	     0x100000ULL

#define F_INDIRECT  (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT_IDX (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define NEXT	    VIRTQ_DESC_F_NEXT
#define WRITE	    VIRTQ_DESC_F_WRITE
#define INDIRECT    VIRTQ_DESC_F_INDIRECT

static struct gmem m;
static struct virtq q;
static struct virtq_chain c;
static uint16_t qsize;
static uint16_t drv_avail_idx; /* the driver's next avail->idx */

static void create_ram(void)
{
	cr_assert_eq(gmem_create(&m, 0, RAM_SIZE, HOLE_START), 0);
	memset(&q, 0, sizeof(q));
}

static void destroy_ram(void)
{
	gmem_destroy(&m);
}

TestSuite(virtq, .init = create_ram, .fini = destroy_ram);

/* The test's guest RAM (guest_ram.h) */
#define ram(gpa, len) ram_at(&m, (gpa), (len))
#define put16(gpa, v) ram_put16(&m, (gpa), (v))
#define get16(gpa)    ram_get16(&m, (gpa))
#define get32(gpa)    ram_get32(&m, (gpa))

/* The driver's side of setup: zeroed rings of (size) entries, then the device configures them. */
static void setup_queue(uint16_t size, uint64_t features)
{
	qsize = size;
	drv_avail_idx = 0;
	memset(ram(DESC_GPA, 16ULL * size), 0, 16ULL * size);
	memset(ram(AVAIL_GPA, 6 + 2ULL * size), 0, 6 + 2ULL * size);
	memset(ram(USED_GPA, 6 + 8ULL * size), 0, 6 + 8ULL * size);
	cr_assert_eq(virtq_configure(&q, &m, size, DESC_GPA, AVAIL_GPA, USED_GPA, features), 0);
}

static void put_desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(ram(table + 16ULL * i, 16), &d, 16);
}

static void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	put_desc(DESC_GPA, i, addr, len, flags, next);
}

/* Offer the chain at (head): ring entry first, then avail->idx, as a driver does. */
static void publish(uint16_t head)
{
	put16(AVAIL_GPA + 4 + 2ULL * (drv_avail_idx % qsize), head);
	drv_avail_idx++;
	put16(AVAIL_GPA + 2, drv_avail_idx);
}

static uint16_t used_idx(void)
{
	return get16(USED_GPA + 2);
}

static void set_used_event(uint16_t v)
{
	put16(AVAIL_GPA + 4 + 2ULL * qsize, v);
}

/* The driver broke a rule: pop says so, and keeps saying so. */
static void assert_pop_breaks(void)
{
	cr_assert_eq(virtq_pop(&q, &c), -EINVAL);
	cr_assert(q.broken);
	cr_assert_eq(virtq_pop(&q, &c), -EINVAL);
}

/* A one-buffer chain at descriptor (i), for tests about the ring rather than the chain. */
static void publish_simple(uint16_t i)
{
	set_desc(i, BUF_GPA + 0x1000ULL * i, 64, WRITE, 0);
	publish(i);
}

/* configure */

Test(virtq, configure_accepts_valid_rings)
{
	cr_assert_eq(virtq_configure(&q, &m, 256, DESC_GPA, AVAIL_GPA, USED_GPA, 0), 0);
	cr_assert_eq(q.size, 256);
	cr_assert_not(q.broken);
	cr_assert_eq(q.last_avail, 0);
	cr_assert_eq(q.used_idx, 0);
}

Test(virtq, configure_accepts_size_1_and_max_size)
{
	cr_assert_eq(virtq_configure(&q, &m, 1, DESC_GPA, AVAIL_GPA, USED_GPA, 0), 0);
	cr_assert_eq(virtq_configure(&q, &m, VIRTQ_MAX_SIZE, 0x100000, 0x200000, 0x300000, 0), 0);
}

Test(virtq, configure_rejects_size_zero)
{
	cr_assert_eq(virtq_configure(&q, &m, 0, DESC_GPA, AVAIL_GPA, USED_GPA, 0), -EINVAL);
}

Test(virtq, configure_rejects_non_power_of_two_size)
{
	static const uint16_t sizes[] = { 3, 100, 255, 257, 12288, 65535 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		cr_assert_eq(virtq_configure(&q, &m, sizes[i], DESC_GPA, AVAIL_GPA, USED_GPA, 0), -EINVAL,
			     "size %u", sizes[i]);
}

Test(virtq, configure_rejects_misaligned_rings)
{
	cr_assert_eq(virtq_configure(&q, &m, 8, DESC_GPA + 8, AVAIL_GPA, USED_GPA, 0), -EINVAL);
	cr_assert_eq(virtq_configure(&q, &m, 8, DESC_GPA, AVAIL_GPA + 1, USED_GPA, 0), -EINVAL);
	cr_assert_eq(virtq_configure(&q, &m, 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2, 0), -EINVAL);
	/* The minimum alignments themselves are fine. */
	cr_assert_eq(virtq_configure(&q, &m, 8, DESC_GPA + 16, AVAIL_GPA + 2, USED_GPA + 4, 0), 0);
}

Test(virtq, configure_rejects_desc_table_past_end_of_ram)
{
	cr_assert_eq(virtq_configure(&q, &m, 8, HIGH_END - 16 * 7, AVAIL_GPA, USED_GPA, 0), -EINVAL);
	cr_assert_eq(virtq_configure(&q, &m, 8, HIGH_END - 16 * 8, AVAIL_GPA, USED_GPA, 0), 0);
}

Test(virtq, configure_counts_used_event_in_avail_ring)
{
	/* flags, idx and ring[8] fit, used_event would not. */
	cr_assert_eq(virtq_configure(&q, &m, 8, DESC_GPA, HIGH_END - (4 + 2 * 8), USED_GPA, 0), -EINVAL);
	cr_assert_eq(virtq_configure(&q, &m, 8, DESC_GPA, HIGH_END - (6 + 2 * 8), USED_GPA, 0), 0);
}

Test(virtq, configure_counts_avail_event_in_used_ring)
{
	/* 4 + 8 * 8 = 68 bytes fit, avail_event would not; HIGH_END - 68 is 4-aligned. */
	cr_assert_eq(virtq_configure(&q, &m, 8, DESC_GPA, AVAIL_GPA, HIGH_END - (4 + 8 * 8), 0), -EINVAL);
	cr_assert_eq(virtq_configure(&q, &m, 8, DESC_GPA, AVAIL_GPA, HIGH_END - (8 + 8 * 8), 0), 0);
}

Test(virtq, configure_rejects_ring_straddling_mmio_hole)
{
	cr_assert_eq(virtq_configure(&q, &m, 8, HOLE_START - 64, AVAIL_GPA, USED_GPA, 0), -EINVAL);
}

Test(virtq, configure_rejects_ring_in_mmio_hole)
{
	cr_assert_eq(virtq_configure(&q, &m, 8, DESC_GPA, AVAIL_GPA, HOLE_START + 0x1000, 0), -EINVAL);
}

Test(virtq, failed_configure_leaves_queue_broken)
{
	setup_queue(8, 0);
	publish_simple(0);
	cr_assert_eq(virtq_configure(&q, &m, 3, DESC_GPA, AVAIL_GPA, USED_GPA, 0), -EINVAL);
	assert_pop_breaks();
	cr_assert_eq(virtq_push(&q, 0, 0), -EINVAL);
}

Test(virtq, unconfigured_queue_pops_einval)
{
	cr_assert_eq(virtq_pop(&q, &c), -EINVAL);
}

/* pop and push */

Test(virtq, pop_empty_queue_returns_0)
{
	setup_queue(8, 0);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	cr_assert_not(q.broken);
}

Test(virtq, pop_one_chain_readable_then_writable)
{
	setup_queue(8, 0);
	set_desc(2, BUF_GPA, 16, NEXT, 5);
	set_desc(5, BUF_GPA + 0x1000, 512, NEXT, 1);
	set_desc(1, BUF_GPA + 0x2000, 1, WRITE, 0);
	publish(2);

	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.head, 2);
	cr_assert_eq(c.nbufs, 3);
	cr_assert_eq(c.bufs[0].host, ram(BUF_GPA, 16));
	cr_assert_eq(c.bufs[0].len, 16);
	cr_assert_not(c.bufs[0].device_writable);
	cr_assert_eq(c.bufs[1].host, ram(BUF_GPA + 0x1000, 512));
	cr_assert_eq(c.bufs[1].len, 512);
	cr_assert_not(c.bufs[1].device_writable);
	cr_assert_eq(c.bufs[2].host, ram(BUF_GPA + 0x2000, 1));
	cr_assert_eq(c.bufs[2].len, 1);
	cr_assert(c.bufs[2].device_writable);
	cr_assert_eq(c.readable, 528);
	cr_assert_eq(c.writable, 1);
	cr_assert_eq(virtq_pop(&q, &c), 0);
}

Test(virtq, pop_returns_chains_in_avail_order)
{
	static const uint16_t heads[] = { 5, 2, 7 };

	setup_queue(8, 0);
	for (int i = 0; i < 3; i++)
		publish_simple(heads[i]);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(virtq_pop(&q, &c), 1);
		cr_assert_eq(c.head, heads[i]);
		cr_assert_eq(c.bufs[0].host, ram(BUF_GPA + 0x1000ULL * heads[i], 64));
	}
	cr_assert_eq(virtq_pop(&q, &c), 0);
}

Test(virtq, indices_wrap_at_65536)
{
	setup_queue(4, 0);
	for (uint32_t n = 0; n < 70000; n++) {
		uint16_t head = n % 4;

		publish_simple(head);
		cr_assert_eq(virtq_pop(&q, &c), 1, "at %u", n);
		cr_assert_eq(c.head, head);
		cr_assert_eq(virtq_push(&q, head, n), 0);
		cr_assert_eq(used_idx(), (uint16_t)(n + 1));
	}
	cr_assert_eq(virtq_pop(&q, &c), 0);
	/* The last element went to slot 69999 % 4. */
	cr_assert_eq(get32(USED_GPA + 4 + 8 * 3), 3);
	cr_assert_eq(get32(USED_GPA + 4 + 8 * 3 + 4), 69999);
}

Test(virtq, pop_indirect_chain)
{
	setup_queue(8, F_INDIRECT);
	put_desc(INDIRECT_GPA, 0, BUF_GPA, 16, NEXT, 2);
	put_desc(INDIRECT_GPA, 2, BUF_GPA + 0x1000, 4096, NEXT | WRITE, 1);
	put_desc(INDIRECT_GPA, 1, BUF_GPA + 0x2000, 1, WRITE, 0);
	set_desc(3, INDIRECT_GPA, 3 * 16, INDIRECT, 0);
	publish(3);

	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.head, 3);
	cr_assert_eq(c.nbufs, 3);
	cr_assert_eq(c.bufs[0].host, ram(BUF_GPA, 16));
	cr_assert_not(c.bufs[0].device_writable);
	cr_assert_eq(c.bufs[1].host, ram(BUF_GPA + 0x1000, 4096));
	cr_assert(c.bufs[1].device_writable);
	cr_assert_eq(c.bufs[2].len, 1);
	cr_assert_eq(c.readable, 16);
	cr_assert_eq(c.writable, 4097);
}

Test(virtq, pop_direct_descriptors_then_indirect_table)
{
	setup_queue(8, F_INDIRECT);
	set_desc(0, BUF_GPA, 16, NEXT, 1);
	set_desc(1, INDIRECT_GPA, 2 * 16, INDIRECT, 0);
	put_desc(INDIRECT_GPA, 0, BUF_GPA + 0x1000, 8, NEXT, 1);
	put_desc(INDIRECT_GPA, 1, BUF_GPA + 0x2000, 1, WRITE, 0);
	publish(0);

	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.nbufs, 3);
	cr_assert_eq(c.readable, 24);
	cr_assert_eq(c.writable, 1);
}

Test(virtq, indirect_descriptor_write_flag_is_ignored)
{
	setup_queue(8, F_INDIRECT);
	set_desc(0, INDIRECT_GPA, 16, INDIRECT | WRITE, 0);
	put_desc(INDIRECT_GPA, 0, BUF_GPA, 16, 0, 0);
	publish(0);

	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.nbufs, 1);
	cr_assert_not(c.bufs[0].device_writable);
}

Test(virtq, pop_zero_length_buffer_in_ram_is_fine)
{
	setup_queue(8, 0);
	set_desc(0, BUF_GPA, 0, 0, 0);
	publish(0);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.bufs[0].len, 0);
}

Test(virtq, pop_buffer_in_high_ram_is_fine)
{
	setup_queue(8, 0);
	set_desc(0, HIGH_END - 4096, 4096, WRITE, 0);
	publish(0);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.bufs[0].host, ram(HIGH_END - 4096, 4096));
}

Test(virtq, push_writes_used_element_and_publishes_idx)
{
	setup_queue(8, 0);
	publish_simple(3);
	publish_simple(6);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(virtq_pop(&q, &c), 1);

	cr_assert_eq(virtq_push(&q, 6, 42), 0);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(get32(USED_GPA + 4), 6);
	cr_assert_eq(get32(USED_GPA + 8), 42);
	cr_assert_eq(virtq_push(&q, 3, 0), 0);
	cr_assert_eq(used_idx(), 2);
	cr_assert_eq(get32(USED_GPA + 12), 3);
	cr_assert_eq(get32(USED_GPA + 16), 0);
}

Test(virtq, push_rejects_head_out_of_range)
{
	setup_queue(8, 0);
	cr_assert_eq(virtq_push(&q, 8, 0), -EINVAL);
	cr_assert_eq(used_idx(), 0);
}

Test(virtq, push_n_writes_elements_in_order_and_publishes_idx_once)
{
	static const uint16_t heads[] = { 5, 1, 7 };
	static const uint32_t lens[] = { 100, 0, 64 };

	setup_queue(8, 0);
	for (int i = 0; i < 3; i++)
		publish_simple(heads[i]);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(virtq_pop(&q, &c), 1);
	/* used->idx still 0 until the call: the driver cannot see a prefix of the batch. */
	cr_assert_eq(used_idx(), 0);
	cr_assert_eq(virtq_push_n(&q, heads, lens, 3), 0);
	cr_assert_eq(used_idx(), 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(get32(USED_GPA + 4 + 8 * i), heads[i]);
		cr_assert_eq(get32(USED_GPA + 8 + 8 * i), lens[i]);
	}
	cr_assert_eq(q.in_flight, 0);
}

Test(virtq, push_n_with_a_head_out_of_range_pushes_nothing)
{
	static const uint16_t heads[] = { 2, 8 };
	static const uint32_t lens[] = { 1, 1 };

	setup_queue(8, 0);
	cr_assert_eq(virtq_push_n(&q, heads, lens, 2), -EINVAL);
	cr_assert_eq(used_idx(), 0);
	cr_assert_eq(get32(USED_GPA + 4), 0);
}

/* a hostile driver */

Test(virtq, avail_idx_exactly_size_ahead_is_fine)
{
	setup_queue(4, 0);
	for (uint16_t i = 0; i < 4; i++)
		publish_simple(i);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(virtq_pop(&q, &c), 0);
}

Test(virtq, avail_idx_more_than_size_ahead_breaks)
{
	setup_queue(4, 0);
	publish_simple(0);
	put16(AVAIL_GPA + 2, 5);
	assert_pop_breaks();
}

Test(virtq, avail_idx_moving_back_breaks)
{
	setup_queue(4, 0);
	publish_simple(0);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	put16(AVAIL_GPA + 2, 0);
	assert_pop_breaks();
}

Test(virtq, head_out_of_range_breaks)
{
	setup_queue(8, 0);
	publish(8);
	assert_pop_breaks();
}

Test(virtq, next_out_of_range_breaks)
{
	setup_queue(8, 0);
	set_desc(0, BUF_GPA, 16, NEXT, 8);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, readable_after_writable_breaks)
{
	setup_queue(8, 0);
	set_desc(0, BUF_GPA, 16, NEXT | WRITE, 1);
	set_desc(1, BUF_GPA, 16, 0, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, readable_after_writable_across_indirect_table_breaks)
{
	setup_queue(8, F_INDIRECT);
	set_desc(0, BUF_GPA, 16, NEXT | WRITE, 1);
	set_desc(1, INDIRECT_GPA, 16, INDIRECT, 0);
	put_desc(INDIRECT_GPA, 0, BUF_GPA, 16, 0, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, indirect_not_negotiated_breaks)
{
	setup_queue(8, 0);
	set_desc(0, INDIRECT_GPA, 16, INDIRECT, 0);
	put_desc(INDIRECT_GPA, 0, BUF_GPA, 16, 0, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, indirect_inside_indirect_breaks)
{
	setup_queue(8, F_INDIRECT);
	set_desc(0, INDIRECT_GPA, 16, INDIRECT, 0);
	put_desc(INDIRECT_GPA, 0, INDIRECT_GPA + 0x1000, 16, INDIRECT, 0);
	put_desc(INDIRECT_GPA + 0x1000, 0, BUF_GPA, 16, 0, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, indirect_with_next_breaks)
{
	setup_queue(8, F_INDIRECT);
	set_desc(0, INDIRECT_GPA, 16, INDIRECT | NEXT, 1);
	set_desc(1, BUF_GPA, 16, WRITE, 0);
	put_desc(INDIRECT_GPA, 0, BUF_GPA, 16, 0, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, indirect_len_not_multiple_of_16_breaks)
{
	setup_queue(8, F_INDIRECT);
	set_desc(0, INDIRECT_GPA, 24, INDIRECT, 0);
	put_desc(INDIRECT_GPA, 0, BUF_GPA, 16, 0, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, indirect_len_zero_breaks)
{
	setup_queue(8, F_INDIRECT);
	set_desc(0, INDIRECT_GPA, 0, INDIRECT, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, indirect_table_larger_than_queue_breaks)
{
	setup_queue(8, F_INDIRECT);
	put_desc(INDIRECT_GPA, 0, BUF_GPA, 16, 0, 0);
	set_desc(0, INDIRECT_GPA, 9 * 16, INDIRECT, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, indirect_table_of_queue_size_is_fine)
{
	setup_queue(8, F_INDIRECT);
	for (uint16_t i = 0; i < 8; i++)
		put_desc(INDIRECT_GPA, i, BUF_GPA, 16, i < 7 ? NEXT : 0, i + 1);
	set_desc(0, INDIRECT_GPA, 8 * 16, INDIRECT, 0);
	publish(0);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.nbufs, 8);
}

Test(virtq, indirect_table_past_end_of_ram_breaks)
{
	setup_queue(8, F_INDIRECT);
	set_desc(0, HIGH_END - 16, 32, INDIRECT, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, indirect_next_out_of_table_breaks)
{
	setup_queue(8, F_INDIRECT);
	put_desc(INDIRECT_GPA, 0, BUF_GPA, 16, NEXT, 2);
	put_desc(INDIRECT_GPA, 1, BUF_GPA, 16, 0, 0);
	put_desc(INDIRECT_GPA, 2, BUF_GPA, 16, 0, 0); /* in RAM, but past the table's len */
	set_desc(0, INDIRECT_GPA, 2 * 16, INDIRECT, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, indirect_loop_breaks)
{
	setup_queue(8, F_INDIRECT);
	put_desc(INDIRECT_GPA, 0, BUF_GPA, 16, NEXT, 1);
	put_desc(INDIRECT_GPA, 1, BUF_GPA, 16, NEXT, 0);
	set_desc(0, INDIRECT_GPA, 2 * 16, INDIRECT, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, two_descriptor_loop_breaks)
{
	setup_queue(8, 0);
	set_desc(0, BUF_GPA, 16, NEXT, 1);
	set_desc(1, BUF_GPA, 16, NEXT, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, self_loop_breaks)
{
	setup_queue(8, 0);
	set_desc(4, BUF_GPA, 16, NEXT, 4);
	publish(4);
	assert_pop_breaks();
}

Test(virtq, chain_of_size_plus_one_breaks)
{
	/* Every descriptor once, then back to the head: size + 1 descriptors. */
	setup_queue(8, 0);
	for (uint16_t i = 0; i < 8; i++)
		set_desc(i, BUF_GPA, 16, NEXT, (i + 1) % 8);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, chain_of_exactly_size_is_fine)
{
	setup_queue(8, 0);
	for (uint16_t i = 0; i < 8; i++)
		set_desc(i, BUF_GPA, 16, i < 7 ? NEXT : 0, i + 1);
	publish(0);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.nbufs, 8);
	cr_assert_eq(c.readable, 8 * 16);
}

Test(virtq, chain_of_chain_max_is_fine)
{
	setup_queue(512, 0);
	for (uint16_t i = 0; i < VIRTQ_CHAIN_MAX; i++)
		set_desc(i, BUF_GPA, 16, i < VIRTQ_CHAIN_MAX - 1 ? NEXT : 0, i + 1);
	publish(0);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.nbufs, VIRTQ_CHAIN_MAX);
}

Test(virtq, chain_over_chain_max_breaks)
{
	setup_queue(512, 0);
	for (uint16_t i = 0; i <= VIRTQ_CHAIN_MAX; i++)
		set_desc(i, BUF_GPA, 16, i < VIRTQ_CHAIN_MAX ? NEXT : 0, i + 1);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, buffer_past_end_of_ram_breaks)
{
	setup_queue(8, 0);
	set_desc(0, HIGH_END - 8, 16, WRITE, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, buffer_straddling_mmio_hole_breaks)
{
	setup_queue(8, 0);
	set_desc(0, HOLE_START - 8, 16, 0, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, buffer_in_mmio_hole_breaks)
{
	setup_queue(8, 0);
	set_desc(0, HOLE_START + 0x1000, 16, 0, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, buffer_wrapping_address_space_breaks)
{
	setup_queue(8, 0);
	set_desc(0, UINT64_MAX - 7, 16, 0, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, zero_length_buffer_outside_ram_breaks)
{
	setup_queue(8, 0);
	set_desc(0, HIGH_END, 0, 0, 0);
	publish(0);
	assert_pop_breaks();
}

Test(virtq, broken_queue_stays_broken_until_reconfigured)
{
	setup_queue(8, 0);
	publish(8);
	assert_pop_breaks();
	/* The driver mends the entry: too late, the device must be reset. */
	set_desc(0, BUF_GPA, 16, 0, 0);
	put16(AVAIL_GPA + 4, 0);
	cr_assert_eq(virtq_pop(&q, &c), -EINVAL);
	cr_assert(virtq_has_more(&q));

	setup_queue(8, 0);
	publish_simple(0);
	cr_assert_eq(virtq_pop(&q, &c), 1);
}

/* A chain over 4 GiB in total, in lazily backed RAM large enough for a few huge buffers. */
static void big_desc(struct gmem *big, uint16_t i, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = GIB, .len = len, .flags = flags, .next = next };

	memcpy(gmem_ptr(big, DESC_GPA + 16ULL * i, 16), &d, 16);
}

static void big_publish(struct gmem *big, uint16_t slot, uint16_t head)
{
	uint16_t idx = slot + 1;

	memcpy(gmem_ptr(big, AVAIL_GPA + 4 + 2ULL * slot, 2), &head, 2);
	memcpy(gmem_ptr(big, AVAIL_GPA + 2, 2), &idx, 2);
}

Test(virtq_big, chain_over_4gib_in_total_breaks)
{
	struct gmem big;

	cr_assert_eq(gmem_create(&big, 0, 3 * GIB, 3 * GIB), 0);
	cr_assert_eq(virtq_configure(&q, &big, 4, DESC_GPA, AVAIL_GPA, USED_GPA, 0), 0);
	/* Exactly UINT32_MAX bytes is fine... */
	big_desc(&big, 0, 0x80000000u, NEXT, 1);
	big_desc(&big, 1, 0x7fffffffu, WRITE, 0);
	big_publish(&big, 0, 0);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.readable, 0x80000000u);
	cr_assert_eq(c.writable, 0x7fffffffu);

	/* ...one byte more is not. */
	big_desc(&big, 1, 0x7fffffffu, NEXT | WRITE, 2);
	big_desc(&big, 2, 1, WRITE, 0);
	big_publish(&big, 1, 0);
	cr_assert_eq(virtq_pop(&q, &c), -EINVAL);
	cr_assert(q.broken);
	gmem_destroy(&big);
}

/* used-buffer notifications */

/* Pop and push (n) one-buffer chains. */
static void complete(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		publish_simple(0);
		cr_assert_eq(virtq_pop(&q, &c), 1);
		cr_assert_eq(virtq_push(&q, c.head, 0), 0);
	}
}

Test(virtq, event_idx_first_decision_notifies)
{
	setup_queue(8, F_EVENT_IDX);
	set_used_event(5);
	complete(1);
	cr_assert(virtq_should_notify(&q));
}

Test(virtq, event_idx_used_event_not_reached_is_quiet)
{
	setup_queue(8, F_EVENT_IDX);
	set_used_event(2);
	complete(1);
	virtq_should_notify(&q);
	complete(1); /* used->idx 2: entry 1 written, the driver waits for entry 2 */
	cr_assert_not(virtq_should_notify(&q));
}

Test(virtq, event_idx_used_event_reached_notifies)
{
	setup_queue(8, F_EVENT_IDX);
	set_used_event(2);
	complete(2);
	virtq_should_notify(&q);
	complete(1); /* used->idx 3: entry 2 written */
	cr_assert(virtq_should_notify(&q));
	complete(1); /* entry 3: past it, and already told */
	cr_assert_not(virtq_should_notify(&q));
}

Test(virtq, event_idx_batch_crossing_used_event_notifies)
{
	setup_queue(8, F_EVENT_IDX);
	set_used_event(4);
	complete(1);
	virtq_should_notify(&q);
	complete(5); /* entries 1 to 5 in one batch, 4 among them */
	cr_assert(virtq_should_notify(&q));
}

Test(virtq, event_idx_ignores_no_interrupt_flag)
{
	setup_queue(8, F_EVENT_IDX);
	put16(AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	set_used_event(1);
	complete(1);
	virtq_should_notify(&q);
	complete(1);
	cr_assert(virtq_should_notify(&q));
}

Test(virtq, event_idx_wraps_with_used_idx)
{
	setup_queue(4, F_EVENT_IDX);
	set_used_event(65535);
	complete(1);
	virtq_should_notify(&q);
	complete(65533); /* used->idx 65534 */
	cr_assert_not(virtq_should_notify(&q));
	complete(2); /* entry 65535 written, used->idx wraps to 0 */
	cr_assert(virtq_should_notify(&q));
	cr_assert_eq(used_idx(), 0);
}

Test(virtq, no_event_idx_notifies_by_default)
{
	setup_queue(8, 0);
	complete(1);
	cr_assert(virtq_should_notify(&q));
	complete(1);
	cr_assert(virtq_should_notify(&q));
}

Test(virtq, no_event_idx_honours_no_interrupt)
{
	setup_queue(8, 0);
	put16(AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	complete(1);
	cr_assert_not(virtq_should_notify(&q));
}

Test(virtq, no_event_idx_ignores_used_event)
{
	setup_queue(8, 0);
	set_used_event(100);
	complete(1);
	cr_assert(virtq_should_notify(&q));
}

Test(virtq, nothing_pushed_since_last_decision_is_quiet)
{
	setup_queue(8, 0);
	complete(1);
	cr_assert(virtq_should_notify(&q));
	cr_assert_not(virtq_should_notify(&q));
}

/* available-buffer notifications (kicks) */

Test(virtq, kick_suppress_sets_and_clears_used_no_notify)
{
	setup_queue(8, 0);
	virtq_kick_suppress(&q, true);
	cr_assert_eq(get16(USED_GPA), VIRTQ_USED_F_NO_NOTIFY);
	virtq_kick_suppress(&q, false);
	cr_assert_eq(get16(USED_GPA), 0);
}

Test(virtq, kick_resume_with_event_idx_writes_avail_event)
{
	setup_queue(8, F_EVENT_IDX);
	for (uint16_t i = 0; i < 3; i++)
		publish_simple(i);
	virtq_kick_suppress(&q, true);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(virtq_pop(&q, &c), 1);
	virtq_kick_suppress(&q, false);
	cr_assert_eq(get16(USED_GPA + 4 + 8 * 8), 3);
	cr_assert_eq(get16(USED_GPA), 0, "used->flags stays 0 with event index");
}

Test(virtq, has_more_is_false_on_empty_queue)
{
	setup_queue(8, 0);
	virtq_kick_suppress(&q, false);
	cr_assert_not(virtq_has_more(&q));
}

Test(virtq, has_more_sees_chain_added_before_kicks_resumed)
{
	setup_queue(8, F_EVENT_IDX);
	virtq_kick_suppress(&q, true);
	cr_assert_eq(virtq_pop(&q, &c), 0);
	publish_simple(1); /* the driver saw kicks suppressed: no kick comes */
	virtq_kick_suppress(&q, false);
	cr_assert(virtq_has_more(&q));
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_not(virtq_has_more(&q));
}

Test(virtq, has_more_reports_a_bad_avail_idx)
{
	setup_queue(8, 0);
	put16(AVAIL_GPA + 2, 9);
	cr_assert(virtq_has_more(&q));
	assert_pop_breaks();
}

/* state, for diagnosis */

Test(virtq, state_reports_both_sides_indexes)
{
	struct virtq_state s;

	setup_queue(8, F_EVENT_IDX);
	for (uint16_t i = 0; i < 3; i++)
		publish_simple(i);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(virtq_push(&q, c.head, 64), 0);
	set_used_event(5);
	virtq_kick_suppress(&q, false);
	cr_assert_eq(virtq_state(&q, &s), 0);
	cr_assert_eq(s.avail_idx, 3);
	cr_assert_eq(s.last_avail, 2);
	cr_assert_eq(s.used_idx, 1);
	cr_assert_eq(s.in_flight, 1);
	cr_assert_eq(s.used_event, 5);
	cr_assert_eq(s.avail_event, 2);
}

Test(virtq, state_of_a_queue_without_rings_is_einval)
{
	struct virtq_state s;

	cr_assert_eq(virtq_state(&q, &s), -EINVAL);
	cr_assert_eq(virtq_configure(&q, &m, 3, DESC_GPA, AVAIL_GPA, USED_GPA, 0), -EINVAL);
	cr_assert_eq(virtq_state(&q, &s), -EINVAL);
}

/*
 * set_base: a queue handed over mid-stream (a back end restarted, vhost-user's SET_VRING_BASE) takes
 * avail entries from the given index on, and returns used entries after the used ring's own index.
 */
Test(virtq, set_base_resumes_where_the_previous_device_stopped)
{
	setup_queue(8, 0);
	for (uint16_t i = 0; i < 5; i++)
		publish_simple(i);
	/* The previous device took 3 and returned 2 of them. */
	put16(USED_GPA + 2, 2);
	cr_assert_eq(virtq_set_base(&q, 3), 0);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.head, 3, "the first chain taken is avail entry 3, not 0");
	cr_assert_eq(virtq_push(&q, c.head, 64), 0);
	cr_assert_eq(used_idx(), 3, "the used entry goes after the 2 the previous device returned");
	cr_assert_eq(get32(USED_GPA + 4 + 8 * 2), 3);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.head, 4);
	cr_assert_eq(virtq_pop(&q, &c), 0);
}

Test(virtq, set_base_refuses_a_queue_not_configured)
{
	cr_assert_eq(virtq_set_base(&q, 1), -EINVAL);
}

/*
 * Inflight tracking (vhost-user's INFLIGHT_SHMFD): the region a back end notes its chains in, and a back
 * end after it that dies takes exactly the uncompleted ones again, in the order they were first taken.
 */

/* Room for a region of 16 entries; u64s, so that it is aligned as a mapping is. */
static uint64_t region_mem[(16 + 16 * 16 + 64) / 8];
#define REGION ((uint8_t *)region_mem)

static uint16_t region16(size_t off)
{
	uint16_t v;

	memcpy(&v, REGION + off, 2);
	return v;
}

static void region_put16(size_t off, uint16_t v)
{
	memcpy(REGION + off, &v, 2);
}

static uint8_t marked(uint16_t i)
{
	return REGION[16 + 16 * (size_t)i];
}

static void mark(uint16_t i, uint8_t v)
{
	REGION[16 + 16 * (size_t)i] = v;
}

static uint64_t counter_of(uint16_t i)
{
	uint64_t v;

	memcpy(&v, REGION + 16 + 16 * (size_t)i + 8, 8);
	return v;
}

static void set_counter(uint16_t i, uint64_t v)
{
	memcpy(REGION + 16 + 16 * (size_t)i + 8, &v, 8);
}

#define R_VERSION    8
#define R_DESC_NUM   10
#define R_BATCH_HEAD 12
#define R_USED_IDX   14

/* A back end starting on the queue: its rings as the driver left them, the region as it finds it. */
static int start_on_region(uint16_t size)
{
	cr_assert_eq(virtq_configure(&q, &m, size, DESC_GPA, AVAIL_GPA, USED_GPA, 0), 0);
	cr_assert_eq(virtq_set_base(&q, used_idx()), 0);
	cr_assert_eq(virtq_set_inflight(&q, REGION, virtq_inflight_size(size)), 0);
	return virtq_inflight_resume(&q);
}

/* A fresh queue of 8 tracking in a zeroed region. */
static void setup_tracked(void)
{
	memset(region_mem, 0, sizeof(region_mem));
	setup_queue(8, 0);
	cr_assert_eq(virtq_set_inflight(&q, REGION, virtq_inflight_size(8)), 0);
	cr_assert_eq(virtq_inflight_resume(&q), 0);
}

Test(virtq, inflight_size_is_header_and_entries_64_aligned)
{
	cr_assert_eq(virtq_inflight_size(1), 64);
	cr_assert_eq(virtq_inflight_size(8), 192);
	cr_assert_eq(virtq_inflight_size(256), 16 + 16 * 256 + 48);
}

Test(virtq, inflight_region_too_small_or_misaligned_is_refused)
{
	setup_queue(8, 0);
	cr_assert_eq(virtq_set_inflight(&q, REGION, virtq_inflight_size(8) - 1), -EINVAL);
	cr_assert_null(q.inflight);
	cr_assert_eq(virtq_set_inflight(&q, REGION + 4, virtq_inflight_size(8)), -EINVAL);
	cr_assert_eq(virtq_set_inflight(&q, NULL, 0), 0, "none: no tracking, as in-process");
	cr_assert_eq(virtq_inflight_resume(&q), 0);
}

Test(virtq, inflight_fresh_region_is_initialised)
{
	setup_tracked();
	cr_assert_eq(region16(R_VERSION), 1);
	cr_assert_eq(region16(R_DESC_NUM), 8);
	cr_assert_eq(region16(R_USED_IDX), 0);
}

Test(virtq, inflight_pop_marks_with_increasing_counters_and_push_clears)
{
	setup_tracked();
	publish_simple(5);
	publish_simple(2);
	publish_simple(7);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert(marked(5) && marked(2) && marked(7));
	cr_assert(counter_of(5) < counter_of(2) && counter_of(2) < counter_of(7), "counters in taking order");
	cr_assert_eq(virtq_push(&q, 2, 1), 0);
	cr_assert_not(marked(2), "returned: no longer in flight");
	cr_assert(marked(5) && marked(7));
	cr_assert_eq(region16(R_USED_IDX), 1);
	cr_assert_eq(region16(R_BATCH_HEAD), 2);
}

Test(virtq, inflight_restart_resubmits_exactly_the_uncompleted_in_counter_order_then_new_ones)
{
	setup_tracked();
	publish_simple(6);
	publish_simple(1);
	publish_simple(4);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(virtq_pop(&q, &c), 1);
	/* Completed out of order: the middle one only. Then the back end dies. */
	cr_assert_eq(virtq_push(&q, 1, 1), 0);
	publish_simple(3);

	memset(&q, 0, sizeof(q));
	cr_assert_eq(start_on_region(8), 2, "two were in flight");
	cr_assert_eq(q.last_avail, 3, "new chains after used 1 + 2 in flight");
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.head, 6, "the first taken comes first");
	cr_assert_eq(c.nbufs, 1, "its descriptors read afresh");
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.head, 4);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.head, 3, "then the new one");
	cr_assert(counter_of(3) > counter_of(4), "its counter after those of the chains in flight");
	cr_assert_eq(virtq_pop(&q, &c), 0);
}

Test(virtq, inflight_restart_with_nothing_in_flight_goes_on_after_the_used_index)
{
	setup_tracked();
	publish_simple(0);
	publish_simple(1);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(virtq_push(&q, c.head, 1), 0);
	memset(&q, 0, sizeof(q));
	cr_assert_eq(start_on_region(8), 0);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.head, 1);
}

Test(virtq, inflight_death_after_used_idx_clears_the_last_batch)
{
	static const uint16_t heads[] = { 2, 5 };
	static const uint32_t lens[] = { 1, 1 };

	setup_tracked();
	for (uint16_t i = 0; i < 4; i++)
		publish_simple(i == 0 ? 2 : i == 1 ? 5 : i == 2 ? 0 : 7);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(virtq_push_n(&q, heads, lens, 2), 0);
	/* As if the back end died after used->idx and before it cleared the marks and used_idx. */
	mark(2, 1);
	mark(5, 1);
	region_put16(R_USED_IDX, 0);

	memset(&q, 0, sizeof(q));
	cr_assert_eq(start_on_region(8), 1, "only descriptor 0 was in flight");
	cr_assert_not(marked(2));
	cr_assert_not(marked(5));
	cr_assert_eq(region16(R_USED_IDX), 2);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.head, 0);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.head, 7);
}

Test(virtq, inflight_duplicate_or_huge_counters_take_each_once)
{
	setup_tracked();
	for (uint16_t i = 0; i < 4; i++)
		publish_simple(i);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(virtq_pop(&q, &c), 1);
	set_counter(0, UINT64_MAX);
	set_counter(1, 7);
	set_counter(2, 7);
	set_counter(3, 0);
	memset(&q, 0, sizeof(q));
	cr_assert_eq(start_on_region(8), 4);
	static const uint16_t order[] = { 3, 1, 2, 0 };
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(virtq_pop(&q, &c), 1);
		cr_assert_eq(c.head, order[i]);
	}
	cr_assert_eq(virtq_pop(&q, &c), 0);
}

Test(virtq, inflight_marks_beyond_the_ring_are_not_heads)
{
	setup_tracked();
	/* A region laid out for 16 entries: one past the ring's 8 marked. */
	region_put16(R_DESC_NUM, 16);
	mark(12, 1);
	memset(&q, 0, sizeof(q));
	cr_assert_eq(start_on_region(8), 0);
	cr_assert_eq(virtq_pop(&q, &c), 0);
}

/* A region that does not match the ring is reset: nothing in flight, the queue goes on from its base. */
static void assert_reset_and_from_base(void)
{
	memset(&q, 0, sizeof(q));
	cr_assert_eq(start_on_region(8), -EINVAL);
	for (uint16_t i = 0; i < 8; i++)
		cr_assert_not(marked(i));
	cr_assert_eq(region16(R_VERSION), 1);
	cr_assert_eq(region16(R_USED_IDX), used_idx());
	cr_assert_eq(q.last_avail, used_idx());
	cr_assert_eq(q.resubmit_left, 0);
}

Test(virtq, inflight_desc_num_smaller_than_the_ring_is_reset)
{
	setup_tracked();
	publish_simple(1);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	region_put16(R_DESC_NUM, 4);
	assert_reset_and_from_base();
}

Test(virtq, inflight_last_batch_head_out_of_range_is_reset)
{
	setup_tracked();
	publish_simple(1);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(virtq_push(&q, 1, 1), 0);
	region_put16(R_USED_IDX, 0);
	region_put16(R_BATCH_HEAD, 200);
	assert_reset_and_from_base();
}

Test(virtq, inflight_last_batch_larger_than_the_ring_is_reset)
{
	setup_tracked();
	region_put16(R_USED_IDX, 0x8000);
	assert_reset_and_from_base();
}

Test(virtq, inflight_more_in_flight_than_posted_is_reset)
{
	setup_tracked();
	publish_simple(1);
	mark(1, 1);
	mark(2, 1);
	assert_reset_and_from_base();
}

Test(virtq, inflight_resubmitted_chain_is_checked_as_any)
{
	setup_tracked();
	publish_simple(3);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	set_desc(3, BUF_GPA, 64, WRITE | NEXT, 9); /* the driver rewrote it: next out of the table */
	memset(&q, 0, sizeof(q));
	cr_assert_eq(start_on_region(8), 1);
	assert_pop_breaks();
}

Test(virtq, inflight_unpop_clears_the_marks_of_chains_given_back)
{
	setup_tracked();
	publish_simple(4);
	publish_simple(6);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	virtq_unpop(&q, 1);
	cr_assert(marked(4));
	cr_assert_not(marked(6), "given back: not in flight");
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.head, 6);
	cr_assert(marked(6));
}
