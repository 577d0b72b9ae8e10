/* abi.h: what the exit-latency guests and kvmini agree on: ports, addresses, rows, the result record. */
#ifndef KVMINI_EXITLAT_ABI_H
#define KVMINI_EXITLAT_ABI_H

#include <stdint.h>

/*
 * Exits the guest times. kvmini ("kvmini bench exits") maps each target; under QEMU the same image
 * finds unassigned ports and MMIO there, which QEMU serves in userspace too. The ports sit above
 * QEMU's fw_cfg (0x510-0x51b) and below q35's ACPI PM block (0x600), where a PC has nothing; the
 * MMIO pages sit between kvmini's PCI ECAM and the IOAPIC, clear of the PCI window BARs go in.
 */
#define EXITLAT_PORT_KERNEL    0x4d0	   /* in-kernel PIC's ELCR: KVM answers without leaving the kernel */
#define EXITLAT_PORT_USER      0x540	   /* 4 bytes, kvmini in userspace: in reads 0, out is dropped */
#define EXITLAT_PORT_IOEVENTFD 0x544	   /* 4 bytes, write: an ioeventfd, KVM signals it and resumes */
#define EXITLAT_PORT_RESULT    0x548	   /* 4-byte write: the GPA of a struct exitlat_result */
#define EXITLAT_MMIO_USER      0xe8000000u /* 4 KiB, kvmini in userspace: reads 0, writes dropped */
#define EXITLAT_MMIO_IOEVENTFD 0xe8001000u /* 4-byte write: an ioeventfd of length 4 */
#define EXITLAT_MMIO_WILDCARD  0xe8002000u /* write of any size: a length-0 (wildcard) ioeventfd */
#define EXITLAT_MSR	       0x000001a0u /* IA32_MISC_ENABLE: intercepted, handled inside KVM */

/*
 * arm64 (guest/exitlat/arm64/): no ports; the targets and the result register are MMIO pages in the
 * hole of kvmini's arm64 map (firmware/arm64/dtb.h) between the GIC redistributors' region (up to
 * 0x0e000000) and PCI ECAM (0x10000000), each 64 KiB aligned as every region there is.
 */
#define EXITLAT_ARM64_MMIO_USER	     0x0e000000u /* 4 KiB, kvmini in userspace: reads 0, writes dropped */
#define EXITLAT_ARM64_MMIO_IOEVENTFD 0x0e010000u /* 4-byte write: an ioeventfd of length 4 */
#define EXITLAT_ARM64_MMIO_WILDCARD  0x0e020000u /* write of any size: a length-0 (wildcard) ioeventfd */
#define EXITLAT_ARM64_MMIO_RESULT    0x0e030000u /* 4-byte write: the GPA of a struct exitlat_result */
/* An SMCCC fast call (vendor hypervisor service 0xff00) KVM does not implement: NOT_SUPPORTED, in KVM. */
#define EXITLAT_ARM64_HVC_UNKNOWN 0x8600ff00u

enum exitlat_row {
	EXITLAT_ROW_LOOP, /* the timing loop with no exit: its cost is in every other row */
	EXITLAT_ROW_CPUID,
	EXITLAT_ROW_VMCALL, /* vmcall (Intel) or vmmcall (AMD) with an unknown number: -KVM_ENOSYS */
	EXITLAT_ROW_RDMSR,
	EXITLAT_ROW_WRMSR,
	EXITLAT_ROW_PIO_KERNEL,	   /* inb EXITLAT_PORT_KERNEL */
	EXITLAT_ROW_PIO_USER_IN,   /* inl EXITLAT_PORT_USER */
	EXITLAT_ROW_PIO_USER_OUT,  /* outl EXITLAT_PORT_USER */
	EXITLAT_ROW_PIO_IOEVENTFD, /* outl EXITLAT_PORT_IOEVENTFD */
	EXITLAT_ROW_MMIO_USER_READ,
	EXITLAT_ROW_MMIO_USER_WRITE,
	EXITLAT_ROW_MMIO_IOEVENTFD,
	EXITLAT_ROW_MMIO_WILDCARD,
	EXITLAT_ROW_HLT_TIMER, /* hlt, woken by a LAPIC timer interrupt armed just before */
	EXITLAT_ROW_IPI,       /* IPI to another vCPU and its IPI back: a round trip (arm64: SGIs) */
	/* arm64's own */
	EXITLAT_ROW_HVC,       /* hvc #0 with EXITLAT_ARM64_HVC_UNKNOWN: answered inside KVM */
	EXITLAT_ROW_WFI_TIMER, /* wfi woken by the virtual timer (PPI 27): from its deadline to the handler */
	EXITLAT_NR_ROWS,
};

