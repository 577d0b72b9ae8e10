/* mem.h: guest RAM, one memfd mapped once, and the one bounds-checked way into it. */
#ifndef KVMINI_MEM_H
#define KVMINI_MEM_H

#include <stdint.h>

#define GMEM_MAX_REGIONS 8 /* kvmini lays RAM out in 2; a vhost-user front end may send up to 8 */

/* A run of guest-physical RAM and where it lives in the memfd and in this process. */
struct gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t fd_offset;
	uint8_t *host;
};

/*
 * Guest RAM is a memfd, so that a device process can later map the very same pages.
 * RAM beyond (hole_start) is placed at 4 GiB, leaving [hole_start, 4 GiB) for MMIO.
 */
struct gmem {
	int fd;
	uint64_t size; /* bytes of RAM */
	uint8_t *base; /* the whole memfd, mapped shared */
	struct gmem_region regions[GMEM_MAX_REGIONS];
	unsigned int nr_regions;
};

/*
 * gmem_layout: (size) bytes of RAM from guest-physical (base) into (m)'s regions, what would reach the MMIO
 * hole at (hole_start) moved to 4 GiB (x86: base 0, the PCI hole; arm64: RAM at its base, UINT64_MAX: no hole).
 */
void gmem_layout(struct gmem *m, uint64_t base, uint64_t size, uint64_t hole_start);
/*
 * gmem_create: allocate (size) bytes of guest RAM, zeroed and lazily backed, laid out from (base)
 * around (hole_start) as gmem_layout says. Returns 0 or -errno.
 */
int gmem_create(struct gmem *m, uint64_t base, uint64_t size, uint64_t hole_start);
/* gmem_destroy: unmap and close (m)'s RAM. */
void gmem_destroy(struct gmem *m);
/*
 * gmem_ptr: the host address of guest-physical [gpa, gpa + len), or NULL when any byte of it is
 * not RAM or the range wraps. A range never spans two regions. (len) 0 checks (gpa) alone.
 */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);
/*
 * gmem_write: copy (len) bytes of (src) to guest-physical (gpa); gmem_read: from (gpa) into (dst).
 * The one way a copy crosses into or out of guest RAM. Return 0, or -EFAULT (nothing copied) when
 * any byte of the range is not RAM.
 */
int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, uint64_t len);
int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, uint64_t len);
/* gmem_zero: zero guest-physical [gpa, gpa + len). Returns 0 or -EFAULT, as gmem_write. */
int gmem_zero(const struct gmem *m, uint64_t gpa, uint64_t len);

#endif
