/*
 * diagnose.h: what kvmini watches while a VM runs, once a second on its main thread, to name the layer
 * that fails and say what to do, each finding printed once when it begins (again only after it has
 * cleared): an interrupt storm (L-0 on a vCPU, L-2 on a device's queue), a vCPU thread that does not
 * come back from handling an exit (L-1: starved or stuck), a request queue whose kicks go unanswered
 * and a disk's completions the driver never takes (L-2: an event channel blocked). The guest that stops exiting during boot is the boot
 * watch's (vm.c); refused syscalls (L-3) and triple faults are reported where they happen.
 */
#ifndef KVMINI_DIAGNOSE_H
#define KVMINI_DIAGNOSE_H

#include <stdbool.h>
#include <stdint.h>

#include "../devices/virtio/worker.h"

/* Interrupts KVM injects into one vCPU in a second above which it is a storm (a busy NIC: ~10^4). */
#define DIAG_IRQ_STORM_PER_S 200000
/* Used-buffer interrupts one queue signals in a second above which it is a storm. */
#define DIAG_SIGNAL_STORM_PER_S 200000
/* Seconds a vCPU thread may spend outside KVM_RUN on one exit (hardware: microseconds). */
#define DIAG_EXIT_STUCK_S 2
/* Seconds a request queue may hold posted requests with none completed. */
#define DIAG_QUEUE_STALL_S 10

struct vm;

/* What one watched thing looked like at the last tick, and whether its finding is out. */
struct diag_watch {
	uint64_t count;	   /* the counter it watches */
	uint64_t since_ns; /* when the condition began (0: it does not hold) */
	bool said;	   /* its finding is printed for this episode */
};

struct diagnose {
	uint64_t last_ns; /* the last tick; 0 before the first */
	struct diag_watch irqs[256], stuck[256];
	struct diag_watch signals[32][VIRTIO_MAX_QUEUES], stall[32][VIRTIO_MAX_QUEUES],
		taken[32][VIRTIO_MAX_QUEUES];
};

/*
 * diag_rate: events per second between two counts (dt_ns) apart; 0 when dt_ns is 0 or the counter went
 * back (a device's counters do not, but a garbage value from a device process must not alarm).
 */
uint64_t diag_rate(uint64_t before, uint64_t after, uint64_t dt_ns);
/*
 * diag_update: watch (w) sees counter (count) at (now_ns) and whether the condition holds now (holds).
 * Returns true once per episode: when the condition has held for (hold_ns) (0: at once) and its
 * finding is to be printed now.
 */
bool diag_update(struct diag_watch *w, uint64_t count, bool holds, uint64_t now_ns, uint64_t hold_ns);
/*
 * diag_index_behind: whether a driver that has taken used entries up to (seen) (the used_event Linux
 * leaves once it has taken them) is behind used index (used): completions it has not taken. Indexes wrap.
 */
bool diag_index_behind(uint16_t seen, uint16_t used);
/* diag_request_queue: whether queue (qi) of a device of (type) ("virtio-blk") carries requests the
 * driver expects answered (virtio 1.2: every blk queue, net's transmit queues, vsock's tx): the others
 * hold buffers waiting for data, which is no fault. */
bool diag_request_queue(const char *type, unsigned int qi);
/* diagnose_tick: look at (vm) at (now_ns) and print what begins to fail. */
void diagnose_tick(struct diagnose *d, struct vm *vm, uint64_t now_ns);

#endif
