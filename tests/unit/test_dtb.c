/* test_dtb.c: parses what dtb_build() writes back with libfdt and checks the arm64 tree node by node. */
#include <criterion/criterion.h>
#include <errno.h>
#include <libfdt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtb.h"

/* Paths and values from the bindings, written out here rather than taken from dtb.c. */
#define GIC_PATH    "/interrupt-controller@8000000"
#define ITS_PATH    GIC_PATH "/msi-controller@8080000"
#define UART_PATH   "/serial@9000000"
#define PCI_PATH    "/pci@10000000"
#define GIC_SPI	    0
#define GIC_PPI	    1
#define EDGE_RISING 1
#define LEVEL_LOW   8

#define MIB	(1ULL << 20)
#define GIB	(1ULL << 30)
#define CMDLINE "console=ttyS0 earlycon panic=-1"

/* Big enough for any tree; 8-byte aligned as dtb_build wants. */
static uint64_t blob[DTB_MAX / sizeof(uint64_t)];

static struct dtb_config config(uint32_t ncpus)
{
	return (struct dtb_config){
		.ram_base = 0x40000000,
		.ram_size = 256 * MIB,
		.ncpus = ncpus,
		.cmdline = CMDLINE,
	};
}

/* dtb_build into (buf, size) with stderr captured into (msg). */
static int build_logged(void *buf, size_t size, const struct dtb_config *c, char *msg, size_t len)
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO), ret;
	size_t n;

	cr_assert_not_null(f);
	fflush(stderr);
	cr_assert_eq(dup2(fileno(f), STDERR_FILENO), STDERR_FILENO);
	ret = dtb_build(buf, size, c);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(msg, 1, len - 1, f);
	msg[n] = '\0';
	fclose(f);
	return ret;
}

/* A refused build: its return value, having checked that it logged exactly one line. */
static int refused(void *buf, size_t size, const struct dtb_config *c, const char *needle)
{
	char msg[4096];
	int ret = build_logged(buf, size, c, msg, sizeof(msg));
	const char *nl = strchr(msg, '\n');

	cr_assert_neq(ret, 0, "the build succeeded");
	cr_assert(nl && nl[1] == '\0', "not one line: '%s'", msg);
	cr_assert_not_null(strstr(msg, needle), "'%s' not in '%s'", needle, msg);
	return ret;
}

/* Build (c) into blob and check the header; the blob. */
static const void *build(const struct dtb_config *c)
{
	char msg[4096];

	cr_assert_eq(build_logged(blob, sizeof(blob), c, msg, sizeof(msg)), 0, "dtb_build failed: %s", msg);
	cr_assert_str_empty(msg, "a good build logged '%s'", msg);
	cr_assert_eq(fdt_check_header(blob), 0);
	return blob;
}

static int node(const void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);

	cr_assert_geq(off, 0, "%s: %s", path, fdt_strerror(off));
	return off;
}

static const void *get(const void *fdt, const char *path, const char *name, int *len)
{
	const void *p = fdt_getprop(fdt, node(fdt, path), name, len);

	cr_assert_not_null(p, "%s has no %s", path, name);
	return p;
}

static const char *str(const void *fdt, const char *path, const char *name)
{
	int len;
	const char *s = get(fdt, path, name, &len);

	cr_assert_gt(len, 0);
	cr_assert_eq(s[len - 1], '\0', "%s %s is not a string", path, name);
	cr_assert_eq(strlen(s) + 1, (size_t)len, "%s %s holds more than one string", path, name);
	return s;
}

static void expect_cells(const void *fdt, const char *path, const char *name, const uint32_t *want, int n)
{
	int len;
	const fdt32_t *p = get(fdt, path, name, &len);

	cr_assert_eq(len, n * 4, "%s %s: %d bytes, not %d cells", path, name, len, n);
	for (int i = 0; i < n; i++)
		cr_assert_eq(fdt32_to_cpu(p[i]), want[i], "%s %s cell %d: %#x, not %#x", path, name, i,
			     fdt32_to_cpu(p[i]), want[i]);
}

