/* test_bus.c: bus_add()'s range checks, bus_find()'s search and bus_access()'s dispatch. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"

/* A device that records what the bus handed it and answers reads with (reply). */
struct fake_dev {
	struct dev dev;
	int reads, writes;
	uint64_t off;
	uint32_t len;
	uint8_t seen[8];  /* (data) as the device received it */
	uint8_t reply[8]; /* bytes a read writes; only the first (reply_len) */
	uint32_t reply_len;
};

static void fake_read(struct dev *d, uint64_t off, void *data, uint32_t len)
{
	struct fake_dev *f = container_of(d, struct fake_dev, dev);

	f->reads++;
	f->off = off;
	f->len = len;
	memcpy(f->seen, data, len < sizeof(f->seen) ? len : sizeof(f->seen));
	memcpy(data, f->reply, f->reply_len < len ? f->reply_len : len);
}

static void fake_write(struct dev *d, uint64_t off, const void *data, uint32_t len)
{
	struct fake_dev *f = container_of(d, struct fake_dev, dev);

	f->writes++;
	f->off = off;
	f->len = len;
	memcpy(f->seen, data, len < sizeof(f->seen) ? len : sizeof(f->seen));
}

static const struct dev_ops fake_ops = {
	.name = "fake",
	.read = fake_read,
	.write = fake_write,
};

static const struct dev_ops no_ops = {
	.name = "no-ops",
};

#define N_RANGES 200

static struct bus b;
static struct fake_dev d1, d2, d3;

static void setup(void)
{
	bus_init(&b, "test", 0xff);
	d1 = (struct fake_dev){ .dev.ops = &fake_ops };
	d2 = (struct fake_dev){ .dev.ops = &fake_ops };
	d3 = (struct fake_dev){ .dev.ops = &fake_ops };
}

static void teardown(void)
{
	bus_free(&b);
}

TestSuite(bus, .init = setup, .fini = teardown);

Test(bus, add_then_find_returns_the_range_at_its_first_and_last_byte)
{
	const struct bus_range *r;

	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &d1.dev), 0);
	r = bus_find(&b, 0x1000);
	cr_assert_not_null(r);
	cr_assert_eq(r->base, 0x1000);
	cr_assert_eq(r->len, 0x10);
	cr_assert_eq(r->dev, &d1.dev);
	cr_assert_eq(bus_find(&b, 0x100f), r);
}

Test(bus, find_just_outside_a_range_returns_null)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &d1.dev), 0);
	cr_assert_null(bus_find(&b, 0xfff));
	cr_assert_null(bus_find(&b, 0x1010));
}

Test(bus, find_on_an_empty_bus_returns_null)
{
	cr_assert_null(bus_find(&b, 0));
	cr_assert_null(bus_find(&b, UINT64_MAX));
}

Test(bus, add_overlapping_range_returns_eexist)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &d1.dev), 0);
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &d2.dev), -EEXIST);
	cr_assert_eq(b.nr, 1);
}

Test(bus, add_range_starting_inside_another_returns_eexist)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &d1.dev), 0);
	cr_assert_eq(bus_add(&b, 0x100f, 0x10, &d2.dev), -EEXIST);
}

Test(bus, add_range_ending_inside_another_returns_eexist)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &d1.dev), 0);
	cr_assert_eq(bus_add(&b, 0xff0, 0x11, &d2.dev), -EEXIST);
}

Test(bus, add_range_covering_another_returns_eexist)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &d1.dev), 0);
	cr_assert_eq(bus_add(&b, 0x800, 0x1000, &d2.dev), -EEXIST);
}

Test(bus, add_range_inside_another_returns_eexist)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0x100, &d1.dev), 0);
	cr_assert_eq(bus_add(&b, 0x1010, 0x10, &d2.dev), -EEXIST);
}

Test(bus, add_adjacent_ranges_on_both_sides_succeeds)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &d1.dev), 0);
	cr_assert_eq(bus_add(&b, 0x1010, 0x10, &d2.dev), 0);
	cr_assert_eq(bus_add(&b, 0xff0, 0x10, &d3.dev), 0);
	cr_assert_eq(bus_find(&b, 0x100f)->dev, &d1.dev);
	cr_assert_eq(bus_find(&b, 0x1010)->dev, &d2.dev);
	cr_assert_eq(bus_find(&b, 0xfff)->dev, &d3.dev);
	cr_assert_eq(bus_find(&b, 0x1000)->dev, &d1.dev);
}

