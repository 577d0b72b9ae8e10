/* virtq.h: split virtqueues (virtio 1.2, 2.7): descriptor chains, indirect tables, event index. */
#ifndef KVMINI_VIRTQ_H
#define KVMINI_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../base/mem.h"

#define VIRTQ_MAX_SIZE	32768 /* the spec's limit for a split queue */
#define VIRTQ_CHAIN_MAX 256   /* buffers kvmini takes in one chain (advertise seg_max <= this - 2) */

/* Feature bits the core handles (virtio 1.2, 6) */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX	    29

/* Ring layout (virtio 1.2, 2.7); all fields are little-endian in guest RAM. */
#define VIRTQ_DESC_F_NEXT	   1 /* the chain continues at (next) */
#define VIRTQ_DESC_F_WRITE	   2 /* device-writable (else device-readable) */
#define VIRTQ_DESC_F_INDIRECT	   4 /* (addr, len) is a table of descriptors */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1 /* driver: no used-buffer notifications, please */
#define VIRTQ_USED_F_NO_NOTIFY	   1 /* device: no available-buffer notifications, please */

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* One guest buffer of a chain, already checked to lie in guest RAM. */
struct virtq_buf {
	uint8_t *host;
	uint32_t len;
	bool device_writable;
};

/* A popped request: its head, its buffers in order (device-readable ones first, as the spec requires). */
struct virtq_chain {
	uint16_t head;
	unsigned int nbufs;
	uint32_t readable; /* bytes in the device-readable buffers */
	uint32_t writable; /* bytes in the device-writable buffers; their sum with (readable) fits 32 bits */
	struct virtq_buf bufs[VIRTQ_CHAIN_MAX];
};

/*
 * The device's side of one queue. One thread owns it (no lock); the driver runs concurrently on
 * other CPUs and may rewrite any ring at any time, so everything read from guest RAM is untrusted.
 * The ring pointers come from gmem_ptr() at configure time: guest RAM stays mapped for the VM's life.
 */
struct virtq {
	const struct gmem *mem;
	uint16_t size;		/* 0: not configured */
	uint8_t *desc;		/* descriptor table, 16 * size bytes */
	uint8_t *avail;		/* flags, idx, ring[size], used_event */
	uint8_t *used;		/* flags, idx, ring[size] of {id, len}, avail_event */
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;		/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	uint16_t last_avail;	/* the next avail ring entry to take */
	uint16_t in_flight;	/* chains popped and not yet pushed (bounds virtq_unpop) */
	uint16_t avail_shadow;	/* avail->idx as last read: entries up to it are known published */
	uint16_t used_idx;	/* our copy of used->idx */
	uint16_t notified_used; /* used_idx at the last virtq_should_notify() */
	bool notified_valid;	/* false until the first virtq_should_notify() after configure */
	bool broken;		/* the driver broke the rules: the device must ask for a reset */
	/*
	 * Inflight tracking (virtq_set_inflight): where each chain taken and not yet returned is noted,
	 * in memory shared with the vhost-user front end, so that a back end started after this one died
	 * takes exactly those again. Everything read from the region is checked as guest RAM is.
	 */
	uint8_t *inflight;	   /* this queue's region; NULL: no tracking */
	uint64_t counter;	   /* the order mark the next chain taken gets */
	uint16_t batch_head;	   /* the last head returned: the region's last_batch_head, our copy */
	uint16_t resubmit_left;	   /* chains of the region still to be taken again, before new ones */
	bool resubmit_started;	   /* one was taken again: (resubmit_counter, resubmit_head) is the last */
	uint64_t resubmit_counter; /* its order mark */
	uint16_t resubmit_head;	   /* and its head */
};

/*
 * virtq_configure: set (q) up on guest RAM (mem) with (size) entries and the rings at guest-physical
 * (desc), (avail), (used), for the negotiated (features). Checks size is a power of two in
 * [1, VIRTQ_MAX_SIZE] and each ring lies in RAM with its alignment (16, 2, 4) and its size including
 * the event-index fields. Resets every index. Returns 0, or -EINVAL with (q) broken until reconfigured.
 */
