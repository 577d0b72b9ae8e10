/* vhu_backend.c: a vhost-user back end serving one virtio device model with worker threads. */
#include "vhu_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/log.h"

/* Why a request was refused, for the log and the REPLY_ACK answer; NULL: it was carried out. */
typedef const char *refusal;

static bool ready(const struct vhu_backend_queue *q)
{
	return q->size && q->addr_set && q->kick_fd >= 0 && q->enabled;
}

/* The worker serving queue (i): its own with a worker per queue, else the one. */
static unsigned int owner(const struct vhu_backend *b, unsigned int i)
{
	return b->nr_workers == 1 ? 0 : i;
}

static bool owns(const struct vhu_backend *b, unsigned int w, unsigned int i)
{
	return owner(b, i) == w;
}

/* A queue the driver broke: every error eventfd the front end gave tells it (it resets the device). */
static void needs_reset(void *opaque)
{
	struct vhu_backend *b = opaque;

	pthread_mutex_lock(&b->err_lock);
	for (unsigned int i = 0; i < b->dev->nr_queues; i++)
		virtio_eventfd_signal(b->q[i].err_fd);
	pthread_mutex_unlock(&b->err_lock);
}

/* Stop worker (w), keeping where each of its rings stopped as the ring's base. */
static void stop_worker(struct vhu_backend *b, unsigned int w)
{
	uint16_t bases[VIRTIO_MAX_QUEUES] = { 0 };

	if (!b->workers[w].running)
		return;
	virtio_worker_stop(&b->workers[w], bases);
	for (unsigned int i = 0; i < b->dev->nr_queues; i++) {
		if (owns(b, w, i) && b->q[i].running) {
			b->q[i].base = bases[i];
			b->q[i].running = false;
		}
	}
}

static void stop_all(struct vhu_backend *b)
{
	for (unsigned int w = 0; w < b->nr_workers; w++)
		stop_worker(b, w);
}

/* Ring (i) is about to change while it may run: stop what serves it (sync_rings() starts it again). */
static void touch(struct vhu_backend *b, unsigned int i)
{
	if (b->q[i].running)
		stop_worker(b, owner(b, i));
}

static bool inflight_on(const struct vhu_backend *b)
{
	return b->inflight && (b->protocol_features & (1ULL << VHU_PROTOCOL_F_INFLIGHT_SHMFD));
}

/* Ring (i)'s inflight region for its worker, where it has one. */
static void inflight_setup(const struct vhu_backend *b, unsigned int i, struct virtio_queue_setup *s)
{
	if (!inflight_on(b) || i >= b->inflight_queues)
		return;
	s->inflight = b->inflight + i * b->inflight_stride;
	s->inflight_len = b->inflight_stride;
}

