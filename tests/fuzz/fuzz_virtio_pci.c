/*
 * fuzz_virtio_pci.c: libFuzzer target for the virtio-pci modern transport's register file: a hostile
 * driver's accesses to the common configuration, notify, ISR and device configuration structures, the
 * MSI-X table and PBA, and config space with the VIRTIO_PCI_CAP_PCI_CFG window, in any order, width and
 * offset, against a device whose model does next to nothing. DRIVER_OK starts the real worker threads
 * on guest RAM that the driver fills as it goes, and a reset stops them.
 *
 * Input: 2 bytes that describe the device, then fuzz_ops.h's op stream with a 2-byte argument (a).
 *   0: bits 0-2: queues - 1; bit 3: a worker per queue; bits 4-7: largest queue, 1 << (value % 16)
 *   1: bytes of device-specific configuration (the model's config_read fills them with a pattern)
 * The targets:
 *   0: BAR 4 (the virtio structures) at a % 16 KiB      1: BAR 1 (MSI-X table and PBA) at a % 4 KiB
 *   2: config space by ECAM, register a % 4 KiB          3: config space by the ports: CONFIG_ADDRESS
 *      then CONFIG_DATA at register a % 256
 *   4: the memory window at a (its first 64 KiB, where pci_bus_add() places both BARs)
 *   5: guest RAM: a write puts the value at (a bit 15: 4 GiB +) 2 * (a & 0x7fff); a read yields the CPU
 * Guest RAM is a gmem_create() of 64 KiB at 0 and 64 KiB at 4 GiB, 0, zeroed for each input; queue addresses
 * may point anywhere. Each input gets a fresh bus and device; at its end the driver resets the device.
 * The model refuses (the device then needs a reset) a chain whose first byte is 0xee, and otherwise
 * stamps the first byte of its first device-writable buffer.
 *
 * Checked (a read as it returns, the whole state after each write), against virtio 1.2 (4.1, 2.1) and the
 * headers: the device status keeps its bits until a reset, which brings every register back to its default
 * and stops the workers; FEATURES_OK sticks only for offered features with VERSION_1, after which the
 * driver's features hold; a queue's registers are frozen once it is enabled or the driver is OK; the common
 * configuration reads as the transport's state says (ids, selects, feature words, queue fields, zeros for no
 * queue and past the end of the structure); the ISR, notify and unused space read zeros but for the ISR's
 * configuration bit; device configuration reads the model's bytes within its length and zeros past it; MSI-X
 * table reads follow msix.h; config reads return what config space holds after the read, and read-only bits
 * never change; an unmasked vector has exactly one irqfd, a masked one none; each queue's ioeventfd sits at
 * the notify address where BAR 4 decodes, and none while it does not; the model only gets chains inside
 * guest RAM; no input leaves an fd open.
 *
 * Build: make build/tests/fuzz/fuzz_virtio_pci
 * Seeds:  cc -std=c11 -D_GNU_SOURCE -DFUZZ_SEED_MAIN -Ivmm -Idevices -Idevices/base tests/fuzz/fuzz_virtio_pci.c \
 *            devices/virtio/pci.c devices/virtio/device.c devices/virtio/local.c devices/virtio/worker.c \
 *            devices/virtio/virtq.c devices/pci.c \
 *            devices/msix.c devices/base/mem.c devices/base/log.c -Wl,--wrap=virtio_worker_stop -lpthread \
 *            -o /tmp/virtio-pci-seeds && \
 *         /tmp/virtio-pci-seeds tests/fuzz/corpus/virtio_pci
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "fuzz_ops.h"
#include "mem.h"
#include "virtio/local.h"
#include "virtio/pci.h"

#define MMIO_START  0xc0000000ULL
#define MMIO_END    0xe0000000ULL
#define IO_START    0xc000ULL
#define IO_END	    0x10000ULL
#define RAM_SIZE    0x20000ULL /* 64 KiB at 0, 64 KiB at 4 GiB */
#define RAM_LOW	    0x10000ULL
#define HIGH_GPA    0x100000000ULL
#define SLOT	    1
#define ARG_LEN	    2
#define DEV_HDR_LEN 2
#define DEVICE_ID   2
#define F_DEV_BIT6  (1ULL << 6)
#define FEATURES                                                            \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) | \
	 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | F_DEV_BIT6)
#define REFUSE	      0xee /* the first byte of a chain the model cannot answer */
#define STAMP	      0x5a
#define NO_ADDR	      UINT64_MAX
#define S_NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define S_STARTED     (VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK)

enum target {
	T_BAR4,
	T_BAR1,
	T_ECAM,
	T_PORTS,
	T_WINDOW,
	T_RAM,
	NR_TARGETS
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void __real_virtio_worker_stop(struct virtio_worker *w, uint16_t *bases);
void __wrap_virtio_worker_stop(struct virtio_worker *w, uint16_t *bases);

/* What the transport asked of the machine: the event channels as KVM would hold them. */
struct host {
	struct dev_host h;
	int next_gsi;
	bool irqfd[VIRTIO_MAX_QUEUES + 1];     /* by vector */
	uint64_t ioeventfd[VIRTIO_MAX_QUEUES]; /* by queue: its address, or NO_ADDR */
};

/* The transport's state before an op, to judge the change the op made. */
struct before {
	unsigned int resets;
	uint8_t status;
	uint64_t driver_features;
	struct virtio_pci_queue q[VIRTIO_MAX_QUEUES];
};

/* What the target keeps between inputs: libFuzzer gives it no other place. */
static struct {
	struct gmem mem;
	struct pci_bus bus;
	struct virtio_local local; /* the in-process back end: worker threads made at set-up */
	struct virtio_pci vp;
	struct host host;
	uint8_t snap[PCI_CFG_SIZE]; /* config space as the input started */
	atomic_uint chains;	    /* handed to the model */
	unsigned int stops;	    /* virtio_worker_stop() calls: a device reset stops every worker */
} fz;

/* A failed invariant: crash loudly so that libFuzzer keeps the input. */
static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "virtio-pci invariant broken: %s\n", what);
		abort();
	}
}

