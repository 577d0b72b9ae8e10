/* cli.c: the command line: subcommands, options, sizes. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "../devices/base/log.h"
#include "cgroup.h"

int cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int suffix_shift(const char *s, unsigned int *shift)
{
	static const char units[] = "KMGT";
	const char *u;

	if (*s == '\0') {
		*shift = 20; /* bare number: MiB */
		return 0;
	}
	u = strchr(units, toupper((unsigned char)*s));
	if (!u || *s == '\0')
		return -EINVAL;
	*shift = 10 * (unsigned int)(u - units + 1);
	s++;
	if (*s == '\0' || strcasecmp(s, "B") == 0 || strcasecmp(s, "iB") == 0)
		return 0;
	return -EINVAL;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned int shift;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (suffix_shift(end, &shift) < 0)
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int cli_check_mem(uint64_t mem, uint64_t host_ram)
{
	if (mem < CLI_MIN_MEM) {
		log_err("--mem %" PRIu64 "K is too small: a guest needs at least %llu MiB", mem >> 10,
			CLI_MIN_MEM >> 20);
		return -EINVAL;
	}
	if (mem % 4096) {
		log_err("--mem must be a whole number of 4 KiB pages");
		return -EINVAL;
	}
	if (host_ram && mem > host_ram) {
		log_err("--mem %" PRIu64 "M is more than this host's %" PRIu64 " MiB of RAM: give less",
			mem >> 20, host_ram >> 20);
		return -EINVAL;
	}
	return 0;
}

const char *cli_usage(void)
{
	return "usage: kvmini run --kernel BZIMAGE [options]\n"
	       "       kvmini host [-q] [--no-canary]   what this machine offers kvmini, by layer\n"
	       "       kvmini bench exits [options]     what each kind of VM exit costs\n"
	       "       kvmini doctor [--json]           check this host before running a VM, by layer\n"
	       "       kvmini stat|inspect|pause|resume|quit --api-sock PATH\n"
	       "                                        a running VM's counters, state by layer, control\n"
	       "       kvmini --version | --help\n"
	       "\n"
	       "Boot a Linux kernel in a KVM microVM, its console on this terminal.\n"
	       "\n"
	       "  -k, --kernel PATH     Linux bzImage to boot (64-bit boot protocol 2.12+)\n"
	       "  -i, --initrd PATH     initramfs or initrd image\n"
	       "  -a, --cmdline TEXT    appended to the default command line \"console=ttyS0 panic=-1\"\n"
	       "  -c, --cpus N          vCPUs (default 1)\n"
	       "  -m, --mem SIZE        guest RAM, with a K/M/G/T suffix; a bare number is MiB (default 256M)\n"
	       "  -d, --disk PATH[,ro][,serial=ID]\n"
	       "                        a raw disk image as a virtio-blk disk (repeatable: vda, vdb, ... in\n"
	       "                        order); ro: read-only; serial: up to 20 characters for the guest\n"
	       "  -d, --disk vhost-user=SOCKET\n"
	       "                        a virtio-blk disk served by a vhost-user back end listening on\n"
	       "                        SOCKET (kvmini device blk, qemu-storage-daemon, ...)\n"
	       "  -n, --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX]\n"
	       "                        a virtio-net NIC on tap device NAME (repeatable: eth0, eth1, ...);\n"
	       "                        kvmini creates the tap when it is absent and kvmini has\n"
	       "                        CAP_NET_ADMIN; default MAC: random, locally administered\n"
	       "      --vsock cid=N,uds=PATH\n"
	       "                        a virtio-vsock device, guest CID N; host programs connect to the\n"
	       "                        Unix socket PATH and send \"CONNECT <port>\\n\"; the guest reaches\n"
	       "                        host port P at PATH_P (Firecracker's hybrid vsock)\n"
	       "      --devices processes|in-process\n"
	       "                        where the device models run: each disk, NIC and vsock device in\n"
	       "                        a sandboxed device process of its own (the default), or on\n"
	       "                        threads of kvmini's\n"
	       "      --api-sock PATH   serve the API (HTTP/1.1 and JSON, Firecracker's paths where it has\n"
	       "                        them) on Unix socket PATH, owner-only: GET / /machine-config /stats\n"
	       "                        /inspect[?layer=L-n][&dirty=1], PATCH /vm {\"state\": \"Paused\"},\n"
	       "                        PUT /actions {\"action_type\": \"Quit\"}\n"
	       "      --cgroup PATH[,cpu.max=QUOTA[/PERIOD]][,memory.max=SIZE]\n"
	       "                        run kvmini, its vCPU threads and device processes in cgroup v2\n"
	       "                        PATH (absolute: under /sys/fs/cgroup; relative: under kvmini's\n"
	       "                        own), made when missing and removed at the end, with these limits\n"
	       "      --kvm-device PATH the KVM device (default /dev/kvm)\n"
	       "      --allow-pvm       run even where /dev/kvm is PVM (no hardware virtualisation: a\n"
	       "                        stock kernel does not boot in useful time there)\n"
	       "  -v, --verbose         say more (twice: debug); -q, --quiet: errors and warnings only\n"
	       "  -h, --help            this help\n"
	       "\n"
	       "Console: Ctrl-A x quits, Ctrl-A a sends Ctrl-A, Ctrl-A h helps (on a terminal only).\n"
	       "Exit status: 0 guest powered off, 1/3/5/... debug-exit port 0xf4 ((value << 1) | 1),\n"
	       "2 kvmini's own error, 4 guest reboot, 6 guest panic (pvpanic), 8 guest crashed its vCPU\n"
	       "(triple fault, KVM emulation failure), 10 quit from the console or the API, 12 a device process\n"
	       "failed for good (died again and again, or could not be started again), 14 a vCPU thread's\n"
	       "syscall filter refused a call (a bug in kvmini), 128+N signal N.\n";
}

