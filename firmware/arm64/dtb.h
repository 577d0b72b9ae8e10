/* dtb.h: the arm64 guest's device tree (a flattened blob written with libfdt) and its guest-physical map. */

#ifndef KVMINI_FIRMWARE_DTB_H
#define KVMINI_FIRMWARE_DTB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Guest-physical memory map (arm64). Every address is below 2^40: KVM's default IPA size (VM type 0)
 * holds it all. Each device region is 64 KiB aligned, so it stays alone in a page on a 64 KiB-page host.
 *
 *   0x00000000 - 0x07ffffff    nothing: no flash or boot ROM, kvmini loads the kernel itself
 *   0x08000000 - 0x0800ffff    GICv3 distributor (GICD)
 *   0x08080000 - 0x0809ffff    GICv3 ITS: control frame, then the GITS_TRANSLATER frame
 *   0x09000000 - 0x09000fff    UART: a 16550A, byte-wide registers at byte offsets 0-7, SPI 1
 *   0x0a000000 - 0x0dffffff    GICv3 redistributors (GICR): one 128 KiB pair of frames per vCPU, 512 at most
 *   0x10000000 - 0x100fffff    PCI ECAM, bus 0
 *   0x20000000 - 0x3fffffff    PCI 32-bit memory window (non-prefetchable)
 *   0x40000000 - 0x7fffffffff  RAM (up to 511 GiB)
 *   0x8000000000 - 0x8fffffffff  PCI 64-bit memory window, described only when the VMM decodes it
 *
 * The GIC sizes are KVM's own (KVM_VGIC_V3_DIST_SIZE, KVM_VGIC_V3_ITS_SIZE, KVM_VGIC_V3_REDIST_SIZE in
 * arm64's asm/kvm.h, absent from an x86 host's headers), and KVM wants each base 64 KiB aligned.
 */
#define ARM64_GICD_BASE	      0x08000000ULL
#define ARM64_GICD_SIZE	      0x00010000ULL
#define ARM64_GITS_BASE	      0x08080000ULL
#define ARM64_GITS_SIZE	      0x00020000ULL
#define ARM64_UART_BASE	      0x09000000ULL
#define ARM64_UART_SIZE	      0x00001000ULL
#define ARM64_GICR_BASE	      0x0a000000ULL
#define ARM64_GICR_CPU_SIZE   0x00020000ULL /* RD_base and SGI_base frames, 64 KiB each */
#define ARM64_MAX_CPUS	      512	    /* KVM's arm64 KVM_MAX_VCPUS; the GICR region is sized for it */
#define ARM64_GICR_REGION     (ARM64_GICR_CPU_SIZE * ARM64_MAX_CPUS)
#define ARM64_PCI_ECAM_BASE   0x10000000ULL
#define ARM64_PCI_ECAM_SIZE   0x00100000ULL /* bus 0 only, as devices/pci.c decodes: 32 slots x 8 fns x 4 KiB */
#define ARM64_PCI_MMIO32_BASE 0x20000000ULL
#define ARM64_PCI_MMIO32_SIZE 0x20000000ULL /* 512 MiB */
#define ARM64_RAM_BASE	      0x40000000ULL /* QEMU virt's and kvmtool's RAM base too */
#define ARM64_RAM_END	      0x8000000000ULL
#define ARM64_PCI_MMIO64_BASE ARM64_RAM_END
#define ARM64_PCI_MMIO64_SIZE 0x1000000000ULL /* 64 GiB */

/*
 * Interrupts. The device tree names an SPI by its number n (INTID 32 + n), a PPI by n (INTID 16 + n).
 * KVM's default routing takes irqfd GSI n to SPI n; KVM_IRQ_LINE takes the INTID itself.
 *
 * The UART's SPI is edge-triggered: the 16550A model (devices/serial8250.c) raises it by writing an
 * irqfd, a pulse, which a level-sensitive vGIC interrupt would drop once the line falls.
 * The timer PPIs are KVM's defaults (vtimer INTID 27, ptimer INTID 30), level-sensitive, active low, as
 * on real arm64 machines. PCI devices signal MSI through the ITS only: kvmini's devices raise no INTx,
 * so the tree has no interrupt-map.
 */
