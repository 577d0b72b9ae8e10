/* x86/probe.c: running the canary guest, to learn whether this KVM runs guest kernel code at hardware speed. */
#include "../probe.h"

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

#include "../../firmware/x86/canary.h"
#include "../../firmware/x86/layout.h"
#include "cpuid.h"
#include "../kvm.h"
#include "../../devices/base/log.h"
#include "../../devices/base/mem.h"
#include "../vcpu.h"
#include "../vm.h"

#define PROBE_RAM	(1ULL << 20)
#define PROBE_GRACE_S	2  /* after the kick, before the vCPU thread is given up on */
#define PROBE_MAX_EXITS 64 /* the canary makes 3; a guest that exits more is not the canary */

struct probe {
	struct kvm kvm;
	int vm_fd, vcpu_fd;
	struct kvm_run *run;
	int run_size;
	struct gmem mem;
	atomic_bool stop;
	struct probe_result r; /* the vCPU thread's; copied out once it is joined */
};

static int fail(const char *what)
{
	int err = errno;

	log_layer(LOG_ERR, LAYER_HARDWARE, "canary: %s failed: %s", what, strerror(err));
	return -err;
}

/* KVM's supported CPUID as is: long mode needs CPUID to say LM before EFER.LME can be set. */
static int set_cpuid(struct probe *p)
{
	static struct cpuid_table t; /* large; only the probe's thread uses it */

	t.nent = CPUID_MAX_ENTRIES;
	if (ioctl(p->kvm.fd, KVM_GET_SUPPORTED_CPUID, cpuid_kvm(&t)) < 0)
		return fail("KVM_GET_SUPPORTED_CPUID");
	if (ioctl(p->vcpu_fd, KVM_SET_CPUID2, cpuid_kvm(&t)) < 0)
		return fail("KVM_SET_CPUID2");
	return 0;
}

/* Real mode at 0000:CANARY_CODE_ADDR, as a boot loader leaves a kernel's real-mode setup code. */
static int set_real_mode(struct probe *p)
{
	struct kvm_sregs s;
	struct kvm_regs regs = { .rip = CANARY_CODE_ADDR, .rflags = 0x2 };

	if (ioctl(p->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return fail("KVM_GET_SREGS");
	s.cs.selector = 0;
	s.cs.base = 0;
	s.ds = s.es = s.fs = s.gs = s.ss = s.cs;
	s.ds.type = s.es.type = s.fs.type = s.gs.type = s.ss.type = 0x3;
	if (ioctl(p->vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return fail("KVM_SET_SREGS");
	if (ioctl(p->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");
	return 0;
}

static int load(struct probe *p, uint32_t iterations)
{
	uint8_t code[CANARY_CODE_MAX];
	size_t len = canary_build(code, iterations);
	int ret = arch_write_boot_tables(&p->mem);

	if (!ret)
		ret = gmem_write(&p->mem, CANARY_CODE_ADDR, code, len);
	if (ret) {
		errno = -ret;
		return fail("writing its code and tables");
	}
	return 0;
}

static int setup(struct probe *p, const char *path, uint32_t iterations)
{
	struct kvm_userspace_memory_region region;
	int ret = kvm_open(&p->kvm, path);

	if (ret)
		return ret;
	p->vm_fd = ioctl(p->kvm.fd, KVM_CREATE_VM, 0);
	if (p->vm_fd < 0)
		return fail("KVM_CREATE_VM");
	if (ioctl(p->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		return fail("KVM_SET_TSS_ADDR");
	ret = gmem_create(&p->mem, 0, PROBE_RAM, PCI_HOLE_START);
	if (ret) {
		errno = -ret;
		return fail("allocating its memory");
	}
	region = (struct kvm_userspace_memory_region){ .memory_size = PROBE_RAM,
						       .userspace_addr = (uintptr_t)p->mem.base };
	if (ioctl(p->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");
	p->vcpu_fd = ioctl(p->vm_fd, KVM_CREATE_VCPU, 0);
	if (p->vcpu_fd < 0)
		return fail("KVM_CREATE_VCPU");
	p->run_size = p->kvm.vcpu_mmap_size;
	p->run = mmap(NULL, (size_t)p->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->vcpu_fd, 0);
	if (p->run == MAP_FAILED) {
		p->run = NULL;
		return fail("mapping the vCPU's run page");
	}
	ret = set_cpuid(p);
	if (!ret)
		ret = set_real_mode(p);
	if (!ret)
		ret = load(p, iterations);
	return ret;
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
	uint8_t value;

	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
		snprintf(r->why, sizeof(r->why), "KVM internal error %u%s", run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
				 ? " (an instruction KVM cannot emulate)"
				 : "");
		return -1;
	}
	if (run->exit_reason == KVM_EXIT_IO &&
	    (run->io.port != CANARY_PORT || run->io.size != 1 || run->io.direction != KVM_EXIT_IO_OUT)) {
		snprintf(r->why, sizeof(r->why), "an unexpected %u-byte port %s at port 0x%x", run->io.size,
			 run->io.direction == KVM_EXIT_IO_OUT ? "write" : "read", run->io.port);
		return -1;
	}
	if (run->exit_reason != KVM_EXIT_IO) {
		snprintf(r->why, sizeof(r->why), "an unexpected exit (%s)", vcpu_exit_name(run->exit_reason));
		return -1;
	}
	value = *((uint8_t *)run + run->io.data_offset);
	if (value != r->stage + 1) {
		snprintf(r->why, sizeof(r->why), "stage %u reported after stage %u", value, r->stage);
		return -1;
	}
	r->stage = value;
	if (value == CANARY_LONG_MODE)
		r->long_mode_ns = vm_now_ns() - t0;
	if (value == CANARY_LOOP_DONE) {
		r->loop_ns = vm_now_ns() - t0 - r->long_mode_ns;
		r->turns = r->iterations;
		return 1;
	}
	return 0;
}

/* Appends where the vCPU stands to the failure's words: the guest's code address and mode. */
static void note_where(struct probe *p)
{
	struct kvm_regs regs;
	struct kvm_sregs s;
	size_t n = strlen(p->r.why);

	if (ioctl(p->vcpu_fd, KVM_GET_REGS, &regs) < 0 || ioctl(p->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return;
	snprintf(p->r.why + n, sizeof(p->r.why) - n, " at cs:rip %04x:%llx (cs base 0x%llx, cr0 0x%llx)",
		 s.cs.selector, (unsigned long long)regs.rip, (unsigned long long)s.cs.base,
		 (unsigned long long)s.cr0);
}

/* Stopped in its loop: how far it got (ECX counts the turns left) tells how fast KVM runs it. */
static void out_of_time(struct probe *p, uint64_t t0)
{
	struct probe_result *r = &p->r;
	struct kvm_regs regs;

	snprintf(r->why, sizeof(r->why), "out of time");
	if (r->stage != CANARY_LONG_MODE || ioctl(p->vcpu_fd, KVM_GET_REGS, &regs) < 0)
		return;
	r->loop_ns = vm_now_ns() - t0 - r->long_mode_ns;
	if ((regs.rcx & 0xffffffffu) <= r->iterations)
		r->turns = r->iterations - (regs.rcx & 0xffffffffu);
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
	return r->stage == CANARY_LOOP_DONE ? 0 : 1;
}
