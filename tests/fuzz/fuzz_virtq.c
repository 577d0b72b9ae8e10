/*
 * fuzz_virtq.c: libFuzzer target for the split-virtqueue core: a hostile driver's rings and chains.
 *
 * Input: a 16-byte header, then the contents of guest RAM (missing bytes are zero).
 *   0: queue size, 1 << (byte % 16)      1: features: bit 0 INDIRECT_DESC, bit 1 EVENT_IDX
 *   2: rounds, 1 + byte % 4              3: how far the "driver" moves avail->idx between rounds
 *   4, 6, 8: le16 desc, avail, used: guest address (bit 15 picks the high region) + bits 0-14
 * Guest RAM is two regions, 4 KiB at 0 and 8 KiB at 4 GiB (room there for the rings of a 256-entry
 * queue and a full indirect table), each its own allocation so that ASan catches any access outside.
 *
 * Build: clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Ivmm -Idevices -Idevices/base \
 *            tests/fuzz/fuzz_virtq.c devices/virtio/virtq.c devices/base/mem.c -o build/tests/fuzz/fuzz_virtq
 * Seeds:  cc -std=c11 -D_GNU_SOURCE -DFUZZ_SEED_MAIN -Ivmm -Idevices -Idevices/base tests/fuzz/fuzz_virtq.c \
 *            devices/virtio/virtq.c devices/base/mem.c -o /tmp/virtq-seeds && /tmp/virtq-seeds tests/fuzz/corpus/virtq
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ram.h"
#include "mem.h"
#include "virtio/virtq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed invariant: crash loudly so that libFuzzer keeps the input. */
static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "virtq invariant broken: %s\n", what);
		abort();
	}
}

static bool in_region(const struct gmem *m, const uint8_t *p, uint32_t len)
{
	for (unsigned int i = 0; i < m->nr_regions; i++) {
		const uint8_t *h = m->regions[i].host;

		if (p >= h && p <= h + m->regions[i].size && len <= (size_t)(h + m->regions[i].size - p))
			return true;
	}
	return false;
}

/* Every popped chain: within bounds, readable before writable, counts add up; then used like a device. */
static void check_chain(const struct gmem *m, const struct virtq *q, const struct virtq_chain *c)
{
	uint64_t readable = 0, writable = 0;
	bool seen_writable = false;
	volatile uint8_t sink = 0;

	check(c->head < q->size, "head within the queue");
	check(c->nbufs >= 1 && c->nbufs <= VIRTQ_CHAIN_MAX, "buffer count within the chain maximum");
	check(c->nbufs <= 2u * q->size, "buffer count within the tables walked");
	for (unsigned int i = 0; i < c->nbufs; i++) {
		const struct virtq_buf *b = &c->bufs[i];

		check(in_region(m, b->host, b->len), "buffer inside guest RAM");
		check(b->device_writable || !seen_writable, "readable buffers before writable ones");
		seen_writable |= b->device_writable;
		if (b->device_writable) {
			writable += b->len;
			memset(b->host, 0xa5, b->len);
		} else {
			readable += b->len;
			for (uint32_t j = 0; j < b->len; j++)
				sink ^= b->host[j];
		}
	}
	check(readable == c->readable && writable == c->writable, "byte counts match the buffers");
	check(readable + writable <= UINT32_MAX, "chain under 4 GiB");
	(void)sink;
}

/*
 * Pop the chains the driver offers, pushing each back. Our own writes may land on avail->idx (the
 * rings and buffers can overlap), which a driver publishing fast also looks like: so the harness,
 * not the queue, bounds the loop.
 */
/* Every chain popped is checked, and pushed back as if the device wrote all it may. */
static uint32_t serve(void *ctx, const struct virtq *q, const struct virtq_chain *c)
{
	check_chain(ctx, q, c);
	return c->writable;
}

