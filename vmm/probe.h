/* probe.h: running the canary guest, to learn whether this KVM runs guest kernel code at hardware speed. */
#ifndef KVMINI_PROBE_H
#define KVMINI_PROBE_H

#include <linux/kvm.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../devices/base/mem.h"
#include "kvm.h"

#define PROBE_ITERATIONS \
	4000000u /* turns of the canary's kernel-mode loop: 8 M instructions, ~3 ms on hardware */
#define PROBE_RAM      (1ULL << 20) /* the canary's VM's memory */
#define PROBE_LIMIT_MS 1000u	    /* 125 ns an instruction: hardware and nested KVM are far below */

/*
 * The canary's stages, which each architecture's canary reports in order (firmware/x86/canary.h,
 * firmware/arm64/canary.h), and its loop: a counter and a conditional branch.
 */
#define PROBE_STAGE_ENTRY 1u /* its first instruction ran */
#define PROBE_STAGE_LOOP  2u /* its kernel-mode loop starts (x86: once in long mode, paging on) */
#define PROBE_STAGE_DONE  3u /* the loop ended */
#define PROBE_LOOP_INSNS  2u /* instructions a turn: dec, jnz (x86); subs, b.ne (arm64) */

/* How far the canary got, and how fast. */
struct probe_result {
	unsigned int stage;  /* the last PROBE_STAGE_* it reported, 0 for none */
	uint64_t start_ns;   /* from entering the guest to its report that the loop starts */
	uint64_t loop_ns;    /* from that report to the end of its ring-0 loop */
	uint64_t iterations; /* turns of the loop it was given */
	uint64_t turns;	     /* turns it made in loop_ns: all of them, or as many as it made in time */
	char why[160];	     /* when it failed: what happened, in words ("" when it passed) */
};

/*
 * probe_canary: run the architecture's canary on the KVM device (path), one vCPU, (iterations)
 * turns of its loop, for at most (limit_ms) milliseconds. Returns 0 when it reached the end of its
 * loop in time, 1 when it did not ((r) says how far it got and why), -errno when no VM could be
 * made (logged, by layer).
 */
int probe_canary(const char *path, uint32_t iterations, unsigned int limit_ms, struct probe_result *r);

/* ---- What probe.c shares with each architecture's canary (vmm/x86/canary.c, vmm/arm64/canary.c) ---- */

struct probe {
	struct kvm kvm;
	int vm_fd, vcpu_fd;
	struct kvm_run *run;
	int run_size;
	struct gmem mem; /* PROBE_RAM bytes from ARCH_RAM_BASE, in memory slot 0 */
	atomic_bool stop;
	struct probe_result r; /* the vCPU thread's; copied out once it is joined */
};

/* probe_fail: log that step (what) of making the canary's VM failed, errno saying why; returns -errno. */
int probe_fail(const char *what);
/*
 * arch_canary_setup: with (p)'s VM, memory and vCPU made, its registers and code for (iterations) turns
 * of its loop. 0, or -errno (logged through probe_fail).
 */
int arch_canary_setup(struct probe *p, uint32_t iterations);
/* arch_canary_report: the stage the exit in (p->run) reports; -1 with (p->r.why) saying what it was instead. */
int arch_canary_report(struct probe *p);
/* arch_canary_turns_left: the turns of its loop the canary's counter in (r) still has to go. */
struct arch_regs;
uint64_t arch_canary_turns_left(const struct arch_regs *r);

#endif
