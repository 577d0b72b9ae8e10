/* thread_filter.c: the syscall allowlists kvmini's own threads put on themselves once the VM runs. */
#include "thread_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "arch.h"
#include "../devices/devproc/seccomp_rules.h"
#include "../devices/base/log.h"

/* ASan (with UBSan, as the Makefile builds them) runs code of its own on every thread. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

/* The si_code of a SIGSYS a filter raised (the kernel's asm-generic/siginfo.h; glibc has no name). */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

/* ---- The allowlists ---- */

/* A vCPU thread from its first KVM_RUN to its end: the exits it handles and the devices they reach. */
static const struct rule rules_vcpu[] = {
	/* I/O the guest's exits cause */
	ALLOW(write), /* the console's output (serial), eventfd signals (irq, call, kick), vm_stop, log lines */
	ALLOW(read), /* eventfd drains: a virtio device's kicks and vectors at its reset */
	/* vhost-user requests at DRIVER_OK and at a reset (device processes, --disk vhost-user=) */
	ALLOW1(sendmsg, ARG_EQ(2, MSG_NOSIGNAL)),
	ALLOW1(recvmsg, ARG_EQ(2, MSG_CMSG_CLOEXEC)), /* their replies, bounded by SO_RCVTIMEO */
	ALLOW(close), /* fds a bad vhost-user reply carried; in-process vsock's host sockets at a reset */
	/* In-process vsock at a device reset: */
	ALLOW1(epoll_ctl, ARG_EQ(1, EPOLL_CTL_DEL)), /* its host sockets leave the poll set */
	ALLOW1(epoll_ctl, ARG_EQ(1, EPOLL_CTL_MOD)), /* and its listener is polled again */
	/* Signals: the kick, the stop */
	ALLOW(rt_sigreturn),   /* back from SIGUSR1's handler (the kick out of KVM_RUN) */
	ALLOW(rt_sigprocmask), /* glibc blocks signals around pthread_kill() and at a thread's end */
	ALLOW(getpid), /* pthread_kill() names the process to tgkill() (added at load: this pid only) */
	ALLOW(gettid), /* and, kicking its own thread (vm_stop kicks every vCPU), the thread */
	ALLOW(restart_syscall), /* the kernel resumes a futex wait a kick interrupted */
	/* libc */
	ALLOW(futex),	      /* locks: the PCI bus, MSI-X, the vhost-user front end, workers, pthread_once */
	ALLOW(clock_gettime), /* the clock where the vDSO cannot read the clock source (a VM's hpet) */
	ALLOW(brk),	      /* malloc's main arena, which a thread may be given */
	ALLOW1(mmap, ARG_NONE_OF(2, PROT_EXEC)),     /* malloc (bench's samples, vsock buffers): never code */
	ALLOW1(mprotect, ARG_NONE_OF(2, PROT_EXEC)), /* malloc grows a thread arena's heap: never code */
	ALLOW(munmap),				     /* free() of a mapped block, an arena's heap shrunk */
	ALLOW(mremap),				     /* realloc() of a mapped block */
	ALLOW1(madvise, ARG_EQ(2, MADV_DONTNEED)),   /* free() gives pages back; the stack at thread end */
	/* The end */
	ALLOW(exit),	   /* the thread returns when the VM stops */
	ALLOW(exit_group), /* the SIGSYS handler ends kvmini (THREAD_FILTER_REFUSED_STATUS) */
};

/*
 * The main thread once the vCPUs run: the event loop (console, signals, the device back ends and their
 * processes), a device process started again through the launcher, and the VM's end.
 */