static uint32_t u32(const void *fdt, const char *path, const char *name)
{
	uint32_t v;
	int len;
	const void *p = get(fdt, path, name, &len);

	cr_assert_eq(len, 4, "%s %s is not one cell", path, name);
	memcpy(&v, p, 4);
	return fdt32_to_cpu(v);
}

static uint64_t u64(const void *fdt, const char *path, const char *name)
{
	uint64_t v;
	int len;
	const void *p = get(fdt, path, name, &len);

	cr_assert_eq(len, 8, "%s %s is not two cells", path, name);
	memcpy(&v, p, 8);
	return fdt64_to_cpu(v);
}

static void expect_empty(const void *fdt, const char *path, const char *name)
{
	int len;

	get(fdt, path, name, &len);
	cr_assert_eq(len, 0, "%s %s should be a boolean", path, name);
}

static void expect_absent(const void *fdt, const char *path, const char *name)
{
	cr_assert_null(fdt_getprop(fdt, node(fdt, path), name, NULL), "%s has %s", path, name);
}

/* A reg or ranges pair of the root's 2 + 2 cells, for expect_cells. */
static void pair(uint32_t *cells, uint64_t a, uint64_t b)
{
	cells[0] = (uint32_t)(a >> 32);
	cells[1] = (uint32_t)a;
	cells[2] = (uint32_t)(b >> 32);
	cells[3] = (uint32_t)b;
}

static void expect_reg(const void *fdt, const char *path, uint64_t base, uint64_t size)
{
	uint32_t want[4];

	pair(want, base, size);
	expect_cells(fdt, path, "reg", want, 4);
}

Test(fdt, blob_is_a_valid_packed_version_17_tree)
{
	const void *fdt = build(&(struct dtb_config){ .ram_base = 0x40000000, .ram_size = GIB, .ncpus = 2 });

	cr_assert_eq(fdt_magic(fdt), FDT_MAGIC);
	cr_assert_eq(fdt_version(fdt), 17);
	cr_assert_eq(fdt_num_mem_rsv(fdt), 0, "Linux reserves the blob and the initrd itself");
	cr_assert_eq(fdt_totalsize(fdt), fdt_off_dt_strings(fdt) + fdt_size_dt_strings(fdt), "not packed");
	cr_assert_eq(dtb_size(fdt), fdt_totalsize(fdt));
	cr_assert_lt(dtb_size(fdt), 4096, "%zu bytes for 2 vCPUs", dtb_size(fdt));
}

Test(fdt, blob_size_of_garbage_is_0)
{
	static const uint64_t junk[8] = { 0x0123456789abcdefULL };

	cr_assert_eq(dtb_size(junk), 0);
	cr_assert_eq(dtb_size(NULL), 0);
}

Test(fdt, same_config_gives_the_same_bytes)
{
	struct dtb_config c = config(8);
	static uint64_t first[DTB_MAX / sizeof(uint64_t)];
	size_t n;

	cr_assert_eq(dtb_build(first, sizeof(first), &c), 0);
	n = dtb_size(first);
	build(&c);
	cr_assert_eq(dtb_size(blob), n);
	cr_assert_eq(memcmp(first, blob, n), 0);
}

Test(fdt, root_is_dummy_virt_with_2_cells_and_the_gic_as_interrupt_parent)
{
	struct dtb_config c = config(1);
	const void *fdt = build(&c);
	int len;
	const char *compat = get(fdt, "/", "compatible", &len);

	cr_assert_eq(len, (int)sizeof("linux,dummy-virt"));
	cr_assert_str_eq(compat, "linux,dummy-virt");
	cr_assert_str_eq(str(fdt, "/", "model"), "kvmini");
	cr_assert_eq(u32(fdt, "/", "#address-cells"), 2);
	cr_assert_eq(u32(fdt, "/", "#size-cells"), 2);
	cr_assert_eq(u32(fdt, "/", "interrupt-parent"), fdt_get_phandle(fdt, node(fdt, GIC_PATH)));
	cr_assert_neq(fdt_get_phandle(fdt, node(fdt, GIC_PATH)), 0);
}

