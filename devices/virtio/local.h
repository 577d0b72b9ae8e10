/*
 * virtio/local.h: the in-process back end: a device model served by worker threads of kvmini's own
 * (one for all queues, or one per queue), made when the device is added (--devices in-process).
 */
#ifndef KVMINI_VIRTIO_LOCAL_H
#define KVMINI_VIRTIO_LOCAL_H

#include "../base/mem.h"
#include "backend.h"
#include "device.h"
#include "worker.h"

struct virtio_local {
	struct virtio_backend backend; /* what the transport is given */
	struct virtio_device dev;
	const struct gmem *mem;
	unsigned int nr_workers;
	struct virtio_worker workers[VIRTIO_MAX_QUEUES];
};

/*
 * virtio_local_init: serve device (dev) on guest RAM (mem) with threads of this process, made now.
 * Returns 0, -EINVAL for a (dev) no transport can carry, or -errno.
 */
int virtio_local_init(struct virtio_local *l, const struct virtio_device *dev, const struct gmem *mem);
/* virtio_local_destroy: stop serving and end the threads. */
void virtio_local_destroy(struct virtio_local *l);

#endif