static const struct rule rules_main[] = {
	/* The event loop */
	ALLOW(epoll_wait),  /* it waits (x86_64's glibc) */
	ALLOW(epoll_pwait), /* the same (arm64 has only this one) */
	ALLOW(epoll_ctl),   /* back ends and stdin come and go */
	ALLOW(read),	    /* console input, the signalfd, eventfds, a device process's refusal report */
	ALLOW(write),	    /* console output, log lines, eventfds (vm_stop) */
	ALLOW(close),	    /* a back end's channel, a process's pidfd, and everything at the end */
	ALLOW(fstat),	    /* stdio's first output (kvmini bench's results) asks what stdout is */
	/* glibc's fstat() is newfstatat(fd, "", AT_EMPTY_PATH). */
	ALLOW1(newfstatat, ARG_HAS_MASKED(3, AT_EMPTY_PATH, AT_EMPTY_PATH)),
	ALLOW(poll),	/* whether a back end hung up; a bounded wait for a vhost-user answer */
	ALLOW(pread64), /* a vCPU that does not come back: its wait channel, from a file it opened */
	ALLOW(ppoll),	/* the same (arm64) */
	/* vhost-user with the back ends; the launcher's requests and answers, with descriptors */
	ALLOW1(sendmsg, ARG_EQ(2, MSG_NOSIGNAL)),
	ALLOW1(recvmsg, ARG_EQ(2, MSG_CMSG_CLOEXEC)),
	/* SO_RCVTIMEO on a new back end's channel and on the launcher's: every answer is waited for bounded */
	ALLOW2(setsockopt, ARG_EQ(1, SOL_SOCKET), ARG_EQ(2, SO_RCVTIMEO)),
	/* A device process that does not end when told: killed through its pidfd, with this signal only */
	ALLOW1(pidfd_send_signal, ARG_EQ(1, SIGKILL)),
	/* Signals */
	ALLOW(rt_sigreturn),	/* back from a handler (SIGUSR1's, should it land here) */
	ALLOW(rt_sigprocmask),	/* the signal mask put back at the end; glibc around pthread_kill() */
	ALLOW(restart_syscall), /* the kernel resumes a wait a signal interrupted */
	ALLOW(getpid),		/* pthread_kill() names the process (tgkill: this pid only) */
	ALLOW(gettid),		/* log lines */
	/* libc */
	ALLOW(futex),		/* locks shared with the vCPUs and workers; joining their threads */
	ALLOW(clock_gettime),	/* where the vDSO cannot read the clock */
	ALLOW(clock_nanosleep), /* bounded back-off sleeps */
	ALLOW(nanosleep),
	ALLOW(brk),
	ALLOW1(mmap, ARG_NONE_OF(2, PROT_EXEC)),     /* malloc: never code */
	ALLOW1(mprotect, ARG_NONE_OF(2, PROT_EXEC)), /* never code */
	ALLOW(munmap), /* free(); guest RAM and the vCPUs' run pages at the end */
	ALLOW(mremap),
	ALLOW1(madvise, ARG_EQ(2, MADV_DONTNEED)), /* free() and a joined thread's stack */
	/* The end */
	ALLOW1(waitid, ARG_EQ(0, P_PID)), /* the launcher reaped, once its devices have ended */
	ALLOW(exit),
	ALLOW(exit_group),
};

#ifdef SANITIZED
/* Open flags that would write: a sanitizer report reads files only. */
#define OPEN_WRITES (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)

/*
 * What the ASan/UBSan runtimes do on a vCPU thread besides (kvmini-san, the unit tests): their own
 * bookkeeping, and a report, so that one comes out whole, symbolized by gcc's runtime in-process.
 */
static const struct rule rules_sanitizer[] = {
	ALLOW(sigaltstack), /* ASan's alternate signal stack, taken down at the thread's end */
	ALLOW1(madvise, ARG_EQ(2, MADV_DONTDUMP)),   /* its allocator's new regions: kept out of cores */
	ALLOW1(madvise, ARG_EQ(2, MADV_NOHUGEPAGE)), /* and off huge pages */
	/* A report: the binary's name and its libraries' files, read to symbolize the frames. */
	ALLOW(readlink),
	ALLOW1(open, ARG_NONE_OF(1, OPEN_WRITES)),
	ALLOW1(openat, ARG_NONE_OF(2, OPEN_WRITES)),
	ALLOW(newfstatat),
	ALLOW(fstat),
	ALLOW(stat), /* clang's runtime looks for llvm-symbolizer */
	ALLOW(lseek),
	ANSWER(fcntl, EPERM), /* close-on-exec on what it opened: nothing is exec'd anyway */
	/* clang's runtime would start llvm-symbolizer: refused, the frames stay unsymbolized */
	ANSWER(pipe2, EPERM),
	ANSWER(pipe, EPERM),
};

/*
 * LeakSanitizer's check at exit, on the main thread: a tracer task that shares its memory stops every
 * thread with ptrace and reads their registers and stacks.
 */
static const struct rule rules_leak_check[] = {
	ALLOW1(clone, ARG_HAS_MASKED(0, CLONE_VM, CLONE_VM)), /* the tracer: shares memory, not a process */
	ALLOW(ptrace),					      /* it stops and reads this process's threads */
	ALLOW(wait4),					      /* and waits for each, and the main for it */
	ALLOW(prctl),	     /* PR_SET_PTRACER, PR_SET_PDEATHSIG, dumpability around the check */
	ALLOW(getppid),	     /* the tracer checks its parent is still there */
	ALLOW(sched_yield),  /* spins while it waits */
	ALLOW(rt_sigaction), /* the tracer's own handlers */
	ALLOW(getdents),     /* /proc/self/task: the threads to stop (x86_64's runtime) */
	ALLOW(getdents64),   /* the same (arm64) */
};
#endif

