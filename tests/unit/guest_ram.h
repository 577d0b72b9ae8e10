/* guest_ram.h: guest RAM as the unit tests' drivers see it: checked pointers and little-endian fields. */
#ifndef KVMINI_TEST_GUEST_RAM_H
#define KVMINI_TEST_GUEST_RAM_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"

/* ram_at: the host address of guest [gpa, gpa + len) in (g); the test fails if it is not RAM. */
static inline void *ram_at(const struct gmem *g, uint64_t gpa, uint64_t len)
{
	void *p = gmem_ptr(g, gpa, len);

	cr_assert_not_null(p, "the test's range at 0x%llx is not in RAM", (unsigned long long)gpa);
	return p;
}

static inline void ram_put16(const struct gmem *g, uint64_t gpa, uint16_t v)
{
	memcpy(ram_at(g, gpa, 2), &v, 2);
}

static inline uint16_t ram_get16(const struct gmem *g, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, ram_at(g, gpa, 2), 2);
	return v;
}

static inline uint32_t ram_get32(const struct gmem *g, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, ram_at(g, gpa, 4), 4);
	return v;
}

#endif
