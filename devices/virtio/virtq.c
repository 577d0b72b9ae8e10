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

/* The inflight region of one queue (vhost-user.rst): its header, then one entry a descriptor. */
#define INF_VERSION    8 /* u16, after the u64 features */
#define INF_DESC_NUM   10
#define INF_BATCH_HEAD 12
#define INF_USED_IDX   14
#define INF_DESC       16
#define INF_DESC_SIZE  16
#define INF_D_INFLIGHT 0 /* u8, then 5 bytes of padding */
#define INF_D_NEXT     6
#define INF_D_COUNTER  8
#define INF_VERSION_1  1

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

/*
 * The inflight region's fields. It is memory the front end shares: read each once, with atomics (the
 * front end could write it meanwhile), and check what is read before it indexes anything.
 */
static uint8_t *inf_desc(const struct virtq *q, uint16_t i)
{
	return q->inflight + INF_DESC + (size_t)i * INF_DESC_SIZE;
}

static uint16_t inf_load16(const struct virtq *q, size_t off)
{
	return __atomic_load_n(field16(q->inflight, off), __ATOMIC_ACQUIRE);
}

static void inf_store16(const struct virtq *q, size_t off, uint16_t v)
{
	__atomic_store_n(field16(q->inflight, off), v, __ATOMIC_RELEASE);
}

static bool inf_marked(const struct virtq *q, uint16_t i)
{
	return __atomic_load_n(inf_desc(q, i) + INF_D_INFLIGHT, __ATOMIC_ACQUIRE) != 0;
}

/* Release: a mark is cleared only after what came before it (used->idx) is visible. */
static void inf_mark(const struct virtq *q, uint16_t i, bool on)
{
	__atomic_store_n(inf_desc(q, i) + INF_D_INFLIGHT, (uint8_t)on, __ATOMIC_RELEASE);
}

static uint64_t *inf_counter(const struct virtq *q, uint16_t i)
{
	return (uint64_t *)(void *)(inf_desc(q, i) + INF_D_COUNTER);
}

size_t virtq_inflight_size(uint16_t size)
{
	size_t len = INF_DESC + (size_t)size * INF_DESC_SIZE;

	return (len + VIRTQ_INFLIGHT_ALIGN - 1) & ~(size_t)(VIRTQ_INFLIGHT_ALIGN - 1);
}

int virtq_set_inflight(struct virtq *q, void *region, size_t len)
{
	q->inflight = NULL;
	q->resubmit_left = 0;
	if (!region)
		return 0;
	/* The counters are u64s: the region must be aligned for them (a mapping is page-aligned). */
	if (!q->size || q->broken || ((uintptr_t)region & 7) || len < virtq_inflight_size(q->size))
		return -EINVAL;
	q->inflight = region;
	return 0;
}

/* Start the region afresh, nothing in flight, in step with the ring's used index (used). */
static void inflight_reset(struct virtq *q, uint16_t used)
{
	for (uint16_t i = 0; i < q->size; i++) {
		inf_mark(q, i, false);
		__atomic_store_n(field16(inf_desc(q, i), INF_D_NEXT), 0, __ATOMIC_RELAXED);
		__atomic_store_n(inf_counter(q, i), 0, __ATOMIC_RELAXED);
	}
	if (inf_load16(q, INF_DESC_NUM) < q->size)
		inf_store16(q, INF_DESC_NUM, q->size);
	inf_store16(q, INF_BATCH_HEAD, 0);
	inf_store16(q, INF_USED_IDX, used);
	inf_store16(q, INF_VERSION, INF_VERSION_1);
	q->batch_head = 0;
	q->counter = 1;
}

/*
 * The back end before may have died between publishing used->idx (used) and clearing the marks of the
 * chains it returned with it: clear them now, following the list from last_batch_head for as many
 * entries as used->idx moved. Returns 0, or -EINVAL when the batch or its list leaves the ring.
 */
static int inflight_fix_batch(struct virtq *q, uint16_t used)
{
	uint16_t batch = (uint16_t)(used - inf_load16(q, INF_USED_IDX));
	uint16_t head = inf_load16(q, INF_BATCH_HEAD);

	if (!batch)
		return 0;
	if (batch > q->size)
		return -EINVAL;
	for (uint16_t k = 0; k < batch; k++) {
		if (head >= q->size)
			return -EINVAL;
		inf_mark(q, head, false);
		head = __atomic_load_n(field16(inf_desc(q, head), INF_D_NEXT), __ATOMIC_ACQUIRE);
	}
	inf_store16(q, INF_USED_IDX, used);
	return 0;
}

