/* test_sandbox.c: what a locked device process can and cannot do, and what sandbox_spawn obtains. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devproc/sandbox.h"

/*
 * Each lock happens in a child forked here: a locked process cannot go back, and the Criterion worker
 * must still report. The child ends with child_exit(): exit() would run LeakSanitizer, whose
 * ptrace-based stop-the-world the filter refuses, and ASan's preparation for _exit() (a noreturn call)
 * asks sigaltstack(), which no allowlist has either.
 */

static void child_exit(int status)
{
	for (;;)
		syscall(SYS_exit_group, status);
}

static char dir[] = "/tmp/test_sandbox.XXXXXX";
static char allowed[64], other[64];

static void files_make(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(allowed, sizeof(allowed), "%s/allowed", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(i ? other : allowed, "w");
		cr_assert_not_null(f);
		fputs("ok", f);
		fclose(f);
	}
}

static void files_remove(void)
{
	unlink(allowed);
	unlink(other);
	rmdir(dir);
}

TestSuite(sandbox, .init = files_make, .fini = files_remove);

/* What a locked child did: its exit status (or 1000 + the signal that killed it) and any refusal. */
struct outcome {
	int status;
	int refused; /* a struct sandbox_refusal was read */
	struct sandbox_refusal rf;
	pid_t pid;
};

static int wait_status(pid_t pid)
{
	int st;

	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

static void refusal_read(int fd, struct outcome *o)
{
	o->refused = read(fd, &o->rf, sizeof(o->rf)) == (ssize_t)sizeof(o->rf);
	close(fd);
}

/* locked_run: fork, lock the child with (kind), the test's file read-write and its directory bound. */
static struct outcome locked_run(enum sandbox_kind kind, int (*probe)(void))
{
	const char *rw[] = { allowed, NULL };
	const char *binds[] = { dir, NULL };
	struct outcome o = { 0 };
	int rep[2];

	cr_assert_eq(pipe2(rep, O_CLOEXEC), 0);
	o.pid = fork();
	cr_assert_geq(o.pid, 0);
	if (o.pid == 0) {
		struct sandbox_policy p = { .name = "test probe",
					    .kind = kind,
					    .paths_rw = rw,
					    .bind_dirs = binds,
					    .report_fd = rep[1],
					    .max_fds = 64 };
		struct sandbox_report r;

		close(rep[0]);
		if (sandbox_lock(&p, &r))
			child_exit(99);
		child_exit(probe());
	}
	close(rep[1]);
	o.status = wait_status(o.pid);
	refusal_read(rep[0], &o);
	return o;
}

static int landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return v < 0 ? 0 : (int)v;
}

static void assert_refused(const struct outcome *o, int nr, const char *name)
{
	char line[512];

	cr_assert_eq(o->status, SANDBOX_REFUSED_STATUS, "the child ended with %d, not the refused status",
		     o->status);
	cr_assert(o->refused, "no refusal record on report_fd");
	cr_assert_eq(o->rf.nr, nr, "refused syscall %d, expected %s (%d)", o->rf.nr, name, nr);
	cr_assert_eq(o->rf.pid, o->pid, "the record names pid %d, the child is %d", o->rf.pid, o->pid);
	cr_assert_gt(sandbox_describe_refusal(&o->rf, "test probe", line, sizeof(line)), 0);
	char want[64];
	snprintf(want, sizeof(want), "it called %s (%d),", name, nr);
	cr_assert_not_null(strstr(line, want), "%s", line);
	cr_assert_not_null(strstr(line, "L-3 sandbox: device process"), "%s", line);
}

/* ---- sandbox_lock ---- */

static int open_allowed(void)
{
	char buf[3] = "";
	int fd = open(allowed, O_RDWR);

	if (fd < 0)
		return 10;
	if (read(fd, buf, 2) != 2 || strcmp(buf, "ok"))
		return 11;
	return write(fd, "OK", 2) == 2 ? 0 : 12;
}

Test(sandbox, lock_given_path_opens_read_write)
{
	struct outcome o = locked_run(SANDBOX_PROBE, open_allowed);

	cr_assert_eq(o.status, 0, "probe ended with %d", o.status);
	cr_assert_not(o.refused);
}