/* The ioctls a thread makes, and on what. */
enum ioctl_on {
	ON_VCPU, /* this vCPU's fd */
	ON_VM,	 /* the VM's fd */
	ON_ANY,	 /* any fd (a tap: there may be several) */
	ON_STDIN,
	ON_STDERR,
};

static const struct ioctl_rule {
	unsigned long req;
	enum ioctl_on on;
} ioctls_vcpu[] = {
	{ KVM_RUN, ON_VCPU }, /* the guest runs */
	/* NMIs others asked for; registers, for a crash, a snapshot, or -vv's where a stopped one was */
	ARCH_VCPU_IOCTLS,
	{ KVM_IRQFD, ON_VM },		/* an MSI-X vector unmasked or masked: its irqfd added or removed */
	{ KVM_SET_GSI_ROUTING, ON_VM }, /* an MSI-X vector's message written: the routing table replaced */
	{ KVM_IOEVENTFD, ON_VM },	/* the driver moved a virtio BAR: its notify ioeventfds follow */
	{ TUNSETOFFLOAD, ON_ANY },	/* in-process virtio-net at DRIVER_OK: the offloads the driver took */
	/* log.c asks once whether stderr is a terminal, with the first line: it may be a vCPU's. */
	{ TCGETS, ON_STDERR },
};

static const struct ioctl_rule ioctls_main[] = {
	/* The VM's end: each virtio device's notify ioeventfds and vector irqfds are taken back */
	{ KVM_IOEVENTFD, ON_VM },
	{ KVM_IRQFD, ON_VM },
	{ KVM_SET_GSI_ROUTING, ON_VM },
	/* The API's inspect: KVM's dirty log of guest RAM, turned on at the first request for it */
	{ KVM_SET_USER_MEMORY_REGION, ON_VM },
	{ KVM_GET_DIRTY_LOG, ON_VM },
	/* The console's terminal put back as it was (tcgetattr, tcsetattr), and log.c's look at stderr */
	{ TCGETS, ON_STDIN },
	{ TCSETS, ON_STDIN },
	{ TCSETSW, ON_STDIN },
	{ TCSETSF, ON_STDIN },
	{ TCGETS, ON_STDERR },
};

/* ---- The refusal report ---- */

/* The syscall numbers the handler can name: every x86_64 and arm64 syscall so far is below. */
#define NAMES	 512
#define NAME_LEN 32

/*
 * What the SIGSYS handler needs, made once before the first filter loads (a handler gets no pointer
 * of ours, so it sits at file scope): the syscalls' names, so that it neither allocates nor calls
 * libseccomp, and whether stderr is a terminal (the console's raw mode then needs "\r\n").
 */
static struct {
	pthread_once_t once;
	int err; /* what the set-up failed with: 0 or -errno */
	uint32_t native_arch;
	int tty;
	char names[NAMES][NAME_LEN];
} report = { .once = PTHREAD_ONCE_INIT };

/* The calling thread's name in a refusal line ("vCPU 3"); "" on a thread without a filter of ours. */
static _Thread_local char thread_who[24];

size_t thread_filter_describe(const char *who, int nr, uint32_t arch, char *buf, size_t len)
{
	bool native = arch == report.native_arch;

	return seccomp_rules_refusal(who && who[0] ? who : "a thread of kvmini",
				     native && nr >= 0 && nr < NAMES && report.names[nr][0] ? report.names[nr]
											    : NULL,
				     nr, arch, !native, buf, len);
}

/* exit_now: end the process at once, through the raw syscall (ASan's _exit() asks for more). */
static void exit_now(int status)
{
	for (;;)
		syscall(SYS_exit_group, status);
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	static const char prefix[] = "kvmini: error: ";
	char line[512];
	size_t pos = sizeof(prefix) - 1;

	(void)sig;
	(void)uc;
	memcpy(line, prefix, pos);
	pos += thread_filter_describe(thread_who, si->si_code == SYS_SECCOMP ? si->si_syscall : -1,
				      si->si_code == SYS_SECCOMP ? si->si_arch : report.native_arch,
				      line + pos, sizeof(line) - 2 - pos);
	if (pos > sizeof(line) - 3)
		pos = sizeof(line) - 3;
	if (report.tty)
		line[pos++] = '\r';
	line[pos++] = '\n';
	/* Only write and exit_group, both in every list; a failed write has nowhere to go. */
	if (write(STDERR_FILENO, line, pos) < 0)
		exit_now(THREAD_FILTER_REFUSED_STATUS);
	exit_now(THREAD_FILTER_REFUSED_STATUS);
}

