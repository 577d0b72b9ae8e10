/* bus.c: port-I/O and MMIO address decoding. */
#include "bus.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../devices/base/log.h"

void bus_init(struct bus *b, const char *name, uint8_t fill)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	b->unclaimed_fill = fill;
	atomic_init(&b->unclaimed, 0);
	atomic_flag_clear(&b->warned);
}

void bus_free(struct bus *b)
{
	free(b->ranges);
	b->ranges = NULL;
	b->nr = b->cap = 0;
}

/* Names both devices of a clash and their ranges, as one line. Returns -EEXIST. */
static int clash(const struct bus *b, uint64_t base, uint64_t len, const struct dev *d,
		 const struct bus_range *r)
{
	log_err("bus %s: cannot place %s at [0x%" PRIx64 ", 0x%" PRIx64 "): it overlaps %s at [0x%" PRIx64
		", 0x%" PRIx64 ")",
		b->name, d->ops->name, base, base + len, r->dev->ops->name, r->base, r->base + r->len);
	return -EEXIST;
}

int bus_add(struct bus *b, uint64_t base, uint64_t len, struct dev *d)
{
	unsigned int i;

	if (len == 0 || base + len < base || !d)
		return -EINVAL;
	for (i = 0; i < b->nr && b->ranges[i].base < base; i++)
		;
	if (i > 0 && b->ranges[i - 1].base + b->ranges[i - 1].len > base)
		return clash(b, base, len, d, &b->ranges[i - 1]);
	if (i < b->nr && base + len > b->ranges[i].base)
		return clash(b, base, len, d, &b->ranges[i]);
	if (b->nr == b->cap) {
		unsigned int cap = b->cap ? b->cap * 2 : 8;
		struct bus_range *r = realloc(b->ranges, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		b->ranges = r;
		b->cap = cap;
	}
	memmove(&b->ranges[i + 1], &b->ranges[i], (b->nr - i) * sizeof(*b->ranges));
	b->ranges[i] = (struct bus_range){ .base = base, .len = len, .dev = d };
	b->nr++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *b, uint64_t addr)
{
	unsigned int lo = 0, hi = b->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->ranges[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_access(struct bus *b, uint64_t addr, void *data, uint32_t len, bool is_write)
{
	const struct bus_range *r = bus_find(b, addr);

	if (r) {
		const struct dev_ops *ops = r->dev->ops;

		if (is_write) {
			if (ops->write)
				ops->write(r->dev, addr - r->base, data, len);
		} else {
			memset(data, 0, len);
			if (ops->read)
				ops->read(r->dev, addr - r->base, data, len);
		}
		return true;
	}
	if (!is_write)
		memset(data, b->unclaimed_fill, len);
	atomic_fetch_add_explicit(&b->unclaimed, 1, memory_order_relaxed);
	if (!atomic_flag_test_and_set(&b->warned))
		log_debug("%s %s of %u bytes at 0x%" PRIx64 " hit no device (counted; logged once)", b->name,
			  is_write ? "write" : "read", len, addr);
	return false;
}
