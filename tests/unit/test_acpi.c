/* test_acpi.c: parses what acpi_build() generates, against the ACPI 6.5 layouts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "layout.h"

#define BUF_LEN	 16384 /* well above what 255 vCPUs need */
#define HDR_LEN	 36
#define FADT_LEN 276

/* Offsets from the ACPI 6.5 spec, written out here rather than taken from acpi.c. */
#define FADT_DSDT	       40
#define FADT_SCI_INT	       46
#define FADT_SMI_CMD	       48
#define FADT_PM1A_EVT_BLK      56
#define FADT_PM_TMR_BLK	       76
#define FADT_IAPC_BOOT_ARCH    109
#define FADT_FLAGS	       112
#define FADT_RESET_REG	       116
#define FADT_RESET_VALUE       128
#define FADT_MINOR_VERSION     131
#define FADT_X_FIRMWARE_CTRL   132
#define FADT_X_DSDT	       140
#define FADT_X_PM1A_EVT_BLK    148
#define FADT_SLEEP_CONTROL_REG 244
#define FADT_SLEEP_STATUS_REG  256
#define IAPC_NO_MSI	       (1u << 3)
#define IAPC_NO_ASPM	       (1u << 4)

/* MCFG (PCI Firmware Specification 3.3, section 4.1.2). */
#define MCFG_ALLOC 44 /* after the header and 8 reserved bytes */
#define MCFG_LEN   (MCFG_ALLOC + 16)

/* AML and resource descriptor encodings (ACPI 6.5 sections 20 and 6.4). */
#define AML_NAME_OP	0x08
#define AML_BUFFER_OP	0x11
#define AML_PACKAGE_OP	0x12
#define RES_IO		0x47
#define RES_END_TAG	0x79
#define RES_MEM32_FIXED 0x86
#define RES_DWORD_SPACE 0x87
#define RES_WORD_SPACE	0x88
#define SPACE_MEMORY	0
#define SPACE_IO	1
#define SPACE_BUS	2
#define RES_MAX		8

struct acpi_image {
	uint8_t buf[BUF_LEN];
	size_t used;
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += p[i];
	return s;
}

static void build_cfg(struct acpi_image *img, uint32_t ncpus, bool pci)
{
	struct acpi_config c = { .ncpus = ncpus, .base_gpa = GUEST_ACPI_ADDR, .pci = pci };
	ssize_t ret = acpi_build(&c, img->buf, sizeof(img->buf));

	cr_assert_gt(ret, 0, "acpi_build(ncpus %u, pci %d) returned %zd", ncpus, pci, ret);
	img->used = (size_t)ret;
}

static void build(struct acpi_image *img, uint32_t ncpus)
{
	build_cfg(img, ncpus, false);
}

/* The table at guest address (gpa), checked to lie wholly inside what was built. */
static const uint8_t *table_at(const struct acpi_image *img, uint64_t gpa)
{
	uint64_t off = gpa - GUEST_ACPI_ADDR;

	cr_assert(gpa >= GUEST_ACPI_ADDR && off + HDR_LEN <= img->used, "table 0x%lx outside",
		  (unsigned long)gpa);
	cr_assert_leq(off + le32(img->buf + off + 4), img->used, "table 0x%lx overruns", (unsigned long)gpa);
	return img->buf + off;
}

static const uint8_t *xsdt(const struct acpi_image *img)
{
	return table_at(img, le64(img->buf + 24));
}

/* The XSDT entry with signature (sig), or NULL. */
static const uint8_t *find_table(const struct acpi_image *img, const char *sig)
{
	const uint8_t *x = xsdt(img);
	size_t n = (le32(x + 4) - HDR_LEN) / 8;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *t = table_at(img, le64(x + HDR_LEN + 8 * i));

		if (!memcmp(t, sig, 4))
			return t;
	}
	return NULL;
}

static const uint8_t *fadt(const struct acpi_image *img)
{
	const uint8_t *f = find_table(img, "FACP");

	cr_assert_not_null(f, "no FADT in the XSDT");
	return f;
}

static const uint8_t *madt(const struct acpi_image *img)
{
	const uint8_t *m = find_table(img, "APIC");

	cr_assert_not_null(m, "no MADT in the XSDT");
	return m;
}

static const uint8_t *dsdt(const struct acpi_image *img)
{
	return table_at(img, le64(fadt(img) + FADT_X_DSDT));
}

static void assert_table_valid(const uint8_t *t, const char *sig)
{
	cr_assert_arr_eq(t, sig, 4);
	cr_assert_geq(le32(t + 4), HDR_LEN, "%s length", sig);
	cr_assert_eq(sum8(t, le32(t + 4)), 0, "%s checksum", sig);
}