#define ARM64_UART_SPI	       1
#define ARM64_TIMER_PPI_SECURE 13      /* secure EL1 physical timer */
#define ARM64_TIMER_PPI_PHYS   14      /* non-secure EL1 physical timer */
#define ARM64_TIMER_PPI_VIRT   11      /* EL1 virtual timer: what a Linux guest uses */
#define ARM64_TIMER_PPI_HYP    10      /* EL2 physical timer */
#define ARM64_UART_CLOCK       1843200 /* the PC UART's 1.8432 MHz: divisor 1 is 115200 baud */

/* Linux on arm64: a DTB of at most 2 MiB (booting.rst), a command line of at most 2047 bytes and its NUL. */
#define DTB_MAX		0x200000
#define DTB_CMDLINE_MAX 2048

/*
 * dtb_cpu_affinity: the MPIDR_EL1 affinity (Aff2.Aff1.Aff0, bits 23:0) that KVM gives vCPU (vcpu) when
 * kvmini leaves MPIDR alone: 16 vCPUs per Aff0 (a GICv3 SGI target list names 16), the rest in Aff1
 * and Aff2. This is the vCPU's cpu@ reg in the tree and the target_cpu of PSCI CPU_ON.
 */
static inline uint32_t dtb_cpu_affinity(uint32_t vcpu)
{
	return ((vcpu >> 12) & 0xff) << 16 | ((vcpu >> 4) & 0xff) << 8 | (vcpu & 0xf);
}

/* The machine that a device tree describes. */
struct dtb_config {
	uint64_t ram_base;     /* ARM64_RAM_BASE or above; RAM must end by ARM64_RAM_END */
	uint64_t ram_size;     /* bytes, not 0 */
	uint32_t ncpus;	       /* vCPUs 0..ncpus-1, 1 to ARM64_MAX_CPUS */
	const char *cmdline;   /* /chosen/bootargs; NULL for none; under DTB_CMDLINE_MAX bytes */
	uint64_t initrd_start; /* guest-physical, inside RAM */
	uint64_t initrd_size;  /* bytes; 0 for no initrd (no linux,initrd-* properties) */
	bool pci_mmio64;       /* also describe the PCI 64-bit window: only if the VMM decodes it */
};

/*
 * dtb_build: write the device tree for (c) into (buf, size): memory, cpus with PSCI, the architected
 * timer, the GICv3 with its ITS, the UART and the PCI host bridge of the map above, and /chosen. The
 * blob starts at buf[0], packed (its totalsize is what it uses, dtb_size), at most DTB_MAX
 * bytes whatever (size). (buf) must be 8-byte aligned, as the guest needs the blob.
 * Returns 0; -ENOSPC if the tree does not fit in (size) bytes (or DTB_MAX); -EINVAL if (c) or (buf)
 * is NULL, (buf) is misaligned, or (c) breaks a rule of struct dtb_config; another -errno from
 * dtb_errno() for any other libfdt failure. Each failure is logged once, naming the libfdt error.
 */
int dtb_build(void *buf, size_t size, const struct dtb_config *c);

/* dtb_size: the size in bytes of the device tree at (blob), or 0 if its header is not valid. */
size_t dtb_size(const void *blob);

/*
 * dtb_errno: the -errno for libfdt's error (err), a negative FDT_ERR_* code: -ENOSPC for NOSPACE, -EEXIST
 * for EXISTS, -ENOENT for NOTFOUND, -ERANGE for NOPHANDLES, -EINVAL for a bad argument (BADOFFSET, BADPATH,
 * BADPHANDLE, BADSTATE, BADNCELLS, BADVALUE, BADFLAGS, ALIGNMENT), -EIO for a blob that is not a valid tree
 * (TRUNCATED, BADMAGIC, BADVERSION, BADSTRUCTURE, BADLAYOUT, BADOVERLAY, INTERNAL, and any code libfdt
 * adds later). 0 or above is returned as it is.
 */
int dtb_errno(int err);

#endif
