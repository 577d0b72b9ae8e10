/* vm.h: a virtual machine: its KVM VM, RAM, buses, devices and vCPUs, and how it ends. */
#ifndef KVMINI_VM_H
#define KVMINI_VM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../devices/pci.h"
#include "../devices/platform.h"
#include "../devices/serial8250.h"
#include "../devices/virtio/blk.h"
#include "../devices/virtio/local.h"
#include "../devices/virtio/vhu_front.h"
#include "../devices/virtio/pci.h"
#include "../devices/virtio/net.h"
#include "../devices/virtio/vsock.h"
#include "arch.h"
#include "bus.h"
#include "cgroup.h"
#include "control.h"
#include "device_process.h"
#include "event.h"
#include "exit_status.h"
#include "irq.h"
#include "kvm.h"
#include "registry.h"
#include "../devices/base/mem.h"
#include "vcpu.h"

#define VM_MAX_DISKS 16
/* A device process is started again at most this many times a minute; then the VM stops (exit 12). */
#define VM_DEVICE_RESTARTS 3

/* --disk PATH[,ro][,serial=ID] */
struct vm_disk_config {
	char path[4096]; /* the image; with (vhost_user), the back end's Unix socket */
	bool vhost_user; /* --disk vhost-user=SOCKET: a back end someone else runs */
	bool read_only;
	bool has_serial;
	char serial[BLK_SERIAL_LEN + 1];
};

#define VM_MAX_NICS 8

/* --net tap=NAME[,mac=MAC] */
struct vm_net_config {
	char ifname[IFNAMSIZ];
	bool has_mac; /* else a random one */
	uint8_t mac[6];
};

/* --vsock cid=N,uds=PATH */
struct vm_vsock_config {
	bool enabled;
	uint64_t cid;
	char uds[VSOCK_UDS_PATH_MAX];
};

struct vm_config {
	const char *kernel;
	const char *initrd;  /* NULL: none */
	const char *cmdline; /* appended to the default command line; NULL: none */
	unsigned int cpus;
	uint64_t mem; /* bytes */
	const char *kvm_device;
	bool allow_pvm; /* run even on a PVM /dev/kvm, where a stock kernel cannot boot in useful time */
	bool devices_in_process; /* --devices in-process: the models on threads of kvmini's, no device processes */
	uint64_t start_ns;	 /* CLOCK_MONOTONIC when kvmini started */
	int console_fd;		 /* where the guest's console output goes */
	bool console_input;	 /* serve stdin to the guest's console */
	struct vm_disk_config disks[VM_MAX_DISKS]; /* the guest's vda, vdb, ... in order */
	unsigned int nr_disks;
	struct vm_net_config nics[VM_MAX_NICS]; /* the guest's eth0, eth1, ... in order */
	unsigned int nr_nics;
	struct vm_vsock_config vsock;
	const char *api_sock;	     /* --api-sock PATH: the API's Unix socket; NULL: none */
	struct cgroup_config cgroup; /* --cgroup: where kvmini and its device processes run; .set: given */
};

/*
 * A virtio device: what serves its queues and its function on the PCI bus. Served by threads of
 * kvmini's (local), or through kvmini's vhost-user front end (front) by a device process of kvmini's
 * (proc) or by a back end someone else runs.
 */
struct vm_virtio {
	struct vm *vm;
	struct virtio_local local;
	struct vhu_front front;
	struct device_process proc;
	struct virtio_pci vp;
	bool local_ready, front_ready, vp_ready;
	/* Its queues' counters (worker.h): a page shared with its device process; NULL: not counted. */
	struct virtio_counters *counters;
	int counters_fd;
	uint64_t restart_ns
		[VM_DEVICE_RESTARTS]; /* when its device process was last started again, newest first */
	/* In the VMM's event loop: the back end's hang-up, its process's end, its rings' errors. */
	struct event_source hangup, exited;
	struct vm_ring_watch {
		struct event_source src;
		struct vm_virtio *v;
		unsigned int ring;
	} ring_err[VIRTIO_MAX_QUEUES];
};

struct vm_device_kind; /* vm.c's table: how each kind is added and closed */

/*
 * A virtio device of the VM, in the order the guest finds them (disks vda..., NICs eth0..., vsock): its
 * kind, what serves it, and its model's own state (opened by kvmini even where a device process serves
 * it: kvmini checks the image, opens the tap, looks at the socket's path).
 */