/* A byte-wide system I/O Generic Address Structure at (port). */
static void assert_gas_io8(const uint8_t *gas, uint16_t port)
{
	cr_assert_eq(gas[0], 1, "address space: system I/O");
	cr_assert_eq(gas[1], 8, "register bit width");
	cr_assert_eq(gas[2], 0, "register bit offset");
	cr_assert_eq(gas[3], 1, "access size: byte");
	cr_assert_eq(le64(gas + 4), port);
}

/* Decodes an AML PkgLength at (p): returns its byte count, stores the length in (len). */
static size_t pkglen(const uint8_t *p, size_t *len)
{
	size_t n = (p[0] >> 6) + 1;

	if (n == 1) {
		*len = p[0] & 0x3f;
		return 1;
	}
	*len = p[0] & 0x0f;
	for (size_t i = 1; i < n; i++)
		*len |= (size_t)p[i] << (4 + 8 * (i - 1));
	return n;
}

static const uint8_t *find_bytes(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++) {
		if (!memcmp(hay + i, needle, m))
			return hay + i;
	}
	return NULL;
}

static const uint8_t *memmem_or_fail(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	const uint8_t *p = find_bytes(hay, n, needle, m);

	cr_assert_not_null(p, "byte pattern not found in the DSDT");
	return p;
}

/* A byte range [p, end) of the DSDT. */
struct span {
	const uint8_t *p;
	const uint8_t *end;
};

/* Decodes an AML integer at (p): returns its byte count, stores the value in (v). */
static size_t aml_int(const uint8_t *p, uint64_t *v)
{
	switch (p[0]) {
	case 0x00:
	case 0x01:
		*v = p[0]; /* ZeroOp, OneOp */
		return 1;
	case 0x0a:
		*v = p[1];
		return 2;
	case 0x0b:
		*v = le16(p + 1);
		return 3;
	case 0x0c:
		*v = le32(p + 1);
		return 5;
	case 0x0e:
		*v = le64(p + 1);
		return 9;
	}
	cr_assert_fail("AML opcode 0x%02x is not an integer", p[0]);
	return 0;
}

/* Finds Device(name) anywhere in the DSDT; stores the body after its NameSeg in (body). */
static bool find_device(const struct acpi_image *img, const char name[4], struct span *body)
{
	const uint8_t *d = dsdt(img), *end = d + le32(d + 4);

	for (const uint8_t *p = d + HDR_LEN; p + 2 + 4 + 4 <= end; p++) {
		size_t len, n;

		if (p[0] != 0x5b || p[1] != 0x82) /* ExtOpPrefix DeviceOp */
			continue;
		n = pkglen(p + 2, &len);
		if (memcmp(p + 2 + n, name, 4))
			continue;
		cr_assert_leq(p + 2 + len, end, "Device(%.4s) inside the DSDT", name);
		body->p = p + 2 + n + 4;
		body->end = p + 2 + len;
		return true;
	}
	return false;
}

static struct span device(const struct acpi_image *img, const char name[4])
{
	struct span body;

	cr_assert(find_device(img, name, &body), "no Device(%.4s) in the DSDT", name);
	return body;
}

/* The object that Name(seg, ...) in (s) names. */
static const uint8_t *named(struct span s, const char seg[4])
{
	const uint8_t name[5] = { AML_NAME_OP, seg[0], seg[1], seg[2], seg[3] };
	const uint8_t *p = find_bytes(s.p, (size_t)(s.end - s.p), name, sizeof(name));

	cr_assert_not_null(p, "no Name(%.4s, ...)", seg);
	return p + sizeof(name);
}

/* The bytes of Name(seg, Buffer(){...}) in (s). */
static struct span named_buffer(struct span s, const char seg[4])
{
	const uint8_t *p = named(s, seg);
	struct span data;
	size_t len, n;
	uint64_t size;

	cr_assert_eq(*p++, AML_BUFFER_OP, "%.4s is a Buffer", seg);
	n = pkglen(p, &len);
	cr_assert_leq(p + len, s.end, "%.4s inside its scope", seg);
	data.p = p + n;
	data.p += aml_int(data.p, &size);
	data.end = data.p + size;
	cr_assert_eq(data.end, p + len, "%.4s BufferSize fills its PkgLength", seg);
	return data;
}

/* One decoded resource descriptor; the fields a type lacks stay 0. */
struct res {
	uint8_t tag;			  /* RES_IO, RES_MEM32_FIXED, RES_WORD_SPACE or RES_DWORD_SPACE */
	uint8_t space;			  /* address space descriptors: SPACE_* */
	uint8_t flags;			  /* IO: decode; Memory32Fixed: RW; address space: general flags */
	uint8_t type_flags;		  /* address space descriptors */
	uint64_t gra, min, max, tra, len; /* IO: gra is the alignment */
};

