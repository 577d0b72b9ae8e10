/* test_bench.c: bench_decode(), the exit-latency guest's result channel, on records in guest RAM. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "arch.h"
#include "bench.h"
#include "dtb.h"
#include "mem.h"

#define MIB	 (1ULL << 20)
#define FOUR_GIB 0x100000000ULL

/* Two regions, [0, 4 MiB) and [4 GiB, 4 GiB + 4 MiB), so that a range can straddle them. */
#define RAM_SIZE   (8 * MIB)
#define HOLE_START (4 * MIB)
#define HIGH_END   (FOUR_GIB + RAM_SIZE - HOLE_START)

#define RECORD_GPA  0x1000ULL
#define SAMPLES_GPA 0x2000ULL
#define MAX_COUNT   100

static struct gmem m;
static struct exitlat_result r;
static const uint64_t *samples;
static const char *why;

static void create_ram(void)
{
	cr_assert_eq(gmem_create(&m, 0, RAM_SIZE, HOLE_START), 0);
	memset(&r, 0, sizeof(r));
	samples = NULL;
	why = NULL;
}

static void destroy_ram(void)
{
	gmem_destroy(&m);
}

TestSuite(bench_decode, .init = create_ram, .fini = destroy_ram);

/* Writes a record at (gpa) in guest RAM; the test fails if any of it is not RAM. */
static void put_record(uint64_t gpa, uint32_t magic, uint32_t row, uint32_t status, uint32_t count,
		       uint64_t samples_gpa)
{
	struct exitlat_result rec = {
		.magic = magic, .row = row, .status = status, .count = count, .samples_gpa = samples_gpa
	};
	void *p = gmem_ptr(&m, gpa, sizeof(rec));

	cr_assert_not_null(p, "the test's record at 0x%llx is not in RAM", (unsigned long long)gpa);
	memcpy(p, &rec, sizeof(rec));
}

static void put_row(uint32_t row, uint32_t status, uint32_t count, uint64_t samples_gpa)
{
	put_record(RECORD_GPA, EXITLAT_MAGIC, row, status, count, samples_gpa);
}

static void assert_rejected_at(uint64_t gpa)
{
	cr_assert_eq(bench_decode(&m, gpa, MAX_COUNT, &r, &samples, &why), -EINVAL);
	cr_assert_not_null(why);
	cr_assert_neq(why[0], '\0');
}

static void assert_rejected(void)
{
	assert_rejected_at(RECORD_GPA);
}

Test(bench_decode, row_record_decodes_with_its_fields_and_samples)
{
	uint64_t *s = gmem_ptr(&m, SAMPLES_GPA, 3 * sizeof(uint64_t));

	s[0] = 111;
	s[1] = 222;
	s[2] = 333;
	put_row(EXITLAT_ROW_CPUID, EXITLAT_OK, 3, SAMPLES_GPA);
	cr_assert_eq(bench_decode(&m, RECORD_GPA, MAX_COUNT, &r, &samples, &why), 0);
	cr_assert_eq(r.magic, EXITLAT_MAGIC);
	cr_assert_eq(r.row, EXITLAT_ROW_CPUID);
	cr_assert_eq(r.status, EXITLAT_OK);
	cr_assert_eq(r.count, 3);
	cr_assert_eq(r.samples_gpa, SAMPLES_GPA);
	cr_assert_eq(samples, s, "samples should point into guest RAM at the samples' GPA");
	cr_assert_eq(samples[0], 111);
	cr_assert_eq(samples[1], 222);
	cr_assert_eq(samples[2], 333);
}

Test(bench_decode, last_row_with_the_last_status_and_max_count_decodes)
{
	put_row(EXITLAT_NR_ROWS - 1, EXITLAT_UNSUPPORTED, MAX_COUNT, SAMPLES_GPA);
	cr_assert_eq(bench_decode(&m, RECORD_GPA, MAX_COUNT, &r, &samples, &why), 0);
	cr_assert_eq(r.row, EXITLAT_NR_ROWS - 1);
	cr_assert_eq(r.status, EXITLAT_UNSUPPORTED);
	cr_assert_eq(r.count, MAX_COUNT);
}

Test(bench_decode, record_and_samples_in_the_high_region_decode)
{
	uint64_t *s = gmem_ptr(&m, HIGH_END - 16, 16);

	s[0] = 5;
	s[1] = 6;
	put_record(FOUR_GIB + 0x100, EXITLAT_MAGIC, EXITLAT_ROW_IPI, EXITLAT_OK, 2, HIGH_END - 16);
	cr_assert_eq(bench_decode(&m, FOUR_GIB + 0x100, MAX_COUNT, &r, &samples, &why), 0);
	cr_assert_eq(samples, s);
	cr_assert_eq(samples[1], 6);
}

