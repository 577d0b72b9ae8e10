/* dtb.c: the arm64 guest's device tree, written with libfdt's sequential-write API. */
#include "dtb.h"

#include <errno.h>
#include <inttypes.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "../../devices/base/log.h"

/*
 * The tree follows the Linux bindings: interrupt-controller/arm,gic-v3.yaml, arm/psci.yaml,
 * timer/arm,arch_timer.yaml, pci/host-generic-pci.yaml, serial/8250.yaml, arm/cpus.yaml. Its shape is
 * that of QEMU's virt machine ("linux,dummy-virt"), which Linux and its earlycon know well.
 */

/* Fixed phandles: the tree is written in one pass, so references must be known before their targets. */
#define PHANDLE_GIC 1
#define PHANDLE_ITS 2

/* The GIC's 3-cell specifier (arm,gic-v3.yaml) and the <dt-bindings/interrupt-controller/irq.h> flags. */
#define GIC_SPI		     0
#define GIC_PPI		     1
#define IRQ_TYPE_EDGE_RISING 1
#define IRQ_TYPE_LEVEL_LOW   8

/* The PCI address space codes of a ranges entry's phys.hi cell (IEEE 1275 PCI binding). */
#define PCI_SPACE_MEM32 0x02000000
#define PCI_SPACE_MEM64 0x03000000

/*
 * The tree being written. libfdt's first failure sticks: each helper does nothing once there is one,
 * so a node is a plain list of properties and dtb_build checks once, at the end.
 */
struct tree {
	void *fdt;
	size_t size;	  /* the room given to libfdt */
	int err;	  /* the first libfdt error (negative FDT_ERR_*), 0 while none */
	char where[40];	  /* "node NAME" being written, or "blob": for the log line */
	const char *what; /* the step or property that failed */
};

static void check(struct tree *t, int ret, const char *what)
{
	if (ret < 0 && t->err == 0) {
		t->err = ret;
		t->what = what;
	}
}

static void begin(struct tree *t, const char *name)
{
	if (t->err)
		return;
	snprintf(t->where, sizeof(t->where), "node %s", name[0] ? name : "/");
	check(t, fdt_begin_node(t->fdt, name), "start");
}

static void end(struct tree *t)
{
	if (!t->err)
		check(t, fdt_end_node(t->fdt), "end");
}

/* A property of (len) bytes at (val); len 0 for a boolean one such as interrupt-controller. */
static void prop(struct tree *t, const char *name, const void *val, size_t len)
{
	if (!t->err)
		check(t, fdt_property(t->fdt, name, val, (int)len), name);
}

static void prop_str(struct tree *t, const char *name, const char *s)
{
	prop(t, name, s, strlen(s) + 1);
}

static void prop_u32(struct tree *t, const char *name, uint32_t v)
{
	if (!t->err)
		check(t, fdt_property_u32(t->fdt, name, v), name);
}

static void prop_u64(struct tree *t, const char *name, uint64_t v)
{
	if (!t->err)
		check(t, fdt_property_u64(t->fdt, name, v), name);
}

/* (n) cells, written big-endian in place. */
static void prop_cells(struct tree *t, const char *name, const uint32_t *cells, size_t n)
{
	void *val;

	if (t->err)
		return;
	check(t, fdt_property_placeholder(t->fdt, name, (int)(n * sizeof(fdt32_t)), &val), name);
	for (size_t i = 0; !t->err && i < n; i++)
		fdt32_st((char *)val + i * sizeof(fdt32_t), cells[i]);
}

/* (v) as two cells, high then low: an address or size in the root's 2 + 2 cells. */
static void put_u64(uint32_t *cells, uint64_t v)
{
	cells[0] = v >> 32;
	cells[1] = (uint32_t)v;
}

/* A reg entry: (base, size). */
static void reg_cells(uint32_t cells[4], uint64_t base, uint64_t size)
{
	put_u64(cells, base);
	put_u64(cells + 2, size);
}

/* A PCI ranges entry (phys.hi, PCI address, CPU address, size) that maps (space) 1:1 at (base). */
#define RANGE_CELLS 7
static void range_cells(uint32_t cells[RANGE_CELLS], uint32_t space, uint64_t base, uint64_t size)
{
	cells[0] = space;
	put_u64(cells + 1, base);
	put_u64(cells + 3, base);
	put_u64(cells + 5, size);
}

static void prop_reg(struct tree *t, uint64_t base, uint64_t size)
{
	uint32_t cells[4];

	reg_cells(cells, base, size);
	prop_cells(t, "reg", cells, 4);
}

