/*
 * fuzz_pci.c: libFuzzer target for PCI configuration space and MSI-X: a hostile guest's config cycles
 * (mechanism #1 at 0xcf8/0xcfc, and ECAM), its accesses through the bus's BAR windows, and the MSI-X
 * table and PBA behind them, in any order and width, on a bus of four functions and the host bridge.
 *
 * Input: fuzz_ops.h's op stream with a 4-byte argument (a). The targets:
 *   0: ECAM at offset a (bus 27:20, device 19:15, function 14:12, register 11:0; none past 256 MiB)
 *   1: CONFIG_ADDRESS, the device at 0xcf8          2: CONFIG_DATA at 0xcfc + a % 4
 *   3: the memory window at a % 512 MiB             4: the I/O window at a % 16 KiB
 *   5: BAR sizing as Linux does it, by ECAM or, when a has bit 16, by the ports: slot a % 6 (0 the host
 *      bridge, 5 empty), BAR (a >> 8) % 6: read it, write all-ones, read the mask, write it back
 *   6: the function in slot 1 (3 when a has bit 0) signals MSI-X vector (a >> 8) % 64, or with bit 1
 *      clears its pending bit
 * The functions (slot: BARs; the rest):
 *   1: I/O 256 B, mem32 4 KiB (MSI-X: 64 vectors, table at 0, PBA at 0x800), mem64 prefetchable
 *      64 KiB, I/O 16 B at BAR 5; a vendor capability with writable bytes
 *   2: mem64 1 MiB, mem32 8 KiB at BAR 4; only a bar_moved hook
 *   3: mem32 4 KiB (MSI-X: 1 vector, PBA at 0, table at 0x100); vendor capabilities to the end of the space
 *   4: no hooks at all: mem32 256 MiB, I/O 16 B at BAR 3
 * Each input gets a fresh bus, laid out as pci_bus_add() places it.
 *
 * Checked (a read as it returns, the whole state after each write), against pci.h and msix.h: a bit outside
 * a function's write mask keeps its value (a write-1-to-clear bit may only clear), so ids never change; a
 * config write leaves exactly the masked value and nothing else changes; a config read returns the
 * function's bytes, all-ones for an absent function or a bad width or alignment, zeros past the 256 bytes;
 * CONFIG_ADDRESS reads back as written, reserved bits clear; sizing reads back the size mask and the restore
 * holds; each BAR decodes where its registers and the command register say, as bar_moved said; a window
 * access reaches the BAR that decodes it, at the right offset (all-ones where none does); MSI-X table writes
 * land masked, reads return the table (zeros for a bad width or alignment), the PBA holds only masked
 * vectors' bits, and vector_changed has told each vector's effective state, never the same twice.
 *
 * Build: make build/tests/fuzz/fuzz_pci
 * Seeds:  cc -std=c11 -D_GNU_SOURCE -DFUZZ_SEED_MAIN -Ivmm -Idevices -Idevices/base tests/fuzz/fuzz_pci.c devices/pci.c \
 *            devices/msix.c -lpthread -o /tmp/pci-seeds && /tmp/pci-seeds tests/fuzz/corpus/pci
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ops.h"
#include "msix.h"
#include "pci.h"

#define MMIO_START 0xc0000000ULL
#define MMIO_SIZE  0x20000000ULL
#define IO_START   0xc000ULL
#define IO_SIZE	   0x4000ULL
#define NR_FNS	   4
#define NR_SLOTS   (NR_FNS + 1) /* the host bridge and the functions */
#define ARG_LEN	   4
#define VENDOR	   0x1234
#define DEVICE(i)  (0x1100 + (i))
#define SIZE_PORTS (1u << 16) /* op 5: size through the ports */
#define SLOT_SHIFT 15
#define CA_ENABLE  0x80000000u
#define CA_MASK	   0x80fffffcu /* what CONFIG_ADDRESS keeps */

enum target {
	T_ECAM,
	T_CONFIG_ADDRESS,
	T_CONFIG_DATA,
	T_MMIO,
	T_IO,
	T_SIZE_BAR,
	T_MSIX,
	NR_TARGETS
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A function on the bus: what its hooks were told. */
struct fn {
	struct pci_dev pci;
	struct msix msix;
	bool has_msix;
	unsigned int msix_bar;
	uint32_t table_off, pba_off;
	uint64_t moved[PCI_NR_BARS];		/* where bar_moved last said each BAR decodes */
	struct msix_msg told[MSIX_MAX_VECTORS]; /* what vector_changed last said of each vector */
	unsigned int calls;			/* BAR accesses in this op, the last one below */
	unsigned int bar;
	uint64_t off;
	uint32_t len;
};

/* What the target keeps: the bus of the input being run, and what the checks compare it with. */
static struct {
	struct pci_bus bus;
	struct fn fn[NR_FNS];
	uint8_t expect[NR_SLOTS][PCI_CFG_SIZE]; /* each function's config space as it must be after the op */
	uint8_t table[MSIX_MAX_VECTORS * PCI_MSIX_ENTRY_SIZE]; /* an MSI-X table as it must be */
	uint32_t config_address;
} fz;

/* A failed invariant: crash loudly so that libFuzzer keeps the input. */
static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "pci invariant broken: %s\n", what);
		abort();
	}
}

static struct pci_dev *slot_dev(unsigned int slot)
{
	if (slot == 0)
		return &fz.bus.host_bridge;
	return slot <= NR_FNS ? &fz.fn[slot - 1].pci : NULL;
}

static struct fn *of(struct pci_dev *d)
{
	return container_of(d, struct fn, pci);
}

