/* vm.c: a virtual machine: its KVM VM, RAM, buses, devices and vCPUs, and how it ends. */

#include "vm.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "console.h"
#include "diagnose.h"
#include "file.h"
#include "host.h"
#include "thread_filter.h"
#include "../devices/base/log.h"
#include "../devices/base/sockpath.h"

#define VCPU_JOIN_GRACE_S 2 /* seconds a stopping vCPU may take before it is named, twice before exit */

uint64_t vm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void vm_stop(struct vm *vm, int status, const char *why)
{
	int expected = 0;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&vm->stopping, &expected, 1))
		return;
	vm->exit_status = status;
	if (status == VM_EXIT_CRASH || status == VM_EXIT_ERROR)
		log_err("%s", why);
	else
		log_info("%s (exit status %d)", why, status);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	if (vm->pause_ready) /* parked vCPUs wait on this, not in KVM_RUN */
		vcpu_pause_all(vm->vcpus, vm->nr_vcpus, false, 0, NULL);
	if (write(vm->stop_fd, &one, sizeof(one)) < 0)
		log_warn("cannot wake the event loop: %s", strerror(errno));
}

static void host_stop(struct dev_host *h, enum dev_stop_reason reason, uint32_t value)
{
	struct vm *vm = container_of(h, struct vm, host);
	char why[64];

	switch (reason) {
	case DEV_STOP_POWEROFF:
		vm_stop(vm, VM_EXIT_POWEROFF, "guest powered off");
		break;
	case DEV_STOP_REBOOT:
		vm_stop(vm, VM_EXIT_REBOOT, "guest asked for a reboot");
		break;
	case DEV_STOP_PANIC:
		log_notice("guest kernel panicked (pvpanic)");
		vm_stop(vm, VM_EXIT_PANIC, "guest panicked");
		break;
	case DEV_STOP_DEBUG_EXIT:
		snprintf(why, sizeof(why), "guest wrote 0x%x to the debug-exit port", value);
		vm_stop(vm, (int)(((value << 1) | 1) & 0xff), why);
		break;
	}
}

static void host_boot_marker(struct dev_host *h)
{
	struct vm *vm = container_of(h, struct vm, host);
	uint64_t ns = vm_now_ns() - vm->cfg->start_ns;

	log_notice("guest boot marker after %" PRIu64 ".%03" PRIu64 " ms", ns / 1000000, ns / 1000 % 1000);
}

/* An ioctl on the VM; a failure is logged as (what) of layer (l). */
static int vm_ioctl(struct vm *vm, unsigned long req, unsigned long arg, enum layer l, const char *what)
{
	if (ioctl(vm->fd, req, arg) >= 0)
		return 0;
	log_layer(LOG_ERR, l, "%s failed: %s", what, strerror(errno));
	return -errno;
}

static int host_msi_route(struct dev_host *h, int *gsi, uint64_t addr, uint32_t data, uint32_t devid)
{
	struct vm *vm = container_of(h, struct vm, host);

	return irq_route_msi(&vm->routes, gsi, addr, data, devid);
}

static int host_irqfd(struct dev_host *h, int fd, int gsi, bool assign)
{
	struct vm *vm = container_of(h, struct vm, host);
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)fd,
		.gsi = (uint32_t)gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};
	int ret = vm_ioctl(vm, KVM_IRQFD, (unsigned long)&irqfd, LAYER_PVIO, "KVM_IRQFD");

	if (!ret)
		registry_irqfd(&vm->registry, &(struct registry_irqfd){ .gsi = irqfd.gsi, .fd = fd }, assign);
	return ret;
}

static int host_ioeventfd(struct dev_host *h, uint64_t addr, int fd, bool assign)
{
	struct vm *vm = container_of(h, struct vm, host);
	/* Any length where KVM allows it; else the 16-bit write virtio drivers use (others then exit). */
	struct kvm_ioeventfd io = {
		.addr = addr,
		.len = vm->kvm.ioeventfd_any_length ? 0 : 2,
		.fd = fd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};
	int ret = vm_ioctl(vm, KVM_IOEVENTFD, (unsigned long)&io, LAYER_PVIO, "KVM_IOEVENTFD");

	if (!ret)
		registry_ioeventfd(&vm->registry,
				   &(struct registry_ioeventfd){ .addr = addr, .len = io.len, .fd = fd },
				   assign);
	return ret;
}

static int create_kvm_vm(struct vm *vm)
{
	const char *step;

	vm->fd = ioctl(vm->kvm.fd, KVM_CREATE_VM, 0UL);
	if (vm->fd < 0) {
		log_layer(LOG_ERR, LAYER_HARDWARE, "KVM_CREATE_VM failed: %s", strerror(errno));
		return -errno;
	}
	step = arch_vm_setup(vm->kvm.fd, vm->fd, &vm->arch);
	if (!step)
		return 0;
	log_layer(LOG_ERR, LAYER_HARDWARE, "%s failed: %s", step, strerror(errno));
	return -errno;
}

static int map_memory(struct vm *vm)
{
	int ret = gmem_create(&vm->mem, ARCH_RAM_BASE, vm->cfg->mem, ARCH_RAM_HOLE);

	if (ret) {
		log_err("cannot allocate %" PRIu64 " MiB of guest RAM: %s", vm->cfg->mem >> 20,
			strerror(-ret));
		return ret;
	}
	for (unsigned int i = 0; i < vm->mem.nr_regions; i++) {
		const struct gmem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region region = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->host,
		};

		ret = vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, (unsigned long)&region, LAYER_HARDWARE,
			       "KVM_SET_USER_MEMORY_REGION (guest RAM into the nested page tables)");
		if (ret)
			return ret;
		registry_slot(&vm->registry, &(struct registry_slot){ .slot = i,
								      .guest_phys = r->gpa,
								      .size = r->size,
								      .host_addr = region.userspace_addr,
								      .fd = vm->mem.fd,
								      .fd_offset = r->fd_offset });
	}
	return 0;
}