/* --- the device model and the machine -------------------------------------------------------------- */

/* The transport stops every worker on a device reset (and on destroy): how the checks see a reset. */
void __wrap_virtio_worker_stop(struct virtio_worker *w, uint16_t *bases)
{
	fz.stops++;
	__real_virtio_worker_stop(w, bases);
}

static bool in_ram(const uint8_t *p, uint32_t len)
{
	return p >= fz.mem.base && p <= fz.mem.base + fz.mem.size && len <= fz.mem.base + fz.mem.size - p;
}

/* On a worker thread: the chain is inside guest RAM, as virtq.h promises. */
static int model_handle(void *opaque, unsigned int qi, const struct virtq_chain *c, uint32_t *used)
{
	(void)opaque;
	check(qi < fz.vp.be->nr_queues, "the model serves a queue the device has");
	check(c->nbufs >= 1 && c->nbufs <= VIRTQ_CHAIN_MAX, "a chain has buffers");
	for (unsigned int i = 0; i < c->nbufs; i++)
		check(in_ram(c->bufs[i].host, c->bufs[i].len), "a chain's buffers are guest RAM");
	atomic_fetch_add(&fz.chains, 1);
	*used = 0;
	if (!c->bufs[0].device_writable && c->bufs[0].len && c->bufs[0].host[0] == REFUSE)
		return -EINVAL;
	for (unsigned int i = 0; i < c->nbufs; i++) {
		if (c->bufs[i].device_writable && c->bufs[i].len) {
			c->bufs[i].host[0] = STAMP;
			*used = 1;
			break;
		}
	}
	return 0;
}

static uint8_t config_byte(uint64_t off)
{
	return (uint8_t)(0xc0 + off);
}

static void model_config_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	uint8_t *p = data;

	(void)opaque;
	check(off < fz.vp.be->config_len && len <= fz.vp.be->config_len - off,
	      "config_read stays inside config_len");
	for (uint32_t i = 0; i < len; i++)
		p[i] = config_byte(off + i);
}

static int vector_of(int fd)
{
	for (unsigned int v = 0; v < fz.vp.nr_vectors; v++)
		if (fz.vp.vec[v].fd == fd)
			return (int)v;
	return -1;
}

static int queue_of(int fd)
{
	for (unsigned int i = 0; i < fz.vp.be->nr_queues; i++)
		if (fz.vp.q[i].kick_fd == fd)
			return (int)i;
	return -1;
}

static int host_msi_route(struct dev_host *h, int *gsi, uint64_t addr, uint32_t data, uint32_t devid)
{
	struct host *m = container_of(h, struct host, h);

	(void)addr;
	(void)data;
	(void)devid;
	if (*gsi < 0)
		*gsi = m->next_gsi++;
	else
		check(*gsi < m->next_gsi, "a route is changed only on a GSI it was given");
	return 0;
}

static int host_irqfd(struct dev_host *h, int fd, int gsi, bool assign)
{
	struct host *m = container_of(h, struct host, h);
	int v = vector_of(fd);

	check(v >= 0, "an irqfd is a vector's eventfd");
	check(gsi >= 0 && gsi < m->next_gsi, "an irqfd raises a routed GSI");
	check(m->irqfd[v] != assign, "an irqfd is assigned once and removed once (KVM says EEXIST, ENOENT)");
	m->irqfd[v] = assign;
	return 0;
}

static int host_ioeventfd(struct dev_host *h, uint64_t addr, int fd, bool assign)
{
	struct host *m = container_of(h, struct host, h);
	int q = queue_of(fd);

	check(q >= 0, "an ioeventfd is a queue's kick eventfd");
	if (assign) {
		check(m->ioeventfd[q] == NO_ADDR, "an ioeventfd is assigned once (KVM says EEXIST)");
		check(addr == fz.vp.notify_base + (uint64_t)q * VIRTIO_PCI_NOTIFY_MULT,
		      "an ioeventfd sits at its queue's notify address");
		m->ioeventfd[q] = addr;
	} else {
		check(m->ioeventfd[q] == addr, "an ioeventfd is removed where it was assigned");
		m->ioeventfd[q] = NO_ADDR;
	}
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* A misbehaving driver is the point here: keep the once-a-device warnings quiet. */
	log_set_level(LOG_ERR);
	if (gmem_create(&fz.mem, 0, RAM_SIZE, RAM_LOW))
		abort();
	return 0;
}

/* The device (hdr) describes, on a fresh bus. */
static void setup(const uint8_t *hdr)
{
	const struct pci_window mw = { MMIO_START, MMIO_END }, iw = { IO_START, IO_END };
	const struct virtio_device c = {
		.name = "virtio-fuzz",
		.device_id = DEVICE_ID,
		.features = FEATURES,
		.nr_queues = (hdr[0] & 7u) + 1,
		.worker_per_queue = hdr[0] & 8,
		.queue_max = (uint16_t)(1u << (hdr[0] >> 4) % 16),
		.config_len = hdr[1],
		.config_read = model_config_read,
		.model = { .name = "virtio-fuzz", .handle = model_handle },
	};

	memset(fz.mem.base, 0, RAM_SIZE);
	fz.host = (struct host){
		.h = { .msi_route = host_msi_route, .irqfd = host_irqfd, .ioeventfd = host_ioeventfd }
	};
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		fz.host.ioeventfd[i] = NO_ADDR;
	atomic_store(&fz.chains, 0);
	check(pci_bus_init(&fz.bus, &mw, &iw) == 0, "pci_bus_init");
	check(virtio_local_init(&fz.local, &c, &fz.mem) == 0, "virtio_local_init");
	check(virtio_pci_init(&fz.vp, &fz.local.backend, &fz.host.h) == 0, "virtio_pci_init");
	check(pci_bus_add(&fz.bus, &fz.vp.pci) == SLOT, "pci_bus_add");
	memcpy(fz.snap, fz.vp.pci.cfg, PCI_CFG_SIZE);
}

