/* pci.h: a PCI bus 0 with a host bridge, type-0 config space, BARs, capabilities, CAM and ECAM access. */
#ifndef KVMINI_PCI_H
#define KVMINI_PCI_H

#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev.h"

#define PCI_CFG_SIZE	  256 /* type-0 header and capabilities; no extended space */
#define PCI_NR_BARS	  6
#define PCI_MAX_SLOTS	  32		 /* slot 0 is the host bridge */
#define PCI_ECAM_MAX_SIZE (256ULL << 20) /* 256 buses x 32 devices x 8 functions x 4 KiB */
#define PCI_BAR_UNMAPPED  UINT64_MAX	 /* bar_moved's address when a BAR stops decoding */

/*
 * Configuration mechanism #1. CONFIG_ADDRESS is a dword at 0xcf8 only: a byte at 0xcf9 is the reset
 * control register (devices/platform.c), so the two registers are two devices and 0xcfa-0xcfb stay free.
 */
#define PCI_PORT_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_ADDRESS_LEN	1 /* map length; a dword access starting there reaches the device */
#define PCI_PORT_CONFIG_DATA	0xcfc
#define PCI_CONFIG_DATA_LEN	4

/* The host bridge at 00:00.0: QEMU's generic PCIe host bridge (see pci.c for why). */
#define PCI_HOST_VENDOR 0x1b36
#define PCI_HOST_DEVICE 0x0008

/* BAR kinds for pci_set_bar(): the type bits of the BAR register itself. */
#define PCI_BAR_MEM32	 0x0
#define PCI_BAR_IO	 PCI_BASE_ADDRESS_SPACE_IO
#define PCI_BAR_MEM64	 PCI_BASE_ADDRESS_MEM_TYPE_64
#define PCI_BAR_PREFETCH PCI_BASE_ADDRESS_MEM_PREFETCH /* with a memory kind */

#define PCI_BAR_IO_MIN	16
#define PCI_BAR_IO_MAX	256  /* PCI 3.0, 6.2.5.1 */
#define PCI_BAR_MEM_MIN 4096 /* a page, so a BAR can be trapped or mapped alone */

struct pci_dev;

/*
 * What the bus tells a device; every hook is optional. Config-space hooks (cfg_read, cfg_write, bar_moved) run on
 * the writing vCPU with the bus lock held: they may use pci_cfg_get/set on their own device, never the
 * config ports or ECAM. BAR accesses (bar_read, bar_write) run without the bus lock.
 */
struct pci_dev_ops {
	/* cfg_read: the guest is about to read (len) bytes at (off): (d) may refresh them with pci_cfg_set. */
	void (*cfg_read)(struct pci_dev *d, uint32_t off, uint32_t len);
	/* cfg_write: the guest wrote (len) bytes at (off) of (d)'s config space; the masked value is in place. */
	void (*cfg_write)(struct pci_dev *d, uint32_t off, uint32_t len);
	/*
	 * bar_moved: where BAR (bar) of (d) decodes changed to (addr), or to PCI_BAR_UNMAPPED when it stopped.
	 * A BAR decodes when the command register enables its kind (memory or I/O) and it holds an address:
	 * not 0, and not one whose last byte is the top of its space (the pattern that sizing leaves).
	 * So this is called when a BAR is written while decode is on, and when decode is switched on or off;
	 * never while sizing with decode off, as Linux does. pci_bus_add() starts with decode off.
	 */
	void (*bar_moved)(struct pci_dev *d, unsigned int bar, uint64_t addr);
	/* bar_read/bar_write: an access of (len) at (off) into BAR (bar), from the bus's BAR windows. */
	void (*bar_read)(struct pci_dev *d, unsigned int bar, uint64_t off, void *data, uint32_t len);
	void (*bar_write)(struct pci_dev *d, unsigned int bar, uint64_t off, const void *data, uint32_t len);
};

/* The identity a device presents in its header. */
struct pci_ids {
	uint16_t vendor, device;
	uint32_t class_code; /* base class, sub-class, programming interface: 0x060000 */
	uint8_t revision;
	uint16_t subsys_vendor, subsys;
};

struct pci_bar {
	uint64_t size;	  /* 0: not implemented (or the upper half of a 64-bit BAR) */
	uint8_t flags;	  /* PCI_BAR_* */
	uint64_t decoded; /* where it decodes now, or PCI_BAR_UNMAPPED; under the bus lock */
};

