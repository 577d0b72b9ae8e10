/*
 * thread_filter.h: the syscall allowlists kvmini's own threads put on themselves once the VM runs
 * (issue 12): each vCPU thread loads its own right before its KVM_RUN loop, and the main thread its own
 * once the vCPUs run, as Firecracker's threads do.
 *
 * A filter holds for the thread that loads it (no TSYNC: the device threads keep theirs) and for
 * threads and processes that thread would create (none: device processes are started by the launcher). Its default is to
 * trap: a refused syscall raises SIGSYS in the thread that made it, and kvmini's SIGSYS handler writes
 * one line on stderr, with one write(2):
 *
 *   kvmini: error: L-3 sandbox: vCPU 1 was stopped by its syscall filter: it called socket (41),
 *   which its policy does not allow; this is a bug in kvmini: please report it with this line
 *
 * and ends the whole process at once with THREAD_FILTER_REFUSED_STATUS (exit_group: nothing else runs,
 * no atexit handler, no stdio flush). Nothing else is safe from inside a call the thread may have made
 * holding any lock (malloc's, the bus's, a device's); the price is that a terminal the console put in
 * raw mode stays raw (`reset` restores it), and device processes end with kvmini (their parent-death
 * signal). The name of the call comes from a table made before the first filter loads, so that the
 * handler neither allocates nor calls libseccomp.
 *
 * Built with ASan (kvmini-san and the unit tests, found at compile time: __SANITIZE_ADDRESS__ or
 * __has_feature(address_sanitizer)), kvmini's threads load their filters too, so that the tests that run
 * kvmini-san run it; it then also lets through what the sanitizer runtimes do on such a thread (an
 * alternate signal stack, madvise of their own) and what a report needs to come out whole (gcc's
 * runtime symbolizes in-process: readlink, read-only open and openat, fstat, lseek; fcntl and pipe
 * answered EPERM, so that clang's runtime leaves its frames unsymbolized rather than starting
 * llvm-symbolizer), and on the main thread LeakSanitizer's check at exit (a tracer task sharing its
 * memory, clone with CLONE_VM, that stops the threads with ptrace). kvmini's own build has none of those.
 */
#ifndef KVMINI_THREAD_FILTER_H
#define KVMINI_THREAD_FILTER_H

#include <stddef.h>
#include <stdint.h>

/*
 * kvmini's exit status when a thread's syscall filter refused a call (README "Exit status"): even, as
 * kvmini's own statuses are, so that no debug-exit value (odd) reads the same.
 */
#define THREAD_FILTER_REFUSED_STATUS 14

/* What a vCPU thread's filter pins its ioctls to. */
struct thread_filter_vcpu {
	unsigned int id; /* for the refusal line: "vCPU 3" */
	int vcpu_fd;	 /* KVM_RUN, KVM_NMI, KVM_GET_REGS, KVM_GET_SREGS: on this fd only */
	int vm_fd;	 /* KVM_IRQFD, KVM_IOEVENTFD, KVM_SET_GSI_ROUTING: on this fd only */
};

/*
 * thread_filter_vcpu: load the vCPU allowlist (thread_filter.c, rules_vcpu, one reason per entry) on the
 * calling thread only, for this architecture's native ABI only (a foreign ABI's call traps too), the
 * KVM ioctls pinned to (t)'s fds; set PR_SET_NO_NEW_PRIVS on this thread (the kernel's condition for
 * an unprivileged filter) and unblock SIGSYS in it. Call it on the vCPU's own thread, once, after
 * everything the thread does only at its start (its name, its signal mask) and before its first
 * KVM_RUN. Returns 0, or the -errno of the step that failed (logged once, naming the sandbox layer;
 * the thread then has no filter, and the caller should stop the VM).
 */
int thread_filter_vcpu(const struct thread_filter_vcpu *t);

/*
 * thread_filter_vcpu_count: the syscalls the vCPU allowlist lets through on this architecture, each
 * counted once, whatever its argument checks (for messages and tests).
 */
unsigned int thread_filter_vcpu_count(void);

#define THREAD_FILTER_DIRS 4

/* What the main thread's filter pins its calls to. */
struct thread_filter_main {
	int vm_fd; /* KVM_IOEVENTFD, KVM_IRQFD, KVM_SET_GSI_ROUTING (the VM's end): on this fd only */
	/* unlinkat and newfstatat (no link followed): in these directories only (the API's and a vsock socket's) */
	int dirs[THREAD_FILTER_DIRS];
	unsigned int nr_dirs;
	int api_fd;   /* accept4 of the API's clients: on this listening socket only; -1: none */
	int rmdir_fd; /* unlinkat(AT_REMOVEDIR) in this directory only (what --cgroup made); -1: none */
};

/*
 * thread_filter_main: load the main thread's allowlist (rules_main and ioctls_main) on the calling
 * thread only, as thread_filter_vcpu does. Call it once the vCPU threads run (a thread it made later
 * would inherit it) and every device process has been started once: from then on, device processes are
 * started again by the launcher (device_process.h), which the main thread only asks. Returns 0 or -errno
 * (logged).
 */
int thread_filter_main(const struct thread_filter_main *t);
/* thread_filter_main_count: the syscalls the main thread's allowlist lets through, as with (t). */
unsigned int thread_filter_main_count(const struct thread_filter_main *t);

/*
 * thread_filter_describe: the line the SIGSYS handler writes (without "kvmini: error: " and the line
 * end) for a refusal of syscall (nr) of audit arch (arch) by the thread named (who) ("vCPU 3"), into
 * (buf) of (len) bytes, always NUL-terminated when (len) > 0. Only async-signal-safe code: the handler
 * uses it. Returns the line's length (truncated to fit when it is >= len).
 */
size_t thread_filter_describe(const char *who, int nr, uint32_t arch, char *buf, size_t len);

#endif
