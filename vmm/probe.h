/* probe.h: running the canary guest, to learn whether this KVM runs guest kernel code at hardware speed. */
#ifndef KVMINI_PROBE_H
#define KVMINI_PROBE_H

#include <stdint.h>

#define PROBE_ITERATIONS 4000000u /* turns of the canary's ring-0 loop: 8 M instructions, ~3 ms on hardware */
#define PROBE_LIMIT_MS	 1000u	  /* 125 ns an instruction: hardware and nested KVM are far below */

/* How far the canary got, and how fast. */
struct probe_result {
	unsigned int stage;    /* the last CANARY_* stage it reported, 0 for none */
	uint64_t long_mode_ns; /* from entering the guest to its report from long mode */
	uint64_t loop_ns;      /* from that report to the end of its ring-0 loop */
	uint64_t iterations;   /* turns of the loop it was given */
	uint64_t turns;	       /* turns it made in loop_ns: all of them, or as many as it made in time */
	char why[160];	       /* when it failed: what happened, in words ("" when it passed) */
};

/*
 * probe_canary: run the canary (firmware/x86/canary.h) on the KVM device (path), one vCPU, (iterations)
 * turns of its loop, for at most (limit_ms) milliseconds. Returns 0 when it reached the end of its
 * loop in time, 1 when it did not ((r) says how far it got and why), -errno when no VM could be
 * made (logged, by layer), -ENOTSUP where kvmini has no canary for the architecture (arm64).
 */
int probe_canary(const char *path, uint32_t iterations, unsigned int limit_ms, struct probe_result *r);

#endif
