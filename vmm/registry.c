/* registry.c: the record of what kvmini set up with KVM (registry.h). */
#include "registry.h"

#include <errno.h>
#include <string.h>

#include "../devices/base/log.h"

int registry_init(struct registry *r)
{
	memset(r, 0, sizeof(*r));
	return -pthread_mutex_init(&r->lock, NULL);
}

void registry_destroy(struct registry *r)
{
	pthread_mutex_destroy(&r->lock);
}

/* Full: the VM runs on; what inspect shows is then incomplete, and says so once in the log. */
static void full(struct registry *r, const char *what)
{
	if (!r->full_warned)
		log_warn("the record of %s KVM has is full: 'kvmini inspect' shows only the first ones",
			 what);
	r->full_warned = true;
}

void registry_slot(struct registry *r, const struct registry_slot *s)
{
	unsigned int i;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->nr_slots && r->slots[i].slot != s->slot; i++)
		;
	if (i < REGISTRY_SLOTS) {
		r->slots[i] = *s;
		if (i == r->nr_slots)
			r->nr_slots++;
	} else {
		full(r, "memory slots");
	}
	pthread_mutex_unlock(&r->lock);
}

void registry_ioeventfd(struct registry *r, const struct registry_ioeventfd *e, bool assign)
{
	pthread_mutex_lock(&r->lock);
	for (unsigned int i = 0; i < r->nr_ioeventfds; i++) {
		struct registry_ioeventfd *x = &r->ioeventfds[i];

		/* KVM matches a deassign by address, length, kind and fd: the same here. */
		if (!assign && x->addr == e->addr && x->len == e->len && x->pio == e->pio && x->fd == e->fd) {
			*x = r->ioeventfds[--r->nr_ioeventfds];
			break;
		}
	}
	if (assign && r->nr_ioeventfds < REGISTRY_IOEVENTFDS)
		r->ioeventfds[r->nr_ioeventfds++] = *e;
	else if (assign)
		full(r, "ioeventfds");
	pthread_mutex_unlock(&r->lock);
}

void registry_irqfd(struct registry *r, const struct registry_irqfd *e, bool assign)
{
	pthread_mutex_lock(&r->lock);
	for (unsigned int i = 0; i < r->nr_irqfds; i++) {
		struct registry_irqfd *x = &r->irqfds[i];

		if (!assign && x->gsi == e->gsi && x->fd == e->fd) {
			*x = r->irqfds[--r->nr_irqfds];
			break;
		}
	}
	if (assign && r->nr_irqfds < REGISTRY_IRQFDS)
		r->irqfds[r->nr_irqfds++] = *e;
	else if (assign)
		full(r, "irqfds");
	pthread_mutex_unlock(&r->lock);
}

void registry_copy(struct registry *r, struct registry *out)
{
	pthread_mutex_lock(&r->lock);
	memcpy(out->slots, r->slots, sizeof(r->slots));
	out->nr_slots = r->nr_slots;
	memcpy(out->ioeventfds, r->ioeventfds, sizeof(r->ioeventfds));
	out->nr_ioeventfds = r->nr_ioeventfds;
	memcpy(out->irqfds, r->irqfds, sizeof(r->irqfds));
	out->nr_irqfds = r->nr_irqfds;
	pthread_mutex_unlock(&r->lock);
}