Test(fdt, memory_reg_is_ram_base_and_size)
{
	struct dtb_config c = config(1);
	const void *fdt = build(&c);

	cr_assert_str_eq(str(fdt, "/memory@40000000", "device_type"), "memory");
	expect_reg(fdt, "/memory@40000000", 0x40000000, 256 * MIB);
}

Test(fdt, memory_above_4_gib_uses_both_cells)
{
	struct dtb_config c = config(1);
	const void *fdt;

	c.ram_size = 6 * GIB + 2 * MIB;
	fdt = build(&c);
	expect_reg(fdt, "/memory@40000000", 0x40000000, 6 * GIB + 2 * MIB);
}

/* (n) cpu nodes under /cpus, reg the KVM affinity, enable-method psci, and nothing else there. */
static void expect_cpus(uint32_t n)
{
	struct dtb_config c = config(n);
	const void *fdt = build(&c);
	char path[64];
	uint32_t count = 0;
	int sub;

	cr_assert_eq(u32(fdt, "/cpus", "#address-cells"), 1);
	cr_assert_eq(u32(fdt, "/cpus", "#size-cells"), 0);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t aff = (i >> 4) << 8 | (i & 0xf); /* KVM's reset MPIDR, below 4096 vCPUs */

		snprintf(path, sizeof(path), "/cpus/cpu@%x", aff);
		cr_assert_eq(u32(fdt, path, "reg"), aff, "%s", path);
		cr_assert_str_eq(str(fdt, path, "enable-method"), "psci");
		cr_assert_str_eq(str(fdt, path, "device_type"), "cpu");
		cr_assert_str_eq(str(fdt, path, "compatible"), "arm,armv8");
	}
	fdt_for_each_subnode(sub, fdt, node(fdt, "/cpus")) count++;
	cr_assert_eq(count, n, "%u cpu nodes for %u vCPUs", count, n);
}

Test(fdt, one_vcpu_has_cpu_0)
{
	expect_cpus(1);
}

Test(fdt, two_vcpus_have_cpu_0_and_1)
{
	expect_cpus(2);
}

Test(fdt, eight_vcpus_have_cpu_0_to_7)
{
	expect_cpus(8);
}

Test(fdt, vcpu_16_is_aff1_1_as_kvm_assigns)
{
	expect_cpus(17);
	cr_assert_eq(u32(blob, "/cpus/cpu@100", "reg"), 0x100);
	cr_assert_eq(dtb_cpu_affinity(0), 0);
	cr_assert_eq(dtb_cpu_affinity(15), 0xf);
	cr_assert_eq(dtb_cpu_affinity(16), 0x100);
	cr_assert_eq(dtb_cpu_affinity(511), 0x1f0f);
	cr_assert_eq(dtb_cpu_affinity(4096), 0x10000);
}

Test(fdt, max_vcpus_fit_in_the_blob_limit)
{
	expect_cpus(ARM64_MAX_CPUS);
	cr_assert_leq(dtb_size(blob), DTB_MAX);
}

Test(fdt, psci_is_1_0_then_0_2_over_hvc)
{
	static const char compat[] = "arm,psci-1.0\0arm,psci-0.2";
	struct dtb_config c = config(2);
	const void *fdt = build(&c);
	int len;
	const void *p = get(fdt, "/psci", "compatible", &len);

	cr_assert_eq(len, (int)sizeof(compat));
	cr_assert_eq(memcmp(p, compat, sizeof(compat)), 0);
	cr_assert_eq(fdt_node_check_compatible(fdt, node(fdt, "/psci"), "arm,psci-0.2"), 0);
	cr_assert_str_eq(str(fdt, "/psci", "method"), "hvc");
	expect_absent(fdt, "/psci", "cpu_on"); /* PSCI 0.1's function IDs: not for 0.2 and later */
}