struct vm_device {
	const struct vm_device_kind *kind;
	unsigned int index; /* among those of its kind: --disk 0 is vda */
	char name[16];	    /* "vda", "eth0", "vsock": what the guest calls it */
	struct vm_virtio virtio;
	bool open; /* the model's state below is open */
	union {
		struct blk_disk blk;
		struct net_dev net;
		struct vsock_dev vsock;
	};
	bool uds_ours; /* vsock: its device process listens there: the socket goes with the VM */
	int uds_dir;   /* vsock with a device process: the socket's directory (sockpath_dir_open), or -1 */
};

struct vm {
	const struct vm_config *cfg;
	struct kvm kvm;
	int fd;
	struct arch_vm arch; /* what the architecture's side keeps (arch.h) */
	struct gmem mem;
	struct bus pio;
	struct bus mmio;
	struct vcpu *vcpus;
	unsigned int nr_vcpus;	 /* created so far */
	struct vcpu_pause pause; /* the API's pause and resume of every vCPU */
	bool pause_ready;
	struct dev_host host; /* what devices may ask of this VM */
	struct serial8250 com1;
	int com1_irq_fd, com1_room_fd;
	struct platform platform;
	struct irq_routes routes;
	struct registry registry; /* what kvmini set up with KVM, for inspect */
	bool registry_ready;
	struct pci_bus pci;
	bool pci_ready;
	struct vm_device *devices;	 /* the virtio devices */
	unsigned int nr_devices;	 /* added so far */
	int stop_fd;			 /* eventfd: the VM is stopping, wakes the event loop */
	struct event_loop loop;		 /* the main thread's (vm_run) */
	struct device_launcher launcher; /* what starts the device processes */
	struct cgroup_state cgroup;	 /* --cgroup, entered before anything is started */
	struct api_server api;		 /* --api-sock */
	bool api_open;
	struct control_facts facts; /* what the API tells that is read before the lock-down */
	atomic_int stopping;
	int exit_status; /* written once, by whoever wins 'stopping' */
};

/* vm_create: build the whole machine described by (cfg), guest loaded and ready. Returns 0 or -errno (logged). */
int vm_create(struct vm *vm, const struct vm_config *cfg);
/* vm_run: run (vm) until it stops; serves the console on stdin/stdout. Returns the exit status. */
int vm_run(struct vm *vm);
/* vm_destroy: release everything vm_create took. */
void vm_destroy(struct vm *vm);
/* vm_stop: end (vm) with exit (status); (why) is logged. The first call wins. Any thread. */
void vm_stop(struct vm *vm, int status, const char *why);
/*
 * vm_add_console: the console's 16550A at (addr) on (bus), raising (gsi) through an irqfd; the
 * architecture's board calls it (arch_add_devices). Returns 0 or -errno (logged).
 */
int vm_add_console(struct vm *vm, struct bus *bus, uint64_t addr, unsigned int gsi);
/*
 * vm_add_pci: the PCI host bridge, its ECAM at (ecam, ecam_size) and its memory window (mmio) on the
 * MMIO bus, BARs placed in (mmio) and (io); the architecture adds any other way in (x86: its ports).
 * Returns 0 or -errno (logged).
 */
int vm_add_pci(struct vm *vm, uint64_t ecam, uint64_t ecam_size, const struct pci_window *mmio,
	       const struct pci_window *io);
/* The guest's command line: the console and panic policy kvmini gives, then --cmdline. */
#define VM_DEFAULT_CMDLINE "console=ttyS0 panic=-1"
/* vm_cmdline: VM_DEFAULT_CMDLINE and (vm)'s --cmdline, allocated (free it); NULL when out of memory. */
char *vm_cmdline(const struct vm *vm);
/* The largest kernel file kvmini reads: 512 MiB, more than any kernel is. */
#define VM_KERNEL_MAX_SIZE UINT64_C(0x20000000)
/* vm_device_type: (d)'s virtio type ("virtio-blk") into (buf) of (len) bytes. */
void vm_device_type(const struct vm_device *d, char *buf, size_t len);
/* vm_device_queues: how many queues (d)'s transport has (0 before it has one). */
unsigned int vm_device_queues(const struct vm_device *d);
/*
 * vm_ring_field: the 16-bit field at (off) of the virtqueue ring at guest-physical (ring) (VM_RING_IDX:
 * the avail or used ring's index), as last written there, read through the bounds-checked accessor (the
 * guest chose the address). 0, or -EFAULT.
 */
#define VM_RING_IDX		 2
#define VM_RING_USED_EVENT(size) (4 + 2 * (uint64_t)(size)) /* in the avail ring, after its entries */
int vm_ring_field(const struct vm *vm, uint64_t ring, uint64_t off, uint16_t *v);
/* vm_now_ns: CLOCK_MONOTONIC in nanoseconds. */
uint64_t vm_now_ns(void);

#endif
