/* runtime.h: what a freestanding build may call behind our back: memcpy and memset. */
#ifndef EXITLAT_ARM64_RUNTIME_H
#define EXITLAT_ARM64_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

/* memcpy, memset: the C library contract ((n) bytes; regions of memcpy must not overlap). */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);

#endif
