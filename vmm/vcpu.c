/* vcpu.c: one host thread per virtual CPU, running KVM_RUN and dispatching its exits. */

#include "vcpu.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "exit_status.h"
#include "../devices/base/log.h"
#include "thread_filter.h"

int vcpu_create(struct vcpu *v, const struct vcpu_ctx *ctx, unsigned int id)
{
	void *run;

	memset(v, 0, sizeof(*v));
	atomic_init(&v->wchan_fd, -1);
	atomic_init(&v->stat_fd, -1);
	v->kstats.fd = -1;
	v->ctx = *ctx;
	v->id = id;
	v->fd = ioctl(ctx->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		log_layer(LOG_ERR, LAYER_VCPU, "KVM_CREATE_VCPU %u failed: %s", id, strerror(errno));
		return -errno;
	}
	run = mmap(NULL, ctx->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED) {
		int err = -errno;

		log_layer(LOG_ERR, LAYER_VCPU, "mapping vCPU %u's run page failed: %s", id, strerror(errno));
		close(v->fd);
		v->fd = -1;
		return err;
	}
	v->run = run;
	/* Older kernels have none: the API then shows KVM's own counters as absent. */
	if (kvm_stats_open(&v->kstats, v->fd) < 0)
		log_debug("vCPU %u: no KVM binary statistics (KVM_GET_STATS_FD): %s", id, strerror(errno));
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->ctx.run_size);
	if (v->fd >= 0)
		close(v->fd);
	if (atomic_load(&v->wchan_fd) >= 0)
		close(atomic_load(&v->wchan_fd));
	if (atomic_load(&v->stat_fd) >= 0)
		close(atomic_load(&v->stat_fd));
	atomic_store(&v->wchan_fd, -1);
	atomic_store(&v->stat_fd, -1);
	kvm_stats_close(&v->kstats);
	v->run = NULL;
	v->fd = -1;
}

const char *vcpu_exit_name(unsigned int reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "unknown",
		[KVM_EXIT_EXCEPTION] = "exception",
		[KVM_EXIT_IO] = "io",
		[KVM_EXIT_HYPERCALL] = "hypercall",
		[KVM_EXIT_DEBUG] = "debug",
		[KVM_EXIT_HLT] = "hlt",
		[KVM_EXIT_MMIO] = "mmio",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "irq-window",
		[KVM_EXIT_SHUTDOWN] = "shutdown",
		[KVM_EXIT_FAIL_ENTRY] = "fail-entry",
		[KVM_EXIT_INTR] = "intr",
		[KVM_EXIT_SET_TPR] = "set-tpr",
		[KVM_EXIT_TPR_ACCESS] = "tpr-access",
		[KVM_EXIT_NMI] = "nmi",
		[KVM_EXIT_INTERNAL_ERROR] = "internal-error",
		[KVM_EXIT_SYSTEM_EVENT] = "system-event",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "other";
}

static void stop_vm(struct vcpu *v, int status, const char *why)
{
	v->ctx.stop(v->ctx.opaque, status, why);
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	bool out = r->io.direction == KVM_EXIT_IO_OUT;

	/* String I/O (rep ins/outs) hands over (count) items at once, all for one port. */
	for (uint32_t i = 0; i < r->io.count; i++)
		bus_access(v->ctx.pio, r->io.port, data + (size_t)i * r->io.size, r->io.size, out);
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint32_t len = r->mmio.len <= sizeof(r->mmio.data) ? r->mmio.len : sizeof(r->mmio.data);

	bus_access(v->ctx.mmio, r->mmio.phys_addr, r->mmio.data, len, r->mmio.is_write);
}

/* The guest left the vCPU unable to go on: say where it was, then stop the VM. */
static void handle_crash(struct vcpu *v, const char *what)
{
	struct arch_regs regs;
	char where[160], why[320];

	if (arch_regs_get(v->fd, &regs) < 0)
		snprintf(why, sizeof(why), "%s: vCPU %u: %s", layer_name(LAYER_VCPU), v->id, what);
	else if (arch_regs_where(&regs, where, sizeof(where)))
		snprintf(why, sizeof(why), "%s: vCPU %u: %s (%s)", layer_name(LAYER_VCPU), v->id, what,
			 where);
	else
		snprintf(why, sizeof(why),
			 "%s: vCPU %u: %s; its registers are lost (it is in its reset state, as KVM leaves a "
			 "vCPU on AMD after a shutdown): the console's last lines may say where it was",
			 layer_name(LAYER_VCPU), v->id, what);
	stop_vm(v, VM_EXIT_CRASH, why);
}

