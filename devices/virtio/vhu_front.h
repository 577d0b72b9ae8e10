/*
 * virtio/vhu_front.h: kvmini as a vhost-user front end: a virtio back end (backend.h) whose queues are
 * served by another process over the vhost-user protocol (devices/vhost_user.h): a device process of
 * kvmini's (kvmini device blk|net|vsock) or anyone's (qemu-storage-daemon --export vhost-user-blk).
 *
 * Guest RAM is shared as its memfd (SET_MEM_TABLE, at init: it never changes); at DRIVER_OK each ring
 * goes over with its size, addresses (kvmini's own mapping of them, as the protocol has it), base, and
 * the transport's kick and call eventfds, which KVM signals and is signalled by directly: the data
 * path never crosses kvmini's userspace. The device configuration is read once (GET_CONFIG).
 */
#ifndef KVMINI_VIRTIO_VHU_FRONT_H
#define KVMINI_VIRTIO_VHU_FRONT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/mem.h"
#include "backend.h"
#include "device.h"

struct vhu_front {
	struct virtio_backend backend; /* what the transport is given */
	char name[32];
	int sock;
	const struct gmem *mem;
	uint64_t protocol_features;
	uint8_t config[VIRTIO_CONFIG_MAX];
	int err_fd[VIRTIO_MAX_QUEUES]; /* the back end signals a ring the driver broke */
	bool started[VIRTIO_MAX_QUEUES];
	bool offers_protocol;		    /* VHOST_USER_F_PROTOCOL_FEATURES: never shown to the driver */
	pthread_mutex_t lock;		    /* one conversation on the socket at a time; guards needs_reset */
	virtio_needs_reset_fn *needs_reset; /* the transport's, from start() */
	void *reset_opaque;
	/* The monitor: a thread made at init watching the error eventfds and the socket's hang-up. */
	pthread_t monitor;
	bool monitoring;
	atomic_bool hung_up; /* the back end is gone: nothing more is asked of it */
	int stop_fd;
	void (*gone)(void *opaque, const char *name); /* the back end hung up (its process died) */
	void *gone_opaque;
};

/* What kvmini wants of the device: its kind, configuration size, most queues and largest ring. */
struct vhu_front_want {
	uint16_t device_id;
	uint32_t config_len; /* what the driver sees (zeros past what the back end gives) */
	uint32_t config_ask; /* what GET_CONFIG asks for: a back end built on older headers knows less */
	unsigned int max_queues;
	uint16_t queue_max;
	/* gone: called once, from the monitor thread, when the back end hangs up. */
	void (*gone)(void *opaque, const char *name);
	void *gone_opaque;
};

/*
 * vhu_front_init: be the front end of the back end on connected socket (sock) (owned from now on) for
 * device (name) on guest RAM (mem): negotiate features and the protocol, learn the queues and the
 * configuration, share guest RAM. Every wait is bounded. Returns 0 or -errno (logged, naming the
 * device, the request and what went wrong).
 */
int vhu_front_init(struct vhu_front *f, const char *name, const struct vhu_front_want *want, int sock,
		   const struct gmem *mem);
/* vhu_front_destroy: stop the rings and hang up. */
void vhu_front_destroy(struct vhu_front *f);

#endif