static int make_irqfd(struct vm *vm, unsigned int gsi, int *fd)
{
	*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*fd < 0) {
		log_layer(LOG_ERR, LAYER_PVIO, "eventfd: %s", strerror(errno));
		return -errno;
	}
	return host_irqfd(&vm->host, *fd, (int)gsi, true);
}

int vm_add_console(struct vm *vm, struct bus *bus, uint64_t addr, unsigned int gsi)
{
	int ret = make_irqfd(vm, gsi, &vm->com1_irq_fd);

	if (ret)
		return ret;
	vm->com1_room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->com1_room_fd < 0)
		return -errno;
	ret = serial8250_init(&vm->com1, vm->cfg->console_fd, vm->com1_irq_fd, vm->com1_room_fd);
	if (!ret)
		ret = bus_add(bus, addr, SERIAL8250_REGS, &vm->com1.dev);
	if (ret)
		log_err("cannot map the console's UART: %s", strerror(-ret));
	return ret;
}

char *vm_cmdline(const struct vm *vm)
{
	char *cmdline = NULL;

	if (asprintf(&cmdline, "%s%s%s", VM_DEFAULT_CMDLINE, vm->cfg->cmdline ? " " : "",
		     vm->cfg->cmdline ? vm->cfg->cmdline : "") < 0)
		return NULL;
	return cmdline;
}

int vm_add_pci(struct vm *vm, uint64_t ecam, uint64_t ecam_size, const struct pci_window *mmio,
	       const struct pci_window *io)
{
	struct pci_bus *b = &vm->pci;
	int ret = pci_bus_init(b, mmio, io);

	if (ret)
		return ret;
	vm->pci_ready = true;
	ret = bus_add(&vm->mmio, ecam, ecam_size, &b->ecam);
	if (!ret)
		ret = bus_add(&vm->mmio, mmio->start, mmio->end - mmio->start, &b->mmio_window);
	if (ret)
		log_err("cannot map the PCI host bridge: %s", strerror(-ret));
	return ret;
}

static int add_devices(struct vm *vm)
{
	vm->host = (struct dev_host){
		.stop = host_stop,
		.boot_marker = host_boot_marker,
		.msi_route = host_msi_route,
		.irqfd = host_irqfd,
		.ioeventfd = host_ioeventfd,
	};
	return arch_add_devices(vm);
}

/*
 * Whether disk (d)'s image is one an earlier --disk already names (through another path or a link):
 * two disks on one file would corrupt each other. Checked before opening, so the lock is not what says it.
 */
static bool disk_is_duplicate(const struct vm *vm, const struct vm_device *d)
{
	struct stat st;

	if (stat(vm->cfg->disks[d->index].path, &st) < 0)
		return false; /* blk_open says what is wrong with it */
	for (const struct vm_device *e = vm->devices; e < d; e++) {
		if (e->kind != d->kind || e->blk.st_dev != st.st_dev || e->blk.st_ino != st.st_ino)
			continue;
		log_err("--disk %s and --disk %s are the same file: give each disk its own image",
			vm->cfg->disks[e->index].path, vm->cfg->disks[d->index].path);
		return true;
	}
	return false;
}

/* Puts the virtio-pci function of the device that back end (be) serves on the PCI bus. */
static int add_pci(struct vm *vm, struct vm_virtio *v, struct virtio_backend *be)
{
	int ret;

	be->counters = v->counters;
	ret = virtio_pci_init(&v->vp, be, &vm->host);
	if (ret) {
		log_err("%s: cannot create its virtio-pci function: %s", be->name, strerror(-ret));
		return ret;
	}
	v->vp_ready = true;
	ret = pci_bus_add(&vm->pci, &v->vp.pci);
	if (ret < 0) {
		log_err("%s: no room on the PCI bus: %s", be->name, strerror(-ret));
		return ret;
	}
	log_info("%s: PCI slot %d, served %s", be->name, ret, be->ops->kind);
	return 0;
}

/* (v)'s counters' page (L-2), for the API's stat and inspect. 0 or -errno (logged). */
static int open_counters(struct vm_virtio *v, const char *name)
{
	int err;

	v->counters = virtio_counters_create(&v->counters_fd);
	if (v->counters)
		return 0;
	err = errno;
	log_layer(LOG_ERR, LAYER_PVIO, "%s: cannot make the shared page its queues are counted in: %s", name,
		  strerror(err));
	return -err;
}

/*
 * Serves virtio device (dev) with threads of this process and puts its virtio-pci function on the PCI
 * bus: 0, or -errno (logged; destroy_virtio releases what was taken).
 */
static int add_virtio(struct vm *vm, struct vm_virtio *v, const struct virtio_device *pc)
{
	int ret = open_counters(v, pc->name);

	if (!ret)
		ret = virtio_local_init(&v->local, pc, &vm->mem);
	if (ret)
		return ret;
	v->local_ready = true;
	return add_pci(vm, v, &v->local.backend);
}

/* Connects to the vhost-user back end listening on (path): the socket, or -errno (logged). */
static int connect_backend(const char *name, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
		return s;
	err = errno;
	log_layer(LOG_ERR, LAYER_PVIO, "%s: cannot reach the vhost-user back end at %s: %s%s", name, path,
		  strerror(err), err == ENOENT || err == ECONNREFUSED ? ": start the back end first" : "");
	if (s >= 0)
		close(s);
	return -err;
}

/* Serves the device through kvmini's vhost-user front end on connected socket (sock), then PCI. */
static int add_front(struct vm *vm, struct vm_virtio *v, const char *name, struct vhu_front_want *want,
		     int sock)
{
	int ret = vhu_front_init(&v->front, name, want, sock, &vm->mem);

	if (ret && v->proc.pid) {
		char why[512];

		/* The device process may have said why it went: a refused syscall, a signal. */
		device_process_why(&v->proc, why, sizeof(why));
		log_err("%s", why);
	}
	if (ret)
		return ret;
	v->front_ready = true;
	return add_pci(vm, v, &v->front.backend);
}

