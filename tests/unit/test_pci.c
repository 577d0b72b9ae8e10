/* test_pci.c: config mechanism #1 and ECAM, BAR sizing, placement and moves, capabilities, BAR windows. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "bus.h"
#include "pci.h"

#define MMIO_START 0xc0000000ULL
#define MMIO_END   0xe0000000ULL
#define ECAM_BASE  0xe0000000ULL
#define IO_START   0xc000
#define IO_END	   0x10000

/* A device that records what the bus told it. */
struct fake {
	struct pci_dev pci;
	int moves;
	unsigned int moved_bar;
	uint64_t moved_to;
	int cfg_writes;
	uint32_t written_off, written_len, value_seen;
	int bar_accesses;
	unsigned int accessed_bar;
	uint64_t accessed_off;
	uint32_t accessed_len;
};

static void fake_bar_moved(struct pci_dev *d, unsigned int bar, uint64_t addr)
{
	struct fake *f = container_of(d, struct fake, pci);

	f->moves++;
	f->moved_bar = bar;
	f->moved_to = addr;
}

static void fake_cfg_write(struct pci_dev *d, uint32_t off, uint32_t len)
{
	struct fake *f = container_of(d, struct fake, pci);

	f->cfg_writes++;
	f->written_off = off;
	f->written_len = len;
	f->value_seen = pci_cfg_get(d, off, len);
}

static void fake_bar_access(struct fake *f, unsigned int bar, uint64_t off, uint32_t len)
{
	f->bar_accesses++;
	f->accessed_bar = bar;
	f->accessed_off = off;
	f->accessed_len = len;
}

static void fake_bar_read(struct pci_dev *d, unsigned int bar, uint64_t off, void *data, uint32_t len)
{
	fake_bar_access(container_of(d, struct fake, pci), bar, off, len);
	memset(data, 0x5a, len);
}

static void fake_bar_write(struct pci_dev *d, unsigned int bar, uint64_t off, const void *data, uint32_t len)
{
	(void)data;
	fake_bar_access(container_of(d, struct fake, pci), bar, off, len);
}

static const struct pci_dev_ops fake_ops = {
	.cfg_write = fake_cfg_write,
	.bar_moved = fake_bar_moved,
	.bar_read = fake_bar_read,
	.bar_write = fake_bar_write,
};

static const struct pci_ids fake_ids = {
	.vendor = 0x1af4,
	.device = 0x1041,
	.class_code = 0x020000,
	.revision = 1,
	.subsys_vendor = 0x1af4,
	.subsys = 0x1100,
};

static struct pci_bus pb;
static struct bus pio, mmio;
static struct fake fk;

static void setup(void)
{
	const struct pci_window mw = { MMIO_START, MMIO_END }, iw = { IO_START, IO_END };

	cr_assert_eq(pci_bus_init(&pb, &mw, &iw), 0);
	bus_init(&pio, "pio", 0xff);
	bus_init(&mmio, "mmio", 0xff);
	cr_assert_eq(bus_add(&pio, PCI_PORT_CONFIG_ADDRESS, PCI_CONFIG_ADDRESS_LEN, &pb.config_address_dev),
		     0);
	cr_assert_eq(bus_add(&pio, PCI_PORT_CONFIG_DATA, PCI_CONFIG_DATA_LEN, &pb.config_data_dev), 0);
	cr_assert_eq(bus_add(&pio, IO_START, IO_END - IO_START, &pb.io_window), 0);
	cr_assert_eq(bus_add(&mmio, ECAM_BASE, PCI_ECAM_MAX_SIZE, &pb.ecam), 0);
	cr_assert_eq(bus_add(&mmio, MMIO_START, MMIO_END - MMIO_START, &pb.mmio_window), 0);
	memset(&fk, 0, sizeof(fk));
	pci_dev_init(&fk.pci, &fake_ops, &fake_ids);
}

static void teardown(void)
{
	bus_free(&pio);
	bus_free(&mmio);
	pci_bus_free(&pb);
}

TestSuite(pci, .init = setup, .fini = teardown);

static uint32_t in(uint16_t port, uint32_t len)
{
	uint8_t data[4];

	bus_access(&pio, port, data, len, false);
	return (uint32_t)dev_get_le(data, len);
}

