/* acpi.c: hardware-reduced ACPI tables (RSDP, XSDT, FADT, MADT, DSDT, MCFG) for the guest. */
#include "acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "layout.h"

/* Table identity: OEM ID is 6 bytes, OEM table ID 8, creator ID 4, all space padded. */
#define OEM_ID		 "KVMINI"
#define OEM_TABLE_ID	 "KVMINI  "
#define OEM_REVISION	 1
#define CREATOR_ID	 "KVMI"
#define CREATOR_REVISION 1
#define HYPERVISOR_ID	 "KVMINI  "

/* Revisions follow ACPI 6.5 throughout. */
#define RSDP_REVISION	    2 /* ACPI 2.0+ RSDP: has the XSDT address */
#define XSDT_REVISION	    1
#define FADT_REVISION	    6
#define FADT_MINOR_REVISION 5
#define MADT_REVISION	    6
#define DSDT_REVISION	    2 /* 2 or more: AML integers are 64 bits wide */
#define MCFG_REVISION	    1 /* PCI Firmware Specification 3.3, section 4.1.2 */

#define RSDP_LEN	    36
#define RSDP_CHECKSUM_LEN   20 /* the ACPI 1.0 part that the first checksum covers */
#define HEADER_LEN	    36
#define HEADER_LENGTH_OFF   4
#define HEADER_CHECKSUM_OFF 9
#define TABLE_ALIGN	    16
#define XSDT_MAX_ENTRIES    8 /* FADT, MADT and MCFG now; room for others */

/* FADT (ACPI 6.5 table 5.9): byte offsets of the fields we set; the rest is 0. */
#define FADT_LEN	       276
#define FADT_DSDT	       40
#define FADT_IAPC_BOOT_ARCH    109
#define FADT_FLAGS	       112
#define FADT_RESET_REG	       116
#define FADT_RESET_VALUE       128
#define FADT_MINOR_VERSION     131
#define FADT_X_DSDT	       140
#define FADT_SLEEP_CONTROL_REG 244
#define FADT_SLEEP_STATUS_REG  256
#define FADT_HYPERVISOR_ID     268

#define FADT_F_RESET_REG_SUP   (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)
/* 8042 (bit 1) and LEGACY_DEVICES (bit 0) stay clear: kvmini has neither. */
#define IAPC_VGA_NOT_PRESENT	  (1u << 2)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

#define GAS_LEN		12
#define GAS_SYSTEM_IO	1
#define GAS_ACCESS_BYTE 1

#define MADT_PCAT_COMPAT   (1u << 0)
#define MADT_TYPE_LAPIC	   0
#define MADT_TYPE_IOAPIC   1
#define MADT_LAPIC_LEN	   8
#define MADT_IOAPIC_LEN	   12
#define MADT_LAPIC_ENABLED (1u << 0)
/* KVM's in-kernel IOAPIC resets its ID register to 0, and the MADT must match it. */
#define MADT_IOAPIC_ID	0
#define KVM_IOAPIC_PINS 24

/* MCFG: 8 reserved bytes after the header, then one 16-byte allocation per ECAM range. */
#define MCFG_RESERVED_LEN    8
#define ECAM_BUS_SIZE	     0x100000ULL /* 32 devices x 8 functions x 4 KiB */
#define PCI_LAST_BUS	     (PCI_ECAM_SIZE / ECAM_BUS_SIZE - 1)
#define PCI_SLOTS	     32
#define PCI_INTX_PINS	     4	    /* INTA# to INTD# */
#define PRT_ADR_ANY_FUNCTION 0xffff /* _PRT Address: (slot << 16) | 0xffff */

/* The windows must fit the descriptors that carry them and stay clear of each other. */
_Static_assert(PCI_ECAM_BASE % ECAM_BUS_SIZE == 0 && PCI_ECAM_SIZE % ECAM_BUS_SIZE == 0 &&
		       PCI_ECAM_SIZE / ECAM_BUS_SIZE >= 1 && PCI_ECAM_SIZE / ECAM_BUS_SIZE <= 256,
	       "the ECAM covers whole buses and starts on a bus boundary");