Test(fdt, timer_has_the_four_ppis_level_low_without_cpu_mask)
{
	const uint32_t want[] = {
		GIC_PPI, 13, LEVEL_LOW, GIC_PPI, 14, LEVEL_LOW,
		GIC_PPI, 11, LEVEL_LOW, GIC_PPI, 10, LEVEL_LOW,
	};
	struct dtb_config c = config(8);
	const void *fdt = build(&c);

	cr_assert_str_eq(str(fdt, "/timer", "compatible"), "arm,armv8-timer");
	expect_cells(fdt, "/timer", "interrupts", want, 12);
	expect_empty(fdt, "/timer", "always-on");
}

/* The GIC's reg for (n) vCPUs: the distributor, then 128 KiB of redistributor per vCPU. */
static void expect_gic(uint32_t n)
{
	struct dtb_config c = config(n);
	const void *fdt = build(&c);
	uint32_t want[8];

	pair(want, 0x08000000, 0x10000);
	pair(want + 4, 0x0a000000, 0x20000ULL * n);
	cr_assert_str_eq(str(fdt, GIC_PATH, "compatible"), "arm,gic-v3");
	cr_assert_eq(u32(fdt, GIC_PATH, "#interrupt-cells"), 3);
	expect_empty(fdt, GIC_PATH, "interrupt-controller");
	expect_cells(fdt, GIC_PATH, "reg", want, 8);
	cr_assert_eq(u32(fdt, GIC_PATH, "#address-cells"), 2);
	cr_assert_eq(u32(fdt, GIC_PATH, "#size-cells"), 2);
	expect_empty(fdt, GIC_PATH, "ranges");
}

Test(fdt, gic_v3_has_a_redistributor_pair_for_1_vcpu)
{
	expect_gic(1);
}

Test(fdt, gic_v3_has_redistributor_pairs_for_2_vcpus)
{
	expect_gic(2);
}

Test(fdt, gic_v3_has_redistributor_pairs_for_8_vcpus)
{
	expect_gic(8);
}

Test(fdt, gic_redistributors_for_max_vcpus_end_before_pci)
{
	expect_gic(ARM64_MAX_CPUS);
	cr_assert_leq(ARM64_GICR_BASE + ARM64_GICR_REGION, ARM64_PCI_ECAM_BASE);
}

Test(fdt, its_is_the_gics_msi_controller_child)
{
	struct dtb_config c = config(2);
	const void *fdt = build(&c);

	cr_assert_eq(fdt_parent_offset(fdt, node(fdt, ITS_PATH)), node(fdt, GIC_PATH));
	cr_assert_str_eq(str(fdt, ITS_PATH, "compatible"), "arm,gic-v3-its");
	expect_empty(fdt, ITS_PATH, "msi-controller");
	cr_assert_eq(u32(fdt, ITS_PATH, "#msi-cells"), 1);
	expect_reg(fdt, ITS_PATH, 0x08080000, 0x20000);
	cr_assert_neq(fdt_get_phandle(fdt, node(fdt, ITS_PATH)), 0);
	cr_assert_neq(fdt_get_phandle(fdt, node(fdt, ITS_PATH)), fdt_get_phandle(fdt, node(fdt, GIC_PATH)));
}