/* --- the functions' hooks ------------------------------------------------------------------------- */

static void fn_cfg_write(struct pci_dev *d, uint32_t off, uint32_t len)
{
	struct fn *f = of(d);

	check(off < PCI_CFG_SIZE && len <= PCI_CFG_SIZE - off, "cfg_write inside config space");
	if (f->has_msix)
		msix_cfg_write(&f->msix, off, len);
}

static void fn_bar_moved(struct pci_dev *d, unsigned int bar, uint64_t addr)
{
	struct fn *f = of(d);

	check(bar < PCI_NR_BARS && d->bar[bar].size, "bar_moved names a BAR the function has");
	check(addr != f->moved[bar], "bar_moved reports a change");
	f->moved[bar] = addr;
}

static uint8_t pattern(unsigned int bar, uint64_t off)
{
	return (uint8_t)(0x5a ^ bar ^ off * 7);
}

/* Where an access at (off) of the MSI-X BAR goes: the PBA (1), the table (2), or nowhere (0). */
static int msix_part(const struct fn *f, uint64_t off, uint64_t *rel)
{
	if (off >= f->pba_off && off - f->pba_off < MSIX_PBA_LEN) {
		*rel = off - f->pba_off;
		return 1;
	}
	if (off >= f->table_off) {
		*rel = off - f->table_off;
		return 2;
	}
	return 0;
}

static void record(struct fn *f, unsigned int bar, uint64_t off, uint32_t len)
{
	f->calls++;
	f->bar = bar;
	f->off = off;
	f->len = len;
}

static void fn_bar_read(struct pci_dev *d, unsigned int bar, uint64_t off, void *data, uint32_t len)
{
	struct fn *f = of(d);
	uint8_t *p = data;
	uint64_t rel;

	record(f, bar, off, len);
	if (f->has_msix && bar == f->msix_bar) {
		switch (msix_part(f, off, &rel)) {
		case 1:
			msix_pba_read(&f->msix, rel, data, len);
			break;
		case 2:
			msix_table_read(&f->msix, rel, data, len);
			break;
		}
		return;
	}
	for (uint32_t i = 0; i < len; i++)
		p[i] = pattern(bar, off + i);
}

static void fn_bar_write(struct pci_dev *d, unsigned int bar, uint64_t off, const void *data, uint32_t len)
{
	struct fn *f = of(d);
	uint64_t rel;

	record(f, bar, off, len);
	if (f->has_msix && bar == f->msix_bar && msix_part(f, off, &rel) == 2)
		msix_table_write(&f->msix, rel, data, len);
}

static void vector_changed(void *opaque, unsigned int vector, const struct msix_msg *msg)
{
	struct fn *f = opaque;
	struct msix_msg *was;

	check(vector < f->msix.cfg.nr_vectors, "vector_changed names a vector of the table");
	was = &f->told[vector];
	check(msg->masked != was->masked ||
		      (!msg->masked && (msg->addr != was->addr || msg->data != was->data)),
	      "vector_changed reports a change");
	check(!msg->pending || !msg->masked, "a pending message is sent only when unmasked");
	*was = *msg;
	was->pending = false;
}

static const struct pci_dev_ops fn_ops = {
	.cfg_write = fn_cfg_write,
	.bar_moved = fn_bar_moved,
	.bar_read = fn_bar_read,
	.bar_write = fn_bar_write,
};

static const struct pci_dev_ops moved_only_ops = { .bar_moved = fn_bar_moved };

/* --- the bus of one input ------------------------------------------------------------------------- */

static void fn_init(unsigned int i, const struct pci_dev_ops *ops)
{
	const struct pci_ids ids = { .vendor = VENDOR,
				     .device = DEVICE(i),
				     .class_code = 0xff0000,
				     .revision = (uint8_t)i,
				     .subsys_vendor = VENDOR,
				     .subsys = (uint16_t)i };
	struct fn *f = &fz.fn[i];

	memset(f, 0, sizeof(*f));
	pci_dev_init(&f->pci, ops, &ids);
	for (unsigned int b = 0; b < PCI_NR_BARS; b++)
		f->moved[b] = PCI_BAR_UNMAPPED;
	for (unsigned int v = 0; v < MSIX_MAX_VECTORS; v++)
		f->told[v].masked = true; /* msix_init starts every vector masked */
}

static void add_msix(struct fn *f, unsigned int bar, unsigned int nr, uint32_t table_off, uint32_t pba_off)
{
	const struct msix_config c = { .nr_vectors = nr,
				       .bar = bar,
				       .table_off = table_off,
				       .pba_off = pba_off,
				       .vector_changed = vector_changed,
				       .opaque = f };

	check(msix_init(&f->msix, &f->pci, &c) >= PCI_CAPABILITY_LIST, "msix_init");
	f->has_msix = true;
	f->msix_bar = bar;
	f->table_off = table_off;
	f->pba_off = pba_off;
}

/* A vendor capability of (len) bytes with (mask) writable in its dword at 4. */
static int add_vendor_cap(struct fn *f, uint8_t len, uint32_t mask)
{
	const uint8_t cap[8] = { PCI_CAP_ID_VNDR, 0, len, 0xc5, 0x11, 0x22, 0x33, 0x44 };
	int off = pci_add_cap(&f->pci, cap, len);

	if (off >= 0)
		pci_set_wmask(&f->pci, (uint32_t)off + 4, len - 4u, mask);
	return off;
}