static void out(uint16_t port, uint32_t len, uint32_t v)
{
	uint8_t data[4];

	dev_put_le(data, len, v);
	bus_access(&pio, port, data, len, true);
}

/* Mechanism #1: select (slot, fn, reg) and access CONFIG_DATA at the byte (reg) names. */
static uint32_t cfg_read_fn(unsigned int slot, unsigned int fn, uint32_t reg, uint32_t len)
{
	out(PCI_PORT_CONFIG_ADDRESS, 4, 0x80000000u | slot << 11 | fn << 8 | (reg & 0xfc));
	return in(PCI_PORT_CONFIG_DATA + (reg & 3), len);
}

static uint32_t cfg_read(unsigned int slot, uint32_t reg, uint32_t len)
{
	return cfg_read_fn(slot, 0, reg, len);
}

static void cfg_write(unsigned int slot, uint32_t reg, uint32_t len, uint32_t v)
{
	out(PCI_PORT_CONFIG_ADDRESS, 4, 0x80000000u | slot << 11 | (reg & 0xfc));
	out(PCI_PORT_CONFIG_DATA + (reg & 3), len, v);
}

static uint32_t ecam_read(unsigned int bus, unsigned int slot, unsigned int fn, uint32_t reg, uint32_t len)
{
	uint8_t data[4];

	bus_access(&mmio, ECAM_BASE + (bus << 20 | slot << 15 | fn << 12 | reg), data, len, false);
	return (uint32_t)dev_get_le(data, len);
}

static uint32_t mmio_read32(uint64_t addr)
{
	uint8_t data[4];

	bus_access(&mmio, addr, data, 4, false);
	return (uint32_t)dev_get_le(data, 4);
}

static int add_fake_with_bar(uint64_t size, uint8_t flags)
{
	cr_assert_eq(pci_set_bar(&fk.pci, 0, size, flags), 0);
	return pci_bus_add(&pb, &fk.pci);
}

Test(pci, host_bridge_ids_read_through_config_ports)
{
	cr_assert_eq(cfg_read(0, PCI_VENDOR_ID, 4), 0x00081b36u);
	cr_assert_eq(cfg_read(0, PCI_CLASS_REVISION, 4) >> 8, 0x060000u);
	cr_assert_eq(cfg_read(0, PCI_HEADER_TYPE, 1), 0);
}

Test(pci, absent_slot_reads_all_ones)
{
	cr_assert_eq(cfg_read(5, PCI_VENDOR_ID, 4), 0xffffffffu);
}

Test(pci, nonzero_function_reads_all_ones)
{
	cr_assert_eq(cfg_read_fn(0, 1, PCI_VENDOR_ID, 4), 0xffffffffu);
}

Test(pci, config_address_without_enable_bit_reads_all_ones)
{
	out(PCI_PORT_CONFIG_ADDRESS, 4, 0);
	cr_assert_eq(in(PCI_PORT_CONFIG_DATA, 4), 0xffffffffu);
}

Test(pci, config_address_reads_back_with_reserved_bits_clear)
{
	out(PCI_PORT_CONFIG_ADDRESS, 4, 0xffffffff);
	cr_assert_eq(in(PCI_PORT_CONFIG_ADDRESS, 4), 0x80fffffcu);
}

Test(pci, config_address_ignores_narrow_writes)
{
	out(PCI_PORT_CONFIG_ADDRESS, 4, 0x80000000);
	out(PCI_PORT_CONFIG_ADDRESS, 1, 0x01);
	cr_assert_eq(in(PCI_PORT_CONFIG_ADDRESS, 4), 0x80000000u);
}

Test(pci, config_ports_leave_0xcf9_to_the_reset_register)
{
	static const struct dev_ops reset_ops = { .name = "reset" };
	struct dev reset = { .ops = &reset_ops };

	cr_assert_eq(bus_add(&pio, 0xcf9, 1, &reset), 0);
	cr_assert_eq(bus_find(&pio, 0xcf9)->dev, &reset);
	cr_assert_eq(cfg_read(0, PCI_VENDOR_ID, 2), 0x1b36u);
}

Test(pci, byte_read_at_0xcfd_is_the_second_byte)
{
	cr_assert_eq(cfg_read(0, PCI_VENDOR_ID + 1, 1), 0x1bu);
}

