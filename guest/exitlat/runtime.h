/* runtime.h: what a freestanding 32-bit build may call behind our back: 64-bit division, memcpy, memset. */
#ifndef EXITLAT_RUNTIME_H
#define EXITLAT_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

/* __udivdi3, __umoddi3: (n) / (d) and (n) % (d) for uint64_t, as libgcc names them; (d) must not be 0. */
uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);
/* memcpy, memset: the C library contract ((n) bytes; regions of memcpy must not overlap). */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);

#endif
