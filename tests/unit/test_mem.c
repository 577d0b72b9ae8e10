/* test_mem.c: guest RAM around the MMIO hole, and gmem_ptr()'s bounds checks. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"

#define MIB	 (1ULL << 20)
#define GIB	 (1ULL << 30)
#define FOUR_GIB (4 * GIB)

/* Small enough to be cheap, split in two so that both regions are exercised. */
#define SMALL_SIZE (16 * MIB)
#define SMALL_HOLE (8 * MIB)

static void assert_region(const struct gmem_region *r, uint64_t gpa, uint64_t size, uint64_t fd_offset)
{
	cr_assert_eq(r->gpa, gpa, "gpa 0x%llx, want 0x%llx", (unsigned long long)r->gpa,
		     (unsigned long long)gpa);
	cr_assert_eq(r->size, size, "size 0x%llx, want 0x%llx", (unsigned long long)r->size,
		     (unsigned long long)size);
	cr_assert_eq(r->fd_offset, fd_offset);
}

Test(gmem, layout_below_the_hole_is_one_region_from_zero)
{
	struct gmem m;

	gmem_layout(&m, 0, 256 * MIB, 3 * GIB);
	cr_assert_eq(m.nr_regions, 1);
	cr_assert_eq(m.size, 256 * MIB);
	assert_region(&m.regions[0], 0, 256 * MIB, 0);
}

Test(gmem, layout_exactly_up_to_the_hole_is_one_region)
{
	struct gmem m;

	gmem_layout(&m, 0, 3 * GIB, 3 * GIB);
	cr_assert_eq(m.nr_regions, 1);
	assert_region(&m.regions[0], 0, 3 * GIB, 0);
}

Test(gmem, layout_above_the_hole_puts_the_rest_at_4gib)
{
	struct gmem m;

	gmem_layout(&m, 0, 8 * GIB, 3 * GIB);
	cr_assert_eq(m.nr_regions, 2);
	cr_assert_eq(m.size, 8 * GIB);
	assert_region(&m.regions[0], 0, 3 * GIB, 0);
	assert_region(&m.regions[1], FOUR_GIB, 5 * GIB, 3 * GIB);
}

Test(gmem, layout_one_page_above_the_hole_gives_one_page_at_4gib)
{
	struct gmem m;

	gmem_layout(&m, 0, 3 * GIB + 4096, 3 * GIB);
	cr_assert_eq(m.nr_regions, 2);
	assert_region(&m.regions[1], FOUR_GIB, 4096, 3 * GIB);
}

static struct gmem m;

static void create_small(void)
{
	cr_assert_eq(gmem_create(&m, 0, SMALL_SIZE, SMALL_HOLE), 0);
}

static void destroy_small(void)
{
	gmem_destroy(&m);
}

TestSuite(gmem_small, .init = create_small, .fini = destroy_small);

Test(gmem_small, create_lays_out_two_regions_backed_by_one_mapping)
{
	cr_assert_geq(m.fd, 0);
	cr_assert_not_null(m.base);
	cr_assert_eq(m.size, SMALL_SIZE);
	cr_assert_eq(m.nr_regions, 2);
	assert_region(&m.regions[0], 0, SMALL_HOLE, 0);
	assert_region(&m.regions[1], FOUR_GIB, SMALL_SIZE - SMALL_HOLE, SMALL_HOLE);
	cr_assert_eq(m.regions[0].host, m.base);
	cr_assert_eq(m.regions[1].host, m.base + SMALL_HOLE);
}

Test(gmem_small, ptr_in_the_low_region)
{
	cr_assert_eq(gmem_ptr(&m, 0, 1), m.base);
	cr_assert_eq(gmem_ptr(&m, 0x7000, 4096), m.base + 0x7000);
}

Test(gmem_small, ptr_in_the_high_region)
{
	cr_assert_eq(gmem_ptr(&m, FOUR_GIB, 1), m.base + SMALL_HOLE);
	cr_assert_eq(gmem_ptr(&m, FOUR_GIB + 0x1234, 8), m.base + SMALL_HOLE + 0x1234);
}