/* Bring each worker in line with its rings: serve exactly the ready ones, from their bases. */
static void sync_rings(struct vhu_backend *b)
{
	for (unsigned int w = 0; w < b->nr_workers; w++) {
		struct virtio_queue_setup setup[VIRTIO_MAX_QUEUES];
		bool any = false, same = true;
		int ret;

		for (unsigned int i = 0; i < b->dev->nr_queues; i++) {
			const struct vhu_backend_queue *q = &b->q[i];
			bool serve = owns(b, w, i) && ready(q);

			any |= serve;
			same &= !owns(b, w, i) || serve == q->running;
			setup[i] = (struct virtio_queue_setup){
				.enabled = serve,
				.size = q->size,
				.desc = q->desc,
				.avail = q->avail,
				.used = q->used,
				.base = q->base,
				.kick_fd = q->kick_fd,
				.call_fd = q->call_fd,
				.counters = b->counters ? &b->counters->q[i] : NULL,
			};
			inflight_setup(b, i, &setup[i]);
		}
		if (same)
			continue;
		stop_worker(b, w);
		if (!any)
			continue;
		ret = virtio_worker_start(&b->workers[w], &b->dev->model, &b->mem,
					  b->features & ~(1ULL << VHU_F_PROTOCOL_FEATURES), setup,
					  b->dev->nr_queues, needs_reset, b);
		if (ret) {
			log_err("%s: cannot serve its rings: %s", b->dev->name, strerror(-ret));
			needs_reset(b);
			continue;
		}
		for (unsigned int i = 0; i < b->dev->nr_queues; i++)
			if (setup[i].enabled)
				b->q[i].running = true;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void reset_rings(struct vhu_backend *b)
{
	stop_all(b);
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct vhu_backend_queue *q = &b->q[i];

		close_fd(&q->kick_fd);
		close_fd(&q->call_fd);
		close_fd(&q->err_fd);
		*q = (struct vhu_backend_queue){ .kick_fd = -1, .call_fd = -1, .err_fd = -1 };
	}
}

static refusal set_mem_table(struct vhu_backend *b, const struct vhu_msg *m, int *fds, unsigned int nfds)
{
	struct vhu_mem fresh;
	const char *why = NULL;

	/* The rings run on the old mapping until the new one holds: they stop, then resume on it. */
	if (vhu_mem_map(&fresh, &m->payload.memory, fds, nfds, &why) < 0)
		return why ? why : "its regions cannot be mapped";
	stop_all(b);
	vhu_mem_unmap(&b->vmem);
	b->vmem = fresh;
	vhu_mem_gmem(&b->vmem, &b->mem);
	return NULL;
}

/* The queue a ring message names, or NULL. */
static struct vhu_backend_queue *queue(struct vhu_backend *b, uint32_t index)
{
	return index < b->dev->nr_queues ? &b->q[index] : NULL;
}

static refusal set_vring_num(struct vhu_backend *b, const struct vhu_vring_state *s)
{
	struct vhu_backend_queue *q = queue(b, s->index);

	if (!q)
		return "a ring the device does not have";
	if (!s->num || s->num > b->dev->queue_max || (s->num & (s->num - 1)))
		return "a ring size that is not a power of two within the device's maximum";
	touch(b, s->index);
	q->size = (uint16_t)s->num;
	return NULL;
}

static refusal set_vring_addr(struct vhu_backend *b, const struct vhu_vring_addr *a)
{
	struct vhu_backend_queue *q = queue(b, a->index);
	uint64_t desc, avail, used;

	if (!q)
		return "a ring the device does not have";
	if (vhu_mem_va_to_gpa(&b->vmem, a->desc_user_addr, 1, &desc) < 0 ||
	    vhu_mem_va_to_gpa(&b->vmem, a->avail_user_addr, 1, &avail) < 0 ||
	    vhu_mem_va_to_gpa(&b->vmem, a->used_user_addr, 1, &used) < 0)
		return "ring addresses outside the memory table";
	touch(b, a->index);
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->addr_set = true;
	return NULL;
}

static refusal set_vring_base(struct vhu_backend *b, const struct vhu_vring_state *s)
{
	struct vhu_backend_queue *q = queue(b, s->index);

	if (!q)
		return "a ring the device does not have";
	if (s->num > UINT16_MAX)
		return "a split ring's base above 65535";
	touch(b, s->index);
	q->base = (uint16_t)s->num;
	return NULL;
}

/* GET_VRING_BASE stops the ring: it answers where the ring stopped, and waits for a new kick. */
static refusal get_vring_base(struct vhu_backend *b, const struct vhu_vring_state *s, uint32_t *base)
{
	struct vhu_backend_queue *q = queue(b, s->index);

	if (!q)
		return "a ring the device does not have";
	touch(b, s->index);
	*base = q->base;
	close_fd(&q->kick_fd);
	return NULL;
}

/* SET_VRING_KICK, _CALL and _ERR: the low byte names the ring; bit 8 says no fd comes. */
static refusal set_vring_fd(struct vhu_backend *b, const struct vhu_msg *m, int *fds, unsigned int nfds)
{
	uint64_t v = m->payload.u64;
	struct vhu_backend_queue *q = queue(b, (uint32_t)(v & VHU_VRING_INDEX_MASK));
	int fd = nfds ? fds[0] : -1;
	int *slot;

	if (!q) {
		close_fd(&fd);
		return "a ring the device does not have";
	}
	if (m->hdr.request == VHU_SET_VRING_KICK && fd < 0)
		return "a ring without a kick eventfd (polling is not supported)";
	touch(b, (uint32_t)(v & VHU_VRING_INDEX_MASK));
	slot = m->hdr.request == VHU_SET_VRING_KICK   ? &q->kick_fd
	       : m->hdr.request == VHU_SET_VRING_CALL ? &q->call_fd
						      : &q->err_fd;
	/* Another ring's worker may be reporting through this one's error eventfd right now. */
	pthread_mutex_lock(&b->err_lock);
	close_fd(slot);
	*slot = fd;
	pthread_mutex_unlock(&b->err_lock);
	/* Without PROTOCOL_FEATURES a ring is enabled by its kick (vhost-user.rst, "Starting and stopping rings"). */
	if (m->hdr.request == VHU_SET_VRING_KICK && !(b->features & (1ULL << VHU_F_PROTOCOL_FEATURES)))
		q->enabled = true;
	return NULL;
}

static refusal set_vring_enable(struct vhu_backend *b, const struct vhu_vring_state *s)
{
	struct vhu_backend_queue *q = queue(b, s->index);

	if (!q)
		return "a ring the device does not have";
	if (s->num > 1)
		return "SET_VRING_ENABLE with a value other than 0 or 1";
	touch(b, s->index);
	q->enabled = s->num;
	return NULL;
}

/* The rings stop using the region SET_INFLIGHT_FD gave, which goes. */
static void inflight_unmap(struct vhu_backend *b)
{
	if (b->inflight_map && b->inflight == b->inflight_map)
		b->inflight = NULL;
	if (b->inflight_map)
		munmap(b->inflight_map, b->inflight_map_len);
	b->inflight_map = NULL;
	b->inflight_map_len = 0;
}

/* A region for (num_queues) rings of up to (queue_size) entries: the device must have them. */
static refusal inflight_layout_check(const struct vhu_backend *b, const struct vhu_inflight *in)
{
	if (!(b->protocol_features & (1ULL << VHU_PROTOCOL_F_INFLIGHT_SHMFD)))
		return "inflight tracking without the INFLIGHT_SHMFD protocol feature";
	if (!in->num_queues || in->num_queues > b->dev->nr_queues)
		return "an inflight region for no queue, or for queues the device does not have";
	if (!in->queue_size || in->queue_size > b->dev->queue_max)
		return "an inflight region for rings of size 0 or larger than the device's largest";
	return NULL;
}

/* GET_INFLIGHT_FD: our memfd, zeroed (no ring has anything in flight), its fd in (*fd) for the reply. */
static refusal get_inflight(struct vhu_backend *b, const struct vhu_inflight *in, struct vhu_msg *rep,
			    int *fd)
{
	size_t stride = virtq_inflight_size(in->queue_size);
	refusal r = inflight_layout_check(b, in);

	/* A refusal is a reply without an fd and of size 0, as libvhost-user answers. */
	rep->payload.inflight =
		(struct vhu_inflight){ .num_queues = in->num_queues, .queue_size = in->queue_size };
	rep->hdr.size = sizeof(rep->payload.inflight);
	if (r)
		return r;
	/* The init sized it for every queue at its largest: what the check allows fits. */
	stop_all(b);
	memset(b->inflight_own, 0, b->inflight_own_len);
	b->inflight = b->inflight_own;
	b->inflight_queues = in->num_queues;
	b->inflight_stride = stride;
	rep->payload.inflight.mmap_size = stride * in->num_queues;
	*fd = b->inflight_fd;
	log_debug("%s: inflight region: %llu bytes for %u queues of %u", b->dev->name,
		  (unsigned long long)rep->payload.inflight.mmap_size, in->num_queues, in->queue_size);
	return NULL;
}

/* The region SET_INFLIGHT_FD describes, checked against (fd) and mapped into (*out) of (len) bytes. */
static refusal inflight_map(const struct vhu_inflight *in, int fd, size_t len, void **out)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct stat st;

	if (in->mmap_size < len)
		return "an inflight region smaller than its queues need";
	if (in->mmap_offset % page || in->mmap_offset > (uint64_t)INT64_MAX - len)
		return "an inflight region at an offset not page aligned, or past any file";
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return "an inflight fd that is not a memory file";
	/* Beyond the end of the file a mapping faults (SIGBUS) when touched. */
	if ((uint64_t)st.st_size < in->mmap_offset + len)
		return "an inflight region beyond the end of its file";
	*out = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)in->mmap_offset);
	return *out == MAP_FAILED ? "its inflight region cannot be mapped" : NULL;
}

