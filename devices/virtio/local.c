/* local.c: the in-process back end: the model's queues served by worker threads of this process. */
#include "local.h"

#include <errno.h>
#include <string.h>

#include "../base/log.h"

static void local_config_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct virtio_local *l = opaque;

	l->dev.config_read(l->dev.model.opaque, off, data, len);
}

/* Each worker serves the enabled queues it owns: all of them, or the one of its index. */
static int local_start(void *opaque, uint64_t features, const struct virtio_queue_setup *q, unsigned int nr,
		       virtio_needs_reset_fn *needs_reset, void *reset_opaque)
{
	struct virtio_local *l = opaque;
	struct virtio_queue_setup setup[VIRTIO_MAX_QUEUES];

	for (unsigned int w = 0; w < l->nr_workers; w++) {
		int ret;

		for (unsigned int i = 0; i < nr; i++) {
			setup[i] = q[i];
			setup[i].enabled = q[i].enabled && (l->nr_workers == 1 || i == w);
		}
		ret = virtio_worker_start(&l->workers[w], &l->dev.model, l->mem, features, setup, nr,
					  needs_reset, reset_opaque);
		if (ret) {
			log_err("%s: cannot start serving its queues: %s", l->dev.name, strerror(-ret));
			for (unsigned int i = 0; i < w; i++)
				virtio_worker_stop(&l->workers[i], NULL);
			return ret;
		}
	}
	return 0;
}

static void local_stop(void *opaque, uint16_t *bases)
{
	struct virtio_local *l = opaque;

	for (unsigned int w = 0; w < l->nr_workers; w++) {
		uint16_t b[VIRTIO_MAX_QUEUES] = { 0 };

		virtio_worker_stop(&l->workers[w], bases ? b : NULL);
		/* A worker of its own per queue: queue w's index is its worker's. */
		for (unsigned int i = 0; bases && i < l->dev.nr_queues; i++)
			if (l->nr_workers == 1 || i == w)
				bases[i] = b[i];
	}
}

static const struct virtio_backend_ops local_ops = {
	.kind = "in-process",
	.config_read = local_config_read,
	.start = local_start,
	.stop = local_stop,
};

int virtio_local_init(struct virtio_local *l, const struct virtio_device *dev, const struct gmem *mem)
{
	if (!virtio_device_ok(dev))
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	l->dev = *dev;
	l->mem = mem;
	l->nr_workers = dev->worker_per_queue ? dev->nr_queues : 1;
	l->backend = (struct virtio_backend){
		.ops = &local_ops,
		.opaque = l,
		.name = dev->name,
		.device_id = dev->device_id,
		.features = dev->features,
		.nr_queues = dev->nr_queues,
		.queue_max = dev->queue_max,
		.config_len = dev->config_len,
	};
	return virtio_workers_init(l->workers, l->nr_workers, dev->name);
}

void virtio_local_destroy(struct virtio_local *l)
{
	virtio_workers_destroy(l->workers, l->nr_workers);
}