static void handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		stop_vm(v, VM_EXIT_POWEROFF, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		stop_vm(v, VM_EXIT_REBOOT, "guest asked for a reset");
		break;
	default:
		handle_crash(v, "KVM reported a guest crash");
		break;
	}
}

static void handle_exit(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	char what[96];

	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		break;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		break;
	case KVM_EXIT_HLT:
	case KVM_EXIT_INTR:
		break; /* the in-kernel LAPIC handles HLT; INTR is a kick, seen by the loop */
	case KVM_EXIT_SHUTDOWN:
		handle_crash(v, "the guest triple-faulted (shutdown)");
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(v);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "KVM could not enter the guest (hardware reason 0x%llx)",
			 (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		handle_crash(v, what);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM internal error %u (1 is an instruction KVM cannot emulate)",
			 r->internal.suberror);
		handle_crash(v, what);
		break;
	default:
		snprintf(what, sizeof(what), "unexpected exit %u (%s)", r->exit_reason,
			 vcpu_exit_name(r->exit_reason));
		handle_crash(v, what);
		break;
	}
}

/*
 * KVM_NMI waits for the vCPU's mutex, which KVM_RUN holds: so the vCPU's own thread injects it,
 * after vcpu_request_nmi() kicked it out. Returns -1 when the VM is stopping meanwhile.
 */
static int inject_nmi(struct vcpu *v)
{
	int ret;

	((volatile struct kvm_run *)v->run)->immediate_exit = 0;
	/* A stop that set immediate_exit before we cleared it has already set 'stopping'. */
	if (atomic_load(v->ctx.stopping))
		return -1;
	ret = arch_vcpu_nmi(v->fd);
	if (ret < 0)
		log_warn("vCPU %u: no NMI injected: %s", v->id, strerror(-ret));
	return 0;
}

/* Where the guest was when its VM stopped: for -vv, to see what a hung guest was doing. */
static void log_where(struct vcpu *v)
{
	struct arch_regs regs;
	char where[160];

	if (log_enabled(LOG_DEBUG) && arch_regs_get(v->fd, &regs) == 0 &&
	    arch_regs_where(&regs, where, sizeof(where)))
		log_debug("vCPU %u stopped at %s", v->id, where);
}

/* (v)'s registers into its snapshot; under the pause lock, on (v)'s thread. */
static void take_snapshot(struct vcpu *v)
{
	v->snap.err = arch_regs_get(v->fd, &v->snap.regs);
	v->snap_gen++;
	atomic_store(&v->snap_wanted, false);
}

/*
 * Between two KVM_RUNs, when a pause or a snapshot was asked for: take the snapshot, park while the VM is
 * paused (taking more as asked), then enter again. Returns -1 when the VM is stopping meanwhile.
 */
static int attend(struct vcpu *v)
{
	struct vcpu_pause *p = v->ctx.pause;
	bool parked = false;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		if (atomic_load(&v->snap_wanted)) {
			take_snapshot(v);
			pthread_cond_broadcast(&p->cond);
		}
		if (!p->paused || atomic_load(v->ctx.stopping))
			break;
		if (!parked) {
			parked = true;
			p->parked++;
			atomic_store(&v->parked, true);
			pthread_cond_broadcast(&p->cond);
		}
		pthread_cond_wait(&p->cond, &p->lock);
	}
	if (parked) {
		p->parked--;
		atomic_store(&v->parked, false);
	}
	pthread_mutex_unlock(&p->lock);
	/* The kick that asked may have set immediate_exit; a stop sets 'stopping' before it kicks. */
	((volatile struct kvm_run *)v->run)->immediate_exit = 0;
	return atomic_load(v->ctx.stopping) ? -1 : 0;
}

