/* device_process.c: the launcher of device processes (devices/devproc), and kvmini's side of each. */
#include "device_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../devices/devproc/sandbox.h"
#include "../devices/vhost_user.h"
#include "../devices/base/log.h"
#include "cgroup.h"
#include "file.h"

#define MAX_ARGS 24
/* A device's arguments, NUL-separated: a disk's path (PATH_MAX) and the few words around it. */
#define ARGS_BYTES 6144
/* How long kvmini waits for the launcher beyond a wait it asked for: a start takes milliseconds. */
#define LAUNCHER_ANSWER_MS 10000

enum launch_op {
	LAUNCH_SPAWN = 1, /* start (slot): with (args) the first time, as recorded after */
	LAUNCH_WAIT,	  /* reap (slot)'s process within (ms): its wait status, or -1 */
	LAUNCH_SEAL,	  /* no new slot from now on */
	LAUNCH_DESCRIBE,  /* what the kernel says of (slot)'s process (kvmini inspect's L-3) */
};

struct launch_req {
	uint32_t op;
	uint32_t slot;
	int32_t ms;
	uint32_t args_len; /* bytes of (args) used: "device\0blk\0...\0" */
	uint32_t fds;	   /* LAUNCH_SPAWN's first: which descriptors come with it, in this order: */
#define LAUNCH_FD_PASS	1  /* the one handed to the device (a tap) */
#define LAUNCH_FD_STATS 2  /* its counters' page */
	char name[32];
	char args[ARGS_BYTES];
};

struct launch_rep {
	int32_t err;	      /* 0 or -errno */
	int32_t pid;	      /* LAUNCH_SPAWN: the device process, as kvmini sees it */
	int32_t status;	      /* LAUNCH_WAIT: its wait status; -1: it still runs */
	uint32_t nr_syscalls; /* LAUNCH_SPAWN: its seccomp allowlist's size */
	int32_t landlock_abi; /* the Landlock ABI it locks itself down with (0: none) */
	int32_t seccomp;      /* LAUNCH_DESCRIBE: its Seccomp mode (0 none, 1 strict, 2 filter) */
	int32_t no_new_privs; /* its NoNewPrivs */
	uint32_t pad;
	uint64_t namespaces; /* those it was given */
	char why[256];	     /* and what it could not have; LAUNCH_DESCRIBE: its cgroup */
};

/* ---- Descriptors over the channel ---- */

/* Sends (len) bytes of (buf) with (nfds) descriptors. 0 or -errno. */
static int send_fds(int sock, const void *buf, size_t len, const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (vhu_attach_fds(&mh, u.buf, sizeof(u.buf), fds, nfds) < 0)
		return -EINVAL;
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : errno ? -errno : -EIO;
}

/*
 * Receives one message of at most (len) bytes into (buf) and up to (max) descriptors into (fds) (the
 * rest are -1; more than (max) are closed). Returns its length, 0 at the peer's end, or -errno.
 */
static ssize_t recv_fds(int sock, void *buf, size_t len, int *fds, unsigned int max)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u)
	};
	unsigned int got = 0;
	ssize_t n;

	for (unsigned int i = 0; i < max; i++)
		fds[i] = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* More than (max): the extra ones are closed, and the message is taken as it is. */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			(void)vhu_take_fds(c, fds, &got, max);
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (unsigned int i = 0; i < got; i++)
			close(fds[i]);
		return -EMSGSIZE;
	}
	return n;
}

/* ---- The launcher ---- */

/* What the child needs to exec the device process: built before the fork, so the child only execs. */
struct exec_args {
	char *argv[MAX_ARGS];
	int fds[4]; /* the child's ends: the vhost-user socket, the refusal pipe; what is passed; counters */
	unsigned int nfds;
};

/* In the child (new namespaces, every other descriptor closed): become the device process. */
static int exec_device(void *arg)
{
	struct exec_args *a = arg;

	for (unsigned int i = 0; i < a->nfds; i++)
		fcntl(a->fds[i], F_SETFD, 0); /* kept across exec */
	execv("/proc/self/exe", a->argv);
	fprintf(stderr, "kvmini: error: cannot start the device process: %s\n", strerror(errno));
	return 127;
}

/* A device the launcher has started: how, and its process now. */
struct slot {
	bool used;
	char name[32];
	char args[ARGS_BYTES]; /* NUL-separated, (nargs) of them */
	unsigned int nargs;
	int pass;  /* the launcher's copy of the descriptor handed to it; -1: none */
	int stats; /* and of its counters' page; -1: none */
	pid_t pid;
	int pidfd;
};