/* The transport first (no more register accesses reach the back end), then what serves the queues. */
static void destroy_virtio(struct vm_virtio *v)
{
	if (v->vp_ready)
		virtio_pci_destroy(&v->vp);
	if (v->local_ready)
		virtio_local_destroy(&v->local);
	if (v->front_ready)
		vhu_front_destroy(&v->front);
	if (v->proc.pid || v->proc.sock >= 0)
		device_process_end(&v->proc);
	virtio_counters_unmap(v->counters);
	if (v->counters_fd >= 0)
		close(v->counters_fd);
	v->counters = NULL;
	v->counters_fd = -1;
	v->vp_ready = v->local_ready = v->front_ready = false;
}

/* kvmini's end of (v)'s device process's vhost-user channel, which the front end takes; or (ret) < 0. */
static int device_channel(struct vm_virtio *v, int ret)
{
	if (ret)
		return ret;
	ret = v->proc.sock;
	v->proc.sock = -1;
	return ret;
}

/*
 * Has the launcher start a device process for (v), `kvmini ARGS...` given descriptor (pass) (-1: none),
 * and record how, to start it again should it die: kvmini's end of its vhost-user channel, or -errno
 * (logged).
 */
static int spawn_device(struct vm_virtio *v, const char *what, const char *const *args, int pass)
{
	struct vm *vm = v->vm;
	unsigned int slot = (unsigned int)(container_of(v, struct vm_device, virtio) - vm->devices);
	int ret = open_counters(v, what);

	return device_channel(v, ret ? ret
				     : device_process_spawn(&v->proc, &vm->launcher, slot, what, args, pass,
							    v->counters_fd));
}

/* A NIC served by a device process of its own: `kvmini device net` on the tap kvmini opened. */
static int spawn_nic(struct vm_device *n, const uint8_t mac[6])
{
	char macs[24], what[32];
	const char *args[] = { "device", "net",	  "--tap-fd", DEVICE_PROCESS_PASSED_FD, "--mac", macs,
			       "--name", n->name, NULL };

	snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
	snprintf(what, sizeof(what), "virtio-net %s", n->name);
	return spawn_device(&n->virtio, what, args, n->net.tap_fd);
}

/* A disk served by a device process of its own: `kvmini device blk` on its image. */
static int spawn_disk(struct vm_device *d, const struct vm_disk_config *c, unsigned int queues)
{
	char spec[sizeof(c->path) + 40], nq[8], what[sizeof(d->name) + 16];
	const char *args[] = { "device", "blk", "--disk", spec, "--queues", nq, "--name", d->name, NULL };

	snprintf(spec, sizeof(spec), "%s%s%s%s", c->path, c->read_only ? ",ro" : "",
		 c->has_serial ? ",serial=" : "", c->has_serial ? c->serial : "");
	snprintf(nq, sizeof(nq), "%u", queues);
	snprintf(what, sizeof(what), "virtio-blk %s", d->name);
	return spawn_device(&d->virtio, what, args, -1);
}

static int add_disk(struct vm *vm, struct vm_device *d)
{
	const struct vm_disk_config *c = &vm->cfg->disks[d->index];
	/* A request queue per vCPU, as Linux's blk-mq maps them, each served by its own thread. */
	unsigned int queues = vm->cfg->cpus < VIRTIO_MAX_QUEUES ? vm->cfg->cpus : VIRTIO_MAX_QUEUES;
	struct vhu_front_want want = {
		.device_id = VIRTIO_ID_BLOCK,
		.config_len = sizeof(struct virtio_blk_config),
		/* Up to write_zeroes_may_unmap: as far as qemu-storage-daemon 7.2 knows it. */
		.config_ask = offsetof(struct virtio_blk_config, unused1) +
			      sizeof(((struct virtio_blk_config *)0)->unused1),
		.max_queues = queues,
		.queue_max = BLK_QUEUE_SIZE
	};
	struct virtio_device pc;
	int ret;

	snprintf(d->name, sizeof(d->name), "vd%c", 'a' + d->index);
	if (c->vhost_user) {
		log_info("%s: vhost-user back end at %s", d->name, c->path);
		ret = connect_backend(d->name, c->path);
		return ret < 0 ? ret : add_front(vm, &d->virtio, d->name, &want, ret);
	}
	if (disk_is_duplicate(vm, d))
		return -EINVAL;
	if (!vm->cfg->devices_in_process) {
		/*
		 * The device process opens the image itself; kvmini looks first, so that what is wrong
		 * with it is said once, here, and the image's identity is known for the check above.
		 */
		ret = blk_open(&d->blk, c->path, c->read_only, c->has_serial ? c->serial : NULL);
		if (ret)
			return ret;
		blk_close(&d->blk);
		log_info("%s: %s%s, in a device process", d->name, c->path,
			 c->read_only ? ", read-only" : "");
		ret = spawn_disk(d, c, queues);
		return ret < 0 ? ret : add_front(vm, &d->virtio, d->name, &want, ret);
	}
	ret = blk_open(&d->blk, c->path, c->read_only, c->has_serial ? c->serial : NULL);
	if (ret)
		return ret;
	d->open = true;
	log_info("%s: %s, %" PRIu64 " sectors%s", d->name, c->path, d->blk.sectors,
		 c->read_only ? ", read-only" : "");
	blk_device(&d->blk, d->name, queues, &pc);
	return add_virtio(vm, &d->virtio, &pc);
}

static void close_disk(struct vm *vm, struct vm_device *d)
{
	(void)vm;
	if (d->open)
		blk_close(&d->blk);
}

