/* devproc.c: `kvmini device blk|net ...`: a virtio device process, a vhost-user back end. */
#include "devproc.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../vmm/cli.h"
#include "../../vmm/log.h"
#include "../virtio/blk.h"
#include "../virtio/net.h"
#include "sandbox.h"
#include "vhu_backend.h"

static const char usage[] =
	"Usage: kvmini device blk (--socket PATH | --fd N) --disk PATH[,ro][,serial=ID] [options]\n"
	"       kvmini device net (--socket PATH | --fd N) (--tap NAME | --tap-fd N) [--mac MAC] [options]\n"
	"\n"
	"Serve one virtio device as a vhost-user back end (QEMU's vhost-user protocol) to one front end\n"
	"(kvmini, QEMU's vhost-user-blk-pci or -netdev vhost-user, ...), then exit. The process locks\n"
	"itself down before it reads guest data: new namespaces where it was started in them, an empty\n"
	"root, no capabilities, no new privileges, Landlock, and a seccomp allowlist of the calls the\n"
	"device needs.\n"
	"\n"
	"  --socket PATH      listen on Unix socket PATH and serve the first front end that connects\n"
	"  --fd N             serve the front end already connected on descriptor N (kvmini's own use)\n"
	"  --disk PATH[,ro][,serial=ID]   blk: the raw image, as kvmini run's --disk\n"
	"  --queues N         blk: request queues, 1 to 8 (default 1)\n"
	"  --tap NAME         net: the tap interface (created when absent, with CAP_NET_ADMIN)\n"
	"  --tap-fd N         net: a tap already open on descriptor N (kvmini's own use)\n"
	"  --mac MAC          net: the NIC's MAC (default: random, locally administered)\n"
	"  --name NAME        what messages call the device (default vda or eth0)\n"
	"  --report-fd N      where a refused syscall is reported (kvmini's own use)\n"
	"  --no-sandbox       skip the lock-down (debugging only)\n"
	"  -v, --verbose      say what was obtained of the lock-down and the front end's requests\n"
	"\n"
	"Exit status: 0 the front end hung up, 1 serving failed, 2 bad usage or set-up,\n"
	"159 a syscall the filter does not allow (reported on --report-fd and stderr).\n";

struct devproc_opts {
	bool net; /* else blk */
	const char *socket;
	int fd;
	struct vm_disk_config disk;
	bool has_disk;
	const char *tap;
	int tap_fd;
	uint8_t mac[6];
	bool has_mac;
	unsigned int queues;
	const char *name;
	int report_fd;
	bool sandbox;
	int verbosity;
};

