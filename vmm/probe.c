/*
 * probe.c: running the canary guest, to learn whether this KVM runs guest kernel code at hardware speed:
 * its VM, its one vCPU on a thread of its own, the time limit. Each architecture has its own canary
 * (vmm/x86/canary.c, vmm/arm64/canary.c).
 */
#include "probe.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "../devices/base/log.h"
#include "vcpu.h"
#include "vm.h"

#define PROBE_GRACE_S	2  /* after the kick, before the vCPU thread is given up on */
#define PROBE_MAX_EXITS 64 /* the canary makes 3; a guest that exits more is not the canary */

int probe_fail(const char *what)
{
	int err = errno;

	log_layer(LOG_ERR, LAYER_HARDWARE, "canary: %s failed: %s", what, strerror(err));
	return -err;
}

static int setup(struct probe *p, const char *path, uint32_t iterations)
{
	struct kvm_userspace_memory_region region;
	int ret = kvm_open(&p->kvm, path);

	if (ret)
		return ret;
	p->vm_fd = ioctl(p->kvm.fd, KVM_CREATE_VM, 0);
	if (p->vm_fd < 0)
		return probe_fail("KVM_CREATE_VM");
	ret = gmem_create(&p->mem, ARCH_RAM_BASE, PROBE_RAM, ARCH_RAM_HOLE);
	if (ret) {
		errno = -ret;
		return probe_fail("allocating its memory");
	}
	region = (struct kvm_userspace_memory_region){ .guest_phys_addr = ARCH_RAM_BASE,
						       .memory_size = PROBE_RAM,
						       .userspace_addr = (uintptr_t)p->mem.base };
	if (ioctl(p->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return probe_fail("KVM_SET_USER_MEMORY_REGION");
	p->vcpu_fd = ioctl(p->vm_fd, KVM_CREATE_VCPU, 0);
	if (p->vcpu_fd < 0)
		return probe_fail("KVM_CREATE_VCPU");
	p->run_size = p->kvm.vcpu_mmap_size;
	p->run = mmap(NULL, (size_t)p->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->vcpu_fd, 0);
	if (p->run == MAP_FAILED) {
		p->run = NULL;
		return probe_fail("mapping the vCPU's run page");
	}
	return arch_canary_setup(p, iterations);
}

static void teardown(struct probe *p)
{
	if (p->run)
		munmap(p->run, (size_t)p->run_size);
	if (p->vcpu_fd >= 0)
		close(p->vcpu_fd);
	if (p->vm_fd >= 0)
		close(p->vm_fd);
	gmem_destroy(&p->mem);
	kvm_close(&p->kvm);
}

/* One exit: 1 when the canary is done, 0 to go on, -1 when it went wrong (r->why says how). */
static int handle_exit(struct probe *p, uint64_t t0)
{
	struct kvm_run *run = p->run;
	struct probe_result *r = &p->r;
	int value;

	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
		snprintf(r->why, sizeof(r->why), "KVM internal error %u%s", run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
				 ? " (an instruction KVM cannot emulate)"
				 : "");
		return -1;
	}
	value = arch_canary_report(p);
	if (value < 0)
		return -1;
	if (value != (int)r->stage + 1) {
		snprintf(r->why, sizeof(r->why), "stage %d reported after stage %u", value, r->stage);
		return -1;
	}
	r->stage = (unsigned int)value;
	if (value == PROBE_STAGE_LOOP)
		r->start_ns = vm_now_ns() - t0;
	if (value == PROBE_STAGE_DONE) {
		r->loop_ns = vm_now_ns() - t0 - r->start_ns;
		r->turns = r->iterations;
		return 1;
	}
	return 0;
}

/* Appends where the vCPU stands to the failure's words. */
static void note_where(struct probe *p)
{
	struct arch_regs regs;
	char where[128];
	size_t n = strlen(p->r.why);

	if (arch_regs_get(p->vcpu_fd, &regs) < 0)
		return;
	if (!arch_regs_where(&regs, where, sizeof(where)))
		snprintf(where, sizeof(where), "its reset state");
	snprintf(p->r.why + n, sizeof(p->r.why) - n, " at %s", where);
}

/* Stopped in its loop: how far it got (its counter holds the turns left) tells how fast KVM runs it. */
static void out_of_time(struct probe *p, uint64_t t0)
{
	struct probe_result *r = &p->r;
	struct arch_regs regs;
	uint64_t left;

	snprintf(r->why, sizeof(r->why), "out of time");
	if (r->stage != PROBE_STAGE_LOOP || arch_regs_get(p->vcpu_fd, &regs) < 0)
		return;
	r->loop_ns = vm_now_ns() - t0 - r->start_ns;
	left = arch_canary_turns_left(&regs);
	if (left <= r->iterations)
		r->turns = r->iterations - left;
}

static void *run_thread(void *arg)
{
	struct probe *p = arg;
	uint64_t t0 = vm_now_ns();

	for (int exits = 0; exits < PROBE_MAX_EXITS; exits++) {
		int ret;

		if (ioctl(p->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR && atomic_load(&p->stop)) {
				out_of_time(p, t0);
				return NULL;
			}
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(p->r.why, sizeof(p->r.why), "KVM_RUN failed: %s", strerror(errno));
			return NULL;
		}
		ret = handle_exit(p, t0);
		if (ret < 0)
			note_where(p);
		if (ret)
			return NULL;
	}
	snprintf(p->r.why, sizeof(p->r.why), "more than %d exits", PROBE_MAX_EXITS);
	return NULL;
}

static void empty_handler(int sig)
{
	(void)sig;
}

/* Wait for (t) until (s) seconds and (ns) nanoseconds from now; 0 when it ended. */
static int join_within(pthread_t t, unsigned int s, long ns)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += s + (until.tv_nsec + ns) / 1000000000L;
	until.tv_nsec = (until.tv_nsec + ns) % 1000000000L;
	return pthread_timedjoin_np(t, NULL, &until);
}

int probe_canary(const char *path, uint32_t iterations, unsigned int limit_ms, struct probe_result *r)
{
	struct sigaction sa = { .sa_handler = empty_handler }; /* no SA_RESTART: KVM_RUN returns EINTR */
	struct probe *p = calloc(1, sizeof(*p));
	pthread_t thread;
	int ret;

	if (!p)
		return -ENOMEM;
	p->vm_fd = p->vcpu_fd = -1;
	p->mem.fd = -1;
	p->r.iterations = iterations ? iterations : 1;
	atomic_init(&p->stop, false);
	ret = setup(p, path, iterations);
	if (!ret)
		ret = -pthread_create(&thread, NULL, run_thread, p);
	if (ret) {
		teardown(p);
		free(p);
		return ret;
	}
	sigaction(SIGUSR1, &sa, NULL);
	if (join_within(thread, limit_ms / 1000, (long)(limit_ms % 1000) * 1000000L) != 0) {
		atomic_store(&p->stop, true);
		((volatile struct kvm_run *)p->run)->immediate_exit = 1;
		pthread_kill(thread, SIGUSR1);
		if (join_within(thread, PROBE_GRACE_S, 0) != 0) {
			/* Still inside KVM_RUN: its memory, fds and state stay, for the thread's sake. */
			*r = (struct probe_result){ .iterations = p->r.iterations };
			snprintf(r->why, sizeof(r->why),
				 "out of time, and its vCPU thread does not come back from KVM_RUN (L-0)");
			return 1;
		}
	}
	*r = p->r;
	teardown(p);
	free(p);
	return r->stage == PROBE_STAGE_DONE ? 0 : 1;
}
