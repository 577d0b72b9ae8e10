/*
 * blkpattern: write or check a reproducible byte pattern on a disk or file, in the guest and on the host.
 *
 * Usage: blkpattern write PATH SEED BYTES   write the pattern from offset 0, then fsync (a disk flush)
 *        blkpattern check PATH SEED BYTES   exit 0 when PATH starts with it; else name the first difference
 *
 * Byte i of the pattern is byte (i % 8) of mix(SEED, i / 8), little-endian: every 8 bytes differ, so a
 * misplaced, lost or repeated sector shows. Static, so the same binary runs in the guest and on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools.h"

#define CHUNK (1u << 20)

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "blkpattern: %s %s: %s\n", what, path, errno ? strerror(errno) : "short transfer");
	return 1;
}

static int parse(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end ? -1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t seed, bytes;
	static uint8_t want[CHUNK], got[CHUNK];
	int writing, fd;

	if (argc != 5 || (strcmp(argv[1], "write") && strcmp(argv[1], "check")) || parse(argv[3], &seed) ||
	    parse(argv[4], &bytes)) {
		fprintf(stderr, "usage: blkpattern write|check PATH SEED BYTES\n");
		return 2;
	}
	writing = strcmp(argv[1], "write") == 0;
	fd = open(argv[2], writing ? O_WRONLY : O_RDONLY);
	if (fd < 0)
		return fail("cannot open", argv[2]);
	for (uint64_t off = 0; off < bytes; off += CHUNK) {
		size_t len = bytes - off < CHUNK ? (size_t)(bytes - off) : CHUNK;

		tools_pattern(want, seed, off, len);
		errno = 0;
		if (writing) {
			if (pwrite(fd, want, len, (off_t)off) != (ssize_t)len)
				return fail("cannot write", argv[2]);
			continue;
		}
		if (pread(fd, got, len, (off_t)off) != (ssize_t)len)
			return fail("cannot read", argv[2]);
		for (size_t i = 0; i < len; i++) {
			if (got[i] == want[i])
				continue;
			fprintf(stderr, "blkpattern: %s differs at byte %llu: 0x%02x, expected 0x%02x\n",
				argv[2], (unsigned long long)(off + i), got[i], want[i]);
			return 1;
		}
	}
	errno = 0;
	if (writing && fsync(fd) < 0)
		return fail("cannot flush", argv[2]);
	close(fd);
	return 0;
}
