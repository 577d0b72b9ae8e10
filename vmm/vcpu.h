/* vcpu.h: one host thread per virtual CPU, running KVM_RUN and dispatching its exits. */
#ifndef KVMINI_VCPU_H
#define KVMINI_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "kvm_stats.h"

struct bus;

#define VCPU_EXIT_REASONS 64 /* counters for KVM_EXIT_* below this */

/*
 * vcpu_stop_vm_fn: end the VM with exit (status), a VM_EXIT_* (exit_status.h), logging (why); the first
 * call wins. Called on the vCPU's thread, under its syscall filter (thread_filter.h).
 */
typedef void vcpu_stop_vm_fn(void *opaque, int status, const char *why);

/*
 * Pausing a VM's vCPUs (the API's PATCH /vm): one for all of them, shared through their contexts. A
 * vCPU sees (requested) between two KVM_RUNs and parks until (paused) is false or the VM stops; while
 * parked it still answers snapshot requests.
 */
struct vcpu_pause {
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* broadcast on every change below */
	bool paused;	       /* under (lock) */
	unsigned int parked;   /* vCPUs waiting, under (lock) */
	atomic_bool requested; /* (paused), for the vCPU loop's check without the lock */
};

/* vcpu_pause_init/destroy: an unpaused (p). */
int vcpu_pause_init(struct vcpu_pause *p);
void vcpu_pause_destroy(struct vcpu_pause *p);

/* What a vCPU needs of its VM, given by whoever creates it; all of it outlives the vCPU. */
struct vcpu_ctx {
	int vm_fd;
	size_t run_size;	    /* KVM_GET_VCPU_MMAP_SIZE */
	struct bus *pio, *mmio;	    /* where its port and MMIO exits go */
	const atomic_int *stopping; /* non-zero once the VM stops: the vCPU's thread then returns */
	vcpu_stop_vm_fn *stop;
	void *opaque;		  /* for (stop) */
	struct vcpu_pause *pause; /* the VM's */
};

/* Where a vCPU was, taken on its own thread (KVM_GET_REGS waits for KVM_RUN to end). */
struct vcpu_snapshot {
	struct arch_regs regs;
	int err; /* 0, or -errno from KVM */
};

struct vcpu {
	struct vcpu_ctx ctx; /* a copy of vcpu_create()'s */
	unsigned int id;     /* also its APIC ID */
	int fd;
	struct kvm_run *run; /* shared with KVM; immediate_exit is written by other threads */
	pthread_t thread;
	bool started;
	atomic_bool nmi_pending; /* vcpu_request_nmi() asked; injected before the next entry */
	atomic_bool in_run;	 /* inside KVM_RUN: for vcpu_join()'s diagnosis of a thread that hangs */
	_Atomic int wchan_fd;	 /* its /proc wait channel, opened by the thread before its filter; -1 */
	_Atomic int stat_fd;	 /* its /proc stat (times, CPU, state), opened the same way; -1 */
	_Atomic int tid;	 /* its host thread ID, 0 before it runs */
	struct kvm_stats kstats; /* KVM's own counters for it */
	/* Live counters: written by this vCPU's thread only, read by any (relaxed). */
	_Atomic uint64_t exits[VCPU_EXIT_REASONS]; /* exits to kvmini by reason */
	_Atomic unsigned int last_exit;		   /* the latest's reason */
	_Atomic bool parked;			   /* waiting in a pause */
	uint64_t first_run_ns; /* CLOCK_MONOTONIC of the first KVM_RUN, 0 before; this thread's */
	/* A snapshot asked for by vcpu_snapshot(): the flag read without the lock, the rest under it. */
	atomic_bool snap_wanted;
	uint64_t snap_gen; /* snapshots taken */
	struct vcpu_snapshot snap;
};

/* vcpu_create: KVM vCPU (id) of the VM (ctx) describes, its run page mapped. Returns 0 or -errno (logged). */
int vcpu_create(struct vcpu *v, const struct vcpu_ctx *ctx, unsigned int id);
/* vcpu_destroy: unmap and close (v); its thread must have been joined. */
void vcpu_destroy(struct vcpu *v);
/* vcpu_start: run (v) on its own thread until the VM stops. Returns 0 or -errno. */
int vcpu_start(struct vcpu *v);
/* vcpu_kick: make (v) leave KVM_RUN promptly, now or at its next entry. Any thread. */
void vcpu_kick(struct vcpu *v);
/*
 * vcpu_request_nmi: inject an NMI into (v), getting it out of KVM_RUN to do so (a halted vCPU too); where
 * the architecture has none (arm64) it only kicks.
 */
void vcpu_request_nmi(struct vcpu *v);
/*
 * vcpu_join: wait for (v)'s thread after vcpu_kick(). One not back within (grace_s) seconds is named
 * with where it hangs, by layer; returns -ETIMEDOUT when it is still not back (grace_s) later, and
 * then it must be left alone (its vCPU and memory stay in use).
 */
int vcpu_join(struct vcpu *v, unsigned int grace_s);
/*
 * vcpu_pause_all: park the (n) vCPUs at (v) (paused) or let them go on; with (paused), wait up to
 * (timeout_ms) for every one to park. Returns 0, or -ETIMEDOUT with (*late) the first not parked (they
 * park when they can; a resume lets them go). Any thread but a vCPU's.
 */
int vcpu_pause_all(struct vcpu *v, unsigned int n, bool paused, unsigned int timeout_ms, unsigned int *late);
/*
 * vcpu_snapshot: (v)'s registers now, taken by its thread within (timeout_ms), into (out). Returns 0,
 * -ETIMEDOUT, or -errno from KVM. Any thread but (v)'s.
 */
int vcpu_snapshot(struct vcpu *v, unsigned int timeout_ms, struct vcpu_snapshot *out);
/*
 * vcpu_thread_stat: what the host says of (v)'s thread now (/proc/.../stat): (state) its scheduler state
 * letter, (cpu) the CPU it last ran on, and its times: in the guest, in kvmini (user time outside the
 * guest) and in the host kernel (system time: KVM's in-kernel exits, syscalls), in nanoseconds. -errno
 * before its thread runs.
 */
struct vcpu_thread_stat {
	char state;
	int cpu;
	uint64_t guest_ns, user_ns, kernel_ns;
};
int vcpu_thread_stat(const struct vcpu *v, struct vcpu_thread_stat *st);
/* vcpu_state_name: "running", "paused", "stopped" or "not started" for (v). */
const char *vcpu_state_name(const struct vcpu *v);
/* vcpu_exit_name: a KVM_EXIT_* reason as text. */
const char *vcpu_exit_name(unsigned int reason);

#endif