Test(gmem_small, ptr_of_a_whole_region)
{
	cr_assert_eq(gmem_ptr(&m, 0, SMALL_HOLE), m.base);
	cr_assert_eq(gmem_ptr(&m, FOUR_GIB, SMALL_SIZE - SMALL_HOLE), m.base + SMALL_HOLE);
}

Test(gmem_small, ptr_of_the_last_byte_of_each_region)
{
	cr_assert_eq(gmem_ptr(&m, SMALL_HOLE - 1, 1), m.base + SMALL_HOLE - 1);
	cr_assert_eq(gmem_ptr(&m, FOUR_GIB + SMALL_SIZE - SMALL_HOLE - 1, 1), m.base + SMALL_SIZE - 1);
}

Test(gmem_small, ptr_one_past_the_end_is_null)
{
	cr_assert_null(gmem_ptr(&m, FOUR_GIB + SMALL_SIZE - SMALL_HOLE, 1));
	cr_assert_null(gmem_ptr(&m, SMALL_HOLE, 1), "the hole start is RAM");
}

Test(gmem_small, ptr_running_one_byte_past_a_region_is_null)
{
	cr_assert_null(gmem_ptr(&m, 0, SMALL_HOLE + 1));
	cr_assert_null(gmem_ptr(&m, FOUR_GIB + SMALL_SIZE - SMALL_HOLE - 4, 5));
}

Test(gmem_small, ptr_in_the_hole_is_null)
{
	cr_assert_null(gmem_ptr(&m, 3 * GIB, 1));
	cr_assert_null(gmem_ptr(&m, FOUR_GIB - 1, 1));
}

Test(gmem_small, ptr_straddling_the_two_regions_is_null)
{
	/* Both regions are adjacent in the memfd, but not in guest-physical space. */
	cr_assert_null(gmem_ptr(&m, SMALL_HOLE - 4, 8));
	cr_assert_null(gmem_ptr(&m, SMALL_HOLE - 1, FOUR_GIB - SMALL_HOLE + 2));
}

Test(gmem_small, ptr_that_wraps_around_is_null)
{
	cr_assert_null(gmem_ptr(&m, UINT64_MAX, 2));
	cr_assert_null(gmem_ptr(&m, UINT64_MAX - 0xf, 0x20));
	cr_assert_null(gmem_ptr(&m, 0x1000, UINT64_MAX));
	cr_assert_null(gmem_ptr(&m, FOUR_GIB + 0x1000, UINT64_MAX - FOUR_GIB));
	cr_assert_null(gmem_ptr(&m, FOUR_GIB + 0x1000, UINT64_MAX - 0xfff));
}

Test(gmem_small, ptr_of_len_0_checks_the_address_alone)
{
	cr_assert_eq(gmem_ptr(&m, 0, 0), m.base);
	cr_assert_eq(gmem_ptr(&m, SMALL_HOLE - 1, 0), m.base + SMALL_HOLE - 1);
	cr_assert_null(gmem_ptr(&m, SMALL_HOLE, 0));
	cr_assert_null(gmem_ptr(&m, FOUR_GIB + SMALL_SIZE - SMALL_HOLE, 0));
	cr_assert_null(gmem_ptr(&m, UINT64_MAX, 0));
}

Test(gmem_small, memory_is_zeroed)
{
	const uint8_t *p = gmem_ptr(&m, 0, SMALL_HOLE);
	const uint8_t *q = gmem_ptr(&m, FOUR_GIB, SMALL_SIZE - SMALL_HOLE);
	uint64_t any = 0;

	cr_assert_not_null(p);
	cr_assert_not_null(q);
	for (uint64_t i = 0; i < SMALL_HOLE; i++)
		any |= p[i] | q[i];
	cr_assert_eq(any, 0);
}