static void setup(void)
{
	const struct pci_window mw = { MMIO_START, MMIO_START + MMIO_SIZE },
				iw = { IO_START, IO_START + IO_SIZE };
	int off;

	check(pci_bus_init(&fz.bus, &mw, &iw) == 0, "pci_bus_init");
	fn_init(0, &fn_ops);
	check(!pci_set_bar(&fz.fn[0].pci, 0, 256, PCI_BAR_IO) &&
		      !pci_set_bar(&fz.fn[0].pci, 1, 4096, PCI_BAR_MEM32) &&
		      !pci_set_bar(&fz.fn[0].pci, 2, 0x10000, PCI_BAR_MEM64 | PCI_BAR_PREFETCH) &&
		      !pci_set_bar(&fz.fn[0].pci, 5, 16, PCI_BAR_IO),
	      "function 1's BARs");
	add_msix(&fz.fn[0], 1, MSIX_MAX_VECTORS, 0, 0x800);
	check(add_vendor_cap(&fz.fn[0], 8, 0x00ffffff) > 0, "function 1's vendor capability");
	fn_init(1, &moved_only_ops);
	check(!pci_set_bar(&fz.fn[1].pci, 0, 1 << 20, PCI_BAR_MEM64) &&
		      !pci_set_bar(&fz.fn[1].pci, 4, 8192, PCI_BAR_MEM32),
	      "function 2's BARs");
	fn_init(2, &fn_ops);
	check(!pci_set_bar(&fz.fn[2].pci, 0, 4096, PCI_BAR_MEM32), "function 3's BAR");
	add_msix(&fz.fn[2], 0, 1, 0x100, 0);
	for (unsigned int n = 0; (off = add_vendor_cap(&fz.fn[2], 8, n % 2 ? 0xffffffff : 0)) >= 0; n++)
		check(off + 8 <= PCI_CFG_SIZE, "a capability inside config space");
	fn_init(3, NULL);
	check(!pci_set_bar(&fz.fn[3].pci, 0, 256 << 20, PCI_BAR_MEM32) &&
		      !pci_set_bar(&fz.fn[3].pci, 3, 16, PCI_BAR_IO),
	      "function 4's BARs");
	for (int i = 0; i < NR_FNS; i++)
		check(pci_bus_add(&fz.bus, &fz.fn[i].pci) == i + 1, "pci_bus_add takes the next slot");
	fz.config_address = 0;
}

static void teardown(void)
{
	for (int i = 0; i < NR_FNS; i++)
		if (fz.fn[i].has_msix)
			msix_free(&fz.fn[i].msix);
	pci_bus_free(&fz.bus);
}

/* --- what the guest must see ---------------------------------------------------------------------- */

/* Where BAR (i) of (d) decodes, by pci.h: its kind enabled in the command register, an address held. */
static uint64_t decodes_at(const struct pci_dev *d, unsigned int i)
{
	const struct pci_bar *b = &d->bar[i];
	uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i, cmd = pci_cfg_get(d, PCI_COMMAND, 2);
	uint64_t addr, last, top;

	if (b->flags & PCI_BAR_IO) {
		addr = pci_cfg_get(d, reg, 4) & PCI_BASE_ADDRESS_IO_MASK;
		top = 0xffff; /* port space */
		if (!(cmd & PCI_COMMAND_IO))
			return PCI_BAR_UNMAPPED;
	} else {
		addr = pci_cfg_get(d, reg, 4) & PCI_BASE_ADDRESS_MEM_MASK;
		top = UINT32_MAX - 1;
		if (b->flags & PCI_BAR_MEM64) {
			addr |= (uint64_t)pci_cfg_get(d, reg + 4, 4) << 32;
			top = UINT64_MAX - 1;
		}
		if (!(cmd & PCI_COMMAND_MEMORY))
			return PCI_BAR_UNMAPPED;
	}
	last = addr + b->size - 1;
	return addr == 0 || last < addr || last > top ? PCI_BAR_UNMAPPED : addr;
}

/* The function whose BAR decodes (addr) in I/O space (io) or memory, with the BAR and the offset. */
static struct pci_dev *route(bool io, uint64_t addr, unsigned int *bar, uint64_t *off)
{
	for (unsigned int s = 1; s < NR_SLOTS; s++) {
		struct pci_dev *d = slot_dev(s);

		for (unsigned int i = 0; i < PCI_NR_BARS; i++) {
			uint64_t at;

			if (!d->bar[i].size || !(d->bar[i].flags & PCI_BAR_IO) != !io)
				continue;
			at = decodes_at(d, i);
			if (at == PCI_BAR_UNMAPPED || addr < at || addr - at >= d->bar[i].size)
				continue;
			*bar = i;
			*off = addr - at;
			return d;
		}
	}
	return NULL;
}

/* Config cycles are 1, 2 or 4 bytes, naturally aligned. */
static bool cfg_len_ok(uint64_t off, uint32_t len)
{
	return (len == 1 || len == 2 || len == 4) && (off & (len - 1)) == 0;
}

static int slot_of(const struct pci_dev *d)
{
	for (unsigned int s = 0; s < NR_SLOTS; s++)
		if (slot_dev(s) == d)
			return (int)s;
	return -1;
}

/* What a config read of (len) at (reg) of (d) returns ((ok): a well-formed access), into (want). */
static void cfg_read_want(const struct pci_dev *d, bool ok, uint32_t reg, uint32_t len, uint8_t *want)
{
	if (!ok || !d)
		memset(want, 0xff, len);
	else if (reg >= PCI_CFG_SIZE)
		memset(want, 0, len);
	else
		dev_put_le(want, len, pci_cfg_get(d, reg, len));
}

