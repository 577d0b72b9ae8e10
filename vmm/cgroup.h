/*
 * cgroup.h: `kvmini run --cgroup`: kvmini, its vCPU threads and its device processes in a cgroup v2 of
 * their own, under cpu.max and memory.max (the L-3 layer's resource limits).
 *
 * cgroup_enter makes the cgroup, passes the cpu and memory controllers down to it, writes its limits
 * and moves kvmini in; what kvmini starts afterwards starts inside. cgroup_leave, at the end, moves
 * kvmini back and removes what cgroup_enter made, with nothing but write() and unlinkat() on
 * descriptors cgroup_enter opened: kvmini's main thread then runs under a syscall filter that allows
 * no open and no mkdir (thread_filter.h).
 */
#ifndef KVMINI_CGROUP_H
#define KVMINI_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CGROUP_MOUNT	      "/sys/fs/cgroup" /* where cgroup2 is mounted: systemd's place, and kvm-env's */
#define CGROUP_PATH_MAX	      4096
#define CGROUP_PERIOD_DEFAULT 100000 /* cpu.max's period, microseconds, when the option gives none */
/* The directories on the way from kvmini's own cgroup down to the one it enters (cgroup_enter). */
#define CGROUP_UNDO_MAX 8

/* --cgroup PATH[,cpu.max=QUOTA[/PERIOD]][,memory.max=SIZE]: a limit not given is "max" (none). */
struct cgroup_config {
	/* absolute: below the cgroup2 mount ("/kvmini/vm1"); relative: below kvmini's own cgroup ("vm1") */
	char path[CGROUP_PATH_MAX];
	bool set;			      /* --cgroup was given */
	uint64_t cpu_quota_us, cpu_period_us; /* quota 0: "max" */
	uint64_t memory_max;		      /* bytes; 0: "max" */
	/* the cgroup2 mount; NULL: CGROUP_MOUNT (the unit tests point it at a directory of their own) */
	const char *root;
};

/* What cgroup_enter did, so that cgroup_leave can undo it. */
struct cgroup_state {
	bool active;		      /* cgroup_enter moved kvmini: cgroup_leave has work to do */
	char path[CGROUP_PATH_MAX];   /* the cgroup entered, as /proc/self/cgroup names it: "/kvmini/vm1" */
	char origin[CGROUP_PATH_MAX]; /* the one kvmini came from */
	int back_fd;		      /* O_WRONLY: (origin)'s cgroup.procs */
	/*
	 * O_PATH: the directory holding the first directory cgroup_enter made, -1 when it made none (the
	 * cgroup existed). The main thread's filter pins unlinkat(AT_REMOVEDIR) to this descriptor.
	 */
	int dir_fd;
	char made[CGROUP_PATH_MAX]; /* what cgroup_enter made, relative to (dir_fd): "kvmini/vm1" */
	unsigned int nr_made;	    /* its components, each made by cgroup_enter */
	int cpu_fd, memory_fd;	    /* O_RDWR: the cgroup's cpu.max and memory.max */
	/* an existing cgroup's limits before cgroup_enter wrote them, put back on leaving; "": none */
	char old_cpu[64], old_memory[32];
	/*
	 * Controllers cgroup_enter passed down in (origin) and below it on the way to (path), top-down:
	 * taken back, bottom-up, before kvmini moves back, as cgroup v2 lets no process into a cgroup
	 * that passes controllers down (the root cgroup aside).
	 */
	struct {
		int fd;	       /* O_WRONLY: the directory's cgroup.subtree_control */
		char text[16]; /* "-cpu -memory", or one of them */
	} undo[CGROUP_UNDO_MAX];
	unsigned int nr_undo;
};

/* Limits as the kernel shows them, for `kvmini inspect`. */
struct cgroup_limits {
	char cpu_max[64];    /* "50000 100000", "max 100000" */
	char memory_max[32]; /* "536870912", "max" */
};

/*
 * cgroup_parse: --cgroup's value (arg) into (c): PATH[,cpu.max=QUOTA[/PERIOD]][,memory.max=SIZE]; QUOTA and
 * PERIOD in microseconds, 1000 or more (PERIOD at most 1000000, default 100000), or QUOTA "max"; SIZE as
 * cli_parse_size takes it (a bare number is MiB), at least 1 MiB, or "max". Returns 0, or -EINVAL logged
 * (L-3: what is wrong and what to write instead).
 */
int cgroup_parse(const char *arg, struct cgroup_config *c);

/*
 * cgroup_enter: put this process (all its threads), and so everything it starts later, into the cgroup
 * (c) names: made when missing, with any directories above it (an existing one is used when it holds no
 * processes); the cpu and memory controllers passed down to it through each cgroup.subtree_control on
 * the way from the root where missing; its cpu.max and memory.max written. Opens, before anything
 * changes, what cgroup_leave needs, into (st). Returns 0, or -errno logged by layer L-3 with cause and
 * fix (cgroup2 not mounted: -ENOENT; not delegated: -EACCES; a controller not available: -ENOTSUP; the
 * "no internal processes" rule, or an existing cgroup in use: -EBUSY); on failure nothing is changed
 * (what was done is undone) and (st) is inactive.
 */
int cgroup_enter(const struct cgroup_config *c, struct cgroup_state *st);

/*
 * cgroup_leave: once kvmini's device processes have ended: take back the controllers (st) records, move
 * this process back to where it came from, put an existing cgroup's limits back and remove the
 * directories cgroup_enter made (unlinkat(st->dir_fd, ..., AT_REMOVEDIR), deepest first); then close
 * (st)'s descriptors. Only write(), unlinkat() and close() on descriptors cgroup_enter opened: safe under
 * the main thread's filter. Failures are logged as warnings (L-3, naming what is left behind). Does
 * nothing when (st) is inactive (zeroed, or cgroup_enter failed).
 */
void cgroup_leave(struct cgroup_state *st);

/*
 * cgroup_of: the cgroup v2 path of process (pid), 0 for this one, from /proc/PID/cgroup ("/" or
 * "/kvmini/vm1") into (out) of (size) bytes. Returns 0, -ENOENT when it names none (no cgroup2 mounted,
 * or a cgroup v1 system), -ENAMETOOLONG, or the -errno of reading it. Logs nothing.
 */
/*
 * cgroup_path_in: the cgroup v2 path (the "0::PATH" line) in (text), a /proc/PID/cgroup's contents, into
 * (buf) of (len) bytes. Returns 0, -ENOENT (no such line) or -ENAMETOOLONG.
 */
int cgroup_path_in(const char *text, char *buf, size_t len);
int cgroup_of(pid_t pid, char *out, size_t size);

/*
 * cgroup_read_limits: cpu.max and memory.max of the cgroup (st) entered, as the kernel shows them now,
 * into (out); read with pread() from descriptors cgroup_enter opened, so that the main thread may ask
 * under its filter. Returns 0, -ENOENT when (st) is inactive, or -errno. Logs nothing.
 */
int cgroup_read_limits(const struct cgroup_state *st, struct cgroup_limits *out);

/* cgroup_has_controller: whether (list), a cgroup.controllers or cgroup.subtree_control line, names (name). */
bool cgroup_has_controller(const char *list, const char *name);

#endif
