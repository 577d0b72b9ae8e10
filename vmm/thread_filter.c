/* thread_filter.c: the syscall allowlists kvmini's own threads put on themselves once the VM runs. */
#include "thread_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/if_tun.h>
#include <pthread.h>
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
#include <termios.h>
#include <unistd.h>

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
	ALLOW(clock_gettime), /* vm_now_ns() where the vDSO cannot read the clock source (a VM's hpet) */
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
#endif

/* The ioctls a vCPU thread makes, and on what. */
enum ioctl_on {
	ON_VCPU, /* this vCPU's fd */
	ON_VM,	 /* the VM's fd */
	ON_ANY,	 /* any fd (a tap: there may be several) */
	ON_STDERR,
};

static const struct ioctl_rule {
	unsigned long req;
	enum ioctl_on on;
} ioctls_vcpu[] = {
	{ KVM_RUN, ON_VCPU },		/* the guest runs */
	{ KVM_NMI, ON_VCPU },		/* an NMI another thread asked for (vcpu_request_nmi) */
	{ KVM_GET_REGS, ON_VCPU },	/* where a crashed guest was; at -vv, where a stopped one was */
	{ KVM_GET_SREGS, ON_VCPU },	/* the same: segments, control registers */
	{ KVM_IRQFD, ON_VM },		/* an MSI-X vector unmasked or masked: its irqfd added or removed */
	{ KVM_SET_GSI_ROUTING, ON_VM }, /* an MSI-X vector's message written: the routing table replaced */
	{ KVM_IOEVENTFD, ON_VM },	/* the driver moved a virtio BAR: its notify ioeventfds follow */
	{ TUNSETOFFLOAD, ON_ANY },	/* in-process virtio-net at DRIVER_OK: the offloads the driver took */
	/* log.c asks once whether stderr is a terminal, with the first line: it may be a vCPU's. */
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

static int add_ioctls(scmp_filter_ctx ctx, const struct thread_filter_vcpu *t)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < sizeof(ioctls_vcpu) / sizeof(ioctls_vcpu[0]); i++) {
		const struct ioctl_rule *r = &ioctls_vcpu[i];
		int fd = r->on == ON_VCPU ? t->vcpu_fd : r->on == ON_VM ? t->vm_fd : STDERR_FILENO;
		struct scmp_arg_cmp on[2] = { ARG_EQ(1, r->req), ARG_EQ(0, (scmp_datum_t)fd) };

		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), r->on == ON_ANY ? 1 : 2,
					     on);
	}
	return ret;
}

static int vcpu_load(const struct thread_filter_vcpu *t)
{
	scmp_filter_ctx ctx = seccomp_rules_context();
	int ret;

	if (!ctx)
		return -ENOMEM;
	ret = seccomp_rules_add(ctx, rules_vcpu, sizeof(rules_vcpu) / sizeof(rules_vcpu[0]));
#ifdef SANITIZED
	if (!ret)
		ret = seccomp_rules_add(ctx, rules_sanitizer,
					sizeof(rules_sanitizer) / sizeof(rules_sanitizer[0]));
#endif
	if (!ret)
		ret = add_ioctls(ctx, t);
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

int thread_filter_vcpu(const struct thread_filter_vcpu *t)
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
	snprintf(thread_who, sizeof(thread_who), "vCPU %u", t->id);
	if (!ret)
		ret = vcpu_load(t);
	if (ret) {
		log_layer(LOG_ERR, LAYER_SANDBOX, "vCPU %u: cannot load its syscall filter: %s", t->id,
			  strerror(-ret));
		return ret;
	}
	/* Said at -v for vCPU 0 only: every vCPU has the same list. */
	log_layer(t->id ? LOG_DEBUG : LOG_INFO, LAYER_SANDBOX,
		  "vCPU %u: locked down: seccomp allowlist of %u syscalls, its own thread only", t->id,
		  thread_filter_vcpu_count());
	return 0;
}

unsigned int thread_filter_vcpu_count(void)
{
	unsigned int n = 2; /* ioctl and tgkill, added at load time */

	for (size_t i = 0; i < sizeof(rules_vcpu) / sizeof(rules_vcpu[0]); i++) {
		bool seen = rules_vcpu[i].nr < 0;

		for (size_t j = 0; !seen && j < i; j++)
			seen = rules_vcpu[j].nr == rules_vcpu[i].nr;
		n += !seen;
	}
	return n;
}