/* A config write of (v) to (reg) of (d): the bits of the write mask take it, write-1-to-clear bits clear. */
static void cfg_write_want(const struct pci_dev *d, bool ok, uint32_t reg, uint32_t len, const uint8_t *v)
{
	int s = slot_of(d);

	if (!ok || s < 0 || reg >= PCI_CFG_SIZE)
		return;
	for (uint32_t i = 0; i < len; i++) {
		uint8_t *c = &fz.expect[s][reg + i];

		*c = (uint8_t)((*c & ~d->wmask[reg + i]) | (v[i] & d->wmask[reg + i]));
		*c &= (uint8_t) ~(v[i] & d->w1cmask[reg + i]);
	}
}

/* The function a config cycle to (bus, slot, fn) reaches: bus 0, function 0 only. */
static struct pci_dev *lookup(uint32_t bus, uint32_t slot, uint32_t fn)
{
	return bus == 0 && fn == 0 ? slot_dev(slot) : NULL;
}

static void ecam(const struct fuzz_op *o)
{
	uint64_t off = o->arg;
	bool ok = off < PCI_ECAM_MAX_SIZE && cfg_len_ok(off, o->len);
	struct pci_dev *d = lookup((o->arg >> 20) & 0xff, (o->arg >> SLOT_SHIFT) & 0x1f, (o->arg >> 12) & 7);
	uint8_t data[8] = { 0 }, want[8];

	if (o->write) {
		cfg_write_want(d, ok, o->arg & 0xfff, o->len, o->val);
		fz.bus.ecam.ops->write(&fz.bus.ecam, off, o->val, o->len);
		return;
	}
	cfg_read_want(d, ok, o->arg & 0xfff, o->len, want);
	fz.bus.ecam.ops->read(&fz.bus.ecam, off, data, o->len);
	check(memcmp(data, want, o->len) == 0, "an ECAM read returns the function's config space");
}

static void config_address(const struct fuzz_op *o)
{
	uint8_t data[8] = { 0 }, want[8];

	if (o->write) {
		if (o->len == 4)
			fz.config_address = (uint32_t)dev_get_le(o->val, 4) & CA_MASK;
		fz.bus.config_address_dev.ops->write(&fz.bus.config_address_dev, 0, o->val, o->len);
		return;
	}
	if (o->len == 4)
		dev_put_le(want, 4, fz.config_address);
	else
		memset(want, 0xff, o->len); /* narrower: the absent ISA bus */
	fz.bus.config_address_dev.ops->read(&fz.bus.config_address_dev, 0, data, o->len);
	check(memcmp(data, want, o->len) == 0, "CONFIG_ADDRESS reads back as written");
}

static void config_data(const struct fuzz_op *o, uint32_t off)
{
	uint32_t ca = fz.config_address, reg = (ca & 0xfc) + off;
	bool ok = off + o->len <= PCI_CONFIG_DATA_LEN && cfg_len_ok(off, o->len);
	struct pci_dev *d =
		ca & CA_ENABLE ? lookup((ca >> 16) & 0xff, (ca >> 11) & 0x1f, (ca >> 8) & 7) : NULL;
	uint8_t data[8] = { 0 }, want[8];

	if (o->write) {
		cfg_write_want(d, ok, reg, o->len, o->val);
		fz.bus.config_data_dev.ops->write(&fz.bus.config_data_dev, off, o->val, o->len);
		return;
	}
	cfg_read_want(d, ok, reg, o->len, want);
	fz.bus.config_data_dev.ops->read(&fz.bus.config_data_dev, off, data, o->len);
	check(memcmp(data, want, o->len) == 0, "a CONFIG_DATA read returns the function's config space");
}

/* An aligned dword or qword inside (size) bytes: what the MSI-X table and PBA take (msix.h). */
static bool msix_access_ok(uint64_t off, uint32_t len, uint64_t size)
{
	return (len == 4 || len == 8) && (off & (len - 1)) == 0 && off < size && size - off >= len;
}

/* What a read of (len) at (off) of (f)'s MSI-X BAR returns. */
static void msix_read_want(const struct fn *f, uint64_t off, uint32_t len, uint8_t *want)
{
	uint64_t rel, table_len = (uint64_t)f->msix.cfg.nr_vectors * PCI_MSIX_ENTRY_SIZE;

	memset(want, 0, len);
	switch (msix_part(f, off, &rel)) {
	case 1:
		if (msix_access_ok(rel, len, MSIX_PBA_LEN))
			dev_put_le(want, len, f->msix.pba >> (8 * rel));
		break;
	case 2:
		if (msix_access_ok(rel, len, table_len))
			memcpy(want, &f->msix.table[rel], len);
		break;
	}
}

/* What the guest may write in byte (i) of an entry: address bits 1:0 and reserved control bits stay 0. */
static uint8_t entry_mask(uint64_t i)
{
	if (i == PCI_MSIX_ENTRY_LOWER_ADDR)
		return 0xfc;
	if (i < PCI_MSIX_ENTRY_VECTOR_CTRL)
		return 0xff;
	return i == PCI_MSIX_ENTRY_VECTOR_CTRL ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0;
}

/* The MSI-X table after a write of (v) at (off) of the BAR: entry bytes take what the PCI spec lets them. */
static void msix_write_want(const struct fn *f, uint64_t off, uint32_t len, const uint8_t *v)
{
	uint64_t rel;

	memcpy(fz.table, f->msix.table, sizeof(fz.table));
	if (msix_part(f, off, &rel) != 2 ||
	    !msix_access_ok(rel, len, (uint64_t)f->msix.cfg.nr_vectors * PCI_MSIX_ENTRY_SIZE))
		return;
	for (uint32_t i = 0; i < len; i++) {
		uint8_t m = entry_mask((rel + i) % PCI_MSIX_ENTRY_SIZE);

		fz.table[rel + i] = (uint8_t)((fz.table[rel + i] & ~m) | (v[i] & m));
	}
}