static int bad_value(const char *opt, const char *arg, const char *what)
{
	log_err("%s '%s': %s", opt, arg, what);
	return -EINVAL;
}

/* One ",word" of an option with sub-options: 0, or -EINVAL (logged) for a word it does not take. */
typedef int option_word_fn(void *ctx, const char *arg, const char *word, size_t len);

/* Calls (fn) on each word of (list), a comma-separated tail of option value (arg); NULL: none. */
static int for_each_word(const char *arg, const char *list, option_word_fn *fn, void *ctx)
{
	while (list) {
		const char *next = strchr(list, ',');
		size_t len = next ? (size_t)(next - list) : strlen(list);

		if (fn(ctx, arg, list, len) < 0)
			return -EINVAL;
		list = next ? next + 1 : NULL;
	}
	return 0;
}

/* Whether (word) of (len) bytes is "(key)=..."; the value then starts at word + strlen(key) + 1. */
static bool is_key(const char *word, size_t len, const char *key)
{
	size_t n = strlen(key);

	return len > n && strncmp(word, key, n) == 0 && word[n] == '=';
}

/* One ",word" of a --disk option: "ro" or "serial=ID". */
static int disk_word(void *ctx, const char *arg, const char *word, size_t len)
{
	struct vm_disk_config *d = ctx;

	if (len == 2 && strncmp(word, "ro", 2) == 0) {
		d->read_only = true;
		return 0;
	}
	if (is_key(word, len, "serial")) {
		if (len - 7 > BLK_SERIAL_LEN)
			return bad_value("--disk", arg, "the serial is longer than 20 characters");
		for (size_t i = 7; i < len; i++)
			if (!isgraph((unsigned char)word[i]))
				return bad_value("--disk", arg,
						 "the serial takes printable characters, no spaces");
		memcpy(d->serial, word + 7, len - 7);
		d->serial[len - 7] = '\0';
		d->has_serial = true;
		return 0;
	}
	return bad_value("--disk", arg, "expected PATH[,ro][,serial=ID]");
}

int cli_parse_disk(struct vm_disk_config *d, const char *arg)
{
	static const char vhu[] = "vhost-user=";
	const char *comma = strchr(arg, ',');
	size_t len = comma ? (size_t)(comma - arg) : strlen(arg);

	memset(d, 0, sizeof(*d));
	if (strncmp(arg, vhu, sizeof(vhu) - 1) == 0) {
		/* The back end owns the image and its options: only where to reach it is kvmini's. */
		d->vhost_user = true;
		arg += sizeof(vhu) - 1;
		if (comma)
			return bad_value("--disk", arg,
					 "vhost-user=SOCKET takes no options: the back end has the disk's");
		len = strlen(arg);
		if (len == 0)
			return bad_value("--disk", arg, "no socket path after vhost-user=");
		if (len >= 108)
			return bad_value("--disk", arg,
					 "the socket path is longer than a Unix socket address takes");
		memcpy(d->path, arg, len);
		return 0;
	}
	if (len == 0)
		return bad_value("--disk", arg, "no image path before the options");
	if (len >= sizeof(d->path))
		return bad_value("--disk", arg, "the path is too long");
	memcpy(d->path, arg, len);
	return for_each_word(arg, comma ? comma + 1 : NULL, disk_word, d);
}

