/* vhu_front.c: kvmini as a vhost-user front end: a virtio back end served by another process. */
#include "vhu_front.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../base/log.h"
#include "../vhost_user.h"

/* How long one answer may take: a back end that hangs is an error, not a hung vCPU. */
#define ANSWER_MS 5000

/* The largest inflight region kvmini takes: 8 queues of 32768 entries need about 4 MiB. */
#define INFLIGHT_MAX (64ULL << 20)

/* The protocol features kvmini uses when the back end has them. */
#define FRONT_PROTOCOL_FEATURES \
	((1ULL << VHU_PROTOCOL_F_MQ) | (1ULL << VHU_PROTOCOL_F_REPLY_ACK) | (1ULL << VHU_PROTOCOL_F_CONFIG))

static bool acked(const struct vhu_front *f)
{
	return f->protocol_features & (1ULL << VHU_PROTOCOL_F_REPLY_ACK);
}

/*
 * What the driver may be offered of the back end's features: the device's own (0-23), indirect
 * descriptors, event index and VERSION_1. Not the packed ring, in-order or the rest, which this
 * transport does not carry, nor bit 30, which is vhost-user's.
 */
#define DRIVER_FEATURES (0xffffffULL | (1ULL << 28) | (1ULL << 29) | (1ULL << 32))

/* One request (and its reply, or its REPLY_ACK); failures are logged naming the request. */
static int call(struct vhu_front *f, uint32_t req, const void *payload, uint32_t size, const int *fds,
		unsigned int nfds, struct vhu_msg *reply)
{
	struct vhu_msg m = { .hdr = { .request = req, .size = size } };
	int ret;

	if (size)
		memcpy(&m.payload, payload, size);
	ret = vhu_call(f->sock, &m, fds, nfds, reply, acked(f));
	if (ret < 0)
		log_layer(LOG_ERR, LAYER_PVIO, "%s: vhost-user %s: %s", f->name, vhu_request_name(req),
			  ret == -EIO	      ? "the back end refused it"
			  : ret == -ETIMEDOUT ? "no answer from the back end within 5 s"
					      : strerror(-ret));
	return ret;
}

static int call_u64(struct vhu_front *f, uint32_t req, uint64_t v)
{
	return call(f, req, &v, sizeof(v), NULL, 0, NULL);
}

static int call_state(struct vhu_front *f, uint32_t req, uint32_t index, uint32_t num, struct vhu_msg *reply)
{
	struct vhu_vring_state s = { .index = index, .num = num };

	return call(f, req, &s, sizeof(s), NULL, 0, reply);
}

static int get_u64(struct vhu_front *f, uint32_t req, uint64_t *v)
{
	struct vhu_msg reply;
	int ret = call(f, req, NULL, 0, NULL, 0, &reply);

	if (!ret)
		*v = reply.payload.u64;
	return ret;
}

static void front_config_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct vhu_front *f = opaque;

	memcpy(data, f->config + off, len);
}

/* A ring's kick or call eventfd, or none (bit 8: the back end polls, or signals nobody). */
static int set_vring_fd(struct vhu_front *f, uint32_t req, unsigned int i, int fd)
{
	uint64_t v = i | (fd < 0 ? VHU_VRING_NOFD : 0);

	return call(f, req, &v, sizeof(v), fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1, NULL);
}

