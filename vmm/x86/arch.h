/* x86/arch.h: the x86-64 side of arch.h: a PC with in-kernel PIC, IOAPIC, LAPICs and PIT. */
#ifndef KVMINI_X86_ARCH_H
#define KVMINI_X86_ARCH_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../firmware/x86/boot_linux.h"
#include "../../firmware/x86/boot_multiboot.h"
#include "../../firmware/x86/layout.h"

#define ARCH_NAME     "x86_64"
#define ARCH_RAM_BASE 0
#define ARCH_RAM_HOLE PCI_HOLE_START
#define ARCH_IRQ_PINS (16 + 24) /* the two 8259s' pins, then the IOAPIC's */
#define ARCH_IRQCHIP  "in-kernel PIC, IOAPIC, LAPICs and PIT"

/* The canary (probe.h) in words: from its entry to its loop, and the mode its loop runs in. */
#define ARCH_CANARY_START "real mode to long mode"
#define ARCH_CANARY_MODE  "ring-0"

#define ARCH_KVM_CAPS                                                                             \
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel PIC, IOAPIC and LAPICs" },               \
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel PIT" },                                \
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "TSS placement" },                \
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "CPUID from KVM_GET_SUPPORTED_CPUID" }, \
	{                                                                                         \
		KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", "application processors wait for INIT/SIPI" \
	}

/* The vCPU ioctls beside KVM_RUN (thread_filter.c): an NMI asked for, the registers. */
#define ARCH_VCPU_IOCTLS                                 \
	{ KVM_NMI, ON_VCPU }, { KVM_GET_REGS, ON_VCPU }, \
	{                                                \
		KVM_GET_SREGS, ON_VCPU                   \
	}

/* The doctor's scratch VM: COM1's IRQ, a PCI memory BAR's address, an MSI to the LAPIC. */
#define ARCH_DOCTOR_GSI	     IRQ_COM1
#define ARCH_DOCTOR_MMIO     PCI_MMIO_BASE
#define ARCH_DOCTOR_MSI_ADDR LAPIC_ADDR

struct arch_vm {
	int unused; /* the in-kernel irqchips live with the VM's descriptor */
};
#define ARCH_VM_INIT \
	{            \
		0    \
	}

/* Where the boot vCPU starts: Linux's 64-bit entry or Multiboot's 32-bit one. */
struct arch_boot {
	bool multiboot;
	struct boot_linux_entry linux64;
	struct multiboot_entry mb;
};

struct arch_regs {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
};

/* ---- kvmini bench exits (vmm/bench.c); added by the bench helper: move to x86/cpu.c at will ---- */
#include <sys/ioctl.h>
/* arch_clock_khz: the rate of the clock the exit-latency guest times with, the TSC, as KVM has it for
 * the vCPU (vcpu_fd), in kHz; 0 if unknown. */
static inline long arch_clock_khz(int vcpu_fd)
{
	long khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);

	return khz > 0 ? khz : 0;
}
/* ---- end of bench's block ---- */

/* arch_write_boot_tables: the GDT and identity page tables of the 64-bit and 32-bit entries into (m). */
struct gmem;
int arch_write_boot_tables(const struct gmem *m);

#endif