static int add_nic(struct vm *vm, struct vm_device *n)
{
	const struct vm_net_config *c = &vm->cfg->nics[n->index];
	struct vhu_front_want want = { .device_id = VIRTIO_ID_NET,
				       .config_len = NET_CONFIG_LEN,
				       .config_ask = NET_CONFIG_LEN,
				       .max_queues = 2,
				       .queue_max = NET_QUEUE_SIZE };
	struct virtio_device pc;
	uint8_t mac[6];
	int ret;

	snprintf(n->name, sizeof(n->name), "eth%u", n->index);
	if (c->has_mac)
		memcpy(mac, c->mac, sizeof(mac));
	else
		net_mac_random(mac);
	ret = net_open(&n->net, c->ifname, mac);
	if (ret)
		return ret;
	n->open = true;
	log_info("%s: tap %s%s, MAC %02x:%02x:%02x:%02x:%02x:%02x%s", n->name, c->ifname,
		 n->net.created ? " (created)" : "", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
		 vm->cfg->devices_in_process ? "" : ", in a device process");
	if (!vm->cfg->devices_in_process) {
		/* kvmini opens the tap (in its network namespace, with its rights) and hands it over. */
		ret = spawn_nic(n, mac);
		return ret < 0 ? ret : add_front(vm, &n->virtio, n->name, &want, ret);
	}
	net_device(&n->net, n->name, &pc);
	return add_virtio(vm, &n->virtio, &pc);
}

static void close_nic(struct vm *vm, struct vm_device *n)
{
	(void)vm;
	if (n->open)
		net_close(&n->net);
}

static int add_vsock(struct vm *vm, struct vm_device *v)
{
	const struct vm_vsock_config *c = &vm->cfg->vsock;
	struct vhu_front_want want = { .device_id = VIRTIO_ID_VSOCK,
				       .config_len = sizeof(struct virtio_vsock_config),
				       .config_ask = sizeof(struct virtio_vsock_config),
				       .max_queues = 3,
				       .queue_max = VSOCK_QUEUE_SIZE };
	char cid[24], uds[sizeof(c->uds) + 4096], cwd[4096];
	const char *args[] = { "device", "vsock", "--cid", cid, "--uds", uds, NULL };
	struct virtio_device pc;
	int ret;

	v->uds_dir = -1;
	snprintf(v->name, sizeof(v->name), "vsock");
	ret = vsock_open(&v->vsock, c->cid, c->uds);
	if (ret)
		return ret;
	log_info("vsock: guest CID %" PRIu64 ", host socket %s%s", c->cid, c->uds,
		 vm->cfg->devices_in_process ? "" : ", in a device process");
	if (!vm->cfg->devices_in_process) {
		/* kvmini looked (what is wrong with the path is said once, here); the device process listens. */
		vsock_close(&v->vsock);
		snprintf(cid, sizeof(cid), "%" PRIu64, c->cid);
		/* The device process's root is emptied: it is told where the socket is from the top. */
		if (c->uds[0] == '/' || !getcwd(cwd, sizeof(cwd)))
			snprintf(uds, sizeof(uds), "%s", c->uds);
		else
			snprintf(uds, sizeof(uds), "%s/%s", cwd, c->uds);
		v->uds_dir = sockpath_dir_open(c->uds);
		if (v->uds_dir < 0)
			return v->uds_dir;
		ret = spawn_device(&v->virtio, "virtio-vsock", args, -1);
		v->uds_ours = ret >= 0;
		return ret < 0 ? ret : add_front(vm, &v->virtio, v->name, &want, ret);
	}
	v->open = true;
	vsock_device(&v->vsock, v->name, &pc);
	return add_virtio(vm, &v->virtio, &pc);
}

static void close_vsock(struct vm *vm, struct vm_device *v)
{
	const char *base = sockpath_name(vm->cfg->vsock.uds);
	struct stat st;

	/*
	 * A device process that died could not remove its socket: it goes with the VM, through the
	 * directory's descriptor (the main thread's filter lets it remove files there only).
	 */
	if (v->uds_ours && v->uds_dir >= 0 && fstatat(v->uds_dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode))
		unlinkat(v->uds_dir, base, 0);
	if (v->uds_dir >= 0)
		close(v->uds_dir);
	if (v->open)
		vsock_close(&v->vsock);
}

static unsigned int nr_disks(const struct vm_config *cfg)
{
	return cfg->nr_disks;
}

static unsigned int nr_nics(const struct vm_config *cfg)
{
	return cfg->nr_nics;
}

static unsigned int nr_vsocks(const struct vm_config *cfg)
{
	return cfg->vsock.enabled;
}

/* Each kind of virtio device: how many the configuration asks for, how one is added and closed. */
struct vm_device_kind {
	unsigned int (*count)(const struct vm_config *cfg);
	/* add: (d) is zeroed but for its kind, index and virtio.vm: 0 or -errno (logged). */
	int (*add)(struct vm *vm, struct vm_device *d);
	/* close: what add opened (after destroy_virtio stopped what serves it). */
	void (*close)(struct vm *vm, struct vm_device *d);
};

/* In the order the guest probes them (PCI slots in order): its names follow from it. */
static const struct vm_device_kind device_kinds[] = {
	{ nr_disks, add_disk, close_disk },
	{ nr_nics, add_nic, close_nic },
	{ nr_vsocks, add_vsock, close_vsock },
};

#define NR_DEVICE_KINDS (sizeof(device_kinds) / sizeof(device_kinds[0]))

/* Each device is a slot of the launcher: it starts the device processes. */
static_assert(VM_MAX_DISKS + VM_MAX_NICS + 1 <= DEVICE_LAUNCHER_SLOTS, "a launcher slot for every device");

static int add_virtio_devices(struct vm *vm)
{
	unsigned int total = 0;
	int ret = 0;

	for (size_t k = 0; k < NR_DEVICE_KINDS; k++)
		total += device_kinds[k].count(vm->cfg);
	if (!total)
		return 0;
	vm->devices = calloc(total, sizeof(*vm->devices));
	if (!vm->devices)
		return -ENOMEM;
	for (size_t k = 0; k < NR_DEVICE_KINDS; k++) {
		for (unsigned int i = 0; !ret && i < device_kinds[k].count(vm->cfg); i++) {
			struct vm_device *d = &vm->devices[vm->nr_devices++];

			d->kind = &device_kinds[k];
			d->index = i;
			d->virtio.vm = vm;
			d->virtio.proc.sock = -1;
			d->virtio.counters_fd = -1;
			ret = d->kind->add(vm, d);
		}
	}
	return ret;
}

