/* x86/canary.c: the x86 canary's VM: real mode at its code, CPUID for long mode, stages on a port. */
#include "../probe.h"

#include <errno.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "../../firmware/x86/canary.h"
#include "../arch.h"
#include "../vcpu.h"
#include "cpuid.h"

_Static_assert(CANARY_REAL_MODE == PROBE_STAGE_ENTRY && CANARY_LONG_MODE == PROBE_STAGE_LOOP &&
		       CANARY_LOOP_DONE == PROBE_STAGE_DONE && CANARY_LOOP_INSNS == PROBE_LOOP_INSNS,
	       "the x86 canary reports probe.h's stages");

/* KVM's supported CPUID as is: long mode needs CPUID to say LM before EFER.LME can be set. */
static int set_cpuid(struct probe *p)
{
	static struct cpuid_table t; /* large; only the probe's thread uses it */

	t.nent = CPUID_MAX_ENTRIES;
	if (ioctl(p->kvm.fd, KVM_GET_SUPPORTED_CPUID, cpuid_kvm(&t)) < 0)
		return probe_fail("KVM_GET_SUPPORTED_CPUID");
	if (ioctl(p->vcpu_fd, KVM_SET_CPUID2, cpuid_kvm(&t)) < 0)
		return probe_fail("KVM_SET_CPUID2");
	return 0;
}

/* Real mode at 0000:CANARY_CODE_ADDR, as a boot loader leaves a kernel's real-mode setup code. */
static int set_real_mode(struct probe *p)
{
	struct kvm_sregs s;
	struct kvm_regs regs = { .rip = CANARY_CODE_ADDR, .rflags = 0x2 };

	if (ioctl(p->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return probe_fail("KVM_GET_SREGS");
	s.cs.selector = 0;
	s.cs.base = 0;
	s.ds = s.es = s.fs = s.gs = s.ss = s.cs;
	s.ds.type = s.es.type = s.fs.type = s.gs.type = s.ss.type = 0x3;
	if (ioctl(p->vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return probe_fail("KVM_SET_SREGS");
	if (ioctl(p->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return probe_fail("KVM_SET_REGS");
	return 0;
}

int arch_canary_setup(struct probe *p, uint32_t iterations)
{
	uint8_t code[CANARY_CODE_MAX];
	size_t len = canary_build(code, iterations);
	int ret;

	if (ioctl(p->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		return probe_fail("KVM_SET_TSS_ADDR");
	ret = set_cpuid(p);
	if (!ret)
		ret = set_real_mode(p);
	if (ret)
		return ret;
	ret = arch_write_boot_tables(&p->mem);
	if (!ret)
		ret = gmem_write(&p->mem, CANARY_CODE_ADDR, code, len);
	if (ret) {
		errno = -ret;
		return probe_fail("writing its code and tables");
	}
	return 0;
}

int arch_canary_report(struct probe *p)
{
	struct kvm_run *run = p->run;

	if (run->exit_reason != KVM_EXIT_IO) {
		snprintf(p->r.why, sizeof(p->r.why), "an unexpected exit (%s)",
			 vcpu_exit_name(run->exit_reason));
		return -1;
	}
	if (run->io.port != CANARY_PORT || run->io.size != 1 || run->io.direction != KVM_EXIT_IO_OUT) {
		snprintf(p->r.why, sizeof(p->r.why), "an unexpected %u-byte port %s at port 0x%x",
			 run->io.size, run->io.direction == KVM_EXIT_IO_OUT ? "write" : "read", run->io.port);
		return -1;
	}
	return *((uint8_t *)run + run->io.data_offset);
}

/* The loop counts ECX down. */
uint64_t arch_canary_turns_left(const struct arch_regs *r)
{
	return r->regs.rcx & 0xffffffffu;
}