static void run(const struct gmem *m, const uint8_t *hdr)
{
	static struct virtq_chain c;
	struct virtq q;

	switch (fuzz_queue_rounds(m, hdr, &q, &c, serve, (void *)m)) {
	case -1:
		check(q.broken && virtq_pop(&q, &c) < 0, "a queue that failed to configure stays broken");
		break;
	case 1:
		check(q.broken && virtq_pop(&q, &c) < 0, "a broken queue stays broken");
		check(virtq_has_more(&q), "a broken queue has more to say");
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[HDR_LEN];
	struct gmem m;

	fuzz_ram_load(data, size, hdr, &m);
	run(&m, hdr);
	fuzz_ram_free(&m);
	return 0;
}

#ifdef FUZZ_SEED_MAIN
/* Seed corpus: a few well-formed queues and one classic attack, each a small file. */

/* Header: queue of 1 << (log2), (features), (rounds), (step), rings at low-region offsets. */
static void header(struct seed *s, uint8_t log2, uint8_t features, uint8_t rounds, uint8_t step,
		   uint16_t desc_at, uint16_t avail_at, uint16_t used_at)
{
	const uint8_t h[HDR_LEN] = { log2,	     features,	   rounds,	    step,
				     desc_at & 0xff, desc_at >> 8, avail_at & 0xff, avail_at >> 8,
				     used_at & 0xff, used_at >> 8 };

	memset(s, 0, sizeof(*s));
	memcpy(s->img, h, HDR_LEN);
	s->len = HDR_LEN;
}

static void seed_basic(struct seed *s)
{
	static const uint16_t heads[] = { 0, 3 };

	header(s, 3, 0, 2, 1, 0x000, 0x800, 0x900);
	desc(s, 0, 0, 0xa00, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(s, 0, 1, 0xb00, 1, VIRTQ_DESC_F_WRITE, 0);
	desc(s, 0, 3, HIGH_GPA + 0x100, 512, VIRTQ_DESC_F_WRITE, 0);
	offer(s, 0x800, heads, 2);
}

static void seed_indirect(struct seed *s)
{
	static const uint16_t heads[] = { 0, 1 };

	header(s, 3, 1, 1, 0, 0x000, 0x800, 0x900);
	desc(s, 0, 0, 0xc00, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(s, 0xc00, 0, 0xa00, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(s, 0xc00, 1, 0xa10, 64, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	desc(s, 0xc00, 2, 0xb00, 1, VIRTQ_DESC_F_WRITE, 0);
	/* Direct descriptors, then a table: legal, if unusual. */
	desc(s, 0, 1, 0xa00, 16, VIRTQ_DESC_F_NEXT, 2);
	desc(s, 0, 2, 0xd00, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(s, 0xd00, 0, HIGH_GPA, 4096, VIRTQ_DESC_F_WRITE, 0);
	offer(s, 0x800, heads, 2);
}

static void seed_event_idx(struct seed *s)
{
	static const uint16_t heads[] = { 0, 1, 2, 3 };

	header(s, 2, 2, 4, 3, 0x000, 0x800, 0x900);
	for (uint16_t i = 0; i < 4; i++)
		desc(s, 0, i, 0xa00 + 0x40ULL * i, 0x40, VIRTQ_DESC_F_WRITE, 0);
	offer(s, 0x800, heads, 4);
	poke16(s, 0x800 + 4 + 2 * 4, 1); /* used_event */
}

static void seed_loop(struct seed *s)
{
	static const uint16_t heads[] = { 5 };

	header(s, 3, 0, 1, 0, 0x000, 0x800, 0x900);
	desc(s, 0, 5, 0xa00, 16, VIRTQ_DESC_F_NEXT, 6);
	desc(s, 0, 6, 0xa00, 16, VIRTQ_DESC_F_NEXT, 5);
	offer(s, 0x800, heads, 1);
}

static void seed_big_queue(struct seed *s)
{
	uint16_t heads[128];

	/* 128 descriptors fill 2 KiB; the rings go to the high region. */
	header(s, 7, 3, 2, 128, 0x000, 0x8000, 0x8200);
	for (uint16_t i = 0; i < 128; i++) {
		desc(s, 0, i, 0x800 + 0x10ULL * i, 0x10, i % 2 ? VIRTQ_DESC_F_WRITE : 0, 0);
		heads[i] = (uint16_t)(127 - i);
	}
	offer(s, HIGH_GPA, heads, 128);
}

/* 199 direct buffers, then a table of 60: over VIRTQ_CHAIN_MAX though each part is within the queue. */
static void seed_chain_max(struct seed *s)
{
	static const uint16_t heads[] = { 0 };

	header(s, 8, 1, 1, 0, 0x000, 0x8000, 0x9000);
	for (uint16_t i = 0; i < 199; i++)
		desc(s, 0, i, 0x0, 16, VIRTQ_DESC_F_NEXT, i + 1);
	desc(s, 0, 199, HIGH_GPA + 0x210, 60 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	for (uint16_t i = 0; i < 60; i++)
		desc(s, HIGH_GPA + 0x210, i, 0x0, 16, i < 59 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	offer(s, HIGH_GPA, heads, 1);
}

int main(int argc, char **argv)
{
	static struct seed s;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	seed_basic(&s);
	emit(&s, argv[1], "basic");
	seed_indirect(&s);
	emit(&s, argv[1], "indirect");
	seed_event_idx(&s);
	emit(&s, argv[1], "event-idx");
	seed_loop(&s);
	emit(&s, argv[1], "loop");
	seed_big_queue(&s);
	emit(&s, argv[1], "big-queue");
	seed_chain_max(&s);
	emit(&s, argv[1], "chain-max");
	return 0;
}
#endif