_Static_assert(PCI_MMIO_BASE >= PCI_HOLE_START && PCI_MMIO_SIZE > 0 &&
		       PCI_MMIO_BASE + PCI_MMIO_SIZE <= PCI_ECAM_BASE,
	       "the memory window lies in the PCI hole, below the ECAM");
_Static_assert(PCI_ECAM_BASE + PCI_ECAM_SIZE <= IOAPIC_ADDR,
	       "the ECAM ends below the IOAPIC, LAPIC and KVM's pages");
_Static_assert(PCI_IOPORT_SIZE > 0 && PCI_IOPORT_BASE + PCI_IOPORT_SIZE <= 0x10000 &&
		       PCI_IOPORT_BASE >= PORT_PCI_CONFIG + PCI_CONFIG_PORTS_LEN,
	       "the I/O window fits a WordIO above the fixed ports");
_Static_assert(PCI_INTX_GSI_BASE >= 16 && PCI_INTX_GSI_BASE + PCI_INTX_GSI_COUNT <= KVM_IOAPIC_PINS,
	       "INTx GSIs are IOAPIC pins above the ISA IRQs");

/* AML opcodes (ACPI 6.5 section 20). */
#define AML_ZERO_OP	  0x00
#define AML_ONE_OP	  0x01
#define AML_NAME_OP	  0x08
#define AML_BYTE_PREFIX	  0x0a
#define AML_WORD_PREFIX	  0x0b
#define AML_DWORD_PREFIX  0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX  0x0e
#define AML_SCOPE_OP	  0x10
#define AML_BUFFER_OP	  0x11
#define AML_PACKAGE_OP	  0x12
#define AML_ROOT_CHAR	  0x5c
#define AML_EXT_OP_PREFIX 0x5b
#define AML_EXT_DEVICE_OP 0x82
#define AML_PKGLEN_MAX	  ((1u << 28) - 1)

/* Small resource data items (ACPI 6.5 section 6.4.2). */
#define RES_IO		0x47 /* type 0x08, 7 bytes follow */
#define RES_IO_DECODE16 0x01
#define RES_IRQ_NOFLAGS 0x22 /* type 0x04, 2 bytes follow */
#define RES_END_TAG	0x79 /* type 0x0f, 1 byte (checksum) follows */
/* Large resource data items (ACPI 6.5 section 6.4.3): tag, 16-bit length, body. */
#define RES_MEM32_FIXED	    0x86 /* Memory32Fixed: 9 bytes follow */
#define RES_MEM32_FIXED_LEN 9
#define RES_DWORD_SPACE	    0x87 /* DWord address space: 23 bytes follow */
#define RES_WORD_SPACE	    0x88 /* Word address space: 13 bytes follow */
#define RES_SPACE_MEMORY    0
#define RES_SPACE_IO	    1
#define RES_SPACE_BUS	    2
/* General flags: producer (bit 0 clear), positive decode (bit 1 clear), _MIF and _MAF set. */
#define RES_SPACE_WINDOW    0x0c
#define RES_MEM_READ_WRITE  0x01 /* and bits 2-1 clear: non-cacheable, so not prefetchable */
#define RES_IO_ENTIRE_RANGE 0x03 /* ISA and non-ISA ranges both */
#define RES_TEMPLATE_MAX    96	 /* \_SB_.PCI0's is the largest, 68 bytes */

#define COM1_IO_LEN		     8
#define STA_PRESENT_ENABLED_SHOWN_OK 0x0f

/*
 * A bounded output cursor. Writes past the end are dropped and remembered, so the
 * builders stay straight-line code and acpi_build() checks once for -ENOSPC.
 */
