/*
 * worker.h: the thread that serves a virtio device's queues: woken by kick eventfds, it hands each
 * chain to the device model and signals call eventfds. It sees guest RAM, its queues' addresses and
 * eventfds, and nothing of the transport or of KVM: what a separate device process would be handed.
 */
#ifndef KVMINI_VIRTIO_WORKER_H
#define KVMINI_VIRTIO_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtq.h"

#define VIRTIO_MAX_QUEUES 8

struct virtio_worker;

/*
 * What a device model does with the queues; (opaque) is the model's own.
 *
 * Request queues (virtio-blk's, a NIC's transmit queue) are served by the worker: each chain the
 * driver posts is handed to handle(). Devices fed from outside (a tap, host sockets) also have queues
 * they fill when data arrives: the bits of (rx_queues). The worker never pops those; a kick on one,
 * the model's own fd turning readable, or a batch of requests handled calls io(), which pops, fills
 * and pushes them through virtio_worker_pop/push/notify.
 */
struct virtio_model {
	const char *name;
	/*
	 * handle: carry out chain (c) from queue (qi), writing its device-writable buffers. Returns 0 with
	 * the used length in (*used) (a u32, as the ring has it: a read may exceed 2 GiB), or -EINVAL when
	 * the chain cannot be answered at all (the device then needs a reset).
	 */
	int (*handle)(void *opaque, unsigned int qi, const struct virtq_chain *c, uint32_t *used);
	uint32_t rx_queues;
	/*
	 * start (optional): the driver has set DRIVER_OK with (features); the model gets ready to serve
	 * through worker (w). Returns the fd the worker polls for the model's own events (a tap, an
	 * epoll set; -1: none), or -errno. Runs before the worker thread starts.
	 * io (with start): on the worker thread. (ready) says the model's fd polled readable. Returns
	 * true when it has more to do at once (it stopped at a budget), false to wait for an event.
	 * stop (with start): the worker thread has ended; the model lets go of what start took.
	 */
	int (*start)(void *opaque, struct virtio_worker *w, uint64_t features);
	bool (*io)(void *opaque, struct virtio_worker *w, bool ready);
	void (*stop)(void *opaque);
	/* describe (optional): log the model's counters at LOG_INFO when worker (w) stops, before stop(). */
	void (*describe)(void *opaque, const struct virtio_worker *w);
	void *opaque;
};

/*
 * A queue's event-channel counters (L-2), kept for kvmini's API (stat, inspect): relaxed atomics, written
 * by the thread that serves the queue and read live by kvmini's main thread, across processes when a
 * device process serves it (the page is shared, see device_process.h). They survive device resets.
 */
struct virtio_queue_counters {
	_Atomic uint64_t kicks;	  /* the driver's notifications, as its kick eventfd counted them */
	_Atomic uint64_t signals; /* used-buffer notifications signalled on the call eventfd */
	_Atomic uint64_t chains;  /* chains returned to the driver */
};

/* A device's counters, one page at most. */
struct virtio_counters {
	struct virtio_queue_counters q[VIRTIO_MAX_QUEUES];
};

/* A queue's counters as read at one moment. */
struct virtio_queue_counts {
	uint64_t kicks, signals, chains;
};

/* virtio_counters_read: queue (qi)'s counters in (c) now (all 0 where c is NULL or qi out of range). */
void virtio_counters_read(const struct virtio_counters *c, unsigned int qi, struct virtio_queue_counts *out);

/*
 * virtio_counters_create: a zeroed counters page in a memfd of its own, sealed against shrinking, so that a
 * device process can map it safely: the page mapped here, its fd in (*fd); NULL with errno set on failure.
 * virtio_counters_map: map the page of memfd (fd) that another process made, checking it is large
 * enough; NULL (errno set) when not. virtio_counters_unmap: undo either (NULL: a no-op).
 */
struct virtio_counters *virtio_counters_create(int *fd);
struct virtio_counters *virtio_counters_map(int fd);
void virtio_counters_unmap(struct virtio_counters *c);

/* One queue as the driver set it up, and its event channels. */
struct virtio_queue_setup {
	bool enabled;
	uint16_t size;
	uint64_t desc, avail, used; /* guest-physical */
	uint16_t base; /* the avail index to take first (0 after a reset; vhost-user's VRING_BASE) */
	int kick_fd;   /* signalled when the driver notifies this queue */
	int call_fd;   /* signal it for a used-buffer notification; -1: none */
	/* vhost-user's inflight tracking: this queue's region (virtq_set_inflight), NULL: none. */
	void *inflight;
	size_t inflight_len;
	struct virtio_queue_counters *counters; /* NULL: not counted */
};

/* needs_reset: the driver broke the rules on a queue; the transport sets DEVICE_NEEDS_RESET. Any thread. */
typedef void virtio_needs_reset_fn(void *opaque);