Test(bench_decode, record_at_the_very_end_of_ram_decodes)
{
	put_record(HIGH_END - sizeof(r), EXITLAT_MAGIC, EXITLAT_ROW_LOOP, EXITLAT_OK, 0, 0);
	cr_assert_eq(bench_decode(&m, HIGH_END - sizeof(r), MAX_COUNT, &r, &samples, &why), 0);
}

Test(bench_decode, done_record_returns_1)
{
	put_row(EXITLAT_ROW_DONE, 0, 0, 0);
	cr_assert_eq(bench_decode(&m, RECORD_GPA, MAX_COUNT, &r, &samples, &why), 1);
	cr_assert_eq(r.row, EXITLAT_ROW_DONE);
}

Test(bench_decode, count_0_with_samples_gpa_0_decodes)
{
	put_row(EXITLAT_ROW_HLT_TIMER, EXITLAT_TIMEOUT, 0, 0);
	cr_assert_eq(bench_decode(&m, RECORD_GPA, MAX_COUNT, &r, &samples, &why), 0);
	cr_assert_eq(r.count, 0);
	cr_assert_eq(r.status, EXITLAT_TIMEOUT);
}

Test(bench_decode, record_reads_guest_ram_once_into_a_copy)
{
	struct exitlat_result *live = gmem_ptr(&m, RECORD_GPA, sizeof(*live));

	put_row(EXITLAT_ROW_RDMSR, EXITLAT_OK, 0, 0);
	cr_assert_eq(bench_decode(&m, RECORD_GPA, MAX_COUNT, &r, &samples, &why), 0);
	/* The guest changing its record afterwards must not change what kvmini checked. */
	live->row = 0xdead;
	cr_assert_eq(r.row, EXITLAT_ROW_RDMSR);
}

Test(bench_decode, bad_magic_is_rejected)
{
	put_record(RECORD_GPA, EXITLAT_MAGIC ^ 1, EXITLAT_ROW_LOOP, EXITLAT_OK, 0, 0);
	assert_rejected();
}

Test(bench_decode, done_row_with_bad_magic_is_rejected)
{
	put_record(RECORD_GPA, 0, EXITLAT_ROW_DONE, 0, 0, 0);
	assert_rejected();
}

Test(bench_decode, row_past_the_last_is_rejected)
{
	put_row(EXITLAT_NR_ROWS, EXITLAT_OK, 0, 0);
	assert_rejected();
}

Test(bench_decode, row_just_below_done_is_rejected)
{
	put_row(EXITLAT_ROW_DONE - 1, EXITLAT_OK, 0, 0);
	assert_rejected();
}

Test(bench_decode, status_past_unsupported_is_rejected)
{
	put_row(EXITLAT_ROW_LOOP, EXITLAT_UNSUPPORTED + 1, 0, 0);
	assert_rejected();
}

Test(bench_decode, count_above_max_count_is_rejected)
{
	put_row(EXITLAT_ROW_LOOP, EXITLAT_OK, MAX_COUNT + 1, SAMPLES_GPA);
	assert_rejected();
}

Test(bench_decode, record_outside_ram_is_rejected)
{
	assert_rejected_at(HOLE_START);
	assert_rejected_at(FOUR_GIB - sizeof(r));
	assert_rejected_at(HIGH_END);
	assert_rejected_at(UINT64_MAX);
}

Test(bench_decode, record_straddling_the_end_of_ram_is_rejected)
{
	uint32_t *p = gmem_ptr(&m, HIGH_END - 8, 8);

	/* Its first 8 bytes are RAM and hold a good magic and row; the rest is beyond RAM. */
	p[0] = EXITLAT_MAGIC;
	p[1] = EXITLAT_ROW_LOOP;
	assert_rejected_at(HIGH_END - 8);
}

Test(bench_decode, record_straddling_the_end_of_low_ram_is_rejected)
{
	assert_rejected_at(HOLE_START - 8);
}

Test(bench_decode, samples_outside_ram_are_rejected)
{
	put_row(EXITLAT_ROW_CPUID, EXITLAT_OK, 1, HOLE_START);
	assert_rejected();
}

Test(bench_decode, samples_running_past_the_end_of_ram_are_rejected)
{
	put_row(EXITLAT_ROW_CPUID, EXITLAT_OK, 3, HIGH_END - 16);
	assert_rejected();
}

Test(bench_decode, samples_whose_end_wraps_are_rejected)
{
	put_row(EXITLAT_ROW_CPUID, EXITLAT_OK, 2, UINT64_MAX - 8);
	assert_rejected();
}

Test(bench_decode, samples_whose_end_wraps_back_into_ram_are_rejected)
{
	/* samples_gpa + 100 * 8 wraps to 0x20: RAM, if the check were done on the sum. */
	put_row(EXITLAT_ROW_CPUID, EXITLAT_OK, MAX_COUNT, UINT64_MAX - 0x2ff);
	assert_rejected();
}