static void teardown(void)
{
	virtio_pci_destroy(&fz.vp);
	virtio_local_destroy(&fz.local);
	pci_bus_free(&fz.bus);
}

/* --- what the driver must read --------------------------------------------------------------------- */

/* The common configuration structure as the transport's state says it reads (virtio 1.2, 4.1.4.3). */
static void common_want(uint8_t img[VIRTIO_PCI_COMMON_LEN])
{
	const struct virtio_pci *vp = &fz.vp;
	const struct virtio_pci_queue *q;

	memset(img, 0, VIRTIO_PCI_COMMON_LEN);
	dev_put_le(img + VIRTIO_PCI_COMMON_DFSELECT, 4, vp->dfselect);
	if (vp->dfselect < 2)
		dev_put_le(img + VIRTIO_PCI_COMMON_DF, 4, FEATURES >> (32 * vp->dfselect));
	dev_put_le(img + VIRTIO_PCI_COMMON_GFSELECT, 4, vp->gfselect);
	if (vp->gfselect < 2)
		dev_put_le(img + VIRTIO_PCI_COMMON_GF, 4, vp->driver_features >> (32 * vp->gfselect));
	dev_put_le(img + VIRTIO_PCI_COMMON_MSIX, 2, atomic_load(&vp->config_vector));
	dev_put_le(img + VIRTIO_PCI_COMMON_NUMQ, 2, vp->be->nr_queues);
	img[VIRTIO_PCI_COMMON_STATUS] = vp->status;
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_SELECT, 2, vp->queue_select);
	if (vp->queue_select >= vp->be->nr_queues)
		return; /* no such queue: its size reads 0, and all the rest */
	q = &vp->q[vp->queue_select];
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_SIZE, 2, q->size);
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_MSIX, 2, q->vector);
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_ENABLE, 2, q->enabled);
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_NOFF, 2, vp->queue_select);
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_DESCLO, 8, q->desc);
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_AVAILLO, 8, q->avail);
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_USEDLO, 8, q->used);
}

/* Whether (img) is (want), but for DEVICE_NEEDS_RESET, which a worker may raise at any time. */
static bool common_matches(const uint8_t *img, const uint8_t *want, uint64_t off, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		uint8_t mask = off + i == VIRTIO_PCI_COMMON_STATUS ? (uint8_t)~S_NEEDS_RESET : 0xff;

		if ((img[i] ^ want[off + i]) & mask)
			return false;
	}
	return true;
}