struct blob {
	uint8_t *buf;
	size_t len;
	size_t pos;
	bool overflow;
};

static bool room(struct blob *b, size_t off, size_t n)
{
	if (off > b->len || n > b->len - off) {
		b->overflow = true;
		return false;
	}
	return true;
}

static void put_bytes(struct blob *b, const void *p, size_t n)
{
	if (room(b, b->pos, n))
		memcpy(b->buf + b->pos, p, n);
	b->pos += n;
}

static void put_zero(struct blob *b, size_t n)
{
	if (room(b, b->pos, n))
		memset(b->buf + b->pos, 0, n);
	b->pos += n;
}

/* Little-endian store of the low (n) bytes of (v) at (off), whatever the host order. */
static void poke_le(struct blob *b, size_t off, uint64_t v, size_t n)
{
	if (!room(b, off, n))
		return;
	for (size_t i = 0; i < n; i++)
		b->buf[off + i] = (uint8_t)(v >> (8 * i));
}

static void put_le(struct blob *b, uint64_t v, size_t n)
{
	poke_le(b, b->pos, v, n);
	b->pos += n;
}

static void put8(struct blob *b, uint8_t v)
{
	put_le(b, v, 1);
}

static void align(struct blob *b, size_t a)
{
	put_zero(b, (a - b->pos % a) % a);
}

/* The byte that makes (p, n) sum to zero modulo 256. */
static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

/* Writes a system description table header; returns the table's offset for table_end(). */
static size_t table_begin(struct blob *b, const char sig[4], uint8_t rev)
{
	size_t start;

	align(b, TABLE_ALIGN);
	start = b->pos;
	put_bytes(b, sig, 4);
	put_le(b, 0, 4); /* length, set by table_end() */
	put8(b, rev);
	put8(b, 0); /* checksum, set by table_end() */
	put_bytes(b, OEM_ID, 6);
	put_bytes(b, OEM_TABLE_ID, 8);
	put_le(b, OEM_REVISION, 4);
	put_bytes(b, CREATOR_ID, 4);
	put_le(b, CREATOR_REVISION, 4);
	return start;
}

/* Fills in the length and checksum of the table that starts at (start). */
static void table_end(struct blob *b, size_t start)
{
	size_t n = b->pos - start;

	if (b->overflow)
		return;
	poke_le(b, start + HEADER_LENGTH_OFF, n, 4);
	b->buf[start + HEADER_CHECKSUM_OFF] = checksum(b->buf + start, n);
}

/*
 * AML PkgLength: the encoded length counts its own 1-4 bytes. aml_pkg_begin() marks
 * where the body starts; aml_pkg_end() moves the finished body up to make room for
 * the length, since its size is only known then.
 */
static size_t aml_pkg_begin(struct blob *b)
{
	return b->pos;
}

static size_t pkglen_bytes(size_t body)
{
	if (body + 1 <= 0x3f)
		return 1;
	if (body + 2 < (1u << 12))
		return 2;
	if (body + 3 < (1u << 20))
		return 3;
	return 4;
}