Test(bus, add_len_zero_returns_einval)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0, &d1.dev), -EINVAL);
	cr_assert_eq(b.nr, 0);
}

Test(bus, add_range_wrapping_past_2_pow_64_returns_einval)
{
	cr_assert_eq(bus_add(&b, UINT64_MAX - 0xf, 0x20, &d1.dev), -EINVAL);
	cr_assert_eq(bus_add(&b, UINT64_MAX, UINT64_MAX, &d1.dev), -EINVAL);
	cr_assert_eq(b.nr, 0);
}

Test(bus, add_range_ending_just_below_2_pow_64_succeeds)
{
	cr_assert_eq(bus_add(&b, UINT64_MAX - 0xf, 0xf, &d1.dev), 0);
	cr_assert_eq(bus_find(&b, UINT64_MAX - 1)->dev, &d1.dev);
	cr_assert_null(bus_find(&b, UINT64_MAX));
}

Test(bus, add_null_device_returns_einval)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, NULL), -EINVAL);
}

Test(bus, write_gives_the_device_its_offset_length_and_data)
{
	uint8_t v[2] = { 0x12, 0x34 };

	cr_assert_eq(bus_add(&b, 0x3f8, 8, &d1.dev), 0);
	cr_assert(bus_access(&b, 0x3fb, v, 2, true));
	cr_assert_eq(d1.writes, 1);
	cr_assert_eq(d1.reads, 0);
	cr_assert_eq(d1.off, 3);
	cr_assert_eq(d1.len, 2);
	cr_assert_eq(d1.seen[0], 0x12);
	cr_assert_eq(d1.seen[1], 0x34);
}

Test(bus, read_gives_the_device_its_offset_and_returns_its_bytes)
{
	uint32_t v = 0;

	d1.reply[0] = 0x78;
	d1.reply[1] = 0x56;
	d1.reply[2] = 0x34;
	d1.reply[3] = 0x12;
	d1.reply_len = 4;
	cr_assert_eq(bus_add(&b, 0xfec00000, 0x1000, &d1.dev), 0);
	cr_assert(bus_access(&b, 0xfec00010, &v, 4, false));
	cr_assert_eq(d1.reads, 1);
	cr_assert_eq(d1.off, 0x10);
	cr_assert_eq(d1.len, 4);
	cr_assert_eq(v, 0x12345678);
}

Test(bus, read_is_zero_filled_before_dispatch)
{
	uint8_t v[8];

	memset(v, 0xaa, sizeof(v));
	d1.reply[0] = 0x42;
	d1.reply_len = 1; /* the device sets only its first byte */
	cr_assert_eq(bus_add(&b, 0x100, 0x10, &d1.dev), 0);
	cr_assert(bus_access(&b, 0x100, v, 8, false));
	for (int i = 0; i < 8; i++)
		cr_assert_eq(d1.seen[i], 0, "byte %d reached the device as 0x%x", i, d1.seen[i]);
	cr_assert_eq(v[0], 0x42);
	for (int i = 1; i < 8; i++)
		cr_assert_eq(v[i], 0, "byte %d the device left is 0x%x", i, v[i]);
}

Test(bus, read_of_a_device_without_read_op_returns_zeros)
{
	uint32_t v = 0xdeadbeef;
	struct dev quiet = { .ops = &no_ops };

	cr_assert_eq(bus_add(&b, 0x600, 1, &quiet), 0);
	cr_assert(bus_access(&b, 0x600, &v, 4, false));
	cr_assert_eq(v, 0);
}

Test(bus, write_to_a_device_without_write_op_is_taken)
{
	uint8_t v = 1;
	struct dev quiet = { .ops = &no_ops };

	cr_assert_eq(bus_add(&b, 0x600, 1, &quiet), 0);
	cr_assert(bus_access(&b, 0x600, &v, 1, true));
	cr_assert_eq(atomic_load(&b.unclaimed), 0);
}

