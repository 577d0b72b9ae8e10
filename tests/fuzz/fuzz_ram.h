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

#endif