static void report_make(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	report.native_arch = seccomp_arch_native();
	report.tty = isatty(STDERR_FILENO);
	for (int nr = 0; nr < NAMES; nr++) {
		char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (s)
			snprintf(report.names[nr], NAME_LEN, "%s", s);
		free(s);
	}
	/* Every signal blocked in the handler: nothing may interrupt the line. */
	sigfillset(&sa.sa_mask);
	report.err = sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

/* ---- Loading ---- */

/* A thread's allowlist: its rules, its ioctls and the descriptors they are pinned to. */
struct thread_list {
	const char *who; /* "vCPU 3", "the main thread" */
	const struct rule *rules;
	size_t nr_rules;
	const struct ioctl_rule *ioctls;
	size_t nr_ioctls;
	bool leak_check; /* the sanitizer build's leak check runs on this thread at exit */
	int vcpu_fd, vm_fd;
	const int *dirs; /* unlinkat and newfstatat relative to these directories only */
	unsigned int nr_dirs;
	int api_fd;   /* accept4 on this listening socket only; -1: none */
	int rmdir_fd; /* unlinkat(AT_REMOVEDIR) in this directory only; -1: none */
};

static int add_ioctls(scmp_filter_ctx ctx, const struct thread_list *l)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < l->nr_ioctls; i++) {
		const struct ioctl_rule *r = &l->ioctls[i];
		int fd = r->on == ON_VCPU    ? l->vcpu_fd
			 : r->on == ON_VM    ? l->vm_fd
			 : r->on == ON_STDIN ? STDIN_FILENO
					     : STDERR_FILENO;
		struct scmp_arg_cmp on[2] = { ARG_EQ(1, r->req), ARG_EQ(0, (scmp_datum_t)fd) };

		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), r->on == ON_ANY ? 1 : 2,
					     on);
	}
	return ret;
}

/* A file in one of (l)'s directories: looked at without following a link, and removed; no directory. */
static int add_dirs(scmp_filter_ctx ctx, const struct thread_list *l)
{
	int ret = 0;

	for (unsigned int i = 0; !ret && i < l->nr_dirs; i++) {
		struct scmp_arg_cmp in[2] = { ARG_EQ(0, (scmp_datum_t)l->dirs[i]), ARG_EQ(2, 0) };
		struct scmp_arg_cmp look[2] = { ARG_EQ(0, (scmp_datum_t)l->dirs[i]),
						ARG_EQ(3, AT_SYMLINK_NOFOLLOW) };

		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlinkat), 2, in);
		if (!ret)
			ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 2, look);
	}
	return ret;
}

/* The API socket's clients: taken from its listening socket only, non-blocking, as api.c asks. */
static int add_api(scmp_filter_ctx ctx, const struct thread_list *l)
{
	struct scmp_arg_cmp on[2] = { ARG_EQ(0, (scmp_datum_t)l->api_fd),
				      ARG_EQ(3, SOCK_NONBLOCK | SOCK_CLOEXEC) };

	return l->api_fd < 0 ? 0 : seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(accept4), 2, on);
}

/* The cgroups --cgroup made, removed at the end (cgroup_leave): in that one directory only. */
static int add_rmdir(scmp_filter_ctx ctx, const struct thread_list *l)
{
	struct scmp_arg_cmp in[2] = { ARG_EQ(0, (scmp_datum_t)l->rmdir_fd), ARG_EQ(2, AT_REMOVEDIR) };

	return l->rmdir_fd < 0 ? 0 : seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlinkat), 2, in);
}

static int list_load(const struct thread_list *l)
{
	scmp_filter_ctx ctx = seccomp_rules_context();
	int ret;

	if (!ctx)
		return -ENOMEM;
#ifdef DISCOVER_XXX
	if (l->vcpu_fd < 0) {
		seccomp_release(ctx);
		ctx = seccomp_init(SCMP_ACT_LOG);
	}
#endif
	ret = seccomp_rules_add(ctx, l->rules, l->nr_rules);
#ifdef SANITIZED
	if (!ret)
		ret = seccomp_rules_add(ctx, rules_sanitizer,
					sizeof(rules_sanitizer) / sizeof(rules_sanitizer[0]));
	if (!ret && l->leak_check)
		ret = seccomp_rules_add(ctx, rules_leak_check,
					sizeof(rules_leak_check) / sizeof(rules_leak_check[0]));
#endif
	if (!ret)
		ret = add_ioctls(ctx, l);
	if (!ret)
		ret = add_dirs(ctx, l);
	if (!ret)
		ret = add_api(ctx, l);
	if (!ret)
		ret = add_rmdir(ctx, l);
	/* tgkill: kicks of this process's threads (vm_stop, an NMI), and abort(); nothing else. */
	if (!ret)
		ret = seccomp_rules_own_signal(ctx, SIGUSR1);
	if (ret) {
		seccomp_release(ctx);
		return ret;
	}
	/* No TSYNC: this thread only. */
	return seccomp_rules_load(ctx);
}

