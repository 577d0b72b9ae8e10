/*
 * test_cgroup.c: --cgroup's option, and cgroup_enter and cgroup_leave on a directory standing in for the
 * cgroup2 mount.
 *
 * The stand-in behaves as cgroupfs where the module relies on it: this file's mkdirat, unlinkat and
 * openat come before libc's (an executable's definitions win over a shared library's), so that a cgroup
 * made below the stand-in comes with its interface files, a cgroup removed goes with them, and
 * /proc/self/cgroup names the cgroup a test chooses. What only the kernel does (moving processes, the
 * 'no internal processes' rule, enforcing the limits) is left to tests that run kvmini as root inside
 * scripts/kvm-env's machine, where cgroup2 is mounted.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"

/* ---- The stand-in for cgroupfs ---- */

static char base[64];	/* the test's directory */
static char mnt[96];	/* base/mnt: the stand-in mount */
static char proc[96];	/* base/self-cgroup: what /proc/self/cgroup reads */
static int mkdir_errno; /* when set, the next mkdirat below the stand-in fails so */
static const char *const files[] = { "cgroup.controllers", "cgroup.subtree_control", "cgroup.procs",
				     "cpu.max", "memory.max" };
static const char *const contents[] = { "cpu io memory pids\n", "", "", "max 100000\n", "max\n" };