static uint64_t le_n(const uint8_t *p, size_t width)
{
	return width == 2 ? le16(p) : le32(p);
}

static void decode_space(const uint8_t *p, size_t width, struct res *r)
{
	const uint8_t *f = p + 6;

	cr_assert_eq(le16(p + 1), 3 + 5 * width, "address space descriptor length");
	r->space = p[3];
	r->flags = p[4];
	r->type_flags = p[5];
	r->gra = le_n(f, width);
	r->min = le_n(f + width, width);
	r->max = le_n(f + 2 * width, width);
	r->tra = le_n(f + 3 * width, width);
	r->len = le_n(f + 4 * width, width);
}

/* Decodes one descriptor at (p) into (r); returns its length. */
static size_t decode_one(const uint8_t *p, struct res *r)
{
	memset(r, 0, sizeof(*r));
	r->tag = p[0];
	switch (p[0]) {
	case RES_IO:
		r->flags = p[1];
		r->min = le16(p + 2);
		r->max = le16(p + 4);
		r->gra = p[6];
		r->len = p[7];
		return 8;
	case RES_MEM32_FIXED:
		cr_assert_eq(le16(p + 1), 9, "Memory32Fixed length");
		r->flags = p[3];
		r->min = le32(p + 4);
		r->len = le32(p + 8);
		r->max = r->min + r->len - 1;
		return 12;
	case RES_WORD_SPACE:
		decode_space(p, 2, r);
		return 3 + 13;
	case RES_DWORD_SPACE:
		decode_space(p, 4, r);
		return 3 + 23;
	}
	cr_assert_fail("resource descriptor 0x%02x is not one kvmini writes", p[0]);
	return 0;
}

/*
 * Decodes a ResourceTemplate buffer into (out) and returns the count; checks that an EndTag
 * ends it exactly and that its checksum byte makes the template sum to zero.
 */
static size_t decode_resources(struct span buf, struct res *out, size_t max)
{
	const uint8_t *p = buf.p;
	size_t n = 0;

	while (p < buf.end && *p != RES_END_TAG) {
		cr_assert_lt(n, max, "too many descriptors");
		p += decode_one(p, &out[n++]);
		cr_assert_leq(p, buf.end, "descriptor overruns its buffer");
	}
	cr_assert_eq(p + 2, buf.end, "an EndTag ends the template");
	cr_assert_eq(sum8(buf.p, (size_t)(buf.end - buf.p)), 0, "EndTag checksum");
	return n;
}

static const struct res *find_res(const struct res *r, size_t n, uint8_t tag, uint8_t space)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].tag == tag && r[i].space == space)
			return &r[i];
	}
	cr_assert_fail("no descriptor 0x%02x for space %u", tag, space);
	return NULL;
}

/* A bridge window: produced, positive decode, fixed [min, max], no translation. */
static void assert_window(const struct res *r, uint64_t min, uint64_t len, uint8_t type_flags)
{
	cr_assert_eq(r->flags, 0x0c, "ResourceProducer, PosDecode, MinFixed, MaxFixed");
	cr_assert_eq(r->type_flags, type_flags);
	cr_assert_eq(r->gra, 0, "_GRA");
	cr_assert_eq(r->min, min, "_MIN");
	cr_assert_eq(r->max, min + len - 1, "_MAX");
	cr_assert_eq(r->tra, 0, "_TRA");
	cr_assert_eq(r->len, len, "_LEN");
}

Test(acpi, rsdp_has_signature_oem_id_and_revision_2)
{
	struct acpi_image img;

	build(&img, 1);
	cr_assert_arr_eq(img.buf, "RSD PTR ", 8);
	cr_assert_arr_eq(img.buf + 9, "KVMINI", 6);
	cr_assert_eq(img.buf[15], 2);
	cr_assert_eq(le32(img.buf + 20), 36, "RSDP length");
}

Test(acpi, rsdp_both_checksums_sum_to_zero)
{
	struct acpi_image img;

	build(&img, 2);
	cr_assert_eq(sum8(img.buf, 20), 0, "ACPI 1.0 checksum");
	cr_assert_eq(sum8(img.buf, 36), 0, "extended checksum");
}

Test(acpi, rsdp_points_at_an_xsdt_inside_the_buffer)
{
	struct acpi_image img;

	build(&img, 1);
	assert_table_valid(xsdt(&img), "XSDT");
}

Test(acpi, xsdt_lists_fadt_and_madt)
{
	struct acpi_image img;
	const uint8_t *x;

	build(&img, 4);
	x = xsdt(&img);
	cr_assert_eq(le32(x + 4), HDR_LEN + 2 * 8, "two 64-bit entries");
	cr_assert_not_null(find_table(&img, "FACP"));
	cr_assert_not_null(find_table(&img, "APIC"));
}