static bool all_zero(const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* A read of BAR 4: each structure reads what it holds, and zeros where nothing is. */
static void bar4_read(uint64_t off, uint32_t len)
{
	uint8_t data[8] = { 0 }, want[VIRTIO_PCI_COMMON_LEN];
	uint64_t dev = off - VIRTIO_PCI_DEVICE_OFF;

	if (off < VIRTIO_PCI_ISR_OFF && off + len <= VIRTIO_PCI_COMMON_LEN)
		common_want(want);
	fz.vp.pci.ops->bar_read(&fz.vp.pci, VIRTIO_PCI_BAR, off, data, len);
	if (off < VIRTIO_PCI_ISR_OFF && off + len <= VIRTIO_PCI_COMMON_LEN) {
		check(common_matches(data, want, off, len),
		      "the common configuration reads the transport's state");
	} else if (off == VIRTIO_PCI_ISR_OFF) {
		check((data[0] & ~VIRTIO_PCI_ISR_CONFIG) == 0 && all_zero(data + 1, len - 1),
		      "the ISR has only the configuration-change bit");
	} else if (off >= VIRTIO_PCI_DEVICE_OFF && off < VIRTIO_PCI_NOTIFY_OFF &&
		   dev < fz.vp.be->config_len && len <= fz.vp.be->config_len - dev) {
		for (uint32_t i = 0; i < len; i++)
			check(data[i] == config_byte(dev + i),
			      "device configuration reads the model's bytes");
	} else {
		check(all_zero(data, len), "BAR 4 reads zeros where no register is");
	}
}

/* A read of the MSI-X BAR: the table and PBA by msix.h, zeros for a bad width or alignment. */
static void bar1_read(uint64_t off, uint32_t len)
{
	const struct msix *m = &fz.vp.msix;
	uint64_t rel = off >= VIRTIO_PCI_MSIX_PBA ? off - VIRTIO_PCI_MSIX_PBA : off;
	uint64_t size = off >= VIRTIO_PCI_MSIX_PBA ? MSIX_PBA_LEN : (uint64_t)m->cfg.nr_vectors * 16;
	bool ok = (len == 4 || len == 8) && rel % len == 0 && rel < size && size - rel >= len;
	uint8_t data[8] = { 0 }, want[8] = { 0 };

	if (ok && off >= VIRTIO_PCI_MSIX_PBA)
		dev_put_le(want, len, m->pba >> (8 * rel));
	else if (ok)
		memcpy(want, &m->table[rel], len);
	fz.vp.pci.ops->bar_read(&fz.vp.pci, VIRTIO_PCI_MSIX_BAR, off, data, len);
	check(memcmp(data, want, len) == 0, "MSI-X reads return the table and PBA, or zeros");
	check(m->cfg.nr_vectors >= 64 || m->pba >> m->cfg.nr_vectors == 0, "no pending bit past the table");
}

/* A config read returns what config space holds after the device refreshed it. */
static void cfg_read_check(const uint8_t *data, uint32_t reg, uint32_t len, bool ok)
{
	uint8_t want[8];

	if (!ok)
		memset(want, 0xff, len);
	else if (reg >= PCI_CFG_SIZE)
		memset(want, 0, len);
	else
		dev_put_le(want, len, pci_cfg_get(&fz.vp.pci, reg, len));
	check(memcmp(data, want, len) == 0, "a config read returns config space");
}

static bool cfg_len_ok(uint32_t off, uint32_t len)
{
	return (len == 1 || len == 2 || len == 4) && (off & (len - 1)) == 0;
}

static void ecam(const struct fuzz_op *o)
{
	uint32_t reg = o->arg % 0x1000;
	uint64_t off = (uint64_t)SLOT << 15 | reg;
	uint8_t data[8] = { 0 };

	if (o->write) {
		fz.bus.ecam.ops->write(&fz.bus.ecam, off, o->val, o->len);
		return;
	}
	fz.bus.ecam.ops->read(&fz.bus.ecam, off, data, o->len);
	cfg_read_check(data, reg, o->len, cfg_len_ok(reg, o->len));
}

static void ports(const struct fuzz_op *o)
{
	uint32_t reg = o->arg % PCI_CFG_SIZE, port = reg % 4;
	uint8_t ca[4], data[8] = { 0 };

	dev_put_le(ca, 4, 0x80000000u | SLOT << 11 | (reg & 0xfc));
	fz.bus.config_address_dev.ops->write(&fz.bus.config_address_dev, 0, ca, 4);
	if (o->write) {
		fz.bus.config_data_dev.ops->write(&fz.bus.config_data_dev, port, o->val, o->len);
		return;
	}
	fz.bus.config_data_dev.ops->read(&fz.bus.config_data_dev, port, data, o->len);
	cfg_read_check(data, reg, o->len, port + o->len <= 4 && cfg_len_ok(port, o->len));
}

/* Through the memory window, as the guest's MMIO exits reach the BARs. */
static void window(const struct fuzz_op *o)
{
	uint64_t addr = MMIO_START + o->arg;
	bool decoded = false;
	uint8_t data[8] = { 0 };

	for (unsigned int bar = 0; bar < PCI_NR_BARS; bar++) {
		uint64_t at = pci_bar_addr(&fz.vp.pci, bar);

		decoded |= at != PCI_BAR_UNMAPPED && addr >= at && addr - at < fz.vp.pci.bar[bar].size;
	}
	if (o->write) {
		fz.bus.mmio_window.ops->write(&fz.bus.mmio_window, o->arg, o->val, o->len);
		return;
	}
	fz.bus.mmio_window.ops->read(&fz.bus.mmio_window, o->arg, data, o->len);
	check(decoded || memcmp(data, "\xff\xff\xff\xff\xff\xff\xff\xff", o->len) == 0,
	      "a window read where no BAR decodes is a master abort");
}

static void ram(const struct fuzz_op *o)
{
	uint64_t gpa = (o->arg & 0x8000 ? HIGH_GPA : 0) + 2ULL * (o->arg & 0x7fff);

	if (o->write)
		(void)gmem_write(&fz.mem, gpa, o->val, o->len); /* off the end of RAM: nothing */
	else
		sched_yield(); /* the workers' turn */
}

static void run_op(const struct fuzz_op *o)
{
	switch (o->target) {
	case T_BAR4:
		if (o->write)
			fz.vp.pci.ops->bar_write(&fz.vp.pci, VIRTIO_PCI_BAR, o->arg % VIRTIO_PCI_BAR_SIZE,
						 o->val, o->len);
		else
			bar4_read(o->arg % VIRTIO_PCI_BAR_SIZE, o->len);
		break;
	case T_BAR1:
		if (o->write)
			fz.vp.pci.ops->bar_write(&fz.vp.pci, VIRTIO_PCI_MSIX_BAR,
						 o->arg % VIRTIO_PCI_MSIX_BAR_SIZE, o->val, o->len);
		else
			bar1_read(o->arg % VIRTIO_PCI_MSIX_BAR_SIZE, o->len);
		break;
	case T_ECAM:
		ecam(o);
		break;
	case T_PORTS:
		ports(o);
		break;
	case T_WINDOW:
		window(o);
		break;
	case T_RAM:
		ram(o);
		break;
	}
}

/* --- the checks after every op -------------------------------------------------------------------- */

static void take_before(struct before *b)
{
	b->resets = fz.stops;
	b->status = fz.vp.status;
	b->driver_features = fz.vp.driver_features;
	memcpy(b->q, fz.vp.q, sizeof(b->q));
}

static bool any_worker(void)
{
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (fz.local.workers[i].running)
			return true;
	return false;
}

static bool queue_regs_equal(const struct virtio_pci_queue *a, const struct virtio_pci_queue *b)
{
	return a->size == b->size && a->enabled == b->enabled && a->desc == b->desc && a->avail == b->avail &&
	       a->used == b->used;
}

/* Status 0 (virtio 2.1, 4.1.4.3.1): every register at its default, nothing served. */
static void check_reset(void)
{
	const struct virtio_pci *vp = &fz.vp;

	check(vp->dfselect == 0 && vp->gfselect == 0 && vp->driver_features == 0 && vp->queue_select == 0,
	      "a reset clears the selects and the driver's features");
	check(atomic_load(&vp->config_vector) == VIRTIO_MSI_NO_VECTOR && !atomic_load(&vp->needs_reset) &&
		      atomic_load(&vp->isr) == 0,
	      "a reset clears the configuration vector, NEEDS_RESET and the ISR");
	check(!any_worker(), "a reset stops the workers");
	for (unsigned int i = 0; i < vp->be->nr_queues; i++)
		check(vp->q[i].size == vp->be->queue_max && vp->q[i].vector == VIRTIO_MSI_NO_VECTOR &&
			      !vp->q[i].enabled && !vp->q[i].desc && !vp->q[i].avail && !vp->q[i].used,
		      "a reset brings every queue's registers back to their defaults");
}

static void check_status(const struct before *b)
{
	const struct virtio_pci *vp = &fz.vp;
	uint8_t s = vp->status, was = b->status;

	if (fz.stops != b->resets) {
		check(s == 0, "a device reset leaves status 0");
		check_reset();
		return;
	}
	check((s & was) == was, "only a reset clears device status bits");
	if ((s & VIRTIO_CONFIG_S_FEATURES_OK) && !(was & VIRTIO_CONFIG_S_FEATURES_OK))
		check(!(vp->driver_features & ~FEATURES) &&
			      (vp->driver_features & (1ULL << VIRTIO_F_VERSION_1)),
		      "FEATURES_OK sticks only for offered features with VERSION_1");
	if (was & VIRTIO_CONFIG_S_FEATURES_OK)
		check(vp->driver_features == b->driver_features,
		      "the driver's features hold after FEATURES_OK");
	for (unsigned int i = 0; i < vp->be->nr_queues; i++)
		if (b->q[i].enabled || (was & VIRTIO_CONFIG_S_DRIVER_OK))
			check(queue_regs_equal(&b->q[i], &vp->q[i]),
			      "a queue's registers are frozen once enabled or after DRIVER_OK");
	check(!any_worker() || (s & S_STARTED) == S_STARTED,
	      "workers run only after FEATURES_OK and DRIVER_OK");
	if ((s & S_STARTED) == S_STARTED && !(was & VIRTIO_CONFIG_S_DRIVER_OK))
		check(fz.local.workers[0].running, "DRIVER_OK after FEATURES_OK starts the worker");
}

static void check_registers(void)
{
	const struct virtio_pci *vp = &fz.vp;
	uint8_t img[64] = { 0 }, want[VIRTIO_PCI_COMMON_LEN];

	for (unsigned int i = 0; i < vp->be->nr_queues; i++)
		check(vp->q[i].size <= vp->be->queue_max &&
			      (vp->q[i].vector < vp->nr_vectors || vp->q[i].vector == VIRTIO_MSI_NO_VECTOR),
		      "a queue's size and vector are within the device's");
	check(atomic_load(&vp->config_vector) < vp->nr_vectors ||
		      atomic_load(&vp->config_vector) == VIRTIO_MSI_NO_VECTOR,
	      "the configuration vector is one of the table's");
	/* The whole structure, read as a driver may: qwords, the last one a dword. */
	for (uint32_t off = 0; off < VIRTIO_PCI_COMMON_LEN; off += 8)
		fz.vp.pci.ops->bar_read(&fz.vp.pci, VIRTIO_PCI_BAR, off, img + off,
					VIRTIO_PCI_COMMON_LEN - off < 8 ? 4 : 8);
	common_want(want);
	check(common_matches(img, want, 0, VIRTIO_PCI_COMMON_LEN),
	      "the common configuration reads the transport's state");
}

/* An unmasked vector has its irqfd, a masked one none; the ioeventfds follow BAR 4. */
static void check_channels(void)
{
	const struct virtio_pci *vp = &fz.vp;
	uint64_t bar = pci_bar_addr(&vp->pci, VIRTIO_PCI_BAR);

	for (unsigned int v = 0; v < vp->nr_vectors; v++)
		check(fz.host.irqfd[v] == !vp->msix.reported[v].masked,
		      "an unmasked vector has its irqfd, a masked one none");
	check(vp->notify_base == (bar == PCI_BAR_UNMAPPED ? PCI_BAR_UNMAPPED : bar + VIRTIO_PCI_NOTIFY_OFF),
	      "the notify structure is where BAR 4 decodes");
	for (unsigned int i = 0; i < vp->be->nr_queues; i++)
		check(fz.host.ioeventfd[i] ==
			      (bar == PCI_BAR_UNMAPPED
				       ? NO_ADDR
				       : vp->notify_base + (uint64_t)i * VIRTIO_PCI_NOTIFY_MULT),
		      "each queue's ioeventfd sits at its notify address while BAR 4 decodes");
}

/* Bits outside the write mask keep their value: ids, class, capabilities, BAR kinds. */
static void check_read_only(void)
{
	const struct pci_dev *d = &fz.vp.pci;
	unsigned int changed = 0;

	for (unsigned int r = 0; r < PCI_CFG_SIZE; r++)
		changed |= (d->cfg[r] ^ fz.snap[r]) & ~d->wmask[r] & ~(d->w1cmask[r] & fz.snap[r]);
	check(changed == 0, "a read-only config bit never changes");
}

/* The lowest free fd: an input that leaves one open moves it. */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t reset = 0;
	int free_fd = lowest_free_fd();
	struct before b;
	struct fuzz_op o;

	if (size < DEV_HDR_LEN)
		return 0;
	setup(data);
	data += DEV_HDR_LEN;
	size -= DEV_HDR_LEN;
	while (fuzz_op_next(&data, &size, ARG_LEN, NR_TARGETS, &o)) {
		take_before(&b);
		run_op(&o);
		if (!o.write)
			continue; /* a read changes no register: its own check suffices */
		check_status(&b);
		check_registers();
		check_channels();
		if (o.target == T_ECAM || o.target == T_PORTS)
			check_read_only();
	}
	take_before(&b);
	fz.vp.pci.ops->bar_write(&fz.vp.pci, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_STATUS, &reset, 1);
	check(fz.stops != b.resets, "writing status 0 resets the device");
	check_status(&b);
	check_read_only();
	teardown();
	check(lowest_free_fd() == free_fd, "an input leaves no fd open");
	return 0;
}