/* A vCPU ends its VM (vcpu_ctx's stop): on the vCPU's thread, under its syscall filter. */
static void stop_from_vcpu(void *opaque, int status, const char *why)
{
	vm_stop(opaque, status, why);
}

static int create_vcpus(struct vm *vm, const struct arch_boot *entry)
{
	const struct vcpu_ctx ctx = {
		.vm_fd = vm->fd,
		.run_size = (size_t)vm->kvm.vcpu_mmap_size,
		.pio = &vm->pio,
		.mmio = &vm->mmio,
		.stopping = &vm->stopping,
		.stop = stop_from_vcpu,
		.opaque = vm,
		.pause = &vm->pause,
	};
	int ret = vcpu_pause_init(&vm->pause);

	if (ret)
		return ret;
	vm->pause_ready = true;

	vm->vcpus = calloc(vm->cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned int i = 0; i < vm->cfg->cpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		ret = vcpu_create(v, &ctx, i);
		if (ret)
			return ret;
		vm->nr_vcpus++;
		ret = arch_vcpu_init(vm, v, entry);
		if (ret)
			return ret;
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	struct arch_boot entry;
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->fd = vm->com1_irq_fd = vm->com1_room_fd = vm->loop.epfd = vm->launcher.sock = -1;
	vm->mem.fd = -1;
	vm->arch = (struct arch_vm)ARCH_VM_INIT;
	atomic_init(&vm->stopping, 0);
	bus_init(&vm->pio, "pio", 0xff); /* an unclaimed port reads all-ones, as on a PC */
	bus_init(&vm->mmio, "mmio", 0xff);
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		return -errno;
	ret = registry_init(&vm->registry);
	if (ret)
		return ret;
	vm->registry_ready = true;
	if (host_check_kvm(cfg->kernel, cfg->allow_pvm) < 0)
		return -ENOTSUP;
	/* First: the launcher, its device processes and the vCPU threads are made inside. */
	if (cfg->cgroup.set && cfg->cgroup.memory_max && cfg->cgroup.memory_max < cfg->mem)
		log_layer(
			LOG_WARN, LAYER_SANDBOX,
			"--cgroup memory.max (%" PRIu64 " MiB) is below --mem (%" PRIu64 " MiB): the "
			"kernel's OOM killer ends kvmini once the guest touches that much; raise memory.max",
			cfg->cgroup.memory_max >> 20, cfg->mem >> 20);
	ret = cgroup_enter(&cfg->cgroup, &vm->cgroup);
	if (ret)
		return ret;
	/* Forked while kvmini holds nothing of the VM: no KVM descriptor, no guest RAM. */
	if (!cfg->devices_in_process && (cfg->nr_disks || cfg->nr_nics || cfg->vsock.enabled)) {
		ret = device_launcher_start(&vm->launcher);
		if (ret)
			return ret;
	}
	ret = kvm_open(&vm->kvm, cfg->kvm_device);
	if (ret)
		return ret;
	if (cfg->cpus > (unsigned int)vm->kvm.max_vcpus || cfg->cpus > 255) {
		log_err("--cpus %u: this host's KVM allows at most %d vCPUs (and kvmini 255)", cfg->cpus,
			vm->kvm.max_vcpus);
		return -EINVAL;
	}
	ret = create_kvm_vm(vm);
	if (!ret)
		ret = map_memory(vm);
	if (!ret)
		ret = irq_routes_init(&vm->routes, vm->fd);
	if (!ret)
		ret = arch_load_guest(vm, &entry);
	/* The vCPUs before the devices: arm64's GIC takes irqfds only once it knows every vCPU. */
	if (!ret)
		ret = create_vcpus(vm, &entry);
	if (!ret)
		ret = arch_vm_ready(vm);
	if (!ret)
		ret = add_devices(vm);
	if (!ret)
		ret = add_virtio_devices(vm);
	if (!ret && cfg->api_sock) {
		ret = api_server_open(&vm->api, cfg->api_sock, control_handle, vm);
		vm->api_open = ret == 0;
	}
	if (!ret)
		control_gather(vm, &vm->facts);
	return ret;
}

static void log_exit_counts(const struct vm *vm)
{
	if (!log_enabled(LOG_INFO))
		return;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		const struct vcpu *v = &vm->vcpus[i];
		char line[512];
		size_t used = 0;

		for (unsigned int r = 0; r < VCPU_EXIT_REASONS && used < sizeof(line); r++) {
			uint64_t n = atomic_load_explicit(&v->exits[r], memory_order_relaxed);

			if (n)
				used += (size_t)snprintf(line + used, sizeof(line) - used, " %s=%" PRIu64,
							 vcpu_exit_name(r), n);
		}
		log_info("vCPU %u exits:%s", i, used ? line : " none");
	}
	log_info("unclaimed accesses: pio %" PRIu64 ", mmio %" PRIu64,
		 (uint64_t)atomic_load(&vm->pio.unclaimed), (uint64_t)atomic_load(&vm->mmio.unclaimed));
}

void vm_device_type(const struct vm_device *d, char *buf, size_t len)
{
	/* By the virtio device ID the transport shows, whatever serves it. */
	uint16_t id = d->virtio.vp_ready ? d->virtio.vp.be->device_id : 0;

	snprintf(buf, len, "%s",
		 id == VIRTIO_ID_BLOCK	 ? "virtio-blk"
		 : id == VIRTIO_ID_NET	 ? "virtio-net"
		 : id == VIRTIO_ID_VSOCK ? "virtio-vsock"
					 : "virtio");
}

unsigned int vm_device_queues(const struct vm_device *d)
{
	return d->virtio.vp_ready ? d->virtio.vp.be->nr_queues : 0;
}