Test(bus, unclaimed_read_returns_the_fill_byte)
{
	uint8_t v[4] = { 0 };

	cr_assert_eq(bus_add(&b, 0x100, 0x10, &d1.dev), 0);
	cr_assert_not(bus_access(&b, 0x200, v, 4, false));
	for (int i = 0; i < 4; i++)
		cr_assert_eq(v[i], 0xff, "byte %d is 0x%x", i, v[i]);
	cr_assert_eq(d1.reads, 0);
}

Test(bus, unclaimed_read_uses_the_fill_byte_given_to_bus_init)
{
	struct bus z;
	uint16_t v = 0xffff;

	bus_init(&z, "zero", 0x00);
	cr_assert_not(bus_access(&z, 0x80, &v, 2, false));
	cr_assert_eq(v, 0);
	bus_free(&z);
}

Test(bus, unclaimed_accesses_are_counted_reads_and_writes)
{
	uint8_t v = 0x5a;

	cr_assert_eq(atomic_load(&b.unclaimed), 0);
	cr_assert_not(bus_access(&b, 0x80, &v, 1, true));
	cr_assert_eq(v, 0x5a, "an unclaimed write changed the caller's data");
	cr_assert_not(bus_access(&b, 0x80, &v, 1, false));
	cr_assert_not(bus_access(&b, 0x81, &v, 1, false));
	cr_assert_eq(atomic_load(&b.unclaimed), 3);
}

Test(bus, claimed_access_is_not_counted_as_unclaimed)
{
	uint8_t v = 0;

	cr_assert_eq(bus_add(&b, 0x80, 1, &d1.dev), 0);
	cr_assert(bus_access(&b, 0x80, &v, 1, false));
	cr_assert(bus_access(&b, 0x80, &v, 1, true));
	cr_assert_eq(atomic_load(&b.unclaimed), 0);
}

Test(bus, many_ranges_added_out_of_order_stay_sorted_and_each_is_found)
{
	static struct dev devs[N_RANGES];
	unsigned int i;

	/* 0, 37, 74, ... mod N: every slot once, in scrambled order (37 is prime to 200). */
	for (i = 0; i < N_RANGES; i++) {
		unsigned int k = (i * 37) % N_RANGES;

		devs[k].ops = &fake_ops;
		cr_assert_eq(bus_add(&b, 0x10000 + (uint64_t)k * 0x100, 0x80, &devs[k]), 0, "range %u", k);
	}
	cr_assert_eq(b.nr, N_RANGES);
	for (i = 1; i < N_RANGES; i++)
		cr_assert_lt(b.ranges[i - 1].base, b.ranges[i].base, "ranges %u and %u out of order", i - 1,
			     i);
	for (i = 0; i < N_RANGES; i++) {
		uint64_t base = 0x10000 + (uint64_t)i * 0x100;
		const struct bus_range *r = bus_find(&b, base);

		cr_assert_not_null(r, "range %u not found", i);
		cr_assert_eq(r->dev, &devs[i]);
		cr_assert_eq(bus_find(&b, base + 0x7f), r);
		cr_assert_null(bus_find(&b, base + 0x80), "the gap after range %u was found", i);
	}
}

Test(bus, free_empties_the_bus)
{
	cr_assert_eq(bus_add(&b, 0x100, 0x10, &d1.dev), 0);
	bus_free(&b);
	cr_assert_eq(b.nr, 0);
	cr_assert_null(bus_find(&b, 0x100));
}

Test(bus, add_overlapping_range_logs_both_devices_and_ranges)
{
	struct fake_dev other = { .dev.ops = &no_ops };
	char out[256] = "";
	int fds[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &d1.dev), 0);
	cr_assert_eq(pipe(fds), 0);
	dup2(fds[1], STDERR_FILENO);
	cr_assert_eq(bus_add(&b, 0x1008, 0x10, &other.dev), -EEXIST);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	out[n > 0 ? n : 0] = '\0';
	cr_assert_str_eq(
		out, "kvmini: error: bus test: cannot place no-ops at [0x1008, 0x1018): it overlaps fake at "
		     "[0x1000, 0x1010)\n");
}
