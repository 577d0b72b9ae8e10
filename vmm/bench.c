/* bench.c: "kvmini bench exits": what each kind of VM exit costs, measured by a bare-metal guest. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "cli.h"
#include "file.h"
#include "../devices/base/log.h"
#include "../devices/base/stats.h"
#include "vm.h"

#define BENCH_BASE_MEM	     (32ULL << 20)	   /* the guest's image, stacks and tables */
#define WATCHDOG_BASE_NS     UINT64_C(10000000000) /* a row may take 10 s plus ... */
#define WATCHDOG_PER_ITER_NS UINT64_C(2000000)	   /* ... 2 ms an iteration before it counts as stuck */
#define NR_IOEVENTFDS	     3

static const uint8_t x86_rows[] = EXITLAT_ROWS_X86;
static const uint8_t arm64_rows[] = EXITLAT_ROWS_ARM64;

static const struct bench_arch arches[] = {
	{
		.name = "x86_64",
		.guest = "exitlat.elf",
		.rows = x86_rows,
		.nr_rows = sizeof(x86_rows),
		.result_pio = 1,
		.result = EXITLAT_PORT_RESULT,
		.pio_user = EXITLAT_PORT_USER,
		.pio_ioeventfd = EXITLAT_PORT_IOEVENTFD,
		.mmio_user = EXITLAT_MMIO_USER,
		.mmio_ioeventfd = EXITLAT_MMIO_IOEVENTFD,
		.mmio_wildcard = EXITLAT_MMIO_WILDCARD,
		.done_status = 1, /* (0 << 1) | 1, as QEMU's isa-debug-exit */
		.nmi = 1,
		.clock = "TSC",
		.unit = "cycles",
		.khz_key = "tsc_khz",
	},
	{
		.name = "arm64",
		.guest = "exitlat.img",
		.rows = arm64_rows,
		.nr_rows = sizeof(arm64_rows),
		.result_pio = 0,
		.result = EXITLAT_ARM64_MMIO_RESULT,
		.mmio_user = EXITLAT_ARM64_MMIO_USER,
		.mmio_ioeventfd = EXITLAT_ARM64_MMIO_IOEVENTFD,
		.mmio_wildcard = EXITLAT_ARM64_MMIO_WILDCARD,
		.done_status = VM_EXIT_POWEROFF,
		.nmi = 0,
		.clock = "counter",
		.unit = "ticks",
		.khz_key = "counter_khz",
	},
};

const struct bench_arch *bench_arch_of(const char *name)
{
	for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++)
		if (strcmp(arches[i].name, name) == 0)
			return &arches[i];
	return NULL;
}

int bench_arch_has_row(const struct bench_arch *a, uint32_t row)
{
	for (unsigned int i = 0; i < a->nr_rows; i++)
		if (a->rows[i] == row)
			return 1;
	return 0;
}

int bench_decode(const struct gmem *m, uint64_t gpa, uint32_t max_count, struct exitlat_result *r,
		 const uint64_t **samples, const char **why)
{
	*why = "its result record lies outside guest RAM";
	if (gmem_read(m, gpa, r, sizeof(*r)) < 0) /* one read: the guest may change it meanwhile */
		return -EINVAL;
	*why = "its result record has a bad magic number";
	if (r->magic != EXITLAT_MAGIC)
		return -EINVAL;
	if (r->row == EXITLAT_ROW_DONE)
		return 1;
	*why = "its result record names an unknown row or status";
	if (r->row >= EXITLAT_NR_ROWS || r->status > EXITLAT_UNSUPPORTED)
		return -EINVAL;
	*why = "its result record holds more samples than iterations were asked for";
	if (r->count > max_count)
		return -EINVAL;
	*samples = gmem_ptr(m, r->samples_gpa, (uint64_t)r->count * sizeof(uint64_t));
	*why = "its samples lie outside guest RAM";
	if (r->count && !*samples)
		return -EINVAL;
	return 0;
}

struct bench_row {
	int seen;
	uint32_t status;
	uint32_t count;
	uint64_t *samples;
};