#ifdef FUZZ_SEED_MAIN
/* Seed corpus: how Linux probes and drives the device, the PCI_CFG window, MSI-X, and hostile drivers. */

#define S_ACK	  VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRIVER  VIRTIO_CONFIG_S_DRIVER
#define S_FEAT_OK VIRTIO_CONFIG_S_FEATURES_OK
#define S_OK	  VIRTIO_CONFIG_S_DRIVER_OK
#define DESC_GPA  0x1000
#define AVAIL_GPA 0x2000
#define USED_GPA  0x3000
#define BUF_GPA	  0x4000

/* A seed for a device of (queues) queues of at most 1 << (log2_max), with (config_len) config bytes. */
static void begin(struct ops_seed *s, unsigned int queues, bool per_queue, unsigned int log2_max,
		  uint8_t config_len)
{
	s->arg_len = ARG_LEN;
	s->buf[0] = (uint8_t)((queues - 1) | (per_queue ? 8 : 0) | log2_max << 4);
	s->buf[1] = config_len;
	s->len = DEV_HDR_LEN;
	/* The transport's layout for that device: capability offsets, as the driver would find them. */
	setup(s->buf);
	teardown();
}

static void common_wr(struct ops_seed *s, uint32_t field, uint32_t len, uint64_t v)
{
	op(s, T_BAR4, true, len, VIRTIO_PCI_COMMON_OFF + field, v);
}