Test(acpi, every_table_has_valid_length_and_checksum)
{
	struct acpi_image img;

	build(&img, 4);
	assert_table_valid(xsdt(&img), "XSDT");
	assert_table_valid(fadt(&img), "FACP");
	assert_table_valid(madt(&img), "APIC");
	assert_table_valid(dsdt(&img), "DSDT");
}

Test(acpi, tables_carry_kvmini_oem_ids)
{
	struct acpi_image img;
	const uint8_t *tables[4];

	build(&img, 1);
	tables[0] = xsdt(&img);
	tables[1] = fadt(&img);
	tables[2] = madt(&img);
	tables[3] = dsdt(&img);
	for (int i = 0; i < 4; i++) {
		cr_assert_arr_eq(tables[i] + 10, "KVMINI", 6);
		cr_assert_arr_eq(tables[i] + 16, "KVMINI  ", 8);
	}
}

Test(acpi, fadt_is_revision_6_5_and_276_bytes)
{
	struct acpi_image img;
	const uint8_t *f;

	build(&img, 1);
	f = fadt(&img);
	cr_assert_eq(le32(f + 4), FADT_LEN);
	cr_assert_eq(f[8], 6, "major revision");
	cr_assert_eq(f[FADT_MINOR_VERSION], 5, "minor revision");
}

Test(acpi, fadt_flags_are_hw_reduced_and_reset_reg_sup)
{
	struct acpi_image img;

	build(&img, 1);
	cr_assert_eq(le32(fadt(&img) + FADT_FLAGS), (1u << 20) | (1u << 10));
}

Test(acpi, fadt_reset_register_writes_reset_value_to_port_reset)
{
	struct acpi_image img;
	const uint8_t *f;

	build(&img, 1);
	f = fadt(&img);
	assert_gas_io8(f + FADT_RESET_REG, PORT_RESET);
	cr_assert_eq(f[FADT_RESET_VALUE], RESET_VALUE);
}

Test(acpi, fadt_sleep_registers_are_byte_ports)
{
	struct acpi_image img;
	const uint8_t *f;

	build(&img, 1);
	f = fadt(&img);
	assert_gas_io8(f + FADT_SLEEP_CONTROL_REG, PORT_ACPI_SLEEP_CTL);
	assert_gas_io8(f + FADT_SLEEP_STATUS_REG, PORT_ACPI_SLEEP_STS);
}

Test(acpi, fadt_boot_arch_says_no_vga_no_rtc_no_8042_no_legacy)
{
	struct acpi_image img;

	build(&img, 1);
	cr_assert_eq(le16(fadt(&img) + FADT_IAPC_BOOT_ARCH), (1u << 2) | (1u << 5));
}

Test(acpi, fadt_has_no_sci_smi_pm_blocks_or_facs)
{
	struct acpi_image img;
	const uint8_t *f;

	build(&img, 1);
	f = fadt(&img);
	cr_assert_eq(le16(f + FADT_SCI_INT), 0);
	cr_assert_eq(le32(f + FADT_SMI_CMD), 0);
	for (size_t off = FADT_PM1A_EVT_BLK; off <= FADT_PM_TMR_BLK; off += 4)
		cr_assert_eq(le32(f + off), 0, "PM block at FADT offset %zu", off);
	cr_assert_eq(le32(f + 36), 0, "FIRMWARE_CTRL");
	cr_assert_eq(le64(f + FADT_X_FIRMWARE_CTRL), 0);
	for (size_t off = FADT_X_PM1A_EVT_BLK; off < FADT_SLEEP_CONTROL_REG; off++)
		cr_assert_eq(f[off], 0, "X_ PM block byte at FADT offset %zu", off);
}

Test(acpi, fadt_dsdt_and_x_dsdt_point_at_the_dsdt)
{
	struct acpi_image img;
	const uint8_t *f;

	build(&img, 1);
	f = fadt(&img);
	cr_assert_eq(le32(f + FADT_DSDT), le64(f + FADT_X_DSDT));
	assert_table_valid(dsdt(&img), "DSDT");
}

Test(acpi, madt_lists_one_lapic_per_vcpu)
{
	static const uint32_t counts[] = { 1, 2, 4, 255 };
	struct acpi_image img;

	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		const uint8_t *m, *e, *end;
		uint32_t n = 0;

		build(&img, counts[k]);
		m = madt(&img);
		end = m + le32(m + 4);
		for (e = m + 44; e < end; e += e[1]) {
			cr_assert_geq(e[1], 2, "MADT entry length");
			if (e[0] != 0)
				continue;
			cr_assert_eq(e[1], 8);
			cr_assert_eq(e[2], n, "processor UID");
			cr_assert_eq(e[3], n, "APIC ID");
			cr_assert_eq(le32(e + 4), 1, "enabled");
			n++;
		}
		cr_assert_eq(e, end, "entries fill the MADT exactly");
		cr_assert_eq(n, counts[k], "LAPIC entries for ncpus %u", counts[k]);
	}
}