static void node_chosen(struct tree *t, const struct dtb_config *c, const char *uart_path)
{
	begin(t, "chosen");
	prop_str(t, "bootargs", c->cmdline ? c->cmdline : "");
	/* The full path, not an alias: earlycon and the console find the UART without /aliases. */
	prop_str(t, "stdout-path", uart_path);
	if (c->initrd_size) {
		/* Linux reads either width; 64 bits cover any RAM address. The end is exclusive. */
		prop_u64(t, "linux,initrd-start", c->initrd_start);
		prop_u64(t, "linux,initrd-end", c->initrd_start + c->initrd_size);
	}
	end(t);
}

/* serial0: Linux numbers the 16550A ttyS0 whatever else probes first. */
static void node_aliases(struct tree *t, const char *uart_path)
{
	begin(t, "aliases");
	prop_str(t, "serial0", uart_path);
	end(t);
}

static void node_memory(struct tree *t, const struct dtb_config *c)
{
	char name[32];

	snprintf(name, sizeof(name), "memory@%" PRIx64, c->ram_base);
	begin(t, name);
	prop_str(t, "device_type", "memory");
	prop_reg(t, c->ram_base, c->ram_size);
	end(t);
}

/*
 * Each vCPU's reg is its MPIDR affinity as KVM assigns it (dtb_cpu_affinity): Linux matches the two
 * to number its CPUs and aims PSCI CPU_ON with it. A vCPU is whatever core the host has, so its
 * compatible is the generic one the binding keeps for models.
 */
static void node_cpus(struct tree *t, uint32_t ncpus)
{
	char name[32];

	begin(t, "cpus");
	prop_u32(t, "#address-cells", 1); /* Aff2.Aff1.Aff0 fit one cell: Aff3 stays 0 below 2^24 vCPUs */
	prop_u32(t, "#size-cells", 0);
	for (uint32_t i = 0; i < ncpus && !t->err; i++) {
		snprintf(name, sizeof(name), "cpu@%" PRIx32, dtb_cpu_affinity(i));
		begin(t, name);
		prop_str(t, "device_type", "cpu");
		prop_str(t, "compatible", "arm,armv8");
		prop_u32(t, "reg", dtb_cpu_affinity(i));
		prop_str(t, "enable-method", "psci");
		end(t);
	}
	end(t);
}

/*
 * KVM's in-kernel PSCI (1.0 and later by default) over HVC: CPU_ON/OFF, and SYSTEM_OFF/RESET, which
 * reach kvmini as KVM_EXIT_SYSTEM_EVENT. PSCI 0.2 and later fix the function IDs, so none are listed.
 */
static void node_psci(struct tree *t)
{
	static const char compatible[] = "arm,psci-1.0\0arm,psci-0.2";

	begin(t, "psci");
	prop(t, "compatible", compatible, sizeof(compatible));
	prop_str(t, "method", "hvc");
	end(t);
}

/*
 * The four PPIs in the binding's order. The flags carry no CPU mask: bits 15:8 are GICv2's (at most 8
 * CPUs); the GICv3 binding has none. always-on: the timer of a vCPU never stops in an idle state, so
 * Linux needs no broadcast timer.
 */
static void node_timer(struct tree *t)
{
	const uint32_t irqs[] = {
		GIC_PPI, ARM64_TIMER_PPI_SECURE, IRQ_TYPE_LEVEL_LOW,
		GIC_PPI, ARM64_TIMER_PPI_PHYS,	 IRQ_TYPE_LEVEL_LOW,
		GIC_PPI, ARM64_TIMER_PPI_VIRT,	 IRQ_TYPE_LEVEL_LOW,
		GIC_PPI, ARM64_TIMER_PPI_HYP,	 IRQ_TYPE_LEVEL_LOW,
	};

	begin(t, "timer");
	prop_str(t, "compatible", "arm,armv8-timer");
	prop_cells(t, "interrupts", irqs, sizeof(irqs) / sizeof(irqs[0]));
	prop(t, "always-on", NULL, 0);
	end(t);
}

/* The ITS is the GIC's child, with the root's 2 + 2 cells carried through an empty ranges. */
static void node_its(struct tree *t)
{
	char name[40];

	snprintf(name, sizeof(name), "msi-controller@%llx", ARM64_GITS_BASE);
	begin(t, name);
	prop_str(t, "compatible", "arm,gic-v3-its");
	prop(t, "msi-controller", NULL, 0);
	prop_u32(t, "#msi-cells", 1); /* the DeviceID: the PCI requester ID, through msi-map */
	prop_reg(t, ARM64_GITS_BASE, ARM64_GITS_SIZE);
	prop_u32(t, "phandle", PHANDLE_ITS);
	end(t);
}

