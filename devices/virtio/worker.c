/* worker.c: the thread that serves a virtio device's queues, between kick and call eventfds. */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../vmm/log.h"

void virtio_eventfd_drain(int fd)
{
	uint64_t v;
	ssize_t n;

	while ((n = read(fd, &v, sizeof(v))) < 0 && errno == EINTR)
		;
	if (n < 0 && errno != EAGAIN)
		log_warn("L-2 event channels: cannot read an eventfd: %s", strerror(errno));
}

void virtio_eventfd_signal(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("L-2 event channels: cannot signal an eventfd: %s", strerror(errno));
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
	int r = 0, used = 0;

	virtq_kick_suppress(q, true);
	while (budget && (r = virtq_pop(q, &w->chain)) > 0) {
		used = w->model->handle(w->model->opaque, qi, &w->chain);
		if (used < 0)
			break;
		virtq_push(q, w->chain.head, (uint32_t)used);
		budget--;
	}
	if (virtq_should_notify(q))
		virtio_eventfd_signal(w->setup[qi].call_fd);
	if (r < 0) {
		broken(w, qi, "the driver broke the ring rules (bad index, descriptor, chain or address)");
		return false;
	}
	if (used < 0) {
		broken(w, qi, "a request it cannot answer (no room for its status)");
		return false;
	}
	virtq_kick_suppress(q, false);
	return virtq_has_more(q);
}

static void *worker_thread(void *arg)
{
	struct virtio_worker *w = arg;
	bool more[VIRTIO_MAX_QUEUES];
	struct pollfd fds[1 + VIRTIO_MAX_QUEUES];

	for (unsigned int i = 0; i < w->nr_queues; i++)
		more[i] = live(w, i); /* kicks sent before DRIVER_OK are waiting in the eventfds anyway */
	for (;;) {
		bool busy = false;

		fds[0] = (struct pollfd){ .fd = w->stop_fd, .events = POLLIN };
		for (unsigned int i = 0; i < w->nr_queues; i++) {
			fds[1 + i] = (struct pollfd){ .fd = live(w, i) ? w->setup[i].kick_fd : -1,
						      .events = POLLIN };
			busy |= more[i];
		}
		if (poll(fds, 1 + w->nr_queues, busy ? 0 : -1) < 0 && errno != EINTR) {
			log_err("%s: poll on its queues' eventfds failed: %s", w->model->name,
				strerror(errno));
			break;
		}
		if (fds[0].revents)
			break;
		for (unsigned int i = 0; i < w->nr_queues; i++) {
			if (fds[1 + i].revents & POLLIN) {
				virtio_eventfd_drain(w->setup[i].kick_fd);
				more[i] = true;
			}
			if (more[i] && live(w, i))
				more[i] = serve(w, i);
			else
				more[i] = false;
		}
	}
	return NULL;
}

int virtio_worker_start(struct virtio_worker *w, const struct virtio_model *model, const struct gmem *mem,
			uint64_t features, const struct virtio_queue_setup *setup, unsigned int nr_queues,
			virtio_needs_reset_fn *needs_reset, void *opaque)
{
	int ret;

	if (nr_queues > VIRTIO_MAX_QUEUES)
		return -EINVAL;
	w->model = model;
	w->mem = mem;
	w->needs_reset = needs_reset;
	w->opaque = opaque;
	w->nr_queues = nr_queues;
	w->running = false;
	memcpy(w->setup, setup, nr_queues * sizeof(*setup));
	for (unsigned int i = 0; i < nr_queues; i++) {
		memset(&w->q[i], 0, sizeof(w->q[i]));
		if (setup[i].enabled && virtq_configure(&w->q[i], mem, setup[i].size, setup[i].desc,
							setup[i].avail, setup[i].used, features) < 0)
			broken(w, i, "its size or ring addresses are invalid");
	}
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stop_fd < 0)
		return -errno;
	ret = pthread_create(&w->thread, NULL, worker_thread, w);
	if (ret) {
		close(w->stop_fd);
		return -ret;
	}
	w->running = true;
	return 0;
}

void virtio_worker_stop(struct virtio_worker *w)
{
	if (!w->running)
		return;
	virtio_eventfd_signal(w->stop_fd);
	pthread_join(w->thread, NULL);
	close(w->stop_fd);
	w->running = false;
}
