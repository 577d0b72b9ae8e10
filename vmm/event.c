/* event.c: the VMM's event loop on epoll. */
#include "event.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EVENTS_PER_ROUND 16

int event_loop_init(struct event_loop *l)
{
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

void event_loop_destroy(struct event_loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int event_add(struct event_loop *l, struct event_source *s, int fd, uint32_t events,
	      void (*handle)(struct event_source *s, uint32_t events))
{
	struct epoll_event e = { .events = events, .data.ptr = s };

	s->fd = -1;
	s->handle = handle;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) < 0)
		return -errno;
	s->fd = fd;
	return 0;
}

int event_watch(struct event_loop *l, struct event_source *s, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = s };

	if (s->fd < 0)
		return -EBADF;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, s->fd, &e) < 0 ? -errno : 0;
}

void event_del(struct event_loop *l, struct event_source *s)
{
	if (s->fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	s->fd = -1;
}

int event_wait(struct event_loop *l, int timeout_ms)
{
	struct epoll_event ev[EVENTS_PER_ROUND];
	int n = epoll_wait(l->epfd, ev, EVENTS_PER_ROUND, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct event_source *s = ev[i].data.ptr;

		/* Deleted by an earlier handler of this round: its event is stale. */
		if (s->fd >= 0)
			s->handle(s, ev[i].events);
	}
	return n;
}