/* Loads (l) on the calling thread, its refusals named (l)->who. Returns 0 or -errno (logged). */
static int thread_lock(const struct thread_list *l)
{
	sigset_t sys;
	int ret;

	pthread_once(&report.once, report_make);
	ret = report.err;
	/* A blocked SIGSYS would be forced through as the kernel's default: a core, no line. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	if (!ret)
		ret = -pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	snprintf(thread_who, sizeof(thread_who), "%s", l->who);
	if (!ret)
		ret = list_load(l);
	if (ret)
		log_layer(LOG_ERR, LAYER_SANDBOX, "%s: cannot load its syscall filter: %s", l->who,
			  strerror(-ret));
	return ret;
}

/* The syscalls (rules) let through on this architecture, each counted once, and (extra) added at load. */
static unsigned int count(const struct rule *rules, size_t n, unsigned int extra)
{
	for (size_t i = 0; i < n; i++) {
		bool seen = rules[i].nr < 0;

		for (size_t j = 0; !seen && j < i; j++)
			seen = rules[j].nr == rules[i].nr;
		extra += !seen;
	}
	return extra;
}

int thread_filter_vcpu(const struct thread_filter_vcpu *t)
{
	char who[24];
	struct thread_list l = {
		.who = who,
		.rules = rules_vcpu,
		.nr_rules = sizeof(rules_vcpu) / sizeof(rules_vcpu[0]),
		.ioctls = ioctls_vcpu,
		.nr_ioctls = sizeof(ioctls_vcpu) / sizeof(ioctls_vcpu[0]),
		.vcpu_fd = t->vcpu_fd,
		.vm_fd = t->vm_fd,
		.api_fd = -1,
		.rmdir_fd = -1,
	};
	int ret;

	snprintf(who, sizeof(who), "vCPU %u", t->id);
	ret = thread_lock(&l);
	if (ret)
		return ret;
	/* Said at -v for vCPU 0 only: every vCPU has the same list. */
	log_layer(t->id ? LOG_DEBUG : LOG_INFO, LAYER_SANDBOX,
		  "vCPU %u: locked down: seccomp allowlist of %u syscalls, its own thread only", t->id,
		  thread_filter_vcpu_count());
	return 0;
}

unsigned int thread_filter_vcpu_count(void)
{
	return count(rules_vcpu, sizeof(rules_vcpu) / sizeof(rules_vcpu[0]), 2); /* ioctl, tgkill */
}

int thread_filter_main(const struct thread_filter_main *t)
{
	struct thread_list l = {
		.who = "kvmini's main thread",
		.rules = rules_main,
		.nr_rules = sizeof(rules_main) / sizeof(rules_main[0]),
		.ioctls = ioctls_main,
		.nr_ioctls = sizeof(ioctls_main) / sizeof(ioctls_main[0]),
		.leak_check = true,
		.vcpu_fd = -1,
		.vm_fd = t->vm_fd,
		.dirs = t->dirs,
		.nr_dirs = t->nr_dirs,
		.api_fd = t->api_fd,
		.rmdir_fd = t->rmdir_fd,
	};
	int ret = thread_lock(&l);

	if (ret)
		return ret;
	log_layer(LOG_INFO, LAYER_SANDBOX,
		  "main thread: locked down: seccomp allowlist of %u syscalls, its own thread only",
		  thread_filter_main_count(t));
	return 0;
}

unsigned int thread_filter_main_count(const struct thread_filter_main *t)
{
	/*
	 * ioctl and tgkill, unlinkat where a directory is named or a cgroup is to be removed (newfstatat is
	 * in the list), accept4 where the API listens.
	 */
	return count(rules_main, sizeof(rules_main) / sizeof(rules_main[0]),
		     2u + (t && (t->nr_dirs || t->rmdir_fd >= 0)) + (t && t->api_fd >= 0));
}
