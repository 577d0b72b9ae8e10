/* devproc.c: `kvmini device blk|net ...`: a virtio device process, a vhost-user back end. */
#include "devproc.h"

#include <errno.h>
#include <fcntl.h>
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
#include "../base/log.h"
#include "../virtio/blk.h"
#include "../virtio/net.h"
#include "../virtio/vsock.h"
#include "sandbox.h"
#include "vhu_backend.h"

static const char usage[] =
	"Usage: kvmini device blk (--socket PATH | --fd N) --disk PATH[,ro][,serial=ID] [options]\n"
	"       kvmini device net (--socket PATH | --fd N) (--tap NAME | --tap-fd N) [--mac MAC] [options]\n"
	"       kvmini device vsock (--socket PATH | --fd N) --cid N --uds PATH [options]\n"
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
	"  --cid N --uds PATH vsock: the guest's CID and the host side's Unix socket (Firecracker's hybrid\n"
	"                     vsock, as kvmini run's --vsock)\n"
	"  --name NAME        what messages call the device (default vda or eth0)\n"
	"  --report-fd N      where a refused syscall is reported (kvmini's own use)\n"
	"  --stats-fd N       a memfd page the queues are counted in, shared with kvmini (its own use)\n"
	"  --no-sandbox       skip the lock-down (debugging only)\n"
	"  -v, --verbose      say what was obtained of the lock-down and the front end's requests\n"
	"\n"
	"Exit status: 0 the front end hung up, 1 serving failed, 2 bad usage or set-up,\n"
	"159 a syscall the filter does not allow (reported on --report-fd and stderr).\n";

enum devproc_kind {
	DEVPROC_BLK,
	DEVPROC_NET,
	DEVPROC_VSOCK
};

struct devproc_opts {
	enum devproc_kind kind;
	const char *socket;
	int fd;
	struct vm_disk_config disk;
	bool has_disk;
	const char *tap;
	int tap_fd;
	uint8_t mac[6];
	bool has_mac;
	unsigned long cid;
	const char *uds;
	unsigned int queues;
	const char *name;
	int report_fd;
	int stats_fd;
	bool sandbox;
	int verbosity;
};

