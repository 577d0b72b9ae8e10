/*
 * event.h: the VMM's event loop: one epoll set on kvmini's main thread, serving whatever is not a
 * vCPU's or a device's: the console, signals, the vhost-user channels of the device back ends and the
 * device processes' pidfds. A source is a descriptor and its handler; level-triggered.
 */
#ifndef KVMINI_EVENT_H
#define KVMINI_EVENT_H

#include <stdbool.h>
#include <stdint.h>

struct event_source {
	int fd; /* -1: not in the set */
	/* handle: (events) (EPOLLIN, EPOLLRDHUP, ...) came on (s)->fd. */
	void (*handle)(struct event_source *s, uint32_t events);
};

struct event_loop {
	int epfd;
};

/* event_loop_init: an empty set. Returns 0 or -errno. */
int event_loop_init(struct event_loop *l);
void event_loop_destroy(struct event_loop *l);
/*
 * event_add: watch (fd) for (events) with (handle). Returns 0 or -errno: -EPERM for a descriptor epoll
 * cannot watch (a regular file, /dev/null: always ready).
 */
int event_add(struct event_loop *l, struct event_source *s, int fd, uint32_t events,
	      void (*handle)(struct event_source *s, uint32_t events));
/* event_watch: change what (s) waits for (0: nothing, until changed again). */
int event_watch(struct event_loop *l, struct event_source *s, uint32_t events);
/* event_del: stop watching (s) (before its descriptor is closed). A no-op for a source not in the set. */
void event_del(struct event_loop *l, struct event_source *s);
/*
 * event_wait: wait up to (timeout_ms) (-1: no limit) and run the handlers of what came. A handler may
 * add and delete sources; an event of a source deleted meanwhile in the same round is dropped, but one
 * deleted and added again (on a new descriptor) may see its old one: handlers check what they are told.
 * Returns the number of events, or -errno (not -EINTR: that is 0).
 */
int event_wait(struct event_loop *l, int timeout_ms);

#endif