/* reg: the distributor, then one redistributor region of a frame pair per vCPU, contiguous. */
static void node_gic(struct tree *t, uint32_t ncpus)
{
	uint32_t reg[8];
	char name[48];

	reg_cells(reg, ARM64_GICD_BASE, ARM64_GICD_SIZE);
	reg_cells(reg + 4, ARM64_GICR_BASE, ARM64_GICR_CPU_SIZE * ncpus);
	snprintf(name, sizeof(name), "interrupt-controller@%llx", ARM64_GICD_BASE);
	begin(t, name);
	prop_str(t, "compatible", "arm,gic-v3");
	prop_u32(t, "#interrupt-cells", 3);
	prop_u32(t, "#address-cells", 2);
	prop_u32(t, "#size-cells", 2);
	prop(t, "ranges", NULL, 0);
	prop(t, "interrupt-controller", NULL, 0);
	prop_cells(t, "reg", reg, 8);
	prop_u32(t, "phandle", PHANDLE_GIC);
	node_its(t);
	end(t);
}

/*
 * A 16550A rather than a PL011: kvmini's UART model (devices/serial8250.c) is already one, tested on
 * x86; here it sits on MMIO with byte-wide registers (reg-shift 0, reg-io-width 1, the defaults).
 * Linux's of_serial and its "ns16550a" earlycon drive it.
 */
static void node_uart(struct tree *t, const char *name)
{
	const uint32_t irq[] = { GIC_SPI, ARM64_UART_SPI, IRQ_TYPE_EDGE_RISING };

	begin(t, name);
	prop_str(t, "compatible", "ns16550a");
	prop_reg(t, ARM64_UART_BASE, ARM64_UART_SIZE);
	prop_cells(t, "interrupts", irq, 3);
	prop_u32(t, "clock-frequency", ARM64_UART_CLOCK);
	end(t);
}

/*
 * pci-host-ecam-generic on bus 0, as on x86. Its devices signal MSI-X through the ITS: msi-map hands the
 * ITS each requester ID (bus 0: 0x00-0xff) as the DeviceID, which the VMM passes with each MSI. No I/O
 * window: kvmini's devices have no I/O BARs. dma-coherent: guest RAM is ordinary cacheable memory that
 * the devices (kvmini's threads) read coherently.
 */
static void node_pci(struct tree *t, const struct dtb_config *c)
{
	uint32_t ranges[2 * RANGE_CELLS];
	const uint32_t nbuses = (uint32_t)(ARM64_PCI_ECAM_SIZE >> 20); /* 1 MiB of ECAM per bus */
	const uint32_t bus_range[] = { 0, nbuses - 1 };
	const uint32_t msi_map[] = { 0, PHANDLE_ITS, 0, nbuses << 8 };
	char name[32];

	range_cells(ranges, PCI_SPACE_MEM32, ARM64_PCI_MMIO32_BASE, ARM64_PCI_MMIO32_SIZE);
	range_cells(ranges + RANGE_CELLS, PCI_SPACE_MEM64, ARM64_PCI_MMIO64_BASE, ARM64_PCI_MMIO64_SIZE);
	snprintf(name, sizeof(name), "pci@%llx", ARM64_PCI_ECAM_BASE);
	begin(t, name);
	prop_str(t, "compatible", "pci-host-ecam-generic");
	prop_str(t, "device_type", "pci");
	prop_u32(t, "#address-cells", 3);
	prop_u32(t, "#size-cells", 2);
	prop_reg(t, ARM64_PCI_ECAM_BASE, ARM64_PCI_ECAM_SIZE);
	prop_cells(t, "bus-range", bus_range, 2);
	/* The 64-bit window only if the VMM decodes it. */
	prop_cells(t, "ranges", ranges, (c->pci_mmio64 ? 2 : 1) * RANGE_CELLS);
	prop_cells(t, "msi-map", msi_map, 4);
	prop(t, "dma-coherent", NULL, 0);
	end(t);
}

static void root(struct tree *t, const struct dtb_config *c)
{
	static const char compatible[] = "linux,dummy-virt";
	char uart_path[32];

	snprintf(uart_path, sizeof(uart_path), "/serial@%llx", ARM64_UART_BASE);
	begin(t, "");
	prop_str(t, "model", "kvmini");
	prop(t, "compatible", compatible, sizeof(compatible));
	prop_u32(t, "#address-cells", 2);
	prop_u32(t, "#size-cells", 2);
	prop_u32(t, "interrupt-parent", PHANDLE_GIC);
	node_cpus(t, c->ncpus);
	node_psci(t);
	node_timer(t);
	node_gic(t, c->ncpus);
	node_memory(t, c);
	node_uart(t, uart_path + 1);
	node_pci(t, c);
	node_aliases(t, uart_path);
	node_chosen(t, c, uart_path);
	end(t);
}

