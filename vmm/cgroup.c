/* cgroup.c: kvmini and everything it starts in a cgroup v2 of their own, under cpu.max and memory.max. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../devices/base/log.h"
#include "cli.h"
#include "file.h"

/* The kernel's bounds on cpu.max (kernel/sched/core.c): quota and period from 1 ms, period up to 1 s. */
#define QUOTA_MIN  1000ULL
#define PERIOD_MAX 1000000ULL
#define QUOTA_MAX  ((1ULL << 44) - 1) /* max_cfs_runtime, in microseconds */
/* Below this, kvmini itself would be killed by the OOM killer before the guest starts. */
#define MEMORY_MIN (1ULL << 20)

#define USAGE "expected PATH[,cpu.max=QUOTA[/PERIOD]][,memory.max=SIZE]"
/* The common fixes, one way in every message. */
#define FIX_DELEGATE                                                                                            \
	"run kvmini as root, or in a cgroup delegated to its user (systemd-run --user --scope -p Delegate=yes " \
	"kvmini run --cgroup NAME ...) with a relative --cgroup path"
#define FIX_MOUNT \
	"boot with systemd.unified_cgroup_hierarchy=1, or as root: mount -t cgroup2 none " CGROUP_MOUNT

static const char *const controllers[] = { "cpu", "memory" };

/* ---- The option ---- */