static int start_ring(struct vhu_front *f, unsigned int i, const struct virtio_queue_setup *q)
{
	struct vhu_vring_addr a = { .index = i };
	void *desc = gmem_ptr(f->mem, q->desc, 16ULL * q->size);
	void *avail = gmem_ptr(f->mem, q->avail, 6 + 2ULL * q->size);
	void *used = gmem_ptr(f->mem, q->used, 6 + 8ULL * q->size);
	int ret;

	if (!desc || !avail || !used) {
		log_layer(LOG_WARN, LAYER_PVIO, "%s: ring %u lies outside guest RAM: not started", f->name,
			  i);
		return -EFAULT;
	}
	/* The protocol carries the front end's own addresses of the rings; the back end translates them. */
	a.desc_user_addr = (uint64_t)(uintptr_t)desc;
	a.avail_user_addr = (uint64_t)(uintptr_t)avail;
	a.used_user_addr = (uint64_t)(uintptr_t)used;
	ret = call_state(f, VHU_SET_VRING_NUM, i, q->size, NULL);
	if (!ret)
		ret = call(f, VHU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL);
	if (!ret)
		ret = call_state(f, VHU_SET_VRING_BASE, i, q->base, NULL);
	if (!ret)
		ret = set_vring_fd(f, VHU_SET_VRING_CALL, i, q->call_fd);
	if (!ret)
		ret = set_vring_fd(f, VHU_SET_VRING_ERR, i, f->err_fd[i]);
	if (!ret)
		ret = set_vring_fd(f, VHU_SET_VRING_KICK, i, q->kick_fd);
	if (!ret && f->offers_protocol)
		ret = call_state(f, VHU_SET_VRING_ENABLE, i, 1, NULL);
	if (!ret)
		f->started[i] = true;
	return ret;
}

static bool inflight_on(const struct vhu_front *f)
{
	return f->protocol_features & (1ULL << VHU_PROTOCOL_F_INFLIGHT_SHMFD);
}

/* A region the back end describes: kvmini never maps it, but hands it on, so it must make sense. */
static const char *inflight_check(const struct vhu_inflight *r)
{
	if (!r->mmap_size)
		return "an inflight region of 0 bytes";
	if (r->mmap_size > INFLIGHT_MAX)
		return "an inflight region larger than 64 MiB";
	if (r->mmap_offset > UINT64_MAX - r->mmap_size)
		return "an inflight region whose offset and size overflow";
	return NULL;
}

/* GET_INFLIGHT_FD: a new region for every queue at the largest ring, in place of the one kept. */
static int get_inflight(struct vhu_front *f)
{
	struct vhu_msg m = { .hdr = { .request = VHU_GET_INFLIGHT_FD, .size = sizeof(struct vhu_inflight) } };
	struct vhu_msg reply;
	const char *why;
	int fd, ret;

	m.payload.inflight = (struct vhu_inflight){ .num_queues = (uint16_t)f->backend.nr_queues,
						    .queue_size = f->backend.queue_max };
	ret = vhu_call_fd(f->sock, &m, NULL, 0, &reply, &fd);
	why = ret == -EIO ? "the back end refused it (no region came)" : strerror(-ret);
	if (!ret && (why = inflight_check(&reply.payload.inflight))) {
		close(fd);
		ret = -EPROTO;
	}
	if (ret) {
		log_layer(LOG_ERR, LAYER_PVIO, "%s: vhost-user GET_INFLIGHT_FD: %s", f->name, why);
		return ret;
	}
	if (f->inflight_fd >= 0)
		close(f->inflight_fd);
	f->inflight_fd = fd;
	/* SET_INFLIGHT_FD gives back what was asked for, where the back end says it is. */
	f->inflight = m.payload.inflight;
	f->inflight.mmap_size = reply.payload.inflight.mmap_size;
	f->inflight.mmap_offset = reply.payload.inflight.mmap_offset;
	f->inflight_new = false;
	log_debug("%s: inflight region from the back end: %" PRIu64 " bytes at offset %" PRIu64
		  " for %u queues of %u entries",
		  f->name, f->inflight.mmap_size, f->inflight.mmap_offset, f->inflight.num_queues,
		  f->inflight.queue_size);
	return 0;
}

/*
 * Before the rings start: the region the back end notes requests in flight in. A new one when the driver
 * starts anew (or none is kept), else the one kept: a new back end then finds what the old had in flight.
 */
