/* cmdline.h: the guest's command line, however it arrives: space-separated words, iterations=N and cpus=N read. */
#ifndef EXITLAT_CMDLINE_H
#define EXITLAT_CMDLINE_H

#include <stdint.h>

#define CMDLINE_DEFAULT_ITERATIONS 10000
#define CMDLINE_DEFAULT_CPUS	   1

struct cmdline {
	uint32_t iterations; /* iterations=N: samples per row */
	uint32_t cpus;	     /* cpus=N: vCPUs the VMM gave us (the ipi row needs 2) */
};

/* cmdline_defaults: fill (c) with the values that hold without a command line. */
void cmdline_defaults(struct cmdline *c);
/*
 * cmdline_parse: read the NUL-terminated (s), at most (max) bytes of it (a string we did not write),
 * into (c), skipping words that are not ours and printing a line for a value it cannot use (the
 * field keeps its value). That line names the key, and the whole word too when (echo_word) is set.
 */
void cmdline_parse(const char *s, uint32_t max, int echo_word, struct cmdline *c);
/*
 * cmdline_fit: lower (c)'s iterations to (room) samples when they do not fit, printing a line that
 * says so with (where), e.g. "in RAM".
 */
void cmdline_fit(struct cmdline *c, uint64_t room, const char *where);

#endif
