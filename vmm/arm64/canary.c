/* arm64/canary.c: the arm64 canary's VM: its vCPU at EL1 on its code, stages as MMIO writes. */
#include "../probe.h"

#include <errno.h>
#include <stdio.h>

#include "../../firmware/arm64/canary.h"
#include "../arch.h"
#include "../vcpu.h"
#include "cpu.h"

_Static_assert(CANARY_ARM64_ENTRY == PROBE_STAGE_ENTRY && CANARY_ARM64_LOOP == PROBE_STAGE_LOOP &&
		       CANARY_ARM64_DONE == PROBE_STAGE_DONE && CANARY_ARM64_INSNS == PROBE_LOOP_INSNS,
	       "the arm64 canary reports probe.h's stages");
_Static_assert(CANARY_ARM64_CODE_ADDR == ARCH_RAM_BASE, "the canary's code is at the start of its RAM");

int arch_canary_setup(struct probe *p, uint32_t iterations)
{
	uint8_t code[CANARY_ARM64_CODE_MAX];
	size_t len = canary_arm64_build(code, iterations);
	const char *step = cpu_init(p->vm_fd, p->vcpu_fd, 0);
	int ret;

	if (step)
		return probe_fail(step);
	ret = cpu_set_boot_regs(p->vcpu_fd, CANARY_ARM64_CODE_ADDR, 0);
	if (ret) {
		errno = -ret;
		return probe_fail("setting its registers (KVM_SET_ONE_REG)");
	}
	ret = gmem_write(&p->mem, CANARY_ARM64_CODE_ADDR, code, len);
	if (ret) {
		errno = -ret;
		return probe_fail("writing its code");
	}
	return 0;
}

int arch_canary_report(struct probe *p)
{
	struct kvm_run *run = p->run;

	if (run->exit_reason != KVM_EXIT_MMIO) {
		snprintf(p->r.why, sizeof(p->r.why), "an unexpected exit (%s)",
			 vcpu_exit_name(run->exit_reason));
		return -1;
	}
	if (run->mmio.phys_addr != CANARY_ARM64_MMIO || run->mmio.len != 4 || !run->mmio.is_write) {
		snprintf(p->r.why, sizeof(p->r.why), "an unexpected %u-byte MMIO %s at 0x%llx", run->mmio.len,
			 run->mmio.is_write ? "write" : "read", (unsigned long long)run->mmio.phys_addr);
		return -1;
	}
	return run->mmio.data[0];
}

/* The loop counts x0 down. */
uint64_t arch_canary_turns_left(const struct arch_regs *r)
{
	return r->x[0];
}
