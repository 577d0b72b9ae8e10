/* test_msix.c: the MSI-X capability, table, masking, vector_changed reports and pending bits. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "msix.h"

#define NR_VECTORS 4
#define TABLE_OFF  0x0
#define PBA_OFF	   0x800
#define MSG_ADDR   0xfee01000u
#define MSG_DATA   0x4041u

/* A function with one 16 KiB BAR holding the table and the PBA; it records vector_changed calls. */
struct fake {
	struct pci_dev pci;
	struct msix msix;
	int changes;
	unsigned int vector;
	struct msix_msg msg;
};

static void fake_cfg_write(struct pci_dev *d, uint32_t off, uint32_t len)
{
	struct fake *f = container_of(d, struct fake, pci);

	msix_cfg_write(&f->msix, off, len);
}

static void fake_vector_changed(void *opaque, unsigned int vector, const struct msix_msg *msg)
{
	struct fake *f = opaque;

	f->changes++;
	f->vector = vector;
	f->msg = *msg;
}

static const struct pci_dev_ops fake_ops = {
	.cfg_write = fake_cfg_write,
};

static const struct pci_ids fake_ids = { .vendor = 0x1af4, .device = 0x1041, .class_code = 0x020000 };

static struct pci_bus pb;
static struct fake fk;
static int cap;

static struct msix_config config(void)
{
	return (struct msix_config){
		.nr_vectors = NR_VECTORS,
		.bar = 0,
		.table_off = TABLE_OFF,
		.pba_off = PBA_OFF,
		.vector_changed = fake_vector_changed,
		.opaque = &fk,
	};
}

static void setup(void)
{
	const struct pci_window mw = { 0xc0000000, 0xe0000000 }, iw = { 0xc000, 0x10000 };
	struct msix_config c = config();

	cr_assert_eq(pci_bus_init(&pb, &mw, &iw), 0);
	memset(&fk, 0, sizeof(fk));
	pci_dev_init(&fk.pci, &fake_ops, &fake_ids);
	cr_assert_eq(pci_set_bar(&fk.pci, 0, 0x4000, PCI_BAR_MEM32), 0);
	cap = msix_init(&fk.msix, &fk.pci, &c);
	cr_assert_geq(cap, 0x40);
	cr_assert_eq(pci_bus_add(&pb, &fk.pci), 1);
}

static void teardown(void)
{
	msix_free(&fk.msix);
	pci_bus_free(&pb);
}

TestSuite(msix, .init = setup, .fini = teardown);

/* Config space of slot 1 through ECAM, as a guest reaches it. */
static uint32_t cfg_read(uint32_t reg, uint32_t len)
{
	uint8_t data[4] = { 0 };

	pb.ecam.ops->read(&pb.ecam, (1 << 15) + reg, data, len);
	return (uint32_t)dev_get_le(data, len);
}

static void cfg_write(uint32_t reg, uint32_t len, uint32_t v)
{
	uint8_t data[4];

	dev_put_le(data, len, v);
	pb.ecam.ops->write(&pb.ecam, (1 << 15) + reg, data, len);
}

static void set_control(uint16_t flags)
{
	cfg_write((uint32_t)cap + PCI_MSIX_FLAGS, 2, flags);
}

static uint64_t table_read(uint64_t off, uint32_t len)
{
	uint8_t data[8];

	msix_table_read(&fk.msix, off, data, len);
	return dev_get_le(data, len);
}

static void table_write(uint64_t off, uint32_t len, uint64_t v)
{
	uint8_t data[8];

	dev_put_le(data, len, v);
	msix_table_write(&fk.msix, off, data, len);
}

static uint64_t pba_read(uint64_t off, uint32_t len)
{
	uint8_t data[8];

	msix_pba_read(&fk.msix, off, data, len);
	return dev_get_le(data, len);
}

static uint64_t entry(unsigned int v, unsigned int field)
{
	return (uint64_t)v * PCI_MSIX_ENTRY_SIZE + field;
}