int vm_ring_field(const struct vm *vm, uint64_t ring, uint64_t off, uint16_t *v)
{
	/* Both rings start with flags, then idx (virtio 1.2, 2.7.6 and 2.7.8); little-endian, as the host. */
	return ring ? gmem_read(&vm->mem, ring + off, v, sizeof(*v)) : -EFAULT;
}

/* The API socket's answers still pending are written, its clients closed, its socket removed. */
static void close_api(struct vm *vm)
{
	if (vm->api_open)
		api_server_close(&vm->api);
	vm->api_open = false;
}

void vm_destroy(struct vm *vm)
{
	close_api(vm);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nr_vcpus = 0;
	if (vm->pause_ready)
		vcpu_pause_destroy(&vm->pause);
	vm->pause_ready = false;
	if (vm->registry_ready)
		registry_destroy(&vm->registry);
	vm->registry_ready = false;
	/* The devices' workers stop before guest RAM goes: a request in hand completes first. */
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		destroy_virtio(&vm->devices[i].virtio);
		vm->devices[i].kind->close(vm, &vm->devices[i]);
	}
	free(vm->devices);
	vm->devices = NULL;
	vm->nr_devices = 0;
	if (vm->pci_ready)
		pci_bus_free(&vm->pci);
	irq_routes_free(&vm->routes);
	if (vm->com1.dev.ops)
		serial8250_destroy(&vm->com1);
	bus_free(&vm->pio);
	bus_free(&vm->mmio);
	gmem_destroy(&vm->mem);
	arch_vm_free(&vm->arch);
	if (vm->fd >= 0)
		close(vm->fd);
	kvm_close(&vm->kvm);
	if (vm->com1_irq_fd >= 0)
		close(vm->com1_irq_fd);
	if (vm->com1_room_fd >= 0)
		close(vm->com1_room_fd);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	device_launcher_stop(&vm->launcher);
	cgroup_leave(&vm->cgroup); /* with every device process gone: the cgroup it made can go */
}

/* The main thread's part: the console, signals, and the device back ends, in one event loop. */
struct vm_main {
	struct vm *vm;
	struct console con;
	/* Bytes read from the console, waiting for room in the UART's receive FIFO. */
	uint8_t buf[256];
	size_t len, off;
	bool eof;
	bool in_always; /* stdin read whenever there is room: a file or /dev/null, or a pipe whose writer left */
	struct event_source in, room, stop, sig;
};

static void console_read(struct vm_main *m)
{
	enum console_action action;
	ssize_t n = read(m->con.in_fd, m->buf, sizeof(m->buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		m->eof = true; /* the guest keeps running; its console just has no more input */
		return;
	}
	m->len = console_filter(&m->con, m->buf, (size_t)n, &action);
	m->off = 0;
	if (action == CONSOLE_HELP && write(STDERR_FILENO, console_help(), strlen(console_help())) < 0)
		log_warn("cannot print the console help");
	if (action == CONSOLE_QUIT)
		vm_stop(m->vm, VM_EXIT_QUIT, "quit from the console (Ctrl-A x)");
}

static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("eventfd read failed: %s", strerror(errno));
}

static void on_console_in(struct event_source *s, uint32_t events)
{
	struct vm_main *m = container_of(s, struct vm_main, in);

	/*
	 * A writer's hang-up is reported even while stdin is not watched, and for ever: stdin leaves the set
	 * and what is left in it is read whenever the UART has room (console_pump), up to its end.
	 */
	if (events & (EPOLLHUP | EPOLLERR)) {
		event_del(&m->vm->loop, s);
		m->in_always = true;
	}
	if (m->off == m->len)
		console_read(m); /* else bytes the UART has not taken yet stay first */
}

static void on_console_room(struct event_source *s, uint32_t events)
{
	(void)events;
	drain(s->fd);
}

static void on_stop(struct event_source *s, uint32_t events)
{
	(void)s;
	(void)events; /* the loop sees 'stopping' */
}

static void on_signal(struct event_source *s, uint32_t events)
{
	struct vm_main *m = container_of(s, struct vm_main, sig);
	struct signalfd_siginfo si;
	char why[64];

	(void)events;
	if (read(s->fd, &si, sizeof(si)) != sizeof(si))
		return;
	snprintf(why, sizeof(why), "stopped by signal %s", strsignal((int)si.ssi_signo));
	log_notice("%s", why);
	vm_stop(m->vm, VM_EXIT_SIGNAL_BASE + (int)si.ssi_signo, why);
}

/* Hands what was read to the UART, as fast as the guest takes it; waits for stdin or for room. */
static void console_pump(struct vm_main *m)
{
	bool waiting;

	if (m->off == m->len && !m->eof && m->in_always)
		console_read(m);
	if (m->off < m->len)
		m->off += serial8250_rx(&m->vm->com1, m->buf + m->off, m->len - m->off);
	waiting = m->off < m->len;
	if (m->in.fd >= 0)
		event_watch(&m->vm->loop, &m->in, waiting || m->eof ? 0 : EPOLLIN);
	event_watch(&m->vm->loop, &m->room, waiting ? EPOLLIN : 0);
}

static int watch_backend(struct vm *vm, struct vm_virtio *v);

/*
 * The back end of (v) hung up, or its process ended: a device process of kvmini's is started again
 * (at most VM_DEVICE_RESTARTS times a minute) and takes up the rings where the guest's requests were
 * last completed; anything else stops the VM (exit 12): the guest's I/O on the device cannot go on.
 */