static int parse_disk(struct vm_config *vm, const char *arg)
{
	if (vm->nr_disks == VM_MAX_DISKS)
		return bad_value("--disk", arg, "kvmini takes at most 16 disks");
	if (cli_parse_disk(&vm->disks[vm->nr_disks], arg) < 0)
		return -EINVAL;
	vm->nr_disks++;
	return 0;
}

int cli_parse_mac(const char *s, size_t len, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;

		if (len != 17 || !isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)strtoul((char[3]){ p[0], p[1], '\0' }, NULL, 16);
	}
	return 0;
}

/* One word of a --net option: "tap=NAME" or "mac=XX:XX:XX:XX:XX:XX". */
static int net_word(void *ctx, const char *arg, const char *word, size_t len)
{
	struct vm_net_config *n = ctx;

	if (is_key(word, len, "tap")) {
		if (len - 4 >= sizeof(n->ifname))
			return bad_value("--net", arg, "an interface name has at most 15 characters");
		memcpy(n->ifname, word + 4, len - 4);
		n->ifname[len - 4] = '\0';
		if (strchr(n->ifname, '/') || strchr(n->ifname, ' '))
			return bad_value("--net", arg, "an interface name has no '/' or spaces");
		return 0;
	}
	if (is_key(word, len, "mac")) {
		if (cli_parse_mac(word + 4, len - 4, n->mac) < 0)
			return bad_value("--net", arg, "expected mac=XX:XX:XX:XX:XX:XX (hex digits)");
		if (n->mac[0] & 1)
			return bad_value("--net", arg,
					 "that MAC is a multicast address: clear bit 0 of its first byte");
		n->has_mac = true;
		return 0;
	}
	return bad_value("--net", arg, "expected tap=NAME[,mac=XX:XX:XX:XX:XX:XX]");
}

static int parse_net(struct vm_config *vm, const char *arg)
{
	struct vm_net_config *n = &vm->nics[vm->nr_nics];

	if (vm->nr_nics == VM_MAX_NICS)
		return bad_value("--net", arg, "kvmini takes at most 8 network interfaces");
	memset(n, 0, sizeof(*n));
	if (for_each_word(arg, arg, net_word, n) < 0)
		return -EINVAL;
	if (!n->ifname[0])
		return bad_value("--net", arg, "name the tap device: tap=NAME");
	for (unsigned int i = 0; i < vm->nr_nics; i++)
		if (strcmp(vm->nics[i].ifname, n->ifname) == 0)
			return bad_value("--net", arg, "that tap is already given to another --net");
	vm->nr_nics++;
	return 0;
}

/* One word of the --vsock option: "cid=N" or "uds=PATH". */
static int vsock_word(void *ctx, const char *arg, const char *word, size_t len)
{
	struct vm_vsock_config *v = ctx;
	unsigned long cid;

	if (is_key(word, len, "cid")) {
		char num[16] = "";

		if (len - 4 < sizeof(num))
			memcpy(num, word + 4, len - 4);
		if (cli_parse_uint(num, 3, 0xfffffffeUL, &cid) < 0)
			return bad_value("--vsock", arg,
					 "cid is a number from 3 to 4294967294 (0-2 are reserved)");
		v->cid = cid;
		return 0;
	}
	if (is_key(word, len, "uds")) {
		if (len - 4 >= sizeof(v->uds))
			return bad_value("--vsock", arg, "the socket path is too long for a Unix socket");
		memcpy(v->uds, word + 4, len - 4);
		v->uds[len - 4] = '\0';
		return 0;
	}
	return bad_value("--vsock", arg, "expected cid=N,uds=PATH");
}

static int parse_vsock(struct vm_config *vm, const char *arg)
{
	struct vm_vsock_config *v = &vm->vsock;

	if (v->enabled)
		return bad_value("--vsock", arg, "a VM has one vsock device: give --vsock once");
	memset(v, 0, sizeof(*v));
	if (for_each_word(arg, arg, vsock_word, v) < 0)
		return -EINVAL;
	if (!v->cid || !v->uds[0])
		return bad_value("--vsock", arg, "both are needed: cid=N,uds=PATH");
	v->enabled = true;
	return 0;
}