static int open_host_file(void)
{
	return open("/etc/passwd", O_RDONLY) < 0 && (errno == ENOENT || errno == EACCES) ? 0 : 20;
}

Test(sandbox, lock_host_file_not_given_does_not_open)
{
	struct outcome o = locked_run(SANDBOX_PROBE, open_host_file);

	cr_assert_eq(o.status, 0, "/etc/passwd opened, or failed otherwise (probe %d)", o.status);
}

static int open_beside(void)
{
	return open(other, O_RDONLY) < 0 && errno == EACCES ? 0 : 30;
}

Test(sandbox, lock_file_beside_given_path_is_refused_by_landlock)
{
	if (!landlock_abi())
		cr_skip_test("this kernel has no Landlock");
	struct outcome o = locked_run(SANDBOX_PROBE, open_beside);

	cr_assert_eq(o.status, 0, "a file in a bound directory, not given, opened (probe %d)", o.status);
}

static int exec_true(void)
{
	char *argv[] = { "true", NULL };

	execve("/bin/true", argv, NULL);
	return 40;
}

Test(sandbox, lock_exec_is_refused)
{
	struct outcome o = locked_run(SANDBOX_PROBE, exec_true);

	assert_refused(&o, SCMP_SYS(execve), "execve");
}

static int ptrace_me(void)
{
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return 50;
}

Test(sandbox, lock_ptrace_is_refused)
{
	struct outcome o = locked_run(SANDBOX_PROBE, ptrace_me);

	assert_refused(&o, SCMP_SYS(ptrace), "ptrace");
}

static int socket_inet(void)
{
	socket(AF_INET, SOCK_STREAM, 0);
	return 60;
}

Test(sandbox, lock_socket_is_refused_and_described)
{
	struct outcome o = locked_run(SANDBOX_PROBE, socket_inet);

	assert_refused(&o, SCMP_SYS(socket), "socket");
}

static int socket_unix(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		return 70;
	close(fd);
	return socket_inet();
}

Test(sandbox, vsock_allows_unix_sockets_only)
{
	struct outcome o = locked_run(SANDBOX_VSOCK, socket_unix);

	assert_refused(&o, SCMP_SYS(socket), "socket");
}

static int mmap_exec(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 80;
}

Test(sandbox, lock_executable_mapping_is_refused)
{
	struct outcome o = locked_run(SANDBOX_BLK, mmap_exec);

	assert_refused(&o, SCMP_SYS(mmap), "mmap");
}

static int fork_child(void)
{
	if (fork() == 0)
		child_exit(0);
	return 90;
}

Test(sandbox, blk_fork_is_refused)
{
	struct outcome o = locked_run(SANDBOX_BLK, fork_child);

	assert_refused(&o, SCMP_SYS(clone), "clone");
}

/*
 * clone3 is answered ENOSYS, not trapped: glibc's pthread_create then falls back to clone(), whose
 * flags the filter checks. (A thread started after the lock is not tested here: ASan's thread start
 * asks sched_getaffinity, madvise hints and sigaltstack, which no device list allows.)
 */
static int clone3_call(void)
{
	struct clone_args ca = { .flags = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND };

	return syscall(SYS_clone3, &ca, sizeof(ca)) < 0 && errno == ENOSYS ? 0 : 100;
}

Test(sandbox, blk_clone3_answers_enosys)
{
	struct outcome o = locked_run(SANDBOX_BLK, clone3_call);

	cr_assert_eq(o.status, 0, "probe ended with %d (refused: %d, nr %d)", o.status, o.refused, o.rf.nr);
}

/* status_field: the value after "(field):" in /proc/(pid)/status, into (val). */
static void status_field(pid_t pid, const char *field, char *val, size_t len)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	val[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			snprintf(val, len, "%s", line + flen + 1 + strspn(line + flen + 1, " \t"));
			val[strcspn(val, "\n")] = '\0';
		}
	fclose(f);
}