static void backend_lost(struct vm_virtio *v)
{
	struct vm *vm = v->vm;
	uint64_t now = vm_now_ns(), oldest = v->restart_ns[VM_DEVICE_RESTARTS - 1];
	unsigned int outstanding;
	char why[512];
	int sock;

	if (!vhu_front_gone(&v->front))
		return; /* an event of the back end before: the one serving now is alive */
	vhu_front_lost(&v->front);
	event_del(&vm->loop, &v->hangup);
	event_del(&vm->loop, &v->exited);
	if (!v->proc.launcher) {
		log_layer(LOG_ERR, LAYER_PVIO,
			  "%s: its vhost-user back end hung up: the guest's I/O on it cannot go on",
			  v->front.name);
		vm_stop(vm, VM_EXIT_DEVICE, "a device's back end failed");
		return;
	}
	device_process_why(&v->proc, why, sizeof(why));
	device_process_end(&v->proc);
	if (oldest && now - oldest < 60 * UINT64_C(1000000000)) {
		log_err("%s: not started again, having been started again %d times within a minute: the "
			"guest's I/O on it cannot go on",
			why, VM_DEVICE_RESTARTS);
		vm_stop(vm, VM_EXIT_DEVICE, "a device process failed");
		return;
	}
	memmove(v->restart_ns + 1, v->restart_ns, (VM_DEVICE_RESTARTS - 1) * sizeof(v->restart_ns[0]));
	v->restart_ns[0] = now;
	log_warn("%s: starting it again", why);
	sock = device_channel(v, device_process_respawn(&v->proc));
	if (sock >= 0 && vhu_front_reconnect(&v->front, sock, &outstanding) == 0 &&
	    watch_backend(vm, v) == 0) {
		log_layer(
			LOG_NOTICE, LAYER_SANDBOX,
			"%s: device process %d serves it again, with the %u requests the guest had posted and "
			"not seen completed",
			v->proc.name, (int)v->proc.pid, outstanding);
		return;
	}
	log_err("%s: its device process could not be started again: the guest's I/O on it cannot go on",
		v->proc.name);
	vm_stop(vm, VM_EXIT_DEVICE, "a device process failed");
}

static void on_hangup(struct event_source *s, uint32_t events)
{
	(void)events;
	backend_lost(container_of(s, struct vm_virtio, hangup));
}

static void on_exited(struct event_source *s, uint32_t events)
{
	(void)events;
	backend_lost(container_of(s, struct vm_virtio, exited));
}

static void on_ring_error(struct event_source *s, uint32_t events)
{
	struct vm_ring_watch *w = container_of(s, struct vm_ring_watch, src);

	(void)events;
	vhu_front_ring_error(&w->v->front, w->ring);
}

/* The back end's channel and its process, in the event loop: 0 or -errno. */
static int watch_backend(struct vm *vm, struct vm_virtio *v)
{
	int ret = event_add(&vm->loop, &v->hangup, v->front.sock, EPOLLRDHUP, on_hangup);

	if (!ret && v->proc.pid)
		ret = event_add(&vm->loop, &v->exited, v->proc.pidfd, EPOLLIN, on_exited);
	return ret;
}

/* Every vhost-user back end's channel, process and ring errors into the event loop: 0 or -errno. */
static int watch_backends(struct vm *vm)
{
	int ret = 0;

	for (unsigned int k = 0; !ret && k < vm->nr_devices; k++) {
		struct vm_virtio *v = &vm->devices[k].virtio;

		v->hangup.fd = v->exited.fd = -1;
		if (!v->front_ready)
			continue;
		ret = watch_backend(vm, v);
		for (unsigned int i = 0; !ret && i < v->front.backend.nr_queues; i++) {
			v->ring_err[i].v = v;
			v->ring_err[i].ring = i;
			ret = event_add(&vm->loop, &v->ring_err[i].src, v->front.err_fd[i], EPOLLIN,
					on_ring_error);
		}
	}
	return ret;
}

/* The main thread's sources: stop, signals, the console, the back ends. 0 or -errno (logged). */
static int main_loop_init(struct vm_main *m, int sig_fd)
{
	struct vm *vm = m->vm;
	int ret = event_loop_init(&vm->loop);

	m->in.fd = m->room.fd = m->stop.fd = m->sig.fd = -1;
	if (!ret)
		ret = event_add(&vm->loop, &m->stop, vm->stop_fd, EPOLLIN, on_stop);
	if (!ret)
		ret = event_add(&vm->loop, &m->sig, sig_fd, EPOLLIN, on_signal);
	if (!ret)
		ret = event_add(&vm->loop, &m->room, vm->com1_room_fd, 0, on_console_room);
	if (!ret && !m->eof) {
		ret = event_add(&vm->loop, &m->in, m->con.in_fd, EPOLLIN, on_console_in);
		m->in_always = ret == -EPERM;
		if (m->in_always)
			ret = 0;
	}
	if (!ret)
		ret = watch_backends(vm);
	if (!ret && vm->api_open)
		ret = api_server_attach(&vm->api, &vm->loop);
	if (ret)
		log_err("cannot set up the event loop: %s", strerror(-ret));
	return ret;
}

/*
 * The boot watch (-v): a guest that makes no port or MMIO exit for long while it boots is slow or
 * stuck, and kvmini cannot tell which; it says so, with the layer to look at, and lets it run.
 * Boot ends when a program opens the console (the guest's UART driver turns its receive interrupt on).
 */
#define BOOT_QUIET_FIRST_S 10

struct boot_watch {
	bool on;
	uint64_t exits, since_ns; /* the I/O exits counted at the last change, and when */
	uint64_t warn_s;	  /* the next warning after this many quiet seconds */
};

static void boot_watch_tick(struct vm *vm, struct boot_watch *w)
{
	uint64_t now = vm_now_ns(), exits = 0, quiet_s;

	if (serial8250_listening(&vm->com1)) {
		log_info("boot: the guest's console was opened %.1f s after start (its user space runs)",
			 (double)(now - vm->cfg->start_ns) / 1e9);
		w->on = false;
		return;
	}
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		exits += atomic_load_explicit(&vm->vcpus[i].exits[KVM_EXIT_IO], memory_order_relaxed) +
			 atomic_load_explicit(&vm->vcpus[i].exits[KVM_EXIT_MMIO], memory_order_relaxed);
	if (exits != w->exits || !w->since_ns) {
		*w = (struct boot_watch){
			.on = true, .exits = exits, .since_ns = now, .warn_s = BOOT_QUIET_FIRST_S
		};
		return;
	}
	quiet_s = (now - w->since_ns) / 1000000000u;
	if (quiet_s < w->warn_s)
		return;
	log_layer(
		LOG_WARN, LAYER_VCPU,
		"no port or MMIO exit from the guest for %" PRIu64 " s, %.0f s into its boot "
		"(%" PRIu64 " so far): it is slow or stuck before its user space. Where KVM emulates guest "
		"kernel code (PVM: see 'kvmini host') that is expected; elsewhere see its last console lines",
		quiet_s, (double)(now - vm->cfg->start_ns) / 1e9, exits);
	w->warn_s *= 2;
}