/* A function 0 on bus 0. Embed it; container_of() gets back to the device. */
struct pci_dev {
	const struct pci_dev_ops *ops;
	/* Config space and BAR state: under the bus lock once the device is on a bus. */
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];   /* bits the guest may change */
	uint8_t w1cmask[PCI_CFG_SIZE]; /* bits the guest clears by writing 1 (status errors) */
	struct pci_bar bar[PCI_NR_BARS];
	uint16_t cap_next; /* where the next capability goes (dword aligned, up to 256) */
	uint8_t cap_last;  /* the last capability's offset; 0: none yet */
	int slot;	   /* -1 until pci_bus_add() */
};

/* An address window [start, end) that BARs are allocated from. */
struct pci_window {
	uint64_t start, end;
};

/*
 * Bus 0. The VM maps the devices below:
 *   config_address_dev at PCI_PORT_CONFIG_ADDRESS, PCI_CONFIG_ADDRESS_LEN, and config_data_dev at
 *   PCI_PORT_CONFIG_DATA, PCI_CONFIG_DATA_LEN, on the port bus;
 *   ecam at the base MCFG gives (1 MiB aligned), 1 MiB per bus MCFG covers from bus 0, up to
 *   PCI_ECAM_MAX_SIZE, on the MMIO bus (clear of mmio_window); buses other than 0 read all-ones;
 *   mmio_window over the memory window and io_window over the I/O window: they route each access to
 *   the BAR that decodes it (bar_read/bar_write), so BARs move without changing the fixed buses.
 */
struct pci_bus {
	pthread_mutex_t lock; /* config accesses come from any vCPU; guards the fields up to the cursors */
	uint32_t config_address;
	struct pci_dev *slot[PCI_MAX_SLOTS];
	unsigned int nr_slots;
	uint64_t mmio_next, io_next; /* allocation cursors */
	struct pci_window mmio, io;  /* fixed at init */
	struct pci_dev host_bridge;
	struct dev config_address_dev, config_data_dev, ecam, mmio_window, io_window;
};

/*
 * pci_dev_init: an empty type-0 header for (d) with (ops) (may be NULL) and identity (ids): no BARs,
 * no capabilities, command register 0 (decode off), interrupt pin none.
 */
void pci_dev_init(struct pci_dev *d, const struct pci_dev_ops *ops, const struct pci_ids *ids);
/*
 * pci_set_bar: give (d) BAR (bar) of (size) bytes and kind (flags: PCI_BAR_IO, or PCI_BAR_MEM32 or
 * PCI_BAR_MEM64, optionally | PCI_BAR_PREFETCH), before pci_bus_add(). A 64-bit BAR takes (bar) and
 * (bar + 1). Returns 0, or -EINVAL for a bad index, kind or size (power of two, I/O 16 to 256 bytes,
 * memory at least 4 KiB and at most 2 GiB for 32-bit) or a slot already taken.
 */
int pci_set_bar(struct pci_dev *d, unsigned int bar, uint64_t size, uint8_t flags);
/*
 * pci_add_cap: append (len) bytes of (cap) (ID in byte 0) to (d)'s capability list, dword aligned,
 * linking the next pointers and setting the status register's capability bit. All of it reads only
 * until pci_set_wmask(). Returns the capability's offset, -EINVAL for len < 2, -ENOSPC when full.
 */
int pci_add_cap(struct pci_dev *d, const void *cap, uint8_t len);
/* pci_set_wmask: the guest may write the bits of (mask) in the (len) <= 4 bytes at (off) of (d). */
void pci_set_wmask(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t mask);
/* pci_cfg_get: (len) <= 4 bytes at (off) of (d)'s config space, little-endian; 0 beyond it. */
uint32_t pci_cfg_get(const struct pci_dev *d, uint32_t off, uint32_t len);
/* pci_cfg_set: store (v) in (len) <= 4 bytes at (off), ignoring the write mask and calling no hook. */
void pci_cfg_set(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t v);
/* pci_bar_addr: where BAR (bar) of (d) decodes now, or PCI_BAR_UNMAPPED. Bus lock held (or before vCPUs). */
uint64_t pci_bar_addr(const struct pci_dev *d, unsigned int bar);

/*
 * pci_bus_init: bus 0 of (b) with the host bridge at slot 0; BARs come from (mmio) and (io).
 * Returns 0, -EINVAL for an empty or inverted window, or -errno from pthread_mutex_init.
 */
int pci_bus_init(struct pci_bus *b, const struct pci_window *mmio, const struct pci_window *io);
/* pci_bus_free: release (b)'s lock (not the devices). */
void pci_bus_free(struct pci_bus *b);
/*
 * pci_bus_add: put (d) in the next free slot and place its BARs, each naturally aligned (largest
 * first), writing the BAR registers. Returns the slot (1-31), -ENOSPC when out of slots or window
 * (nothing is changed then), or -EINVAL when (d) is already on a bus.
 */
int pci_bus_add(struct pci_bus *b, struct pci_dev *d);

#endif