Test(gmem_small, memory_is_the_memfd_that_a_device_process_would_map)
{
	uint8_t *p = gmem_ptr(&m, FOUR_GIB + 0x100, 4);
	uint8_t buf[4] = { 0 };

	cr_assert_not_null(p);
	memcpy(p, "kvm!", 4);
	cr_assert_eq(pread(m.fd, buf, 4, SMALL_HOLE + 0x100), 4);
	cr_assert_eq(memcmp(buf, "kvm!", 4), 0);
}

Test(gmem_small, destroy_releases_and_can_be_called_twice)
{
	int fd = m.fd;

	gmem_destroy(&m);
	cr_assert_eq(m.fd, -1);
	cr_assert_null(m.base);
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "the memfd is still open");
	gmem_destroy(&m);
}

Test(gmem, create_of_a_size_above_the_hole_spans_the_hole_lazily)
{
	struct gmem big;

	/* 4 GiB of address space but NORESERVE and untouched: costs no RAM. */
	cr_assert_eq(gmem_create(&big, 0, 4 * GIB, 3 * GIB), 0);
	cr_assert_eq(big.nr_regions, 2);
	cr_assert_not_null(gmem_ptr(&big, 3 * GIB - 1, 1));
	cr_assert_null(gmem_ptr(&big, 3 * GIB, 1));
	cr_assert_eq(gmem_ptr(&big, FOUR_GIB + GIB - 1, 1), big.base + 4 * GIB - 1);
	cr_assert_null(gmem_ptr(&big, FOUR_GIB + GIB, 1));
	gmem_destroy(&big);
}

Test(gmem_small, write_then_read_round_trips_in_each_region)
{
	const char msg[] = "kvmini";
	char back[sizeof(msg)] = "";

	cr_assert_eq(gmem_write(&m, 0x1000, msg, sizeof(msg)), 0);
	cr_assert_eq(memcmp(m.base + 0x1000, msg, sizeof(msg)), 0);
	cr_assert_eq(gmem_read(&m, 0x1000, back, sizeof(back)), 0);
	cr_assert_str_eq(back, msg);
	cr_assert_eq(gmem_write(&m, FOUR_GIB + 8, msg, sizeof(msg)), 0);
	cr_assert_eq(memcmp(m.base + SMALL_HOLE + 8, msg, sizeof(msg)), 0);
}

Test(gmem_small, write_across_the_hole_or_past_the_end_is_efault_and_copies_nothing)
{
	const uint8_t ones[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };

	cr_assert_eq(gmem_write(&m, SMALL_HOLE - 8, ones, sizeof(ones)), -EFAULT);
	cr_assert_eq(m.base[SMALL_HOLE - 8], 0, "a refused write leaves RAM as it was");
	cr_assert_eq(gmem_write(&m, SMALL_SIZE - SMALL_HOLE + FOUR_GIB - 8, ones, sizeof(ones)), -EFAULT);
	cr_assert_eq(gmem_write(&m, UINT64_MAX - 4, ones, sizeof(ones)), -EFAULT, "a wrapping range");
	cr_assert_eq(gmem_write(&m, 0, ones, (uint64_t)1 << 63), -EFAULT, "a length larger than RAM");
}

Test(gmem_small, read_outside_ram_is_efault)
{
	uint8_t buf[8];

	cr_assert_eq(gmem_read(&m, SMALL_HOLE, buf, 1), -EFAULT);
	cr_assert_eq(gmem_read(&m, FOUR_GIB - 4, buf, 8), -EFAULT);
}

Test(gmem_small, zero_clears_a_range_and_refuses_outside_ram)
{
	memset(m.base + 0x2000, 0xaa, 64);
	cr_assert_eq(gmem_zero(&m, 0x2008, 48), 0);
	cr_assert_eq(m.base[0x2007], 0xaa);
	cr_assert_eq(m.base[0x2008], 0);
	cr_assert_eq(m.base[0x2037], 0);
	cr_assert_eq(m.base[0x2038], 0xaa);
	cr_assert_eq(gmem_zero(&m, SMALL_HOLE - 1, 2), -EFAULT);
}