/*
 * Starts slot (s)'s process: (out)[0] kvmini's end of its vhost-user channel, (out)[1] of its refusal
 * pipe, (out)[2] a pidfd for it. Returns 0 or -errno.
 */
static int start_slot(struct slot *s, struct launch_rep *rep, int out[3])
{
	static const struct sandbox_policy spawn_policy = { .name = "device process", .kind = SANDBOX_BLK };
	struct exec_args a = { 0 };
	char fd_arg[16], report_arg[16], pass_arg[16], stats_arg[16];
	struct sandbox_report r;
	int sv[2], pipefd[2], ret;
	unsigned int n = 0;
	const char *arg = s->args;

	if (s->pid)
		return -EBUSY;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		ret = -errno;
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	a.fds[0] = sv[1];
	a.fds[1] = pipefd[1];
	a.nfds = 2;
	if (s->pass >= 0)
		a.fds[a.nfds++] = s->pass;
	if (s->stats >= 0)
		a.fds[a.nfds++] = s->stats;
	snprintf(fd_arg, sizeof(fd_arg), "%d", sv[1]);
	snprintf(report_arg, sizeof(report_arg), "%d", pipefd[1]);
	snprintf(pass_arg, sizeof(pass_arg), "%d", s->pass);
	snprintf(stats_arg, sizeof(stats_arg), "%d", s->stats);
	a.argv[n++] = "kvmini";
	for (unsigned int i = 0; i < s->nargs && n < MAX_ARGS - 8; i++, arg += strlen(arg) + 1)
		a.argv[n++] = strcmp(arg, DEVICE_PROCESS_PASSED_FD) ? (char *)arg : pass_arg;
	a.argv[n++] = "--fd";
	a.argv[n++] = fd_arg;
	a.argv[n++] = "--report-fd";
	a.argv[n++] = report_arg;
	if (s->stats >= 0) {
		a.argv[n++] = "--stats-fd";
		a.argv[n++] = stats_arg;
	}
	if (log_enabled(LOG_INFO))
		a.argv[n++] = "-v";
	a.argv[n] = NULL;
	ret = sandbox_spawn(&spawn_policy, exec_device, &a, a.fds, a.nfds, &s->pid, &s->pidfd, &r);
	close(sv[1]);
	close(pipefd[1]);
	if (ret) {
		s->pid = 0;
		close(sv[0]);
		close(pipefd[0]);
		return ret;
	}
	rep->pid = (int32_t)s->pid;
	rep->namespaces = r.namespaces;
	rep->nr_syscalls = r.nr_syscalls;
	rep->landlock_abi = r.landlock_abi;
	memcpy(rep->why, r.why, sizeof(rep->why));
	out[0] = sv[0];
	out[1] = pipefd[0];
	out[2] = s->pidfd;
	return 0;
}

/* Records slot (s) from request (q): its name, arguments and descriptors (fds), as (q) names them. */
static int record_slot(struct slot *s, const struct launch_req *q, int fds[2])
{
	bool pass = q->fds & LAUNCH_FD_PASS, stats = q->fds & LAUNCH_FD_STATS;
	unsigned int want = (unsigned int)pass + (unsigned int)stats;

	unsigned int nargs = 0;

	if (q->args_len == 0 || q->args_len > sizeof(q->args) || q->args[q->args_len - 1] != '\0')
		return -EINVAL;
	for (uint32_t i = 0; i < q->args_len; i++)
		nargs += q->args[i] == '\0';
	if (nargs > MAX_ARGS - 9)
		return -E2BIG;
	/* Exactly the descriptors it names, no more. */
	if (q->fds & ~(uint32_t)(LAUNCH_FD_PASS | LAUNCH_FD_STATS))
		return -EINVAL;
	for (unsigned int i = 0; i < 2; i++)
		if ((fds[i] >= 0) != (i < want))
			return -EINVAL;
	memcpy(s->name, q->name, sizeof(s->name));
	s->name[sizeof(s->name) - 1] = '\0';
	memcpy(s->args, q->args, q->args_len);
	s->nargs = nargs;
	s->pass = pass ? fds[0] : -1;
	s->stats = stats ? fds[pass] : -1;
	fds[0] = fds[1] = -1; /* the slot's now */
	s->used = true;
	return 0;
}