/* Whether (dirfd, path) lies below the stand-in mount (the module passes its O_PATH descriptors). */
static bool below_mnt(int dirfd, const char *path)
{
	char link[64], where[4096];
	ssize_t n;

	if (!mnt[0])
		return false;
	if (path[0] == '/' || dirfd == AT_FDCWD)
		return strncmp(path, mnt, strlen(mnt)) == 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = readlink(link, where, sizeof(where) - 1);
	return n > 0 && (size_t)n >= strlen(mnt) && strncmp(where, mnt, strlen(mnt)) == 0;
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	char file[4096];
	struct stat sb;
	int ret;

	/* As the kernel: a directory that exists is EEXIST before any permission is looked at. */
	if (below_mnt(dirfd, path) && mkdir_errno && fstatat(dirfd, path, &sb, 0) < 0) {
		errno = mkdir_errno;
		return -1;
	}
	ret = (int)syscall(SYS_mkdirat, dirfd, path, mode);
	if (ret < 0 || !below_mnt(dirfd, path))
		return ret;
	/* cgroupfs: a new cgroup comes with its interface files. */
	for (unsigned int i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int fd;

		snprintf(file, sizeof(file), "%s/%s", path, files[i]);
		fd = (int)syscall(SYS_openat, dirfd, file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		cr_assert_geq(fd, 0, "the stand-in cannot make %s", file);
		cr_assert_eq(write(fd, contents[i], strlen(contents[i])), (ssize_t)strlen(contents[i]));
		close(fd);
	}
	return 0;
}

int unlinkat(int dirfd, const char *path, int flags)
{
	char file[4096];

	/* cgroupfs: a cgroup's interface files go with it. */
	if ((flags & AT_REMOVEDIR) && below_mnt(dirfd, path))
		for (unsigned int i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(file, sizeof(file), "%s/%s", path, files[i]);
			syscall(SYS_unlinkat, dirfd, file, 0);
		}
	return (int)syscall(SYS_unlinkat, dirfd, path, flags);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	va_start(ap, flags);
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		mode = va_arg(ap, mode_t);
	va_end(ap);
	if (proc[0] && strcmp(path, "/proc/self/cgroup") == 0)
		path = proc;
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

/* ---- Helpers ---- */

static void put(const char *cgroup, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s/%s", mnt, cgroup, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

/* (cgroup)'s file (name), less a last newline; "" when there is none. */
static const char *get(const char *cgroup, const char *name)
{
	static char text[256];
	char path[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s%s/%s", mnt, cgroup, name);
	f = fopen(path, "r");
	if (!f)
		return "";
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	if (n && text[n - 1] == '\n')
		text[n - 1] = '\0';
	return text;
}

static bool exists(const char *cgroup)
{
	char path[4096];
	struct stat sb;

	snprintf(path, sizeof(path), "%s%s", mnt, cgroup);
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* A cgroup at (cgroup), "/a/b", with its parents, as the kernel would have them. */
static void make(const char *cgroup)
{
	char path[4096];

	for (const char *p = cgroup; p;) {
		p = strchr(p + 1, '/');
		snprintf(path, sizeof(path), "%s%.*s", mnt, p ? (int)(p - cgroup) : (int)strlen(cgroup),
			 cgroup);
		cr_assert(mkdirat(AT_FDCWD, path, 0755) == 0 || errno == EEXIST, "cannot make %s", path);
	}
}

/* kvmini's own cgroup, as /proc/self/cgroup names it: made, its parents passing cpu and memory down. */
static void origin(const char *cgroup)
{
	FILE *f = fopen(proc, "w");

	cr_assert_not_null(f);
	fprintf(f, "1:name=systemd:/\n0::%s\n", cgroup);
	fclose(f);
	if (strcmp(cgroup, "/") == 0)
		return;
	make(cgroup);
	put("", "cgroup.subtree_control", "cpu memory\n");
	for (const char *p = cgroup; (p = strchr(p + 1, '/'));) {
		char parent[4096];

		snprintf(parent, sizeof(parent), "%.*s", (int)(p - cgroup), cgroup);
		put(parent, "cgroup.subtree_control", "cpu memory\n");
	}
}

static int rm(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void setup(void)
{
	snprintf(base, sizeof(base), "/tmp/test_cgroup.XXXXXX");
	cr_assert_not_null(mkdtemp(base));
	snprintf(proc, sizeof(proc), "%s/self-cgroup", base);
	snprintf(mnt, sizeof(mnt), "%s/mnt", base);
	cr_assert_eq(mkdirat(AT_FDCWD, mnt, 0755), 0);
	origin("/");
}

static void teardown(void)
{
	nftw(base, rm, 16, FTW_DEPTH | FTW_PHYS);
	mnt[0] = proc[0] = '\0';
}

/* stderr into a file while (st) is entered with (arg); what was written into (msg). */
static int enter_logged(const char *arg, struct cgroup_state *st, char *msg, size_t len)
{
	struct cgroup_config c;
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO), ret;
	size_t n;

	cr_assert_eq(cgroup_parse(arg, &c), 0, "'%s' does not parse", arg);
	c.root = mnt;
	cr_assert_not_null(f);
	fflush(stderr);
	dup2(fileno(f), STDERR_FILENO);
	ret = cgroup_enter(&c, st);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(msg, 1, len - 1, f);
	msg[n] = '\0';
	fclose(f);
	return ret;
}

static int enter(const char *arg, struct cgroup_state *st)
{
	char msg[2048];
	int ret = enter_logged(arg, st, msg, sizeof(msg));

	cr_assert_eq(ret != 0, msg[0] != '\0', "cgroup_enter returned %d and logged '%s'", ret, msg);
	return ret;
}

/* cgroup_parse's line for (arg), which must be refused. */
static const char *parse_error(const char *arg)
{
	static char msg[1024];
	struct cgroup_config c;
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	cr_assert_not_null(f);
	fflush(stderr);
	dup2(fileno(f), STDERR_FILENO);
	cr_assert_eq(cgroup_parse(arg, &c), -EINVAL, "'%s' was taken", arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(msg, 1, sizeof(msg) - 1, f);
	msg[n] = '\0';
	fclose(f);
	cr_assert_not(c.set);
	cr_assert_not_null(strstr(msg, "L-3 sandbox: --cgroup '"), "no L-3 line for '%s': %s", arg, msg);
	return msg;
}

static bool same_dir(int fd, const char *cgroup)
{
	char path[4096];
	struct stat a, b;

	snprintf(path, sizeof(path), "%s%s", mnt, cgroup);
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static bool closed(int fd)
{
	return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

/* ---- The option ---- */

Test(cgroup_parse, path_alone_sets_no_limit)
{
	struct cgroup_config c;

	cr_assert_eq(cgroup_parse("/kvmini/vm1", &c), 0);
	cr_assert(c.set);
	cr_assert_str_eq(c.path, "/kvmini/vm1");
	cr_assert_eq(c.cpu_quota_us, 0);
	cr_assert_eq(c.cpu_period_us, CGROUP_PERIOD_DEFAULT);
	cr_assert_eq(c.memory_max, 0);
	cr_assert_null(c.root);
}

Test(cgroup_parse, quota_period_and_size_are_taken)
{
	struct cgroup_config c;

	cr_assert_eq(cgroup_parse("vm1,cpu.max=50000/200000,memory.max=1G", &c), 0);
	cr_assert_str_eq(c.path, "vm1");
	cr_assert_eq(c.cpu_quota_us, 50000);
	cr_assert_eq(c.cpu_period_us, 200000);
	cr_assert_eq(c.memory_max, 1ULL << 30);
}

Test(cgroup_parse, quota_alone_takes_the_default_period)
{
	struct cgroup_config c;

	cr_assert_eq(cgroup_parse("vm1,memory.max=768M,cpu.max=250000", &c), 0);
	cr_assert_eq(c.cpu_quota_us, 250000);
	cr_assert_eq(c.cpu_period_us, 100000);
	cr_assert_eq(c.memory_max, 768ULL << 20);
}

Test(cgroup_parse, max_is_no_limit)
{
	struct cgroup_config c;

	cr_assert_eq(cgroup_parse("a/b,cpu.max=max/50000,memory.max=max", &c), 0);
	cr_assert_eq(c.cpu_quota_us, 0);
	cr_assert_eq(c.cpu_period_us, 50000);
	cr_assert_eq(c.memory_max, 0);
}

Test(cgroup_parse, bare_memory_number_is_mib)
{
	struct cgroup_config c;

	cr_assert_eq(cgroup_parse("vm1,memory.max=512", &c), 0);
	cr_assert_eq(c.memory_max, 512ULL << 20);
}

Test(cgroup_parse, bad_paths_are_refused_with_what_to_write)
{
	cr_assert_not_null(strstr(parse_error(""), "no cgroup path"));
	cr_assert_not_null(strstr(parse_error(",cpu.max=50000"), "no cgroup path"));
	cr_assert_not_null(strstr(parse_error("/"), "root cgroup"));
	cr_assert_not_null(strstr(parse_error("/a//b"), "empty component"));
	cr_assert_not_null(strstr(parse_error("vm1/"), "empty component"));
	cr_assert_not_null(strstr(parse_error("a/../b"), "'..'"));
	cr_assert_not_null(strstr(parse_error("./vm1"), "'.'"));
	cr_assert_not_null(strstr(parse_error("vm\n1"), "control character"));
}

Test(cgroup_parse, bad_limits_are_refused_with_what_to_write)
{
	cr_assert_not_null(strstr(parse_error("vm1,cpu.max=999"), "from 1000, or max"));
	cr_assert_not_null(strstr(parse_error("vm1,cpu.max=half"), "cpu.max=50000 (half a CPU)"));
	cr_assert_not_null(strstr(parse_error("vm1,cpu.max=50000/999"), "1000 to 1000000"));
	cr_assert_not_null(strstr(parse_error("vm1,cpu.max=50000/1000001"), "1000 to 1000000"));
	cr_assert_not_null(strstr(parse_error("vm1,cpu.max=/100000"), "quota"));
	cr_assert_not_null(strstr(parse_error("vm1,cpu.max="), "needs a value"));
	cr_assert_not_null(strstr(parse_error("vm1,memory.max=100K"), "under 1 MiB"));
	cr_assert_not_null(strstr(parse_error("vm1,memory.max=lots"), "not a size"));
	cr_assert_not_null(strstr(parse_error("vm1,memory.max=99999999T"), "too large"));
	cr_assert_not_null(strstr(parse_error("vm1,cpu.max=1000,cpu.max=2000"), "given twice"));
	cr_assert_not_null(strstr(parse_error("vm1,pids.max=10"), "'pids.max=10' is not a limit"));
	cr_assert_not_null(strstr(parse_error("vm1,"), "'' is not a limit"));
}

Test(cgroup, controller_lists_are_read_by_word)
{
	cr_assert(cgroup_has_controller("cpuset cpu io memory pids", "cpu"));
	cr_assert(cgroup_has_controller("cpu memory\n", "memory"));
	cr_assert_not(cgroup_has_controller("cpuset io memory", "cpu"));
	cr_assert_not(cgroup_has_controller("", "cpu"));
}

/* ---- cgroup_of ---- */

Test(cgroup, of_reads_the_v2_line_of_proc_pid_cgroup)
{
	char self[4096], by_pid[4096];
	int ret = cgroup_of(0, self, sizeof(self));

	if (ret == -ENOENT)
		cr_skip_test("this host shows no cgroup v2 path in /proc/self/cgroup");
	cr_assert_eq(ret, 0);
	cr_assert_eq(self[0], '/');
	cr_assert_eq(cgroup_of(getpid(), by_pid, sizeof(by_pid)), 0);
	cr_assert_str_eq(self, by_pid);
	cr_assert_eq(cgroup_of(0, self, 1), -ENAMETOOLONG);
	cr_assert_eq(cgroup_of(2147483647, self, sizeof(self)), -ENOENT, "no such process");
}

Test(cgroup, of_skips_the_v1_lines, .init = setup, .fini = teardown)
{
	char path[4096];

	origin("/user.slice/app.scope");
	cr_assert_eq(cgroup_of(0, path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/user.slice/app.scope");
}

/* ---- cgroup_enter and cgroup_leave ---- */

Test(cgroup, enter_makes_the_cgroup_passes_controllers_down_and_moves_in, .init = setup, .fini = teardown)
{
	struct cgroup_state st;

	cr_assert_eq(enter("/kvmini/vm1,cpu.max=50000,memory.max=1G", &st), 0);
	cr_assert(st.active);
	cr_assert_str_eq(st.path, "/kvmini/vm1");
	cr_assert_str_eq(st.origin, "/");
	cr_assert(exists("/kvmini/vm1"));
	cr_assert_eq(st.nr_made, 2);
	cr_assert_str_eq(st.made, "kvmini/vm1");
	cr_assert(same_dir(st.dir_fd, ""), "unlinkat's directory is not the one holding kvmini/");
	cr_assert_str_eq(get("", "cgroup.subtree_control"), "+cpu +memory");
	cr_assert_str_eq(get("/kvmini", "cgroup.subtree_control"), "+cpu +memory");
	cr_assert_str_eq(get("/kvmini/vm1", "cgroup.subtree_control"), "", "a leaf passes nothing down");
	cr_assert_str_eq(get("/kvmini/vm1", "cgroup.procs"), "0", "kvmini did not move in");
	cr_assert_str_eq(get("/kvmini/vm1", "cpu.max"), "50000 100000");
	cr_assert_str_eq(get("/kvmini/vm1", "memory.max"), "1073741824");
	cr_assert_eq(st.nr_undo, 0, "the root cgroup may hold processes: nothing to take back");
	cgroup_leave(&st);
}

Test(cgroup, leave_moves_back_and_removes_what_enter_made, .init = setup, .fini = teardown)
{
	struct cgroup_state st;
	int fds[4];

	make("/kvmini");
	cr_assert_eq(enter("/kvmini/a/vm1", &st), 0);
	cr_assert_eq(st.nr_made, 2);
	cr_assert_str_eq(st.made, "a/vm1");
	cr_assert(same_dir(st.dir_fd, "/kvmini"));
	cr_assert_str_eq(get("/kvmini/a/vm1", "cpu.max"), "max 100000");
	cr_assert_str_eq(get("/kvmini/a/vm1", "memory.max"), "max");
	fds[0] = st.back_fd, fds[1] = st.dir_fd, fds[2] = st.cpu_fd, fds[3] = st.memory_fd;
	cgroup_leave(&st);
	cr_assert_not(st.active);
	cr_assert_str_eq(get("", "cgroup.procs"), "0", "kvmini did not move back");
	cr_assert_not(exists("/kvmini/a"));
	cr_assert(exists("/kvmini"), "a cgroup kvmini did not make was removed");
	for (unsigned int i = 0; i < 4; i++)
		cr_assert(closed(fds[i]), "descriptor %d left open", fds[i]);
}

Test(cgroup, relative_path_is_below_kvminis_cgroup, .init = setup, .fini = teardown)
{
	struct cgroup_state st;

	origin("/user.slice/app.scope");
	cr_assert_eq(enter("vm1,cpu.max=20000", &st), 0);
	cr_assert_str_eq(st.origin, "/user.slice/app.scope");
	cr_assert_str_eq(st.path, "/user.slice/app.scope/vm1");
	cr_assert(same_dir(st.dir_fd, "/user.slice/app.scope"));
	cr_assert_str_eq(get("/user.slice/app.scope/vm1", "cgroup.procs"), "0");
	cr_assert_str_eq(get("/user.slice/app.scope/vm1", "cpu.max"), "20000 100000");
	/* kvmini's own cgroup, left without processes, passes the controllers down: taken back at the end. */
	cr_assert_str_eq(get("/user.slice/app.scope", "cgroup.subtree_control"), "+cpu +memory");
	cr_assert_str_eq(get("/user.slice", "cgroup.subtree_control"), "cpu memory", "passed down already");
	cr_assert_eq(st.nr_undo, 1);
	cgroup_leave(&st);
	cr_assert_str_eq(get("/user.slice/app.scope", "cgroup.subtree_control"), "-cpu -memory");
	cr_assert_str_eq(get("/user.slice/app.scope", "cgroup.procs"), "0");
	cr_assert_not(exists("/user.slice/app.scope/vm1"));
}

Test(cgroup, controllers_passed_down_below_kvminis_cgroup_are_taken_back, .init = setup, .fini = teardown)
{
	struct cgroup_state st;

	origin("/app.scope");
	cr_assert_eq(enter("pool/vm1", &st), 0);
	cr_assert_eq(st.nr_undo, 2);
	cr_assert_str_eq(get("/app.scope/pool", "cgroup.subtree_control"), "+cpu +memory");
	cr_assert_str_eq(st.undo[0].text, "-cpu -memory");
	cr_assert_str_eq(st.undo[1].text, "-cpu -memory");
	cgroup_leave(&st);
	cr_assert_str_eq(get("/app.scope", "cgroup.subtree_control"), "-cpu -memory");
	cr_assert_not(exists("/app.scope/pool"));
}

Test(cgroup, existing_empty_cgroup_is_used_and_its_limits_put_back, .init = setup, .fini = teardown)
{
	struct cgroup_state st;

	make("/kvmini/vm1");
	put("", "cgroup.subtree_control", "cpu memory\n");
	put("/kvmini", "cgroup.subtree_control", "cpu memory\n");
	put("/kvmini/vm1", "cpu.max", "300000 100000\n");
	put("/kvmini/vm1", "memory.max", "2147483648\n");
	cr_assert_eq(enter("/kvmini/vm1,cpu.max=50000,memory.max=1G", &st), 0);
	cr_assert_eq(st.nr_made, 0);
	cr_assert_eq(st.dir_fd, -1, "nothing made: nothing to remove");
	cr_assert_str_eq(st.old_cpu, "300000 100000");
	cr_assert_str_eq(st.old_memory, "2147483648");
	cr_assert_str_eq(get("/kvmini", "cgroup.subtree_control"), "cpu memory",
			 "written though passed down");
	cr_assert_str_eq(get("/kvmini/vm1", "cpu.max"), "50000 100000");
	cgroup_leave(&st);
	cr_assert(exists("/kvmini/vm1"), "a cgroup kvmini did not make was removed");
	cr_assert_str_eq(get("/kvmini/vm1", "cpu.max"), "300000 100000");
	cr_assert_str_eq(get("/kvmini/vm1", "memory.max"), "2147483648");
}

Test(cgroup, existing_cgroup_with_processes_is_refused, .init = setup, .fini = teardown)
{
	struct cgroup_state st;
	char msg[2048];

	make("/kvmini/vm1");
	put("/kvmini/vm1", "cgroup.procs", "4242\n4243\n");
	cr_assert_eq(enter_logged("/kvmini/vm1", &st, msg, sizeof(msg)), -EBUSY);
	cr_assert_not_null(strstr(msg, "already holds processes (PID 4242"), "%s", msg);
	cr_assert_not_null(strstr(msg, "name another"), "%s", msg);
	cr_assert_not(st.active);
	cr_assert_str_eq(get("", "cgroup.subtree_control"), "", "changed before refusing");
	cr_assert_str_eq(get("/kvmini/vm1", "cgroup.procs"), "4242\n4243");
}

Test(cgroup, not_a_cgroup2_mount_is_named_with_its_fix, .init = setup, .fini = teardown)
{
	struct cgroup_state st;
	char path[128], msg[2048];

	snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(enter_logged("/vm1", &st, msg, sizeof(msg)), -ENOENT);
	cr_assert_not_null(strstr(msg, "L-3 sandbox: --cgroup: "), "%s", msg);
	cr_assert_not_null(strstr(msg, "is not a cgroup2 mount"), "%s", msg);
	cr_assert_not_null(strstr(msg, "mount -t cgroup2"), "%s", msg);
	cr_assert_not(exists("/vm1"));
}

Test(cgroup, missing_controller_is_named_with_its_fix, .init = setup, .fini = teardown)
{
	struct cgroup_state st;
	char msg[2048];

	put("", "cgroup.controllers", "cpuset io memory pids\n");
	cr_assert_eq(enter_logged("/kvmini/vm1", &st, msg, sizeof(msg)), -ENOTSUP);
	cr_assert_not_null(strstr(msg, "the cpu controller is not available"), "%s", msg);
	cr_assert_not_null(strstr(msg, "cgroup_no_v1=all"), "%s", msg);
	cr_assert_not(st.active);
	cr_assert_not(exists("/kvmini"), "what was made was left behind");
	cr_assert_str_eq(get("", "cgroup.procs"), "0", "kvmini was not moved back");
}

Test(cgroup, undelegated_parent_is_named_with_its_fix, .init = setup, .fini = teardown)
{
	struct cgroup_state st;
	char msg[2048];

	make("/kvmini");
	mkdir_errno = EACCES;
	cr_assert_eq(enter_logged("/kvmini/vm1", &st, msg, sizeof(msg)), -EACCES);
	cr_assert_not_null(strstr(msg, "cannot make cgroup"), "%s", msg);
	cr_assert_not_null(strstr(msg, "Delegate=yes"), "%s", msg);
	cr_assert_not(st.active);
}

Test(cgroup, file_in_the_way_is_refused, .init = setup, .fini = teardown)
{
	struct cgroup_state st;
	char msg[2048];

	put("", "kvmini", "");
	cr_assert_eq(enter_logged("/kvmini/vm1", &st, msg, sizeof(msg)), -ENOTDIR);
	cr_assert_not_null(strstr(msg, "not a cgroup: name another path"), "%s", msg);
}

Test(cgroup, too_deep_below_kvminis_cgroup_is_refused_and_undone, .init = setup, .fini = teardown)
{
	struct cgroup_state st;
	char msg[2048];

	origin("/app.scope");
	cr_assert_eq(enter_logged("a/b/c/d/e/f/g/h/vm1", &st, msg, sizeof(msg)), -ENAMETOOLONG);
	cr_assert_not_null(strstr(msg, "fewer levels down"), "%s", msg);
	cr_assert_not(exists("/app.scope/a"), "what was made was left behind");
	cr_assert_str_eq(get("/app.scope", "cgroup.subtree_control"), "-cpu -memory", "not taken back");
}

Test(cgroup, limits_are_read_back_for_inspect, .init = setup, .fini = teardown)
{
	struct cgroup_state st;
	struct cgroup_limits l;

	cr_assert_eq(enter("/vm1,cpu.max=150000/50000,memory.max=2G", &st), 0);
	cr_assert_eq(cgroup_read_limits(&st, &l), 0);
	cr_assert_str_eq(l.cpu_max, "150000 50000");
	cr_assert_str_eq(l.memory_max, "2147483648");
	cgroup_leave(&st);
	cr_assert_eq(cgroup_read_limits(&st, &l), -ENOENT);
}

Test(cgroup, nothing_asked_nothing_done)
{
	struct cgroup_config c = { .set = false };
	struct cgroup_state st = { .active = false }; /* zeroed: descriptor 0 must not be written */

	cgroup_leave(&st);
	cr_assert_eq(cgroup_enter(&c, &st), 0);
	cr_assert_not(st.active);
	cr_assert_eq(st.dir_fd, -1);
	cgroup_leave(&st);
}