/* Serves the console, signals and the device back ends until the VM stops. */
static void main_loop(struct vm_main *m)
{
	static struct diagnose diag; /* large; one VM per process */
	struct vm *vm = m->vm;
	struct boot_watch watch = { .on = log_enabled(LOG_INFO) };

	while (!atomic_load(&vm->stopping)) {
		bool busy = m->in_always && !m->eof && m->off == m->len;
		int wait = busy ? 0 : 1000, ret; /* a tick a second at least: the boot watch, diagnosis */
		/* An API client's deadline (a slow or idle one is closed) may come first. */
		int api = vm->api_open ? api_server_timeout_ms(&vm->api, vm_now_ns()) : -1;

		if (api >= 0 && api < wait)
			wait = api;
		ret = event_wait(&vm->loop, wait);
		if (ret < 0) {
			vm_stop(vm, VM_EXIT_ERROR, "the event loop failed");
			break;
		}
		if (vm->api_open)
			api_server_expire(&vm->api, vm_now_ns());
		if (watch.on)
			boot_watch_tick(vm, &watch);
		diagnose_tick(&diag, vm, vm_now_ns());
		console_pump(m);
	}
}

/*
 * Once the vCPUs run and every device process has started: the launcher sealed (it only starts those
 * again), then the main thread's own syscall filter. 0 or -errno (logged).
 */
static int lock_main_thread(struct vm *vm)
{
	struct thread_filter_main t = { .vm_fd = vm->fd,
					.api_fd = vm->api_open ? vm->api.listen.fd : -1,
					.rmdir_fd = vm->cgroup.active ? vm->cgroup.dir_fd : -1 };
	int ret = device_launcher_seal(&vm->launcher);

	if (ret) {
		log_layer(LOG_ERR, LAYER_SANDBOX, "cannot seal the launcher of device processes: %s",
			  strerror(-ret));
		return ret;
	}
	/* The API socket's and the vsock socket's directories: where the VM's end removes the sockets. */
	if (vm->api_open && vm->api.dir_fd >= 0)
		t.dirs[t.nr_dirs++] = vm->api.dir_fd;
	for (unsigned int i = 0; i < vm->nr_devices && t.nr_dirs < THREAD_FILTER_DIRS; i++) {
		const struct vm_device *d = &vm->devices[i];
		int dir = d->kind->add != add_vsock ? -1 : d->open ? d->vsock.dir_fd : d->uds_dir;

		if (dir >= 0)
			t.dirs[t.nr_dirs++] = dir;
	}
	vm->facts.main_syscalls = thread_filter_main_count(&t);
	return thread_filter_main(&t);
}

static void empty_handler(int sig)
{
	(void)sig;
}

/* Signals: SIGINT/TERM/HUP are read from a signalfd; SIGUSR1 kicks a vCPU out of KVM_RUN. */
static int setup_signals(sigset_t *old)
{
	struct sigaction sa = { .sa_handler = empty_handler }; /* no SA_RESTART: KVM_RUN returns EINTR */
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaction(SIGUSR1, &sa, NULL);
	pthread_sigmask(SIG_BLOCK, &set, old);
	sigdelset(&set, SIGUSR1);
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		log_err("signalfd: %s", strerror(errno));
	return fd;
}

int vm_run(struct vm *vm)
{
	static struct vm_main m; /* one VM runs per process; its buffers stay off the stack */
	sigset_t old;
	int sig_fd = setup_signals(&old);

	if (sig_fd < 0)
		return VM_EXIT_ERROR;
	m = (struct vm_main){ .vm = vm, .eof = !vm->cfg->console_input };
	if (console_open(&m.con, vm->cfg->console_input ? STDIN_FILENO : -1) < 0)
		log_warn("cannot put the terminal in raw mode: %s", strerror(errno));
	if (main_loop_init(&m, sig_fd) < 0)
		vm_stop(vm, VM_EXIT_ERROR, "cannot set up the event loop");
	for (unsigned int i = 0; i < vm->nr_vcpus && !atomic_load(&vm->stopping); i++)
		if (vcpu_start(&vm->vcpus[i]) < 0) {
			vm_stop(vm, VM_EXIT_ERROR, "cannot start the vCPU threads");
			break;
		}
	if (!atomic_load(&vm->stopping) && lock_main_thread(vm) < 0)
		vm_stop(vm, VM_EXIT_ERROR,
			"L-3 sandbox: the main thread cannot run without its syscall filter");
	main_loop(&m);
	close_api(vm); /* its last answers (a quit's) go out, then its socket goes */
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		if (vcpu_join(&vm->vcpus[i], VCPU_JOIN_GRACE_S) < 0) {
			/* Its thread still uses the VM's memory and fds: nothing may be freed under it. */
			console_close(&m.con);
			_exit(vm->exit_status);
		}
	event_loop_destroy(&vm->loop);
	console_close(&m.con);
	close(sig_fd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (vm->nr_vcpus && vm->vcpus[0].first_run_ns) {
		uint64_t ns = vm->vcpus[0].first_run_ns - vm->cfg->start_ns;

		log_info("start-up: %" PRIu64 ".%03" PRIu64 " ms from start to the first KVM_RUN",
			 ns / 1000000, ns / 1000 % 1000);
	}
	log_exit_counts(vm);
	return vm->exit_status;
}