static int set_inflight(struct vhu_front *f)
{
	bool handed_over = !f->inflight_new && f->inflight_fd >= 0;
	int ret = handed_over ? 0 : get_inflight(f);

	if (!ret)
		ret = call(f, VHU_SET_INFLIGHT_FD, &f->inflight, sizeof(f->inflight), &f->inflight_fd, 1,
			   NULL);
	if (!ret && handed_over)
		log_info("%s: handed the inflight region over to the new back end: it serves again the "
			 "requests in flight when the old one went",
			 f->name);
	return ret;
}

/* Where a ring goes on when its back end is gone: after the last request completed (its used index). */
static uint16_t used_index(const struct vhu_front *f, const struct virtio_queue_setup *q)
{
	uint16_t idx = 0;

	if (gmem_read(f->mem, q->used + 2, &idx, sizeof(idx)))
		return q->base;
	return idx;
}

static void stop_locked(struct vhu_front *f, uint16_t *bases)
{
	for (unsigned int i = 0; i < f->nr_setup; i++) {
		struct vhu_msg reply;

		if (!f->setup[i].enabled)
			continue;
		if (f->hung_up || !f->started[i]) {
			if (bases)
				bases[i] = used_index(f, &f->setup[i]);
		} else if (call_state(f, VHU_GET_VRING_BASE, i, 0, &reply) == 0 && bases) {
			bases[i] = (uint16_t)reply.payload.state.num;
		}
		f->started[i] = false;
	}
	/* The back end has stopped the rings: what it said of them is of a run that is over. */
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (f->err_fd[i] >= 0)
			virtio_eventfd_drain(f->err_fd[i]);
	f->running = false;
	f->nr_setup = 0;
}

/* Gives the back end the driver's features and starts its rings, as recorded in (f). */
static int start_locked(struct vhu_front *f)
{
	int ret = call_u64(f, VHU_SET_FEATURES,
			   f->driver_features | (f->offers_protocol ? 1ULL << VHU_F_PROTOCOL_FEATURES : 0));

	if (!ret && inflight_on(f))
		ret = set_inflight(f);
	for (unsigned int i = 0; !ret && i < f->nr_setup; i++)
		if (f->setup[i].enabled)
			ret = start_ring(f, i, &f->setup[i]);
	return ret;
}

static int front_start(void *opaque, uint64_t features, const struct virtio_queue_setup *q, unsigned int nr,
		       virtio_needs_reset_fn *needs_reset, void *reset_opaque)
{
	struct vhu_front *f = opaque;
	int ret;

	if (nr > VIRTIO_MAX_QUEUES)
		return -EINVAL;
	pthread_mutex_lock(&f->lock);
	f->needs_reset = needs_reset;
	f->reset_opaque = reset_opaque;
	f->driver_features = features;
	memcpy(f->setup, q, nr * sizeof(*q));
	f->nr_setup = nr;
	f->running = true;
	/* New rings: nothing of a region from before is in flight on them. */
	f->inflight_new = true;
	/* With no back end, the rings start when one reconnects. */
	ret = f->hung_up ? 0 : start_locked(f);
	if (ret)
		stop_locked(f, NULL);
	pthread_mutex_unlock(&f->lock);
	return ret;
}

static void front_stop(void *opaque, uint16_t *bases)
{
	struct vhu_front *f = opaque;

	pthread_mutex_lock(&f->lock);
	stop_locked(f, bases);
	pthread_mutex_unlock(&f->lock);
}

static const struct virtio_backend_ops front_ops = {
	.kind = "vhost-user",
	.config_read = front_config_read,
	.start = front_start,
	.stop = front_stop,
};