/* SET_INFLIGHT_FD: the rings note their requests in the region given, which may say what was in flight. */
static refusal set_inflight(struct vhu_backend *b, const struct vhu_inflight *in, int *fds, unsigned int nfds)
{
	size_t stride = virtq_inflight_size(in->queue_size), len = stride * in->num_queues;
	refusal r = inflight_layout_check(b, in);
	void *p = NULL;

	if (!r && nfds != 1)
		r = "SET_INFLIGHT_FD without its fd";
	if (!r)
		r = inflight_map(in, fds[0], len, &p);
	for (unsigned int i = 0; i < nfds; i++)
		close(fds[i]);
	if (r)
		return r;
	stop_all(b);
	inflight_unmap(b);
	b->inflight_map = p;
	b->inflight_map_len = len;
	b->inflight = p;
	b->inflight_queues = in->num_queues;
	b->inflight_stride = stride;
	log_debug("%s: inflight region set: %zu bytes for %u queues of %u", b->dev->name, len, in->num_queues,
		  in->queue_size);
	return NULL;
}

static refusal get_config(struct vhu_backend *b, const struct vhu_config *in, struct vhu_msg *rep)
{
	if (in->offset > b->dev->config_len || in->size > b->dev->config_len - in->offset)
		return "configuration beyond the device's";
	rep->payload.config =
		(struct vhu_config){ .offset = in->offset, .size = in->size, .flags = in->flags };
	if (in->size)
		b->dev->config_read(b->dev->model.opaque, in->offset, rep->payload.config.region, in->size);
	rep->hdr.size = (uint32_t)VHU_CONFIG_HDR_SIZE + in->size;
	return NULL;
}