static int parse_option(struct cli *c, int opt, const char *arg)
{
	unsigned long n;

	switch (opt) {
	case 'k':
		c->vm.kernel = arg;
		return 0;
	case 'i':
		c->vm.initrd = arg;
		return 0;
	case 'a':
		c->vm.cmdline = arg;
		return 0;
	case 'c':
		if (cli_parse_uint(arg, 1, 255, &n) < 0)
			return bad_value("--cpus", arg, "expected a whole number from 1 to 255");
		c->vm.cpus = (unsigned int)n;
		return 0;
	case 'm':
		if (cli_parse_size(arg, &c->vm.mem) < 0)
			return bad_value("--mem", arg, "expected a size such as 512M or 2G");
		return 0;
	case 'K':
		c->vm.kvm_device = arg;
		return 0;
	case 'P':
		c->vm.allow_pvm = true;
		return 0;
	case 'D':
		if (strcmp(arg, "in-process") && strcmp(arg, "processes"))
			return bad_value("--devices", arg,
					 "expected 'processes' (the default) or 'in-process'");
		c->vm.devices_in_process = strcmp(arg, "in-process") == 0;
		return 0;
	case 'd':
		return parse_disk(&c->vm, arg);
	case 'n':
		return parse_net(&c->vm, arg);
	case 'V':
		return parse_vsock(&c->vm, arg);
	case 'G':
		return cgroup_parse(arg, &c->vm.cgroup);
	case 'A':
		if (strlen(arg) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return bad_value("--api-sock", arg,
					 "the path is too long for a Unix socket: give a shorter one");
		c->vm.api_sock = arg;
		return 0;
	case 'v':
		c->verbosity++;
		return 0;
	case 'q':
		c->verbosity = -1;
		return 0;
	case 'h':
		c->action = CLI_HELP;
		return 0;
	default:
		return -EINVAL; /* getopt has said what was wrong */
	}
}

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "cmdline", required_argument, NULL, 'a' },
	{ "cpus", required_argument, NULL, 'c' },
	{ "mem", required_argument, NULL, 'm' },
	{ "kvm-device", required_argument, NULL, 'K' },
	{ "allow-pvm", no_argument, NULL, 'P' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "disk", required_argument, NULL, 'd' },
	{ "net", required_argument, NULL, 'n' },
	{ "vsock", required_argument, NULL, 'V' },
	{ "devices", required_argument, NULL, 'D' },
	{ "api-sock", required_argument, NULL, 'A' },
	{ "cgroup", required_argument, NULL, 'G' },
	{ NULL, 0, NULL, 0 },
};

/* Names the option getopt stopped at: a long one as written, a short one by its letter (it may sit in a group). */
static void bad_option(int opt, const char *arg)
{
	const char *what = opt == '?' ? "unknown option" : "missing value for";

	if (strncmp(arg, "--", 2) != 0 && optopt)
		log_err("run: %s '-%c': see 'kvmini run --help'", what, optopt);
	else
		log_err("run: %s '%s': see 'kvmini run --help'", what, arg);
}

static int parse_run(int argc, char **argv, struct cli *c)
{
	int opt;

	optind = 0; /* 0, not 1: glibc then also forgets a half-parsed group of short options */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":k:i:a:c:m:d:n:vqh", run_options, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			bad_option(opt, argv[optind - 1]);
			return -EINVAL;
		}
		if (parse_option(c, opt, optarg) < 0)
			return -EINVAL;
	}
	if (optind < argc) {
		log_err("run: unexpected argument '%s': options take the form --name VALUE", argv[optind]);
		return -EINVAL;
	}
	if (c->action == CLI_RUN && !c->vm.kernel) {
		log_err("run: no kernel given: use --kernel PATH (a bzImage, e.g. /boot/vmlinuz-*)");
		return -EINVAL;
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct cli *c)
{
	*c = (struct cli){
		.action = CLI_RUN,
		.vm = { .cpus = CLI_DEFAULT_CPUS,
			.mem = CLI_DEFAULT_MEM,
			.kvm_device = "/dev/kvm",
			.console_fd = STDOUT_FILENO,
			.console_input = true },
	};
	if (argc < 2) {
		log_err("no command: try 'kvmini run --kernel BZIMAGE' or 'kvmini --help'");
		return -EINVAL;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		c->action = CLI_HELP;
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		c->action = CLI_VERSION;
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return parse_run(argc - 1, argv + 1, c);
	log_err("unknown command '%s': the commands are 'run', 'host', 'doctor', 'bench', 'stat', 'inspect', "
		"'pause', 'resume', 'quit', 'device', '--help' and '--version'",
		argv[1]);
	return -EINVAL;
}