Test(acpi, madt_has_one_ioapic_at_ioapic_addr_with_gsi_base_0)
{
	struct acpi_image img;
	const uint8_t *m, *e, *end;
	int n = 0;

	build(&img, 4);
	m = madt(&img);
	end = m + le32(m + 4);
	for (e = m + 44; e < end; e += e[1]) {
		cr_assert_geq(e[1], 2, "MADT entry length");
		if (e[0] != 1)
			continue;
		cr_assert_eq(e[1], 12);
		cr_assert_eq(le32(e + 4), IOAPIC_ADDR);
		cr_assert_eq(le32(e + 8), 0, "GSI base");
		n++;
	}
	cr_assert_eq(n, 1);
}

Test(acpi, madt_local_apic_address_is_lapic_addr)
{
	struct acpi_image img;

	build(&img, 1);
	cr_assert_eq(le32(madt(&img) + 36), LAPIC_ADDR);
}

Test(acpi, zero_cpus_returns_einval)
{
	struct acpi_config c = { .ncpus = 0, .base_gpa = GUEST_ACPI_ADDR };
	uint8_t buf[BUF_LEN];

	cr_assert_eq(acpi_build(&c, buf, sizeof(buf)), -EINVAL);
}

Test(acpi, cpus_above_255_returns_einval)
{
	struct acpi_config c = { .ncpus = 256, .base_gpa = GUEST_ACPI_ADDR };
	uint8_t buf[BUF_LEN];

	cr_assert_eq(acpi_build(&c, buf, sizeof(buf)), -EINVAL);
}

Test(acpi, misaligned_base_returns_einval)
{
	struct acpi_config c = { .ncpus = 1, .base_gpa = GUEST_ACPI_ADDR + 4 };
	uint8_t buf[BUF_LEN];

	cr_assert_eq(acpi_build(&c, buf, sizeof(buf)), -EINVAL);
}

Test(acpi, every_short_buffer_returns_enospc)
{
	struct acpi_config c = { .ncpus = 4, .base_gpa = GUEST_ACPI_ADDR };
	struct acpi_image img;

	build(&img, 4);
	for (size_t len = 0; len < img.used; len++) {
		uint8_t *buf = malloc(len ? len : 1); /* exact size, so ASan sees overruns */

		cr_assert_not_null(buf);
		cr_assert_eq(acpi_build(&c, buf, len), -ENOSPC, "len %zu", len);
		free(buf);
	}
}

Test(acpi, exact_size_buffer_gives_the_same_tables)
{
	struct acpi_config c = { .ncpus = 4, .base_gpa = GUEST_ACPI_ADDR };
	struct acpi_image img;
	uint8_t *buf;

	build(&img, 4);
	buf = malloc(img.used);
	cr_assert_not_null(buf);
	cr_assert_eq(acpi_build(&c, buf, img.used), (ssize_t)img.used);
	cr_assert_arr_eq(buf, img.buf, img.used);
	free(buf);
}

Test(acpi, dsdt_s5_package_gives_s5_slp_typ)
{
	static const uint8_t name_s5[] = { 0x08, '_', 'S', '5', '_', 0x12 };
	struct acpi_image img;
	const uint8_t *d, *p;
	size_t len, n;

	build(&img, 1);
	d = dsdt(&img);
	p = memmem_or_fail(d + HDR_LEN, le32(d + 4) - HDR_LEN, name_s5, sizeof(name_s5));
	p += sizeof(name_s5);
	n = pkglen(p, &len);
	cr_assert_eq(len, 1 + 1 + 2 + 3, "PkgLength + NumElements + BytePrefix 5 + 3 ZeroOps");
	cr_assert_leq(p + len, d + le32(d + 4), "package inside the DSDT");
	p += n;
	cr_assert_eq(p[0], 4, "NumElements");
	cr_assert_eq(p[1], 0x0a, "BytePrefix");
	cr_assert_eq(p[2], ACPI_S5_SLP_TYP);
	cr_assert_eq(p[3], 0x00, "ZeroOp");
	cr_assert_eq(p[4], 0x00, "ZeroOp");
	cr_assert_eq(p[5], 0x00, "ZeroOp");
}