/* Whether (req) has a reply of its own (else REPLY_ACK may answer it). */
static bool has_reply(uint32_t req)
{
	switch (req) {
	case VHU_GET_FEATURES:
	case VHU_GET_PROTOCOL_FEATURES:
	case VHU_GET_VRING_BASE:
	case VHU_GET_QUEUE_NUM:
	case VHU_GET_CONFIG:
	case VHU_GET_INFLIGHT_FD:
		return true;
	default:
		return false;
	}
}

static uint64_t protocol_features(const struct vhu_backend *b)
{
	return VHU_BACKEND_PROTOCOL_FEATURES |
	       (b->inflight_fd >= 0 ? 1ULL << VHU_PROTOCOL_F_INFLIGHT_SHMFD : 0);
}

/* Carry out (m); a request with a reply of its own fills (rep), and (*rep_fd) when it carries an fd. */
static refusal handle(struct vhu_backend *b, const struct vhu_msg *m, int *fds, unsigned int nfds,
		      struct vhu_msg *rep, int *rep_fd)
{
	uint32_t base = 0;
	refusal r;

	rep->hdr.size = sizeof(uint64_t);
	switch (m->hdr.request) {
	case VHU_GET_FEATURES:
		rep->payload.u64 = b->dev->features | (1ULL << VHU_F_PROTOCOL_FEATURES);
		return NULL;
	case VHU_SET_FEATURES:
		if (m->payload.u64 & ~(b->dev->features | (1ULL << VHU_F_PROTOCOL_FEATURES)))
			return "features the device does not offer";
		b->features = m->payload.u64;
		return NULL;
	case VHU_GET_PROTOCOL_FEATURES:
		rep->payload.u64 = protocol_features(b);
		return NULL;
	case VHU_SET_PROTOCOL_FEATURES:
		if (m->payload.u64 & ~protocol_features(b))
			return "protocol features the back end does not offer";
		b->protocol_features = m->payload.u64;
		return NULL;
	case VHU_SET_OWNER:
		return NULL;
	case VHU_RESET_OWNER:
		reset_rings(b);
		inflight_unmap(b);
		b->inflight = NULL;
		b->features = 0;
		return NULL;
	case VHU_GET_QUEUE_NUM:
		rep->payload.u64 = b->dev->nr_queues;
		return NULL;
	case VHU_SET_MEM_TABLE:
		return set_mem_table(b, m, fds, nfds);
	case VHU_SET_VRING_NUM:
		return set_vring_num(b, &m->payload.state);
	case VHU_SET_VRING_ADDR:
		return set_vring_addr(b, &m->payload.addr);
	case VHU_SET_VRING_BASE:
		return set_vring_base(b, &m->payload.state);
	case VHU_GET_VRING_BASE:
		r = get_vring_base(b, &m->payload.state, &base);
		rep->payload.state = (struct vhu_vring_state){ .index = m->payload.state.index, .num = base };
		rep->hdr.size = sizeof(rep->payload.state);
		return r;
	case VHU_SET_VRING_KICK:
	case VHU_SET_VRING_CALL:
	case VHU_SET_VRING_ERR:
		return set_vring_fd(b, m, fds, nfds);
	case VHU_SET_VRING_ENABLE:
		return set_vring_enable(b, &m->payload.state);
	case VHU_GET_CONFIG:
		r = get_config(b, &m->payload.config, rep);
		if (r) /* the front end sees a reply of the wrong size: an error */
			rep->hdr.size = VHU_CONFIG_HDR_SIZE;
		return r;
	case VHU_GET_INFLIGHT_FD:
		return get_inflight(b, &m->payload.inflight, rep, rep_fd);
	case VHU_SET_INFLIGHT_FD:
		return set_inflight(b, &m->payload.inflight, fds, nfds);
	default:
		for (unsigned int i = 0; i < nfds; i++)
			close(fds[i]);
		return "a request this back end does not support";
	}
}

