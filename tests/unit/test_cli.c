/* test_cli.c: sizes, numbers, the guest RAM check and the command line of kvmini. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define TIB (1ULL << 40)

#define ARGC(argv) ((int)(sizeof(argv) / sizeof((argv)[0])))

static uint64_t size_of(const char *s)
{
	uint64_t v = 0xdeadbeef;

	cr_assert_eq(cli_parse_size(s, &v), 0, "cli_parse_size(\"%s\") failed", s);
	return v;
}

/* cli_parse_size */

Test(cli, parse_size_512m_is_512_mib)
{
	cr_assert_eq(size_of("512M"), 512 * MIB);
}

Test(cli, parse_size_2g_is_2_gib)
{
	cr_assert_eq(size_of("2G"), 2 * GIB);
}

Test(cli, parse_size_suffix_is_case_insensitive)
{
	cr_assert_eq(size_of("1g"), 1 * GIB);
	cr_assert_eq(size_of("64m"), 64 * MIB);
}

Test(cli, parse_size_4kib_is_4096_bytes)
{
	cr_assert_eq(size_of("4KiB"), 4 * KIB);
}

Test(cli, parse_size_accepts_a_b_after_the_unit)
{
	cr_assert_eq(size_of("8MB"), 8 * MIB);
}

Test(cli, parse_size_1t_is_1_tib)
{
	cr_assert_eq(size_of("1T"), 1 * TIB);
}

Test(cli, parse_size_bare_number_is_mib)
{
	cr_assert_eq(size_of("256"), 256 * MIB);
}

Test(cli, parse_size_zero_is_zero)
{
	cr_assert_eq(size_of("0"), 0);
}

Test(cli, parse_size_empty_string_returns_einval)
{
	uint64_t v = 7;

	cr_assert_eq(cli_parse_size("", &v), -EINVAL);
	cr_assert_eq(v, 7, "output written on error");
}

Test(cli, parse_size_unknown_suffix_returns_einval)
{
	uint64_t v;

	cr_assert_eq(cli_parse_size("12X", &v), -EINVAL);
}

Test(cli, parse_size_trailing_junk_after_the_unit_returns_einval)
{
	uint64_t v;

	cr_assert_eq(cli_parse_size("12Mx", &v), -EINVAL);
	cr_assert_eq(cli_parse_size("12 M", &v), -EINVAL);
}

Test(cli, parse_size_unit_without_number_returns_einval)
{
	uint64_t v;

	cr_assert_eq(cli_parse_size("M", &v), -EINVAL);
}

Test(cli, parse_size_negative_returns_einval)
{
	uint64_t v;

	cr_assert_eq(cli_parse_size("-1G", &v), -EINVAL);
}

Test(cli, parse_size_overflow_after_the_shift_returns_erange)
{
	uint64_t v;

	cr_assert_eq(cli_parse_size("99999999999T", &v), -ERANGE);
}

Test(cli, parse_size_overflow_of_the_number_returns_erange)
{
	uint64_t v;

	cr_assert_eq(cli_parse_size("99999999999999999999999", &v), -ERANGE);
}

Test(cli, parse_size_largest_t_that_fits_is_accepted)
{
	cr_assert_eq(size_of("16777215T"), 16777215ULL * TIB);
}

/* cli_parse_uint */

Test(cli, parse_uint_in_range_returns_the_value)
{
	unsigned long v = 0;

	cr_assert_eq(cli_parse_uint("42", 1, 255, &v), 0);
	cr_assert_eq(v, 42);
}

