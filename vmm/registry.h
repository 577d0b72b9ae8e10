/*
 * registry.h: what kvmini has set up with KVM for a VM, recorded where it does so: the memory slots
 * (L-0) and the event channels, ioeventfds and irqfds (L-2). The API's inspect shows it; it is a record,
 * never consulted to run the VM. MSI routes live in the routing table (irq.h), which is the record of
 * them already.
 */
#ifndef KVMINI_REGISTRY_H
#define KVMINI_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define REGISTRY_SLOTS	    16
#define REGISTRY_IOEVENTFDS 512 /* 32 devices of 8 queues each, twice over */
#define REGISTRY_IRQFDS	    512

struct registry_slot {
	uint32_t slot;
	uint64_t guest_phys, size;
	uint64_t host_addr;
	int fd;		    /* the memfd behind it */
	uint64_t fd_offset; /* where in it */
	uint32_t flags;	    /* KVM_MEM_* */
};

struct registry_ioeventfd {
	uint64_t addr;
	uint32_t len; /* 0: any length */
	bool pio;
	int fd;
};

struct registry_irqfd {
	uint32_t gsi;
	int fd;
};

struct registry {
	pthread_mutex_t lock; /* event channels change on vCPU threads (a driver's register write) */
	struct registry_slot slots[REGISTRY_SLOTS];
	unsigned int nr_slots;
	struct registry_ioeventfd ioeventfds[REGISTRY_IOEVENTFDS];
	unsigned int nr_ioeventfds;
	struct registry_irqfd irqfds[REGISTRY_IRQFDS];
	unsigned int nr_irqfds;
	bool full_warned;
};

int registry_init(struct registry *r);
void registry_destroy(struct registry *r);
/* registry_slot: memory slot (s) is set (replacing one with its number). */
void registry_slot(struct registry *r, const struct registry_slot *s);
/* registry_ioeventfd: (e) was assigned (assign) or deassigned. */
void registry_ioeventfd(struct registry *r, const struct registry_ioeventfd *e, bool assign);
/* registry_irqfd: (e) was assigned or deassigned. */
void registry_irqfd(struct registry *r, const struct registry_irqfd *e, bool assign);
/* registry_copy: a consistent copy of (r) into (out), for reading without the lock. */
void registry_copy(struct registry *r, struct registry *out);

#endif
