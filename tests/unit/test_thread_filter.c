/* test_thread_filter.c: a vCPU thread's syscall filter: what it lets through, what it refuses, and how. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "thread_filter.h"

/*
 * Each test runs a thread that loads the vCPU filter on itself and then does one thing. A refusal ends
 * the whole process (exit_group), so what should be refused is tried in a child forked here, whose
 * stderr the test reads back. Two eventfds stand in for the vCPU's and the VM's fds: an ioctl the
 * filter lets through reaches the kernel, which answers ENOTTY (not a KVM fd), where a refused one
 * never returns.
 */

/* What the filtered thread does, and what it saw. */
struct probe {
	int (*fn)(struct probe *p); /* run after the filter loaded; its return is the thread's result */
	int vcpu_fd, vm_fd;
	int loaded; /* thread_filter_vcpu's return */
	int result;
	int err; /* errno after fn's call, where it looks at one */
};

static void *probe_thread(void *arg)
{
	struct probe *p = arg;
	struct thread_filter_vcpu t = { .id = 3, .vcpu_fd = p->vcpu_fd, .vm_fd = p->vm_fd };

	p->loaded = thread_filter_vcpu(&t);
	if (p->loaded == 0)
		p->result = p->fn(p);
	return NULL;
}

/* probe_run: (fn) on a filtered thread of this process; the thread has ended when it returns. */
static void probe_run(struct probe *p, int (*fn)(struct probe *p))
{
	pthread_t th;

	p->fn = fn;
	p->vcpu_fd = eventfd(0, EFD_CLOEXEC);
	p->vm_fd = eventfd(0, EFD_CLOEXEC);
	cr_assert(p->vcpu_fd >= 0 && p->vm_fd >= 0);
	cr_assert_eq(pthread_create(&th, NULL, probe_thread, p), 0);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(p->loaded, 0, "thread_filter_vcpu: %s", strerror(-p->loaded));
	close(p->vcpu_fd);
	close(p->vm_fd);
}

/* What a child whose filtered thread was refused showed: its exit status (or 1000 + its signal), stderr. */
struct refusal {
	int status;
	char err[1024];
};

/* refused_run: (fn) on a filtered thread of a child forked here. */
static struct refusal refused_run(int (*fn)(struct probe *p))
{
	struct refusal r = { 0 };
	int out[2], st;
	pid_t pid;

	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct probe p = { 0 };

		dup2(out[1], STDERR_FILENO);
		probe_run(&p, fn);
		/* Not refused: a distinct status, without exit()'s LeakSanitizer run. */
		for (;;)
			syscall(SYS_exit_group, 100 + p.result);
	}
	close(out[1]);
	for (size_t n = 0; n < sizeof(r.err) - 1;) {
		ssize_t got = read(out[0], r.err + n, sizeof(r.err) - 1 - n);

		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(out[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
	return r;
}

static void assert_refused(const struct refusal *r, const char *name)
{
	char want[64];
	int nr = seccomp_syscall_resolve_name(name);

	cr_assert_eq(r->status, THREAD_FILTER_REFUSED_STATUS, "the child ended with %d, not %d; stderr: %s",
		     r->status, THREAD_FILTER_REFUSED_STATUS, r->err);
	snprintf(want, sizeof(want), "it called %s (%d),", name, nr);
	cr_assert_not_null(strstr(r->err, want), "no '%s' in: %s", want, r->err);
	cr_assert_not_null(
		strstr(r->err, "kvmini: error: L-3 sandbox: vCPU 3 was stopped by its syscall filter"), "%s",
		r->err);
	cr_assert_not_null(strstr(r->err, "this is a bug in kvmini: please report it with this line\n"), "%s",
			   r->err);
}

/* ---- What a vCPU thread does is let through ---- */

static int write_eventfd(struct probe *p)
{
	uint64_t one = 1, got = 0;

	if (write(p->vm_fd, &one, sizeof(one)) != sizeof(one))
		return 1;
	return read(p->vm_fd, &got, sizeof(got)) == sizeof(got) && got == 1 ? 0 : 2;
}

Test(thread_filter, eventfd_write_and_read_pass)
{
	struct probe p = { 0 };

	probe_run(&p, write_eventfd);
	cr_assert_eq(p.result, 0);
}

static int kvm_ioctls(struct probe *p)
{
	static const unsigned long on_vcpu[] = { KVM_RUN, KVM_NMI, KVM_GET_REGS, KVM_GET_SREGS };
	static const unsigned long on_vm[] = { KVM_IRQFD, KVM_IOEVENTFD, KVM_SET_GSI_ROUTING };

	for (size_t i = 0; i < sizeof(on_vcpu) / sizeof(on_vcpu[0]); i++)
		if (ioctl(p->vcpu_fd, on_vcpu[i], 0) != -1 || errno != ENOTTY)
			return 10 + (int)i;
	for (size_t i = 0; i < sizeof(on_vm) / sizeof(on_vm[0]); i++)
		if (ioctl(p->vm_fd, on_vm[i], 0) != -1 || errno != ENOTTY)
			return 20 + (int)i;
	return 0;
}

Test(thread_filter, kvm_ioctls_on_their_fds_reach_the_kernel)
{
	struct probe p = { 0 };

	probe_run(&p, kvm_ioctls);
	cr_assert_eq(p.result, 0, "ioctl %d was not answered ENOTTY", p.result);
}

static int malloc_large(struct probe *p)
{
	/* Above malloc's mmap threshold: a mapping of its own, then unmapped. */
	char *b = malloc(4 << 20);

	(void)p;
	if (!b)
		return 1;
	memset(b, 1, 4 << 20);
	free(b);
	return 0;
}

Test(thread_filter, malloc_and_free_of_a_mapped_block_pass)
{
	struct probe p = { 0 };

	probe_run(&p, malloc_large);
	cr_assert_eq(p.result, 0);
}

static int clock_syscall(struct probe *p)
{
	struct timespec ts;

	(void)p;
	/* The syscall itself, as where the vDSO cannot read the clock. */
	return syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) == 0 ? 0 : 1;
}

Test(thread_filter, clock_gettime_syscall_passes)
{
	struct probe p = { 0 };

	probe_run(&p, clock_syscall);
	cr_assert_eq(p.result, 0);
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* The kick: SIGUSR1 to itself, as vm_stop() sends every vCPU, handled and returned from. */
static int kick_self(struct probe *p)
{
	(void)p;
	return pthread_kill(pthread_self(), SIGUSR1);
}

Test(thread_filter, sigusr1_kick_is_sent_handled_and_returned_from)
{
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	struct probe p = { 0 };

	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGUSR1, &sa, &old), 0);
	probe_run(&p, kick_self);
	sigaction(SIGUSR1, &old, NULL);
	cr_assert_eq(p.result, 0);
}