Test(cli, parse_uint_accepts_both_bounds)
{
	unsigned long v = 0;

	cr_assert_eq(cli_parse_uint("1", 1, 255, &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(cli_parse_uint("255", 1, 255, &v), 0);
	cr_assert_eq(v, 255);
}

Test(cli, parse_uint_out_of_range_returns_erange)
{
	unsigned long v = 9;

	cr_assert_eq(cli_parse_uint("0", 1, 255, &v), -ERANGE);
	cr_assert_eq(cli_parse_uint("256", 1, 255, &v), -ERANGE);
	cr_assert_eq(cli_parse_uint("99999999999999999999999", 0, 255, &v), -ERANGE);
	cr_assert_eq(v, 9, "output written on error");
}

Test(cli, parse_uint_non_number_returns_einval)
{
	unsigned long v;

	cr_assert_eq(cli_parse_uint("abc", 0, 255, &v), -EINVAL);
	cr_assert_eq(cli_parse_uint("", 0, 255, &v), -EINVAL);
	cr_assert_eq(cli_parse_uint("4x", 0, 255, &v), -EINVAL);
	cr_assert_eq(cli_parse_uint("-1", 0, 255, &v), -EINVAL);
	cr_assert_eq(cli_parse_uint(" 4", 0, 255, &v), -EINVAL);
	cr_assert_eq(cli_parse_uint(NULL, 0, 255, &v), -EINVAL);
}

/* cli_check_mem */

Test(cli, check_mem_below_the_minimum_returns_einval)
{
	cr_assert_eq(cli_check_mem(CLI_MIN_MEM - 4096, 8 * GIB), -EINVAL);
	cr_assert_eq(cli_check_mem(0, 8 * GIB), -EINVAL);
}

Test(cli, check_mem_not_page_aligned_returns_einval)
{
	cr_assert_eq(cli_check_mem(256 * MIB + 512, 8 * GIB), -EINVAL);
}

Test(cli, check_mem_over_host_ram_returns_einval)
{
	cr_assert_eq(cli_check_mem(16 * GIB, 8 * GIB), -EINVAL);
}

Test(cli, check_mem_that_fits_returns_zero)
{
	cr_assert_eq(cli_check_mem(CLI_MIN_MEM, 8 * GIB), 0);
	cr_assert_eq(cli_check_mem(256 * MIB, 8 * GIB), 0);
	cr_assert_eq(cli_check_mem(8 * GIB, 8 * GIB), 0);
}

Test(cli, check_mem_with_unknown_host_ram_skips_that_check)
{
	cr_assert_eq(cli_check_mem(64 * GIB, 0), 0);
}

/* cli_parse */

Test(cli, parse_run_with_every_value_option)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--cpus", "2", "--mem", "1G", "--cmdline", "a b" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert_eq(c.action, CLI_RUN);
	cr_assert_str_eq(c.vm.kernel, "k");
	cr_assert_eq(c.vm.cpus, 2);
	cr_assert_eq(c.vm.mem, 1 * GIB);
	cr_assert_str_eq(c.vm.cmdline, "a b");
	cr_assert_null(c.vm.initrd);
}

Test(cli, parse_run_short_options_and_initrd)
{
	char *argv[] = { "kvmini", "run", "-k", "bz", "-i", "rd", "-c", "4", "-m", "512" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert_str_eq(c.vm.kernel, "bz");
	cr_assert_str_eq(c.vm.initrd, "rd");
	cr_assert_eq(c.vm.cpus, 4);
	cr_assert_eq(c.vm.mem, 512 * MIB);
}

Test(cli, parse_run_defaults_to_one_cpu_256m_and_dev_kvm)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert_eq(c.vm.cpus, 1);
	cr_assert_eq(c.vm.mem, 256 * MIB);
	cr_assert_str_eq(c.vm.kvm_device, "/dev/kvm");
	cr_assert_null(c.vm.initrd);
	cr_assert_null(c.vm.cmdline);
	cr_assert_eq(c.verbosity, 0);
	cr_assert_not(c.vm.allow_pvm, "a PVM /dev/kvm is refused unless asked");
}

Test(cli, parse_run_allow_pvm)
{
	char *argv[] = { "kvmini", "run", "--allow-pvm", "--kernel", "k" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert(c.vm.allow_pvm);
}

Test(cli, parse_run_kvm_device_and_verbosity)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--kvm-device", "/tmp/kvm", "-v", "--verbose" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert_str_eq(c.vm.kvm_device, "/tmp/kvm");
	cr_assert_eq(c.verbosity, 2);
}

Test(cli, parse_run_quiet_sets_verbosity_minus_one)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "-q" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert_eq(c.verbosity, -1);
}

