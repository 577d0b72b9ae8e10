/* device.c: what any transport checks of a device model's description. */
#include "device.h"

#include <linux/virtio_config.h>

#include "virtq.h"

bool virtio_device_ok(const struct virtio_device *d)
{
	return d->nr_queues >= 1 && d->nr_queues <= VIRTIO_MAX_QUEUES && d->queue_max &&
	       !(d->queue_max & (d->queue_max - 1)) && d->queue_max <= VIRTQ_MAX_SIZE &&
	       (d->features & (1ULL << VIRTIO_F_VERSION_1)) && d->model.handle &&
	       d->config_len <= VIRTIO_CONFIG_MAX && (!d->config_len || d->config_read);
}