struct host_info {
	char cpu[128];
	char kernel[128];
	int nested;
	long clock_khz; /* the guest's clock: the TSC's rate (x86), CNTFRQ_EL0's (arm64) */
};

struct bench {
	const struct bench_arch *arch;
	struct vm vm;
	struct vm_config cfg;
	uint32_t iterations;
	int json;
	struct dev pio_user, mmio_user, result;
	int efds[NR_IOEVENTFDS];
	int wildcard; /* KVM takes length-0 ioeventfds */
	struct bench_row rows[EXITLAT_NR_ROWS];
	atomic_bool done;	    /* the guest sent its final record */
	atomic_bool protocol_error; /* the guest sent something malformed (logged once) */
	atomic_uint_fast64_t progress_ns;
	atomic_bool watchdog_stop;
	unsigned int nmis;     /* watchdog NMIs sent */
	struct host_info host; /* read before the run: the main thread's filter then opens no file */
};

static void result_write(struct dev *d, uint64_t off, const void *data, uint32_t len)
{
	struct bench *b = container_of(d, struct bench, result);
	struct exitlat_result r;
	const uint64_t *samples = NULL;
	const char *why = "it wrote the result register with the wrong width";
	int ret = off == 0 && len == 4
			  ? bench_decode(&b->vm.mem, dev_get_le(data, len), b->iterations, &r, &samples, &why)
			  : -EINVAL;
	struct bench_row *row;

	if (ret == 0 && !bench_arch_has_row(b->arch, r.row)) {
		why = "its result record names a row this architecture's guest does not have";
		ret = -EINVAL;
	}
	row = ret == 0 ? &b->rows[r.row] : NULL;

	if (ret == 1) {
		atomic_store(&b->done, true);
	} else if (row && !row->seen) {
		/* Outside any timed window: the guest has finished this row. */
		row->samples = malloc((r.count ? r.count : 1) * sizeof(uint64_t));
		if (row->samples)
			memcpy(row->samples, samples, (size_t)r.count * sizeof(uint64_t));
		row->count = row->samples ? r.count : 0;
		row->status = r.status;
		row->seen = 1;
	} else if (!atomic_exchange(&b->protocol_error, true)) {
		log_err("exit-latency guest: %s", row ? "a row was sent twice" : why);
	}
	atomic_store(&b->progress_ns, vm_now_ns());
}

static const struct dev_ops result_ops = { .name = "exitlat-result", .write = result_write };
/* Reads are zero-filled by the bus, writes dropped: the cheapest device kvmini can have. */
static const struct dev_ops pio_user_ops = { .name = "exitlat-pio" };
static const struct dev_ops mmio_user_ops = { .name = "exitlat-mmio" };

struct ioeventfd_spec {
	uint64_t addr;
	uint32_t len;
	uint32_t flags;
};