int vhu_backend_serve(struct vhu_backend *b)
{
	for (;;) {
		struct vhu_msg m, rep;
		int fds[VHU_MAX_FDS];
		unsigned int nfds = 0;
		const char *why = NULL;
		refusal r;
		int rep_fd, ret = vhu_recv(b->sock, &m, fds, &nfds, &why);

		if (ret == -ECONNRESET)
			return 0;
		if (ret == -EPROTO) {
			log_layer(LOG_ERR, LAYER_PVIO, "%s: the vhost-user front end broke the protocol: %s",
				  b->dev->name, why);
			return ret;
		}
		if (ret < 0) {
			log_layer(LOG_ERR, LAYER_PVIO, "%s: reading from the vhost-user front end: %s",
				  b->dev->name, strerror(-ret));
			return ret;
		}
		memset(&rep, 0, sizeof(rep));
		rep_fd = -1;
		r = handle(b, &m, fds, nfds, &rep, &rep_fd);
		b->messages++;
		if (r)
			log_layer(LOG_WARN, LAYER_PVIO, "%s: vhost-user %s refused: %s", b->dev->name,
				  vhu_request_name(m.hdr.request), r);
		sync_rings(b);
		if (has_reply(m.hdr.request)) {
			ret = vhu_reply_fds(b->sock, &m, &rep, &rep_fd, rep_fd >= 0 ? 1 : 0);
		} else if ((m.hdr.flags & VHU_F_NEED_REPLY) &&
			   (b->protocol_features & (1ULL << VHU_PROTOCOL_F_REPLY_ACK))) {
			rep.hdr.size = sizeof(uint64_t);
			rep.payload.u64 = r ? 1 : 0;
			ret = vhu_reply(b->sock, &m, &rep);
		}
		if (ret < 0) {
			log_layer(LOG_ERR, LAYER_PVIO, "%s: answering the vhost-user front end: %s",
				  b->dev->name, strerror(-ret));
			return ret;
		}
	}
}

/*
 * The memfd GET_INFLIGHT_FD hands out, made now so that the locked-down process needs no memfd_create
 * or ftruncate: sized for every queue at its largest ring, and sealed, so that no one holding it can
 * shrink it under our mapping (a touch past the end is a SIGBUS). Returns 0 or -errno.
 */
static int inflight_create(struct vhu_backend *b)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (b->dev->nr_queues * virtq_inflight_size(b->dev->queue_max) + page - 1) & ~(page - 1);
	int fd = memfd_create("kvmini-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING), ret;
	void *p;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto err;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto err;
	b->inflight_fd = fd;
	b->inflight_own = p;
	b->inflight_own_len = len;
	return 0;
err:
	ret = -errno;
	close(fd);
	return ret;
}

static void inflight_free(struct vhu_backend *b)
{
	inflight_unmap(b);
	if (b->inflight_own)
		munmap(b->inflight_own, b->inflight_own_len);
	close_fd(&b->inflight_fd);
	b->inflight_own = NULL;
	b->inflight = NULL;
}

int vhu_backend_init(struct vhu_backend *b, const struct virtio_device *dev, int sock)
{
	int ret;

	memset(b, 0, sizeof(*b));
	b->dev = dev;
	b->sock = sock;
	b->mem.fd = -1;
	b->inflight_fd = -1;
	/* Only a block device's requests need it: net and vsock lose nothing a driver does not resend. */
	if (dev->device_id == VIRTIO_ID_BLOCK && (ret = inflight_create(b)) < 0)
		log_warn("%s: no inflight region (%s): requests in flight when this process ends are served "
			 "again from the ring's used index",
			 dev->name, strerror(-ret));
	b->nr_workers = dev->worker_per_queue ? dev->nr_queues : 1;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		b->q[i] = (struct vhu_backend_queue){ .kick_fd = -1, .call_fd = -1, .err_fd = -1 };
	pthread_mutex_init(&b->err_lock, NULL);
	ret = virtio_workers_init(b->workers, b->nr_workers, dev->name);
	if (ret) {
		inflight_free(b);
		pthread_mutex_destroy(&b->err_lock);
	}
	return ret;
}

void vhu_backend_destroy(struct vhu_backend *b)
{
	reset_rings(b);
	virtio_workers_destroy(b->workers, b->nr_workers);
	inflight_free(b);
	vhu_mem_unmap(&b->vmem);
	close_fd(&b->sock);
	pthread_mutex_destroy(&b->err_lock);
}