Test(bench_decode, samples_straddling_the_two_regions_are_rejected)
{
	/* The regions are adjacent in the memfd, so a host pointer would run on into the high one. */
	put_row(EXITLAT_ROW_CPUID, EXITLAT_OK, 2, HOLE_START - 8);
	assert_rejected();
}

Test(exitlat, every_row_has_a_distinct_name)
{
	for (uint32_t i = 0; i < EXITLAT_NR_ROWS; i++) {
		const char *name = exitlat_row_name(i);

		cr_assert_not_null(name, "row %u has no name", i);
		cr_assert_neq(name[0], '\0', "row %u has an empty name", i);
		for (uint32_t j = 0; j < i; j++)
			cr_assert_str_neq(name, exitlat_row_name(j), "rows %u and %u are both \"%s\"", j, i,
					  name);
	}
}

Test(exitlat, row_names_in_order_start_with_loop_and_end_with_ipi)
{
	cr_assert_str_eq(exitlat_row_name(EXITLAT_ROW_LOOP), "loop");
	cr_assert_str_eq(exitlat_row_name(EXITLAT_ROW_IPI), "ipi");
}

Test(exitlat, row_name_out_of_range_is_null)
{
	cr_assert_null(exitlat_row_name(EXITLAT_NR_ROWS));
	cr_assert_null(exitlat_row_name(EXITLAT_ROW_DONE));
}

Test(bench_arch, x86_runs_every_row_before_arm64s_own_in_order)
{
	const struct bench_arch *a = bench_arch_of("x86_64");

	cr_assert_not_null(a);
	cr_assert_eq(a->nr_rows, EXITLAT_ROW_IPI + 1);
	for (uint32_t i = 0; i < a->nr_rows; i++)
		cr_assert_eq(a->rows[i], i, "x86 row %u is %u", i, a->rows[i]);
	cr_assert_not(bench_arch_has_row(a, EXITLAT_ROW_HVC));
	cr_assert_not(bench_arch_has_row(a, EXITLAT_ROW_WFI_TIMER));
	cr_assert(a->result_pio);
	cr_assert_eq(a->result, EXITLAT_PORT_RESULT);
	cr_assert_str_eq(a->khz_key, "tsc_khz");
	cr_assert_str_eq(a->guest, "exitlat.elf");
}

Test(bench_arch, arm64_runs_loop_first_ipi_last_and_no_x86_row)
{
	static const uint32_t x86_only[] = { EXITLAT_ROW_CPUID,	       EXITLAT_ROW_VMCALL,
					     EXITLAT_ROW_RDMSR,	       EXITLAT_ROW_WRMSR,
					     EXITLAT_ROW_PIO_KERNEL,   EXITLAT_ROW_PIO_USER_IN,
					     EXITLAT_ROW_PIO_USER_OUT, EXITLAT_ROW_PIO_IOEVENTFD,
					     EXITLAT_ROW_HLT_TIMER };
	const struct bench_arch *a = bench_arch_of("arm64");

	cr_assert_not_null(a);
	cr_assert_eq(a->rows[0], EXITLAT_ROW_LOOP);
	cr_assert_eq(a->rows[a->nr_rows - 1], EXITLAT_ROW_IPI);
	for (size_t i = 0; i < sizeof(x86_only) / sizeof(x86_only[0]); i++)
		cr_assert_not(bench_arch_has_row(a, x86_only[i]), "arm64 runs x86's %s",
			      exitlat_row_name(x86_only[i]));
	cr_assert(bench_arch_has_row(a, EXITLAT_ROW_HVC));
	cr_assert(bench_arch_has_row(a, EXITLAT_ROW_WFI_TIMER));
	cr_assert(bench_arch_has_row(a, EXITLAT_ROW_MMIO_WILDCARD));
	cr_assert_eq(a->pio_user, 0);
	cr_assert_eq(a->pio_ioeventfd, 0);
	cr_assert_not(a->result_pio);
	cr_assert_str_eq(a->guest, "exitlat.img");
}

/* Each arm64 target alone in a 64 KiB page of the hole between the redistributors and ECAM. */
Test(bench_arch, arm64_targets_sit_apart_in_the_hole_below_ecam)
{
	const struct bench_arch *a = bench_arch_of("arm64");
	const uint64_t t[] = { a->mmio_user, a->mmio_ioeventfd, a->mmio_wildcard, a->result };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_assert_geq(t[i], ARM64_GICR_BASE + ARM64_GICR_REGION, "target 0x%llx",
			      (unsigned long long)t[i]);
		cr_assert_leq(t[i] + 0x10000, ARM64_PCI_ECAM_BASE, "target 0x%llx", (unsigned long long)t[i]);
		cr_assert_eq(t[i] % 0x10000, 0);
		for (size_t j = 0; j < i; j++)
			cr_assert_neq(t[i], t[j]);
	}
}

Test(bench_arch, unknown_architecture_is_null)
{
	cr_assert_null(bench_arch_of("riscv64"));
	cr_assert_not_null(bench_arch_of(ARCH_NAME));
}