/* Top level: Name(_S5_, Package) then Scope(\_SB_) whose PkgLength ends the table. */
static void assert_sb_scope_spans_rest_of_table(const struct acpi_image *img)
{
	const uint8_t *d, *p, *end;
	size_t len, n;

	d = dsdt(img);
	end = d + le32(d + 4);
	p = d + HDR_LEN;
	cr_assert_eq(p[0], 0x08, "NameOp first");
	p += 5;
	cr_assert_eq(*p++, 0x12, "PackageOp");
	pkglen(p, &len);
	p += len;
	cr_assert_eq(*p++, 0x10, "ScopeOp");
	n = pkglen(p, &len);
	cr_assert_eq(p + len, end, "Scope PkgLength reaches the end of the DSDT");
	cr_assert_arr_eq(p + n, "\\_SB_", 5);
}

Test(acpi, dsdt_sb_scope_pkglength_spans_rest_of_table)
{
	struct acpi_image img;

	build(&img, 1);
	assert_sb_scope_spans_rest_of_table(&img);
}

Test(acpi, dsdt_sb_scope_pkglength_spans_rest_of_table_with_pci)
{
	struct acpi_image img;

	build_cfg(&img, 1, true);
	assert_sb_scope_spans_rest_of_table(&img);
}

Test(acpi, dsdt_com1_has_pnp0501_io_3f8_and_irq_4)
{
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	static const uint8_t crs[] = {
		0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08, 0x22, 0x10, 0x00, 0x79
	};
	struct acpi_image img;
	const uint8_t *d, *p;
	size_t dlen;

	build(&img, 1);
	d = dsdt(&img);
	dlen = le32(d + 4);
	p = memmem_or_fail(d, dlen, "COM1", 4);
	memmem_or_fail(p, (size_t)(d + dlen - p), hid, sizeof(hid));
	p = memmem_or_fail(p, (size_t)(d + dlen - p), crs, sizeof(crs));
	cr_assert_eq(sum8(p, sizeof(crs) + 1), 0, "EndTag checksum");
}

Test(acpi, dsdt_pvpanic_is_qemu0001_at_port_pvpanic)
{
	static const uint8_t crs[] = { 0x47,
				       0x01,
				       PORT_PVPANIC & 0xff,
				       PORT_PVPANIC >> 8,
				       PORT_PVPANIC & 0xff,
				       PORT_PVPANIC >> 8,
				       0x01,
				       0x01,
				       0x79 };
	static const uint8_t sta[] = { 0x08, '_', 'S', 'T', 'A', 0x0a, 0x0f };
	struct acpi_image img;
	const uint8_t *d, *p;
	size_t dlen;

	build(&img, 1);
	d = dsdt(&img);
	dlen = le32(d + 4);
	p = memmem_or_fail(d, dlen, "PEVT", 4);
	memmem_or_fail(p, (size_t)(d + dlen - p), "\x0dQEMU0001", 10);
	memmem_or_fail(p, (size_t)(d + dlen - p), sta, sizeof(sta));
	p = memmem_or_fail(p, (size_t)(d + dlen - p), crs, sizeof(crs));
	cr_assert_eq(sum8(p, sizeof(crs) + 1), 0, "EndTag checksum");
}

Test(acpi, xsdt_lists_mcfg_only_with_pci)
{
	struct acpi_image img;

	build(&img, 4);
	cr_assert_null(find_table(&img, "MCFG"));
	build_cfg(&img, 4, true);
	cr_assert_eq(le32(xsdt(&img) + 4), HDR_LEN + 3 * 8, "three 64-bit entries");
	cr_assert_not_null(find_table(&img, "FACP"));
	cr_assert_not_null(find_table(&img, "APIC"));
	cr_assert_not_null(find_table(&img, "MCFG"));
}

Test(acpi, every_table_has_valid_length_and_checksum_with_pci)
{
	struct acpi_image img;

	build_cfg(&img, 4, true);
	assert_table_valid(xsdt(&img), "XSDT");
	assert_table_valid(fadt(&img), "FACP");
	assert_table_valid(madt(&img), "APIC");
	assert_table_valid(dsdt(&img), "DSDT");
	assert_table_valid(find_table(&img, "MCFG"), "MCFG");
}

Test(acpi, mcfg_is_one_allocation_for_bus_0_at_pci_ecam_base)
{
	struct acpi_image img;
	const uint8_t *m;

	build_cfg(&img, 1, true);
	m = find_table(&img, "MCFG");
	cr_assert_eq(le32(m + 4), MCFG_LEN, "one allocation structure");
	cr_assert_eq(m[8], 1, "revision");
	cr_assert_arr_eq(m + 10, "KVMINI", 6);
	cr_assert_eq(le64(m + 36), 0, "reserved");
	cr_assert_eq(le64(m + MCFG_ALLOC), PCI_ECAM_BASE, "base address");
	cr_assert_eq(le16(m + MCFG_ALLOC + 8), 0, "segment group");
	cr_assert_eq(m[MCFG_ALLOC + 10], 0, "start bus");
	cr_assert_eq(m[MCFG_ALLOC + 11], PCI_ECAM_SIZE / (1 << 20) - 1, "end bus");
	cr_assert_eq(le32(m + MCFG_ALLOC + 12), 0, "reserved");
}

