/*
 * arm64/arch.h: the arm64 side of arch.h: a virt-style board with KVM's in-kernel GICv3 and ITS, the
 * architected timer, PSCI in KVM, a 16550A console and PCI through ECAM, described by a device tree.
 */
#ifndef KVMINI_ARM64_ARCH_H
#define KVMINI_ARM64_ARCH_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../firmware/arm64/dtb.h"

#define ARCH_NAME     "arm64"
#define ARCH_RAM_BASE ARM64_RAM_BASE
#define ARCH_RAM_HOLE UINT64_MAX /* RAM is one range from its base: the devices sit below it */
#define ARCH_IRQ_PINS 1		 /* the console's SPI; PCI devices signal MSIs through the ITS */
#define ARCH_IRQCHIP  "in-kernel GICv3 and ITS"

/* The canary (probe.h) in words: from its entry to its loop, and the mode its loop runs in. */
#define ARCH_CANARY_START "EL1 entry to its loop"
#define ARCH_CANARY_MODE  "EL1"

#define ARCH_KVM_CAPS                                                                                      \
	{ KVM_CAP_ARM_PSCI_0_2, "KVM_CAP_ARM_PSCI_0_2", "PSCI in KVM: CPU_ON, SYSTEM_OFF, SYSTEM_RESET" }, \
		{ KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL", "the GICv3 and ITS as KVM devices" },        \
	{                                                                                                  \
		KVM_CAP_ONE_REG, "KVM_CAP_ONE_REG", "the boot registers, one at a time"                    \
	}

/* The vCPU ioctls beside KVM_RUN (thread_filter.c): the registers, one at a time. */
#define ARCH_VCPU_IOCTLS                 \
	{                                \
		KVM_GET_ONE_REG, ON_VCPU \
	}

/* The doctor's scratch VM: the console's SPI, a PCI memory BAR's address, an MSI to the ITS. */
#define ARCH_DOCTOR_GSI	     ARM64_UART_SPI
#define ARCH_DOCTOR_MMIO     ARM64_PCI_MMIO32_BASE
#define ARCH_DOCTOR_MSI_ADDR (ARM64_GITS_BASE + 0x10040) /* GITS_TRANSLATER */

struct arch_vm {
	int gic_fd; /* the GICv3 (KVM_DEV_TYPE_ARM_VGIC_V3), -1 before it exists */
	int its_fd; /* its ITS (KVM_DEV_TYPE_ARM_VGIC_ITS), -1 before it exists */
};
#define ARCH_VM_INIT                       \
	{                                  \
		.gic_fd = -1, .its_fd = -1 \
	}

/* Where the boot vCPU starts (booting.rst): the kernel's entry, x0 the device tree's address. */
struct arch_boot {
	uint64_t entry;
	uint64_t dtb;
};

/* What inspect and the crash report show of a vCPU. */
struct arch_regs {
	uint64_t x[31];
	uint64_t sp, pc, pstate;
	uint64_t sp_el1, elr_el1, spsr_el1;
};

/* ---- kvmini bench exits (vmm/bench.c); added by the bench helper: move to arm64/cpu.c at will ---- */
/*
 * arch_clock_khz: the rate of the clock the exit-latency guest times with, the generic timer's virtual
 * counter, in kHz: CNTFRQ_EL0, which the guest reads the same (KVM does not change it). (vcpu_fd) unused.
 */
static inline long arch_clock_khz(int vcpu_fd)
{
	uint64_t hz;

	(void)vcpu_fd;
	__asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(hz));
	return (long)(hz / 1000);
}
/* ---- end of bench's block ---- */

#endif