enum virtio_worker_state {
	VIRTIO_WORKER_IDLE,
	VIRTIO_WORKER_RUNNING,
	VIRTIO_WORKER_EXIT
};

struct virtio_worker {
	const struct virtio_model *model;
	const struct gmem *mem;
	virtio_needs_reset_fn *needs_reset;
	void *opaque;
	unsigned int nr_queues;
	struct virtio_queue_setup setup[VIRTIO_MAX_QUEUES];
	struct virtq q[VIRTIO_MAX_QUEUES];
	struct virtq_chain chain; /* the chain being served: large, so not on the thread's stack */
	int io_fd;		  /* the model's event fd (start()), -1: none */
	bool io_wanted;		  /* whether to poll io_fd: a model with nowhere to put data stops reading */
	bool handled;		  /* requests were handled since the last io() */
	int stop_fd;
	pthread_t thread;
	bool initialized;		/* virtio_worker_init succeeded: the thread exists */
	bool running;			/* serving queues, between start and stop */
	pthread_mutex_t lock;		/* guards (state) */
	pthread_cond_t cond;		/* (state) changed */
	enum virtio_worker_state state; /* what the thread is told to do, and IDLE once it has stopped */
};

/*
 * virtio_worker_init: make the worker's thread, idle until virtio_worker_start. Threads are made when a
 * device is added, never on a vCPU's register write. Returns 0 or -errno.
 */
int virtio_worker_init(struct virtio_worker *w);
/* virtio_worker_destroy: stop the worker if it serves, and end its thread. A no-op when not initialized. */
void virtio_worker_destroy(struct virtio_worker *w);
/*
 * virtio_workers_init: the (n) workers of device (name) at (w), each with its thread; on failure none
 * is left. Returns 0 or -errno (logged). virtio_workers_destroy: end the (n) workers at (w).
 */
int virtio_workers_init(struct virtio_worker *w, unsigned int n, const char *name);
void virtio_workers_destroy(struct virtio_worker *w, unsigned int n);

/*
 * virtio_worker_start: serve the (nr_queues) queues of (setup) on guest RAM (mem) with the negotiated
 * (features), through (model), on the worker's thread, each from its (base), or, with an inflight region,
 * after the chains it has in flight, which are served again first. A queue whose rings are bad is broken
 * from the start (needs_reset is called). Returns 0, -EBUSY when it already serves, or -errno.
 */
int virtio_worker_start(struct virtio_worker *w, const struct virtio_model *model, const struct gmem *mem,
			uint64_t features, const struct virtio_queue_setup *setup, unsigned int nr_queues,
			virtio_needs_reset_fn *needs_reset, void *opaque);
/*
 * virtio_worker_stop: let the chain in hand finish, then stop serving (the thread idles). Where (bases)
 * is not NULL, (bases)[i] is the avail index queue i stopped at: the next to take. A no-op when not
 * running.
 */
void virtio_worker_stop(struct virtio_worker *w, uint16_t *bases);

/*
 * For a model's start() and io(), on the worker's thread, on its rx queues (qi).
 * virtio_worker_pop: take the next chain the driver posted into (c). Returns 1; 0 when there is none
 *   (the driver's next kick on (qi) calls io()); -EINVAL when the driver broke the ring rules (logged,
 *   the device asks for a reset, and the queue stays broken).
 * virtio_worker_unpop: give back the last (n) chains popped and not pushed: the next pops return
 *   them again (a packet that did not fit waits for more buffers).
 * virtio_worker_push: return chain (head) with (len) bytes written.
 * virtio_worker_push_n: return (n) chains (heads, lens) at once: the driver sees all of them or none.
 * virtio_worker_notify: after a batch of pushes, interrupt the driver if it asked for it.
 * virtio_worker_want_io: poll the model's fd (want) or not until told otherwise.
 */
int virtio_worker_pop(struct virtio_worker *w, unsigned int qi, struct virtq_chain *c);
void virtio_worker_unpop(struct virtio_worker *w, unsigned int qi, unsigned int n);
void virtio_worker_push(struct virtio_worker *w, unsigned int qi, uint16_t head, uint32_t len);
void virtio_worker_push_n(struct virtio_worker *w, unsigned int qi, const uint16_t *heads,
			  const uint32_t *lens, uint16_t n);
void virtio_worker_notify(struct virtio_worker *w, unsigned int qi);
void virtio_worker_want_io(struct virtio_worker *w, bool want);
/*
 * virtio_eventfd_signal: add 1 to eventfd (fd) (-1: none). virtio_eventfd_drain: reset a non-blocking
 * one; returns the count it held (0 when none, or on error).
 */
void virtio_eventfd_signal(int fd);
uint64_t virtio_eventfd_drain(int fd);

#endif