Test(fdt, pci_is_an_ecam_host_bridge_for_bus_0_with_msi_through_the_its)
{
	struct dtb_config c = config(2);
	const void *fdt = build(&c);
	const uint32_t bus_range[] = { 0, 0 };
	const uint32_t ranges[] = { 0x02000000, 0, 0x20000000, 0, 0x20000000, 0, 0x20000000 };
	const uint32_t msi_map[] = { 0, fdt_get_phandle(fdt, node(fdt, ITS_PATH)), 0, 0x100 };

	cr_assert_str_eq(str(fdt, PCI_PATH, "compatible"), "pci-host-ecam-generic");
	cr_assert_str_eq(str(fdt, PCI_PATH, "device_type"), "pci");
	cr_assert_eq(u32(fdt, PCI_PATH, "#address-cells"), 3);
	cr_assert_eq(u32(fdt, PCI_PATH, "#size-cells"), 2);
	expect_reg(fdt, PCI_PATH, 0x10000000, 0x100000);
	expect_cells(fdt, PCI_PATH, "bus-range", bus_range, 2);
	expect_cells(fdt, PCI_PATH, "ranges", ranges, 7);
	expect_cells(fdt, PCI_PATH, "msi-map", msi_map, 4);
	expect_empty(fdt, PCI_PATH, "dma-coherent");
	expect_absent(fdt, PCI_PATH, "interrupt-map"); /* MSI only: kvmini's devices raise no INTx */
}

Test(fdt, pci_mmio64_adds_the_64_bit_window_after_ram)
{
	struct dtb_config c = config(2);
	const uint32_t ranges[] = {
		0x02000000, 0,	  0x20000000, 0,    0x20000000, 0,    0x20000000,
		0x03000000, 0x80, 0,	      0x80, 0,		0x10, 0,
	};
	const void *fdt;

	c.pci_mmio64 = true;
	fdt = build(&c);
	expect_cells(fdt, PCI_PATH, "ranges", ranges, 14);
}

Test(fdt, uart_is_a_16550a_on_edge_spi_1)
{
	struct dtb_config c = config(1);
	const void *fdt = build(&c);
	const uint32_t irq[] = { GIC_SPI, 1, EDGE_RISING };

	cr_assert_str_eq(str(fdt, UART_PATH, "compatible"), "ns16550a");
	expect_reg(fdt, UART_PATH, 0x09000000, 0x1000);
	expect_cells(fdt, UART_PATH, "interrupts", irq, 3);
	cr_assert_eq(u32(fdt, UART_PATH, "clock-frequency"), 1843200);
}

Test(fdt, chosen_has_bootargs_and_stdout_path_to_the_uart)
{
	struct dtb_config c = config(2);
	const void *fdt = build(&c);

	cr_assert_str_eq(str(fdt, "/chosen", "bootargs"), CMDLINE);
	cr_assert_str_eq(str(fdt, "/chosen", "stdout-path"), UART_PATH);
	cr_assert_eq(node(fdt, str(fdt, "/chosen", "stdout-path")), node(fdt, UART_PATH));
	cr_assert_eq(node(fdt, "serial0"), node(fdt, UART_PATH), "the serial0 alias");
}

Test(fdt, no_initrd_means_no_initrd_properties)
{
	struct dtb_config c = config(1);
	const void *fdt = build(&c);

	expect_absent(fdt, "/chosen", "linux,initrd-start");
	expect_absent(fdt, "/chosen", "linux,initrd-end");
}

Test(fdt, initrd_start_and_exclusive_end_are_64_bit)
{
	struct dtb_config c = config(2);
	const void *fdt;

	c.initrd_start = 0x48000000;
	c.initrd_size = 0x1234567;
	fdt = build(&c);
	cr_assert_eq(u64(fdt, "/chosen", "linux,initrd-start"), 0x48000000);
	cr_assert_eq(u64(fdt, "/chosen", "linux,initrd-end"), 0x48000000 + 0x1234567);
}

Test(fdt, initrd_above_4_gib_keeps_its_high_bits)
{
	struct dtb_config c = config(8);
	const void *fdt;

	c.ram_size = 8 * GIB;
	c.initrd_start = 0x40000000 + 8 * GIB - 64 * MIB;
	c.initrd_size = 64 * MIB; /* ends exactly at the end of RAM */
	fdt = build(&c);
	cr_assert_eq(u64(fdt, "/chosen", "linux,initrd-start"), 0x40000000 + 8 * GIB - 64 * MIB);
	cr_assert_eq(u64(fdt, "/chosen", "linux,initrd-end"), 0x40000000 + 8 * GIB);
}

