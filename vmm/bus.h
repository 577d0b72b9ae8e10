/* bus.h: port-I/O and MMIO address decoding. */
#ifndef KVMINI_BUS_H
#define KVMINI_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../devices/dev.h"

struct bus_range {
	uint64_t base;
	uint64_t len;
	struct dev *dev;
};

/*
 * A sorted set of non-overlapping ranges. Ranges are added before the vCPUs start and never
 * change afterwards, so lookups take no lock.
 */
struct bus {
	const char *name;	/* "pio" or "mmio", for messages */
	uint8_t unclaimed_fill; /* what a read of nothing returns in each byte */
	struct bus_range *ranges;
	unsigned int nr, cap;
	atomic_uint_fast64_t unclaimed; /* accesses that hit nothing */
	atomic_flag warned;		/* the first of them was logged */
};

/* bus_init: an empty bus called (name); reads of unclaimed addresses return (fill) bytes. */
void bus_init(struct bus *b, const char *name, uint8_t fill);
/* bus_free: release (b)'s ranges (not the devices). */
void bus_free(struct bus *b);
/*
 * bus_add: map (d) at [base, base + len). Returns -EEXIST on overlap (logged, naming both devices and
 * their ranges), -EINVAL on len 0 or overflow, -ENOMEM.
 */
int bus_add(struct bus *b, uint64_t base, uint64_t len, struct dev *d);
/* bus_find: the range holding (addr), or NULL. */
const struct bus_range *bus_find(const struct bus *b, uint64_t addr);
/*
 * bus_access: read or write (len) bytes of (data) at (addr). An access that starts in a device is
 * handed to it at its offset; one that hits nothing is counted (first one logged) and a read of
 * it returns the fill bytes. Returns true when a device took it.
 */
bool bus_access(struct bus *b, uint64_t addr, void *data, uint32_t len, bool is_write);

#endif