static int parse(int argc, char **argv, struct devproc_opts *o)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, 'f' },
		{ "disk", required_argument, NULL, 'd' },
		{ "queues", required_argument, NULL, 'q' },
		{ "name", required_argument, NULL, 'n' },
		{ "report-fd", required_argument, NULL, 'r' },
		{ "no-sandbox", no_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "tap", required_argument, NULL, 't' },
		{ "tap-fd", required_argument, NULL, 'T' },
		{ "mac", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long n;
	int opt;

	*o = (struct devproc_opts){
		.net = o->net, .fd = -1, .tap_fd = -1, .queues = 1, .report_fd = -1, .sandbox = true
	};
	o->name = o->net ? "eth0" : "vda";
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			o->socket = optarg;
			break;
		case 'f':
		case 'r':
			if (cli_parse_uint(optarg, 0, 1023, &n) < 0) {
				log_err("device: --%s '%s': expected a descriptor number",
					opt == 'f' ? "fd" : "report-fd", optarg);
				return -EINVAL;
			}
			*(opt == 'f' ? &o->fd : &o->report_fd) = (int)n;
			break;
		case 'd':
			if (cli_parse_disk(&o->disk, optarg) < 0)
				return -EINVAL;
			o->has_disk = true;
			break;
		case 'q':
			if (cli_parse_uint(optarg, 1, VIRTIO_MAX_QUEUES, &n) < 0) {
				log_err("device: --queues '%s': expected a whole number from 1 to %d", optarg,
					VIRTIO_MAX_QUEUES);
				return -EINVAL;
			}
			o->queues = (unsigned int)n;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 'S':
			o->sandbox = false;
			break;
		case 'v':
			o->verbosity++;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			log_err("device: %s '%s': see 'kvmini device blk --help'",
				opt == '?' ? "unknown option" : "missing value for", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_err("device: unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if ((!o->socket) == (o->fd < 0)) {
		log_err("device: give one of --socket PATH or --fd N (see 'kvmini device --help')");
		return -EINVAL;
	}
	if (!o->net && !o->has_disk) {
		log_err("device blk: give --disk PATH (see 'kvmini device --help')");
		return -EINVAL;
	}
	if (o->net && (!o->tap) == (o->tap_fd < 0)) {
		log_err("device net: give one of --tap NAME or --tap-fd N (see 'kvmini device --help')");
		return -EINVAL;
	}
	return 0;
}

/* Listen on (path) and take the first front end: the connected socket, or -errno (logged). */
static int accept_one(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int l, s;

	if (strlen(path) >= sizeof(a.sun_path)) {
		log_err("device: socket path %s is longer than a Unix socket address takes (%zu bytes)", path,
			sizeof(a.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, path);
	/* A socket left by an earlier back end goes; any other file stays, and is an error. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0) {
		int err = errno;

		log_err("device: cannot listen on %s: %s", path, strerror(err));
		if (l >= 0)
			close(l);
		return -err;
	}
	log_info("listening on %s", path);
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		log_err("device: accepting on %s: %s", path, strerror(errno));
	close(l);
	unlink(path);
	return s < 0 ? -errno : s;
}

/* Leave without atexit handlers or a sanitizer's exit work: under the filter only exit_group remains. */
static _Noreturn void leave(int status)
{
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

static int lock_down(const struct devproc_opts *o, const char *what)
{
	struct sandbox_policy p = {
		.name = what,
		.kind = o->net ? SANDBOX_NET : SANDBOX_BLK,
		.report_fd = o->report_fd,
		.max_fds = 64,
	};
	struct sandbox_report r;
	int ret = sandbox_lock(&p, &r);

	if (ret)
		return ret;
	log_layer(LOG_INFO, LAYER_SANDBOX,
		  "%s: locked down: seccomp allowlist of %u syscalls, Landlock ABI %d, namespaces %#lx%s%s",
		  what, r.nr_syscalls, r.landlock_abi, r.namespaces, r.why[0] ? "; " : "", r.why);
	return 0;
}

/* The device's model, from the options: 0 with (dev) filled, or -errno (logged). */
static int open_model(const struct devproc_opts *o, const char *what, struct virtio_device *dev)
{
	static struct blk_disk disk;
	static struct net_dev nic;
	uint8_t mac[6];
	int ret;

	if (!o->net) {
		ret = blk_open(&disk, o->disk.path, o->disk.read_only,
			       o->disk.has_serial ? o->disk.serial : NULL);
		if (!ret)
			blk_device(&disk, what, o->queues, dev);
		return ret;
	}
	if (o->has_mac)
		memcpy(mac, o->mac, sizeof(mac));
	else
		net_mac_random(mac);
	ret = o->tap ? net_open(&nic, o->tap, mac) : net_init_fd(&nic, o->tap_fd, mac);
	if (!ret)
		net_device(&nic, what, dev);
	return ret;
}

int devproc_main(int argc, char **argv)
{
	static struct vhu_backend b;
	struct devproc_opts o = { 0 };
	struct virtio_device dev;
	char who[48], what[48];
	int sock, ret;

	if (argc < 2 || (strcmp(argv[1], "blk") != 0 && strcmp(argv[1], "net") != 0)) {
		log_err("device: the device processes are 'blk' and 'net' (see 'kvmini device blk --help')");
		return 2;
	}
	o.net = strcmp(argv[1], "net") == 0;
	if (parse(argc - 1, argv + 1, &o) < 0)
		return 2;
	snprintf(who, sizeof(who), "kvmini[%s]", o.name);
	log_set_name(who);
	log_set_level(o.verbosity ? LOG_INFO : LOG_NOTICE);
	snprintf(what, sizeof(what), "virtio-%s %s", o.net ? "net" : "blk", o.name);
	if (open_model(&o, what, &dev) < 0)
		return 2;
	sock = o.socket ? accept_one(o.socket) : o.fd;
	if (sock < 0)
		return 2;
	if (vhu_backend_init(&b, &dev, sock) < 0)
		return 2;
	if (o.sandbox && lock_down(&o, what) < 0)
		leave(2);
	ret = vhu_backend_serve(&b);
	log_info("%s: the front end hung up after %llu messages", what, (unsigned long long)b.messages);
	leave(ret < 0 ? 1 : 0);
}
