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

#ifdef FUZZ_SEED_MAIN
/* Seed writers: an input file built as the guest RAM it stands for. */
#include <stdio.h>

#include "virtio/virtq.h"

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
