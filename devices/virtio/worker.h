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

/* What a device model does with a chain; (opaque) is the model's own. */
struct virtio_model {
	const char *name;
	/*
	 * handle: carry out chain (c) from queue (qi), writing its device-writable buffers. Returns the
	 * used length, or -EINVAL when the chain cannot be answered at all (the device then needs a reset).
	 */
	int (*handle)(void *opaque, unsigned int qi, const struct virtq_chain *c);
	void *opaque;
};

/* One queue as the driver set it up, and its event channels. */
struct virtio_queue_setup {
	bool enabled;
	uint16_t size;
	uint64_t desc, avail, used; /* guest-physical */
	int kick_fd;		    /* signalled when the driver notifies this queue */
	int call_fd;		    /* signal it for a used-buffer notification; -1: none */
};

/* needs_reset: the driver broke the rules on a queue; the transport sets DEVICE_NEEDS_RESET. Any thread. */
typedef void virtio_needs_reset_fn(void *opaque);

struct virtio_worker {
	const struct virtio_model *model;
	const struct gmem *mem;
	virtio_needs_reset_fn *needs_reset;
	void *opaque;
	unsigned int nr_queues;
	struct virtio_queue_setup setup[VIRTIO_MAX_QUEUES];
	struct virtq q[VIRTIO_MAX_QUEUES];
	struct virtq_chain chain; /* the chain being served: large, so not on the thread's stack */
	int stop_fd;
	pthread_t thread;
	bool running;
};

/*
 * virtio_worker_start: serve the (nr_queues) queues of (setup) on guest RAM (mem) with the negotiated
 * (features), through (model), on a new thread. A queue whose rings are bad is broken from the start
 * (needs_reset is called). Returns 0 or -errno.
 */
int virtio_worker_start(struct virtio_worker *w, const struct virtio_model *model, const struct gmem *mem,
			uint64_t features, const struct virtio_queue_setup *setup, unsigned int nr_queues,
			virtio_needs_reset_fn *needs_reset, void *opaque);
/* virtio_worker_stop: let the chain in hand finish, then end the thread. A no-op when not running. */
void virtio_worker_stop(struct virtio_worker *w);
/* virtio_eventfd_signal: add 1 to eventfd (fd) (-1: none); virtio_eventfd_drain: reset a non-blocking one. */
void virtio_eventfd_signal(int fd);
void virtio_eventfd_drain(int fd);

#endif
