/*
 * virtio/device.h: what a virtio device model says about itself, whatever transport carries it (the
 * virtio-pci transport in kvmini, the vhost-user protocol in a device process) and whatever serves its
 * queues (worker threads in this process, or a back end elsewhere).
 */
#ifndef KVMINI_VIRTIO_DEVICE_H
#define KVMINI_VIRTIO_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "worker.h"

/* The most device configuration any model has: what vhost-user's GET_CONFIG carries. */
#define VIRTIO_CONFIG_MAX 256

struct virtio_device {
	const char *name;	/* for messages: "virtio-blk vda" */
	uint16_t device_id;	/* virtio device ID (2: block) */
	uint64_t features;	/* offered; VIRTIO_F_VERSION_1 is required */
	unsigned int nr_queues; /* 1 to VIRTIO_MAX_QUEUES */
	bool worker_per_queue;	/* a thread for each queue (queues served in parallel), else one for all */
	uint16_t queue_max;	/* largest queue size, a power of two */
	uint32_t config_len;	/* bytes of device-specific configuration */
	/* config_read: (len) bytes of the device-specific configuration at (off). */
	void (*config_read)(void *opaque, uint64_t off, void *data, uint32_t len);
	struct virtio_model model; /* what serves the queues; model.opaque is also config_read's */
};

/* virtio_device_ok: whether (d) describes a device any transport can carry (sizes, features, ops). */
bool virtio_device_ok(const struct virtio_device *d);

#endif
