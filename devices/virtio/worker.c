/* worker.c: the thread that serves a virtio device's queues, between kick and call eventfds. */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/log.h"

uint64_t virtio_eventfd_drain(int fd)
{
	uint64_t v;
	ssize_t n;

	while ((n = read(fd, &v, sizeof(v))) < 0 && errno == EINTR)
		;
	if (n < 0 && errno != EAGAIN)
		log_layer(LOG_WARN, LAYER_PVIO, "cannot read an eventfd: %s", strerror(errno));
	return n == sizeof(v) ? v : 0;
}

void virtio_eventfd_signal(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_layer(LOG_WARN, LAYER_PVIO, "cannot signal an eventfd: %s", strerror(errno));
}

/* A counters page: whole pages, so that it maps alone. */
static size_t counters_size(void)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t p = page > 0 ? (size_t)page : 4096;

	return (sizeof(struct virtio_counters) + p - 1) / p * p;
}

struct virtio_counters *virtio_counters_map(int fd)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return NULL;
	/* A shorter file would fault on access (SIGBUS): kvmini's is sealed against shrinking. */
	if (st.st_size < (off_t)counters_size()) {
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, counters_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

struct virtio_counters *virtio_counters_create(int *fd)
{
	struct virtio_counters *c;
	int f = memfd_create("kvmini-counters", MFD_CLOEXEC | MFD_ALLOW_SEALING), err;

	if (f < 0)
		return NULL;
	if (ftruncate(f, (off_t)counters_size()) == 0 &&
	    fcntl(f, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0 &&
	    (c = virtio_counters_map(f)) != NULL) {
		*fd = f;
		return c;
	}
	err = errno;
	close(f);
	errno = err;
	return NULL;
}

void virtio_counters_read(const struct virtio_counters *c, unsigned int qi, struct virtio_queue_counts *out)
{
	*out = (struct virtio_queue_counts){ 0 };
	if (!c || qi >= VIRTIO_MAX_QUEUES)
		return;
	out->kicks = atomic_load_explicit(&c->q[qi].kicks, memory_order_relaxed);
	out->signals = atomic_load_explicit(&c->q[qi].signals, memory_order_relaxed);
	out->chains = atomic_load_explicit(&c->q[qi].chains, memory_order_relaxed);
}

void virtio_counters_unmap(struct virtio_counters *c)
{
	if (c)
		munmap(c, counters_size());
}

/* Adds (n) to counter (field) of queue (qi), where its counters are kept. */
#define COUNT(w, qi, field, n)                                                            \
	do {                                                                              \
		struct virtio_queue_counters *c_ = (w)->setup[qi].counters;               \
		if (c_)                                                                   \
			atomic_fetch_add_explicit(&c_->field, (n), memory_order_relaxed); \
	} while (0)

/* A used-buffer notification on queue (qi), if the driver wants one. */
static void notify(struct virtio_worker *w, unsigned int qi)
{
	if (virtq_should_notify(&w->q[qi])) {
		virtio_eventfd_signal(w->setup[qi].call_fd);
		COUNT(w, qi, signals, 1);
	}
}

/* Whether the thread serves queue (qi): enabled, and not broken by the driver. */
static bool live(const struct virtio_worker *w, unsigned int qi)
{
	return w->setup[qi].enabled && !w->q[qi].broken;
}

static void broken(struct virtio_worker *w, unsigned int qi, const char *why)
{
	log_warn("%s: queue %u: %s; the device stops serving it until the driver resets it", w->model->name,
		 qi, why);
	w->q[qi].broken = true;
	w->needs_reset(w->opaque);
}

/*
 * Serve up to a queue's worth of chains from queue (qi), then the used-buffer notification. Returns true
 * when more are waiting: the thread looks at its stop request between batches, however fast the driver
 * adds work.
 */
static bool serve(struct virtio_worker *w, unsigned int qi)
{
	struct virtq *q = &w->q[qi];
	unsigned int budget = q->size;
	int r = 0, answer = 0;
	uint32_t used;

	virtq_kick_suppress(q, true);
	while (budget && (r = virtq_pop(q, &w->chain)) > 0) {
		answer = w->model->handle(w->model->opaque, qi, &w->chain, &used);
		if (answer < 0)
			break;
		virtq_push(q, w->chain.head, used);
		w->handled = true;
		budget--;
	}
	COUNT(w, qi, chains, q->size - budget);
	notify(w, qi);
	if (r < 0) {
		broken(w, qi, "the driver broke the ring rules (bad index, descriptor, chain or address)");
		return false;
	}
	if (answer < 0) {
		broken(w, qi, "a request it cannot answer (no room for its status)");
		return false;
	}
	virtq_kick_suppress(q, false);
	return virtq_has_more(q);
}

static bool is_rx(const struct virtio_worker *w, unsigned int qi)
{
	return w->model->rx_queues & (1u << qi);
}

/*
 * One round after poll(): drain the kicks, serve the request queues that have work, then let the
 * model do its own I/O when its fd was ready, an rx queue was kicked, requests were handled (they may
 * want answers), or it had more to do. Returns whether anything is left to do at once.
 */
static bool serve_round(struct virtio_worker *w, const struct pollfd *fds, bool *more, bool *io_more)
{
	bool busy = false, io_ready = w->io_fd >= 0 && (fds[1 + w->nr_queues].revents & POLLIN);

	for (unsigned int i = 0; i < w->nr_queues; i++) {
		if (fds[1 + i].revents & POLLIN) {
			COUNT(w, i, kicks, virtio_eventfd_drain(w->setup[i].kick_fd));
			if (is_rx(w, i))
				*io_more = true;
			else
				more[i] = true;
		}
		if (more[i] && live(w, i))
			more[i] = serve(w, i);
		else
			more[i] = false;
		busy |= more[i];
	}
	if (w->model->io && (io_ready || *io_more || w->handled)) {
		w->handled = false;
		*io_more = w->model->io(w->model->opaque, w, io_ready);
	}
	return busy || *io_more;
}

/* Serve the queues until the stop eventfd fires. */
static void serve_queues(struct virtio_worker *w)
{
	bool more[VIRTIO_MAX_QUEUES], io_more = w->model->io != NULL, busy = true;
	struct pollfd fds[2 + VIRTIO_MAX_QUEUES];

	/* Kicks sent before DRIVER_OK wait in the eventfds anyway; rx queues are the model's to serve. */
	for (unsigned int i = 0; i < w->nr_queues; i++)
		more[i] = live(w, i) && !is_rx(w, i);
	for (;;) {
		fds[0] = (struct pollfd){ .fd = w->stop_fd, .events = POLLIN };
		for (unsigned int i = 0; i < w->nr_queues; i++)
			fds[1 + i] = (struct pollfd){ .fd = live(w, i) ? w->setup[i].kick_fd : -1,
						      .events = POLLIN };
		/* A model that has nowhere to put data is not woken by it: its fd leaves the set. */
		fds[1 + w->nr_queues] =
			(struct pollfd){ .fd = w->io_wanted ? w->io_fd : -1, .events = POLLIN };
		if (poll(fds, 2 + w->nr_queues, busy ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("%s: poll on its queues' eventfds failed: %s", w->model->name,
				strerror(errno));
			break;
		}
		if (fds[0].revents)
			break;
		busy = serve_round(w, fds, more, &io_more);
	}
}

static void set_state(struct virtio_worker *w, enum virtio_worker_state s)
{
	pthread_mutex_lock(&w->lock);
	w->state = s;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Idle until told to serve (or to exit); serve until the stop eventfd fires; say so; idle again. */
static void *worker_thread(void *arg)
{
	struct virtio_worker *w = arg;

	for (;;) {
		enum virtio_worker_state s;

		pthread_mutex_lock(&w->lock);
		while (w->state == VIRTIO_WORKER_IDLE)
			pthread_cond_wait(&w->cond, &w->lock);
		s = w->state;
		pthread_mutex_unlock(&w->lock);
		if (s == VIRTIO_WORKER_EXIT)
			return NULL;
		serve_queues(w);
		virtio_eventfd_drain(w->stop_fd);
		set_state(w, VIRTIO_WORKER_IDLE);
	}
}

int virtio_worker_init(struct virtio_worker *w)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->state = VIRTIO_WORKER_IDLE;
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stop_fd < 0)
		return -errno;
	ret = pthread_mutex_init(&w->lock, NULL);
	if (ret)
		goto err_fd;
	ret = pthread_cond_init(&w->cond, NULL);
	if (ret)
		goto err_lock;
	ret = pthread_create(&w->thread, NULL, worker_thread, w);
	if (ret)
		goto err_cond;
	w->initialized = true;
	return 0;
err_cond:
	pthread_cond_destroy(&w->cond);
err_lock:
	pthread_mutex_destroy(&w->lock);
err_fd:
	close(w->stop_fd);
	return -ret;
}

int virtio_workers_init(struct virtio_worker *w, unsigned int n, const char *name)
{
	for (unsigned int i = 0; i < n; i++) {
		int ret = virtio_worker_init(&w[i]);

		if (ret) {
			log_err("%s: cannot make a worker thread: %s", name, strerror(-ret));
			virtio_workers_destroy(w, i);
			return ret;
		}
	}
	return 0;
}

void virtio_workers_destroy(struct virtio_worker *w, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		virtio_worker_destroy(&w[i]);
}

void virtio_worker_destroy(struct virtio_worker *w)
{
	if (!w->initialized)
		return;
	virtio_worker_stop(w, NULL);
	set_state(w, VIRTIO_WORKER_EXIT);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	close(w->stop_fd);
	w->initialized = false;
}

int virtio_worker_pop(struct virtio_worker *w, unsigned int qi, struct virtq_chain *c)
{
	struct virtq *q = &w->q[qi];
	int r;

	if (!live(w, qi))
		return w->q[qi].broken ? -EINVAL : 0;
	r = virtq_pop(q, c);
	if (r == 0) {
		/* Out of buffers: ask for a kick when more come, then look once more (virtq.h explains). */
		virtq_kick_suppress(q, false);
		r = virtq_pop(q, c);
	}
	if (r > 0)
		virtq_kick_suppress(q, true);
	if (r < 0)
		broken(w, qi, "the driver broke the ring rules (bad index, descriptor, chain or address)");
	return r;
}

void virtio_worker_unpop(struct virtio_worker *w, unsigned int qi, unsigned int n)
{
	virtq_unpop(&w->q[qi], (uint16_t)(n < UINT16_MAX ? n : UINT16_MAX));
}

void virtio_worker_push(struct virtio_worker *w, unsigned int qi, uint16_t head, uint32_t len)
{
	virtq_push(&w->q[qi], head, len);
	COUNT(w, qi, chains, 1);
}

void virtio_worker_push_n(struct virtio_worker *w, unsigned int qi, const uint16_t *heads,
			  const uint32_t *lens, uint16_t n)
{
	virtq_push_n(&w->q[qi], heads, lens, n);
	COUNT(w, qi, chains, n);
}

void virtio_worker_notify(struct virtio_worker *w, unsigned int qi)
{
	notify(w, qi);
}

void virtio_worker_want_io(struct virtio_worker *w, bool want)
{
	w->io_wanted = want;
}

/* Hands the queues to the model's start(); returns its fd (or -1), or -errno. */
static int model_start(struct virtio_worker *w, uint64_t features)
{
	w->io_fd = -1;
	w->io_wanted = false;
	w->handled = false;
	if (!w->model->start)
		return -1;
	w->io_wanted = true;
	return w->model->start(w->model->opaque, w, features);
}

/* Queue (qi) goes on from its inflight region, where it has one: the chains in flight first. */
static void inflight_start(struct virtio_worker *w, unsigned int qi)
{
	const struct virtio_queue_setup *s = &w->setup[qi];
	int n;

	if (!s->inflight || w->q[qi].broken)
		return;
	if (virtq_set_inflight(&w->q[qi], s->inflight, s->inflight_len) < 0) {
		log_warn("%s: queue %u: its inflight region (%zu bytes) is too small for %u entries: its "
			 "requests are not tracked",
			 w->model->name, qi, s->inflight_len, s->size);
		return;
	}
	n = virtq_inflight_resume(&w->q[qi]);
	if (n < 0)
		log_warn(
			"%s: queue %u: its inflight region does not match the ring: reset, the queue goes on "
			"from its base",
			w->model->name, qi);
	else if (n > 0)
		log_info("%s: queue %u resubmits %d requests in flight", w->model->name, qi, n);
}

int virtio_worker_start(struct virtio_worker *w, const struct virtio_model *model, const struct gmem *mem,
			uint64_t features, const struct virtio_queue_setup *setup, unsigned int nr_queues,
			virtio_needs_reset_fn *needs_reset, void *opaque)
{
	int ret;

	if (nr_queues > VIRTIO_MAX_QUEUES || !w->initialized)
		return -EINVAL;
	if (w->running)
		return -EBUSY;
	w->model = model;
	w->mem = mem;
	w->needs_reset = needs_reset;
	w->opaque = opaque;
	w->nr_queues = nr_queues;
	w->running = false;
	memcpy(w->setup, setup, nr_queues * sizeof(*setup));
	for (unsigned int i = 0; i < nr_queues; i++) {
		memset(&w->q[i], 0, sizeof(w->q[i]));
		if (setup[i].enabled && (virtq_configure(&w->q[i], mem, setup[i].size, setup[i].desc,
							 setup[i].avail, setup[i].used, features) < 0 ||
					 virtq_set_base(&w->q[i], setup[i].base) < 0))
			broken(w, i, "its size or ring addresses are invalid");
		else if (setup[i].enabled)
			inflight_start(w, i);
	}
	ret = model_start(w, features);
	if (ret < -1)
		return ret;
	w->io_fd = ret;
	w->running = true;
	set_state(w, VIRTIO_WORKER_RUNNING);
	return 0;
}

/* At -v, where each queue stood when the worker stopped: what tells a lost kick from a lost interrupt. */
static void log_state(const struct virtio_worker *w)
{
	struct virtq_state s;

	for (unsigned int i = 0; i < w->nr_queues; i++) {
		const struct virtq *q = &w->q[i];

		if (!w->setup[i].enabled || virtq_state(q, &s) < 0)
			continue;
		if (q->event_idx)
			log_info(
				"%s: queue %u: posted %u, taken %u, returned %u (%u in flight); driver wants an "
				"interrupt at used %u, device a kick at avail %u%s",
				w->model->name, i, s.avail_idx, s.last_avail, s.used_idx, s.in_flight,
				s.used_event, s.avail_event, q->broken ? "; broken" : "");
		else
			log_info(
				"%s: queue %u: posted %u, taken %u, returned %u (%u in flight); interrupts %s, "
				"kicks %s%s",
				w->model->name, i, s.avail_idx, s.last_avail, s.used_idx, s.in_flight,
				s.avail_flags & VIRTQ_AVAIL_F_NO_INTERRUPT ? "off" : "on",
				s.used_flags & VIRTQ_USED_F_NO_NOTIFY ? "off" : "on",
				q->broken ? "; broken" : "");
	}
	if (w->model->describe)
		w->model->describe(w->model->opaque, w);
}

void virtio_worker_stop(struct virtio_worker *w, uint16_t *bases)
{
	if (!w->running)
		return;
	virtio_eventfd_signal(w->stop_fd);
	pthread_mutex_lock(&w->lock);
	while (w->state != VIRTIO_WORKER_IDLE)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	w->running = false;
	for (unsigned int i = 0; bases && i < w->nr_queues; i++)
		bases[i] = w->q[i].last_avail;
	if (log_enabled(LOG_INFO))
		log_state(w);
	if (w->model->start && w->model->stop)
		w->model->stop(w->model->opaque);
}