Test(pci, word_read_at_0xcfe_is_the_upper_word)
{
	cr_assert_eq(cfg_read(0, PCI_DEVICE_ID, 2), 0x0008u);
}

Test(pci, word_access_crossing_0xcff_reads_all_ones)
{
	out(PCI_PORT_CONFIG_ADDRESS, 4, 0x80000000u);
	cr_assert_eq(in(PCI_PORT_CONFIG_DATA + 3, 2), 0xffffu);
}

Test(pci, read_only_bits_survive_writes)
{
	cr_assert_eq(pci_bus_add(&pb, &fk.pci), 1);
	cfg_write(1, PCI_VENDOR_ID, 4, 0xffffffff);
	cfg_write(1, PCI_CLASS_REVISION, 4, 0);
	cfg_write(1, PCI_INTERRUPT_LINE, 1, 0x0b);
	cr_assert_eq(cfg_read(1, PCI_VENDOR_ID, 4), 0x10411af4u);
	cr_assert_eq(cfg_read(1, PCI_CLASS_REVISION, 4), 0x02000001u);
	cr_assert_eq(cfg_read(1, PCI_INTERRUPT_LINE, 1), 0x0bu);
}

Test(pci, command_decode_bits_are_hardwired_without_bars)
{
	cr_assert_eq(pci_bus_add(&pb, &fk.pci), 1);
	cfg_write(1, PCI_COMMAND, 2, 0xffff);
	cr_assert_eq(cfg_read(1, PCI_COMMAND, 2) & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY), 0);
	cr_assert(cfg_read(1, PCI_COMMAND, 2) & PCI_COMMAND_MASTER);
}

