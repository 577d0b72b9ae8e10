/* mem.c: guest RAM, one memfd mapped once, and the one bounds-checked way into it. */

#include "mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FOUR_GIB 0x100000000ULL

void gmem_layout(struct gmem *m, uint64_t base, uint64_t size, uint64_t hole_start)
{
	uint64_t low = size < hole_start - base ? size : hole_start - base;

	m->size = size;
	m->nr_regions = 0;
	m->regions[m->nr_regions++] = (struct gmem_region){ .gpa = base, .size = low, .fd_offset = 0 };
	if (size > low)
		m->regions[m->nr_regions++] =
			(struct gmem_region){ .gpa = FOUR_GIB, .size = size - low, .fd_offset = low };
}

int gmem_create(struct gmem *m, uint64_t base, uint64_t size, uint64_t hole_start)
{
	void *p;

	memset(m, 0, sizeof(*m));
	m->fd = memfd_create("kvmini-guest-ram", MFD_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, (off_t)size) < 0)
		goto fail;
	/* NORESERVE: RAM the guest never touches costs nothing. */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	m->base = p;
	gmem_layout(m, base, size, hole_start);
	for (unsigned int i = 0; i < m->nr_regions; i++)
		m->regions[i].host = m->base + m->regions[i].fd_offset;
	/* Keep guest RAM out of core dumps of kvmini: it is the guest's, and large. */
	madvise(m->base, size, MADV_DONTDUMP);
	return 0;
fail : {
	int err = -errno;

	close(m->fd);
	m->fd = -1;
	return err;
}
}

void gmem_destroy(struct gmem *m)
{
	if (m->base)
		munmap(m->base, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->base = NULL;
	m->fd = -1;
}

int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = gmem_ptr(m, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, uint64_t len)
{
	const void *src = gmem_ptr(m, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gmem_zero(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	void *dst = gmem_ptr(m, gpa, len);

	if (!dst)
		return -EFAULT;
	memset(dst, 0, len);
	return 0;
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < m->nr_regions; i++) {
		const struct gmem_region *r = &m->regions[i];
		uint64_t off;

		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		off = gpa - r->gpa;
		/* Written so that no sum can wrap: off < size, so size - off is exact. */
		if (len > r->size - off)
			return NULL;
		return r->host + off;
	}
	return NULL;
}
