/*
 * fuzz_boot.h: what the boot-loader targets (fuzz_bzimage, fuzz_multiboot, fuzz_image) share: guest RAM on the
 * heap, a memfd standing in for the initrd or module file, and log.h's log_msg() replaced by one that
 * formats each line (ASan then sees every argument) and counts them, so that a target can check the
 * house rule: a failure is logged once, as one line naming the file; a success logs no error.
 * Include it once, from a target that defines check() and links no devices/base/log.c; memfd_create() wants
 * _GNU_SOURCE, which the Makefile defines.
 */
#ifndef KVMINI_FUZZ_BOOT_H
#define KVMINI_FUZZ_BOOT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

static void check(bool ok, const char *what);

/* What the loader logged since fuzz_log_reset(). */
static struct {
	unsigned int errors, warnings;
	const char *names[2]; /* the files a message may name */
	bool named;	      /* every message named one of them */
} fuzz_log;

static inline void fuzz_log_reset(const char *a, const char *b)
{
	fuzz_log.errors = fuzz_log.warnings = 0;
	fuzz_log.names[0] = a;
	fuzz_log.names[1] = b;
	fuzz_log.named = true;
}

int log_enabled(enum log_level level)
{
	return level <= LOG_WARN;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	check(n > 0, "a message says something");
	if (level == LOG_ERR)
		fuzz_log.errors++;
	else if (level == LOG_WARN)
		fuzz_log.warnings++;
	if (!(fuzz_log.names[0] && strstr(line, fuzz_log.names[0])) &&
	    !(fuzz_log.names[1] && strstr(line, fuzz_log.names[1])))
		fuzz_log.named = false;
}

/*
 * fuzz_ram: (m) as (size) bytes of RAM at guest address 0, one allocation, so that ASan sees past its
 * end, every byte (poison): what the loader never wrote shows. Returns its host address.
 */
static inline uint8_t *fuzz_ram(struct gmem *m, uint64_t size, uint8_t poison)
{
	uint8_t *p = aligned_alloc(4096, size);

	if (!p)
		abort();
	memset(p, poison, size);
	*m = (struct gmem){ .fd = -1, .size = size, .nr_regions = 1 };
	m->regions[0] = (struct gmem_region){ .gpa = 0, .size = size, .fd_offset = 0, .host = p };
	return p;
}

/* fuzz_initrd_byte: byte (i) of the initrd the Linux loaders' targets hand over (fuzz_file's pattern). */
static inline uint8_t fuzz_initrd_byte(size_t i)
{
	return (uint8_t)(i * 13 + (i >> 8) + 1);
}

/*
 * fuzz_file: a file of (len) bytes of (pattern(i)) that the loader opens by the returned path, a memfd
 * reached through /proc/self/fd: nothing is left on disk. The path lives as long as the process.
 */
static inline const char *fuzz_file(const char *name, size_t len, uint8_t (*pattern)(size_t i))
{
	static char paths[2][64];
	static unsigned int n;
	int fd = memfd_create(name, MFD_CLOEXEC);
	uint8_t buf[256];

	if (fd < 0 || n >= 2)
		abort();
	for (size_t off = 0; off < len; off += sizeof(buf)) {
		size_t k = len - off < sizeof(buf) ? len - off : sizeof(buf);

		for (size_t i = 0; i < k; i++)
			buf[i] = pattern(off + i);
		if (write(fd, buf, k) != (ssize_t)k)
			abort();
	}
	snprintf(paths[n], sizeof(paths[n]), "/proc/self/fd/%d", fd);
	return paths[n++];
}

#endif