int virtq_configure(struct virtq *q, const struct gmem *mem, uint16_t size, uint64_t desc, uint64_t avail,
		    uint64_t used, uint64_t features);
/*
 * virtq_set_base: after virtq_configure, take avail entries from index (base) on (a queue handed over
 * mid-stream: vhost-user's SET_VRING_BASE), and return used entries after the used ring's own index
 * (what the device before published). Returns 0, or -EINVAL when (q) is not configured.
 */
int virtq_set_base(struct virtq *q, uint16_t base);

/*
 * Inflight I/O tracking for a vhost-user back end (vhost-user.rst, "Inflight I/O tracking", split
 * virtqueues). Each queue has a region in memory shared with the front end: a 16-byte header
 * (u64 features, u16 version, u16 desc_num, u16 last_batch_head, u16 used_idx) and desc_num 16-byte
 * entries, one a descriptor (u8 inflight, 5 bytes padding, u16 next, u64 counter). A chain taken is
 * marked in flight with an increasing counter; one returned is cleared after used->idx is published.
 * A back end that starts on a region its predecessor wrote takes the chains still marked again, in
 * the order they were first taken, before new ones.
 */
#define VIRTQ_INFLIGHT_ALIGN 64 /* each queue's region starts 64-byte aligned (as libvhost-user lays them) */

/* virtq_inflight_size: the bytes of one queue's region for rings of up to (size) entries, 64-aligned. */
size_t virtq_inflight_size(uint16_t size);

/*
 * virtq_set_inflight: after virtq_configure() (and virtq_set_base()), note (q)'s chains in (region) of
 * (len) bytes (NULL: no tracking, as in-process). Then call virtq_inflight_resume(). Returns 0, or
 * -EINVAL when (q) is not configured, (region) is not 8-byte aligned or (len) is less than
 * virtq_inflight_size(q->size); then (q) tracks nothing.
 */
int virtq_set_inflight(struct virtq *q, void *region, size_t len);

/*
 * virtq_inflight_resume: as a ring starts on a region: a fresh one (version 0) is initialised; one a
 * back end before wrote is checked (desc_num at least the ring's size, the last batch's list and size
 * within the ring, no more chains in flight than the driver posted past used->idx), its last batch of
 * returned chains is cleared where that back end died before it could, and (q) goes on after the
 * chains in flight: virtq_pop() takes them again, in the order they were first taken, then new ones.
 * Returns how many are taken again (0 with no region), or -EINVAL when the region does not match the
 * ring: then it is reset to none in flight and (q) goes on from its base.
 */
int virtq_inflight_resume(struct virtq *q);

/*
 * virtq_pop: take the next available chain of (q) into (c). Returns 1 with a chain, 0 when none, or
 * -EINVAL when the driver broke the rules (index too far ahead, bad head or next, loop, chain over
 * the queue size or VIRTQ_CHAIN_MAX, buffer outside RAM, readable after writable, bad indirect
 * table); then (q) stays broken and every later pop returns -EINVAL until virtq_configure().
 * On -EINVAL (c) holds garbage. With an inflight region, the chains to be taken again come first
 * (their descriptors read afresh and checked as any), and each chain taken is marked in flight.
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c);

/*
 * virtq_unpop: give back the last (n) chains popped and not pushed: the next virtq_pop() takes them
 * again, re-reading their descriptors (nothing was done with the first reading). (n) beyond what was
 * popped since virtq_configure() is an error of the caller: it is clamped to that. For receive queues:
 * with an inflight region, only chains taken from the avail ring (not ones taken again) may be given back.
 */
void virtq_unpop(struct virtq *q, uint16_t n);

/*
 * virtq_push: return chain (head) to the driver with (written) bytes written to its device-writable
 * buffers, and publish it. Write the buffers first. Returns 0, or -EINVAL when (head) is not an
 * index of (q)'s table or (q) is not configured.
 */