Test(cli, parse_run_cpus_0_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--cpus", "0" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_cpus_256_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--cpus", "256" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_cpus_255_is_accepted)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--cpus", "255" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert_eq(c.vm.cpus, 255);
}

Test(cli, parse_run_cpus_abc_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--cpus", "abc" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_bad_mem_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--mem", "lots" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_unknown_long_option_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--frobnicate" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_unknown_short_option_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "-z" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_option_missing_its_value_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--mem" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_stray_argument_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "extra" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_without_kernel_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--cpus", "2" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_help_needs_no_kernel)
{
	char *argv[] = { "kvmini", "run", "--help" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert_eq(c.action, CLI_HELP);
}

Test(cli, parse_help_gives_the_help_action)
{
	char *argv[] = { "kvmini", "--help" };
	char *argv_h[] = { "kvmini", "-h" };
	char *argv_word[] = { "kvmini", "help" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert_eq(c.action, CLI_HELP);
	cr_assert_eq(cli_parse(ARGC(argv_h), argv_h, &c), 0);
	cr_assert_eq(c.action, CLI_HELP);
	cr_assert_eq(cli_parse(ARGC(argv_word), argv_word, &c), 0);
	cr_assert_eq(c.action, CLI_HELP);
}

Test(cli, parse_version_gives_the_version_action)
{
	char *argv[] = { "kvmini", "--version" };
	char *argv_word[] = { "kvmini", "version" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert_eq(c.action, CLI_VERSION);
	cr_assert_eq(cli_parse(ARGC(argv_word), argv_word, &c), 0);
	cr_assert_eq(c.action, CLI_VERSION);
}

Test(cli, parse_with_no_command_is_rejected)
{
	char *argv[] = { "kvmini" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_unknown_command_is_rejected)
{
	char *argv[] = { "kvmini", "boot", "--kernel", "k" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_twice_starts_afresh_after_a_successful_parse)
{
	char *first[] = { "kvmini", "run", "--kernel", "k1", "--cpus", "3", "-v" };
	char *second[] = { "kvmini", "run", "--kernel", "k2" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(first), first, &c), 0);
	cr_assert_eq(cli_parse(ARGC(second), second, &c), 0);
	cr_assert_str_eq(c.vm.kernel, "k2");
	cr_assert_eq(c.vm.cpus, 1);
	cr_assert_eq(c.verbosity, 0);
}

/*
 * Regression: glibc's getopt keeps its position inside a group of short options ("-zq") across
 * calls and only forgets it when optind is set to 0, so a parse after an error at 'z' must not
 * go on with the stale "q".
 */
Test(cli, parse_after_an_error_inside_grouped_short_options_starts_afresh)
{
	char *bad[] = { "kvmini", "run", "-zq" };
	char *good[] = { "kvmini", "run", "--kernel", "k" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(bad), bad, &c), -EINVAL);
	cr_assert_eq(cli_parse(ARGC(good), good, &c), 0,
		     "getopt state left over from the previous cli_parse()");
	cr_assert_str_eq(c.vm.kernel, "k");
	cr_assert_eq(c.verbosity, 0, "a stale -q from the previous cli_parse() was applied");
}

/* cli_parse()'s one-line error for (argv), as written to stderr. */
static char *parse_error(int argc, char **argv)
{
	static char msg[512];
	struct cli c;
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	cr_assert_not_null(f);
	cr_assert_geq(saved, 0);
	fflush(stderr);
	cr_assert_eq(dup2(fileno(f), STDERR_FILENO), STDERR_FILENO);
	cr_assert_eq(cli_parse(argc, argv, &c), -EINVAL);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(msg, 1, sizeof(msg) - 1, f);
	msg[n] = '\0';
	fclose(f);
	return msg;
}

Test(cli, unknown_long_option_is_named_in_the_error)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--frobnicate" };

	cr_assert_not_null(strstr(parse_error(ARGC(argv), argv), "'--frobnicate'"));
}

Test(cli, option_missing_its_value_is_named_in_the_error)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--mem" };

	cr_assert_not_null(strstr(parse_error(ARGC(argv), argv), "'--mem'"));
}

/*
 * Regression: an unknown short option that is not the last of its group ("-zv") leaves optind
 * on its argument, so argv[optind - 1] is the argument before it; the error must name '-z'.
 */
Test(cli, unknown_short_option_inside_a_group_is_named_in_the_error)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "-zv" };
	const char *msg = parse_error(ARGC(argv), argv);

	cr_assert_not_null(strstr(msg, "-z"), "the error names another argument: %s", msg);
}