static int nothing(struct probe *p)
{
	(void)p;
	return 0;
}

Test(thread_filter, filter_holds_for_its_thread_only)
{
	struct probe p = { 0 };
	int s;

	probe_run(&p, nothing);
	/* No TSYNC: this thread never had the filter, and may still do what a vCPU may not. */
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s, 0, "socket() on an unfiltered thread: %s", strerror(errno));
	close(s);
}

Test(thread_filter, count_names_each_syscall_once)
{
	unsigned int n = thread_filter_vcpu_count();

	cr_assert(n >= 20 && n <= 40, "%u syscalls", n);
}

/* ---- What it does not do is refused and reported ---- */

static int make_socket(struct probe *p)
{
	(void)p;
	return socket(AF_INET, SOCK_STREAM, 0);
}

Test(thread_filter, socket_is_refused_and_reported)
{
	struct refusal r = refused_run(make_socket);

	assert_refused(&r, "socket");
}

static int open_file(struct probe *p)
{
	(void)p;
	/* For writing: a sanitizer build lets its report read files (thread_filter.h). */
	return open("/tmp/test_thread_filter.never", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
}

Test(thread_filter, open_is_refused_and_reported)
{
	struct refusal r = refused_run(open_file);

	assert_refused(&r, "openat");
}

static int exec_shell(struct probe *p)
{
	char *argv[] = { "sh", "-c", "true", NULL };

	(void)p;
	return execv("/bin/sh", argv);
}

Test(thread_filter, execve_is_refused_and_reported)
{
	struct refusal r = refused_run(exec_shell);

	assert_refused(&r, "execve");
}

static int kvm_run_on_vm_fd(struct probe *p)
{
	return ioctl(p->vm_fd, KVM_RUN, 0);
}

Test(thread_filter, kvm_run_on_another_fd_is_refused)
{
	struct refusal r = refused_run(kvm_run_on_vm_fd);

	assert_refused(&r, "ioctl");
}

static int other_ioctl(struct probe *p)
{
	return ioctl(p->vcpu_fd, KVM_SET_USER_MEMORY_REGION, 0);
}

Test(thread_filter, kvm_ioctl_a_vcpu_never_makes_is_refused)
{
	struct refusal r = refused_run(other_ioctl);

	assert_refused(&r, "ioctl");
}

static int signal_other(struct probe *p)
{
	(void)p;
	return (int)syscall(SYS_tgkill, getpid(), gettid(), SIGTERM);
}

Test(thread_filter, tgkill_with_another_signal_is_refused)
{
	struct refusal r = refused_run(signal_other);

	assert_refused(&r, "tgkill");
}

static int exec_mapping(struct probe *p)
{
	(void)p;
	return mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED;
}

Test(thread_filter, executable_mapping_is_refused)
{
	struct refusal r = refused_run(exec_mapping);

	assert_refused(&r, "mmap");
}

/* ---- The line ---- */

Test(thread_filter, describe_names_a_foreign_abi)
{
	char line[512];
	size_t n = thread_filter_describe("vCPU 0", 5, 0x40000003u, line, sizeof(line));

	cr_assert_eq(n, strlen(line));
	cr_assert_not_null(
		strstr(line, "vCPU 0 was stopped by its syscall filter: it called an unknown syscall (5) "
			     "of a foreign ABI (audit arch 0x40000003), which its policy does not allow"),
		"%s", line);
}

Test(thread_filter, describe_truncates_to_fit)
{
	char line[16];
	size_t n = thread_filter_describe("vCPU 0", 41, 0, line, sizeof(line));

	cr_assert_gt(n, sizeof(line));
	cr_assert_eq(strlen(line), sizeof(line) - 1);
	cr_assert_str_eq(line, "L-3 sandbox: vC");
}
