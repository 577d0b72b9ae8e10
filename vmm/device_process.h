/*
 * device_process.h: kvmini's side of a device process (devices/devproc): started for one device in
 * namespaces of its own, connected by a socketpair that carries the vhost-user protocol, watched
 * through a pidfd, and heard from when its syscall filter refuses a call (a pipe of refusal records).
 *
 * Device processes are started by the launcher, a small process kvmini forks before it opens KVM or maps
 * guest RAM: it holds nothing of the VM (no guest memory, no KVM descriptor) and reads fixed-size
 * requests on a socketpair. A device's first start gives the launcher its arguments (and the descriptor
 * it is handed, a tap); once kvmini seals the launcher (before its main thread locks itself down), it
 * only starts again a device it started before, with what it recorded then. So kvmini's main thread
 * needs no right to create processes or namespaces (a seccomp filter would pass to every child it made),
 * and a main thread that someone took over cannot have anything else started.
 */
#ifndef KVMINI_DEVICE_PROCESS_H
#define KVMINI_DEVICE_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* kvmini's exit status when a device process fails (dies, or its syscall filter stops it). */
#define VM_EXIT_DEVICE 12

/* Devices the launcher can start: every disk, NIC and vsock device a VM may have. */
#define DEVICE_LAUNCHER_SLOTS 32

struct device_launcher {
	pid_t pid; /* 0: none */
	int sock;  /* kvmini's end of the request channel */
};

struct device_process {
	char name[32];			  /* for messages: "virtio-blk vda" */
	struct device_launcher *launcher; /* NULL: no device process of kvmini's */
	unsigned int slot;		  /* its device, to the launcher */
	pid_t pid;			  /* 0: none */
	int pidfd;			  /* polled for its end */
	int report_fd;			  /* kvmini's end of the refusal pipe */
	int sock;		  /* kvmini's end of the vhost-user channel, until the front end takes it */
	uint64_t namespaces;	  /* CLONE_NEW* it was started in (sandbox.h) */
	unsigned int nr_syscalls; /* its seccomp allowlist's size */
	int landlock_abi;	  /* the Landlock ABI it locks itself down with (0: none) */
};

/*
 * device_launcher_start: fork the launcher (l) (it ends when kvmini hangs up or dies). Call it early,
 * while kvmini holds nothing of the VM: the launcher closes every descriptor but its channel, but it
 * keeps a copy of the memory. Returns 0 or -errno (logged).
 */
int device_launcher_start(struct device_launcher *l);
/* device_launcher_seal: from now on (l) only starts again the devices it has started. Returns 0 or -errno. */
int device_launcher_seal(struct device_launcher *l);
/* device_launcher_stop: hang up; the launcher kills what it started that still runs, and ends. */
void device_launcher_stop(struct device_launcher *l);

/* In ARGS, the number the descriptor handed to the device process has there (the launcher's own). */
#define DEVICE_PROCESS_PASSED_FD "{passed-fd}"

/*
 * device_process_spawn: have launcher (l) start `kvmini ARGS...` (ARGS: "device", "blk", ..., NULL;
 * "--fd N" and "--report-fd N" are added) for device (slot) named (name), in new namespaces where the
 * host allows them, handing it descriptor (pass) (-1: none; a tap: ARGS name it DEVICE_PROCESS_PASSED_FD)
 * and the memfd of its counters' page (stats) (-1: none; "--stats-fd N" is added: every start of it
 * counts on in the same page). The launcher records all of it for device_process_respawn. Returns 0 with
 * (p)->sock connected to the device process, or -errno (logged).
 */
int device_process_spawn(struct device_process *p, struct device_launcher *l, unsigned int slot,
			 const char *name, const char *const *args, int pass, int stats);
/* device_process_respawn: start (p)'s device process again, as it was first started. 0 or -errno (logged). */
int device_process_respawn(struct device_process *p);
/*
 * device_process_why: the device process hung up: reap it (waiting up to a second) and describe, in
 * (buf), why it ended: a refused syscall (by name and number), a signal, or its exit status. The caller
 * says what follows (it is started again, or the VM stops).
 */
void device_process_why(struct device_process *p, char *buf, size_t len);
/* What the kernel says of a device process, as its launcher read it from /proc. */
struct device_process_facts {
	int seccomp;	  /* Seccomp: 0 none, 1 strict, 2 filter */
	int no_new_privs; /* NoNewPrivs */
	char cgroup[256]; /* its cgroup v2 path, "" when unknown */
};

/* device_process_describe: (f) for (p)'s process now. 0, or -ESRCH (none runs) or -errno. */
int device_process_describe(struct device_process *p, struct device_process_facts *f);
/* device_process_end: wait up to 2 s for the process to exit (its front end has hung up), then kill it. */
void device_process_end(struct device_process *p);

#endif