/* Reaps slot (s)'s process within (ms): its wait status, or -1 when it still runs. */
static int reap_slot(struct slot *s, int ms)
{
	struct pollfd pfd = { .fd = s->pidfd, .events = POLLIN };
	siginfo_t info = { 0 };
	int ret;

	if (!s->pid)
		return -1;
	do
		ret = poll(&pfd, 1, ms);
	while (ret < 0 && errno == EINTR);
	if (ret <= 0 || waitid((idtype_t)P_PIDFD, (id_t)s->pidfd, &info, WEXITED) < 0)
		return -1;
	close(s->pidfd);
	s->pid = 0;
	s->pidfd = -1;
	return info.si_code == CLD_EXITED ? info.si_status << 8 : info.si_status;
}

/* The value of field (key) ("Seccomp:") in (text), a /proc/PID/status; -1 when absent. */
static int status_field(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? atoi(p + strlen(key)) : -1;
}

/* What the kernel says of slot (s)'s process, read here (kvmini's main thread opens no files). */
static void describe_slot(const struct slot *s, struct launch_rep *rep)
{
	char path[40], text[4096];

	if (!s->pid) {
		rep->err = -ESRCH;
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)s->pid);
	if (file_read_text(AT_FDCWD, path, text, sizeof(text)) <= 0) {
		rep->err = -ESRCH;
		return;
	}
	rep->seccomp = status_field(text, "\nSeccomp:");
	rep->no_new_privs = status_field(text, "\nNoNewPrivs:");
	if (cgroup_of(s->pid, rep->why, sizeof(rep->why)) < 0)
		rep->why[0] = '\0';
}

/* Carries out request (q), which came with descriptors (fds) (-1: none; kept or closed). */
static void serve_one(int sock, struct slot *slots, bool *sealed, const struct launch_req *q, int fds[2])
{
	struct launch_rep rep = { .status = -1 };
	int out[3] = { -1, -1, -1 };
	struct slot *s = q->slot < DEVICE_LAUNCHER_SLOTS ? &slots[q->slot] : NULL;

	if (!s) {
		rep.err = -EINVAL;
	} else if (q->op == LAUNCH_SEAL) {
		*sealed = true;
	} else if (q->op == LAUNCH_DESCRIBE) {
		describe_slot(s, &rep);
	} else if (q->op == LAUNCH_WAIT) {
		rep.status = reap_slot(s, q->ms < 0 ? 0 : q->ms > 10000 ? 10000 : q->ms);
	} else if (q->op != LAUNCH_SPAWN) {
		rep.err = -EINVAL;
	} else if (!s->used && *sealed) {
		rep.err = -EPERM; /* sealed: only what was started before */
	} else if (!s->used) {
		rep.err = record_slot(s, q, fds);
	}
	if (s && q->op == LAUNCH_SPAWN && !rep.err) {
		if (s->pid)
			reap_slot(s, 0); /* one that ended, not yet reaped */
		rep.err = start_slot(s, &rep, out);
	}
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* The launcher keeps the pidfd (out[2]); kvmini gets a copy of each. */
	send_fds(sock, &rep, sizeof(rep), out, rep.err || q->op != LAUNCH_SPAWN ? 0 : 3);
	for (int i = 0; i < 2; i++)
		if (out[i] >= 0)
			close(out[i]);
}

/* The launcher's life: requests until kvmini hangs up, then its device processes end with it. */
static void __attribute__((noreturn)) launcher_serve(int sock)
{
	static struct slot slots[DEVICE_LAUNCHER_SLOTS];
	static struct launch_req q;
	bool sealed = false;

	for (unsigned int i = 0; i < DEVICE_LAUNCHER_SLOTS; i++)
		slots[i] = (struct slot){ .pass = -1, .stats = -1, .pidfd = -1 };
	for (;;) {
		int fds[2];
		ssize_t n = recv_fds(sock, &q, sizeof(q), fds, 2);

		if (n == 0 || (n < 0 && n != -EMSGSIZE))
			break;
		if (n < (ssize_t)offsetof(struct launch_req, args)) {
			struct launch_rep rep = { .err = -EINVAL, .status = -1 };

			for (int i = 0; i < 2; i++)
				if (fds[i] >= 0)
					close(fds[i]);
			send_fds(sock, &rep, sizeof(rep), NULL, 0);
			continue;
		}
		if ((size_t)n < sizeof(q))
			memset((char *)&q + n, 0, sizeof(q) - (size_t)n);
		serve_one(sock, slots, &sealed, &q, fds);
	}
	for (unsigned int i = 0; i < DEVICE_LAUNCHER_SLOTS; i++) {
		if (slots[i].pid && reap_slot(&slots[i], 2000) < 0) {
			syscall(SYS_pidfd_send_signal, slots[i].pidfd, SIGKILL, NULL, 0);
			reap_slot(&slots[i], 2000);
		}
	}
	_exit(0);
}