Test(cli, usage_mentions_run_and_kernel)
{
	cr_assert_not_null(strstr(cli_usage(), "kvmini run --kernel"));
}

/* --disk, --net, --vsock */

Test(cli, parse_run_disk_takes_ro_and_serial)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--disk", "a.img,ro,serial=abc" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert_eq(c.vm.nr_disks, 1);
	cr_assert_str_eq(c.vm.disks[0].path, "a.img");
	cr_assert(c.vm.disks[0].read_only);
	cr_assert_str_eq(c.vm.disks[0].serial, "abc");
}

Test(cli, parse_run_disk_unknown_word_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--disk", "a.img,rw" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_net_takes_tap_and_mac)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--net", "tap=tap0,mac=06:00:AC:10:00:02" };
	const uint8_t want[6] = { 0x06, 0x00, 0xac, 0x10, 0x00, 0x02 };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert_eq(c.vm.nr_nics, 1);
	cr_assert_str_eq(c.vm.nics[0].ifname, "tap0");
	cr_assert(c.vm.nics[0].has_mac);
	cr_assert_arr_eq(c.vm.nics[0].mac, want, 6);
}

Test(cli, parse_run_net_twice_gives_two_nics_in_order)
{
	char *argv[] = { "kvmini", "run",   "--kernel", "k",
			 "-n",	   "tap=a", "--net",	"mac=02:00:00:00:00:01,tap=b" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert_eq(c.vm.nr_nics, 2);
	cr_assert_str_eq(c.vm.nics[0].ifname, "a");
	cr_assert_not(c.vm.nics[0].has_mac);
	cr_assert_str_eq(c.vm.nics[1].ifname, "b");
}

Test(cli, parse_run_net_without_tap_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--net", "mac=02:00:00:00:00:01" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_net_multicast_mac_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--net", "tap=t,mac=01:00:00:00:00:01" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_net_malformed_mac_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--net", "tap=t,mac=02:00:00:00:00" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_net_long_interface_name_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--net", "tap=a23456789012345x" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_net_same_tap_twice_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--net", "tap=a", "--net", "tap=a" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_vsock_takes_cid_and_uds)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--vsock", "cid=3,uds=/tmp/v.sock" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), 0);
	cr_assert(c.vm.vsock.enabled);
	cr_assert_eq(c.vm.vsock.cid, 3);
	cr_assert_str_eq(c.vm.vsock.uds, "/tmp/v.sock");
}

Test(cli, parse_run_vsock_reserved_cid_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--vsock", "cid=2,uds=/tmp/v.sock" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_vsock_without_uds_is_rejected)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--vsock", "cid=3" };
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}

Test(cli, parse_run_vsock_twice_is_rejected)
{
	char *argv[] = {
		"kvmini", "run", "--kernel", "k", "--vsock", "cid=3,uds=a", "--vsock", "cid=4,uds=b"
	};
	struct cli c;

	cr_assert_eq(cli_parse(ARGC(argv), argv, &c), -EINVAL);
}
