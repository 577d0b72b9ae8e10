/* arm64/cpu.h: an arm64 vCPU's registers, through KVM's one-register interface. */
#ifndef KVMINI_ARM64_CPU_H
#define KVMINI_ARM64_CPU_H

#include <stdint.h>

/*
 * cpu_init: vCPU (vcpu_fd), number (id), of the VM (vm_fd) made an arm64 CPU of the host's kind with PSCI
 * 0.2 in KVM; every vCPU but the boot one waits, powered off, for PSCI CPU_ON. NULL, or the failed step
 * with errno set.
 */
const char *cpu_init(int vm_fd, int vcpu_fd, unsigned int id);
/*
 * cpu_set_boot_regs: the boot vCPU (vcpu_fd) at EL1h with D, A, I and F masked, pc = (entry),
 * x0 = (dtb) and x1-x3 zero, as booting.rst asks (the MMU is off after KVM_ARM_VCPU_INIT). 0 or -errno.
 */
int cpu_set_boot_regs(int vcpu_fd, uint64_t entry, uint64_t dtb);

#endif