int virtq_inflight_resume(struct virtq *q)
{
	uint16_t used, posted, n = 0;
	uint64_t last = 0;

	if (!q->inflight || q->broken || !q->size)
		return 0;
	used = __atomic_load_n(field16(q->used, USED_IDX), __ATOMIC_ACQUIRE);
	if (inf_load16(q, INF_VERSION) == 0) {
		inflight_reset(q, used);
		return 0;
	}
	if (inf_load16(q, INF_DESC_NUM) < q->size || inflight_fix_batch(q, used) < 0)
		goto bad;
	/* Only entries of the ring's own heads count: the loop is bounded by its size. */
	for (uint16_t i = 0; i < q->size; i++) {
		uint64_t counter = __atomic_load_n(inf_counter(q, i), __ATOMIC_RELAXED);

		if (!inf_marked(q, i))
			continue;
		n++;
		last = counter > last ? counter : last;
	}
	/* Each chain in flight was posted by the driver past used->idx: no more can be. */
	posted = (uint16_t)(__atomic_load_n(field16(q->avail, AVAIL_IDX), __ATOMIC_ACQUIRE) - used);
	if (posted < n)
		goto bad;
	q->used_idx = used;
	q->last_avail = (uint16_t)(used + n);
	q->avail_shadow = q->last_avail;
	q->in_flight = 0;
	q->resubmit_left = n;
	q->resubmit_started = false;
	q->counter = last + 1;
	q->batch_head = 0;
	return n;
bad:
	inflight_reset(q, used);
	return -EINVAL;
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

/* Whether order mark (c, h) comes before (c2, h2): by counter, then by head (a region may repeat one). */
static bool before(uint64_t c, uint16_t h, uint64_t c2, uint16_t h2)
{
	return c < c2 || (c == c2 && h < h2);
}

/*
 * The next chain to take again: the marked entry whose (counter, head) comes next after the last one
 * taken again. A scan of the ring's entries each time: no list to keep, and it happens once a restart.
 * Returns whether there is one, in (*head); none left ends the resubmission.
 */
static bool next_resubmit(struct virtq *q, uint16_t *head)
{
	uint64_t best_counter = 0;
	bool found = false;

	for (uint16_t i = 0; i < q->size; i++) {
		uint64_t counter = __atomic_load_n(inf_counter(q, i), __ATOMIC_RELAXED);

		if (!inf_marked(q, i))
			continue;
		if (q->resubmit_started && !before(q->resubmit_counter, q->resubmit_head, counter, i))
			continue;
		if (!found || before(counter, i, best_counter, *head)) {
			best_counter = counter;
			*head = i;
			found = true;
		}
	}
	q->resubmit_left = found ? q->resubmit_left - 1 : 0;
	q->resubmit_started = true;
	q->resubmit_counter = best_counter;
	q->resubmit_head = *head;
	return found;
}

/* Read the chain at (head) into (c). Returns 0, or -EINVAL (and (q) broken) when it breaks the rules. */
static int take(struct virtq *q, struct virtq_chain *c, uint16_t head)
{
	struct table t = { .host = q->desc, .n = q->size, .indirect = false };

	c->head = head;
	c->nbufs = 0;
	c->readable = 0;
	c->writable = 0;
	if (walk(q, c, &t, head)) {
		q->broken = true;
		return -EINVAL;
	}
	q->in_flight++;
	return 0;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	uint16_t head = 0;
	size_t slot;
	int ret;

	if (q->broken || q->size == 0)
		return -EINVAL;
	/* Chains in flight when the back end before died go first, still marked, with their counters. */
	if (q->resubmit_left && next_resubmit(q, &head))
		return take(q, c, head) < 0 ? -EINVAL : 1;
	ret = avail_pending(q);
	if (ret <= 0)
		return ret;
	slot = AVAIL_RING + 2 * (size_t)(q->last_avail & (q->size - 1));
	head = __atomic_load_n(field16(q->avail, slot), __ATOMIC_RELAXED);
	if (take(q, c, head) < 0)
		return -EINVAL;
	q->last_avail++;
	if (q->inflight) {
		/* The counter first: a mark must never be seen with the counter of a chain before. */
		__atomic_store_n(inf_counter(q, head), q->counter++, __ATOMIC_RELAXED);
		inf_mark(q, head, true);
	}
	return 1;
}

void virtq_unpop(struct virtq *q, uint16_t n)
{
	if (n > q->in_flight)
		n = q->in_flight;
	for (uint16_t k = 1; q->inflight && k <= n; k++) {
		size_t slot = AVAIL_RING + 2 * (size_t)((uint16_t)(q->last_avail - k) & (q->size - 1));
		uint16_t head = __atomic_load_n(field16(q->avail, slot), __ATOMIC_RELAXED);

		/* Given back, not in flight: a back end after this one would serve it twice. */
		if (head < q->size)
			inf_mark(q, head, false);
	}
	q->last_avail -= n;
	q->in_flight -= n;
}

/* Before used->idx moves: link the batch's heads into the list a fix-up follows from last_batch_head. */
static void inflight_batch(struct virtq *q, const uint16_t *heads, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		__atomic_store_n(field16(inf_desc(q, heads[i]), INF_D_NEXT), q->batch_head, __ATOMIC_RELAXED);
		q->batch_head = heads[i];
	}
	inf_store16(q, INF_BATCH_HEAD, q->batch_head);
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
	if (q->inflight)
		inflight_batch(q, heads, n);
	for (uint16_t i = 0; i < n; i++) {
		size_t elem = USED_RING + ELEM_SIZE * (size_t)((uint16_t)(q->used_idx + i) & (q->size - 1));

		__atomic_store_n(field32(q->used, elem), heads[i], __ATOMIC_RELAXED);
		__atomic_store_n(field32(q->used, elem + 4), written[i], __ATOMIC_RELAXED);
	}
	q->used_idx = (uint16_t)(q->used_idx + n);
	q->in_flight = (uint16_t)(q->in_flight > n ? q->in_flight - n : 0);
	/* Release: the elements and the data written to the buffers are visible before idx (spec: Used Ring). */
	__atomic_store_n(field16(q->used, USED_IDX), q->used_idx, __ATOMIC_RELEASE);
	if (q->inflight) {
		/* Then the marks, then the region's used_idx: a death between is what the fix-up mends. */
		for (uint16_t i = 0; i < n; i++)
			inf_mark(q, heads[i], false);
		inf_store16(q, INF_USED_IDX, q->used_idx);
	}
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
	if (q->broken || q->size == 0 || q->resubmit_left)
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