/* Program vector (v) with the test message, leaving its mask bit as (masked). */
static void program(unsigned int v, bool masked)
{
	table_write(entry(v, PCI_MSIX_ENTRY_LOWER_ADDR), 4, MSG_ADDR);
	table_write(entry(v, PCI_MSIX_ENTRY_UPPER_ADDR), 4, 0);
	table_write(entry(v, PCI_MSIX_ENTRY_DATA), 4, MSG_DATA + v);
	table_write(entry(v, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, masked);
}

Test(msix, capability_describes_table_size_bar_and_offsets)
{
	cr_assert_eq(cfg_read(PCI_CAPABILITY_LIST, 1), (uint32_t)cap);
	cr_assert_eq(cfg_read((uint32_t)cap, 1), PCI_CAP_ID_MSIX);
	cr_assert_eq(cfg_read((uint32_t)cap + PCI_MSIX_FLAGS, 2), NR_VECTORS - 1);
	cr_assert_eq(cfg_read((uint32_t)cap + PCI_MSIX_TABLE, 4), TABLE_OFF | 0);
	cr_assert_eq(cfg_read((uint32_t)cap + PCI_MSIX_PBA, 4), PBA_OFF | 0);
}

Test(msix, only_enable_and_function_mask_are_writable_in_message_control)
{
	set_control(0xffff);
	cr_assert_eq(cfg_read((uint32_t)cap + PCI_MSIX_FLAGS, 2),
		     PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (NR_VECTORS - 1));
}

Test(msix, entries_start_masked_with_a_zero_message)
{
	for (unsigned int v = 0; v < NR_VECTORS; v++) {
		cr_assert_eq(table_read(entry(v, PCI_MSIX_ENTRY_LOWER_ADDR), 8), 0);
		cr_assert_eq(table_read(entry(v, PCI_MSIX_ENTRY_DATA), 4), 0);
		cr_assert_eq(table_read(entry(v, PCI_MSIX_ENTRY_VECTOR_CTRL), 4),
			     PCI_MSIX_ENTRY_CTRL_MASKBIT);
	}
}

Test(msix, table_dword_writes_read_back)
{
	program(2, true);
	cr_assert_eq(table_read(entry(2, PCI_MSIX_ENTRY_LOWER_ADDR), 4), MSG_ADDR);
	cr_assert_eq(table_read(entry(2, PCI_MSIX_ENTRY_DATA), 4), MSG_DATA + 2);
	cr_assert_eq(table_read(entry(1, PCI_MSIX_ENTRY_DATA), 4), 0, "a neighbour is untouched");
}

Test(msix, table_qword_access_covers_two_dwords)
{
	table_write(entry(1, PCI_MSIX_ENTRY_LOWER_ADDR), 8, 0x00000001fee02000ULL);
	cr_assert_eq(table_read(entry(1, PCI_MSIX_ENTRY_UPPER_ADDR), 4), 1);
	cr_assert_eq(table_read(entry(1, PCI_MSIX_ENTRY_LOWER_ADDR), 8), 0x00000001fee02000ULL);
	table_write(entry(1, PCI_MSIX_ENTRY_DATA), 8, 0x0000000100000042ULL);
	cr_assert_eq(table_read(entry(1, PCI_MSIX_ENTRY_DATA), 4), 0x42);
	cr_assert_eq(table_read(entry(1, PCI_MSIX_ENTRY_VECTOR_CTRL), 4), 1);
}

Test(msix, reserved_entry_bits_read_zero)
{
	table_write(entry(0, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, 0xffffffff);
	table_write(entry(0, PCI_MSIX_ENTRY_LOWER_ADDR), 4, 0xfee00003);
	cr_assert_eq(table_read(entry(0, PCI_MSIX_ENTRY_VECTOR_CTRL), 4), PCI_MSIX_ENTRY_CTRL_MASKBIT);
	cr_assert_eq(table_read(entry(0, PCI_MSIX_ENTRY_LOWER_ADDR), 4), 0xfee00000);
}

Test(msix, narrow_misaligned_and_outside_accesses_are_dropped)
{
	table_write(entry(0, PCI_MSIX_ENTRY_DATA), 2, 0xffff);
	table_write(entry(0, PCI_MSIX_ENTRY_DATA) + 2, 4, 0xffffffff);
	table_write(entry(NR_VECTORS, PCI_MSIX_ENTRY_DATA), 4, 0xffffffff);
	cr_assert_eq(table_read(entry(0, PCI_MSIX_ENTRY_DATA), 4), 0);
	cr_assert_eq(table_read(entry(0, PCI_MSIX_ENTRY_VECTOR_CTRL), 2), 0, "narrow reads read zero");
	cr_assert_eq(table_read(entry(NR_VECTORS, PCI_MSIX_ENTRY_DATA), 4), 0);
}

Test(msix, unmasked_entry_stays_masked_until_msix_is_enabled)
{
	program(0, false);
	cr_assert_eq(fk.changes, 0);
	set_control(PCI_MSIX_FLAGS_ENABLE);
	cr_assert_eq(fk.changes, 1);
	cr_assert_eq(fk.vector, 0);
	cr_assert_not(fk.msg.masked);
	cr_assert_eq(fk.msg.addr, MSG_ADDR);
	cr_assert_eq(fk.msg.data, MSG_DATA);
}

Test(msix, disabling_msix_masks_unmasked_vectors)
{
	program(1, false);
	set_control(PCI_MSIX_FLAGS_ENABLE);
	set_control(0);
	cr_assert_eq(fk.changes, 2);
	cr_assert_eq(fk.vector, 1);
	cr_assert(fk.msg.masked);
}

Test(msix, entry_mask_bit_masks_and_unmasks_the_vector)
{
	set_control(PCI_MSIX_FLAGS_ENABLE);
	program(3, true);
	cr_assert_eq(fk.changes, 0);
	table_write(entry(3, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, 0);
	cr_assert_eq(fk.changes, 1);
	cr_assert_not(fk.msg.masked);
	cr_assert_eq(fk.msg.data, MSG_DATA + 3);
	table_write(entry(3, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	cr_assert_eq(fk.changes, 2);
	cr_assert_eq(fk.vector, 3);
	cr_assert(fk.msg.masked);
}

Test(msix, function_mask_masks_every_unmasked_vector)
{
	program(0, false);
	program(2, false);
	set_control(PCI_MSIX_FLAGS_ENABLE);
	cr_assert_eq(fk.changes, 2);
	set_control(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	cr_assert_eq(fk.changes, 4);
	cr_assert(fk.msg.masked);
	set_control(PCI_MSIX_FLAGS_ENABLE);
	cr_assert_eq(fk.changes, 6);
	cr_assert_not(fk.msg.masked);
}

Test(msix, writes_that_change_nothing_effective_fire_nothing)
{
	set_control(PCI_MSIX_FLAGS_ENABLE);
	program(0, true);
	table_write(entry(0, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	set_control(PCI_MSIX_FLAGS_ENABLE);
	cfg_write(PCI_INTERRUPT_LINE, 1, 5);
	cr_assert_eq(fk.changes, 0);
	table_write(entry(0, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, 0);
	table_write(entry(0, PCI_MSIX_ENTRY_DATA), 4, MSG_DATA);
	cr_assert_eq(fk.changes, 1, "the same data again is no change");
}

Test(msix, message_change_while_unmasked_fires)
{
	set_control(PCI_MSIX_FLAGS_ENABLE);
	program(1, false);
	cr_assert_eq(fk.changes, 1);
	table_write(entry(1, PCI_MSIX_ENTRY_DATA), 4, 0x77);
	cr_assert_eq(fk.changes, 2);
	cr_assert_eq(fk.msg.data, 0x77);
	table_write(entry(1, PCI_MSIX_ENTRY_LOWER_ADDR), 4, 0xfee03000);
	cr_assert_eq(fk.changes, 3);
	cr_assert_eq(fk.msg.addr, 0xfee03000);
}

Test(msix, pba_reads_the_pending_bits)
{
	msix_set_pending(&fk.msix, 0, true);
	msix_set_pending(&fk.msix, 3, true);
	cr_assert_eq(pba_read(0, 8), 0x9);
	cr_assert_eq(pba_read(0, 4), 0x9);
	cr_assert_eq(pba_read(4, 4), 0);
	msix_set_pending(&fk.msix, 0, false);
	msix_set_pending(&fk.msix, NR_VECTORS, true);
	cr_assert_eq(pba_read(0, 8), 0x8);
}

Test(msix, notify_on_an_unmasked_vector_sends_it)
{
	set_control(PCI_MSIX_FLAGS_ENABLE);
	program(2, false);
	cr_assert(msix_notify(&fk.msix, 2));
	cr_assert_eq(pba_read(0, 8), 0);
}

Test(msix, notify_on_a_masked_vector_is_pending_until_unmasked)
{
	set_control(PCI_MSIX_FLAGS_ENABLE);
	program(2, true);
	cr_assert_not(msix_notify(&fk.msix, 2));
	cr_assert_eq(pba_read(0, 8), 1u << 2);
	table_write(entry(2, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, 0);
	cr_assert_eq(fk.changes, 1);
	cr_assert(fk.msg.pending);
	cr_assert_eq(pba_read(0, 8), 0);
}

Test(msix, init_rejects_a_table_outside_the_bar)
{
	struct pci_dev d;
	struct msix m;
	struct msix_config c = config();

	pci_dev_init(&d, NULL, &fake_ids);
	cr_assert_eq(pci_set_bar(&d, 0, 0x1000, PCI_BAR_MEM32), 0);
	c.table_off = 0xff8;
	cr_assert_eq(msix_init(&m, &d, &c), -EINVAL);
	c.table_off = 0;
	c.pba_off = 0x1000;
	cr_assert_eq(msix_init(&m, &d, &c), -EINVAL);
}

/* A function with a 4 KiB memory BAR 0 and an I/O BAR 1, for msix_init()'s checks. */
static void bare(struct pci_dev *d)
{
	pci_dev_init(d, NULL, &fake_ids);
	cr_assert_eq(pci_set_bar(d, 0, 0x1000, PCI_BAR_MEM32), 0);
	cr_assert_eq(pci_set_bar(d, 1, 256, PCI_BAR_IO), 0);
}

Test(msix, init_rejects_a_pba_overlapping_the_table)
{
	struct pci_dev d;
	struct msix m;
	struct msix_config c = config();

	bare(&d);
	c.pba_off = 0x30;
	cr_assert_eq(msix_init(&m, &d, &c), -EINVAL);
	cr_assert_eq(pci_cfg_get(&d, PCI_CAPABILITY_LIST, 1), 0, "nothing was added");
}

Test(msix, init_rejects_an_io_bar)
{
	struct pci_dev d;
	struct msix m;
	struct msix_config c = config();

	bare(&d);
	c.bar = 1;
	cr_assert_eq(msix_init(&m, &d, &c), -EINVAL);
}

Test(msix, init_rejects_vector_counts_outside_1_to_64)
{
	struct pci_dev d;
	struct msix m;
	struct msix_config c = config();

	bare(&d);
	c.nr_vectors = MSIX_MAX_VECTORS + 1;
	cr_assert_eq(msix_init(&m, &d, &c), -EINVAL);
	c.nr_vectors = 0;
	cr_assert_eq(msix_init(&m, &d, &c), -EINVAL);
}

Test(msix, init_takes_64_vectors)
{
	struct pci_dev d;
	struct msix m;
	struct msix_config c = config();

	bare(&d);
	c.nr_vectors = MSIX_MAX_VECTORS;
	c.pba_off = 0x400;
	cr_assert_geq(msix_init(&m, &d, &c), 0x40);
	cr_assert_eq(pci_cfg_get(&d, (uint32_t)pci_cfg_get(&d, PCI_CAPABILITY_LIST, 1) + PCI_MSIX_FLAGS, 2),
		     63);
	msix_free(&m);
}
