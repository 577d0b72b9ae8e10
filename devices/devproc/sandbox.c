/* sandbox.c: the lock-down of a device process: namespaces, an empty root, no capabilities, Landlock, seccomp. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../base/log.h"
#include "seccomp_rules.h"

/* Landlock rights newer than this system's uapi header (their values are kernel ABI). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif

/* The most paths a policy may name in all (paths_rw, paths_ro and bind_dirs together). */
#define MAX_PATHS 32
/* Where the empty root is built before pivot_root: a directory every host has. */
#define ROOT_BASE "/tmp"

/*
 * This process's own sandbox state: a SIGSYS handler gets no pointer of ours, so what it reports
 * must sit at file scope. Written only before threads exist (sandbox_spawn's child, sandbox_lock
 * before the filter loads), read by the handler and by sandbox_lock's report.
 */
static struct {
	int report_fd;	  /* where the handler writes a struct sandbox_refusal; -1: nowhere */
	int32_t pid;	  /* this process as its spawner sees it */
	unsigned long ns; /* the namespaces sandbox_spawn obtained for this process */
	char ns_why[256]; /* and what it could not have */
} self = { .report_fd = -1 };

/* note: append a reason to (why) (a 256-byte report field), "; " between reasons, truncated to fit. */
static void note(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(char *why, const char *fmt, ...)
{
	size_t len = strnlen(why, 255);
	va_list ap;

	if (len && len < 253) {
		memcpy(why + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(why + len, 256 - len, fmt, ap);
	va_end(ap);
}

/* ---- The seccomp allowlists ---- */

/* What a thread's clone() may ask: glibc's pthread_create sets these five and no namespace flag. */
#define CLONE_THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)
#define CLONE_CHECKED                                                                                    \
	(CLONE_THREAD_FLAGS | CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | \
	 CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_VFORK)

/* Every sandboxed process: ending, signals, libc's heap and locks, time, and its messages. */
static const struct rule rules_core[] = {
	ALLOW(exit),				 /* a thread ends */
	ALLOW(exit_group),			 /* the process ends, the SIGSYS handler too */
	ALLOW(rt_sigreturn),			 /* back from a signal handler */
	ALLOW(rt_sigprocmask),			 /* libc masks signals around thread start and in abort() */
	ALLOW(restart_syscall),			 /* the kernel resumes a sleep a signal interrupted */
	ALLOW(read),				 /* eventfd counters, the tap device; the tests' probes */
	ALLOW(write),				 /* stderr, eventfd kicks, the refusal report */
	ALLOW(close),				 /* descriptors the front end hands over and takes back */
	ALLOW(getpid),				 /* log lines; abort() names itself */
	ALLOW(gettid),				 /* the same, per thread */
	ALLOW(brk),				 /* malloc's main heap */
	ALLOW1(mmap, ARG_NONE_OF(2, PROT_EXEC)), /* malloc, thread stacks, guest RAM memfds: never code */
	ALLOW1(mprotect, ARG_NONE_OF(2, PROT_EXEC)), /* stack guard pages, malloc's arenas: never code */
	ALLOW(munmap), /* the reverse of mmap: freed blocks, a memory table replaced */
	ALLOW(mremap), /* realloc() of a block malloc mapped */
	ALLOW1(madvise, ARG_EQ(2, MADV_DONTNEED)), /* free() and a thread's end give pages back */
	ALLOW(futex),				   /* libc's locks and condition variables */
	ALLOW(clock_gettime),			   /* where the vDSO cannot answer */
	ALLOW(nanosleep),			   /* back-off sleeps */
	ALLOW(clock_nanosleep),			   /* glibc's nanosleep() is this syscall */
};

/* SANDBOX_PROBE: the tests check that a path given opens and one not given does not. */
static const struct rule rules_probe[] = {
	ALLOW(openat), /* the probes' open(); no device process opens anything once locked */
};

/* Every device process: a vhost-user back end's event loop and its worker threads. */
static const struct rule rules_device[] = {
	ALLOW(epoll_wait),		   /* the event loop waits (x86_64's glibc) */
	ALLOW(epoll_pwait),		   /* the same (arm64 has only this one) */
	ALLOW(epoll_ctl),		   /* kick eventfds come and go as the front end sets queues up */
	ALLOW(ppoll),			   /* a bounded wait on one descriptor */
	ALLOW(poll),			   /* worker threads wait on their kick eventfds (x86_64's glibc) */
	ALLOW(recvmsg),			   /* vhost-user messages; memfds and eventfds arrive as SCM_RIGHTS */
	ALLOW(sendmsg),			   /* vhost-user replies */
	ALLOW1(ioctl, ARG_EQ(1, FIONBIO)), /* non-blocking mode on a descriptor received */
	ALLOW1(ioctl, ARG_EQ(1, FIONREAD)), /* how much a socket holds */
	/* Worker threads only: never a new process, never a namespace. */
	ALLOW1(clone, ARG_HAS_MASKED(0, CLONE_CHECKED, CLONE_THREAD_FLAGS)),
	/* clone3's flags sit in memory a filter cannot read: ENOSYS sends glibc to clone(), checked above. */
	ANSWER(clone3, ENOSYS),
	ALLOW(set_robust_list), /* each new thread registers its robust futex list */
	ALLOW(rseq),		/* and its restartable sequences area */
	ALLOW(fstat), /* a memory table's memfds checked before they are mapped; blk: the image's size */
	/* glibc's fstat() is newfstatat(fd, "", AT_EMPTY_PATH). */
	ALLOW1(newfstatat, ARG_HAS_MASKED(3, AT_EMPTY_PATH, AT_EMPTY_PATH)),
};

/* virtio-blk: the image file, opened before the lock. */
static const struct rule rules_blk[] = {
	ALLOW(preadv),	  /* guest reads */
	ALLOW(pwritev),	  /* guest writes */
	ALLOW(fdatasync), /* VIRTIO_BLK_T_FLUSH */
	ALLOW(pwrite64),  /* VIRTIO_BLK_T_WRITE_ZEROES where the file system cannot zero a range */
	/* VIRTIO_BLK_T_DISCARD: punch a hole, never grow or shrink the image. */
	ALLOW1(fallocate, ARG_EQ(1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)),
	/* VIRTIO_BLK_T_WRITE_ZEROES: zero a range in place, never grow or shrink the image. */
	ALLOW1(fallocate, ARG_EQ(1, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)),
	ALLOW(lseek), /* SEEK_DATA/SEEK_HOLE and the image's size */
};

/* virtio-net: the tap device, opened before the lock (read and write are in every list). */
static const struct rule rules_net[] = {
	ALLOW(readv),  /* a frame from the tap into a chain of guest buffers */
	ALLOW(writev), /* a chain of guest buffers out as one frame */
	/* The offloads the driver negotiated (checksum, TSO, UFO), set on the tap when the rings start. */
	ALLOW1(ioctl, ARG_EQ(1, TUNSETOFFLOAD)),
};

/* virtio-vsock (on top of net's): the host side is Unix sockets in its socket directory. */
static const struct rule rules_vsock[] = {
	ALLOW1(socket, ARG_EQ(0, AF_UNIX)), /* a guest connects out to a host listener; Unix only */
	ALLOW(connect),			    /* to that listener's path */
	ALLOW(accept4),			    /* a host program connects in */
	ALLOW(bind),			    /* the per-port listening sockets */
	ALLOW(listen),			    /* the same */
	ALLOW(shutdown),		    /* VIRTIO_VSOCK_OP_SHUTDOWN, one direction at a time */
	ALLOW(recvfrom),		    /* the CONNECT line, peeked from a host connection */
	ALLOW(timerfd_settime),		    /* the deadline of a connection the guest has not answered */
	ALLOW1(getsockopt, ARG_EQ(1, SOL_SOCKET)), /* SO_ERROR of a non-blocking connect, SO_PEERCRED */
	ALLOW1(setsockopt, ARG_EQ(1, SOL_SOCKET)), /* buffer sizes */
	ALLOW(unlink),				   /* its own stale socket files (x86_64's glibc) */
	ALLOW1(unlinkat, ARG_EQ(2, 0)),		   /* the same (arm64); files only, never a directory */
	ALLOW1(fcntl, ARG_EQ(1, F_GETFL)),	   /* non-blocking mode: read the flags */
	ALLOW1(fcntl, ARG_EQ(1, F_SETFL)),	   /* and set them */
	ALLOW1(fcntl, ARG_EQ(1, F_GETFD)),	   /* close-on-exec: read */
	ALLOW1(fcntl, ARG_EQ(1, F_SETFD)),	   /* and set */
};

struct rule_set {
	const struct rule *rules;
	size_t n;
};

#define RULE_SET(a)                           \
	{                                     \
		a, sizeof(a) / sizeof((a)[0]) \
	}

/* The lists each kind combines; every kind has rules_core. */
static const struct rule_set kind_sets[][4] = {
	[SANDBOX_BLK] = { RULE_SET(rules_core), RULE_SET(rules_device), RULE_SET(rules_blk) },
	[SANDBOX_NET] = { RULE_SET(rules_core), RULE_SET(rules_device), RULE_SET(rules_net) },
	[SANDBOX_VSOCK] = { RULE_SET(rules_core), RULE_SET(rules_device), RULE_SET(rules_net),
			    RULE_SET(rules_vsock) },
	[SANDBOX_PROBE] = { RULE_SET(rules_core), RULE_SET(rules_probe) },
};

/* allowed_before: whether syscall (nr) is allowed by an entry of (kind) before (set, idx). */
static int allowed_before(enum sandbox_kind kind, size_t set, size_t idx, int nr)
{
	for (size_t s = 0; s <= set; s++) {
		const struct rule_set *rs = &kind_sets[kind][s];
		size_t end = s == set ? idx : rs->n;

		for (size_t i = 0; i < end; i++)
			if (rs->rules[i].nr == nr && !rs->rules[i].err)
				return 1;
	}
	return 0;
}

/* allowlist_count: the syscalls (kind) allows on this architecture, each counted once (tgkill included). */
static unsigned int allowlist_count(enum sandbox_kind kind)
{
	unsigned int n = 1; /* tgkill, added at load time: it needs the process's own pid */

	for (size_t s = 0; s < 4 && kind_sets[kind][s].rules; s++)
		for (size_t i = 0; i < kind_sets[kind][s].n; i++) {
			const struct rule *ru = &kind_sets[kind][s].rules[i];

			if (ru->nr >= 0 && !ru->err && !allowed_before(kind, s, i, ru->nr))
				n++;
		}
	return n;
}

/* filter_load: build (kind)'s allowlist for the native ABI and load it for every thread. */
static int filter_load(enum sandbox_kind kind)
{
	scmp_filter_ctx ctx = seccomp_rules_context();
	int ret;

	if (!ctx)
		return -ENOMEM;
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (size_t s = 0; !ret && s < 4 && kind_sets[kind][s].rules; s++)
		ret = seccomp_rules_add(ctx, kind_sets[kind][s].rules, kind_sets[kind][s].n);
	if (ret) {
		seccomp_release(ctx);
		return ret;
	}
	return seccomp_rules_load(ctx);
}

/* ---- The refusal report ---- */

/*
 * exit_now: end the process with (status), as _exit() does, but through the raw syscall: a sanitizer
 * build prepares for a call to a noreturn function (ASan asks sigaltstack()), which no allowlist has.
 */
static void exit_now(int status)
{
	for (;;)
		syscall(SYS_exit_group, status);
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct sandbox_refusal rf = {
		.magic = SANDBOX_REFUSAL_MAGIC,
		.nr = si->si_syscall,
		.arch = si->si_arch,
		.pid = self.pid,
	};

	(void)sig;
	(void)uc;
	/* Only async-signal-safe calls, both in every allowlist; a failed write has nowhere to go. */
	if (self.report_fd >= 0 && write(self.report_fd, &rf, sizeof(rf)) < 0)
		exit_now(SANDBOX_REFUSED_STATUS);
	exit_now(SANDBOX_REFUSED_STATUS);
}

static int sigsys_install(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	/* A blocked SIGSYS would be forced through as the kernel's default: no report. */
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	return sigprocmask(SIG_UNBLOCK, &set, NULL) < 0 ? -errno : 0;
}

/* outer_pid: this process's pid in the namespace of /proc, its spawner's, while /proc is still there. */
static int32_t outer_pid(void)
{
	char buf[32];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);

	if (n <= 0)
		return (int32_t)getpid();
	buf[n] = '\0';
	return (int32_t)strtol(buf, NULL, 10);
}

int sandbox_describe_refusal(const struct sandbox_refusal *rf, const char *name, char *buf, size_t len)
{
	char who[96], *sys;
	size_t n;

	if (!rf || rf->magic != SANDBOX_REFUSAL_MAGIC || (!buf && len))
		return -EINVAL;
	sys = seccomp_syscall_resolve_num_arch(rf->arch, rf->nr);
	snprintf(who, sizeof(who), "device process %d (%s)", rf->pid, name ? name : "unnamed");
	n = seccomp_rules_refusal(who, sys, rf->nr, rf->arch, rf->arch != seccomp_arch_native(), buf, len);
	free(sys);
	return (int)n;
}

/* ---- The empty root ---- */

/* mkdir_parents: create the directories above (path), which must exist as parents of a mount point. */
static int mkdir_parents(char *path)
{
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		int ret = mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
		*s = '/';
		if (ret)
			return ret;
	}
	return 0;
}

/* mount_point: an empty directory or file at (target) for source (fd) to be bound on. */
static int mount_point(int fd, char *target)
{
	struct stat st;
	int ret = fstat(fd, &st) < 0 ? -errno : mkdir_parents(target);

	if (ret)
		return ret;
	if (S_ISDIR(st.st_mode))
		return mkdir(target, 0755) < 0 && errno != EEXIST ? -errno : 0;
	int t = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (t < 0)
		return -errno;
	close(t);
	return 0;
}

/*
 * bind_path: bind what (fd) holds at (path) below ROOT_BASE, recursively (a user namespace may not split
 * the mounts it inherited); read-only when (ro), keeping the flags the mount already had (a user
 * namespace may not clear them either).
 */
static int bind_path(int fd, const char *path, int ro)
{
	static const struct {
		unsigned long st, ms;
	} kept[] = { { ST_NOSUID, MS_NOSUID },	       { ST_NODEV, MS_NODEV },
		     { ST_NOEXEC, MS_NOEXEC },	       { ST_NOATIME, MS_NOATIME },
		     { ST_NODIRATIME, MS_NODIRATIME }, { ST_RELATIME, MS_RELATIME } };
	char target[PATH_MAX], src[32];
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
	struct statvfs sv;
	int ret;

	if (snprintf(target, sizeof(target), ROOT_BASE "%s", path) >= (int)sizeof(target))
		return -ENAMETOOLONG;
	ret = mount_point(fd, target);
	if (ret)
		return ret;
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	if (mount(src, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	if (!ro)
		return 0;
	if (statvfs(target, &sv) < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (sv.f_flag & kept[i].st)
			flags |= kept[i].ms;
	return mount(NULL, target, NULL, flags, NULL) < 0 ? -errno : 0;
}

struct kept_path {
	const char *path;
	int fd; /* O_PATH, opened before ROOT_BASE is covered */
	int ro;
};

/* paths_open: every path (p) keeps, as O_PATH descriptors in (kp); their number, or -errno. */
static int paths_open(const struct sandbox_policy *p, struct kept_path *kp)
{
	const char *const *lists[3] = { p->paths_rw, p->paths_ro, p->bind_dirs };
	int n = 0;

	for (int l = 0; l < 3; l++)
		for (const char *const *s = lists[l]; s && *s; s++) {
			if (n == MAX_PATHS)
				return -E2BIG;
			kp[n] = (struct kept_path){ *s, open(*s, O_PATH | O_CLOEXEC), l == 1 };
			if (kp[n].fd < 0)
				return -errno;
			n++;
		}
	return n;
}

/* pivot_root: glibc has no wrapper. */
static int pivot_root(const char *new_root, const char *put_old)
{
	return (int)syscall(SYS_pivot_root, new_root, put_old);
}

/* root_enter: make the tmpfs at ROOT_BASE this process's root; the old one detached, out of reach. */
static int root_enter(struct sandbox_report *r)
{
	if (chdir(ROOT_BASE) < 0)
		return -errno;
	if (pivot_root(".", ".") == 0) {
		/* The old root now sits on top of the new one: take it off. */
		if (umount2(".", MNT_DETACH) < 0)
			return -errno;
	} else if (errno == EINVAL) {
		/* An initramfs root cannot be pivoted (it is no mount of a parent): move over it instead. */
		note(r->why, "root pivot refused (initramfs root?): moved over it and chroot");
		if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0)
			return -errno;
	} else {
		return -errno;
	}
	if (chdir("/") < 0)
		return -errno;
	/* The root itself read-only; the paths bound in keep their own modes. */
	return mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		     NULL) < 0
		       ? -errno
		       : 0;
}

/* root_empty: a mount namespace of its own with nothing in its root but the paths (p) keeps. */
static int root_empty(const struct sandbox_policy *p, struct sandbox_report *r)
{
	struct kept_path kp[MAX_PATHS];
	int n, ret = 0;

	if (unshare(CLONE_NEWNS) < 0) {
		note(r->why,
		     "no mount namespace (%s): the host's files stay visible, Landlock alone limits them",
		     strerror(errno));
		return 0;
	}
	r->namespaces |= CLONE_NEWNS;
	n = paths_open(p, kp);
	if (n < 0)
		return n == -E2BIG ? -EINVAL : n;
	/* Nothing of ours propagates back to the host's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", ROOT_BASE, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") < 0)
		ret = -errno;
	for (int i = 0; !ret && i < n; i++)
		ret = bind_path(kp[i].fd, kp[i].path, kp[i].ro);
	for (int i = 0; i < n; i++)
		close(kp[i].fd);
	return ret ? ret : root_enter(r);
}

/* ---- Capabilities, limits, Landlock ---- */

/* caps_drop: none left, in any set; the bounding set too where this process may change it. */
static int caps_drop(struct sandbox_report *r)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno != EPERM)
			return -errno;
		/* Without CAP_SETPCAP it had no capability to lose; no_new_privs keeps it so. */
		note(r->why, "bounding set kept (no CAP_SETPCAP)");
		break;
	}
	/* EINVAL: a kernel before ambient capabilities (4.3) has none to clear. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

static int limits_set(const struct sandbox_policy *p)
{
	struct rlimit core = { 0, 0 }, files = { p->max_fds, p->max_fds };

	if (setrlimit(RLIMIT_CORE, &core) < 0)
		return -errno;
	if (p->max_fds && setrlimit(RLIMIT_NOFILE, &files) < 0)
		return -errno;
	return 0;
}

int sandbox_landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return v < 0 ? -errno : (int)v;
}

/* landlock_version: the kernel's Landlock ABI, 0 where it has none (or it is disabled at boot). */
static int landlock_version(void)
{
	int v = sandbox_landlock_abi();

	return v < 0 ? 0 : v;
}

/* landlock_handled: every file right ABI (abi) knows: those not granted below are refused. */
static uint64_t landlock_handled(int abi)
{
	uint64_t fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: EXECUTE .. MAKE_SYM */

	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return fs;
}

/* landlock_allow: grant (path) read access, and write when (rw), beneath it for a directory. */
static int landlock_allow(int ruleset, const char *path, int rw, uint64_t handled)
{
	const uint64_t file_rights =
		LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
	uint64_t rights = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int ret = 0;

	/* rw: its image, its sockets (vsock makes and removes them); never exec, links, devices, dirs. */
	if (rw)
		rights |= LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |
			  LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_SOCK;
	pb.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (pb.parent_fd < 0)
		return -errno;
	if (fstat(pb.parent_fd, &st) < 0)
		ret = -errno;
	else if (!S_ISDIR(st.st_mode))
		rights &= file_rights; /* the kernel refuses directory rights on a file */
	pb.allowed_access = rights & handled;
	if (!ret && syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
		ret = -errno;
	close(pb.parent_fd);
	return ret;
}

/* landlock_apply: no file access but beneath (p)'s paths; a note in (r) where the kernel has no Landlock. */
static int landlock_apply(const struct sandbox_policy *p, struct sandbox_report *r)
{
	struct landlock_ruleset_attr attr = { 0 };
	int ruleset, ret = 0;

	r->landlock_abi = landlock_version();
	if (!r->landlock_abi) {
		note(r->why, "no Landlock in this kernel: file access is limited by the empty root only");
		return 0;
	}
	attr.handled_access_fs = landlock_handled(r->landlock_abi);
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		return -errno;
	for (const char *const *s = p->paths_rw; !ret && s && *s; s++)
		ret = landlock_allow(ruleset, *s, 1, attr.handled_access_fs);
	for (const char *const *s = p->paths_ro; !ret && s && *s; s++)
		ret = landlock_allow(ruleset, *s, 0, attr.handled_access_fs);
	if (!ret && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		ret = -errno;
	close(ruleset);
	return ret;
}

/* ---- sandbox_lock ---- */

/* policy_valid: a known kind, absolute paths only. */
static int policy_valid(const struct sandbox_policy *p)
{
	const char *const *lists[3] = { p->paths_rw, p->paths_ro, p->bind_dirs };

	if ((unsigned int)p->kind > SANDBOX_PROBE)
		return 0;
	for (int l = 0; l < 3; l++)
		for (const char *const *s = lists[l]; s && *s; s++)
			if ((*s)[0] != '/')
				return 0;
	return 1;
}

/* lock_failed: log step (what) of locking (p) failing with (err), once, naming the layer. */
static int lock_failed(const struct sandbox_policy *p, const char *what, int err)
{
	log_layer(LOG_ERR, LAYER_SANDBOX, "device process %s: %s failed: %s", p->name ? p->name : "unnamed",
		  what, strerror(-err));
	return err;
}

int sandbox_lock(const struct sandbox_policy *p, struct sandbox_report *r)
{
	int ret;

	if (!p || !r)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	if (!policy_valid(p))
		return lock_failed(p, "checking the policy (a known kind, absolute paths)", -EINVAL);
	r->namespaces = self.ns;
	memcpy(r->why, self.ns_why, sizeof(r->why));
	self.pid = outer_pid();
	self.report_fd = p->report_fd;
	ret = root_empty(p, r);
	if (ret)
		return lock_failed(p, "the empty root", ret);
	ret = limits_set(p);
	if (ret)
		return lock_failed(p, "setting RLIMIT_NOFILE and RLIMIT_CORE", ret);
	ret = caps_drop(r);
	if (ret)
		return lock_failed(p, "dropping capabilities", ret);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return lock_failed(p, "PR_SET_NO_NEW_PRIVS", -errno);
	ret = landlock_apply(p, r);
	if (ret)
		return lock_failed(p, "Landlock", ret);
	ret = sigsys_install();
	if (ret)
		return lock_failed(p, "the SIGSYS handler", ret);
	r->nr_syscalls = allowlist_count(p->kind);
	ret = filter_load(p->kind);
	if (ret)
		return lock_failed(p, "loading the syscall filter", ret);
	return 0;
}

/* ---- sandbox_spawn ---- */

/* What the child tells its spawner once its namespaces are set up (one write: within PIPE_BUF). */
struct spawn_msg {
	unsigned long ns;
	char why[256];
};

/* ids_map: the same uid and gid inside a new user namespace as outside (files it creates are ours). */
static int ids_map(uid_t uid, gid_t gid)
{
	const char *files[3] = { "/proc/self/setgroups", "/proc/self/uid_map", "/proc/self/gid_map" };
	char lines[3][48];

	snprintf(lines[0], sizeof(lines[0]), "deny"); /* a gid_map written by its own process needs it */
	snprintf(lines[1], sizeof(lines[1]), "%u %u 1", (unsigned int)uid, (unsigned int)uid);
	snprintf(lines[2], sizeof(lines[2]), "%u %u 1", (unsigned int)gid, (unsigned int)gid);
	for (int i = 0; i < 3; i++) {
		int fd = open(files[i], O_WRONLY | O_CLOEXEC);
		ssize_t len = (ssize_t)strlen(lines[i]);

		if (fd < 0)
			return -errno;
		int ret = write(fd, lines[i], (size_t)len) == len ? 0 : -errno;
		close(fd);
		if (ret)
			return ret;
	}
	return 0;
}

/* fds_close: every descriptor from 3 up, but those in (keep)[0..nkeep). */
static void fds_close(const int *keep, unsigned int nkeep)
{
	unsigned int from = 3;

	for (;;) {
		unsigned int next = UINT_MAX;

		for (unsigned int i = 0; i < nkeep; i++)
			if (keep[i] >= 0 && (unsigned int)keep[i] >= from && (unsigned int)keep[i] < next)
				next = (unsigned int)keep[i];
		if (next > from && close_range(from, next - 1, 0) < 0)
			for (unsigned int fd = from; fd < next && fd < 65536; fd++)
				close((int)fd); /* a kernel before close_range (5.9) */
		if (next == UINT_MAX)
			return;
		from = next + 1;
	}
}

/* ns_names: the namespaces tried after clone3, one by one, with their names for notes. */
static const struct {
	unsigned long flag;
	const char *name;
} ns_later[] = { { CLONE_NEWNS, "mount" },
		 { CLONE_NEWIPC, "IPC" },
		 { CLONE_NEWUTS, "UTS" },
		 { CLONE_NEWNET, "network" } };

/* child_run: in the new child: the rest of its namespaces, its descriptors, then fn(arg). Never returns. */
static void child_run(int (*fn)(void *), void *arg, const int *keep, unsigned int nkeep, int msg_fd,
		      unsigned long ns, const char *why, uid_t uid, gid_t gid)
{
	struct spawn_msg m = { .ns = ns };
	int ret;

	memcpy(m.why, why, sizeof(m.why));
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (ns & CLONE_NEWUSER) {
		ret = ids_map(uid, gid);
		if (ret)
			note(m.why, "user namespace without an id map (%s)", strerror(-ret));
	}
	for (size_t i = 0; i < sizeof(ns_later) / sizeof(ns_later[0]); i++) {
		if (unshare((int)ns_later[i].flag) == 0)
			m.ns |= ns_later[i].flag;
		else
			note(m.why, "no %s namespace (%s)", ns_later[i].name, strerror(errno));
	}
	self.ns = m.ns;
	memcpy(self.ns_why, m.why, sizeof(self.ns_why));
	if (write(msg_fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		exit_now(127);
	fds_close(keep, nkeep);
	exit_now(fn(arg));
}

/* spawn_clone: clone3 with the most of (user, PID) the host allows; notes in (why) for what it did not. */
static long spawn_clone(unsigned long *ns, int *pidfd, char *why)
{
	static const unsigned long tries[] = { CLONE_NEWUSER | CLONE_NEWPID, CLONE_NEWPID, CLONE_NEWUSER, 0 };
	int err[2] = { 0, 0 }; /* the last refusal seen with a user, with a PID namespace */
	long ret = -1;

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct clone_args ca = {
			.flags = tries[i] | CLONE_PIDFD,
			.pidfd = (uint64_t)(uintptr_t)pidfd,
			.exit_signal = SIGCHLD,
		};

		ret = syscall(SYS_clone3, &ca, sizeof(ca));
		if (ret >= 0) {
			*ns = tries[i];
			break;
		}
		/* EPERM: not allowed here; EINVAL: not built in; ENOSPC, EUSERS: too many. Else give up. */
		if (errno != EPERM && errno != EINVAL && errno != ENOSPC && errno != EUSERS)
			return -errno;
		if (tries[i] & CLONE_NEWUSER)
			err[0] = errno;
		if (tries[i] & CLONE_NEWPID)
			err[1] = errno;
	}
	if (ret < 0)
		return -errno;
	if (!(*ns & CLONE_NEWUSER))
		note(why, "no user namespace (%s)", strerror(err[0]));
	if (!(*ns & CLONE_NEWPID))
		note(why, "no PID namespace (%s)", strerror(err[1]));
	return ret;
}

int sandbox_spawn(const struct sandbox_policy *p, int (*fn)(void *arg), void *arg, const int *keep,
		  unsigned int nkeep, pid_t *pid, int *pidfd, struct sandbox_report *r)
{
	struct spawn_msg m = { 0 };
	uid_t uid = geteuid(); /* read here: inside a new user namespace it reads as unmapped */
	gid_t gid = getegid();
	unsigned long ns = 0;
	int msg[2], fd = -1;
	long child;
	ssize_t n;

	if (!p || !fn || !pid || !pidfd || !r || (nkeep && !keep) || !policy_valid(p))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	if (pipe2(msg, O_CLOEXEC) < 0)
		return -errno;
	child = spawn_clone(&ns, &fd, r->why);
	if (child == 0) {
		close(msg[0]);
		child_run(fn, arg, keep, nkeep, msg[1], ns, r->why, uid, gid);
	}
	close(msg[1]);
	if (child < 0) {
		close(msg[0]);
		return (int)child;
	}
	do
		n = read(msg[0], &m, sizeof(m));
	while (n < 0 && errno == EINTR);
	close(msg[0]);
	if (n == (ssize_t)sizeof(m)) {
		r->namespaces = m.ns;
		m.why[sizeof(m.why) - 1] = '\0';
		memcpy(r->why, m.why, sizeof(r->why)); /* what clone3 missed, and what the child did */
	} else {
		note(r->why, "the child ended before it reported its namespaces");
	}
	r->landlock_abi = landlock_version();
	if (!r->landlock_abi)
		note(r->why, "no Landlock in this kernel");
	r->nr_syscalls = allowlist_count(p->kind);
	*pid = (pid_t)child;
	*pidfd = fd;
	return 0;
}