static void aml_pkg_end(struct blob *b, size_t start)
{
	size_t body = b->pos - start;
	size_t n = pkglen_bytes(body);
	size_t total = body + n;

	if (total > AML_PKGLEN_MAX)
		b->overflow = true;
	if (b->overflow || !room(b, start, total))
		return;
	memmove(b->buf + start + n, b->buf + start, body);
	b->pos += n;
	if (n == 1) {
		b->buf[start] = (uint8_t)total;
		return;
	}
	/* Lead byte: count of following bytes in bits 7-6, length bits 3-0. */
	b->buf[start] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
	for (size_t i = 1; i < n; i++)
		b->buf[start + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
}

/* Integers take the shortest encoding, as iasl emits them. */
static void aml_integer(struct blob *b, uint64_t v)
{
	if (v == 0) {
		put8(b, AML_ZERO_OP);
	} else if (v == 1) {
		put8(b, AML_ONE_OP);
	} else if (v <= UINT8_MAX) {
		put8(b, AML_BYTE_PREFIX);
		put_le(b, v, 1);
	} else if (v <= UINT16_MAX) {
		put8(b, AML_WORD_PREFIX);
		put_le(b, v, 2);
	} else if (v <= UINT32_MAX) {
		put8(b, AML_DWORD_PREFIX);
		put_le(b, v, 4);
	} else {
		put8(b, AML_QWORD_PREFIX);
		put_le(b, v, 8);
	}
}

static void aml_string(struct blob *b, const char *s)
{
	put8(b, AML_STRING_PREFIX);
	put_bytes(b, s, strlen(s) + 1);
}

static unsigned int hex_digit(char c)
{
	return (unsigned int)(c <= '9' ? c - '0' : c - 'A' + 10);
}

/*
 * EISAID("PNPxxxx"): three upper-case letters of 5 bits each ('A' is 1) and four hex
 * digits, stored most significant byte first; as a DWord that reads byte-swapped.
 * Only called with constant, well-formed IDs.
 */
static void aml_eisaid(struct blob *b, const char id[7])
{
	uint32_t vendor =
		(uint32_t)(id[0] - '@') << 10 | (uint32_t)(id[1] - '@') << 5 | (uint32_t)(id[2] - '@');
	uint32_t product = 0;

	for (int i = 3; i < 7; i++)
		product = product << 4 | hex_digit(id[i]);
	put8(b, AML_DWORD_PREFIX);
	put8(b, (uint8_t)(vendor >> 8));
	put8(b, (uint8_t)vendor);
	put8(b, (uint8_t)(product >> 8));
	put8(b, (uint8_t)product);
}

/* Name(seg, ...): the caller emits the object next. (seg) is a 4-character NameSeg. */
static void aml_name(struct blob *b, const char seg[4])
{
	put8(b, AML_NAME_OP);
	put_bytes(b, seg, 4);
}

/* Package(n){...}: returns the PkgLength mark for aml_pkg_end(). */
static size_t aml_package_begin(struct blob *b, uint8_t nelems)
{
	size_t start;

	put8(b, AML_PACKAGE_OP);
	start = aml_pkg_begin(b);
	put8(b, nelems);
	return start;
}

/* Scope(\seg){...}: (seg) is a NameSeg under the root. */
static size_t aml_root_scope_begin(struct blob *b, const char seg[4])
{
	size_t start;

	put8(b, AML_SCOPE_OP);
	start = aml_pkg_begin(b);
	put8(b, AML_ROOT_CHAR);
	put_bytes(b, seg, 4);
	return start;
}

static size_t aml_device_begin(struct blob *b, const char seg[4])
{
	size_t start;

	put8(b, AML_EXT_OP_PREFIX);
	put8(b, AML_EXT_DEVICE_OP);
	start = aml_pkg_begin(b);
	put_bytes(b, seg, 4);
	return start;
}

static void aml_buffer(struct blob *b, const uint8_t *data, size_t n)
{
	size_t start;

	put8(b, AML_BUFFER_OP);
	start = aml_pkg_begin(b);
	aml_integer(b, n);
	put_bytes(b, data, n);
	aml_pkg_end(b, start);
}

/* IO(Decode16, min, max, align, len) */
static void res_io16(struct blob *r, uint16_t min, uint16_t max, uint8_t aln, uint8_t len)
{
	put8(r, RES_IO);
	put8(r, RES_IO_DECODE16);
	put_le(r, min, 2);
	put_le(r, max, 2);
	put8(r, aln);
	put8(r, len);
}

/* IRQNoFlags(){irq}: edge-triggered, active-high, exclusive, as an ISA IRQ is. */
static void res_irq_noflags(struct blob *r, unsigned int irq)
{
	put8(r, RES_IRQ_NOFLAGS);
	put_le(r, 1u << irq, 2);
}

/* Memory32Fixed(ReadWrite, base, len) */
static void res_mem32_fixed(struct blob *r, uint32_t base, uint32_t len)
{
	put8(r, RES_MEM32_FIXED);
	put_le(r, RES_MEM32_FIXED_LEN, 2);
	put8(r, RES_MEM_READ_WRITE);
	put_le(r, base, 4);
	put_le(r, len, 4);
}

/*
 * A bridge window [min, min + len) of (space), as WordBusNumber/WordIO ((width) 2) or
 * DWordMemory ((width) 4) write it: ResourceProducer, PosDecode, MinFixed, MaxFixed, no
 * translation (CPU and PCI addresses are the same), no ResourceSource.
 */
static void res_window(struct blob *r, size_t width, uint8_t space, uint8_t type_flags, uint64_t min,
		       uint64_t len)
{
	put8(r, width == 2 ? RES_WORD_SPACE : RES_DWORD_SPACE);
	put_le(r, 3 + 5 * width, 2); /* 3 flag bytes and 5 fields */
	put8(r, space);
	put8(r, RES_SPACE_WINDOW);
	put8(r, type_flags);
	put_le(r, 0, width); /* _GRA: 0 for a fixed-size, fixed-location range */
	put_le(r, min, width);
	put_le(r, min + len - 1, width);
	put_le(r, 0, width); /* _TRA */
	put_le(r, len, width);
}

/* Closes a ResourceTemplate(){} in (r) and emits it as Name(seg, Buffer(){...}). */
static void aml_name_resources(struct blob *b, const char seg[4], struct blob *r)
{
	put8(r, RES_END_TAG);
	put8(r, 0);
	if (r->overflow) {
		b->overflow = true;
		return;
	}
	/* Sums the whole template, end tag included, to zero. */
	r->buf[r->pos - 1] = checksum(r->buf, r->pos - 1);
	aml_name(b, seg);
	aml_buffer(b, r->buf, r->pos);
}

/* \_SB_.COM1: the 16550A at PORT_COM1, for Linux's 8250_pnp driver. */
static void dsdt_com1(struct blob *b)
{
	uint8_t rt[RES_TEMPLATE_MAX];
	struct blob r = { .buf = rt, .len = sizeof(rt) };
	size_t dev = aml_device_begin(b, "COM1");

	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0501");
	aml_name(b, "_UID");
	aml_integer(b, 1);
	res_io16(&r, PORT_COM1, PORT_COM1, 0, COM1_IO_LEN);
	res_irq_noflags(&r, IRQ_COM1);
	aml_name_resources(b, "_CRS", &r);
	aml_pkg_end(b, dev);
}

/* \_SB_.PEVT: QEMU's pvpanic port; Linux's pvpanic-mmio binds QEMU0001 with an IO resource. */
static void dsdt_pvpanic(struct blob *b)
{
	uint8_t rt[RES_TEMPLATE_MAX];
	struct blob r = { .buf = rt, .len = sizeof(rt) };
	size_t dev = aml_device_begin(b, "PEVT");

	aml_name(b, "_HID");
	aml_string(b, "QEMU0001");
	res_io16(&r, PORT_PVPANIC, PORT_PVPANIC, 1, 1);
	aml_name_resources(b, "_CRS", &r);
	aml_name(b, "_STA");
	aml_integer(b, STA_PRESENT_ENABLED_SHOWN_OK);
	aml_pkg_end(b, dev);
}

/*
 * _PRT: every slot's INTA#..INTD# as static GSIs (Source 0 in each entry: level-triggered,
 * active-low, shareable), PCI_INTX_GSI(slot, pin) for all 32 slots. With MSI-X, virtio-pci
 * needs none of it, but Linux's virtio_pci falls back to INTx when MSI-X vectors cannot be
 * had, and a device without an entry would then get no interrupt at all.
 */
static void dsdt_pci0_prt(struct blob *b)
{
	size_t prt;

	aml_name(b, "_PRT");
	prt = aml_package_begin(b, PCI_SLOTS * PCI_INTX_PINS);
	for (unsigned int slot = 0; slot < PCI_SLOTS; slot++) {
		for (unsigned int pin = 0; pin < PCI_INTX_PINS; pin++) {
			size_t e = aml_package_begin(b, 4);

			aml_integer(b, (uint64_t)slot << 16 | PRT_ADR_ANY_FUNCTION);
			aml_integer(b, pin);
			aml_integer(b, 0); /* Source: none, the next field is a GSI */
			aml_integer(b, PCI_INTX_GSI(slot, pin));
			aml_pkg_end(b, e);
		}
	}
	aml_pkg_end(b, prt);
}

/*
 * \_SB_.PCI0: the host bridge of segment 0, bus 0, whose config space is the ECAM in the
 * MCFG. _CRS: the bus range, the mechanism #1 ports (consumed, as PC host bridges list them;
 * Linux leaves 0xcf8-0xcff out of its windows) and the I/O and memory windows for BARs.
 * No _OSC: Linux then logs "platform retains control of PCIe features (AE_NOT_FOUND)" and
 * keeps ASPM and the native PCIe services (hotplug, AER, PME, LTR, DPC) off, which suits a
 * bus with no PCIe ports or links; MSI and MSI-X do not depend on _OSC. Granting control
 * would take a method (buffer fields, UUID check) for nothing kvmini's devices use.
 */
static void dsdt_pci0(struct blob *b)
{
	uint8_t rt[RES_TEMPLATE_MAX];
	struct blob r = { .buf = rt, .len = sizeof(rt) };
	size_t dev = aml_device_begin(b, "PCI0");

	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0A08"); /* PCI Express root bridge: extended config space */
	aml_name(b, "_CID");
	aml_eisaid(b, "PNP0A03"); /* PCI root bridge */
	aml_name(b, "_SEG");
	aml_integer(b, 0);
	aml_name(b, "_BBN");
	aml_integer(b, 0);
	aml_name(b, "_UID");
	aml_integer(b, 0);
	res_window(&r, 2, RES_SPACE_BUS, 0, 0, PCI_LAST_BUS + 1);
	res_io16(&r, PORT_PCI_CONFIG, PORT_PCI_CONFIG, 1, PCI_CONFIG_PORTS_LEN);
	res_window(&r, 2, RES_SPACE_IO, RES_IO_ENTIRE_RANGE, PCI_IOPORT_BASE, PCI_IOPORT_SIZE);
	res_window(&r, 4, RES_SPACE_MEMORY, RES_MEM_READ_WRITE, PCI_MMIO_BASE, PCI_MMIO_SIZE);
	aml_name_resources(b, "_CRS", &r);
	dsdt_pci0_prt(b);
	aml_pkg_end(b, dev);
}

/*
 * \_SB_.ECAM: a motherboard resource (PNP0C02) that reserves the ECAM. Linux uses the MCFG's
 * region only if it finds it reserved there or in the E820 map (is_mmconf_reserved() in
 * arch/x86/pci/mmconfig-shared.c), and kvmini's E820 map leaves the PCI hole out.
 */
static void dsdt_ecam(struct blob *b)
{
	uint8_t rt[RES_TEMPLATE_MAX];
	struct blob r = { .buf = rt, .len = sizeof(rt) };
	size_t dev = aml_device_begin(b, "ECAM");

	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0C02");
	res_mem32_fixed(&r, PCI_ECAM_BASE, PCI_ECAM_SIZE);
	aml_name_resources(b, "_CRS", &r);
	aml_pkg_end(b, dev);
}

/*
 * \_S5_ gives the SLP_TYP that a hardware-reduced OS writes to SLEEP_CONTROL_REG to power
 * off: Package(){SLP_TYPa, SLP_TYPb, reserved, reserved}.
 */
static void dsdt_s5(struct blob *b)
{
	size_t pkg;

	aml_name(b, "_S5_");
	pkg = aml_package_begin(b, 4);
	aml_integer(b, ACPI_S5_SLP_TYP);
	aml_integer(b, 0);
	aml_integer(b, 0);
	aml_integer(b, 0);
	aml_pkg_end(b, pkg);
}

static size_t build_dsdt(struct blob *b, bool pci)
{
	size_t start = table_begin(b, "DSDT", DSDT_REVISION);
	size_t sb;

	dsdt_s5(b);
	/* \_SB_ is predefined by the interpreter; devices go under it. */
	sb = aml_root_scope_begin(b, "_SB_");
	dsdt_com1(b);
	dsdt_pvpanic(b);
	if (pci) {
		dsdt_pci0(b);
		dsdt_ecam(b);
	}
	aml_pkg_end(b, sb);
	table_end(b, start);
	return start;
}

/* Generic Address Structure for a byte-wide system I/O register at (port). */
static void poke_gas_io8(struct blob *b, size_t off, uint16_t port)
{
	uint8_t gas[GAS_LEN] = { GAS_SYSTEM_IO, 8, 0, GAS_ACCESS_BYTE };

	if (!room(b, off, sizeof(gas)))
		return;
	memcpy(b->buf + off, gas, sizeof(gas));
	poke_le(b, off + 4, port, 8);
}

/*
 * Hardware-reduced FADT: no PM blocks, no SMI_CMD, SCI_INT 0, no FACS. Power-off goes
 * through SLEEP_CONTROL_REG with \_S5_'s SLP_TYP, reboot through RESET_REG.
 */
static size_t build_fadt(struct blob *b, uint64_t dsdt_gpa)
{
	size_t start = table_begin(b, "FACP", FADT_REVISION);

	put_zero(b, FADT_LEN - HEADER_LEN);
	/* The 32-bit field only holds a DSDT below 4 GiB; X_DSDT always does. */
	if (dsdt_gpa <= UINT32_MAX)
		poke_le(b, start + FADT_DSDT, dsdt_gpa, 4);
	poke_le(b, start + FADT_IAPC_BOOT_ARCH, IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT, 2);
	poke_le(b, start + FADT_FLAGS, FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP, 4);
	poke_gas_io8(b, start + FADT_RESET_REG, PORT_RESET);
	poke_le(b, start + FADT_RESET_VALUE, RESET_VALUE, 1);
	poke_le(b, start + FADT_MINOR_VERSION, FADT_MINOR_REVISION, 1);
	poke_le(b, start + FADT_X_DSDT, dsdt_gpa, 8);
	poke_gas_io8(b, start + FADT_SLEEP_CONTROL_REG, PORT_ACPI_SLEEP_CTL);
	poke_gas_io8(b, start + FADT_SLEEP_STATUS_REG, PORT_ACPI_SLEEP_STS);
	if (room(b, start + FADT_HYPERVISOR_ID, 8))
		memcpy(b->buf + start + FADT_HYPERVISOR_ID, HYPERVISOR_ID, 8);
	table_end(b, start);
	return start;
}

/*
 * MADT: one enabled xAPIC per vCPU (ACPI processor UID = APIC ID = index) and KVM's
 * in-kernel IOAPIC with GSI base 0. No interrupt source overrides: KVM's default GSI
 * routing wires GSI n to IOAPIC pin n, IRQ 0 (the in-kernel PIT) included, which is the
 * identity mapping Linux assumes for ISA IRQs without overrides. A hardware-reduced
 * Linux sets up no SCI, so FADT SCI_INT 0 needs no override either.
 * PCAT_COMPAT: KVM_CREATE_IRQCHIP does create an 8259 pair, and the flag tells an OS to
 * mask it; a hardware-reduced Linux ignores legacy PICs anyway.
 */
static size_t build_madt(struct blob *b, uint32_t ncpus)
{
	size_t start = table_begin(b, "APIC", MADT_REVISION);

	put_le(b, LAPIC_ADDR, 4);
	put_le(b, MADT_PCAT_COMPAT, 4);
	for (uint32_t i = 0; i < ncpus; i++) {
		put8(b, MADT_TYPE_LAPIC);
		put8(b, MADT_LAPIC_LEN);
		put8(b, (uint8_t)i); /* ACPI processor UID */
		put8(b, (uint8_t)i); /* APIC ID */
		put_le(b, MADT_LAPIC_ENABLED, 4);
	}
	put8(b, MADT_TYPE_IOAPIC);
	put8(b, MADT_IOAPIC_LEN);
	put8(b, MADT_IOAPIC_ID);
	put8(b, 0);
	put_le(b, IOAPIC_ADDR, 4);
	put_le(b, 0, 4); /* global system interrupt base */
	table_end(b, start);
	return start;
}

/* MCFG: one ECAM allocation, segment 0, buses 0 to PCI_LAST_BUS. */
static size_t build_mcfg(struct blob *b)
{
	size_t start = table_begin(b, "MCFG", MCFG_REVISION);

	put_zero(b, MCFG_RESERVED_LEN);
	put_le(b, PCI_ECAM_BASE, 8);
	put_le(b, 0, 2); /* PCI segment group */
	put8(b, 0);	 /* start bus */
	put8(b, PCI_LAST_BUS);
	put_zero(b, 4);
	table_end(b, start);
	return start;
}

static size_t build_xsdt(struct blob *b, const uint64_t *tables, size_t n)
{
	size_t start = table_begin(b, "XSDT", XSDT_REVISION);

	for (size_t i = 0; i < n; i++)
		put_le(b, tables[i], 8);
	table_end(b, start);
	return start;
}

/* The RSDP occupies buf[0, RSDP_LEN), reserved by acpi_build() before the tables. */
static void build_rsdp(struct blob *b, uint64_t xsdt_gpa)
{
	uint8_t *p = b->buf;

	if (b->overflow)
		return;
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, OEM_ID, 6);
	p[15] = RSDP_REVISION;
	poke_le(b, 16, 0, 4); /* RsdtAddress: no RSDT, the XSDT is enough for 2.0+ */
	poke_le(b, 20, RSDP_LEN, 4);
	poke_le(b, 24, xsdt_gpa, 8);
	/* Both checksum bytes and the reserved bytes are still 0 from acpi_build(). */
	p[8] = checksum(p, RSDP_CHECKSUM_LEN);
	p[32] = checksum(p, RSDP_LEN);
}

ssize_t acpi_build(const struct acpi_config *c, void *buf, size_t len)
{
	struct blob b = { .buf = buf, .len = len };
	uint64_t tables[XSDT_MAX_ENTRIES];
	size_t n = 0;
	uint64_t dsdt, xsdt;

	if (!c || !buf || c->ncpus == 0 || c->ncpus > ACPI_MAX_CPUS)
		return -EINVAL;
	if (c->base_gpa % TABLE_ALIGN || c->base_gpa > UINT64_MAX - len)
		return -EINVAL;
	put_zero(&b, RSDP_LEN); /* filled in last, once the XSDT's address is known */
	/* Each table is built after the ones it points to, so no address is patched later. */
	dsdt = c->base_gpa + build_dsdt(&b, c->pci);
	tables[n++] = c->base_gpa + build_fadt(&b, dsdt);
	tables[n++] = c->base_gpa + build_madt(&b, c->ncpus);
	if (c->pci)
		tables[n++] = c->base_gpa + build_mcfg(&b);
	xsdt = c->base_gpa + build_xsdt(&b, tables, n);
	build_rsdp(&b, xsdt);
	if (b.overflow)
		return -ENOSPC;
	return (ssize_t)b.pos;
}
