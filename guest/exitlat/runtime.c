/* runtime.c: what a freestanding 32-bit build may call behind our back: 64-bit division, memcpy, memset. */
#include "runtime.h"

/* Shift-and-subtract: only decimal printing and percentile ranks divide, never in a timed loop. */
static uint64_t udivmod(uint64_t n, uint64_t d, uint64_t *rem)
{
	uint64_t q = 0, r = 0;

	if (d == 0) {
		*rem = 0; /* undefined in C: pick something rather than loop */
		return ~0ull;
	}
	if (!(n >> 32) && !(d >> 32)) {
		*rem = (uint32_t)n % (uint32_t)d;
		return (uint32_t)n / (uint32_t)d;
	}
	for (int i = 63; i >= 0; i--) {
		uint64_t carry = r >> 63; /* r << 1 would lose it; then r is surely >= d */

		r = r << 1 | (n >> i & 1);
		if (carry || r >= d) {
			r -= d;
			q |= 1ull << i;
		}
	}
	*rem = r;
	return q;
}

uint64_t __udivdi3(uint64_t n, uint64_t d)
{
	uint64_t r;

	return udivmod(n, d, &r);
}

uint64_t __umoddi3(uint64_t n, uint64_t d)
{
	uint64_t r;

	udivmod(n, d, &r);
	return r;
}

/* String instructions: a C loop here could be turned back into a call to memset by the optimiser. */
void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ __volatile__("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ __volatile__("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}