Test(pci, status_error_bits_clear_when_written_with_one)
{
	uint8_t cap[4] = { PCI_CAP_ID_VNDR, 0, 4, 0 };

	cr_assert_geq(pci_add_cap(&fk.pci, cap, sizeof(cap)), 0);
	pci_cfg_set(&fk.pci, PCI_STATUS, 2,
		    pci_cfg_get(&fk.pci, PCI_STATUS, 2) | PCI_STATUS_REC_MASTER_ABORT);
	cr_assert_eq(pci_bus_add(&pb, &fk.pci), 1);
	cfg_write(1, PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_CAP_LIST);
	cr_assert_eq(cfg_read(1, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
}

Test(pci, bar_sizing_reads_the_mask_of_a_4k_32bit_bar)
{
	cr_assert_eq(add_fake_with_bar(4096, PCI_BAR_MEM32), 1);
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	cr_assert_eq(cfg_read(1, PCI_BASE_ADDRESS_0, 4), 0xfffff000u);
}

Test(pci, bar_sizing_reads_the_mask_of_a_64bit_pair)
{
	cr_assert_eq(pci_set_bar(&fk.pci, 2, 0x4000, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
	cr_assert_eq(pci_bus_add(&pb, &fk.pci), 1);
	cfg_write(1, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	cfg_write(1, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
	cr_assert_eq(cfg_read(1, PCI_BASE_ADDRESS_2, 4), 0xffffc00cu);
	cr_assert_eq(cfg_read(1, PCI_BASE_ADDRESS_3, 4), 0xffffffffu);
}

Test(pci, bar_sizing_reads_the_mask_of_an_io_bar)
{
	cr_assert_eq(add_fake_with_bar(32, PCI_BAR_IO), 1);
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	cr_assert_eq(cfg_read(1, PCI_BASE_ADDRESS_0, 4), 0xffffffe1u);
}

Test(pci, set_bar_rejects_bad_sizes_and_slots)
{
	cr_assert_eq(pci_set_bar(&fk.pci, 0, 0x3000, PCI_BAR_MEM32), -EINVAL);
	cr_assert_eq(pci_set_bar(&fk.pci, 0, 2048, PCI_BAR_MEM32), -EINVAL);
	cr_assert_eq(pci_set_bar(&fk.pci, 0, 8, PCI_BAR_IO), -EINVAL);
	cr_assert_eq(pci_set_bar(&fk.pci, 0, 512, PCI_BAR_IO), -EINVAL);
	cr_assert_eq(pci_set_bar(&fk.pci, 5, 4096, PCI_BAR_MEM64), -EINVAL);
	cr_assert_eq(pci_set_bar(&fk.pci, 6, 4096, PCI_BAR_MEM32), -EINVAL);
	cr_assert_eq(pci_set_bar(&fk.pci, 0, 4096, PCI_BAR_MEM64), 0);
	cr_assert_eq(pci_set_bar(&fk.pci, 1, 4096, PCI_BAR_MEM32), -EINVAL);
}

/* BAR (bar) of (d) as its registers hold it. */
static uint64_t bar_address(const struct pci_dev *d, unsigned int bar)
{
	uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint32_t lo = pci_cfg_get(d, reg, 4);

	if (lo & PCI_BASE_ADDRESS_SPACE_IO)
		return lo & PCI_BASE_ADDRESS_IO_MASK;
	if (lo & PCI_BASE_ADDRESS_MEM_TYPE_64)
		return (lo & PCI_BASE_ADDRESS_MEM_MASK) | (uint64_t)pci_cfg_get(d, reg + 4, 4) << 32;
	return lo & PCI_BASE_ADDRESS_MEM_MASK;
}

Test(pci, bars_are_placed_naturally_aligned_in_their_windows)
{
	struct pci_dev other;
	const uint64_t size[4] = { 0x1000, 0x10000, 16, 256 };

	cr_assert_eq(pci_set_bar(&fk.pci, 0, 0x1000, PCI_BAR_MEM32), 0);
	cr_assert_eq(pci_bus_add(&pb, &fk.pci), 1);
	pci_dev_init(&other, NULL, &fake_ids);
	cr_assert_eq(pci_set_bar(&other, 0, size[0], PCI_BAR_MEM32), 0);
	cr_assert_eq(pci_set_bar(&other, 1, size[1], PCI_BAR_MEM64), 0);
	cr_assert_eq(pci_set_bar(&other, 3, size[2], PCI_BAR_IO), 0);
	cr_assert_eq(pci_set_bar(&other, 4, size[3], PCI_BAR_IO), 0);
	cr_assert_eq(pci_bus_add(&pb, &other), 2);
	for (int i = 0; i < 4; i++) {
		uint64_t a = bar_address(&other, i < 2 ? (unsigned int)i : (unsigned int)i + 1);
		bool io = i >= 2;

		cr_assert_eq(a % size[i], 0, "BAR of 0x%lx at 0x%lx", (unsigned long)size[i],
			     (unsigned long)a);
		cr_assert_geq(a, io ? IO_START : MMIO_START);
		cr_assert_leq(a + size[i], io ? IO_END : MMIO_END);
	}
	cr_assert_geq(bar_address(&other, 0), bar_address(&fk.pci, 0) + 0x1000);
	cr_assert_neq(bar_address(&other, 0), bar_address(&other, 1));
	cr_assert_neq(bar_address(&other, 3), bar_address(&other, 4));
}

Test(pci, add_returns_enospc_when_the_window_is_full)
{
	const struct pci_window mw = { MMIO_START, MMIO_START + 0x2000 }, iw = { IO_START, IO_END };
	struct pci_bus small;
	struct pci_dev big, fits;

	cr_assert_eq(pci_bus_init(&small, &mw, &iw), 0);
	pci_dev_init(&big, NULL, &fake_ids);
	pci_dev_init(&fits, NULL, &fake_ids);
	cr_assert_eq(pci_set_bar(&big, 0, 0x1000, PCI_BAR_MEM32), 0);
	cr_assert_eq(pci_set_bar(&big, 1, 0x4000, PCI_BAR_MEM32), 0);
	cr_assert_eq(pci_set_bar(&fits, 0, 0x2000, PCI_BAR_MEM32), 0);
	cr_assert_eq(pci_bus_add(&small, &big), -ENOSPC);
	cr_assert_eq(big.slot, -1);
	cr_assert_eq(pci_bus_add(&small, &fits), 1, "a failed add must leave the window untouched");
	cr_assert_eq(bar_address(&fits, 0), MMIO_START);
	pci_bus_free(&small);
}

Test(pci, add_returns_enospc_when_the_slots_are_full)
{
	static struct pci_dev devs[PCI_MAX_SLOTS];

	for (int i = 1; i < PCI_MAX_SLOTS; i++) {
		pci_dev_init(&devs[i], NULL, &fake_ids);
		cr_assert_eq(pci_bus_add(&pb, &devs[i]), i);
	}
	pci_dev_init(&devs[0], NULL, &fake_ids);
	cr_assert_eq(pci_bus_add(&pb, &devs[0]), -ENOSPC);
}

Test(pci, capability_list_walks_from_0x34)
{
	const uint8_t ids[3] = { PCI_CAP_ID_VNDR, PCI_CAP_ID_MSIX, PCI_CAP_ID_PM };
	const uint8_t lens[3] = { 5, 12, 8 };
	uint8_t cap[16] = { 0 };
	uint32_t at;
	int n = 0;

	for (int i = 0; i < 3; i++) {
		cap[0] = ids[i];
		cap[2] = (uint8_t)(0xa0 + i);
		cr_assert_geq(pci_add_cap(&fk.pci, cap, lens[i]), 0x40);
	}
	cr_assert_eq(pci_bus_add(&pb, &fk.pci), 1);
	cr_assert(cfg_read(1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (at = cfg_read(1, PCI_CAPABILITY_LIST, 1); at && n < 4;
	     at = cfg_read(1, at + PCI_CAP_LIST_NEXT, 1), n++) {
		cr_assert_eq(at % 4, 0);
		cr_assert_geq(at, 0x40);
		cr_assert_eq(cfg_read(1, at, 1), ids[n]);
		cr_assert_eq(cfg_read(1, at + 2, 1), 0xa0u + n, "capability %d's body", n);
	}
	cr_assert_eq(n, 3);
}

Test(pci, add_cap_returns_enospc_when_config_space_is_full)
{
	uint8_t cap[192] = { PCI_CAP_ID_VNDR };

	cr_assert_eq(pci_add_cap(&fk.pci, cap, 192), 0x40);
	cr_assert_eq(pci_add_cap(&fk.pci, cap, 4), -ENOSPC);
}

Test(pci, ecam_reads_match_port_reads)
{
	uint8_t cap[8] = { PCI_CAP_ID_VNDR, 0, 8, 1, 2, 3, 4, 5 };

	cr_assert_geq(pci_add_cap(&fk.pci, cap, sizeof(cap)), 0);
	cr_assert_eq(add_fake_with_bar(0x1000, PCI_BAR_MEM32), 1);
	for (unsigned int slot = 0; slot < 3; slot++)
		for (uint32_t reg = 0; reg < PCI_CFG_SIZE; reg++) {
			uint32_t len = reg % 4 == 0 ? 4 : reg % 2 == 0 ? 2 : 1;

			cr_assert_eq(ecam_read(0, slot, 0, reg, len), cfg_read(slot, reg, len),
				     "slot %u register 0x%x", slot, reg);
		}
}

Test(pci, ecam_extended_space_of_a_present_function_reads_zero)
{
	cr_assert_eq(ecam_read(0, 0, 0, 0x100, 4), 0);
	cr_assert_eq(ecam_read(0, 0, 0, 0xffc, 4), 0);
}

Test(pci, ecam_absent_function_reads_all_ones_everywhere)
{
	cr_assert_eq(ecam_read(0, 7, 0, 0, 4), 0xffffffffu);
	cr_assert_eq(ecam_read(0, 7, 0, 0x100, 4), 0xffffffffu);
	cr_assert_eq(ecam_read(0, 0, 3, 0, 4), 0xffffffffu);
}

Test(pci, ecam_other_buses_read_all_ones)
{
	cr_assert_eq(ecam_read(1, 0, 0, 0, 4), 0xffffffffu);
	cr_assert_eq(ecam_read(255, 0, 0, 0, 2), 0xffffu);
}

Test(pci, ecam_writes_reach_config_space)
{
	uint8_t data[2];

	cr_assert_eq(pci_bus_add(&pb, &fk.pci), 1);
	dev_put_le(data, 2, PCI_COMMAND_MASTER);
	bus_access(&mmio, ECAM_BASE + (1 << 15) + PCI_COMMAND, data, 2, true);
	cr_assert_eq(cfg_read(1, PCI_COMMAND, 2), PCI_COMMAND_MASTER);
}

Test(pci, cfg_write_hook_sees_the_written_value)
{
	cr_assert_eq(pci_bus_add(&pb, &fk.pci), 1);
	cfg_write(1, PCI_INTERRUPT_LINE, 1, 0x0a);
	cr_assert_eq(fk.cfg_writes, 1);
	cr_assert_eq(fk.written_off, PCI_INTERRUPT_LINE);
	cr_assert_eq(fk.written_len, 1);
	cr_assert_eq(fk.value_seen, 0x0a);
}

Test(pci, bar_moved_is_not_called_while_decode_is_off)
{
	cr_assert_eq(add_fake_with_bar(0x1000, PCI_BAR_MEM32), 1);
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, 0xd0000000);
	cr_assert_eq(fk.moves, 0);
	cr_assert_eq(pci_bar_addr(&fk.pci, 0), PCI_BAR_UNMAPPED);
}

Test(pci, bar_moved_is_called_when_memory_decode_is_enabled)
{
	cr_assert_eq(add_fake_with_bar(0x1000, PCI_BAR_MEM32), 1);
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(fk.moves, 1);
	cr_assert_eq(fk.moved_bar, 0);
	cr_assert_eq(fk.moved_to, bar_address(&fk.pci, 0));
	cr_assert_eq(fk.moved_to, MMIO_START);
}

Test(pci, bar_moved_is_called_when_a_decoding_bar_is_written)
{
	cr_assert_eq(add_fake_with_bar(0x1000, PCI_BAR_MEM32), 1);
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, 0xd0000000);
	cr_assert_eq(fk.moves, 2);
	cr_assert_eq(fk.moved_to, 0xd0000000u);
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, 0xd0000000);
	cr_assert_eq(fk.moves, 2, "the same address again is no move");
}

Test(pci, bar_moved_reports_unmapped_when_decode_is_disabled)
{
	cr_assert_eq(add_fake_with_bar(0x1000, PCI_BAR_MEM32), 1);
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cfg_write(1, PCI_COMMAND, 2, 0);
	cr_assert_eq(fk.moves, 2);
	cr_assert_eq(fk.moved_to, PCI_BAR_UNMAPPED);
}

Test(pci, sizing_with_decode_off_moves_nothing)
{
	uint32_t old;

	cr_assert_eq(add_fake_with_bar(0x1000, PCI_BAR_MEM32), 1);
	old = cfg_read(1, PCI_BASE_ADDRESS_0, 4);
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, old);
	cr_assert_eq(fk.moves, 0);
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(fk.moves, 1);
	cr_assert_eq(fk.moved_to, old & PCI_BASE_ADDRESS_MEM_MASK);
}

Test(pci, sizing_pattern_with_decode_on_unmaps_the_bar)
{
	cr_assert_eq(add_fake_with_bar(0x1000, PCI_BAR_MEM32), 1);
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	cr_assert_eq(fk.moves, 2);
	cr_assert_eq(fk.moved_to, PCI_BAR_UNMAPPED);
}

Test(pci, io_bar_follows_the_io_enable_bit)
{
	cr_assert_eq(add_fake_with_bar(32, PCI_BAR_IO), 1);
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(fk.moves, 0);
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_IO);
	cr_assert_eq(fk.moves, 1);
	cr_assert_eq(fk.moved_to, IO_START);
}

Test(pci, mmio_window_routes_to_the_decoding_bar)
{
	cr_assert_eq(add_fake_with_bar(0x1000, PCI_BAR_MEM32), 1);
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(mmio_read32(MMIO_START + 0x10), 0x5a5a5a5au);
	cr_assert_eq(fk.bar_accesses, 1);
	cr_assert_eq(fk.accessed_bar, 0);
	cr_assert_eq(fk.accessed_off, 0x10);
	cr_assert_eq(fk.accessed_len, 4);
}

Test(pci, mmio_window_reads_all_ones_where_no_bar_decodes)
{
	cr_assert_eq(add_fake_with_bar(0x1000, PCI_BAR_MEM32), 1);
	cr_assert_eq(mmio_read32(MMIO_START + 0x10), 0xffffffffu, "decode is off");
	cr_assert_eq(fk.bar_accesses, 0);
}

Test(pci, io_window_routes_writes_to_the_decoding_bar)
{
	cr_assert_eq(add_fake_with_bar(32, PCI_BAR_IO), 1);
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_IO);
	out(IO_START + 0x12, 2, 0xbeef);
	cr_assert_eq(fk.bar_accesses, 1);
	cr_assert_eq(fk.accessed_off, 0x12);
	cr_assert_eq(fk.accessed_len, 2);
}