/* An access through the memory or I/O window (io) at (off) from its start. */
static void window(const struct fuzz_op *o, bool io, uint64_t off)
{
	uint64_t addr = (io ? IO_START : MMIO_START) + off, boff = 0;
	unsigned int bar = 0;
	struct pci_dev *d = route(io, addr, &bar, &boff);
	struct dev *w = io ? &fz.bus.io_window : &fz.bus.mmio_window;
	struct fn *f = d ? of(d) : NULL;
	bool msix = f && f->has_msix && bar == f->msix_bar;
	uint8_t data[8] = { 0 }, want[8] = { 0 };

	for (int i = 0; i < NR_FNS; i++)
		fz.fn[i].calls = 0;
	if (o->write) {
		if (msix)
			msix_write_want(f, boff, o->len, o->val);
		w->ops->write(w, off, o->val, o->len);
		if (msix)
			check(memcmp(fz.table, f->msix.table, sizeof(fz.table)) == 0,
			      "an MSI-X table write lands masked, where it is aimed, or not at all");
	} else {
		if (!d)
			memset(want, 0xff, o->len); /* a master abort */
		else if (msix)
			msix_read_want(f, boff, o->len, want);
		else if (d->ops && d->ops->bar_read)
			for (uint32_t i = 0; i < o->len; i++)
				want[i] = pattern(bar, boff + i);
		w->ops->read(w, off, data, o->len);
		check(memcmp(data, want, o->len) == 0, "a window read returns what the decoding BAR holds");
	}
	for (int i = 0; i < NR_FNS; i++) {
		const struct fn *g = &fz.fn[i];
		bool hooked = g->pci.ops &&
			      (o->write ? g->pci.ops->bar_write != NULL : g->pci.ops->bar_read != NULL);

		if (g != f || !hooked) {
			check(g->calls == 0, "a window access reaches only the BAR that decodes it");
			continue;
		}
		check(g->calls == 1 && g->bar == bar && g->off == boff && g->len == o->len,
		      "a window access reaches the decoding BAR at its offset");
	}
}

/* The BAR register (i) of (d) after all-ones: the size mask and the kind; 0 for no BAR. */
static uint32_t size_mask(const struct pci_dev *d, unsigned int i)
{
	const struct pci_bar *b = &d->bar[i];

	if (b->size && (b->flags & PCI_BAR_IO))
		return ((uint32_t) ~(b->size - 1) & (uint32_t)PCI_BASE_ADDRESS_IO_MASK) | b->flags;
	if (b->size)
		return ((uint32_t) ~(b->size - 1) & (uint32_t)PCI_BASE_ADDRESS_MEM_MASK) | b->flags;
	if (i > 0 && d->bar[i - 1].size && (d->bar[i - 1].flags & PCI_BAR_MEM64))
		return (uint32_t) ~((d->bar[i - 1].size - 1) >> 32);
	return 0;
}

/* A dword config cycle to (reg) of (slot), through ECAM or the ports (ports): returns what a read gets. */
static uint32_t cfg_cycle(bool ports, unsigned int slot, uint32_t reg, bool write, uint32_t v)
{
	struct fuzz_op o = { .write = write, .len = 4 };

	dev_put_le(o.val, 4, v);
	if (ports) {
		struct fuzz_op ca = { .write = true, .len = 4 };

		dev_put_le(ca.val, 4, CA_ENABLE | slot << 11 | reg);
		config_address(&ca);
		if (write)
			config_data(&o, 0);
		else
			fz.bus.config_data_dev.ops->read(&fz.bus.config_data_dev, 0, o.val, 4);
	} else {
		o.arg = slot << SLOT_SHIFT | reg;
		if (write)
			ecam(&o);
		else
			fz.bus.ecam.ops->read(&fz.bus.ecam, o.arg, o.val, 4);
	}
	return (uint32_t)dev_get_le(o.val, 4);
}

/* Linux's sizing of BAR (i) of (slot): save, all-ones, read the mask, restore. */
static void size_bar(uint32_t a)
{
	unsigned int slot = a % (NR_SLOTS + 1), i = (a >> 8) % PCI_NR_BARS;
	uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i, old, mask, back;
	bool ports = a & SIZE_PORTS;
	const struct pci_dev *d = slot_dev(slot);

	old = cfg_cycle(ports, slot, reg, false, 0);
	cfg_cycle(ports, slot, reg, true, UINT32_MAX);
	mask = cfg_cycle(ports, slot, reg, false, 0);
	cfg_cycle(ports, slot, reg, true, old);
	back = cfg_cycle(ports, slot, reg, false, 0);
	if (!d) {
		check(old == UINT32_MAX && mask == UINT32_MAX && back == UINT32_MAX,
		      "an empty slot reads all-ones");
		return;
	}
	check(old == pci_cfg_get(d, reg, 4) && back == old, "a BAR written back holds its address again");
	check(mask == size_mask(d, i), "a BAR written all-ones reads back its size mask");
}

static void msix_signal(uint32_t a)
{
	struct fn *f = &fz.fn[a & 1 ? 2 : 0];
	unsigned int v = (a >> 8) % MSIX_MAX_VECTORS, nr = f->msix.cfg.nr_vectors;
	bool masked = v < nr && f->told[v].masked;

	if (a & 2) {
		msix_set_pending(&f->msix, v, false);
		check(!(f->msix.pba & (1ULL << v)), "a cleared pending bit is clear");
		return;
	}
	check(msix_notify(&f->msix, v) == (v < nr && !masked),
	      "msix_notify sends for an unmasked vector only");
	check(!masked || (f->msix.pba & (1ULL << v)), "a masked vector's message waits in the PBA");
}

