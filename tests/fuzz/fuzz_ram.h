/*
 * fuzz_ram.h: the guest RAM the fuzz targets share: a 16-byte header of the input, then the input's
 * contents as two regions, 4 KiB at 0 and 8 KiB at 4 GiB (missing bytes zero), each its own
 * allocation so that ASan catches any access outside. struct gmem's fields are public: RAM over plain
 * buffers, as a device process will see it.
 */
#ifndef KVMINI_FUZZ_RAM_H
#define KVMINI_FUZZ_RAM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "virtio/virtq.h"

#define HDR_LEN	  16
#define LOW_SIZE  4096
#define HIGH_SIZE 8192
#define HIGH_GPA  0x100000000ULL

/* A le16 of the header as a guest address: bit 15 picks the high region, bits 0-14 the offset in it. */
static inline uint64_t gpa_of(const uint8_t *p)
{
	uint16_t v = (uint16_t)(p[0] | p[1] << 8);

	return (v & 0x8000 ? HIGH_GPA : 0) + (v & 0x7fff);
}

/* fuzz_ram_load: (hdr) and (m) from the input (data, size); free with fuzz_ram_free. */
static inline void fuzz_ram_load(const uint8_t *data, size_t size, uint8_t hdr[HDR_LEN], struct gmem *m)
{
	uint8_t *low = aligned_alloc(4096, LOW_SIZE);
	uint8_t *high = aligned_alloc(4096, HIGH_SIZE);
	size_t ram_len = size > HDR_LEN ? size - HDR_LEN : 0;

	if (!low || !high)
		abort();
	memset(hdr, 0, HDR_LEN);
	memcpy(hdr, data, size < HDR_LEN ? size : HDR_LEN);
	memset(low, 0, LOW_SIZE);
	memset(high, 0, HIGH_SIZE);
	memcpy(low, data + HDR_LEN, ram_len < LOW_SIZE ? ram_len : LOW_SIZE);
	if (ram_len > LOW_SIZE)
		memcpy(high, data + HDR_LEN + LOW_SIZE,
		       ram_len - LOW_SIZE < HIGH_SIZE ? ram_len - LOW_SIZE : HIGH_SIZE);
	*m = (struct gmem){ .fd = -1, .size = LOW_SIZE + HIGH_SIZE, .nr_regions = 2 };
	m->regions[0] = (struct gmem_region){ .gpa = 0, .size = LOW_SIZE, .fd_offset = 0, .host = low };
	m->regions[1] = (struct gmem_region){
		.gpa = HIGH_GPA, .size = HIGH_SIZE, .fd_offset = LOW_SIZE, .host = high
	};
}

static inline void fuzz_ram_free(struct gmem *m)
{
	free(m->regions[0].host);
	free(m->regions[1].host);
}

/* The ring features the header asks for: bit 0 indirect descriptors, bit 1 event index. */
static inline uint64_t fuzz_ring_features(const uint8_t *hdr)
{
	return (hdr[1] & 1 ? 1ULL << VIRTIO_RING_F_INDIRECT_DESC : 0) |
	       (hdr[1] & 2 ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0);
}

/* A target's answer to one popped chain: the bytes it wrote (the used length). */
typedef uint32_t fuzz_serve_fn(void *ctx, const struct virtq *q, const struct virtq_chain *c);

/*
 * fuzz_queue_rounds: the queue the header describes (2^(hdr[0] % 16) entries, fuzz_ring_features(),
 * descriptor table, avail and used rings at the addresses in hdr[4..9]) on (m), served for 1 + hdr[2]
 * % 4 rounds: each pops and pushes every chain through (serve), bounded by four times the queue size,
 * and then the driver offers hdr[3] more entries (old ring slots, perhaps rewritten by the pushes).
 * Returns -1 when the queue did not configure, 1 when the device found it broken, 0 otherwise.
 */
static inline int fuzz_queue_rounds(const struct gmem *m, const uint8_t *hdr, struct virtq *q,
				    struct virtq_chain *c, fuzz_serve_fn *serve, void *ctx)
{
	uint64_t avail = gpa_of(hdr + 6);
	int r = 0;

	if (virtq_configure(q, m, (uint16_t)(1u << (hdr[0] % 16)), gpa_of(hdr + 4), avail, gpa_of(hdr + 8),
			    fuzz_ring_features(hdr)))
		return -1;
	for (unsigned int round = 0; round < 1u + hdr[2] % 4; round++) {
		uint16_t *idx = gmem_ptr(m, avail + 2, 2);

		virtq_kick_suppress(q, true);
		for (unsigned int n = 0; n < 4u * q->size + 4 && (r = virtq_pop(q, c)) > 0; n++)
			if (virtq_push(q, c->head, serve(ctx, q, c)) != 0)
				abort(); /* a popped head is always pushed */
		if (r < 0)
			return 1;
		(void)virtq_should_notify(q);
		virtq_kick_suppress(q, false);
		(void)virtq_has_more(q);
		*idx = (uint16_t)(*idx + hdr[3]);
	}
	return 0;
}

#ifdef FUZZ_SEED_MAIN
/* Seed writers: an input file built as the guest RAM it stands for. */
#include <stdio.h>

#define IMG_LEN (HDR_LEN + LOW_SIZE + HIGH_SIZE)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seed {
	uint8_t img[IMG_LEN];
	size_t len; /* bytes written so far: the file ends at the last one */
};

/* poke: (n) bytes of (v) at guest address (gpa) of the seed. */
static inline void poke(struct seed *s, uint64_t gpa, const void *v, size_t n)
{
	size_t off = HDR_LEN + (gpa >= HIGH_GPA ? LOW_SIZE + (gpa - HIGH_GPA) : gpa);

	if (off + n > IMG_LEN)
		abort();
	memcpy(s->img + off, v, n);
	if (off + n > s->len)
		s->len = off + n;
}

static inline void poke16(struct seed *s, uint64_t gpa, uint16_t v)
{
	poke(s, gpa, &v, 2);
}

/* desc: descriptor (i) of the table at (table). */
static inline void desc(struct seed *s, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	poke(s, table + 16ULL * i, &d, sizeof(d));
}

/* offer: (n) heads in the avail ring at (avail), and avail->idx past them. */
static inline void offer(struct seed *s, uint64_t avail, const uint16_t *heads, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		poke16(s, avail + 4 + 2ULL * i, heads[i]);
	poke16(s, avail + 2, n);
}

/* emit: write the seed to (dir)/(name), then run it once: every seed must run clean. */
static inline void emit(const struct seed *s, const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->img, 1, s->len, f) != s->len || fclose(f)) {
		perror(path);
		exit(1);
	}
	LLVMFuzzerTestOneInput(s->img, s->len);
}
#endif

#endif
