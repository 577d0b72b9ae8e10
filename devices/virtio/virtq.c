/* virtq.c: split virtqueues (virtio 1.2, 2.7), the device's side, against a hostile driver. */
#include "virtq.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* Rings are little-endian; kvmini reads them natively, so it only builds for little-endian hosts. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtq.c assumes a little-endian host");
_Static_assert(sizeof(struct virtq_desc) == 16, "struct virtq_desc must match the spec's layout");

#define DESC_SIZE 16
#define ELEM_SIZE 8 /* struct virtq_used_elem: le32 id, le32 len */

/* Offsets in the avail ring (flags, idx, ring[size], used_event) and the used ring. */
#define AVAIL_FLAGS 0
#define AVAIL_IDX   2
#define AVAIL_RING  4
#define USED_FLAGS  0
#define USED_IDX    2
#define USED_RING   4

/* A descriptor table being walked: the queue's own or one indirect table. */
struct table {
	const uint8_t *host;
	uint32_t n; /* entries */
	bool indirect;
};

/* Ring fields, aligned because virtq_configure() checked each ring's host address. */
static uint16_t *field16(uint8_t *ring, size_t off)
{
	return (uint16_t *)(void *)(ring + off);
}

static uint32_t *field32(uint8_t *ring, size_t off)
{
	return (uint32_t *)(void *)(ring + off);
}

static uint16_t *used_event(const struct virtq *q)
{
	return field16(q->avail, AVAIL_RING + 2 * (size_t)q->size);
}

static uint16_t *avail_event(const struct virtq *q)
{
	return field16(q->used, USED_RING + ELEM_SIZE * (size_t)q->size);
}

/* The host address of ring [gpa, gpa + len) with the spec's alignment, which the host address shares. */
static uint8_t *ring_ptr(const struct gmem *mem, uint64_t gpa, uint64_t len, uint64_t align)
{
	uint8_t *p;

	if (gpa & (align - 1))
		return NULL;
	p = gmem_ptr(mem, gpa, len);
	/* Atomics on the rings need aligned host addresses; regions are mapped page-aligned, so they are. */
	if (!p || ((uintptr_t)p & (align - 1)))
		return NULL;
	return p;
}

int virtq_configure(struct virtq *q, const struct gmem *mem, uint16_t size, uint64_t desc, uint64_t avail,
		    uint64_t used, uint64_t features)
{
	uint8_t *d, *a, *u;

	memset(q, 0, sizeof(*q));
	/* Until the rings check out, pop answers -EINVAL rather than touch them. */
	q->broken = true;
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	d = ring_ptr(mem, desc, (uint64_t)DESC_SIZE * size, 16);
	/* Sizes include used_event and avail_event whether or not EVENT_IDX is negotiated (spec 2.7). */
	a = ring_ptr(mem, avail, 6 + 2 * (uint64_t)size, 2);
	u = ring_ptr(mem, used, 6 + (uint64_t)ELEM_SIZE * size, 4);
	if (!d || !a || !u)
		return -EINVAL;
	q->mem = mem;
	q->size = size;
	q->desc = d;
	q->avail = a;
	q->used = u;
	q->event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	q->indirect = features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	q->broken = false;
	return 0;
}

int virtq_set_base(struct virtq *q, uint16_t base)
{
	if (!q->size || q->broken)
		return -EINVAL;
	q->last_avail = base;
	q->avail_shadow = base;
	q->used_idx = __atomic_load_n(field16(q->used, USED_IDX), __ATOMIC_ACQUIRE);
	q->in_flight = 0;
	return 0;
}

/*
 * Copy descriptor (i) of (t) out of guest RAM, once. The driver may rewrite it meanwhile; the
 * compiler barrier stops the compiler from re-reading guest memory in place of the copy, so what
 * is validated is what is used. memcpy, not atomics: an indirect table need not be aligned.
 */
