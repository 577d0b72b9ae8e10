/* device_process.c: starting, watching and ending a device process (devices/devproc). */
#include "device_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../devices/devproc/sandbox.h"
#include "../devices/base/log.h"

#define MAX_ARGS 24

/* What the child needs to exec the device process: built before the fork, so the child only execs. */
struct exec_args {
	char *argv[MAX_ARGS];
	int fds[3]; /* the child's ends: the vhost-user socket, the refusal pipe; what is passed */
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

int device_process_spawn(struct device_process *p, const char *name, const char *const *args, int pass)
{
	static const struct sandbox_policy spawn_policy = { .name = "device process", .kind = SANDBOX_BLK };
	struct exec_args a = { 0 };
	char fd_arg[16], report_arg[16];
	struct sandbox_report r;
	int sv[2], pipefd[2], ret;
	unsigned int n = 0;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->pidfd = p->report_fd = p->sock = -1;
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
	a.fds[2] = pass;
	a.nfds = pass >= 0 ? 3 : 2;
	snprintf(fd_arg, sizeof(fd_arg), "%d", sv[1]);
	snprintf(report_arg, sizeof(report_arg), "%d", pipefd[1]);
	a.argv[n++] = "kvmini";
	for (unsigned int i = 0; args[i] && n < MAX_ARGS - 6; i++)
		a.argv[n++] = (char *)args[i];
	a.argv[n++] = "--fd";
	a.argv[n++] = fd_arg;
	a.argv[n++] = "--report-fd";
	a.argv[n++] = report_arg;
	if (log_enabled(LOG_INFO))
		a.argv[n++] = "-v";
	a.argv[n] = NULL;
	ret = sandbox_spawn(&spawn_policy, exec_device, &a, a.fds, a.nfds, &p->pid, &p->pidfd, &r);
	close(sv[1]);
	close(pipefd[1]);
	if (ret) {
		log_layer(LOG_ERR, LAYER_SANDBOX, "%s: cannot start its device process: %s", name,
			  strerror(-ret));
		close(sv[0]);
		close(pipefd[0]);
		return ret;
	}
	p->sock = sv[0];
	p->report_fd = pipefd[0];
	log_layer(LOG_INFO, LAYER_SANDBOX, "%s: device process %d, namespaces %#lx%s%s", name, (int)p->pid,
		  r.namespaces, r.why[0] ? "; not had: " : "", r.why);
	return 0;
}

/* Reap the process within (ms): its wait status, or -1 when it still runs. */
static int reap(struct device_process *p, int ms)
{
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
	siginfo_t info = { 0 };

	if (!p->pid)
		return -1;
	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	if (waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &info, WEXITED) < 0)
		return -1;
	p->pid = 0;
	return info.si_code == CLD_EXITED ? info.si_status << 8 : info.si_status;
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