Test(fdt, null_cmdline_gives_empty_bootargs)
{
	struct dtb_config c = config(1);
	const void *fdt;

	c.cmdline = NULL;
	fdt = build(&c);
	cr_assert_str_eq(str(fdt, "/chosen", "bootargs"), "");
}

/* A command line of (len) bytes: "a=1 a=1 ...", ending in 'x'. */
static char *cmdline_of(size_t len)
{
	char *s = malloc(len + 1);

	cr_assert_not_null(s);
	for (size_t i = 0; i < len; i++)
		s[i] = "a=1 "[i % 4];
	s[len - 1] = 'x';
	s[len] = '\0';
	return s;
}

Test(fdt, cmdline_at_the_limit_is_kept_whole)
{
	struct dtb_config c = config(2);
	char *line = cmdline_of(DTB_CMDLINE_MAX - 1);
	const void *fdt;

	c.cmdline = line;
	fdt = build(&c);
	cr_assert_str_eq(str(fdt, "/chosen", "bootargs"), line);
	free(line);
}

Test(fdt, cmdline_past_the_limit_returns_einval)
{
	struct dtb_config c = config(2);
	char *line = cmdline_of(DTB_CMDLINE_MAX);

	c.cmdline = line;
	cr_assert_eq(refused(blob, sizeof(blob), &c, "--cmdline is 2048 bytes"), -EINVAL);
	free(line);
}

Test(fdt, cmdline_too_long_for_the_buffer_returns_enospc)
{
	struct dtb_config c = config(2);
	char *line = cmdline_of(DTB_CMDLINE_MAX - 1);
	size_t short_size;

	c.cmdline = "";
	build(&c);
	short_size = dtb_size(blob) + 1024; /* room for the tree, not for 2047 more bytes */
	c.cmdline = line;
	cr_assert_eq(refused(blob, short_size, &c, "node chosen, bootargs: FDT_ERR_NOSPACE"), -ENOSPC);
	free(line);
}

Test(fdt, every_short_buffer_returns_enospc_and_the_exact_size_fits)
{
	struct dtb_config c = config(2);
	size_t need;

	c.initrd_start = 0x44000000;
	c.initrd_size = MIB;
	build(&c);
	need = dtb_size(blob);
	for (size_t size = 0; size < need; size += (size < 64 || size > need - 64) ? 1 : 61)
		cr_assert_eq(refused(blob, size, &c, "FDT_ERR_NOSPACE"), -ENOSPC, "%zu of %zu bytes", size,
			     need);
	cr_assert_eq(dtb_build(blob, need, &c), 0, "%zu bytes", need);
	cr_assert_eq(dtb_size(blob), need);
}

Test(fdt, bad_configs_return_einval)
{
	struct dtb_config c = config(0);

	cr_assert_eq(refused(blob, sizeof(blob), &c, "--cpus 0"), -EINVAL);
	c = config(ARM64_MAX_CPUS + 1);
	cr_assert_eq(refused(blob, sizeof(blob), &c, "--cpus 513"), -EINVAL);
	c = config(1);
	c.ram_size = 0;
	cr_assert_eq(refused(blob, sizeof(blob), &c, "--mem"), -EINVAL);
	c = config(1);
	c.ram_base = 0x3fff0000; /* on the PCI window */
	cr_assert_eq(refused(blob, sizeof(blob), &c, "--mem"), -EINVAL);
	c = config(1);
	c.ram_size = ARM64_RAM_END - 0x40000000 + 4096; /* into the 64-bit PCI window */
	cr_assert_eq(refused(blob, sizeof(blob), &c, "--mem"), -EINVAL);
	c = config(1);
	c.ram_base = UINT64_MAX - MIB; /* base + size wraps */
	c.ram_size = 2 * MIB;
	cr_assert_eq(refused(blob, sizeof(blob), &c, "--mem"), -EINVAL);
}