Test(acpi, pci_layout_windows_are_in_the_hole_and_do_not_overlap)
{
	cr_assert_eq(PCI_ECAM_SIZE, 32 * 8 * 4096, "bus 0 only");
	cr_assert_eq(PCI_ECAM_BASE % PCI_ECAM_SIZE, 0);
	cr_assert_geq(PCI_MMIO_BASE, PCI_HOLE_START);
	cr_assert_leq(PCI_MMIO_BASE + PCI_MMIO_SIZE, PCI_ECAM_BASE);
	cr_assert_leq(PCI_ECAM_BASE + PCI_ECAM_SIZE, IOAPIC_ADDR);
	cr_assert_lt(IOAPIC_ADDR, LAPIC_ADDR);
	cr_assert_lt(LAPIC_ADDR, KVM_IDENTITY_MAP_ADDR);
	cr_assert_geq(PCI_IOPORT_BASE, PORT_PCI_CONFIG + PCI_CONFIG_PORTS_LEN);
	cr_assert_leq(PCI_IOPORT_BASE + PCI_IOPORT_SIZE, 0x10000);
	cr_assert_leq(PCI_INTX_GSI_BASE + PCI_INTX_GSI_COUNT, 24, "KVM's IOAPIC has 24 pins");
}

Test(acpi, dsdt_has_no_host_bridge_without_pci)
{
	static const uint8_t pnp0a08[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
	struct acpi_image img;
	struct span body;
	const uint8_t *d;

	build(&img, 4);
	d = dsdt(&img);
	cr_assert_not(find_device(&img, "PCI0", &body));
	cr_assert_not(find_device(&img, "ECAM", &body));
	cr_assert_null(find_bytes(d, le32(d + 4), pnp0a08, sizeof(pnp0a08)));
	cr_assert_null(find_bytes(d, le32(d + 4), "_PRT", 4));
}

Test(acpi, dsdt_pci0_is_pnp0a08_compatible_with_pnp0a03_on_segment_0_bus_0)
{
	static const uint8_t pnp0a08[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
	static const uint8_t pnp0a03[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	static const char *const zero[] = { "_SEG", "_BBN", "_UID" };
	struct acpi_image img;
	struct span pci0;
	uint64_t v;

	build_cfg(&img, 1, true);
	pci0 = device(&img, "PCI0");
	cr_assert_arr_eq(named(pci0, "_HID"), pnp0a08, sizeof(pnp0a08));
	cr_assert_arr_eq(named(pci0, "_CID"), pnp0a03, sizeof(pnp0a03));
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		aml_int(named(pci0, zero[i]), &v);
		cr_assert_eq(v, 0, "%s", zero[i]);
	}
}

Test(acpi, dsdt_pci0_crs_gives_bus_0_config_ports_and_the_layout_windows)
{
	struct acpi_image img;
	struct res r[RES_MAX];
	const struct res *io;
	size_t n;

	build_cfg(&img, 1, true);
	n = decode_resources(named_buffer(device(&img, "PCI0"), "_CRS"), r, RES_MAX);
	cr_assert_eq(n, 4, "bus range, config ports, I/O and memory windows");
	assert_window(find_res(r, n, RES_WORD_SPACE, SPACE_BUS), 0, 1, 0);
	assert_window(find_res(r, n, RES_WORD_SPACE, SPACE_IO), PCI_IOPORT_BASE, PCI_IOPORT_SIZE,
		      0x03 /* EntireRange */);
	assert_window(find_res(r, n, RES_DWORD_SPACE, SPACE_MEMORY), PCI_MMIO_BASE, PCI_MMIO_SIZE,
		      0x01 /* ReadWrite, NonCacheable: not prefetchable */);
	io = find_res(r, n, RES_IO, 0);
	cr_assert_eq(io->flags, 1, "Decode16");
	cr_assert_eq(io->min, 0xcf8);
	cr_assert_eq(io->max, 0xcf8);
	cr_assert_eq(io->gra, 1, "alignment");
	cr_assert_eq(io->len, 8);
}

/* Each _PRT entry is Package(4){(slot << 16) | 0xffff, pin, Zero, GSI}. */
static const uint8_t *prt_entry(const uint8_t *p, uint64_t v[4])
{
	size_t len, n;
	const uint8_t *q;

	cr_assert_eq(*p++, AML_PACKAGE_OP, "_PRT entry is a Package");
	n = pkglen(p, &len);
	q = p + n;
	cr_assert_eq(*q++, 4, "NumElements");
	for (int i = 0; i < 4; i++)
		q += aml_int(q, &v[i]);
	cr_assert_eq(q, p + len, "entry PkgLength");
	return q;
}

Test(acpi, dsdt_pci0_prt_routes_each_slot_and_pin_to_pci_intx_gsi)
{
	struct acpi_image img;
	struct span pci0;
	uint8_t seen[32][4] = { { 0 } };
	const uint8_t *p, *end;
	size_t len, n;

	build_cfg(&img, 1, true);
	pci0 = device(&img, "PCI0");
	p = named(pci0, "_PRT");
	cr_assert_eq(*p++, AML_PACKAGE_OP);
	n = pkglen(p, &len);
	end = p + len;
	cr_assert_leq(end, pci0.end, "_PRT inside PCI0");
	p += n;
	cr_assert_eq(*p++, 32 * 4, "one entry per slot and pin");
	while (p < end) {
		uint64_t v[4];
		unsigned int slot, pin;

		p = prt_entry(p, v);
		cr_assert_eq(v[0] & 0xffff, 0xffff, "any function");
		slot = (unsigned int)(v[0] >> 16);
		pin = (unsigned int)v[1];
		cr_assert(slot < 32 && pin < 4, "slot %u pin %u", slot, pin);
		cr_assert_eq(v[2], 0, "Source: a GSI, not a link device");
		cr_assert_eq(v[3], PCI_INTX_GSI(slot, pin), "slot %u pin %u", slot, pin);
		cr_assert(v[3] >= 16 && v[3] <= 23, "GSI %lu", (unsigned long)v[3]);
		cr_assert_not(seen[slot][pin]++, "slot %u pin %u twice", slot, pin);
	}
	cr_assert_eq(p, end, "entries fill the _PRT package");
	for (unsigned int slot = 0; slot < 32; slot++)
		cr_assert_eq(PCI_INTX_GSI(slot, 0), 16 + slot % 8, "slot %u INTA#", slot);
}

Test(acpi, dsdt_ecam_is_reserved_by_a_pnp0c02_motherboard_resource)
{
	static const uint8_t pnp0c02[] = { 0x0c, 0x41, 0xd0, 0x0c, 0x02 };
	struct acpi_image img;
	struct span ecam;
	struct res r[RES_MAX];

	build_cfg(&img, 1, true);
	ecam = device(&img, "ECAM");
	cr_assert_arr_eq(named(ecam, "_HID"), pnp0c02, sizeof(pnp0c02));
	cr_assert_eq(decode_resources(named_buffer(ecam, "_CRS"), r, RES_MAX), 1);
	cr_assert_eq(r[0].tag, RES_MEM32_FIXED);
	cr_assert_eq(r[0].flags, 1, "ReadWrite");
	cr_assert_eq(r[0].min, PCI_ECAM_BASE);
	cr_assert_eq(r[0].len, PCI_ECAM_SIZE);
}

Test(acpi, fadt_is_unchanged_with_pci_and_leaves_msi_enabled)
{
	struct acpi_image plain, pci;
	const uint8_t *f;

	build(&plain, 2);
	build_cfg(&pci, 2, true);
	f = fadt(&pci);
	cr_assert_eq(le16(f + FADT_IAPC_BOOT_ARCH) & (IAPC_NO_MSI | IAPC_NO_ASPM), 0);
	cr_assert_arr_eq(f + HDR_LEN, fadt(&plain) + HDR_LEN, FADT_DSDT - HDR_LEN);
	cr_assert_arr_eq(f + FADT_DSDT + 4, fadt(&plain) + FADT_DSDT + 4, FADT_X_DSDT - FADT_DSDT - 4,
			 "all but the DSDT addresses");
	cr_assert_arr_eq(f + FADT_X_DSDT + 8, fadt(&plain) + FADT_X_DSDT + 8, FADT_LEN - FADT_X_DSDT - 8);
}

Test(acpi, every_short_buffer_returns_enospc_with_pci)
{
	struct acpi_config c = { .ncpus = 2, .base_gpa = GUEST_ACPI_ADDR, .pci = true };
	struct acpi_image img;

	build_cfg(&img, 2, true);
	for (size_t len = 0; len < img.used; len++) {
		uint8_t *buf = malloc(len ? len : 1); /* exact size, so ASan sees overruns */

		cr_assert_not_null(buf);
		cr_assert_eq(acpi_build(&c, buf, len), -ENOSPC, "len %zu", len);
		free(buf);
	}
	cr_assert_eq(acpi_build(&c, img.buf, img.used), (ssize_t)img.used);
}