/* Features, protocol features, queues: what both ends can do (the driver's share in *offer, *nr). */
static int negotiate(struct vhu_front *f, unsigned int max_queues, uint64_t *offer, unsigned int *nr)
{
	uint64_t features, protocol = 0, queues = 1;
	int ret = get_u64(f, VHU_GET_FEATURES, &features);

	if (ret)
		return ret;
	if (features & (1ULL << VHU_F_PROTOCOL_FEATURES)) {
		ret = get_u64(f, VHU_GET_PROTOCOL_FEATURES, &protocol);
		if (ret)
			return ret;
		protocol &= FRONT_PROTOCOL_FEATURES |
			    (f->wants_inflight ? 1ULL << VHU_PROTOCOL_F_INFLIGHT_SHMFD : 0);
		ret = call_u64(f, VHU_SET_PROTOCOL_FEATURES, protocol);
		if (ret)
			return ret;
		f->protocol_features = protocol;
	}
	if (protocol & (1ULL << VHU_PROTOCOL_F_MQ)) {
		ret = get_u64(f, VHU_GET_QUEUE_NUM, &queues);
		if (ret)
			return ret;
	}
	if (!queues) {
		log_layer(LOG_ERR, LAYER_PVIO, "%s: the vhost-user back end has no queues", f->name);
		return -EPROTO;
	}
	f->offers_protocol = features & (1ULL << VHU_F_PROTOCOL_FEATURES);
	*offer = features & DRIVER_FEATURES;
	*nr = (unsigned int)(queues < max_queues ? queues : max_queues);
	return 0;
}

/* The device configuration, once; a disk's num_queues says how many queues kvmini offers. */
static int read_config(struct vhu_front *f, const struct vhu_front_want *want)
{
	struct vhu_config c = { .size = want->config_ask };
	struct vhu_msg reply;
	int ret;

	if (!want->config_ask)
		return 0;
	if (!(f->protocol_features & (1ULL << VHU_PROTOCOL_F_CONFIG))) {
		log_layer(
			LOG_ERR, LAYER_PVIO,
			"%s: the vhost-user back end cannot give its configuration (no CONFIG protocol feature)",
			f->name);
		return -EPROTO;
	}
	ret = call(f, VHU_GET_CONFIG, &c, (uint32_t)VHU_CONFIG_HDR_SIZE + want->config_ask, NULL, 0, &reply);
	if (ret)
		return ret;
	memcpy(f->config, reply.payload.config.region, want->config_ask);
	if (want->device_id == VIRTIO_ID_BLOCK &&
	    want->config_ask >= offsetof(struct virtio_blk_config, num_queues) + sizeof(uint16_t)) {
		uint16_t n = (uint16_t)f->backend.nr_queues;

		memcpy(f->config + offsetof(struct virtio_blk_config, num_queues), &n, sizeof(n));
	}
	return 0;
}

static int share_memory(struct vhu_front *f)
{
	struct vhu_memory table;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;
	int ret = vhu_mem_table(f->mem, &table, fds, &nfds);

	if (ret)
		return ret;
	return call(
		f, VHU_SET_MEM_TABLE, &table,
		(uint32_t)(offsetof(struct vhu_memory, regions) + table.nregions * sizeof(table.regions[0])),
		fds, nfds, NULL);
}

void vhu_front_ring_error(struct vhu_front *f, unsigned int i)
{
	uint64_t n;

	if (i >= VIRTIO_MAX_QUEUES || f->err_fd[i] < 0)
		return;
	/* Read under the lock: a stop drains what the rings it stopped said, so no report outlives its run. */
	pthread_mutex_lock(&f->lock);
	if (read(f->err_fd[i], &n, sizeof(n)) == (ssize_t)sizeof(n) && f->running && f->needs_reset)
		f->needs_reset(f->reset_opaque);
	pthread_mutex_unlock(&f->lock);
}

bool vhu_front_gone(const struct vhu_front *f)
{
	struct pollfd p = { .fd = f->sock, .events = POLLRDHUP };

	return f->sock < 0 || (poll(&p, 1, 0) == 1 && p.revents);
}

void vhu_front_lost(struct vhu_front *f)
{
	pthread_mutex_lock(&f->lock);
	f->hung_up = true;
	pthread_mutex_unlock(&f->lock);
}

