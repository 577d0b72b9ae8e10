/* layout.h: the guest-physical and port map that kvmini presents, in one place. */
#ifndef KVMINI_FIRMWARE_LAYOUT_H
#define KVMINI_FIRMWARE_LAYOUT_H

/*
 * Guest-physical memory map (x86-64):
 *
 *   0x00000000 - 0x0009fbff  RAM (real-mode area: GDT, zero page, page tables, command line)
 *   0x0009fc00 - 0x0009ffff  reserved (EBDA, left empty)
 *   0x000a0000 - 0x000dffff  hole (legacy VGA and option ROMs: nothing there)
 *   0x000e0000 - 0x000effff  ACPI tables (RSDP first, at 0xe0000, found by the BIOS-area scan too)
 *   0x000ffff0 - 0x000fffff  the reset vector: a stub that resets the machine through port 0xcf9
 *   0x00100000 - LOW_RAM_END  RAM
 *   PCI_HOLE_START - 4 GiB   MMIO: PCI BARs, IOAPIC, LAPIC, KVM's TSS and identity map
 *     0xc0000000 - 0xdfffffff  PCI memory window: the OS places 32-bit memory BARs here
 *     0xe0000000 - 0xe00fffff  PCI ECAM (MMCONFIG) for bus 0
 *     0xe8000000 - 0xe8002fff  'kvmini bench exits' only: its MMIO targets (guest/exitlat/abi.h)
 *   4 GiB - ...              RAM above the hole, when --mem exceeds PCI_HOLE_START
 */
#define GUEST_GDT_ADDR	     0x00000500ULL
#define GUEST_IDT_ADDR	     0x00000520ULL
#define GUEST_ZERO_PAGE_ADDR 0x00007000ULL
#define GUEST_PML4_ADDR	     0x00009000ULL
#define GUEST_PDPT_ADDR	     0x0000a000ULL
#define GUEST_PD_ADDR	     0x0000b000ULL /* 4 pages: 4 GiB of 2 MiB pages */
#define GUEST_CMDLINE_ADDR   0x00020000ULL
#define GUEST_CMDLINE_MAX    0x00010000ULL /* 64 KiB, up to 0x30000 */
#define GUEST_EBDA_START     0x0009fc00ULL
#define GUEST_LOW_RAM_END    0x000a0000ULL
#define GUEST_ACPI_ADDR	     0x000e0000ULL
#define GUEST_ACPI_MAX	     0x00010000ULL /* 64 KiB, up to 0xf0000 */
#define GUEST_RESET_VECTOR   0x000ffff0ULL /* f000:fff0, where a CPU reset or a real-mode restart jumps */
#define GUEST_HIGH_RAM_START 0x00100000ULL

#define PCI_HOLE_START	      0xc0000000ULL /* RAM above this moves to 4 GiB */
#define PCI_HOLE_END	      0x100000000ULL
#define IOAPIC_ADDR	      0xfec00000ULL
#define LAPIC_ADDR	      0xfee00000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ULL /* one page, Intel VMX real-mode emulation */
#define KVM_TSS_ADDR	      0xfeffd000ULL /* three pages, Intel VMX */

/*
 * PCI: one host bridge, segment 0, bus 0 only. No firmware assigns BARs: the OS places them
 * in the windows below, which the DSDT's \_SB_.PCI0._CRS gives it.
 */
#define PCI_ECAM_BASE	0xe0000000ULL  /* MCFG; 1 MiB aligned, clear of IOAPIC and above */
#define PCI_ECAM_SIZE	0x00100000ULL  /* bus 0 only: 32 devices x 8 functions x 4 KiB */
#define PCI_MMIO_BASE	PCI_HOLE_START /* memory window for BARs, up to the ECAM */
#define PCI_MMIO_SIZE	0x20000000ULL  /* 512 MiB, non-prefetchable */
#define PCI_IOPORT_BASE 0xc000	       /* I/O window for I/O BARs: above every fixed port */
#define PCI_IOPORT_SIZE 0x4000	       /* up to the 64 KiB end of port space */
/*
 * INTx: device (slot) pin (pin) (0 = INTA# .. 3 = INTD#) is wired to IOAPIC pin
 * PCI_INTX_GSI(slot, pin), level-triggered, as the DSDT's _PRT says. KVM's IOAPIC has 24 pins
 * and 16-23 are free (0-15 are the ISA IRQs). The swizzle spreads slots' INTA# over all 8.
 */
#define PCI_INTX_GSI_BASE	16
#define PCI_INTX_GSI_COUNT	8
#define PCI_INTX_GSI(slot, pin) (PCI_INTX_GSI_BASE + ((slot) + (pin)) % PCI_INTX_GSI_COUNT)

/* I/O ports */
#define PORT_COM1	     0x3f8 /* 16550A, IRQ 4 */
#define IRQ_COM1	     4
#define PORT_BOOT_MARKER     0x3f0 /* guest writes BOOT_MARKER_MAGIC: kvmini logs time since start */
#define BOOT_MARKER_MAGIC    123   /* the same port and value as Firecracker's boot timer */
#define PORT_DEBUG_EXIT	     0xf4  /* QEMU isa-debug-exit compatible: exit status (v << 1) | 1 */
#define PORT_PVPANIC	     0x505 /* QEMU pvpanic, ACPI _HID QEMU0001 */
#define PVPANIC_PANICKED     (1u << 0)
#define PVPANIC_CRASH_LOADED (1u << 1)
#define PORT_ACPI_SLEEP_CTL  0x600 /* hardware-reduced ACPI sleep control register, 1 byte */
#define PORT_ACPI_SLEEP_STS  0x601 /* hardware-reduced ACPI sleep status register, 1 byte */
#define ACPI_S5_SLP_TYP	     5	   /* \_S5 package value; SLP_TYP field is bits 2-4 of SLEEP_CTL */
#define ACPI_SLP_EN	     (1u << 5)
#define PORT_PCI_CONFIG	     0xcf8 /* PCI configuration mechanism #1: 0xcf8 address, 0xcfc data */
#define PCI_CONFIG_PORTS_LEN 8	   /* 32-bit accesses; a byte at 0xcf9 is PORT_RESET */
#define PORT_RESET	     0xcf9 /* ACPI RESET_REG, the PC reset control register */
#define RESET_VALUE	     0x06
#define PORT_I8042_CMD	     0x64 /* 0xfe written here is the keyboard controller reset */

#endif
