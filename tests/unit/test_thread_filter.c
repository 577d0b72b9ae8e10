/*
 * test_thread_filter.c: the syscall filters of a vCPU thread and of kvmini's main thread: what they let
 * through, what they refuse, and how.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
	bool main;		    /* the main thread's filter, not a vCPU's */
	int vcpu_fd, vm_fd;
	int dir;    /* main: the directory it may remove files in */
	int loaded; /* thread_filter_vcpu's return */
	int result;
	int err; /* errno after fn's call, where it looks at one */
};

static void *probe_thread(void *arg)
{
	struct probe *p = arg;
	struct thread_filter_vcpu t = { .id = 3, .vcpu_fd = p->vcpu_fd, .vm_fd = p->vm_fd };
	struct thread_filter_main m = {
		.vm_fd = p->vm_fd, .dirs = { p->dir }, .nr_dirs = 1, .api_fd = -1, .rmdir_fd = -1
	};

	p->loaded = p->main ? thread_filter_main(&m) : thread_filter_vcpu(&t);
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

/* refused_run: (fn) on a filtered thread (the main thread's filter where (main)) of a child forked here. */
static struct refusal refused_run_as(bool main, int (*fn)(struct probe *p))
{
	struct refusal r = { 0 };
	int out[2], st;
	pid_t pid;

	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct probe p = { .main = main, .dir = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC) };

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

static struct refusal refused_run(int (*fn)(struct probe *p))
{
	return refused_run_as(false, fn);
}

static void assert_refused_who(const struct refusal *r, const char *who, const char *name)
{
	char want[64], line[128];
	int nr = seccomp_syscall_resolve_name(name);

	cr_assert_eq(r->status, THREAD_FILTER_REFUSED_STATUS, "the child ended with %d, not %d; stderr: %s",
		     r->status, THREAD_FILTER_REFUSED_STATUS, r->err);
	snprintf(want, sizeof(want), "it called %s (%d),", name, nr);
	cr_assert_not_null(strstr(r->err, want), "no '%s' in: %s", want, r->err);
	snprintf(line, sizeof(line), "kvmini: error: L-3 sandbox: %s was stopped by its syscall filter", who);
	cr_assert_not_null(strstr(r->err, line), "%s", r->err);
	cr_assert_not_null(strstr(r->err, "this is a bug in kvmini: please report it with this line\n"), "%s",
			   r->err);
}

static void assert_refused(const struct refusal *r, const char *name)
{
	assert_refused_who(r, "vCPU 3", name);
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

/* ---- kvmini's main thread ---- */

/* A file made in /tmp (the probe's directory) before the filter, removed through the directory after. */
static char tmp_name[64];

static int remove_in_dir(struct probe *p)
{
	struct stat st;

	if (fstatat(p->dir, tmp_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 1;
	return unlinkat(p->dir, tmp_name, 0) == 0 ? 0 : 2;
}

Test(thread_filter, main_removes_a_file_in_its_directory_only_through_it)
{
	struct probe p = { .main = true };
	int fd;

	snprintf(tmp_name, sizeof(tmp_name), "test_thread_filter.%d", (int)getpid());
	p.dir = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(p.dir, 0);
	fd = openat(p.dir, tmp_name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	probe_run(&p, remove_in_dir);
	cr_assert_eq(p.result, 0);
	cr_assert(faccessat(p.dir, tmp_name, F_OK, 0) < 0 && errno == ENOENT);
	close(p.dir);
}

static int unlink_by_path(struct probe *p)
{
	(void)p;
	return unlink("/tmp/test_thread_filter.never");
}

Test(thread_filter, main_unlink_elsewhere_is_refused_and_reported)
{
	struct refusal r = refused_run_as(true, unlink_by_path);

	assert_refused_who(&r, "kvmini's main thread", "unlink");
}

static int new_process(struct probe *p)
{
	(void)p;
	return (int)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

Test(thread_filter, main_cannot_make_a_process)
{
	struct refusal r = refused_run_as(true, new_process);

	assert_refused_who(&r, "kvmini's main thread", "clone");
}

static int main_exec(struct probe *p)
{
	return exec_shell(p);
}

Test(thread_filter, main_execve_is_refused)
{
	struct refusal r = refused_run_as(true, main_exec);

	assert_refused_who(&r, "kvmini's main thread", "execve");
}

static int main_kvm_run(struct probe *p)
{
	return ioctl(p->vm_fd, KVM_RUN, 0);
}

Test(thread_filter, main_cannot_run_a_vcpu)
{
	struct refusal r = refused_run_as(true, main_kvm_run);

	assert_refused_who(&r, "kvmini's main thread", "ioctl");
}

static int main_teardown_ioctls(struct probe *p)
{
	/* Let through to the kernel, which answers ENOTTY: an eventfd is no VM. */
	return ioctl(p->vm_fd, KVM_IRQFD, 0) < 0 && errno == ENOTTY &&
			       ioctl(p->vm_fd, KVM_IOEVENTFD, 0) < 0 && errno == ENOTTY
		       ? 0
		       : 1;
}

Test(thread_filter, main_takes_back_event_channels_on_the_vm_fd)
{
	struct probe p = { .main = true, .dir = -1 };

	probe_run(&p, main_teardown_ioctls);
	cr_assert_eq(p.result, 0);
}

Test(thread_filter, main_count_names_each_syscall_once)
{
	struct thread_filter_main t = { .nr_dirs = 1, .api_fd = -1, .rmdir_fd = -1 };
	struct thread_filter_main api = { .nr_dirs = 1, .api_fd = 5, .rmdir_fd = 6 };
	unsigned int n = thread_filter_main_count(&t);

	cr_assert(n >= 30 && n <= 50, "%u syscalls", n);
	cr_assert_eq(thread_filter_main_count(NULL), n - 1);
	cr_assert_eq(thread_filter_main_count(&api), n + 1, "accept4, where the API listens");
}

/* In the sanitizer build (the unit tests'), LeakSanitizer checks at exit under the main thread's filter. */
Test(thread_filter, main_exit_with_its_leak_check_completes)
{
	struct thread_filter_main t = { .vm_fd = -1, .api_fd = -1, .rmdir_fd = -1 };
	int st = 0;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		exit(thread_filter_main(&t) == 0 ? 0 : 3); /* exit(): atexit handlers, the leak check */
	for (int i = 0; i < 200 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(50000);
	if (waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		cr_assert_fail(
			"the process did not end within 10 s of exit() under the main thread's filter");
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}
