/* boot.c: what the device tree at x0 (kvmini's or QEMU virt's) tells the guest: command line, GIC, UART. */
#include "boot.h"
#include "dtb.h"
#include "serial.h"

#include <stddef.h>

#define FDT_MAGIC      0xd00dfeedu
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE   2
#define FDT_PROP       3
#define FDT_NOP	       4
#define FDT_END	       9
#define FDT_MAX	       0x200000u /* kvmini's DTB_MAX */
#define CMDLINE_MAX    2048

/* One property as the walk meets it: (depth) 1 is the root node's; (node) counts the nodes begun. */
struct prop {
	unsigned int depth, node;
	const char *name;
	const uint8_t *val;
	uint32_t len;
};

typedef int (*prop_fn)(const struct prop *p, void *ctx); /* nonzero: stop the walk */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* Whether the string list (p) (a compatible) names (s). */
static int has_string(const struct prop *p, const char *s)
{
	uint32_t i = 0;

	if (!p->len || p->val[p->len - 1] != '\0')
		return 0;
	while (i < p->len) {
		const char *e = (const char *)p->val + i;

		if (streq(e, s))
			return 1;
		while (i < p->len && p->val[i])
			i++;
		i++;
	}
	return 0;
}

/* Call (fn) on each property of the tree at (fdt), in order, until it returns nonzero. -1: no valid tree. */
static int walk(const uint8_t *fdt, prop_fn fn, void *ctx)
{
	uint32_t total, off, size, strings, strings_size;
	const uint8_t *p, *end;
	unsigned int depth = 0, node = 0;

	if (!fdt || be32(fdt) != FDT_MAGIC || (total = be32(fdt + 4)) > FDT_MAX)
		return -1;
	off = be32(fdt + 8), strings = be32(fdt + 12), strings_size = be32(fdt + 32), size = be32(fdt + 36);
	if (off > total || size > total - off || strings > total || strings_size > total - strings)
		return -1;
	for (p = fdt + off, end = p + size; p + 4 <= end;) {
		uint32_t tok = be32(p), len, name;

		p += 4;
		if (tok == FDT_BEGIN_NODE) {
			depth++, node++;
			while (p < end && *p)
				p++;
			p = fdt + ((p + 1 - fdt + 3) & ~(size_t)3);
		} else if (tok == FDT_PROP && p + 8 <= end) {
			len = be32(p), name = be32(p + 4);
			p += 8;
			if (len > (size_t)(end - p) || name >= strings_size)
				return -1;
			if (fn(&(struct prop){ depth, node, (const char *)fdt + strings + name, p, len },
			       ctx))
				return 0;
			p += (len + 3) & ~3u;
		} else if (tok == FDT_END_NODE) {
			depth -= depth > 0;
		} else if (tok != FDT_NOP) {
			return 0; /* FDT_END, or something malformed */
		}
	}
	return 0;
}

static int find_bootargs(const struct prop *p, void *ctx)
{
	if (p->len && p->val[p->len - 1] == '\0' && streq(p->name, "bootargs")) {
		*(const char **)ctx = (const char *)p->val;
		return 1;
	}
	return 0;
}

/*
 * The devices walk: the root's #address-cells and #size-cells (both 2 in kvmini's and QEMU virt's
 * trees; they come before any child) size the reg entries of its children. A node's properties come
 * in any order (QEMU's libfdt inserts each new one first): each child is judged once its last is seen.
 */
struct devices {
	struct boot_config *cfg;
	uint32_t addr_cells, size_cells;
	unsigned int node; /* the child of the root whose properties these are */
	enum {
		NODE_OTHER,
		NODE_GIC,
		NODE_PL011,
		NODE_16550
	} kind;
	const uint8_t *reg;
	uint32_t reg_len;
	int uart_found;
};

/* Entry (i)'s address in the node's reg property, or 0 when it has none. */
static uint64_t reg_addr(const struct devices *d, uint32_t i)
{
	uint32_t cells = d->addr_cells + d->size_cells;
	uint64_t a = 0;

	if (!d->reg || d->addr_cells < 1 || d->addr_cells > 2 || d->size_cells > 2 ||
	    d->reg_len / 4 < (i + 1) * cells)
		return 0;
	for (uint32_t c = 0; c < d->addr_cells; c++)
		a = a << 32 | be32(d->reg + 4 * (i * cells + c));
	return a;
}

/* What the node just walked tells: a GIC's frames, or the first UART. */
static void node_done(struct devices *d)
{
	uint64_t a;

	if (d->kind == NODE_GIC) {
		if ((a = reg_addr(d, 0)))
			d->cfg->gicd = a;
		if ((a = reg_addr(d, 1)))
			d->cfg->gicr = a;
	} else if (d->kind != NODE_OTHER && !d->uart_found && (a = reg_addr(d, 0))) {
		d->cfg->uart = a;
		d->cfg->uart_pl011 = d->kind == NODE_PL011;
		d->uart_found = 1;
	}
	d->kind = NODE_OTHER;
	d->reg = NULL;
}

static int find_devices(const struct prop *p, void *ctx)
{
	struct devices *d = ctx;

	if (p->depth == 1 && p->len == 4 && streq(p->name, "#address-cells"))
		d->addr_cells = be32(p->val);
	else if (p->depth == 1 && p->len == 4 && streq(p->name, "#size-cells"))
		d->size_cells = be32(p->val);
	if (p->depth != 2)
		return 0;
	if (p->node != d->node) {
		node_done(d);
		d->node = p->node;
	}
	if (streq(p->name, "compatible"))
		d->kind = has_string(p, "arm,gic-v3")  ? NODE_GIC
			  : has_string(p, "arm,pl011") ? NODE_PL011
			  : has_string(p, "ns16550a")  ? NODE_16550
						       : NODE_OTHER;
	else if (streq(p->name, "reg"))
		d->reg = p->val, d->reg_len = p->len;
	return 0;
}

void boot_devices(uint64_t dtb, struct boot_config *cfg)
{
	struct devices d = { .cfg = cfg, .addr_cells = 2, .size_cells = 1 }; /* the spec's defaults */

	cfg->gicd = ARM64_GICD_BASE;
	cfg->gicr = ARM64_GICR_BASE;
	cfg->uart = ARM64_UART_BASE;
	cfg->uart_pl011 = 0;
	walk((const uint8_t *)(uintptr_t)dtb, find_devices, &d);
	node_done(&d);
}

int boot_parse(uint64_t dtb, struct boot_config *cfg)
{
	const char *s = NULL;

	walk((const uint8_t *)(uintptr_t)dtb, find_bootargs, &s);
	cmdline_defaults(&cfg->cmd);
	if (!s) {
		serial_puts("exitlat: no bootargs in the device tree at x0: using the defaults\n");
		return -1;
	}
	cmdline_parse(s, CMDLINE_MAX, 0, &cfg->cmd);
	return 0;
}