static int add_ioeventfds(struct bench *b)
{
	const struct ioeventfd_spec specs[NR_IOEVENTFDS] = {
		{ b->arch->pio_ioeventfd, 4, KVM_IOEVENTFD_FLAG_PIO },
		{ b->arch->mmio_ioeventfd, 4, 0 },
		{ b->arch->mmio_wildcard, 0, 0 }, /* length 0: any write, no data to decode */
	};

	b->wildcard = ioctl(b->vm.kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0;
	for (int i = 0; i < NR_IOEVENTFDS; i++) {
		struct kvm_ioeventfd io = { .addr = specs[i].addr,
					    .len = specs[i].len,
					    .flags = specs[i].flags };

		if (specs[i].addr == 0)
			continue; /* no ports on this architecture */
		if (specs[i].len == 0 && !b->wildcard)
			continue; /* that row then reports "unsupported" */
		b->efds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		io.fd = b->efds[i];
		if (b->efds[i] < 0 || ioctl(b->vm.fd, KVM_IOEVENTFD, &io) < 0) {
			log_layer(LOG_ERR, LAYER_PVIO, "KVM_IOEVENTFD at 0x%" PRIx64 ": %s", specs[i].addr,
				  strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int add_devices(struct bench *b)
{
	const struct bench_arch *a = b->arch;
	int ret = 0;

	b->pio_user.ops = &pio_user_ops;
	b->mmio_user.ops = &mmio_user_ops;
	b->result.ops = &result_ops;
	if (a->pio_user)
		ret = bus_add(&b->vm.pio, a->pio_user, 4, &b->pio_user);
	if (!ret)
		ret = bus_add(a->result_pio ? &b->vm.pio : &b->vm.mmio, a->result, 4, &b->result);
	if (!ret)
		ret = bus_add(&b->vm.mmio, a->mmio_user, 0x1000, &b->mmio_user);
	if (ret) {
		log_err("cannot map the benchmark's devices: %s", strerror(-ret));
		return ret;
	}
	return add_ioeventfds(b);
}

/*
 * Gets a stuck row out: an NMI first (the guest gives the row up), then the whole run. arm64 has no NMI:
 * a kick out of KVM_RUN ends a WFI that no interrupt woke, and the guest gives the row up at its limit.
 */
static void *watchdog(void *arg)
{
	struct bench *b = arg;
	uint64_t budget = WATCHDOG_BASE_NS + (uint64_t)b->iterations * WATCHDOG_PER_ITER_NS;
	const struct timespec tick = { .tv_nsec = 200000000 };

	while (!atomic_load(&b->watchdog_stop) && !atomic_load(&b->done)) {
		nanosleep(&tick, NULL);
		if (vm_now_ns() - atomic_load(&b->progress_ns) < budget)
			continue;
		if (b->nmis++ == 0) {
			log_warn("exit-latency guest: no result for %" PRIu64 " s: %s",
				 budget / UINT64_C(1000000000),
				 b->arch->nmi ? "sending an NMI to end the row"
					      : "kicking its vCPUs out of a WFI to end the row");
			for (unsigned int i = 0; i < b->vm.nr_vcpus; i++)
				if (b->arch->nmi)
					vcpu_request_nmi(&b->vm.vcpus[i]);
				else
					vcpu_kick(&b->vm.vcpus[i]);
			atomic_store(&b->progress_ns, vm_now_ns());
			continue;
		}
		vm_stop(&b->vm, VM_EXIT_ERROR,
			b->arch->nmi ? "exit-latency guest: stuck even after an NMI; giving up"
				     : "exit-latency guest: stuck even after a kick; giving up");
		break;
	}
	return NULL;
}

/*
 * This host is itself a virtual machine, so KVM here is nested and its figures partly emulation: x86's
 * CPUID hypervisor bit, or (arm64, which has none) a device tree that a hypervisor wrote: QEMU's virt
 * machine ("linux,dummy-virt"), or one with a /hypervisor node.
 */
static int host_is_virtual(const char *cpuinfo_flags_line)
{
	char compat[256];
	ssize_t n;

	if (cpuinfo_flags_line && strstr(cpuinfo_flags_line, " hypervisor"))
		return 1;
	if (access("/sys/firmware/devicetree/base/hypervisor", F_OK) == 0)
		return 1;
	n = file_read_text(AT_FDCWD, "/sys/firmware/devicetree/base/compatible", compat, sizeof(compat));
	/* A list of NUL-separated strings: search each. */
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(compat + i) + 1)
		if (strcmp(compat + i, "linux,dummy-virt") == 0)
			return 1;
	return 0;
}

/* (line) "key\t: value" of /proc/cpuinfo: its value into (buf), when its key is (key). */
static void cpuinfo_value(const char *line, const char *key, char *buf, size_t len)
{
	const char *colon = strchr(line, ':');

	if (strncmp(line, key, strlen(key)) == 0 && colon && buf[0] == '\0')
		snprintf(buf, len, "%.*s", (int)strcspn(colon + 2, "\n"), colon + 2);
}

static void read_host_info(struct bench *b, struct host_info *h)
{
	char line[4096], implementer[32] = "", part[32] = "";
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "r");

	h->cpu[0] = '\0';
	h->nested = 0;
	while (f && fgets(line, sizeof(line), f)) {
		cpuinfo_value(line, "model name", h->cpu, sizeof(h->cpu));
		/* arm64's /proc/cpuinfo names no model: its MIDR's implementer and part stand in. */
		cpuinfo_value(line, "CPU implementer", implementer, sizeof(implementer));
		cpuinfo_value(line, "CPU part", part, sizeof(part));
		if (strncmp(line, "flags", 5) == 0 && host_is_virtual(line))
			h->nested = 1;
	}
	if (f)
		fclose(f);
	if (!h->cpu[0] && implementer[0])
		snprintf(h->cpu, sizeof(h->cpu), "CPU implementer %s part %s", implementer, part);
	if (!h->cpu[0])
		snprintf(h->cpu, sizeof(h->cpu), "unknown");
	if (!h->nested)
		h->nested = host_is_virtual(NULL);
	snprintf(h->kernel, sizeof(h->kernel), "%s", uname(&u) == 0 ? u.release : "unknown");
	h->clock_khz = arch_clock_khz(b->vm.vcpus[0].fd);
}

static const char *status_name(const struct bench *b, int row)
{
	static const char *const names[] = { "ok", "timeout", "unsupported" };

	if (row == EXITLAT_ROW_MMIO_WILDCARD && !b->wildcard)
		return "unsupported";
	if (!b->rows[row].seen)
		return "missing";
	return names[b->rows[row].status];
}

static double to_ns(uint64_t cycles, long khz)
{
	return khz ? (double)cycles * 1e6 / (double)khz : 0;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++)
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s >= 0x20)
			putchar(*s);
	putchar('"');
}

static void print_json(const struct bench *b, const struct host_info *h, const struct stats_summary *st)
{
	const char *u = b->arch->unit;
	long khz = h->clock_khz;

	printf("{\"tool\":\"kvmini\",\"host_cpu\":");
	json_string(h->cpu);
	printf(",\"kernel\":");
	json_string(h->kernel);
	printf(",\"nested\":%s,\"%s\":%ld,\"cpus\":%u,\"iterations\":%u,\"rows\":[",
	       h->nested ? "true" : "false", b->arch->khz_key, khz, b->cfg.cpus, b->iterations);
	for (unsigned int i = 0; i < b->arch->nr_rows; i++) {
		int row = b->arch->rows[i];
		const struct stats_summary *s = &st[row];

		printf("%s{\"name\":\"%s\",\"status\":\"%s\",\"count\":%" PRIu64 ",\"min_%s\":%" PRIu64
		       ",\"median_%s\":%" PRIu64 ",\"p99_%s\":%" PRIu64 ",\"max_%s\":%" PRIu64
		       ",\"min_ns\":%.1f,\"median_ns\":%.1f,\"p99_ns\":%.1f,\"max_ns\":%.1f}",
		       i ? "," : "", exitlat_row_name((uint32_t)row), status_name(b, row), s->count, u,
		       s->min, u, s->median, u, s->p99, u, s->max, to_ns(s->min, khz), to_ns(s->median, khz),
		       to_ns(s->p99, khz), to_ns(s->max, khz));
	}
	printf("]}\n");
}

static void print_table(const struct bench *b, const struct host_info *h, const struct stats_summary *st)
{
	long khz = h->clock_khz;
	char unit[32];

	printf("kvmini bench exits: %s; Linux %s; %s; %s %ld kHz; %u vCPUs; %u iterations\n", h->cpu,
	       h->kernel,
	       h->nested ? "nested KVM (this host is a guest: figures include emulation)" : "hardware KVM",
	       b->arch->clock, khz, b->cfg.cpus, b->iterations);
	printf("%-16s %-11s %10s %10s %10s %10s  %10s %10s %10s %10s\n", "row", "status", "min", "median",
	       "p99", "max", "min ns", "median ns", "p99 ns", "max ns");
	snprintf(unit, sizeof(unit), "(%s %s)", b->arch->clock, b->arch->unit);
	printf("%-16s %-11s %43s  %43s\n", "", "", unit, "(nanoseconds)");
	for (unsigned int i = 0; i < b->arch->nr_rows; i++) {
		int row = b->arch->rows[i];
		const struct stats_summary *s = &st[row];

		printf("%-16s %-11s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64
		       "  %10.0f %10.0f %10.0f %10.0f\n",
		       exitlat_row_name((uint32_t)row), status_name(b, row), s->min, s->median, s->p99,
		       s->max, to_ns(s->min, khz), to_ns(s->median, khz), to_ns(s->p99, khz),
		       to_ns(s->max, khz));
	}
	printf("Every row includes the timing loop's own cost: the 'loop' row, which has no exit.\n");
}

static int report(struct bench *b, int status)
{
	struct stats_summary st[EXITLAT_NR_ROWS];

	if (status != b->arch->done_status || !atomic_load(&b->done) || atomic_load(&b->protocol_error)) {
		log_err("the exit-latency guest did not finish its run (exit status %d%s): run with -v to see its console",
			status, atomic_load(&b->protocol_error) ? ", malformed results" : "");
		return VM_EXIT_ERROR;
	}
	for (int i = 0; i < EXITLAT_NR_ROWS; i++)
		stats_summarize(b->rows[i].samples, b->rows[i].seen ? b->rows[i].count : 0, &st[i]);
	if (b->json)
		print_json(b, &b->host, st);
	else
		print_table(b, &b->host, st);
	return 0;
}

/* Its format: the clock, its unit and the guest image of the architecture. */
#define BENCH_USAGE                                                                             \
	"usage: kvmini bench exits [--cpus N] [--iterations N] [--json] [--guest PATH] [-v]\n"  \
	"\n"                                                                                    \
	"Boot the bare-metal exit-latency guest and print what each kind of VM exit costs:\n"   \
	"min, median, p99 and max in %s %s and nanoseconds, one row per exit kind.\n"           \
	"\n"                                                                                    \
	"  -c, --cpus N          vCPUs (default 2; the IPI row needs 2)\n"                      \
	"  -n, --iterations N    samples per row (default 10000)\n"                             \
	"      --json            one JSON object on stdout instead of the table\n"              \
	"      --guest PATH      the guest image (default guest/%s beside the kvmini binary)\n" \
	"      --kvm-device PATH the KVM device (default /dev/kvm)\n"                           \
	"      --allow-pvm       run even where /dev/kvm is PVM (its figures are emulation)\n"  \
	"  -v, --verbose         show the guest's console on stderr\n"

static const struct option bench_options[] = {
	{ "cpus", required_argument, NULL, 'c' },
	{ "iterations", required_argument, NULL, 'n' },
	{ "json", no_argument, NULL, 'j' },
	{ "guest", required_argument, NULL, 'g' },
	{ "kvm-device", required_argument, NULL, 'K' },
	{ "allow-pvm", no_argument, NULL, 'P' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_bench_option(struct bench *b, int opt, const char *arg, int *verbose)
{
	unsigned long n;

	switch (opt) {
	case 'c':
		if (cli_parse_uint(arg, 1, 255, &n) < 0)
			goto bad;
		b->cfg.cpus = (unsigned int)n;
		return 0;
	case 'n':
		if (cli_parse_uint(arg, 1, BENCH_MAX_ITERATIONS, &n) < 0)
			goto bad;
		b->iterations = (uint32_t)n;
		return 0;
	case 'j':
		b->json = 1;
		return 0;
	case 'g':
		b->cfg.kernel = arg;
		return 0;
	case 'K':
		b->cfg.kvm_device = arg;
		return 0;
	case 'P':
		b->cfg.allow_pvm = true;
		return 0;
	case 'v':
		(*verbose)++;
		return 0;
	default:
		log_err("bench exits: unknown option or missing value: see 'kvmini bench exits --help'");
		return -EINVAL;
	}
bad:
	log_err("bench exits: --%s '%s' is out of range (see 'kvmini bench exits --help')",
		opt == 'c' ? "cpus" : "iterations", arg);
	return -EINVAL;
}

/* The guest is built beside kvmini: build/kvmini and build/guest/exitlat.elf; build/arm64/guest/exitlat.img. */
static const char *default_guest(const struct bench_arch *a, char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0) {
		snprintf(buf, len, "guest/%s", a->guest);
		return buf;
	}
	exe[n] = '\0';
	snprintf(buf, len, "%s/guest/%s", dirname(exe), a->guest);
	return buf;
}

static void usage(const struct bench_arch *a, FILE *f)
{
	fprintf(f, BENCH_USAGE, a->clock, a->unit, a->guest);
}

static int parse_bench(struct bench *b, int argc, char **argv, int *verbose)
{
	int opt;

	if (argc < 2 || strcmp(argv[1], "exits") != 0) {
		usage(b->arch, stderr);
		log_err("bench: the one benchmark is 'exits': kvmini bench exits [options]");
		return -EINVAL;
	}
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc - 1, argv + 1, "c:n:vh", bench_options, NULL)) != -1) {
		if (opt == 'h') {
			usage(b->arch, stdout);
			return 1;
		}
		if (parse_bench_option(b, opt, optarg, verbose) < 0)
			return -EINVAL;
	}
	if (optind < argc - 1) {
		log_err("bench exits: unexpected argument '%s'", argv[optind + 1]);
		return -EINVAL;
	}
	return 0;
}