int device_launcher_start(struct device_launcher *l)
{
	pid_t parent = getpid(), pid;
	int sv[2];

	l->pid = 0;
	l->sock = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid == 0) {
		/* It ends with the thread that forked it (kvmini's main thread), as its devices do with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != parent)
			_exit(0);
		prctl(PR_SET_NAME, "kvmini-launch", 0, 0, 0);
		/* Out of the terminal's process group: a Ctrl-C there is kvmini's to handle. */
		setpgid(0, 0);
		if (close_range(3, (unsigned int)sv[1] - 1, 0) < 0 ||
		    close_range((unsigned int)sv[1] + 1, ~0U, 0) < 0)
			_exit(127);
		launcher_serve(sv[1]);
	}
	close(sv[1]);
	if (pid < 0) {
		int err = errno;

		close(sv[0]);
		log_layer(LOG_ERR, LAYER_SANDBOX, "cannot start the launcher of device processes: %s",
			  strerror(err));
		return -err;
	}
	l->pid = pid;
	l->sock = sv[0];
	log_layer(LOG_DEBUG, LAYER_SANDBOX, "launcher of device processes: process %d", (int)pid);
	return 0;
}

/*
 * One request to the launcher and its answer, which may carry (nfds) descriptors into (fds). Bounded:
 * the launcher's own wait (q->ms) and LAUNCHER_ANSWER_MS. Returns 0 (the launcher's err in rep) or -errno.
 */