Test(sandbox, lock_status_shows_filter_no_new_privs_no_capabilities)
{
	const char *rw[] = { allowed, NULL };
	int ready[2], go[2];
	char c = 0, val[64];
	pid_t pid;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(go), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct sandbox_policy p = {
			.name = "test", .kind = SANDBOX_PROBE, .paths_rw = rw, .report_fd = -1
		};
		struct sandbox_report r;

		if (sandbox_lock(&p, &r))
			child_exit(99);
		/* Read while the parent looks at /proc/PID/status: /proc is not in the empty root. */
		child_exit(write(ready[1], "r", 1) == 1 && read(go[0], &c, 1) == 1 ? 0 : 1);
	}
	cr_assert_eq(read(ready[0], &c, 1), 1, "the child did not lock");
	status_field(pid, "Seccomp", val, sizeof(val));
	cr_expect_str_eq(val, "2");
	status_field(pid, "NoNewPrivs", val, sizeof(val));
	cr_expect_str_eq(val, "1");
	status_field(pid, "CapEff", val, sizeof(val));
	cr_expect_str_eq(val, "0000000000000000");
	status_field(pid, "CapPrm", val, sizeof(val));
	cr_expect_str_eq(val, "0000000000000000");
	cr_assert_eq(write(go[1], "g", 1), 1);
	cr_assert_eq(wait_status(pid), 0);
}

Test(sandbox, lock_relative_path_is_einval)
{
	const char *rw[] = { "relative/path", NULL };
	struct sandbox_policy p = { .name = "test", .kind = SANDBOX_PROBE, .paths_rw = rw, .report_fd = -1 };
	struct sandbox_report r;

	/* Refused before any step: the test's own process stays as it was. */
	cr_assert_eq(sandbox_lock(&p, &r), -EINVAL);
}

/* ---- sandbox_describe_refusal ---- */

Test(sandbox, describe_names_the_syscall_and_process)
{
	struct sandbox_refusal rf = { SANDBOX_REFUSAL_MAGIC, SCMP_SYS(socket), seccomp_arch_native(), 4242 };
	char line[512], want[400];

	cr_assert_gt(sandbox_describe_refusal(&rf, "virtio-vsock", line, sizeof(line)), 0);
	snprintf(
		want, sizeof(want),
		"L-3 sandbox: device process 4242 (virtio-vsock) was stopped by its syscall filter: it called "
		"socket (%d), which its policy does not allow; this is a bug in kvmini: please report it with "
		"this line",
		SCMP_SYS(socket));
	cr_assert_str_eq(line, want);
}

Test(sandbox, describe_rejects_a_bad_magic)
{
	struct sandbox_refusal rf = { 0, 1, seccomp_arch_native(), 1 };
	char line[64];

	cr_assert_eq(sandbox_describe_refusal(&rf, "x", line, sizeof(line)), -EINVAL);
}

/* ---- sandbox_spawn ---- */

struct spawned {
	int go;	      /* the child waits for a byte here before it ends */
	int kept;     /* a descriptor kept */
	int not_kept; /* a descriptor it must not have */
};

static int wait_then_check_fds(void *arg)
{
	struct spawned *s = arg;
	char c;

	if (read(s->go, &c, 1) != 1)
		return 1;
	if (fcntl(s->kept, F_GETFD) < 0)
		return 2;
	if (fcntl(s->not_kept, F_GETFD) >= 0 || errno != EBADF)
		return 3;
	return 7;
}

static int ns_differs(pid_t pid, const char *ns)
{
	char a[64], b[64];
	struct stat sa, sb;

	snprintf(a, sizeof(a), "/proc/self/ns/%s", ns);
	snprintf(b, sizeof(b), "/proc/%d/ns/%s", pid, ns);
	cr_assert_eq(stat(a, &sa), 0);
	cr_assert_eq(stat(b, &sb), 0, "%s: %s", b, strerror(errno));
	return sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev;
}