static void read_desc(const struct table *t, uint32_t i, struct virtq_desc *d)
{
	memcpy(d, t->host + (size_t)i * DESC_SIZE, DESC_SIZE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* Append descriptor (d), already copied, to (c) once it checks out. Returns 0 or -EINVAL. */
static int add_buf(const struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	uint8_t *host;

	if (c->nbufs == VIRTQ_CHAIN_MAX)
		return -EINVAL;
	/* Device-readable buffers all come before device-writable ones (spec: Message Framing). */
	if (!writable && c->nbufs && c->bufs[c->nbufs - 1].device_writable)
		return -EINVAL;
	/* A chain holds less than 4 GiB in total (spec: Descriptor Table), so devices count in 32 bits. */
	if ((uint64_t)c->readable + c->writable + d->len > UINT32_MAX)
		return -EINVAL;
	host = gmem_ptr(q->mem, d->addr, d->len);
	if (!host)
		return -EINVAL;
	c->bufs[c->nbufs++] = (struct virtq_buf){ .host = host, .len = d->len, .device_writable = writable };
	if (writable)
		c->writable += d->len;
	else
		c->readable += d->len;
	return 0;
}

static int walk(const struct virtq *q, struct virtq_chain *c, const struct table *t, uint32_t i);

/* Follow descriptor (d), which points at an indirect table, to the end of its chain. */
static int walk_indirect(const struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
	struct table t = { .indirect = true };

	/* d's WRITE flag means nothing here and is ignored, as the spec requires (Indirect Descriptors). */
	if (!q->indirect || (d->flags & VIRTQ_DESC_F_NEXT))
		return -EINVAL;
	/* A chain is no longer than the queue size (spec: Indirect Descriptors), so neither is a table. */
	if (d->len == 0 || d->len % DESC_SIZE || d->len / DESC_SIZE > q->size)
		return -EINVAL;
	t.host = gmem_ptr(q->mem, d->addr, d->len);
	if (!t.host)
		return -EINVAL;
	t.n = d->len / DESC_SIZE;
	return walk(q, c, &t, 0);
}

/*
 * Follow the chain starting at entry (i) of (t) into (c). A chain visits each entry at most once,
 * so more steps than (t) has entries is a loop. Recursion is one level deep at most: an indirect
 * table may not point at another.
 */
static int walk(const struct virtq *q, struct virtq_chain *c, const struct table *t, uint32_t i)
{
	struct virtq_desc d;
	int ret;

	for (uint32_t steps = 0; steps < t->n; steps++) {
		if (i >= t->n)
			return -EINVAL;
		read_desc(t, i, &d);
		/* Zero or more direct descriptors, then at most one indirect one that ends the chain. */
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return t->indirect ? -EINVAL : walk_indirect(q, c, &d);
		ret = add_buf(q, c, &d);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
	return -EINVAL;
}

/* Whether a published entry is left to take: 1, 0, or -EINVAL (and broken) on a bad avail->idx. */
static int avail_pending(struct virtq *q)
{
	uint16_t idx;

	/* Re-read avail->idx only when the entries already seen run out: it is the contended line. */
	if (q->avail_shadow != q->last_avail)
		return 1;
	/* Acquire: the driver fills descriptors and ring entries, then publishes idx (spec: Updating idx). */
	idx = __atomic_load_n(field16(q->avail, AVAIL_IDX), __ATOMIC_ACQUIRE);
	/* More than size ahead (or a step back, which looks the same) would overwrite entries unseen. */
	if ((uint16_t)(idx - q->last_avail) > q->size) {
		q->broken = true;
		return -EINVAL;
	}
	q->avail_shadow = idx;
	return idx != q->last_avail;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	struct table t = { .host = q->desc, .n = q->size, .indirect = false };
	size_t slot;
	int ret;

	if (q->broken || q->size == 0)
		return -EINVAL;
	ret = avail_pending(q);
	if (ret <= 0)
		return ret;
	slot = AVAIL_RING + 2 * (size_t)(q->last_avail & (q->size - 1));
	c->head = __atomic_load_n(field16(q->avail, slot), __ATOMIC_RELAXED);
	c->nbufs = 0;
	c->readable = 0;
	c->writable = 0;
	if (walk(q, c, &t, c->head)) {
		q->broken = true;
		return -EINVAL;
	}
	q->last_avail++;
	q->in_flight++;
	return 1;
}

void virtq_unpop(struct virtq *q, uint16_t n)
{
	if (n > q->in_flight)
		n = q->in_flight;
	q->last_avail -= n;
	q->in_flight -= n;
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	return virtq_push_n(q, &head, &written, 1);
}

int virtq_push_n(struct virtq *q, const uint16_t *heads, const uint32_t *written, uint16_t n)
{
	if (q->size == 0 || n > q->size)
		return -EINVAL;
	for (uint16_t i = 0; i < n; i++)
		if (heads[i] >= q->size)
			return -EINVAL;
	for (uint16_t i = 0; i < n; i++) {
		size_t elem = USED_RING + ELEM_SIZE * (size_t)((uint16_t)(q->used_idx + i) & (q->size - 1));

		__atomic_store_n(field32(q->used, elem), heads[i], __ATOMIC_RELAXED);
		__atomic_store_n(field32(q->used, elem + 4), written[i], __ATOMIC_RELAXED);
	}
	q->used_idx = (uint16_t)(q->used_idx + n);
	q->in_flight = (uint16_t)(q->in_flight > n ? q->in_flight - n : 0);
	/* Release: the elements and the data written to the buffers are visible before idx (spec: Used Ring). */
	__atomic_store_n(field16(q->used, USED_IDX), q->used_idx, __ATOMIC_RELEASE);
	return 0;
}

/* The driver asked to hear of entry (event): was it among the entries [old, now) just written? */
static bool need_event(uint16_t event, uint16_t now, uint16_t old)
{
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old = q->notified_used;
	bool valid = q->notified_valid;

	if (q->size == 0 || (valid && old == q->used_idx))
		return false;
	q->notified_used = q->used_idx;
	q->notified_valid = true;
	/*
	 * Full barrier: our used->idx store must be visible before we read the driver's wishes, or the
	 * driver may read the old idx, re-enable interrupts, and we read the stale wish: a lost wakeup.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(__atomic_load_n(field16(q->avail, AVAIL_FLAGS), __ATOMIC_RELAXED) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	/* With event index the device ignores the flags; the first time it cannot know [old, now): notify. */
	if (!valid)
		return true;
	return need_event(__atomic_load_n(used_event(q), __ATOMIC_RELAXED), q->used_idx, old);
}

void virtq_kick_suppress(struct virtq *q, bool suppress)
{
	if (q->size == 0)
		return;
	if (q->event_idx) {
		/*
		 * Suppressing needs no write: avail_event stays at an entry the driver has passed, so
		 * it will not kick again until it wraps 65536 entries later. Resuming asks for a kick
		 * when the driver publishes the entry we take next. used->flags stays 0, as the spec requires.
		 */
		if (!suppress)
			__atomic_store_n(avail_event(q), q->last_avail, __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(field16(q->used, USED_FLAGS), suppress ? VIRTQ_USED_F_NO_NOTIFY : 0,
				 __ATOMIC_RELAXED);
	}
	/* Full barrier: the driver must see kicks re-enabled before virtq_has_more() reads avail->idx. */
	if (!suppress)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtq_has_more(struct virtq *q)
{
	if (q->broken || q->size == 0)
		return true;
	return avail_pending(q) != 0;
}

int virtq_state(const struct virtq *q, struct virtq_state *s)
{
	if (q->size == 0 || !q->avail || !q->used)
		return -EINVAL;
	*s = (struct virtq_state){
		.avail_idx = __atomic_load_n(field16(q->avail, AVAIL_IDX), __ATOMIC_RELAXED),
		.last_avail = q->last_avail,
		.used_idx = q->used_idx,
		.in_flight = q->in_flight,
		.used_event = __atomic_load_n(used_event(q), __ATOMIC_RELAXED),
		.avail_event = __atomic_load_n(avail_event(q), __ATOMIC_RELAXED),
		.avail_flags = __atomic_load_n(field16(q->avail, AVAIL_FLAGS), __ATOMIC_RELAXED),
		.used_flags = __atomic_load_n(field16(q->used, USED_FLAGS), __ATOMIC_RELAXED),
	};
	return 0;
}

int virtq_chain_iov(const struct virtq_chain *c, bool writable, uint32_t off, uint32_t len, struct iovec *iov)
{
	int n = 0;

	for (unsigned int i = 0; i < c->nbufs && len; i++) {
		const struct virtq_buf *b = &c->bufs[i];
		uint32_t take;

		if (b->device_writable != writable)
			continue;
		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		take = b->len - off < len ? b->len - off : len;
		iov[n++] = (struct iovec){ .iov_base = b->host + off, .iov_len = take };
		len -= take;
		off = 0;
	}
	return len ? -1 : n;
}

/* Copies the chain's bytes [off, off + len) to (out), or (in) to them (device-writable bytes then). */
static int chain_copy(const struct virtq_chain *c, uint32_t off, uint32_t len, void *out, const void *in)
{
	struct iovec iov[VIRTQ_CHAIN_MAX];
	int n = virtq_chain_iov(c, in != NULL, off, len, iov);
	size_t at = 0;

	for (int i = 0; i < n; i++) {
		if (in)
			memcpy(iov[i].iov_base, (const uint8_t *)in + at, iov[i].iov_len);
		else
			memcpy((uint8_t *)out + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
	}
	return n < 0 ? -1 : 0;
}

int virtq_chain_read(const struct virtq_chain *c, uint32_t off, void *dst, uint32_t len)
{
	return chain_copy(c, off, len, dst, NULL);
}

int virtq_chain_write(const struct virtq_chain *c, uint32_t off, const void *src, uint32_t len)
{
	return chain_copy(c, off, len, NULL, src);
}