/* The conversation a back end starts with: features, owner, protocol, shared guest RAM. */
static int greet(struct vhu_front *f, unsigned int max_queues, uint64_t *offer, unsigned int *nr)
{
	int ret = vhu_set_timeout(f->sock, ANSWER_MS);

	if (!ret)
		ret = negotiate(f, max_queues, offer, nr);
	if (!ret)
		ret = call(f, VHU_SET_OWNER, NULL, 0, NULL, 0, NULL);
	return ret;
}

int vhu_front_reconnect(struct vhu_front *f, int sock, unsigned int *outstanding)
{
	uint64_t offer = 0;
	unsigned int nr = 0;
	int ret;

	*outstanding = 0;
	pthread_mutex_lock(&f->lock);
	if (f->sock >= 0)
		close(f->sock);
	f->sock = sock;
	f->protocol_features = 0;
	memset(f->started, 0, sizeof(f->started));
	ret = greet(f, f->backend.nr_queues, &offer, &nr);
	if (!ret && ((f->backend.features & ~offer) || nr < f->backend.nr_queues)) {
		log_layer(LOG_ERR, LAYER_PVIO,
			  "%s: the new vhost-user back end offers less than the driver was offered (features "
			  "%#" PRIx64 " of %#" PRIx64 ", %u of %u queues)",
			  f->name, offer, f->backend.features, nr, f->backend.nr_queues);
		ret = -EPROTO;
	}
	if (!ret)
		ret = share_memory(f);
	if (!ret && f->running && f->wants_inflight && !inflight_on(f))
		log_debug(
			"%s: the new back end does not track requests in flight: the rings go on from their "
			"used index",
			f->name);
	if (!ret && f->running) {
		/* Requests taken and never completed are taken again: the rings go on after the last used. */
		for (unsigned int i = 0; i < f->nr_setup; i++) {
			uint16_t avail = 0;

			if (!f->setup[i].enabled)
				continue;
			f->setup[i].base = used_index(f, &f->setup[i]);
			if (!gmem_read(f->mem, f->setup[i].avail + 2, &avail, sizeof(avail)))
				*outstanding += (uint16_t)(avail - f->setup[i].base);
		}
		ret = start_locked(f);
	}
	f->hung_up = ret != 0;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

int vhu_front_init(struct vhu_front *f, const char *name, const struct vhu_front_want *want, int sock,
		   const struct gmem *mem)
{
	int ret;

	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->sock = sock;
	f->mem = mem;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		f->err_fd[i] = -1;
	f->inflight_fd = -1;
	/* A disk's requests may complete out of order and must each be done once a restart; a NIC's not. */
	f->wants_inflight = want->device_id == VIRTIO_ID_BLOCK;
	f->backend = (struct virtio_backend){
		.ops = &front_ops,
		.opaque = f,
		.name = f->name,
		.device_id = want->device_id,
		.queue_max = want->queue_max,
		.config_len = want->config_len,
	};
	ret = -pthread_mutex_init(&f->lock, NULL);
	if (ret) {
		close(sock);
		return ret;
	}
	ret = greet(f, want->max_queues, &f->backend.features, &f->backend.nr_queues);
	if (!ret)
		ret = read_config(f, want);
	if (!ret)
		ret = share_memory(f);
	for (unsigned int i = 0; !ret && i < f->backend.nr_queues; i++) {
		f->err_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (f->err_fd[i] < 0)
			ret = -errno;
	}
	if (ret)
		vhu_front_destroy(f);
	return ret;
}

void vhu_front_destroy(struct vhu_front *f)
{
	if (f->sock >= 0)
		front_stop(f, NULL);
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (f->err_fd[i] >= 0)
			close(f->err_fd[i]);
	if (f->sock >= 0)
		close(f->sock);
	f->sock = -1;
	if (f->inflight_fd >= 0)
		close(f->inflight_fd);
	f->inflight_fd = -1;
	pthread_mutex_destroy(&f->lock);
}