static int bad(const char *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(const char *arg, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_layer(LOG_ERR, LAYER_SANDBOX, "--cgroup '%s': %s", arg, what);
	return -EINVAL;
}

/* A cgroup path: its components plain names (no "", ".", "..", control characters), not the root. */
static int check_path(const char *arg, const char *path)
{
	const char *s = path[0] == '/' ? path + 1 : path;

	if (!path[0])
		return bad(arg, "no cgroup path: " USAGE ", PATH as /kvmini/vm1 (below the cgroup2 mount) or "
				"vm1 (below kvmini's own cgroup)");
	if (!s[0])
		return bad(arg,
			   "/ is the root cgroup, which takes no limits: name one below it, as /kvmini/vm1");
	for (;;) {
		size_t n = strcspn(s, "/");

		if (n == 0)
			return bad(arg,
				   "the path has an empty component ('//', or a '/' at its end): write it "
				   "as /kvmini/vm1");
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return bad(arg, "'.' and '..' are not taken in a cgroup path: write the cgroup's own "
					"path, as /kvmini/vm1");
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return bad(arg, "the path has a control character: name the cgroup with "
						"printable characters");
		if (!s[n])
			return 0;
		s += n + 1;
	}
}

/* cpu.max=QUOTA[/PERIOD], QUOTA a number of microseconds or "max". */
static int parse_cpu(const char *arg, const char *value, struct cgroup_config *c)
{
	const char *slash = strchr(value, '/');
	size_t len = slash ? (size_t)(slash - value) : strlen(value);
	unsigned long quota = 0, period = CGROUP_PERIOD_DEFAULT;
	char text[24];

	if (slash && cli_parse_uint(slash + 1, QUOTA_MIN, PERIOD_MAX, &period) < 0)
		return bad(arg, "the period of cpu.max is microseconds from 1000 to 1000000 (1 ms to 1 s): "
				"write cpu.max=50000/100000, or leave it out (100000)");
	if (len == 0 || len >= sizeof(text))
		len = sizeof(text) - 1;
	memcpy(text, value, len);
	text[len] = '\0';
	if (strcmp(text, "max") != 0 && cli_parse_uint(text, QUOTA_MIN, QUOTA_MAX, &quota) < 0)
		return bad(
			arg,
			"the quota of cpu.max is microseconds of CPU time per period, from 1000, or max: "
			"write cpu.max=50000 (half a CPU), cpu.max=200000/100000 (two CPUs) or cpu.max=max");
	c->cpu_quota_us = quota;
	c->cpu_period_us = period;
	return 0;
}

static int parse_memory(const char *arg, const char *value, struct cgroup_config *c)
{
	uint64_t size;
	int ret;

	if (strcmp(value, "max") == 0) {
		c->memory_max = 0;
		return 0;
	}
	ret = cli_parse_size(value, &size);
	if (ret == -ERANGE)
		return bad(arg, "memory.max=%s is too large: write a size as 512M or 2G, or max", value);
	if (ret < 0)
		return bad(arg, "memory.max=%s is not a size: write 512M, 2G (a bare number is MiB), or max",
			   value);
	if (size < MEMORY_MIN)
		return bad(arg,
			   "memory.max=%s is under 1 MiB, which kvmini alone outgrows: give the guest's "
			   "--mem and some for kvmini, as 1G, or max",
			   value);
	c->memory_max = size;
	return 0;
}

/* One ",key=value" word of (len) bytes at (w); (*seen) bit 0: cpu.max given, bit 1: memory.max. */
static int parse_word(const char *arg, const char *w, size_t len, struct cgroup_config *c, unsigned int *seen)
{
	static const char *const keys[] = { "cpu.max=", "memory.max=" };
	char value[64];

	for (unsigned int k = 0; k < 2; k++) {
		size_t klen = strlen(keys[k]);

		if (len < klen || strncmp(w, keys[k], klen) != 0)
			continue;
		if (*seen & (1u << k))
			return bad(arg, "%.*s is given twice: give it once", (int)klen - 1, keys[k]);
		*seen |= 1u << k;
		if (len == klen || len - klen >= sizeof(value))
			return bad(arg, "%.*s needs a value: " USAGE, (int)klen - 1, keys[k]);
		memcpy(value, w + klen, len - klen);
		value[len - klen] = '\0';
		return k == 0 ? parse_cpu(arg, value, c) : parse_memory(arg, value, c);
	}
	return bad(arg, "'%.*s' is not a limit kvmini sets: " USAGE, (int)len, w);
}

int cgroup_parse(const char *arg, struct cgroup_config *c)
{
	size_t n = strcspn(arg, ",");
	unsigned int seen = 0;
	int ret;

	memset(c, 0, sizeof(*c));
	c->cpu_period_us = CGROUP_PERIOD_DEFAULT;
	if (n >= sizeof(c->path))
		return bad(arg, "the path is longer than %zu bytes: name a shorter one", sizeof(c->path) - 1);
	memcpy(c->path, arg, n);
	c->path[n] = '\0';
	ret = check_path(arg, c->path);
	for (const char *w = arg[n] ? arg + n + 1 : NULL; !ret && w;) {
		size_t len = strcspn(w, ",");

		ret = parse_word(arg, w, len, c, &seen);
		w = w[len] ? w + len + 1 : NULL;
	}
	if (ret)
		return ret;
	c->set = true;
	return 0;
}

/* ---- Files ---- */

bool cgroup_has_controller(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

/* (dir)/(name) into (out), relative to the mount: (dir) "" is the root. */
static int join(char *out, size_t len, const char *dir, const char *name)
{
	int n = dir[0] ? snprintf(out, len, "%s/%s", dir, name) : snprintf(out, len, "%s", name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* A cgroup file's one line, (n) bytes read into (buf) (or -errno), without its newline. 0 or -errno. */
static int one_line(char *buf, ssize_t n)
{
	if (n < 0)
		return (int)n;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

/* The text at (fd) from its start into (buf) of (len) bytes, less a last newline. Returns 0 or -errno. */
static int pread_text(int fd, char *buf, size_t len)
{
	return one_line(buf, file_pread_text(fd, buf, len));
}

/* Small file (path), relative to (dirfd), into (buf) as pread_text. Returns 0 or -errno. */
static int read_at(int dirfd, const char *path, char *buf, size_t len)
{
	return one_line(buf, file_read_text(dirfd, path, buf, len));
}

/* (text) with one write(2): a cgroup file takes it whole or refuses it. Returns 0 or -errno. */
static int write_text(int fd, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;

	do
		n = write(fd, text, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int write_at(int dirfd, const char *path, const char *text)
{
	int fd = openat(dirfd, path, O_WRONLY | O_TRUNC | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = write_text(fd, text);
	close(fd);
	return ret;
}

int cgroup_path_in(const char *text, char *buf, size_t len)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		size_t n = strcspn(p, "\n");

		if (n < 3 || strncmp(p, "0::", 3) != 0)
			continue;
		if (n - 3 >= len)
			return -ENAMETOOLONG;
		memcpy(buf, p + 3, n - 3);
		buf[n - 3] = '\0';
		return 0;
	}
	return -ENOENT;
}

int cgroup_of(pid_t pid, char *out, size_t size)
{
	char path[32], text[16384];
	int ret;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/cgroup");
	ret = read_at(AT_FDCWD, path, text, sizeof(text));
	return ret ? ret : cgroup_path_in(text, out, size);
}

int cgroup_read_limits(const struct cgroup_state *st, struct cgroup_limits *out)
{
	int ret;

	if (!st->active)
		return -ENOENT;
	ret = pread_text(st->cpu_fd, out->cpu_max, sizeof(out->cpu_max));
	return ret ? ret : pread_text(st->memory_fd, out->memory_max, sizeof(out->memory_max));
}

/* ---- Entering ---- */

/* What cgroup_enter works with; paths below the mount ("" the root, no leading '/'). */
struct walk {
	const char *mount; /* for messages */
	int root_fd;	   /* O_PATH: the mount */
	const char *self;  /* kvmini's cgroup: st->origin less its '/' */
	const char *rel;   /* the cgroup to enter: st->path less its '/' */
	bool made;	   /* cgroup_enter made it: no old limits to put back */
};

static void state_init(struct cgroup_state *st)
{
	memset(st, 0, sizeof(*st));
	st->back_fd = st->dir_fd = st->cpu_fd = st->memory_fd = -1;
	for (unsigned int i = 0; i < CGROUP_UNDO_MAX; i++)
		st->undo[i].fd = -1;
}

/* The mount, opened O_PATH; a cgroup2 mount has cgroup.controllers at its root (v1 and tmpfs do not). */
static int open_mount(const char *mount)
{
	int fd = open(mount, O_PATH | O_DIRECTORY | O_CLOEXEC), err = fd < 0 ? errno : 0;

	if (fd >= 0 && faccessat(fd, "cgroup.controllers", F_OK, 0) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	log_layer(LOG_ERR, LAYER_SANDBOX,
		  "--cgroup: %s is not a cgroup2 mount (%s): cgroup v2 is not mounted there (a cgroup v1 or "
		  "hybrid system, or a container or minimal init that mounts none); " FIX_MOUNT,
		  mount, err ? strerror(err) : "it has no cgroup.controllers");
	return err ? -err : -ENOENT;
}

/* st->origin: kvmini's own cgroup; st->path: the one to enter, from (c). */
static int find_paths(const struct cgroup_config *c, struct cgroup_state *st)
{
	int ret = cgroup_of(0, st->origin, sizeof(st->origin)), n;

	if (ret) {
		log_layer(
			LOG_ERR, LAYER_SANDBOX,
			"--cgroup: kvmini's own cgroup is unknown: /proc/self/cgroup names no cgroup v2 path "
			"(%s): this system has no cgroup v2 hierarchy; " FIX_MOUNT,
			strerror(-ret));
		return ret;
	}
	if (c->path[0] == '/')
		n = snprintf(st->path, sizeof(st->path), "%s", c->path);
	else
		n = snprintf(st->path, sizeof(st->path), "%s/%s", strcmp(st->origin, "/") ? st->origin : "",
			     c->path);
	if (n < 0 || (size_t)n >= sizeof(st->path)) {
		log_layer(LOG_ERR, LAYER_SANDBOX,
			  "--cgroup %s: below kvmini's cgroup %s, the path is too long: "
			  "give a shorter one, or an absolute one",
			  c->path, st->origin);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* The cgroup.procs kvmini goes back through at the end, opened now: no open is allowed then. */
static int open_back(struct walk *w, struct cgroup_state *st)
{
	char file[CGROUP_PATH_MAX];
	int ret = join(file, sizeof(file), w->self, "cgroup.procs");

	if (!ret && (st->back_fd = openat(w->root_fd, file, O_WRONLY | O_CLOEXEC)) < 0)
		ret = -errno;
	if (ret)
		log_layer(
			LOG_ERR, LAYER_SANDBOX,
			"--cgroup: cannot open %s%s/cgroup.procs, through which kvmini moves back at its end: "
			"%s; " FIX_DELEGATE,
			w->mount, w->self[0] ? st->origin : "", strerror(-ret));
	return ret;
}

static int mkdir_failed(struct walk *w, const char *part, int err)
{
	const char *why =
		err == EACCES || err == EPERM ? "this user may not make cgroups there (it is not delegated "
						"to them); " FIX_DELEGATE
		: err == EROFS	 ? "the cgroup2 mount is read-only here (a container?): run kvmini where "
				   "it is writable"
		: err == ENOTDIR ? "a file of that name is there, not a cgroup: name another path"
				 : "check the path";

	log_layer(LOG_ERR, LAYER_SANDBOX, "--cgroup: cannot make cgroup %s/%s: %s: %s", w->mount, part,
		  strerror(err), why);
	return -err;
}

/* A component that was there: a directory (a cgroup) is used, anything else is not. */
static int check_dir(struct walk *w, const char *part)
{
	struct stat sb;

	if (fstatat(w->root_fd, part, &sb, 0) < 0)
		return mkdir_failed(w, part, errno);
	return S_ISDIR(sb.st_mode) ? 0 : mkdir_failed(w, part, ENOTDIR);
}

/* st->dir_fd: the directory that holds (part), of which the first (at) bytes name it ("" the root). */
static int open_parent(struct walk *w, struct cgroup_state *st, const char *part, size_t at)
{
	char parent[CGROUP_PATH_MAX] = ".";

	if (at) {
		memcpy(parent, part, at - 1);
		parent[at - 1] = '\0';
	}
	st->dir_fd = openat(w->root_fd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (st->dir_fd >= 0)
		return 0;
	log_layer(LOG_ERR, LAYER_SANDBOX, "--cgroup: cannot open %s/%s: %s: check the path", w->mount,
		  at ? parent : "", strerror(errno));
	return -errno;
}

/*
 * mkdir -p of w->rel below the mount: what exists is used; what is made is recorded in (st), with the
 * directory that holds the first one made, opened before it is made (no open may fail afterwards).
 */
static int make_dirs(struct walk *w, struct cgroup_state *st)
{
	char part[CGROUP_PATH_MAX];
	size_t at = 0, first = 0;
	int ret = 0;

	for (size_t n;; at += n + 1) {
		n = strcspn(w->rel + at, "/");
		memcpy(part, w->rel, at + n);
		part[at + n] = '\0';
		if (!st->nr_made && (ret = open_parent(w, st, part, at)))
			break;
		if (mkdirat(w->root_fd, part, 0755) == 0) {
			first = st->nr_made++ ? first : at;
			snprintf(st->made, sizeof(st->made), "%s", part + first);
		} else if (errno != EEXIST || st->nr_made) {
			/* Below one kvmini made, a directory that exists was made by someone else meanwhile. */
			ret = mkdir_failed(w, part, errno);
		} else {
			ret = check_dir(w, part);
		}
		if (!st->nr_made) {
			close(st->dir_fd);
			st->dir_fd = -1;
		}
		if (ret || !w->rel[at + n])
			break;
	}
	w->made = st->nr_made > 0;
	return ret;
}

/* An existing cgroup is used only when nothing runs in it: its limits are kvmini's alone. */
static int check_unused(struct walk *w, struct cgroup_state *st)
{
	char file[CGROUP_PATH_MAX], procs[64];
	int ret = join(file, sizeof(file), w->rel, "cgroup.procs");

	if (!ret)
		ret = read_at(w->root_fd, file, procs, sizeof(procs));
	if (ret) {
		log_layer(LOG_ERR, LAYER_SANDBOX,
			  "--cgroup: %s%s is not a cgroup (no cgroup.procs to read: %s): "
			  "name a cgroup, or a path where kvmini can make one",
			  w->mount, st->path, strerror(-ret));
		return ret;
	}
	if (!procs[0])
		return 0;
	procs[strcspn(procs, "\n")] = '\0';
	log_layer(
		LOG_ERR, LAYER_SANDBOX,
		"--cgroup: cgroup %s%s already holds processes (PID %s, ...): kvmini uses an existing cgroup "
		"only when it is empty: name another, or end them",
		w->mount, st->path, procs);
	return -EBUSY;
}

/* This process, all its threads, into the cgroup: "0" in cgroup.procs is the writer's whole process. */
static int move_in(struct walk *w, struct cgroup_state *st)
{
	char file[CGROUP_PATH_MAX];
	int ret = join(file, sizeof(file), w->rel, "cgroup.procs");
	const char *why;

	if (!ret)
		ret = write_at(w->root_fd, file, "0");
	if (!ret)
		return 0;
	why = ret == -EBUSY
		      ? "it passes controllers down to cgroups below it, and cgroup v2 lets no process "
			"into such a cgroup (the 'no internal processes' rule): name a cgroup with nothing "
			"below it"
	      : ret == -EACCES || ret == -EPERM
		      ? "moving a process needs write access to the cgroup.procs of both cgroups and of their "
			"common ancestor (it is not delegated to this user); " FIX_DELEGATE
		      : "check that it is a domain cgroup (cgroup.type)";
	log_layer(LOG_ERR, LAYER_SANDBOX, "--cgroup: cannot move kvmini from cgroup %s into %s%s: %s: %s",
		  st->origin, w->mount, st->path, strerror(-ret), why);
	return ret;
}

/* Whether directory (dir) is kvmini's own cgroup or below it (the root aside: it may hold processes). */
static bool in_origin(const struct walk *w, const char *dir)
{
	size_t n = strlen(w->self);

	return n && strncmp(dir, w->self, n) == 0 && (dir[n] == '\0' || dir[n] == '/');
}

static int enable_failed(struct walk *w, const char *dir, const char *text, int err)
{
	const char *why =
		err == EBUSY ? "it holds processes, and cgroup v2 lets a cgroup that holds processes "
			       "pass no controller down (the 'no internal processes' rule): name a "
			       "cgroup below one without processes (as root: --cgroup /kvmini/NAME), or "
			       "start kvmini alone in a delegated cgroup (systemd-run --scope -p "
			       "Delegate=yes) and give a relative path"
		: err == EACCES || err == EPERM ? "it is not delegated to this user; " FIX_DELEGATE
		: err == EINVAL ? "the kernel refuses it (for cpu: real-time processes outside the root "
				  "cgroup, with CONFIG_RT_GROUP_SCHED); check dmesg"
				: "check the cgroup";

	log_layer(LOG_ERR, LAYER_SANDBOX,
		  "--cgroup: cannot write '%s' to %s/%s%scgroup.subtree_control: %s: %s", text, w->mount, dir,
		  dir[0] ? "/" : "", strerror(err), why);
	return -err;
}

/* Controller (name) is not in (dir)'s cgroup.controllers (avail): kvmini passes controllers down top-down, so the hierarchy lacks it. */
static int unavailable(struct walk *w, const char *dir, const char *name, const char *avail)
{
	log_layer(LOG_ERR, LAYER_SANDBOX,
		  "--cgroup: the %s controller is not available in %s/%s (its cgroup.controllers: '%s'): the "
		  "kernel lacks it, or a cgroup v1 hierarchy holds it (the hybrid layout); boot with "
		  "systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all, or unmount the v1 hierarchy of %s",
		  name, w->mount, dir, avail, name);
	return -ENOTSUP;
}

/* (text): "+cpu +memory", or those of them (dir) does not pass down yet; "" when it does. */
static int missing(struct walk *w, const char *dir, char *text, size_t len)
{
	char file[CGROUP_PATH_MAX], have[256], avail[256];
	int ret = join(file, sizeof(file), dir, "cgroup.subtree_control");

	text[0] = '\0';
	if (!ret)
		ret = read_at(w->root_fd, file, have, sizeof(have));
	if (!ret)
		ret = join(file, sizeof(file), dir, "cgroup.controllers");
	if (!ret)
		ret = read_at(w->root_fd, file, avail, sizeof(avail));
	if (ret) {
		log_layer(LOG_ERR, LAYER_SANDBOX, "--cgroup: cannot read %s/%s: %s: is %s/%s a cgroup?",
			  w->mount, file, strerror(-ret), w->mount, dir);
		return ret;
	}
	for (unsigned int i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++) {
		if (cgroup_has_controller(have, controllers[i]))
			continue;
		if (!cgroup_has_controller(avail, controllers[i]))
			return unavailable(w, dir, controllers[i], avail);
		snprintf(text + strlen(text), len - strlen(text), "%s+%s", text[0] ? " " : "",
			 controllers[i]);
	}
	return 0;
}

/* cpu and memory passed down by (dir), where they are not yet; recorded for cgroup_leave in kvmini's cgroup. */
static int enable_in(struct walk *w, struct cgroup_state *st, const char *dir)
{
	char file[CGROUP_PATH_MAX], text[16];
	bool record = in_origin(w, dir);
	int ret = missing(w, dir, text, sizeof(text)), fd;

	if (ret || !text[0])
		return ret;
	if (record && st->nr_undo == CGROUP_UNDO_MAX) {
		log_layer(LOG_ERR, LAYER_SANDBOX,
			  "--cgroup %s: more than %d levels below kvmini's cgroup %s: "
			  "name a cgroup fewer levels down",
			  st->path, CGROUP_UNDO_MAX, st->origin);
		return -ENAMETOOLONG;
	}
	/*
	 * Written through a descriptor of its own: the one kept for taking them back stays at offset 0, where
	 * a plain file standing in for cgroupfs (the unit tests) takes the second write as the kernel does.
	 */
	join(file, sizeof(file), dir, "cgroup.subtree_control");
	fd = record ? openat(w->root_fd, file, O_WRONLY | O_CLOEXEC) : -1;
	ret = record && fd < 0 ? -errno : write_at(w->root_fd, file, text);
	if (ret) {
		if (fd >= 0)
			close(fd);
		return enable_failed(w, dir, text, -ret);
	}
	if (!record)
		return 0;
	st->undo[st->nr_undo].fd = fd;
	snprintf(st->undo[st->nr_undo].text, sizeof(st->undo[0].text), "%s", text);
	for (char *p = st->undo[st->nr_undo++].text; (p = strchr(p, '+'));)
		*p = '-';
	return 0;
}

/* cpu and memory passed down from the root to the cgroup's parent, top-down, wherever missing. */
static int pass_down(struct walk *w, struct cgroup_state *st)
{
	char dir[CGROUP_PATH_MAX];
	int ret = enable_in(w, st, "");

	for (size_t i = 0; !ret && w->rel[i]; i++) {
		if (w->rel[i] != '/')
			continue;
		memcpy(dir, w->rel, i);
		dir[i] = '\0';
		ret = enable_in(w, st, dir);
	}
	return ret;
}

/* Limit file (name) opened for cgroup_leave and inspect into (*fd), an existing cgroup's value kept, (value) written. */
static int set_limit(struct walk *w, struct cgroup_state *st, const char *name, const char *value, int *fd,
		     char *old, size_t old_len)
{
	char file[CGROUP_PATH_MAX];
	int ret = join(file, sizeof(file), w->rel, name);

	if (!ret && (*fd = openat(w->root_fd, file, O_RDWR | O_CLOEXEC)) < 0)
		ret = -errno;
	if (!ret && !w->made)
		ret = pread_text(*fd, old, old_len);
	if (!ret)
		ret = write_at(w->root_fd, file, value);
	if (ret)
		log_layer(LOG_ERR, LAYER_SANDBOX, "--cgroup: cannot set %s of %s%s to '%s': %s: %s", name,
			  w->mount, st->path, value, strerror(-ret),
			  ret == -EACCES || ret == -EPERM ? "it is not delegated to this user; " FIX_DELEGATE
			  : ret == -ENOENT
				  ? "its controller is not passed down to it (cgroup.subtree_control of "
				    "its parent)"
				  : "the kernel refuses the value: give another");
	return ret;
}

static int set_limits(struct walk *w, const struct cgroup_config *c, struct cgroup_state *st)
{
	char cpu[48], memory[24];
	int ret;

	if (c->cpu_quota_us)
		snprintf(cpu, sizeof(cpu), "%llu %llu", (unsigned long long)c->cpu_quota_us,
			 (unsigned long long)c->cpu_period_us);
	else
		snprintf(cpu, sizeof(cpu), "max %llu", (unsigned long long)c->cpu_period_us);
	if (c->memory_max)
		snprintf(memory, sizeof(memory), "%llu", (unsigned long long)c->memory_max);
	else
		snprintf(memory, sizeof(memory), "max");
	ret = set_limit(w, st, "cpu.max", cpu, &st->cpu_fd, st->old_cpu, sizeof(st->old_cpu));
	return ret ? ret
		   : set_limit(w, st, "memory.max", memory, &st->memory_fd, st->old_memory,
			       sizeof(st->old_memory));
}

/* ---- Leaving ---- */

static void warn_left(const struct cgroup_state *st, const char *what, int err, const char *fix)
{
	log_layer(LOG_WARN, LAYER_SANDBOX, "--cgroup %s: cannot %s: %s; %s", st->path, what, strerror(-err),
		  fix);
}

/* Everything (st) records undone, as far as it goes; then (st) is inactive. */
static void undo(struct cgroup_state *st)
{
	int fds[] = { st->back_fd, st->dir_fd, st->cpu_fd, st->memory_fd }, ret;

	for (unsigned int i = st->nr_undo; i-- > 0;)
		if ((ret = write_text(st->undo[i].fd, st->undo[i].text)))
			warn_left(st, "take back the controllers it passed down", ret,
				  "they stay passed down below kvmini's cgroup");
	/* A no-op where kvmini never moved (cgroup_enter failed first). */
	if (st->back_fd >= 0 && (ret = write_text(st->back_fd, "0")))
		warn_left(st, "move kvmini back to its cgroup", ret,
			  "the cgroup stays in use until kvmini ends");
	if (st->old_cpu[0] && (ret = write_text(st->cpu_fd, st->old_cpu)))
		warn_left(st, "put its cpu.max back", ret, "write it by hand");
	if (st->old_memory[0] && (ret = write_text(st->memory_fd, st->old_memory)))
		warn_left(st, "put its memory.max back", ret, "write it by hand");
	for (unsigned int i = st->nr_made; i > 0; i--) {
		char *slash = strrchr(st->made, '/');

		if (unlinkat(st->dir_fd, st->made, AT_REMOVEDIR) < 0) {
			warn_left(st, "remove it (or the cgroups above it that kvmini made)", -errno,
				  "remove them by hand (rmdir) once their processes have ended");
			break;
		}
		if (slash)
			*slash = '\0';
	}
	for (unsigned int i = 0; i < st->nr_undo; i++)
		close(st->undo[i].fd);
	for (int *fd = fds; fd < fds + 4; fd++)
		if (*fd >= 0)
			close(*fd);
	state_init(st);
}

void cgroup_leave(struct cgroup_state *st)
{
	if (st->active)
		undo(st);
}

int cgroup_enter(const struct cgroup_config *c, struct cgroup_state *st)
{
	struct walk w = { .mount = c->root ? c->root : CGROUP_MOUNT };
	int ret;

	state_init(st);
	if (!c->set)
		return 0;
	w.root_fd = open_mount(w.mount);
	if (w.root_fd < 0)
		return w.root_fd;
	ret = find_paths(c, st);
	w.self = st->origin + 1;
	w.rel = st->path + 1;
	if (!ret)
		ret = open_back(&w, st);
	if (!ret)
		ret = make_dirs(&w, st);
	if (!ret && !w.made)
		ret = check_unused(&w, st);
	/* In before passing controllers down: kvmini's own cgroup may then be left without processes. */
	if (!ret)
		ret = move_in(&w, st);
	if (!ret)
		ret = pass_down(&w, st);
	if (!ret)
		ret = set_limits(&w, c, st);
	close(w.root_fd);
	st->active = true;
	if (ret)
		undo(st);
	else
		log_info("%s: kvmini in cgroup %s (from %s): cpu.max %s, memory.max %s",
			 layer_name(LAYER_SANDBOX), st->path, st->origin, c->cpu_quota_us ? "set" : "max",
			 c->memory_max ? "set" : "max");
	return ret;
}