static int launcher_call(struct device_launcher *l, const struct launch_req *q, size_t len, const int *pass,
			 unsigned int npass, struct launch_rep *rep, int *fds, unsigned int nfds)
{
	int ms = LAUNCHER_ANSWER_MS + (q->op == LAUNCH_WAIT ? q->ms : 0);
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	ssize_t n;
	int ret;

	if (l->sock < 0)
		return -ENOTCONN;
	ret = setsockopt(l->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ? -errno : 0;
	if (!ret)
		ret = send_fds(l->sock, q, len, pass, npass);
	if (ret)
		return ret;
	n = recv_fds(l->sock, rep, sizeof(*rep), fds, nfds);
	if (n == (ssize_t)sizeof(*rep))
		return 0;
	for (unsigned int i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
	return n < 0 ? (n == -EAGAIN ? -ETIMEDOUT : (int)n) : -EPROTO;
}

int device_launcher_seal(struct device_launcher *l)
{
	struct launch_req q = { .op = LAUNCH_SEAL };
	struct launch_rep rep;
	int ret =
		l->pid ? launcher_call(l, &q, offsetof(struct launch_req, args), NULL, 0, &rep, NULL, 0) : 0;

	return ret ? ret : l->pid ? rep.err : 0;
}

void device_launcher_stop(struct device_launcher *l)
{
	siginfo_t info;

	if (l->sock >= 0)
		close(l->sock);
	l->sock = -1;
	if (!l->pid)
		return;
	/* It ends its devices (2 s each at most) and exits: reaped here, whatever it was doing. */
	waitid(P_PID, (id_t)l->pid, &info, WEXITED);
	l->pid = 0;
}

/* ---- kvmini's side of a device process ---- */

/* Asks for slot (p)'s process to start, with (q) as built by the caller and the (npass) descriptors at (pass). */
static int spawn(struct device_process *p, struct launch_req *q, size_t len, const int *pass,
		 unsigned int npass)
{
	struct launch_rep rep;
	int fds[3] = { -1, -1, -1 }, ret;

	q->op = LAUNCH_SPAWN;
	q->slot = p->slot;
	ret = launcher_call(p->launcher, q, len, pass, npass, &rep, fds, 3);
	if (!ret && rep.err)
		ret = rep.err;
	else if (!ret && (fds[0] < 0 || fds[1] < 0 || fds[2] < 0))
		ret = -EPROTO;
	if (ret) {
		for (int i = 0; i < 3; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		log_layer(LOG_ERR, LAYER_SANDBOX, "%s: cannot start its device process: %s", p->name,
			  ret == -EPERM ? "the launcher is sealed and never started it" : strerror(-ret));
		return ret;
	}
	p->pid = rep.pid;
	p->sock = fds[0];
	p->report_fd = fds[1];
	p->pidfd = fds[2];
	p->namespaces = rep.namespaces;
	p->nr_syscalls = rep.nr_syscalls;
	p->landlock_abi = rep.landlock_abi;
	rep.why[sizeof(rep.why) - 1] = '\0';
	log_layer(LOG_INFO, LAYER_SANDBOX, "%s: device process %d, namespaces %#llx%s%s", p->name,
		  (int)p->pid, (unsigned long long)rep.namespaces, rep.why[0] ? "; not had: " : "", rep.why);
	return 0;
}

int device_process_spawn(struct device_process *p, struct device_launcher *l, unsigned int slot,
			 const char *name, const char *const *args, int pass, int stats)
{
	static struct launch_req q; /* 6 KiB: off the stack; the main thread starts devices */
	int fds[2];
	unsigned int nfds = 0;
	size_t used = 0;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->launcher = l;
	p->slot = slot;
	p->pidfd = p->report_fd = p->sock = -1;
	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "%s", name);
	for (unsigned int i = 0; args[i]; i++) {
		size_t n = strlen(args[i]) + 1;

		if (used + n > sizeof(q.args))
			return -E2BIG;
		memcpy(q.args + used, args[i], n);
		used += n;
	}
	q.args_len = (uint32_t)used;
	if (pass >= 0) {
		q.fds |= LAUNCH_FD_PASS;
		fds[nfds++] = pass;
	}
	if (stats >= 0) {
		q.fds |= LAUNCH_FD_STATS;
		fds[nfds++] = stats;
	}
	return spawn(p, &q, offsetof(struct launch_req, args) + used, fds, nfds);
}

int device_process_respawn(struct device_process *p)
{
	struct launch_req q = { 0 };

	p->pid = 0;
	p->pidfd = p->report_fd = p->sock = -1;
	return spawn(p, &q, offsetof(struct launch_req, args), NULL, 0);
}

/* Reap the process within (ms), through the launcher: its wait status, or -1 when it still runs. */
static int reap(struct device_process *p, int ms)
{
	struct launch_req q = { .op = LAUNCH_WAIT, .slot = p->slot, .ms = ms };
	struct launch_rep rep;

	if (!p->pid || !p->launcher)
		return -1;
	if (launcher_call(p->launcher, &q, offsetof(struct launch_req, args), NULL, 0, &rep, NULL, 0) ||
	    rep.err || rep.status < 0)
		return -1;
	p->pid = 0;
	return rep.status;
}

void device_process_why(struct device_process *p, char *buf, size_t len)
{
	struct sandbox_refusal rf;
	int status = reap(p, 1000);

	if (read(p->report_fd, &rf, sizeof(rf)) == (ssize_t)sizeof(rf) &&
	    sandbox_describe_refusal(&rf, p->name, buf, len) >= 0)
		return;
	if (status < 0)
		snprintf(buf, len, "L-2 paravirtual I/O: the device process of %s hung up and still runs",
			 p->name);
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "L-3 sandbox: the device process of %s was killed by signal %d (%s)",
			 p->name, WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(
			buf, len,
			"L-2 paravirtual I/O: the device process of %s exited with status %d (see its messages "
			"above)",
			p->name, WEXITSTATUS(status));
}

void device_process_end(struct device_process *p)
{
	if (p->sock >= 0)
		close(p->sock);
	p->sock = -1;
	if (p->pid && reap(p, 2000) < 0 && p->pid) {
		log_warn("%s: its device process %d did not exit: killing it", p->name, (int)p->pid);
		syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
		reap(p, 2000);
	}
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->report_fd >= 0)
		close(p->report_fd);
	p->pidfd = p->report_fd = -1;
}

int device_process_describe(struct device_process *p, struct device_process_facts *f)
{
	struct launch_req q = { .op = LAUNCH_DESCRIBE, .slot = p->slot };
	struct launch_rep rep;
	int ret;

	if (!p->launcher || !p->pid)
		return -ESRCH;
	ret = launcher_call(p->launcher, &q, offsetof(struct launch_req, args), NULL, 0, &rep, NULL, 0);
	if (!ret)
		ret = rep.err;
	if (ret)
		return ret;
	f->seccomp = rep.seccomp;
	f->no_new_privs = rep.no_new_privs;
	rep.why[sizeof(rep.why) - 1] = '\0';
	snprintf(f->cgroup, sizeof(f->cgroup), "%s", rep.why);
	return 0;
}