static void common_rd(struct ops_seed *s, uint32_t field, uint32_t len)
{
	op(s, T_BAR4, false, len, VIRTIO_PCI_COMMON_OFF + field, 0);
}

static void cfg_wr(struct ops_seed *s, uint32_t reg, uint32_t len, uint32_t v)
{
	op(s, T_ECAM, true, len, reg, v);
}

static void ram_wr(struct ops_seed *s, uint64_t gpa, uint32_t len, uint64_t v)
{
	uint32_t a = gpa >= HIGH_GPA ? 0x8000 | (uint32_t)(gpa - HIGH_GPA) / 2 : (uint32_t)gpa / 2;

	op(s, T_RAM, true, len, a, v);
}

/* Queue (qi) of (size) at the rings above, on MSI-X vector (vector), then enabled. */
static void queue_setup(struct ops_seed *s, uint16_t qi, uint16_t size, uint64_t off, uint16_t vector)
{
	common_wr(s, VIRTIO_PCI_COMMON_Q_SELECT, 2, qi);
	common_rd(s, VIRTIO_PCI_COMMON_Q_SIZE, 2);
	common_wr(s, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
	common_wr(s, VIRTIO_PCI_COMMON_Q_MSIX, 2, vector);
	common_wr(s, VIRTIO_PCI_COMMON_Q_DESCLO, 4, DESC_GPA + off);
	common_wr(s, VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0);
	common_wr(s, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, AVAIL_GPA + off);
	common_wr(s, VIRTIO_PCI_COMMON_Q_USEDLO, 8, USED_GPA + off);
	common_wr(s, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

static void negotiate(struct ops_seed *s, uint64_t features)
{
	common_wr(s, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	common_wr(s, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK);
	common_wr(s, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER);
	for (uint32_t w = 0; w < 2; w++) {
		common_wr(s, VIRTIO_PCI_COMMON_DFSELECT, 4, w);
		common_rd(s, VIRTIO_PCI_COMMON_DF, 4);
		common_wr(s, VIRTIO_PCI_COMMON_GFSELECT, 4, w);
		common_wr(s, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(features >> (32 * w)));
	}
	common_wr(s, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER | S_FEAT_OK);
	common_rd(s, VIRTIO_PCI_COMMON_STATUS, 1);
}

/* A two-buffer chain at descriptor (head) of the queue at (off), offered as avail entry (slot). */
static void post_chain(struct ops_seed *s, uint64_t off, uint16_t head, uint16_t slot, uint8_t first)
{
	uint64_t d = DESC_GPA + off + 16ULL * head;

	ram_wr(s, BUF_GPA + off, 1, first);
	ram_wr(s, d, 8, BUF_GPA + off);
	ram_wr(s, d + 8, 8, 16 | (uint64_t)VIRTQ_DESC_F_NEXT << 32 | (uint64_t)(head + 1) << 48);
	ram_wr(s, d + 16, 8, BUF_GPA + off + 0x100);
	ram_wr(s, d + 24, 8, 4 | (uint64_t)VIRTQ_DESC_F_WRITE << 32);
	ram_wr(s, AVAIL_GPA + off + 4 + 2ULL * slot, 2, head);
	ram_wr(s, AVAIL_GPA + off + 2, 2, slot + 1);
}

/* Linux's probe: identity, capabilities, BAR sizing, every field of the common configuration. */
static void seed_probe(struct ops_seed *s)
{
	begin(s, 2, false, 4, 8);
	for (uint32_t reg = 0; reg < 0x40; reg += 4)
		op(s, T_ECAM, false, 4, reg, 0);
	for (uint32_t reg = 0x40; reg < fz.vp.pci.cap_next; reg += 4)
		op(s, T_PORTS, false, 4, reg, 0);
	for (uint32_t bar = PCI_BASE_ADDRESS_0; bar <= PCI_BASE_ADDRESS_5; bar += 4) {
		op(s, T_ECAM, true, 4, bar, 0xffffffff);
		op(s, T_ECAM, false, 4, bar, 0);
		op(s, T_ECAM, true, 4, bar, (uint32_t)pci_cfg_get(&fz.vp.pci, bar, 4));
	}
	for (uint32_t off = 0; off < 64; off += 2)
		common_rd(s, off, 2);
	common_rd(s, VIRTIO_PCI_COMMON_Q_DESCLO, 8);
	op(s, T_BAR4, false, 1, VIRTIO_PCI_ISR_OFF, 0);
	op(s, T_BAR4, false, 4, VIRTIO_PCI_DEVICE_OFF, 0);
	op(s, T_BAR4, false, 8, VIRTIO_PCI_DEVICE_OFF + 4, 0);
	op(s, T_BAR4, false, 2, VIRTIO_PCI_NOTIFY_OFF, 0);
}

/* Linux's bring-up: features, queue 0 on vector 1, config vector 0, DRIVER_OK, a chain, a kick, reset. */
static void seed_bring_up(struct ops_seed *s)
{
	uint32_t msix = fz.vp.msix.cap;

	begin(s, 2, false, 4, 8);
	cfg_wr(s, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cfg_wr(s, msix + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	for (uint32_t v = 0; v < 2; v++) {
		op(s, T_BAR1, true, 8, 16 * v, 0xfee00000 | v << 12);
		op(s, T_BAR1, true, 4, 16 * v + PCI_MSIX_ENTRY_DATA, 0x4020 + v);
		op(s, T_BAR1, true, 4, 16 * v + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	}
	negotiate(s, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX));
	common_wr(s, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	common_rd(s, VIRTIO_PCI_COMMON_MSIX, 2);
	queue_setup(s, 0, 8, 0, 1);
	post_chain(s, 0, 0, 0, 0x11);
	common_wr(s, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER | S_FEAT_OK | S_OK);
	op(s, T_WINDOW, true, 2, VIRTIO_PCI_NOTIFY_OFF, 0);
	op(s, T_RAM, false, 1, 0, 0);
	post_chain(s, 0, 2, 1, REFUSE);
	op(s, T_BAR4, true, 2, VIRTIO_PCI_NOTIFY_OFF, 0);
	op(s, T_RAM, false, 1, 0, 0);
	op(s, T_BAR4, false, 1, VIRTIO_PCI_ISR_OFF, 0);
	common_rd(s, VIRTIO_PCI_COMMON_STATUS, 1);
	common_wr(s, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	common_rd(s, VIRTIO_PCI_COMMON_STATUS, 1);
}

/* Every queue, each with a worker of its own, on RAM above 4 GiB too. */
static void seed_per_queue(struct ops_seed *s)
{
	begin(s, 4, true, 8, 0);
	negotiate(s, FEATURES);
	for (uint16_t q = 0; q < 4; q++)
		queue_setup(s, q, 16, q < 2 ? 0x400ULL * q : HIGH_GPA + 0x400ULL * q, q + 1);
	post_chain(s, 0x400, 0, 0, 0x22);
	common_wr(s, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER | S_FEAT_OK | S_OK);
	for (uint16_t q = 0; q < 4; q++)
		op(s, T_BAR4, true, 4, VIRTIO_PCI_NOTIFY_OFF + 4 * q, q);
	op(s, T_RAM, false, 1, 0, 0);
	common_wr(s, VIRTIO_PCI_COMMON_STATUS, 1, 0);
}

/* The VIRTIO_PCI_CAP_PCI_CFG window onto the common configuration, the notify structure and MSI-X. */
static void seed_pci_cfg_window(struct ops_seed *s)
{
	uint32_t cap, data;

	begin(s, 2, false, 4, 8);
	cap = fz.vp.pci_cfg_cap;
	data = cap + (uint32_t)offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
	cfg_wr(s, cap + VIRTIO_PCI_CAP_BAR, 1, VIRTIO_PCI_BAR);
	cfg_wr(s, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_DF);
	cfg_wr(s, cap + VIRTIO_PCI_CAP_LENGTH, 4, 4);
	op(s, T_ECAM, false, 4, data, 0);
	cfg_wr(s, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_Q_SELECT);
	cfg_wr(s, cap + VIRTIO_PCI_CAP_LENGTH, 4, 2);
	cfg_wr(s, data, 4, 1);
	op(s, T_PORTS, false, 4, data, 0);
	cfg_wr(s, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT);
	cfg_wr(s, data, 2, 1);
	cfg_wr(s, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_ISR_OFF);
	cfg_wr(s, cap + VIRTIO_PCI_CAP_LENGTH, 4, 1);
	op(s, T_ECAM, false, 1, data, 0);
	cfg_wr(s, cap + VIRTIO_PCI_CAP_BAR, 1, VIRTIO_PCI_MSIX_BAR);
	cfg_wr(s, cap + VIRTIO_PCI_CAP_OFFSET, 4, 16 + PCI_MSIX_ENTRY_DATA);
	cfg_wr(s, cap + VIRTIO_PCI_CAP_LENGTH, 4, 4);
	cfg_wr(s, data, 4, 0x4077);
	op(s, T_ECAM, false, 4, data, 0);
	cfg_wr(s, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_MSIX_PBA);
	op(s, T_ECAM, false, 2, data + 2, 0);
	cfg_wr(s, cap + VIRTIO_PCI_CAP_LENGTH, 4, 3); /* a bad length: the window does nothing */
	cfg_wr(s, data, 4, 1);
}

/* MSI-X masking and unmasking, the function mask, BAR 4 moving with decode on, and its window. */
static void seed_msix_and_bars(struct ops_seed *s)
{
	uint32_t msix;

	begin(s, 3, false, 5, 16);
	msix = fz.vp.msix.cap;
	cfg_wr(s, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cfg_wr(s, msix + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	for (uint32_t v = 0; v < 4; v++) {
		op(s, T_BAR1, true, 4, 16 * v, 0xfee00000);
		op(s, T_BAR1, true, 4, 16 * v + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	}
	cfg_wr(s, msix + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	op(s, T_BAR1, true, 4, 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 1);
	op(s, T_BAR1, true, 4, 16 + PCI_MSIX_ENTRY_DATA, 0x4099);
	op(s, T_BAR1, true, 4, 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	op(s, T_BAR1, false, 8, VIRTIO_PCI_MSIX_PBA, 0);
	op(s, T_BAR1, false, 2, 16, 0);
	op(s, T_WINDOW, false, 4, VIRTIO_PCI_COMMON_NUMQ, 0);
	cfg_wr(s, PCI_BASE_ADDRESS_4, 4, ((uint32_t)MMIO_START + 0x8000) | PCI_BAR_MEM64);
	op(s, T_WINDOW, false, 2, 0x8000 + VIRTIO_PCI_COMMON_NUMQ, 0);
	op(s, T_WINDOW, false, 2, VIRTIO_PCI_COMMON_NUMQ, 0);
	cfg_wr(s, PCI_BASE_ADDRESS_5, 4, 1);
	cfg_wr(s, PCI_BASE_ADDRESS_5, 4, 0);
	cfg_wr(s, PCI_BASE_ADDRESS_4, 4, 0xffffffff);
	cfg_wr(s, PCI_BASE_ADDRESS_4, 4, (uint32_t)MMIO_START);
	cfg_wr(s, PCI_COMMAND, 2, 0);
	cfg_wr(s, msix + PCI_MSIX_FLAGS, 2, 0);
}

/* A driver that breaks the rules: each must end in a refusal or NEEDS_RESET, never a crash. */
static void seed_hostile(struct ops_seed *s)
{
	begin(s, 8, false, 15, 255);
	common_wr(s, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER | S_OK); /* DRIVER_OK, no FEATURES_OK */
	common_rd(s, VIRTIO_PCI_COMMON_STATUS, 1);
	common_wr(s, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK); /* clears bits without a reset */
	common_wr(s, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	negotiate(s, F_DEV_BIT6 | (1ULL << 3)); /* no VERSION_1, a bit not offered */
	common_wr(s, VIRTIO_PCI_COMMON_GFSELECT, 4, 7);
	common_wr(s, VIRTIO_PCI_COMMON_GF, 4, 0xffffffff);
	common_wr(s, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0xffff);
	common_wr(s, VIRTIO_PCI_COMMON_Q_SIZE, 2, 4);
	common_rd(s, VIRTIO_PCI_COMMON_Q_SIZE, 8);
	common_wr(s, VIRTIO_PCI_COMMON_Q_SELECT, 2, 7);
	common_wr(s, VIRTIO_PCI_COMMON_Q_SIZE, 2, 6); /* not a power of two */
	common_wr(s, VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0xfffffffffffff000ULL);
	common_wr(s, VIRTIO_PCI_COMMON_Q_AVAILLO + 2, 8, 0x1234567812345678ULL); /* straddles two fields */
	common_wr(s, VIRTIO_PCI_COMMON_Q_USEDLO, 8, RAM_LOW - 8);
	common_wr(s, VIRTIO_PCI_COMMON_Q_MSIX, 2, 0x7ff);
	common_wr(s, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	common_wr(s, VIRTIO_PCI_COMMON_NUMQ - 1, 4, 0xffffffff); /* over num_queues and status */
	negotiate(s, FEATURES);
	common_wr(s, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER | S_FEAT_OK | S_OK);
	common_wr(s, VIRTIO_PCI_COMMON_Q_SIZE, 2, 2);
	common_wr(s, VIRTIO_PCI_COMMON_GF, 4, 0);
	op(s, T_BAR4, true, 8, VIRTIO_PCI_COMMON_LEN - 4, ~0ULL);
	op(s, T_BAR4, true, 8, VIRTIO_PCI_ISR_OFF, ~0ULL);
	op(s, T_BAR4, true, 4, VIRTIO_PCI_DEVICE_OFF, ~0ULL);
	op(s, T_BAR4, true, 3, VIRTIO_PCI_BAR_SIZE - 1, 0);
	op(s, T_BAR4, false, 7, VIRTIO_PCI_DEVICE_OFF + 250, 0);
	op(s, T_BAR1, true, 8, 8 * 16 + 8, ~0ULL);
	op(s, T_BAR1, true, 4, 9 * 16, 1); /* past the table */
	op(s, T_BAR1, true, 4, VIRTIO_PCI_MSIX_PBA, ~0ULL);
}

int main(int argc, char **argv)
{
	static struct ops_seed s;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	seed_probe(&s);
	emit_ops(&s, argv[1], "probe");
	seed_bring_up(&s);
	emit_ops(&s, argv[1], "bring-up");
	seed_per_queue(&s);
	emit_ops(&s, argv[1], "per-queue");
	seed_pci_cfg_window(&s);
	emit_ops(&s, argv[1], "pci-cfg-window");
	seed_msix_and_bars(&s);
	emit_ops(&s, argv[1], "msix-and-bars");
	seed_hostile(&s);
	emit_ops(&s, argv[1], "hostile");
	return 0;
}
#endif
