/*
 * devproc/vhu_backend.h: a vhost-user back end (QEMU's docs/interop/vhost-user.rst) serving one virtio
 * device model with worker threads: the protocol's messages set up guest memory (shared memfds), the
 * rings (front-end virtual addresses, translated through the memory table) and their event channels;
 * the model's code (blk.c, net.c, vsock.c) runs unchanged, as under --devices in-process.
 *
 * A ring starts once it has its size, addresses and kick eventfd and is enabled (SET_VRING_ENABLE, or
 * at once without PROTOCOL_FEATURES), from the base the front end set; GET_VRING_BASE stops it and
 * answers where it stopped. A queue the driver breaks signals its error eventfd.
 *
 * Inflight tracking (INFLIGHT_SHMFD, blk): GET_INFLIGHT_FD hands out a memfd made at init (before the
 * lock-down: no syscall is needed for it later), zeroed, a region a queue; SET_INFLIGHT_FD maps the one
 * the front end gives back, which a back end before may have written. A ring that starts with a region
 * serves the requests it notes in flight again before new ones (virtq_inflight_resume).
 */
#ifndef KVMINI_DEVPROC_VHU_BACKEND_H
#define KVMINI_DEVPROC_VHU_BACKEND_H

#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>

#include "../base/mem.h"
#include "../vhost_user.h"
#include "../virtio/device.h"

/*
 * The protocol features this back end offers every device (and a front end of kvmini's asks for); a
 * device whose requests may complete out of order and must not be lost (blk) has INFLIGHT_SHMFD too.
 */
#define VHU_BACKEND_PROTOCOL_FEATURES \
	((1ULL << VHU_PROTOCOL_F_MQ) | (1ULL << VHU_PROTOCOL_F_REPLY_ACK) | (1ULL << VHU_PROTOCOL_F_CONFIG))

struct vhu_backend_queue {
	uint16_t size;
	uint64_t desc, avail, used; /* guest-physical, translated from the front end's addresses */
	bool addr_set;
	uint16_t base; /* the next avail index to take */
	int kick_fd, call_fd, err_fd;
	bool enabled;
	bool running; /* a worker serves it */
};

struct vhu_backend {
	const struct virtio_device *dev;
	int sock;
	uint64_t features;	    /* acked by the front end (SET_FEATURES) */
	uint64_t protocol_features; /* acked (SET_PROTOCOL_FEATURES) */
	struct vhu_mem vmem;	    /* the front end's memory table, mapped */
	struct gmem mem;	    /* the same, as the models' accessor sees guest RAM */
	unsigned int nr_workers;
	struct virtio_worker workers[VIRTIO_MAX_QUEUES];
	struct vhu_backend_queue q[VIRTIO_MAX_QUEUES];
	/* Inflight regions: ours for GET_INFLIGHT_FD, and the one the rings note their requests in. */
	int inflight_fd;       /* our memfd, sealed against resizing; -1: the device does not track */
	uint8_t *inflight_own; /* its mapping, (inflight_own_len) bytes */
	size_t inflight_own_len;
	uint8_t *inflight_map; /* SET_INFLIGHT_FD's region, mapped here, (inflight_map_len) bytes */
	size_t inflight_map_len;
	uint8_t *inflight;	      /* the rings' region (ours or SET's); NULL: none */
	unsigned int inflight_queues; /* queues it has a region for */
	size_t inflight_stride;	      /* bytes of each queue's region */
	/* Guards the rings' err_fd: a worker reports a broken ring while another ring's is replaced. */
	pthread_mutex_t err_lock;
	uint64_t messages;		  /* handled, for the log */
	struct virtio_counters *counters; /* where the rings are counted (kvmini's shared page); NULL: not */
};

/*
 * vhu_backend_init: serve device (dev) on connected socket (sock), which the back end owns from now on.
 * Makes the worker threads now (before any lock-down), and for a block device the inflight memfd (without
 * it, logged, INFLIGHT_SHMFD is not offered). Returns 0 or -errno (logged).
 */
int vhu_backend_init(struct vhu_backend *b, const struct virtio_device *dev, int sock);
/*
 * vhu_backend_serve: answer the front end's messages until it hangs up (0) or breaks the protocol
 * (-EPROTO, logged with what was wrong), or a message cannot be read or answered (-errno).
 */
int vhu_backend_serve(struct vhu_backend *b);
/* vhu_backend_destroy: stop every ring, end the threads, unmap guest memory, close the socket. */
void vhu_backend_destroy(struct vhu_backend *b);

#endif
