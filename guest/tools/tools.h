/* tools.h: what the static guest tools share: the seeded byte pattern and number parsing. */
#ifndef KVMINI_GUEST_TOOLS_H
#define KVMINI_GUEST_TOOLS_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_SEC 1000000000ULL

/* tools_mix: a 64-bit mixing function (the SplitMix64 finaliser) of word (i) of pattern (seed). */
static inline uint64_t tools_mix(uint64_t seed, uint64_t i)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ULL + i + 1;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * tools_pattern: the (len) bytes of the pattern of (seed) from offset (off), which need not be
 * aligned: byte i is byte (i % 8), little-endian, of tools_mix(seed, i / 8).
 */
static inline void tools_pattern(uint8_t *buf, uint64_t seed, uint64_t off, size_t len)
{
	size_t i = 0;

	while (i < len && (off + i) % 8) {
		uint64_t v = tools_mix(seed, (off + i) / 8);

		for (unsigned int b = (unsigned int)((off + i) % 8); b < 8 && i < len; b++)
			buf[i++] = (uint8_t)(v >> (8 * b));
	}
	for (; i + 8 <= len; i += 8) {
		uint64_t v = htole64(tools_mix(seed, (off + i) / 8));

		memcpy(buf + i, &v, 8);
	}
	if (i < len) {
		uint64_t v = tools_mix(seed, (off + i) / 8);

		for (unsigned int b = 0; i < len; b++)
			buf[i++] = (uint8_t)(v >> (8 * b));
	}
}

/*
 * tools_parse_u64: the whole of (s), a number in (base) (0: C's 0x and 0 prefixes too), with a K, M
 * or G suffix when (suffix), into (*out). Returns 0 or -EINVAL.
 */
static inline int tools_parse_u64(const char *s, int base, bool suffix, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno)
		return -EINVAL;
	if (suffix && *end != '\0' && end[1] == '\0') {
		const char *p = strchr("KMG", *end);

		if (!p)
			return -EINVAL;
		shift = 10 * (unsigned int)(p - "KMG" + 1);
		end++;
	}
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

/* tools_now_ns: CLOCK_MONOTONIC in nanoseconds, for timing runs. */
static inline uint64_t tools_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

#endif
