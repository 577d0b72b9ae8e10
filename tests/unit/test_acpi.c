/* test_acpi.c: parses what acpi_build() generates, against the ACPI 6.5 layouts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "layout.h"

#define BUF_LEN		16384	/* well above what 255 vCPUs need */
#define HDR_LEN		36
#define FADT_LEN	276

/* Offsets from the ACPI 6.5 spec, written out here rather than taken from acpi.c. */
#define FADT_DSDT		40
#define FADT_SCI_INT		46
#define FADT_SMI_CMD		48
#define FADT_PM1A_EVT_BLK	56
#define FADT_PM_TMR_BLK		76
#define FADT_IAPC_BOOT_ARCH	109
#define FADT_FLAGS		112
#define FADT_RESET_REG		116
#define FADT_RESET_VALUE	128
#define FADT_MINOR_VERSION	131
#define FADT_X_FIRMWARE_CTRL	132
#define FADT_X_DSDT		140
#define FADT_X_PM1A_EVT_BLK	148
#define FADT_SLEEP_CONTROL_REG	244
#define FADT_SLEEP_STATUS_REG	256

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

static void build(struct acpi_image *img, uint32_t ncpus)
{
	struct acpi_config c = { .ncpus = ncpus, .base_gpa = GUEST_ACPI_ADDR };
	ssize_t ret = acpi_build(&c, img->buf, sizeof(img->buf));

	cr_assert_gt(ret, 0, "acpi_build(ncpus %u) returned %zd", ncpus, ret);
	img->used = (size_t)ret;
}

/* The table at guest address (gpa), checked to lie wholly inside what was built. */
static const uint8_t *table_at(const struct acpi_image *img, uint64_t gpa)
{
	uint64_t off = gpa - GUEST_ACPI_ADDR;

	cr_assert(gpa >= GUEST_ACPI_ADDR && off + HDR_LEN <= img->used, "table 0x%lx outside",
		  (unsigned long)gpa);
	cr_assert_leq(off + le32(img->buf + off + 4), img->used, "table 0x%lx overruns",
		      (unsigned long)gpa);
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

static const uint8_t *memmem_or_fail(const uint8_t *hay, size_t n, const void *needle,
				     size_t m)
{
	for (size_t i = 0; i + m <= n; i++) {
		if (!memcmp(hay + i, needle, m))
			return hay + i;
	}
	cr_assert_fail("byte pattern not found in the DSDT");
	return NULL;
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
		uint8_t *buf = malloc(len ? len : 1);	/* exact size, so ASan sees overruns */

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
Test(acpi, dsdt_sb_scope_pkglength_spans_rest_of_table)
{
	struct acpi_image img;
	const uint8_t *d, *p, *end;
	size_t len, n;

	build(&img, 1);
	d = dsdt(&img);
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

Test(acpi, dsdt_com1_has_pnp0501_io_3f8_and_irq_4)
{
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	static const uint8_t crs[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08,
				       0x22, 0x10, 0x00, 0x79 };
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
	static const uint8_t crs[] = { 0x47, 0x01, PORT_PVPANIC & 0xff, PORT_PVPANIC >> 8,
				       PORT_PVPANIC & 0xff, PORT_PVPANIC >> 8, 0x01, 0x01, 0x79 };
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