static int parse(int argc, char **argv, struct devproc_opts *o)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },   { "fd", required_argument, NULL, 'f' },
		{ "disk", required_argument, NULL, 'd' },     { "queues", required_argument, NULL, 'q' },
		{ "name", required_argument, NULL, 'n' },     { "report-fd", required_argument, NULL, 'r' },
		{ "stats-fd", required_argument, NULL, 'C' }, { "no-sandbox", no_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },	      { "help", no_argument, NULL, 'h' },
		{ "tap", required_argument, NULL, 't' },      { "tap-fd", required_argument, NULL, 'T' },
		{ "mac", required_argument, NULL, 'm' },      { "cid", required_argument, NULL, 'c' },
		{ "uds", required_argument, NULL, 'u' },      { NULL, 0, NULL, 0 },
	};
	unsigned long n;
	int opt;

	*o = (struct devproc_opts){ .kind = o->kind,
				    .fd = -1,
				    .tap_fd = -1,
				    .queues = 1,
				    .report_fd = -1,
				    .stats_fd = -1,
				    .sandbox = true };
	o->name = o->kind == DEVPROC_NET ? "eth0" : o->kind == DEVPROC_VSOCK ? "vsock" : "vda";
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			o->socket = optarg;
			break;
		case 'f':
		case 'r':
		case 'T':
		case 'C':
			if (cli_parse_uint(optarg, 0, 1023, &n) < 0) {
				log_err("device: --%s '%s': expected a descriptor number",
					opt == 'f'   ? "fd"
					: opt == 'r' ? "report-fd"
					: opt == 'C' ? "stats-fd"
						     : "tap-fd",
					optarg);
				return -EINVAL;
			}
			*(opt == 'f'   ? &o->fd
			  : opt == 'r' ? &o->report_fd
			  : opt == 'C' ? &o->stats_fd
				       : &o->tap_fd) = (int)n;
			break;
		case 't':
			o->tap = optarg;
			break;
		case 'm':
			if (cli_parse_mac(optarg, strlen(optarg), o->mac) < 0 || (o->mac[0] & 1)) {
				log_err("device: --mac '%s': expected XX:XX:XX:XX:XX:XX, not multicast",
					optarg);
				return -EINVAL;
			}
			o->has_mac = true;
			break;
		case 'c':
			if (cli_parse_uint(optarg, 3, UINT32_MAX - 1, &o->cid) < 0) {
				log_err("device: --cid '%s': expected a CID from 3 to 4294967294", optarg);
				return -EINVAL;
			}
			break;
		case 'u':
			o->uds = optarg;
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
			log_err("device: %s '%s': see 'kvmini device --help'",
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
	if (o->kind == DEVPROC_BLK && !o->has_disk) {
		log_err("device blk: give --disk PATH (see 'kvmini device --help')");
		return -EINVAL;
	}
	if (o->kind == DEVPROC_VSOCK && (!o->cid || !o->uds)) {
		log_err("device vsock: give --cid N and --uds PATH (see 'kvmini device --help')");
		return -EINVAL;
	}
	if (o->kind == DEVPROC_NET && (!o->tap) == (o->tap_fd < 0)) {
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
	static const enum sandbox_kind kinds[] = {
		[DEVPROC_BLK] = SANDBOX_BLK, [DEVPROC_NET] = SANDBOX_NET, [DEVPROC_VSOCK] = SANDBOX_VSOCK
	};
	/* vsock: its socket directory stays, for the guest's connections out and the host's in. */
	char dir[sizeof(((struct vsock_dev *)0)->uds_path)];
	const char *dirs[] = { dir, NULL };
	struct sandbox_policy p = {
		.name = what,
		.kind = kinds[o->kind],
		.paths_rw = o->kind == DEVPROC_VSOCK ? dirs : NULL,
		.bind_dirs = o->kind == DEVPROC_VSOCK ? dirs : NULL,
		.report_fd = o->report_fd,
		/* blk and net: the channel, eventfds, memfds, the image or tap; vsock: a socket a connection. */
		.max_fds = o->kind == DEVPROC_VSOCK ? VSOCK_MAX_CONNS + 64 : 64,
	};
	struct sandbox_report r;
	int ret;

	if (o->kind == DEVPROC_VSOCK) {
		snprintf(dir, sizeof(dir), "%s", o->uds);
		*(strrchr(dir, '/') ? strrchr(dir, '/') : dir) = '\0';
		if (!dir[0] || dir[0] != '/') {
			log_err("device vsock: --uds %s: give an absolute path", o->uds);
			return -EINVAL;
		}
	}
	ret = sandbox_lock(&p, &r);

	if (ret)
		return ret;
	log_layer(LOG_INFO, LAYER_SANDBOX,
		  "%s: locked down: seccomp allowlist of %u syscalls, Landlock ABI %d, namespaces %#lx%s%s",
		  what, r.nr_syscalls, r.landlock_abi, r.namespaces, r.why[0] ? "; " : "", r.why);
	return 0;
}

/* The device's model, from the options: 0 with (dev) filled, or -errno (logged). */
static struct vsock_dev vsock;

static int open_model(const struct devproc_opts *o, const char *what, struct virtio_device *dev)
{
	static struct blk_disk disk;
	static struct net_dev nic;
	uint8_t mac[6];
	int ret;

	if (o->kind == DEVPROC_VSOCK) {
		ret = vsock_open(&vsock, o->cid, o->uds);
		if (!ret)
			vsock_device(&vsock, what, dev);
		return ret;
	}
	if (o->kind == DEVPROC_BLK) {
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
	if (!o->tap && fcntl(o->tap_fd, F_GETFD) < 0) {
		log_err("device net: --tap-fd %d: %s: not a descriptor this process has (give one it inherits)",
			o->tap_fd, strerror(errno));
		return -EBADF;
	}
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

	static const char *const kinds[] = {
		[DEVPROC_BLK] = "blk", [DEVPROC_NET] = "net", [DEVPROC_VSOCK] = "vsock"
	};

	const char *kind = argc >= 2 ? argv[1] : "";

	for (o.kind = DEVPROC_BLK; o.kind <= DEVPROC_VSOCK && strcmp(kind, kinds[o.kind]); o.kind++)
		;
	if (o.kind > DEVPROC_VSOCK) {
		log_err("device: the device processes are 'blk', 'net' and 'vsock' (see 'kvmini device --help')");
		return 2;
	}
	if (parse(argc - 1, argv + 1, &o) < 0)
		return 2;
	snprintf(who, sizeof(who), "kvmini[%s]", o.name);
	log_set_name(who);
	log_set_level(o.verbosity ? LOG_INFO : LOG_NOTICE);
	snprintf(what, sizeof(what), "virtio-%s %s", kinds[o.kind], o.name);
	if (open_model(&o, what, &dev) < 0)
		return 2;
	sock = o.socket ? accept_one(o.socket) : o.fd;
	if (sock < 0)
		return 2;
	if (vhu_backend_init(&b, &dev, sock) < 0)
		return 2;
	if (o.stats_fd >= 0 && !(b.counters = virtio_counters_map(o.stats_fd))) {
		log_err("device: --stats-fd %d: cannot map the counters' page: %s (give kvmini's memfd)",
			o.stats_fd, strerror(errno));
		return 2;
	}
	if (o.sandbox && lock_down(&o, what) < 0)
		leave(2);
	ret = vhu_backend_serve(&b);
	log_info("%s: the front end hung up after %llu messages", what, (unsigned long long)b.messages);
	if (o.kind == DEVPROC_VSOCK) {
		vhu_backend_destroy(&b); /* the model stops with its rings */
		vsock_close(&vsock);	 /* its connections end, its socket goes */
	}
	leave(ret < 0 ? 1 : 0);
}