static int run_bench(struct bench *b, char *cmdline, size_t cmdline_len)
{
	pthread_t wd;
	int status;

	snprintf(cmdline, cmdline_len, "iterations=%u cpus=%u", b->iterations, b->cfg.cpus);
	b->cfg.cmdline = cmdline;
	b->cfg.mem = (BENCH_BASE_MEM + (uint64_t)b->iterations * sizeof(uint64_t) + (1 << 20) - 1) &
		     ~((1ULL << 20) - 1);
	for (int i = 0; i < NR_IOEVENTFDS; i++)
		b->efds[i] = -1;
	if (access(b->cfg.kernel, R_OK) != 0) {
		log_err("exit-latency guest %s: %s: build it with 'make', or give --guest PATH",
			b->cfg.kernel, strerror(errno));
		return VM_EXIT_ERROR;
	}
	if (vm_create(&b->vm, &b->cfg) < 0 || add_devices(b) < 0)
		return VM_EXIT_ERROR;
	read_host_info(b, &b->host);
	atomic_store(&b->progress_ns, vm_now_ns());
	if (pthread_create(&wd, NULL, watchdog, b) != 0) {
		log_err("cannot start the benchmark's watchdog thread");
		return VM_EXIT_ERROR;
	}
	status = vm_run(&b->vm);
	atomic_store(&b->watchdog_stop, true);
	pthread_join(wd, NULL);
	return report(b, status);
}