int virtq_push(struct virtq *q, uint16_t head, uint32_t written);

/*
 * virtq_push_n: return the (n) chains (heads)[i] with (written)[i] bytes written, in order, and publish
 * them with one used->idx store: the driver sees all of them or none (a packet spread over several
 * buffers must not be seen in part). Returns 0, or -EINVAL when a head is not an index of (q)'s table,
 * (n) exceeds the queue size or (q) is not configured; then nothing is pushed.
 */
int virtq_push_n(struct virtq *q, const uint16_t *heads, const uint32_t *written, uint16_t n);

/*
 * virtq_should_notify: after one or more virtq_push() on (q), whether the driver wants a used-buffer
 * notification (its used_event, or its NO_INTERRUPT flag without event index). Call it once per batch:
 * it remembers how far it has looked. False when nothing was pushed since the last call.
 */
bool virtq_should_notify(struct virtq *q);

/*
 * virtq_kick_suppress: ask the driver of (q) to stop (suppress true) or resume sending available-buffer
 * notifications. Resuming is racy by nature: the driver may have added a chain just before it saw the
 * request, so the device loop must re-check with virtq_has_more() after resuming:
 *
 *	for (;;) {
 *		virtq_kick_suppress(q, true);
 *		while ((r = virtq_pop(q, &c)) > 0)
 *			... handle, virtq_push() ...;
 *		if (r < 0)
 *			... mark the device NEEDS_RESET, stop ...;
 *		if (virtq_should_notify(q))
 *			... interrupt ...;
 *		virtq_kick_suppress(q, false);
 *		if (!virtq_has_more(q))
 *			break;	(sleep until the next kick)
 *	}
 */
void virtq_kick_suppress(struct virtq *q, bool suppress);

/* Where a queue stands: the driver's indexes and the device's, read to diagnose a stalled queue. */
struct virtq_state {
	uint16_t avail_idx;   /* the driver's avail->idx: chains it has posted */
	uint16_t last_avail;  /* chains the device has taken */
	uint16_t used_idx;    /* chains the device has returned */
	uint16_t in_flight;   /* taken and not returned */
	uint16_t used_event;  /* event index: the used entry the driver wants an interrupt for */
	uint16_t avail_event; /* event index: the avail entry the device wants a kick for */
	uint16_t avail_flags; /* without event index: VIRTQ_AVAIL_F_NO_INTERRUPT */
	uint16_t used_flags;  /* without event index: VIRTQ_USED_F_NO_NOTIFY */
};

/*
 * virtq_state: (q)'s indexes, its own and those the driver and device keep in guest RAM, into (s).
 * Returns 0, or -EINVAL when (q) has no valid rings (broken or not configured).
 */
int virtq_state(const struct virtq *q, struct virtq_state *s);

/*
 * Access to a popped chain's bytes, which virtq_pop() has checked lie in guest RAM. The driver may
 * change them at any time: copy what is to be checked, once, then check the copy.
 * virtq_chain_iov: iovecs (at most VIRTQ_CHAIN_MAX) for bytes [off, off + len) of the device-readable
 *   (writable false) or device-writable bytes of (c). Returns how many, or -1 when (c) has fewer bytes.
 * virtq_chain_read: copies device-readable bytes [off, off + len) of (c) to (dst). 0, or -1 when short.
 * virtq_chain_write: copies (len) bytes of (src) to device-writable bytes [off, off + len) of (c).
 *   0, or -1 when short (nothing written).
 */
int virtq_chain_iov(const struct virtq_chain *c, bool writable, uint32_t off, uint32_t len,
		    struct iovec *iov);
int virtq_chain_read(const struct virtq_chain *c, uint32_t off, void *dst, uint32_t len);
int virtq_chain_write(const struct virtq_chain *c, uint32_t off, const void *src, uint32_t len);

/* virtq_has_more: whether virtq_pop() on (q) would return something other than 0 (a chain or -EINVAL). */
bool virtq_has_more(struct virtq *q);

#endif
