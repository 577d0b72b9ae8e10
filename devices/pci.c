/* pci.c: a PCI bus 0 with a host bridge, type-0 config space, BARs, capabilities, CAM and ECAM access. */
#include "pci.h"

#include <errno.h>
#include <string.h>

#define CONFIG_ADDRESS_ENABLE (1u << 31)
#define CONFIG_ADDRESS_MASK   0x80fffffcu /* bits 30:24 reserved and 1:0 zero */
#define CAP_START	      0x40	  /* the first byte after the type-0 header */
/* Status bits a function sets on errors and software clears by writing 1 (all in the upper byte). */
#define STATUS_ERRORS                                                                    \
	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT | \
	 PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

/*
 * The host bridge is Red Hat's 1b36:0008, the id QEMU gives its generic PCIe host bridge. Intel's
 * 8086:29c0 (q35's MCH) would draw Linux drivers that read chipset registers kvmini does not have
 * (intel-agp/intel-gtt bind to that id and probe the GMCH control word); 1b36:0008 matches no driver
 * and only says "a host bridge", which is all this one is.
 */
static const struct pci_ids host_bridge_ids = {
	.vendor = PCI_HOST_VENDOR,
	.device = PCI_HOST_DEVICE,
	.class_code = 0x060000, /* bridge, host bridge */
	.subsys_vendor = 0x1af4,
	.subsys = 0x1100,
};

static bool overlaps(uint32_t off, uint32_t len, uint32_t start, uint32_t n)
{
	return off < start + n && start < off + len;
}

uint32_t pci_cfg_get(const struct pci_dev *d, uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < len && i < 4 && off + i < PCI_CFG_SIZE; i++)
		v |= (uint32_t)d->cfg[off + i] << (8 * i);
	return v;
}

void pci_cfg_set(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t v)
{
	for (uint32_t i = 0; i < len && i < 4 && off + i < PCI_CFG_SIZE; i++)
		d->cfg[off + i] = (uint8_t)(v >> (8 * i));
}

void pci_set_wmask(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t mask)
{
	for (uint32_t i = 0; i < len && i < 4 && off + i < PCI_CFG_SIZE; i++)
		d->wmask[off + i] = (uint8_t)(mask >> (8 * i));
}

uint64_t pci_bar_addr(const struct pci_dev *d, unsigned int bar)
{
	return bar < PCI_NR_BARS && d->bar[bar].size ? d->bar[bar].decoded : PCI_BAR_UNMAPPED;
}