Test(sandbox, spawn_child_has_new_namespaces_where_obtained)
{
	static const struct {
		unsigned long flag;
		const char *file, *word;
	} ns[] = { { CLONE_NEWUSER, "user", "user" }, { CLONE_NEWNS, "mnt", "mount" },
		   { CLONE_NEWPID, "pid", "PID" },    { CLONE_NEWIPC, "ipc", "IPC" },
		   { CLONE_NEWUTS, "uts", "UTS" },    { CLONE_NEWNET, "net", "network" } };
	struct sandbox_policy p = { .name = "test spawn", .kind = SANDBOX_PROBE, .report_fd = -1 };
	struct sandbox_report r;
	int go[2], extra[2], pidfd = -1;
	pid_t pid;

	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(extra), 0);
	struct spawned s = { go[0], go[0], extra[0] };
	int keep[] = { go[0] };
	cr_assert_eq(sandbox_spawn(&p, wait_then_check_fds, &s, keep, 1, &pid, &pidfd, &r), 0);
	cr_assert_gt(pid, 0);
	cr_assert_geq(pidfd, 0);
	cr_log_info("spawn obtained namespaces %#lx; why: \"%s\"", r.namespaces, r.why);
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		int got = !!(r.namespaces & ns[i].flag);

		cr_expect_eq(ns_differs(pid, ns[i].file), got, "%s namespace: reported %d", ns[i].file, got);
		if (!got) {
			char want[32];
			snprintf(want, sizeof(want), "no %s namespace", ns[i].word);
			cr_expect_not_null(strstr(r.why, want), "why does not say \"%s\": %s", want, r.why);
		}
	}
	cr_assert_gt(r.nr_syscalls, 0);
	cr_assert_eq(write(go[1], "g", 1), 1);
	cr_assert_eq(wait_status(pid), 7,
		     "fn's return value is the child's exit status (3: a descriptor not kept was open)");
	close(pidfd);
}

struct spawn_lock {
	int report; /* the child's sandbox_report goes back here */
	const char *path;
};

static int lock_then_open(void *arg)
{
	struct spawn_lock *sl = arg;
	const char *rw[] = { sl->path, NULL };
	struct sandbox_policy p = {
		.name = "test spawn", .kind = SANDBOX_PROBE, .paths_rw = rw, .report_fd = -1, .max_fds = 16
	};
	struct sandbox_report r;
	int ret = sandbox_lock(&p, &r);

	if (write(sl->report, &r, sizeof(r)) != (ssize_t)sizeof(r) || ret)
		return 1;
	return open(sl->path, O_RDWR) >= 0 && open("/etc/passwd", O_RDONLY) < 0 ? 0 : 2;
}

Test(sandbox, spawned_child_locks_and_keeps_its_namespaces_in_the_report)
{
	struct sandbox_policy p = { .name = "test spawn", .kind = SANDBOX_PROBE, .report_fd = -1 };
	struct sandbox_report r, rc;
	int rep[2], pidfd;
	pid_t pid;

	cr_assert_eq(pipe(rep), 0);
	struct spawn_lock sl = { rep[1], allowed };
	cr_assert_eq(sandbox_spawn(&p, lock_then_open, &sl, &rep[1], 1, &pid, &pidfd, &r), 0);
	close(rep[1]);
	int status = wait_status(pid);
	cr_assert_eq(read(rep[0], &rc, sizeof(rc)), (ssize_t)sizeof(rc), "the child sent no report");
	cr_log_info("child's lock: Landlock ABI %d, namespaces %#lx, %u syscalls; why: \"%s\"",
		    rc.landlock_abi, rc.namespaces, rc.nr_syscalls, rc.why);
	cr_assert_eq(status, 0, "the spawned child ended with %d; its report says: %s", status, rc.why);
	cr_assert_eq(rc.namespaces & r.namespaces, r.namespaces,
		     "the lock's report lost namespaces spawn had");
	cr_assert(rc.namespaces & CLONE_NEWNS);
	cr_assert_eq(rc.landlock_abi, landlock_abi());
	cr_assert_eq(rc.nr_syscalls, r.nr_syscalls);
	close(pidfd);
}

Test(sandbox, spawn_rejects_a_null_function)
{
	struct sandbox_policy p = { .name = "test", .kind = SANDBOX_PROBE, .report_fd = -1 };
	struct sandbox_report r;
	int pidfd;
	pid_t pid;

	cr_assert_eq(sandbox_spawn(&p, NULL, NULL, NULL, 0, &pid, &pidfd, &r), -EINVAL);
}