/* The rules of struct dtb_config, each broken one logged with what to change. 0 or -EINVAL. */
static int config_check(const void *buf, const struct dtb_config *c)
{
	if (!buf || !c) {
		log_err("device tree: no %s given (a bug in kvmini)", buf ? "configuration" : "buffer");
		return -EINVAL;
	}
	if ((uintptr_t)buf % 8) {
		log_err("device tree: buffer %p is not 8-byte aligned, as Linux needs the blob (a bug in kvmini)",
			buf);
		return -EINVAL;
	}
	if (c->ncpus < 1 || c->ncpus > ARM64_MAX_CPUS) {
		log_err("--cpus %" PRIu32 ": an arm64 guest has 1 to %d vCPUs; give a number in that range",
			c->ncpus, ARM64_MAX_CPUS);
		return -EINVAL;
	}
	if (!c->ram_size || c->ram_base < ARM64_RAM_BASE || c->ram_base >= ARM64_RAM_END ||
	    c->ram_size > ARM64_RAM_END - c->ram_base) {
		log_err("--mem: RAM of %#" PRIx64 " bytes at %#" PRIx64 " does not fit the arm64 RAM region "
			"[%#llx, %#llx): give at most %llu MiB",
			c->ram_size, c->ram_base, ARM64_RAM_BASE, ARM64_RAM_END,
			(ARM64_RAM_END - ARM64_RAM_BASE) >> 20);
		return -EINVAL;
	}
	if (c->initrd_size && (c->initrd_start < c->ram_base || c->initrd_start - c->ram_base > c->ram_size ||
			       c->initrd_size > c->ram_size - (c->initrd_start - c->ram_base))) {
		log_err("--initrd: %#" PRIx64 " bytes at %#" PRIx64 " lie outside RAM [%#" PRIx64
			", %#" PRIx64 "): give more --mem or a smaller initrd",
			c->initrd_size, c->initrd_start, c->ram_base, c->ram_base + c->ram_size);
		return -EINVAL;
	}
	if (c->cmdline && strnlen(c->cmdline, DTB_CMDLINE_MAX) >= DTB_CMDLINE_MAX) {
		log_err("--cmdline is %zu bytes: Linux on arm64 keeps only %d; shorten it",
			strlen(c->cmdline), DTB_CMDLINE_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

int dtb_errno(int err)
{
	switch (-err) {
	case FDT_ERR_NOSPACE:
		return -ENOSPC;
	case FDT_ERR_EXISTS:
		return -EEXIST;
	case FDT_ERR_NOTFOUND:
		return -ENOENT;
	case FDT_ERR_NOPHANDLES:
		return -ERANGE;
	case FDT_ERR_BADOFFSET:
	case FDT_ERR_BADPATH:
	case FDT_ERR_BADPHANDLE:
	case FDT_ERR_BADSTATE:
	case FDT_ERR_BADNCELLS:
	case FDT_ERR_BADVALUE:
	case FDT_ERR_BADFLAGS:
	case FDT_ERR_ALIGNMENT:
		return -EINVAL;
	default:
		return err >= 0 ? err : -EIO;
	}
}

static int build_failed(const struct tree *t, uint32_t ncpus)
{
	if (t->err == -FDT_ERR_NOSPACE)
		log_err("device tree: %s, %s: %s: the tree for %" PRIu32 " vCPUs and this command line needs "
			"more than %zu bytes; give it more room (up to %d) or a shorter --cmdline",
			t->where, t->what, fdt_strerror(t->err), ncpus, t->size, DTB_MAX);
	else
		log_err("device tree: %s, %s: %s (a bug in kvmini's device tree: report it)", t->where,
			t->what, fdt_strerror(t->err));
	return dtb_errno(t->err);
}

int dtb_build(void *buf, size_t size, const struct dtb_config *c)
{
	struct tree t = { .fdt = buf, .size = size < DTB_MAX ? size : DTB_MAX, .where = "blob" };
	int ret = config_check(buf, c);

	if (ret)
		return ret;
	check(&t, fdt_create(buf, (int)t.size), "header");
	if (!t.err)
		check(&t, fdt_finish_reservemap(buf), "reserve map");
	root(&t, c);
	if (!t.err) {
		snprintf(t.where, sizeof(t.where), "blob");
		check(&t, fdt_finish(buf), "strings block");
	}
	return t.err ? build_failed(&t, c->ncpus) : 0;
}

size_t dtb_size(const void *blob)
{
	return blob && fdt_check_header(blob) == 0 ? fdt_totalsize(blob) : 0;
}
