/*
 * virtio/backend.h: what serves a virtio device's queues, as the transport sees it. The transport
 * (virtio/pci.c) keeps the registers and the event channels; at DRIVER_OK it starts the back end with
 * the queues as the driver set them up, at a reset it stops it. Two kinds serve: the model's worker
 * threads in this process (virtio/local.c: --devices in-process), and a vhost-user back end in a device
 * process, reached through kvmini's vhost-user front end.
 */
#ifndef KVMINI_VIRTIO_BACKEND_H
#define KVMINI_VIRTIO_BACKEND_H

#include <stdint.h>

#include "worker.h"

struct virtio_backend_ops {
	const char *kind; /* for messages: "in-process", "vhost-user" */
	/* config_read: (len) bytes of the device-specific configuration at (off), within config_len. */
	void (*config_read)(void *opaque, uint64_t off, void *data, uint32_t len);
	/*
	 * start: serve queues (q)[0, nr) with the driver's (features); a queue that breaks the rules calls
	 * (needs_reset)(reset_opaque) from any thread. Returns 0 or -errno (logged).
	 */
	int (*start)(void *opaque, uint64_t features, const struct virtio_queue_setup *q, unsigned int nr,
		     virtio_needs_reset_fn *needs_reset, void *reset_opaque);
	/* stop: stop serving; (bases)[i], where not NULL, the avail index queue i stopped at. */
	void (*stop)(void *opaque, uint16_t *bases);
};

/* A back end: its operations and what the transport shows the driver of it. */
struct virtio_backend {
	const struct virtio_backend_ops *ops;
	void *opaque;
	const char *name;	/* "virtio-blk vda" */
	uint16_t device_id;	/* virtio device ID */
	uint64_t features;	/* offered; VIRTIO_F_VERSION_1 among them */
	unsigned int nr_queues; /* 1 to VIRTIO_MAX_QUEUES */
	uint16_t queue_max;	/* largest queue size, a power of two */
	uint32_t config_len;	/* bytes of device-specific configuration */
	/*
	 * Where its queues are counted (worker.h): the back end in this process counts there; a device
	 * process counts in its own mapping of the same page. NULL: nowhere (a back end someone else runs).
	 */
	struct virtio_counters *counters;
};

#endif