int bench_main(int argc, char **argv, uint64_t start_ns)
{
	static struct bench b; /* large; one per process */
	char guest[PATH_MAX], cmdline[64];
	int verbose = 0, ret, null_fd;

	b.arch = bench_arch_of(ARCH_NAME);
	b.iterations = BENCH_DEFAULT_ITERATIONS;
	b.cfg = (struct vm_config){ .cpus = 2,
				    .kvm_device = "/dev/kvm",
				    .start_ns = start_ns,
				    .kernel = default_guest(b.arch, guest, sizeof(guest)) };
	ret = parse_bench(&b, argc, argv, &verbose);
	if (ret)
		return ret > 0 ? 0 : VM_EXIT_ERROR;
	log_set_level(verbose ? LOG_INFO : LOG_WARN);
	/* The guest's console is for people: on stderr with -v, else nowhere (stdout carries results). */
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	b.cfg.console_fd = verbose ? STDERR_FILENO : null_fd;
	ret = run_bench(&b, cmdline, sizeof(cmdline));
	vm_destroy(&b.vm);
	for (int i = 0; i < NR_IOEVENTFDS; i++)
		if (b.efds[i] >= 0)
			close(b.efds[i]);
	for (int i = 0; i < EXITLAT_NR_ROWS; i++)
		free(b.rows[i].samples);
	if (null_fd >= 0)
		close(null_fd);
	return ret;
}