/*
 * The rows each architecture's guest runs, in the order it runs them and kvmini reports them; a row
 * not in an architecture's list is never sent there. x86's are every row before arm64's own.
 */
#define EXITLAT_ROWS_X86                                                                                    \
	{                                                                                                   \
		EXITLAT_ROW_LOOP, EXITLAT_ROW_CPUID, EXITLAT_ROW_VMCALL, EXITLAT_ROW_RDMSR,                 \
			EXITLAT_ROW_WRMSR, EXITLAT_ROW_PIO_KERNEL, EXITLAT_ROW_PIO_USER_IN,                 \
			EXITLAT_ROW_PIO_USER_OUT, EXITLAT_ROW_PIO_IOEVENTFD, EXITLAT_ROW_MMIO_USER_READ,    \
			EXITLAT_ROW_MMIO_USER_WRITE, EXITLAT_ROW_MMIO_IOEVENTFD, EXITLAT_ROW_MMIO_WILDCARD, \
			EXITLAT_ROW_HLT_TIMER, EXITLAT_ROW_IPI                                              \
	}
#define EXITLAT_ROWS_ARM64                                                                                  \
	{                                                                                                   \
		EXITLAT_ROW_LOOP, EXITLAT_ROW_HVC, EXITLAT_ROW_MMIO_USER_READ, EXITLAT_ROW_MMIO_USER_WRITE, \
			EXITLAT_ROW_MMIO_IOEVENTFD, EXITLAT_ROW_MMIO_WILDCARD, EXITLAT_ROW_WFI_TIMER,       \
			EXITLAT_ROW_IPI                                                                     \
	}

enum exitlat_status {
	EXITLAT_OK = 0,
	EXITLAT_TIMEOUT = 1,	 /* the row could not complete within its bound */
	EXITLAT_UNSUPPORTED = 2, /* e.g. the IPI row with one vCPU */
};

/* exitlat_row_name: the row's name in tables, JSON and the guest's console lines; NULL if out of range. */
static inline const char *exitlat_row_name(uint32_t row)
{
	static const char *const names[EXITLAT_NR_ROWS] = {
		"loop",
		"cpuid",
		"vmcall",
		"rdmsr",
		"wrmsr",
		"pio_kernel",
		"pio_user_in",
		"pio_user_out",
		"pio_ioeventfd",
		"mmio_user_read",
		"mmio_user_write",
		"mmio_ioeventfd",
		"mmio_wildcard",
		"hlt_timer",
		"ipi",
		"hvc",
		"wfi_timer",
	};

	return row < EXITLAT_NR_ROWS ? names[row] : (const char *)0;
}

#define EXITLAT_MAGIC	 0x544c5845u /* "EXLT" */
#define EXITLAT_ROW_DONE 0xffffffffu /* the last record: every row has been sent */

/*
 * One row's result, in guest memory below 4 GiB; the guest writes its address to
 * EXITLAT_PORT_RESULT (arm64: EXITLAT_ARM64_MMIO_RESULT), 4 bytes. samples_gpa holds (count)
 * uint64_t deltas of the guest's clock (x86: the TSC; arm64: the virtual counter, CNTVCT_EL0), one
 * per iteration, each already net of nothing (the loop row is reported separately). kvmini checks every field and
 * reads the samples only through its bounds-checked accessor.
 */
struct exitlat_result {
	uint32_t magic;
	uint32_t row;
	uint32_t status;
	uint32_t count;
	uint64_t samples_gpa;
};

#endif
