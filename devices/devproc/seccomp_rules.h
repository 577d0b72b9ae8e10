/*
 * seccomp_rules.h: how kvmini writes a seccomp allowlist: one entry a syscall, with its reason beside it
 * where the list is written (the device processes' in sandbox.c, the vCPU threads' in
 * vmm/thread_filter.c), turned into BPF by libseccomp for the native ABI only.
 */
#ifndef KVMINI_DEVPROC_SECCOMP_RULES_H
#define KVMINI_DEVPROC_SECCOMP_RULES_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rule {
	int nr;		    /* SCMP_SYS(name): negative where this architecture has no such syscall */
	int err;	    /* 0: allow; else the call fails with this errno instead of trapping */
	unsigned int nargs; /* comparisons, all of which must hold */
	struct scmp_arg_cmp args[2];
};

#define ALLOW(name)                  \
	{                            \
		.nr = SCMP_SYS(name) \
	}
#define ALLOW1(name, c1)                                         \
	{                                                        \
		.nr = SCMP_SYS(name), .nargs = 1, .args = { c1 } \
	}
#define ALLOW2(name, c1, c2)                                         \
	{                                                            \
		.nr = SCMP_SYS(name), .nargs = 2, .args = { c1, c2 } \
	}
#define ANSWER(name, errno_value)                        \
	{                                                \
		.nr = SCMP_SYS(name), .err = errno_value \
	}
/* Argument (i) has (v) in the bits of (m). */
#define ARG_HAS_MASKED(i, m, v)                                                \
	{                                                                      \
		.arg = i, .op = SCMP_CMP_MASKED_EQ, .datum_a = m, .datum_b = v \
	}
/*
 * Argument (i) equals (v) in its low 32 bits: the ints and unsigned ints these are (descriptors, flags,
 * ioctl requests, signals) come in 64-bit registers whose upper half the ABI leaves undefined.
 */
#define ARG_EQ(i, v) ARG_HAS_MASKED(i, 0xffffffffu, v)
/* Argument (i) has none of the bits of (m). */
#define ARG_NONE_OF(i, m) ARG_HAS_MASKED(i, m, 0)

/*
 * seccomp_rules_context: a filter whose default is to trap (SIGSYS: the refusal is reported), a foreign
 * ABI's call (int 0x80, x32) too, so that it is reported rather than silently killed. NULL on failure.
 */
scmp_filter_ctx seccomp_rules_context(void);
/* seccomp_rules_add: (n) rules into (ctx), those this architecture lacks left out: 0 or -errno. */
int seccomp_rules_add(scmp_filter_ctx ctx, const struct rule *r, size_t n);
/* seccomp_rules_own_signal: tgkill of this process's threads with signal (sig) only: 0 or -errno. */
int seccomp_rules_own_signal(scmp_filter_ctx ctx, int sig);
/*
 * seccomp_rules_load: abort() allowed too (an assertion failure shows as SIGABRT, not as a refused
 * tgkill), then the filter loaded (libseccomp sets PR_SET_NO_NEW_PRIVS first); (ctx) released either way.
 * Returns 0 or -errno.
 */
int seccomp_rules_load(scmp_filter_ctx ctx);
/*
 * seccomp_rules_refusal: the line that reports a refused call (the layer first, no line end): (who)
 * ("vCPU 3", "device process 193 (virtio-blk vda)") was stopped by its syscall filter calling (name)
 * (NULL: unknown), number (nr), of audit arch (arch), which is not this architecture's when (foreign).
 * Into (buf) of (len) bytes, NUL-terminated when (len) > 0. Async-signal-safe: a SIGSYS handler uses
 * it. Returns the line's length (truncated to fit when it is >= len).
 */
size_t seccomp_rules_refusal(const char *who, const char *name, int nr, uint32_t arch, bool foreign,
			     char *buf, size_t len);

#endif
