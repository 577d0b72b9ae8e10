/* sandbox.h: the lock-down a device process enters before it reads the first byte of guest data. */
#ifndef KVMINI_SANDBOX_H
#define KVMINI_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The exit status of a process stopped by its syscall filter: 128 + SIGSYS (31), what a shell shows for
 * a process killed by SIGSYS, so that a refusal reads the same whether it came through the handler
 * (which writes a struct sandbox_refusal first) or as the kernel's own SIGSYS.
 */
#define SANDBOX_REFUSED_STATUS 159
/* struct sandbox_refusal's magic: "SBX1". */
#define SANDBOX_REFUSAL_MAGIC 0x53425831u

/* Which seccomp allowlist a process gets; each kind's list is in sandbox.c with a reason per entry. */
enum sandbox_kind {
	SANDBOX_BLK,
	SANDBOX_NET,
	SANDBOX_VSOCK,
	SANDBOX_PROBE, /* tests: the smallest list (exit, write, read, openat, close and what libc's malloc needs) */
};

/*
 * What a device process may keep. Paths are absolute. Where sandbox_lock empties the root, paths_rw,
 * paths_ro and bind_dirs all stay visible at the same path (paths_ro bound read-only); Landlock then
 * grants file access beneath paths_rw and paths_ro only: a bind_dir whose files the process must
 * create or remove (vsock's socket directory) belongs in paths_rw too.
 */
struct sandbox_policy {
	const char *name;	/* for messages: "virtio-blk vda" */
	enum sandbox_kind kind; /* picks the seccomp allowlist */
	const char *const
		*paths_rw; /* NULL-terminated, or NULL: files or directories still opened read-write */
	const char *const *paths_ro;  /* the same, read-only */
	const char *const *bind_dirs; /* directories kept visible inside the empty root (vsock's sockets) */
	int report_fd;	      /* a refused syscall is written here as a struct sandbox_refusal; -1: none */
	unsigned int max_fds; /* RLIMIT_NOFILE; 0 leaves the limit as it is */
};

/* What was obtained, for messages and `kvmini inspect`. */
struct sandbox_report {
	int landlock_abi;	  /* 0: the kernel has no Landlock (why[] says so) */
	unsigned long namespaces; /* CLONE_NEW* flags obtained */
	unsigned int nr_syscalls; /* allowed by the filter (the policy's kind) */
	char why[256];		  /* what could not be had here and why; "" if everything */
};

/* One refused syscall, as the SIGSYS handler writes it (one write(2), atomic on a pipe). */
struct sandbox_refusal {
	uint32_t magic; /* SANDBOX_REFUSAL_MAGIC */
	int32_t nr;	/* the syscall's number in (arch) */
	uint32_t arch;	/* AUDIT_ARCH_* of the call: the native one unless a foreign ABI was tried */
	int32_t pid;	/* the process as its spawner sees it (its /proc/self before the root was emptied) */
};

/*
 * sandbox_spawn: start a device process for policy (p): a child in new user, PID, mount, IPC, UTS and
 * network namespaces where the host allows each (tried one by one: what could not be had is recorded in
 * (r) and the rest still tried), with every descriptor closed but 0, 1, 2 and (keep)[0..nkeep), and
 * dying with its spawner's thread (PR_SET_PDEATHSIG: spawn from a thread that lives as long as the
 * device). The child runs fn(arg), which opens what it needs and then calls sandbox_lock, and exits
 * with fn's return value through _exit() (no atexit handlers, no stdio buffers of the parent flushed
 * twice). The caller must not hold a lock other threads could hold in the child (as with fork(): the
 * child starts single-threaded). Fills (r) with the namespaces obtained, the kernel's Landlock ABI and
 * the size of the policy's allowlist. Returns 0 with the child's (*pid) and a pidfd for it in (*pidfd),
 * or -EINVAL (a bad policy or keep list) or the -errno of clone3() or pipe2().
 */
int sandbox_spawn(const struct sandbox_policy *p, int (*fn)(void *arg), void *arg, const int *keep,
		  unsigned int nkeep, pid_t *pid, int *pidfd, struct sandbox_report *r);

/*
 * sandbox_lock: lock the calling process down for policy (p), in this order: an empty root (a fresh
 * read-only tmpfs, pivot_root, paths_rw, paths_ro and bind_dirs bound at their own paths) in a mount
 * namespace of its own where one can be had (it unshares one itself: never the host's); RLIMIT_NOFILE =
 * p->max_fds and RLIMIT_CORE = 0 (before the capabilities go, so a raise within reach still works);
 * every capability dropped (bounding set, ambient, effective, permitted, inheritable);
 * PR_SET_NO_NEW_PRIVS; Landlock with the best ABI the kernel has (file access beneath paths_rw and
 * paths_ro only; skipped where the kernel has none); then the seccomp allowlist of p->kind, this
 * architecture's native ABI only, loaded for every thread (TSYNC), whose default is to trap: the SIGSYS
 * handler writes a struct sandbox_refusal to p->report_fd and ends the process with
 * SANDBOX_REFUSED_STATUS. Call it single-threaded, once, after opening every file and creating every
 * thread it needs (a sanitizer build cannot start threads under the filter). Fills (r) (namespaces:
 * those sandbox_spawn obtained, and CLONE_NEWNS for the empty root's own). Returns 0, -EINVAL (a bad
 * policy, or more than 32 paths), -ENOENT (a path is missing) or the -errno of the step that failed,
 * logged once naming the sandbox layer; the process is then only partly locked and should exit.
 */
int sandbox_lock(const struct sandbox_policy *p, struct sandbox_report *r);

/*
 * sandbox_landlock_abi: the kernel's Landlock ABI version (1 and up), or -ENOSYS where the kernel has no
 * Landlock built in, -EOPNOTSUPP where it is built in but not enabled at boot (the lsm= list).
 */
int sandbox_landlock_abi(void);

/*
 * sandbox_describe_refusal: the line kvmini prints for refusal (rf) of the device process named (name),
 * into (buf) of (len) bytes. Returns the line's length (truncated to fit when it is >= len), or -EINVAL
 * when (rf) is not a refusal (a bad magic).
 */
int sandbox_describe_refusal(const struct sandbox_refusal *rf, const char *name, char *buf, size_t len);

#endif