Test(fdt, initrd_outside_ram_returns_einval)
{
	struct dtb_config c = config(1);

	c.initrd_start = 0x40000000 + 256 * MIB - 4096;
	c.initrd_size = 8192; /* runs 4 KiB past the end of RAM */
	cr_assert_eq(refused(blob, sizeof(blob), &c, "--initrd"), -EINVAL);
	c.initrd_start = 0x3ffff000; /* starts below RAM */
	c.initrd_size = 4096;
	cr_assert_eq(refused(blob, sizeof(blob), &c, "--initrd"), -EINVAL);
	c.initrd_start = UINT64_MAX - 4095; /* start + size wraps */
	cr_assert_eq(refused(blob, sizeof(blob), &c, "--initrd"), -EINVAL);
}

Test(fdt, null_or_misaligned_buffer_returns_einval)
{
	struct dtb_config c = config(1);

	cr_assert_eq(refused(NULL, sizeof(blob), &c, "no buffer"), -EINVAL);
	cr_assert_eq(refused(blob, sizeof(blob), NULL, "no configuration"), -EINVAL);
	cr_assert_eq(refused((char *)blob + 4, sizeof(blob) - 4, &c, "8-byte aligned"), -EINVAL);
}

Test(fdt, a_buffer_beyond_2_mib_still_gives_a_blob_within_it)
{
	struct dtb_config c = config(2);
	static uint64_t big[2 * DTB_MAX / sizeof(uint64_t)];

	cr_assert_eq(dtb_build(big, sizeof(big), &c), 0);
	cr_assert_eq(fdt_check_header(big), 0);
	cr_assert_leq(dtb_size(big), DTB_MAX);
}

Test(fdt, every_libfdt_error_maps_to_a_negative_errno)
{
	cr_assert_eq(dtb_errno(-FDT_ERR_NOSPACE), -ENOSPC);
	cr_assert_eq(dtb_errno(-FDT_ERR_EXISTS), -EEXIST);
	cr_assert_eq(dtb_errno(-FDT_ERR_NOTFOUND), -ENOENT);
	cr_assert_eq(dtb_errno(-FDT_ERR_BADVALUE), -EINVAL);
	cr_assert_eq(dtb_errno(-FDT_ERR_BADMAGIC), -EIO);
	cr_assert_eq(dtb_errno(0), 0);
	cr_assert_eq(dtb_errno(12), 12);
	for (int e = 1; e <= FDT_ERR_MAX + 4; e++) {
		cr_assert_lt(dtb_errno(-e), 0, "FDT error %d", e);
		if (e != FDT_ERR_NOSPACE)
			cr_assert_neq(dtb_errno(-e), -ENOSPC, "only NOSPACE is -ENOSPC, not error %d", e);
	}
}

Test(fdt, layout_regions_are_64k_aligned_and_disjoint)
{
	const uint64_t r[][2] = {
		{ ARM64_GICD_BASE, ARM64_GICD_SIZE },
		{ ARM64_GITS_BASE, ARM64_GITS_SIZE },
		{ ARM64_UART_BASE, ARM64_UART_SIZE },
		{ ARM64_GICR_BASE, ARM64_GICR_REGION },
		{ ARM64_PCI_ECAM_BASE, ARM64_PCI_ECAM_SIZE },
		{ ARM64_PCI_MMIO32_BASE, ARM64_PCI_MMIO32_SIZE },
		{ ARM64_RAM_BASE, ARM64_RAM_END - ARM64_RAM_BASE },
		{ ARM64_PCI_MMIO64_BASE, ARM64_PCI_MMIO64_SIZE },
	};
	const size_t n = sizeof(r) / sizeof(r[0]);

	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(r[i][0] % 0x10000, 0, "region %zu at %#llx", i, (unsigned long long)r[i][0]);
		if (i + 1 < n)
			cr_assert_leq(r[i][0] + r[i][1], r[i + 1][0], "region %zu runs into %zu", i, i + 1);
	}
	cr_assert_leq(ARM64_PCI_MMIO64_BASE + ARM64_PCI_MMIO64_SIZE, 1ULL << 40, "beyond a 40-bit IPA space");
}