/* --- the checks after every op -------------------------------------------------------------------- */

static void check_msix(const struct fn *f)
{
	const struct msix *m = &f->msix;
	uint16_t flags = (uint16_t)pci_cfg_get(&f->pci, m->cap + PCI_MSIX_FLAGS, 2);

	for (unsigned int v = 0; v < MSIX_MAX_VECTORS; v++) {
		const uint8_t *e = &m->table[v * PCI_MSIX_ENTRY_SIZE];
		bool masked = !(flags & PCI_MSIX_FLAGS_ENABLE) || (flags & PCI_MSIX_FLAGS_MASKALL) ||
			      (e[PCI_MSIX_ENTRY_VECTOR_CTRL] & PCI_MSIX_ENTRY_CTRL_MASKBIT);

		if (v >= m->cfg.nr_vectors) {
			check(!(m->pba & (1ULL << v)), "no pending bit past the table");
			continue;
		}
		check((e[0] & 3) == 0 &&
			      (e[PCI_MSIX_ENTRY_VECTOR_CTRL] & ~PCI_MSIX_ENTRY_CTRL_MASKBIT) == 0 &&
			      e[13] == 0 && e[14] == 0 && e[15] == 0,
		      "an MSI-X entry's reserved bits stay 0");
		check(f->told[v].masked == masked, "vector_changed told each vector's mask");
		check(masked || (f->told[v].addr == dev_get_le(e, 8) &&
				 f->told[v].data == dev_get_le(e + PCI_MSIX_ENTRY_DATA, 4)),
		      "vector_changed told each unmasked vector's message");
		check(masked || !(m->pba & (1ULL << v)), "only a masked vector has its pending bit set");
	}
}

static void check_fn(const struct fn *f)
{
	for (unsigned int i = 0; i < PCI_NR_BARS; i++) {
		uint64_t at;

		if (!f->pci.bar[i].size)
			continue;
		at = decodes_at(&f->pci, i);
		check(pci_bar_addr(&f->pci, i) == at, "a BAR decodes where its registers say");
		check(at == PCI_BAR_UNMAPPED || at % f->pci.bar[i].size == 0,
		      "a BAR decodes naturally aligned");
		check(!f->pci.ops || f->moved[i] == at, "bar_moved told the function where each BAR decodes");
	}
	if (f->has_msix)
		check_msix(f);
}

static void check_all(void)
{
	for (unsigned int s = 0; s < NR_SLOTS; s++) {
		const struct pci_dev *d = slot_dev(s);

		check(memcmp(d->cfg, fz.expect[s], PCI_CFG_SIZE) == 0,
		      "config space holds what was written, masked");
		check(pci_cfg_get(d, PCI_VENDOR_ID, 2) == (s ? VENDOR : PCI_HOST_VENDOR) &&
			      pci_cfg_get(d, PCI_DEVICE_ID, 2) == (s ? DEVICE(s - 1) : PCI_HOST_DEVICE),
		      "vendor and device ids never change");
		if (s > 0)
			check_fn(&fz.fn[s - 1]);
	}
}

/* Bits outside the write mask keep their value from pci_bus_add(); write-1-to-clear bits may clear. */
static void check_read_only(uint8_t snap[NR_SLOTS][PCI_CFG_SIZE])
{
	unsigned int changed = 0;

	for (unsigned int s = 0; s < NR_SLOTS; s++) {
		const struct pci_dev *d = slot_dev(s);

		for (unsigned int r = 0; r < PCI_CFG_SIZE; r++)
			changed |= (d->cfg[r] ^ snap[s][r]) & ~d->wmask[r] & ~(d->w1cmask[r] & snap[s][r]);
	}
	check(changed == 0, "a read-only config bit never changes");
}

