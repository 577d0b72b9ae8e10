/*
 * virtio/vhu_front.h: kvmini as a vhost-user front end: a virtio back end (backend.h) whose queues are
 * served by another process over the vhost-user protocol (devices/vhost_user.h): a device process of
 * kvmini's (kvmini device blk|net|vsock) or anyone's (qemu-storage-daemon --export vhost-user-blk).
 *
 * Guest RAM is shared as its memfd (SET_MEM_TABLE, at init: it never changes); at DRIVER_OK each ring
 * goes over with its size, addresses (kvmini's own mapping of them, as the protocol has it), base, and
 * the transport's kick and call eventfds, which KVM signals and is signalled by directly: the data
 * path never crosses kvmini's userspace. The device configuration is read once (GET_CONFIG).
 *
 * The front end has no thread: the VMM's event loop watches its socket (a hang-up: the back end is
 * gone) and its rings' error eventfds (vhu_front_ring_error), and connects a new back end in place of
 * one that died (vhu_front_reconnect): the rings the driver runs go on from their used index.
 *
 * For a block device, when the back end offers INFLIGHT_SHMFD, each start of the driver's gets a new
 * inflight region from the back end (GET_INFLIGHT_FD) and gives it back (SET_INFLIGHT_FD) before the
 * rings start; kvmini keeps its fd (it never maps it), and hands it to a back end that reconnects, which
 * then serves again exactly the requests the one before had taken and not completed, in the order it
 * took them, whatever order it completed others in.
 */
#ifndef KVMINI_VIRTIO_VHU_FRONT_H
#define KVMINI_VIRTIO_VHU_FRONT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../base/mem.h"
#include "../vhost_user.h"
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
	pthread_mutex_t lock;		    /* one conversation on the socket at a time; guards the rest */
	virtio_needs_reset_fn *needs_reset; /* the transport's, from start() */
	void *reset_opaque;
	bool hung_up; /* the back end is gone: nothing is asked of it until one reconnects */
	/* What the driver runs, between start and stop: given again to a back end that reconnects. */
	bool running;
	uint64_t driver_features;
	struct virtio_queue_setup setup[VIRTIO_MAX_QUEUES];
	unsigned int nr_setup;
	/* Inflight tracking, for a block device (INFLIGHT_SHMFD): the back end's region, kept across them. */
	bool wants_inflight;	      /* asked for when the back end offers it */
	int inflight_fd;	      /* the region (GET_INFLIGHT_FD's fd), -1: none */
	struct vhu_inflight inflight; /* its description, given back with SET_INFLIGHT_FD */
	bool inflight_new;	      /* the driver started anew since it was made: a new region is needed */
};

/* What kvmini wants of the device: its kind, configuration size, most queues and largest ring. */
struct vhu_front_want {
	uint16_t device_id;
	uint32_t config_len; /* what the driver sees (zeros past what the back end gives) */
	uint32_t config_ask; /* what GET_CONFIG asks for: a back end built on older headers knows less */
	unsigned int max_queues;
	uint16_t queue_max;
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
/* vhu_front_ring_error: the back end signalled ring (i)'s error eventfd: the driver broke the ring. */
void vhu_front_ring_error(struct vhu_front *f, unsigned int i);
/* vhu_front_gone: whether the back end has hung up (its socket says so now). */
bool vhu_front_gone(const struct vhu_front *f);
/* vhu_front_lost: the back end is gone: from now on nothing is asked of it (start and stop only record). */
void vhu_front_lost(struct vhu_front *f);
/*
 * vhu_front_reconnect: a new back end on connected socket (sock) (owned from now on) takes the place of
 * the one that was lost: the same negotiation, at least the features and queues the driver was offered,
 * guest RAM shared, and the rings the driver runs started again at their used index, so that requests
 * the old back end took and never completed are served again. Where both back ends track requests in
 * flight (INFLIGHT_SHMFD), the new one is handed the old one's region and serves again exactly those it
 * had not completed, in whatever order it completed the others; without it, a back end must complete a
 * ring's requests in order. (*outstanding): the requests the driver had posted past the used index then
 * (taken by the old back end and not completed, or not yet taken). Returns 0 or -errno (logged); the
 * front end stays lost on failure.
 */
int vhu_front_reconnect(struct vhu_front *f, int sock, unsigned int *outstanding);

#endif