/* Adds one to counter (c), which only this thread writes: no locked instruction on the exit path. */
static void bump(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

/* CLOCK_MONOTONIC in nanoseconds, as vm_now_ns() (kept here: the vCPU knows no VM). */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct thread_filter_vcpu filter = { .id = v->id, .vcpu_fd = v->fd, .vm_fd = v->ctx.vm_fd };
	sigset_t kick;
	char name[16];

	/* Opened here: neither this thread's filter nor the main thread's lets a file be opened later. */
	atomic_store(&v->wchan_fd, open("/proc/thread-self/wchan", O_RDONLY | O_CLOEXEC));
	atomic_store(&v->stat_fd, open("/proc/thread-self/stat", O_RDONLY | O_CLOEXEC));
	atomic_store(&v->tid, (int)gettid());
	snprintf(name, sizeof(name), "kvmini-vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&kick);
	sigaddset(&kick, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	/* From here on, this thread's syscalls are those of its allowlist only (thread_filter.h). */
	if (thread_filter_vcpu(&filter) < 0) {
		stop_vm(v, VM_EXIT_ERROR, "L-3 sandbox: a vCPU cannot run without its syscall filter");
		return NULL;
	}
	while (!atomic_load_explicit(v->ctx.stopping, memory_order_acquire)) {
		/* A plain load first: the exchange is a locked instruction, kept off the hot path. */
		if (atomic_load_explicit(&v->nmi_pending, memory_order_relaxed) &&
		    atomic_exchange(&v->nmi_pending, false) && inject_nmi(v) < 0)
			break;
		if ((atomic_load_explicit(&v->ctx.pause->requested, memory_order_relaxed) ||
		     atomic_load_explicit(&v->snap_wanted, memory_order_relaxed)) &&
		    attend(v) < 0)
			break;
		if (!v->first_run_ns)
			v->first_run_ns = now_ns();
		atomic_store_explicit(&v->in_run, true, memory_order_relaxed);
		int ret = ioctl(v->fd, KVM_RUN, 0);

		atomic_store_explicit(&v->in_run, false, memory_order_relaxed);
		if (ret < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			char why[96];

			snprintf(why, sizeof(why), "%s: vCPU %u: KVM_RUN failed: %s", layer_name(LAYER_VCPU),
				 v->id, strerror(errno));
			stop_vm(v, VM_EXIT_ERROR, why);
			break;
		}
		bump(&v->exits[v->run->exit_reason < VCPU_EXIT_REASONS ? v->run->exit_reason : 0]);
		atomic_store_explicit(&v->last_exit, v->run->exit_reason, memory_order_relaxed);
		handle_exit(v);
	}
	log_where(v);
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	int ret = pthread_create(&v->thread, NULL, vcpu_thread, v);

	if (ret) {
		log_layer(LOG_ERR, LAYER_VCPU, "cannot start vCPU %u's thread: %s", v->id, strerror(ret));
		return -ret;
	}
	v->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	/* immediate_exit covers a kick that lands before the thread enters KVM_RUN. */
	((volatile struct kvm_run *)v->run)->immediate_exit = 1;
	if (v->started)
		pthread_kill(v->thread, SIGUSR1);
}

static int join_until(struct vcpu *v, unsigned int s)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += s;
	return pthread_timedjoin_np(v->thread, NULL, &t);
}

/* The kernel function (v)'s thread sleeps in ("0" when it runs), from /proc: where a hang is. */
static void thread_wchan(const struct vcpu *v, char *buf, size_t size)
{
	int fd = atomic_load(&v->wchan_fd);
	ssize_t n = fd >= 0 ? pread(fd, buf, size - 1, 0) : -1;

	if (n <= 0)
		snprintf(buf, size, "unknown");
	else
		buf[n] = '\0';
}

int vcpu_join(struct vcpu *v, unsigned int grace_s)
{
	char wchan[64];

	if (!v->started || join_until(v, grace_s) == 0)
		return 0;
	thread_wchan(v, wchan, sizeof(wchan));
	if (atomic_load(&v->in_run))
		log_layer(LOG_ERR, LAYER_HARDWARE,
			  "vCPU %u has not come out of KVM_RUN %u s after it was kicked (kernel wait "
			  "channel %s): the host kernel does not give it back, as when the CPU running the "
			  "guest takes no interrupts (a fault of the hypervisor below, seen under nested "
			  "emulation); see the host's kernel log",
			  v->id, grace_s, wchan);
	else
		log_layer(LOG_ERR, LAYER_VCPU,
			  "vCPU %u is not back %u s after it was kicked: its thread hangs handling a %s "
			  "exit (kernel wait channel %s; a bug: please report it)",
			  v->id, grace_s, vcpu_exit_name(((volatile struct kvm_run *)v->run)->exit_reason),
			  wchan);
	if (join_until(v, grace_s) == 0)
		return 0;
	log_err("vCPU %u is still not back: kvmini exits without it", v->id);
	return -ETIMEDOUT;
}

void vcpu_request_nmi(struct vcpu *v)
{
	atomic_store(&v->nmi_pending, true);
	vcpu_kick(v);
}

int vcpu_pause_init(struct vcpu_pause *p)
{
	int ret = pthread_mutex_init(&p->lock, NULL);

	if (ret)
		return -ret;
	ret = pthread_cond_init(&p->cond, NULL);
	if (ret) {
		pthread_mutex_destroy(&p->lock);
		return -ret;
	}
	p->paused = false;
	p->parked = 0;
	atomic_init(&p->requested, false);
	return 0;
}

void vcpu_pause_destroy(struct vcpu_pause *p)
{
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

/* An absolute CLOCK_REALTIME deadline (timedwait's clock) (ms) from now. */
static struct timespec deadline_ms(unsigned int ms)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

int vcpu_pause_all(struct vcpu *v, unsigned int n, bool paused, unsigned int timeout_ms, unsigned int *late)
{
	struct vcpu_pause *p = n ? v[0].ctx.pause : NULL;
	struct timespec until = deadline_ms(timeout_ms);
	unsigned int started = 0;
	int ret = 0;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->lock);
	p->paused = paused;
	atomic_store(&p->requested, paused);
	pthread_cond_broadcast(&p->cond);
	for (unsigned int i = 0; i < n; i++)
		if (v[i].started) {
			started++;
			if (paused)
				vcpu_kick(&v[i]);
		}
	while (paused && p->parked < started && !atomic_load(v[0].ctx.stopping) && ret == 0)
		ret = pthread_cond_timedwait(&p->cond, &p->lock, &until);
	if (paused && p->parked < started) {
		for (unsigned int i = 0; i < n; i++)
			if (v[i].started && !atomic_load(&v[i].parked)) {
				*late = i;
				break;
			}
		ret = -ETIMEDOUT;
	} else {
		ret = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

int vcpu_snapshot(struct vcpu *v, unsigned int timeout_ms, struct vcpu_snapshot *out)
{
	struct vcpu_pause *p = v->ctx.pause;
	struct timespec until = deadline_ms(timeout_ms);
	uint64_t gen;
	int ret = 0;

	if (!v->started)
		return -ESRCH;
	pthread_mutex_lock(&p->lock);
	gen = v->snap_gen;
	atomic_store(&v->snap_wanted, true);
	pthread_cond_broadcast(&p->cond); /* a parked vCPU */
	vcpu_kick(v);			  /* a running one */
	while (v->snap_gen == gen && !atomic_load(v->ctx.stopping) && ret == 0)
		ret = pthread_cond_timedwait(&p->cond, &p->lock, &until);
	if (v->snap_gen != gen) {
		*out = v->snap;
		ret = out->err;
	} else {
		ret = -ETIMEDOUT;
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

int vcpu_thread_stat(const struct vcpu *v, struct vcpu_thread_stat *st)
{
	int fd = atomic_load(&v->stat_fd);
	char buf[1024], *p;
	unsigned long long f[52] = { 0 };
	long tick = sysconf(_SC_CLK_TCK);
	uint64_t ns_per_tick = tick > 0 ? 1000000000ULL / (uint64_t)tick : 10000000ULL;
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
	unsigned int i = 4; /* the field after the state */

	if (n <= 0)
		return fd < 0 ? -ESRCH : -EIO;
	buf[n] = '\0';
	/* The name, in parentheses, may hold anything: the fields start after its last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EPROTO;
	st->state = p[2];
	for (p += 3; i < 52 && *p; i++) {
		while (*p == ' ')
			p++;
		f[i] = strtoull(p, &p, 10);
	}
	/* proc(5): 14 utime and 15 stime (guest time is counted in utime too), 39 processor, 43 guest_time. */
	st->cpu = (int)f[39];
	st->guest_ns = f[43] * ns_per_tick;
	st->user_ns = (f[14] > f[43] ? f[14] - f[43] : 0) * ns_per_tick;
	st->kernel_ns = f[15] * ns_per_tick;
	return 0;
}

const char *vcpu_state_name(const struct vcpu *v)
{
	if (!v->started)
		return "not started";
	if (atomic_load(v->ctx.stopping))
		return "stopped";
	return atomic_load(&v->parked) ? "paused" : "running";
}