void pci_dev_init(struct pci_dev *d, const struct pci_dev_ops *ops, const struct pci_ids *ids)
{
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->slot = -1;
	d->cap_next = CAP_START;
	for (int i = 0; i < PCI_NR_BARS; i++)
		d->bar[i].decoded = PCI_BAR_UNMAPPED;
	pci_cfg_set(d, PCI_VENDOR_ID, 2, ids->vendor);
	pci_cfg_set(d, PCI_DEVICE_ID, 2, ids->device);
	pci_cfg_set(d, PCI_CLASS_REVISION, 4, ids->class_code << 8 | ids->revision);
	pci_cfg_set(d, PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_NORMAL);
	pci_cfg_set(d, PCI_SUBSYSTEM_VENDOR_ID, 2, ids->subsys_vendor);
	pci_cfg_set(d, PCI_SUBSYSTEM_ID, 2, ids->subsys);
	/* I/O and memory enable become writable with a BAR of their kind (hardwired 0 otherwise). */
	pci_set_wmask(d, PCI_COMMAND, 2,
		      PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	d->w1cmask[PCI_STATUS + 1] = STATUS_ERRORS >> 8;
	d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

static bool bar_size_ok(uint64_t size, uint8_t flags)
{
	if (size == 0 || (size & (size - 1)))
		return false;
	if (flags == PCI_BAR_IO)
		return size >= PCI_BAR_IO_MIN && size <= PCI_BAR_IO_MAX;
	if ((flags & ~PCI_BAR_PREFETCH) == PCI_BAR_MEM32)
		return size >= PCI_BAR_MEM_MIN && size <= (1ULL << 31);
	if ((flags & ~PCI_BAR_PREFETCH) == PCI_BAR_MEM64)
		return size >= PCI_BAR_MEM_MIN && size <= (1ULL << 63);
	return false;
}

/* The upper half of a 64-bit BAR pair: (bar) is taken though its own size is 0. */
static bool bar_is_upper_half(const struct pci_dev *d, unsigned int bar)
{
	return bar > 0 && d->bar[bar - 1].size && (d->bar[bar - 1].flags & PCI_BAR_MEM64);
}

int pci_set_bar(struct pci_dev *d, unsigned int bar, uint64_t size, uint8_t flags)
{
	bool is64 = flags & PCI_BAR_MEM64;
	uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * bar;

	if (bar >= PCI_NR_BARS || (is64 && bar + 1 >= PCI_NR_BARS) || !bar_size_ok(size, flags) ||
	    d->slot >= 0)
		return -EINVAL;
	if (d->bar[bar].size || bar_is_upper_half(d, bar) || (is64 && d->bar[bar + 1].size))
		return -EINVAL;
	d->bar[bar] = (struct pci_bar){ .size = size, .flags = flags, .decoded = PCI_BAR_UNMAPPED };
	pci_cfg_set(d, reg, 4, flags);
	if (flags & PCI_BAR_IO) {
		pci_set_wmask(d, reg, 4, ~(uint32_t)(size - 1) & PCI_BASE_ADDRESS_IO_MASK);
		d->wmask[PCI_COMMAND] |= PCI_COMMAND_IO;
		return 0;
	}
	pci_set_wmask(d, reg, 4, ~(uint32_t)(size - 1) & PCI_BASE_ADDRESS_MEM_MASK);
	if (is64)
		pci_set_wmask(d, reg + 4, 4, ~(uint32_t)((size - 1) >> 32));
	d->wmask[PCI_COMMAND] |= PCI_COMMAND_MEMORY;
	return 0;
}

int pci_add_cap(struct pci_dev *d, const void *cap, uint8_t len)
{
	uint32_t off = d->cap_next;

	if (len < 2)
		return -EINVAL;
	if (off + len > PCI_CFG_SIZE)
		return -ENOSPC;
	memcpy(&d->cfg[off], cap, len);
	d->cfg[off + PCI_CAP_LIST_NEXT] = 0;
	if (d->cap_last)
		d->cfg[d->cap_last + PCI_CAP_LIST_NEXT] = (uint8_t)off;
	else
		d->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	d->cap_last = (uint8_t)off;
	d->cap_next = (uint16_t)((off + len + 3) & ~3u);
	return (int)off;
}

/* Where BAR (i) decodes by the command register and its registers, or PCI_BAR_UNMAPPED. */
static uint64_t bar_decode(const struct pci_dev *d, unsigned int i)
{
	const struct pci_bar *bar = &d->bar[i];
	uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i;
	uint16_t cmd = (uint16_t)pci_cfg_get(d, PCI_COMMAND, 2);
	uint64_t addr, last, top;

	if (bar->flags & PCI_BAR_IO) {
		if (!(cmd & PCI_COMMAND_IO))
			return PCI_BAR_UNMAPPED;
		addr = pci_cfg_get(d, reg, 4) & PCI_BASE_ADDRESS_IO_MASK;
		top = 0xffff;
	} else {
		if (!(cmd & PCI_COMMAND_MEMORY))
			return PCI_BAR_UNMAPPED;
		addr = pci_cfg_get(d, reg, 4) & PCI_BASE_ADDRESS_MEM_MASK;
		top = UINT32_MAX - 1;
		if (bar->flags & PCI_BAR_MEM64) {
			addr |= (uint64_t)pci_cfg_get(d, reg + 4, 4) << 32;
			top = UINT64_MAX - 1;
		}
	}
	/* 0 is "unassigned"; a last byte at the top of the space is what writing all-ones leaves. */
	last = addr + bar->size - 1;
	if (addr == 0 || last < addr || last > top)
		return PCI_BAR_UNMAPPED;
	return addr;
}

/* Tell (d) about every BAR whose decoded address changed. Bus lock held. */
static void bars_update(struct pci_dev *d)
{
	for (unsigned int i = 0; i < PCI_NR_BARS; i++) {
		uint64_t addr;

		if (!d->bar[i].size)
			continue;
		addr = bar_decode(d, i);
		if (addr == d->bar[i].decoded)
			continue;
		d->bar[i].decoded = addr;
		if (d->ops && d->ops->bar_moved)
			d->ops->bar_moved(d, i, addr);
	}
}

/* The function at (bus, slot, fn), or NULL: bus 0, function 0 only. Bus lock held. */
static struct pci_dev *lookup(struct pci_bus *b, uint32_t bus, uint32_t slot, uint32_t fn)
{
	if (bus != 0 || fn != 0 || slot >= PCI_MAX_SLOTS)
		return NULL;
	return b->slot[slot];
}

/* A config read of (len) at (reg) < 4096; absent functions read all-ones, the extended space zero. */
static void cfg_read(struct pci_dev *d, uint32_t reg, void *data, uint32_t len)
{
	if (!d)
		memset(data, 0xff, len);
	else if (reg >= PCI_CFG_SIZE)
		memset(data, 0, len);
	else {
		if (d->ops && d->ops->cfg_read)
			d->ops->cfg_read(d, reg, len);
		dev_put_le(data, len, pci_cfg_get(d, reg, len));
	}
}

/* A config write: masked bits only, write-1-to-clear bits cleared, then BARs and the device's hook. */
static void cfg_write(struct pci_dev *d, uint32_t reg, const void *data, uint32_t len)
{
	uint32_t v = (uint32_t)dev_get_le(data, len);

	if (!d || reg >= PCI_CFG_SIZE)
		return;
	for (uint32_t i = 0; i < len; i++) {
		uint8_t byte = (uint8_t)(v >> (8 * i));
		uint8_t *c = &d->cfg[reg + i];

		*c = (uint8_t)((*c & ~d->wmask[reg + i]) | (byte & d->wmask[reg + i]));
		*c &= (uint8_t) ~(byte & d->w1cmask[reg + i]);
	}
	if (overlaps(reg, len, PCI_COMMAND, 2) || overlaps(reg, len, PCI_BASE_ADDRESS_0, 4 * PCI_NR_BARS))
		bars_update(d);
	if (d->ops && d->ops->cfg_write)
		d->ops->cfg_write(d, reg, len);
}

/* Config accesses are 1, 2 or 4 bytes, naturally aligned; anything else is an unsupported request. */
static bool cfg_len_ok(uint64_t off, uint32_t len)
{
	return (len == 1 || len == 2 || len == 4) && (off & (len - 1)) == 0;
}

static void config_address_read(struct dev *dev, uint64_t off, void *data, uint32_t len)
{
	struct pci_bus *b = container_of(dev, struct pci_bus, config_address_dev);

	/* Only a dword at 0xcf8 is CONFIG_ADDRESS; narrower accesses go to the (absent) ISA bus. */
	if (off != 0 || len != 4) {
		memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&b->lock);
	dev_put_le(data, len, b->config_address);
	pthread_mutex_unlock(&b->lock);
}

static void config_address_write(struct dev *dev, uint64_t off, const void *data, uint32_t len)
{
	struct pci_bus *b = container_of(dev, struct pci_bus, config_address_dev);

	if (off != 0 || len != 4)
		return;
	pthread_mutex_lock(&b->lock);
	b->config_address = (uint32_t)dev_get_le(data, len) & CONFIG_ADDRESS_MASK;
	pthread_mutex_unlock(&b->lock);
}

/* The function CONFIG_ADDRESS selects, or NULL when it is disabled or absent. Bus lock held. */
static struct pci_dev *config_address_target(struct pci_bus *b)
{
	uint32_t ca = b->config_address;

	if (!(ca & CONFIG_ADDRESS_ENABLE))
		return NULL;
	return lookup(b, (ca >> 16) & 0xff, (ca >> 11) & 0x1f, (ca >> 8) & 7);
}

static void config_data_read(struct dev *dev, uint64_t off, void *data, uint32_t len)
{
	struct pci_bus *b = container_of(dev, struct pci_bus, config_data_dev);

	if (off + len > PCI_CONFIG_DATA_LEN || !cfg_len_ok(off, len)) {
		memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&b->lock);
	cfg_read(config_address_target(b), (b->config_address & 0xfc) + (uint32_t)off, data, len);
	pthread_mutex_unlock(&b->lock);
}

static void config_data_write(struct dev *dev, uint64_t off, const void *data, uint32_t len)
{
	struct pci_bus *b = container_of(dev, struct pci_bus, config_data_dev);

	if (off + len > PCI_CONFIG_DATA_LEN || !cfg_len_ok(off, len))
		return;
	pthread_mutex_lock(&b->lock);
	cfg_write(config_address_target(b), (b->config_address & 0xfc) + (uint32_t)off, data, len);
	pthread_mutex_unlock(&b->lock);
}

static const struct dev_ops config_address_ops = {
	.name = "pci-config-address",
	.read = config_address_read,
	.write = config_address_write,
};

static const struct dev_ops config_data_ops = {
	.name = "pci-config-data",
	.read = config_data_read,
	.write = config_data_write,
};

/* ECAM: bus in bits 27:20, device 19:15, function 14:12, register 11:0 of the offset. */
static struct pci_dev *ecam_target(struct pci_bus *b, uint64_t off)
{
	return lookup(b, (off >> 20) & 0xff, (off >> 15) & 0x1f, (off >> 12) & 7);
}

static void ecam_read(struct dev *dev, uint64_t off, void *data, uint32_t len)
{
	struct pci_bus *b = container_of(dev, struct pci_bus, ecam);

	if (off >= PCI_ECAM_MAX_SIZE || !cfg_len_ok(off, len)) {
		memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&b->lock);
	cfg_read(ecam_target(b, off), off & 0xfff, data, len);
	pthread_mutex_unlock(&b->lock);
}

static void ecam_write(struct dev *dev, uint64_t off, const void *data, uint32_t len)
{
	struct pci_bus *b = container_of(dev, struct pci_bus, ecam);

	if (off >= PCI_ECAM_MAX_SIZE || !cfg_len_ok(off, len))
		return;
	pthread_mutex_lock(&b->lock);
	cfg_write(ecam_target(b, off), off & 0xfff, data, len);
	pthread_mutex_unlock(&b->lock);
}

static const struct dev_ops ecam_ops = {
	.name = "pci-ecam",
	.read = ecam_read,
	.write = ecam_write,
};

/* The device and BAR decoding (addr) in I/O space (io) or memory, and the offset into it. */
static struct pci_dev *bar_find(struct pci_bus *b, bool io, uint64_t addr, unsigned int *bar, uint64_t *off)
{
	struct pci_dev *found = NULL;

	pthread_mutex_lock(&b->lock);
	for (unsigned int s = 1; s < b->nr_slots && !found; s++) {
		struct pci_dev *d = b->slot[s];

		for (unsigned int i = 0; i < PCI_NR_BARS && !found; i++) {
			const struct pci_bar *r = &d->bar[i];

			if (!r->size || !(r->flags & PCI_BAR_IO) != !io || r->decoded == PCI_BAR_UNMAPPED ||
			    addr < r->decoded || addr - r->decoded >= r->size)
				continue;
			found = d;
			*bar = i;
			*off = addr - r->decoded;
		}
	}
	pthread_mutex_unlock(&b->lock);
	return found;
}

/* BAR accesses through a window; nothing there reads all-ones, as a master abort does. */
static void window_read(struct pci_bus *b, bool io, uint64_t addr, void *data, uint32_t len)
{
	unsigned int bar = 0;
	uint64_t off = 0;
	struct pci_dev *d = bar_find(b, io, addr, &bar, &off);

	if (!d)
		memset(data, 0xff, len);
	else if (d->ops && d->ops->bar_read)
		d->ops->bar_read(d, bar, off, data, len);
}

static void window_write(struct pci_bus *b, bool io, uint64_t addr, const void *data, uint32_t len)
{
	unsigned int bar = 0;
	uint64_t off = 0;
	struct pci_dev *d = bar_find(b, io, addr, &bar, &off);

	if (d && d->ops && d->ops->bar_write)
		d->ops->bar_write(d, bar, off, data, len);
}

static void mmio_window_read(struct dev *dev, uint64_t off, void *data, uint32_t len)
{
	struct pci_bus *b = container_of(dev, struct pci_bus, mmio_window);

	window_read(b, false, b->mmio.start + off, data, len);
}

static void mmio_window_write(struct dev *dev, uint64_t off, const void *data, uint32_t len)
{
	struct pci_bus *b = container_of(dev, struct pci_bus, mmio_window);

	window_write(b, false, b->mmio.start + off, data, len);
}

static void io_window_read(struct dev *dev, uint64_t off, void *data, uint32_t len)
{
	struct pci_bus *b = container_of(dev, struct pci_bus, io_window);

	window_read(b, true, b->io.start + off, data, len);
}

static void io_window_write(struct dev *dev, uint64_t off, const void *data, uint32_t len)
{
	struct pci_bus *b = container_of(dev, struct pci_bus, io_window);

	window_write(b, true, b->io.start + off, data, len);
}

static const struct dev_ops mmio_window_ops = {
	.name = "pci-mmio-window",
	.read = mmio_window_read,
	.write = mmio_window_write,
};

static const struct dev_ops io_window_ops = {
	.name = "pci-io-window",
	.read = io_window_read,
	.write = io_window_write,
};

int pci_bus_init(struct pci_bus *b, const struct pci_window *mmio, const struct pci_window *io)
{
	int ret;

	if (mmio->start >= mmio->end || io->start >= io->end)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	ret = pthread_mutex_init(&b->lock, NULL);
	if (ret)
		return -ret;
	b->mmio = *mmio;
	b->io = *io;
	b->mmio_next = mmio->start;
	b->io_next = io->start;
	b->config_address_dev.ops = &config_address_ops;
	b->config_data_dev.ops = &config_data_ops;
	b->ecam.ops = &ecam_ops;
	b->mmio_window.ops = &mmio_window_ops;
	b->io_window.ops = &io_window_ops;
	pci_dev_init(&b->host_bridge, NULL, &host_bridge_ids);
	b->host_bridge.slot = 0;
	b->slot[0] = &b->host_bridge;
	b->nr_slots = 1;
	return 0;
}

void pci_bus_free(struct pci_bus *b)
{
	pthread_mutex_destroy(&b->lock);
}

/* (d)'s BAR indices, largest first, so that one device's BARs pack without holes. Returns how many. */
static unsigned int bars_by_size(const struct pci_dev *d, unsigned int order[PCI_NR_BARS])
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < PCI_NR_BARS; i++) {
		unsigned int j;

		if (!d->bar[i].size)
			continue;
		for (j = n++; j > 0 && d->bar[order[j - 1]].size < d->bar[i].size; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	return n;
}

/* Place (d)'s BARs at (addr) from the cursors; 0, or -ENOSPC with the cursors untouched. */
static int bars_place(struct pci_bus *b, const struct pci_dev *d, uint64_t addr[PCI_NR_BARS])
{
	unsigned int order[PCI_NR_BARS], n = bars_by_size(d, order);
	uint64_t mmio = b->mmio_next, io = b->io_next;

	for (unsigned int k = 0; k < n; k++) {
		const struct pci_bar *bar = &d->bar[order[k]];
		bool is_io = bar->flags & PCI_BAR_IO;
		uint64_t *next = is_io ? &io : &mmio;
		uint64_t end = is_io ? b->io.end : b->mmio.end;
		uint64_t at = (*next + bar->size - 1) & ~(bar->size - 1);

		if (at < *next || at > end || end - at < bar->size)
			return -ENOSPC;
		addr[order[k]] = at;
		*next = at + bar->size;
	}
	b->mmio_next = mmio;
	b->io_next = io;
	return 0;
}

int pci_bus_add(struct pci_bus *b, struct pci_dev *d)
{
	uint64_t addr[PCI_NR_BARS] = { 0 };
	int ret, slot;

	if (d->slot >= 0)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	ret = b->nr_slots < PCI_MAX_SLOTS ? bars_place(b, d, addr) : -ENOSPC;
	if (ret) {
		pthread_mutex_unlock(&b->lock);
		return ret;
	}
	slot = (int)b->nr_slots++;
	for (unsigned int i = 0; i < PCI_NR_BARS; i++) {
		uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i;

		if (!d->bar[i].size)
			continue;
		pci_cfg_set(d, reg, 4, (uint32_t)addr[i] | d->bar[i].flags);
		if (d->bar[i].flags & PCI_BAR_MEM64)
			pci_cfg_set(d, reg + 4, 4, (uint32_t)(addr[i] >> 32));
	}
	d->slot = slot;
	b->slot[slot] = d;
	bars_update(d);
	pthread_mutex_unlock(&b->lock);
	return slot;
}