static void run_op(const struct fuzz_op *o)
{
	switch (o->target) {
	case T_ECAM:
		ecam(o);
		break;
	case T_CONFIG_ADDRESS:
		config_address(o);
		break;
	case T_CONFIG_DATA:
		config_data(o, o->arg % PCI_CONFIG_DATA_LEN);
		break;
	case T_MMIO:
		window(o, false, o->arg % MMIO_SIZE);
		break;
	case T_IO:
		window(o, true, o->arg % IO_SIZE);
		break;
	case T_SIZE_BAR:
		size_bar(o->arg);
		break;
	case T_MSIX:
		msix_signal(o->arg);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t snap[NR_SLOTS][PCI_CFG_SIZE];
	struct fuzz_op o;

	setup();
	for (unsigned int s = 0; s < NR_SLOTS; s++)
		memcpy(snap[s], slot_dev(s)->cfg, PCI_CFG_SIZE);
	memcpy(fz.expect, snap, sizeof(snap));
	check_all();
	while (fuzz_op_next(&data, &size, ARG_LEN, NR_TARGETS, &o)) {
		run_op(&o);
		/* A read changes nothing: its own check and this one suffice. */
		if (!o.write && o.target <= T_IO) {
			for (unsigned int s = 0; s < NR_SLOTS; s++)
				check(memcmp(slot_dev(s)->cfg, fz.expect[s], PCI_CFG_SIZE) == 0,
				      "a read changes no config space");
			continue;
		}
		check_all();
	}
	check_read_only(snap); /* implied by check_all()'s, op by op; once more without the model */
	teardown();
	return 0;
}

#ifdef FUZZ_SEED_MAIN
/* Seed corpus: enumeration, sizing, decoding and moving BARs, MSI-X set-up and use, hostile writes. */

static uint32_t ecam_off(unsigned int slot, uint32_t reg)
{
	return slot << SLOT_SHIFT | reg;
}

static void cfg_wr(struct ops_seed *s, unsigned int slot, uint32_t reg, uint32_t len, uint32_t v)
{
	op(s, T_ECAM, true, len, ecam_off(slot, reg), v);
}

static void cfg_rd(struct ops_seed *s, unsigned int slot, uint32_t reg, uint32_t len)
{
	op(s, T_ECAM, false, len, ecam_off(slot, reg), 0);
}

/* Where pci_bus_add() put BAR (i) of the function in (slot). */
static uint64_t bar_addr(unsigned int slot, unsigned int i)
{
	const struct pci_dev *d = slot_dev(slot);
	uint64_t a = pci_cfg_get(d, PCI_BASE_ADDRESS_0 + 4 * i, 4);

	if (d->bar[i].flags & PCI_BAR_IO)
		return (a & ~3ULL) - IO_START;
	a &= ~0xfULL;
	if (d->bar[i].flags & PCI_BAR_MEM64)
		a |= (uint64_t)pci_cfg_get(d, PCI_BASE_ADDRESS_0 + 4 * i + 4, 4) << 32;
	return a - MMIO_START;
}

static void seed_enumerate(struct ops_seed *s)
{
	for (unsigned int slot = 0; slot < 7; slot++) {
		cfg_rd(s, slot, PCI_VENDOR_ID, 4);
		cfg_rd(s, slot, PCI_CLASS_REVISION, 4);
		cfg_rd(s, slot, PCI_HEADER_TYPE, 1);
		cfg_rd(s, slot, PCI_CAPABILITY_LIST, 1);
	}
	op(s, T_ECAM, false, 4, 1u << 20 | ecam_off(1, 0), 0); /* bus 1 */
	op(s, T_ECAM, false, 4, 1u << 12 | ecam_off(1, 0), 0); /* function 1 */
	op(s, T_ECAM, false, 4, ecam_off(1, 0x100), 0);	       /* extended space */
	op(s, T_ECAM, false, 4, (uint32_t)PCI_ECAM_MAX_SIZE, 0);
	for (uint32_t reg = 0x40; reg < PCI_CFG_SIZE; reg += 4)
		cfg_rd(s, 3, reg, 4);
	for (unsigned int slot = 0; slot < 6; slot++) {
		op(s, T_CONFIG_ADDRESS, true, 4, 0, CA_ENABLE | slot << 11);
		op(s, T_CONFIG_DATA, false, 4, 0, 0);
		op(s, T_CONFIG_DATA, false, 2, 2, 0);
		op(s, T_CONFIG_DATA, false, 1, 3, 0);
	}
	op(s, T_CONFIG_ADDRESS, false, 4, 0, 0);
	op(s, T_CONFIG_ADDRESS, false, 2, 0, 0);
}

static void seed_size_bars(struct ops_seed *s)
{
	for (unsigned int slot = 0; slot < NR_SLOTS + 1; slot++)
		for (unsigned int i = 0; i < PCI_NR_BARS; i++)
			op(s, T_SIZE_BAR, false, 4, slot | i << 8 | (slot % 2 ? SIZE_PORTS : 0), 0);
}

static void seed_decode(struct ops_seed *s)
{
	for (unsigned int slot = 1; slot < NR_SLOTS; slot++)
		cfg_wr(s, slot, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	op(s, T_IO, false, 4, (uint32_t)bar_addr(1, 0), 0);
	op(s, T_IO, true, 2, (uint32_t)bar_addr(1, 5) + 14, 0xbeef);
	op(s, T_IO, false, 1, (uint32_t)bar_addr(4, 3) + 15, 0);
	op(s, T_MMIO, false, 8, (uint32_t)bar_addr(1, 2) + 0xfff8, 0);
	op(s, T_MMIO, false, 8, (uint32_t)bar_addr(1, 2) + 0xffff, 0); /* runs past the BAR */
	op(s, T_MMIO, true, 4, (uint32_t)bar_addr(2, 0) + 0x100, 0x12345678);
	op(s, T_MMIO, false, 4, (uint32_t)bar_addr(2, 4), 0);
	op(s, T_MMIO, false, 4, (uint32_t)bar_addr(4, 0) + 0x1000000, 0);
	/* Move function 1's 64-bit BAR above 4 GiB and back, then under function 2's. */
	cfg_wr(s, 1, PCI_BASE_ADDRESS_3, 4, 1);
	cfg_wr(s, 1, PCI_BASE_ADDRESS_3, 4, 0);
	cfg_wr(s, 1, PCI_BASE_ADDRESS_2, 4, (uint32_t)(MMIO_START + bar_addr(2, 0)) | PCI_BAR_MEM64);
	op(s, T_MMIO, false, 4, (uint32_t)bar_addr(2, 0), 0);
	cfg_wr(s, 1, PCI_BASE_ADDRESS_2, 4, 0);
	cfg_wr(s, 2, PCI_BASE_ADDRESS_4, 4, 0xfffff000);
	cfg_wr(s, 1, PCI_BASE_ADDRESS_0, 4, 0xff01);
	cfg_wr(s, 1, PCI_COMMAND, 2, 0);
	op(s, T_MMIO, false, 4, (uint32_t)bar_addr(2, 0), 0);
}

/* Function 1's MSI-X: enable with all masked, program vectors, unmask, a pending message delivered. */
static void seed_msix(struct ops_seed *s)
{
	uint32_t cap = fz.fn[0].msix.cap + PCI_MSIX_FLAGS, table = (uint32_t)bar_addr(1, 1);

	cfg_wr(s, 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cfg_rd(s, 1, cap, 2);
	cfg_wr(s, 1, cap, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	for (uint32_t v = 0; v < 4; v++) {
		op(s, T_MMIO, true, 8, table + 16 * v, 0xfee00000 | v << 12);
		op(s, T_MMIO, true, 4, table + 16 * v + PCI_MSIX_ENTRY_DATA, 0x4020 + v);
		op(s, T_MMIO, true, 4, table + 16 * v + PCI_MSIX_ENTRY_VECTOR_CTRL, v == 2);
	}
	op(s, T_MSIX, false, 4, 1 << 8, 0);
	cfg_wr(s, 1, cap, 2, PCI_MSIX_FLAGS_ENABLE);
	op(s, T_MSIX, false, 4, 1 << 8, 0);
	op(s, T_MSIX, false, 4, 2 << 8, 0);
	op(s, T_MMIO, false, 8, table + 0x800, 0);
	op(s, T_MMIO, false, 4, table + 0x804, 0);
	op(s, T_MMIO, true, 4, table + 16 * 2 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	op(s, T_MMIO, true, 4, table + 16 * 3 + PCI_MSIX_ENTRY_DATA, 0x4099);
	op(s, T_MMIO, false, 8, table + 16 * 3 + 8, 0);
	op(s, T_MMIO, false, 2, table + 16 * 3 + 2, 0); /* too narrow */
	op(s, T_MMIO, true, 8, table + 16 * 63 + 8, 0xffffffffffffffffULL);
	op(s, T_MSIX, false, 4, 63 << 8 | 2, 0);
	cfg_wr(s, 1, cap, 2, 0);
}

/* Function 3's one-vector MSI-X behind its PBA, through the ports. */
static void seed_msix_one(struct ops_seed *s)
{
	uint32_t cap = fz.fn[2].msix.cap + PCI_MSIX_FLAGS, bar = (uint32_t)bar_addr(3, 0);

	op(s, T_CONFIG_ADDRESS, true, 4, 0, CA_ENABLE | 3 << 11 | PCI_COMMAND);
	op(s, T_CONFIG_DATA, true, 2, 0, PCI_COMMAND_MEMORY);
	op(s, T_CONFIG_ADDRESS, true, 4, 0, CA_ENABLE | 3 << 11 | (cap & 0xfc));
	op(s, T_CONFIG_DATA, true, 2, cap & 3, PCI_MSIX_FLAGS_ENABLE);
	op(s, T_MSIX, false, 4, 1, 0);
	op(s, T_MMIO, false, 8, bar, 0);
	op(s, T_MMIO, true, 4, bar + 0x100, 0xfee00000);
	op(s, T_MMIO, true, 4, bar + 0x10c, 0);
	op(s, T_MMIO, false, 8, bar, 0);
	op(s, T_MSIX, false, 4, 1, 0);
	op(s, T_MMIO, true, 4, bar + 0x10c, 1);
	op(s, T_MSIX, false, 4, 1, 0);
	op(s, T_MMIO, true, 4, bar + 0x10c, 0);
}

/* Writes a guest may not make: ids, header type, capability pointers, status bits, reserved bits. */
static void seed_hostile(struct ops_seed *s)
{
	for (unsigned int slot = 0; slot < NR_SLOTS; slot++) {
		cfg_wr(s, slot, PCI_VENDOR_ID, 4, 0xffffffff);
		cfg_wr(s, slot, PCI_COMMAND, 4, 0xffffffff);
		cfg_wr(s, slot, PCI_CACHE_LINE_SIZE, 4, 0xffffffff);
		cfg_wr(s, slot, PCI_CAPABILITY_LIST, 1, 0x44);
		cfg_wr(s, slot, PCI_INTERRUPT_LINE, 2, 0xffff);
	}
	for (uint32_t reg = 0x40; reg < PCI_CFG_SIZE; reg += 4)
		cfg_wr(s, 3, reg, 4, 0xffffffff);
	cfg_wr(s, 1, PCI_COMMAND, 8, 0);
	cfg_wr(s, 1, PCI_COMMAND + 1, 2, 0);
	op(s, T_CONFIG_ADDRESS, true, 4, 0, 0xffffffff);
	op(s, T_CONFIG_ADDRESS, false, 4, 0, 0);
	op(s, T_CONFIG_DATA, true, 4, 0, 0);
	op(s, T_CONFIG_ADDRESS, true, 2, 0, 0x8000);
	op(s, T_CONFIG_DATA, false, 4, 2, 0);
}

int main(int argc, char **argv)
{
	static struct ops_seed s = { .arg_len = ARG_LEN };

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	setup(); /* the addresses pci_bus_add() gives, as each input starts */
	s.len = 0;
	seed_enumerate(&s);
	emit_ops(&s, argv[1], "enumerate");
	s.len = 0;
	seed_size_bars(&s);
	emit_ops(&s, argv[1], "size-bars");
	s.len = 0;
	seed_decode(&s);
	emit_ops(&s, argv[1], "decode");
	s.len = 0;
	seed_msix(&s);
	emit_ops(&s, argv[1], "msix");
	s.len = 0;
	seed_msix_one(&s);
	emit_ops(&s, argv[1], "msix-one");
	s.len = 0;
	seed_hostile(&s);
	emit_ops(&s, argv[1], "hostile");
	return 0;
}
#endif
