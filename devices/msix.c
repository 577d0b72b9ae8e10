/* msix.c: the MSI-X capability, vector table and pending-bit array of a PCI function. */
#include "msix.h"

#include <errno.h>
#include <string.h>

/* What the guest may write in each byte of an entry: address bits 1:0 and reserved control bits stay 0. */
static const uint8_t entry_wmask[PCI_MSIX_ENTRY_SIZE] = {
	0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, PCI_MSIX_ENTRY_CTRL_MASKBIT,
};

static uint32_t entry_get(const struct msix *m, unsigned int v, unsigned int field)
{
	return (uint32_t)dev_get_le(&m->table[v * PCI_MSIX_ENTRY_SIZE + field], 4);
}

static bool config_ok(const struct pci_dev *d, const struct msix_config *c)
{
	uint64_t table_len = (uint64_t)c->nr_vectors * PCI_MSIX_ENTRY_SIZE, size;

	if (!c->vector_changed || c->nr_vectors == 0 || c->nr_vectors > MSIX_MAX_VECTORS ||
	    c->bar >= PCI_NR_BARS)
		return false;
	size = d->bar[c->bar].size;
	if (!size || (d->bar[c->bar].flags & PCI_BAR_IO) || (c->table_off & 7) || (c->pba_off & 7))
		return false;
	if (c->table_off > size || size - c->table_off < table_len || c->pba_off > size ||
	    size - c->pba_off < MSIX_PBA_LEN)
		return false;
	return c->pba_off >= c->table_off + table_len || c->table_off >= c->pba_off + MSIX_PBA_LEN;
}

int msix_init(struct msix *m, struct pci_dev *d, const struct msix_config *cfg)
{
	uint8_t cap[MSIX_CAP_LEN] = { PCI_CAP_ID_MSIX };
	int off, ret;

	if (!config_ok(d, cfg))
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	dev_put_le(&cap[PCI_MSIX_FLAGS], 2, cfg->nr_vectors - 1);
	dev_put_le(&cap[PCI_MSIX_TABLE], 4, cfg->table_off | cfg->bar);
	dev_put_le(&cap[PCI_MSIX_PBA], 4, cfg->pba_off | cfg->bar);
	ret = pthread_mutex_init(&m->lock, NULL);
	if (ret)
		return -ret;
	off = pci_add_cap(d, cap, sizeof(cap));
	if (off < 0) {
		pthread_mutex_destroy(&m->lock);
		return off;
	}
	pci_set_wmask(d, (uint32_t)off + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	m->pci = d;
	m->cfg = *cfg;
	m->cap = (uint8_t)off;
	for (unsigned int v = 0; v < cfg->nr_vectors; v++) {
		m->table[v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
		m->reported[v].masked = true;
	}
	return off;
}

void msix_free(struct msix *m)
{
	pthread_mutex_destroy(&m->lock);
}

/* Recompute vector (v)'s effective state and report it if it changed. MSI-X lock held. */
static void vector_update(struct msix *m, unsigned int v)
{
	struct msix_msg *was = &m->reported[v];
	struct msix_msg now = {
		.addr = (uint64_t)entry_get(m, v, PCI_MSIX_ENTRY_UPPER_ADDR) << 32 |
			entry_get(m, v, PCI_MSIX_ENTRY_LOWER_ADDR),
		.data = entry_get(m, v, PCI_MSIX_ENTRY_DATA),
		.masked = !m->enabled || m->masked_all ||
			  (entry_get(m, v, PCI_MSIX_ENTRY_VECTOR_CTRL) & PCI_MSIX_ENTRY_CTRL_MASKBIT),
	};

	if (now.masked == was->masked && (now.masked || (now.addr == was->addr && now.data == was->data)))
		return;
	*was = now;
	if (!now.masked && (m->pba & (1ULL << v))) {
		m->pba &= ~(1ULL << v);
		now.pending = true;
	}
	m->cfg.vector_changed(m->cfg.opaque, v, &now);
}

void msix_cfg_write(struct msix *m, uint32_t off, uint32_t len)
{
	uint32_t flags_off = m->cap + PCI_MSIX_FLAGS;
	uint16_t flags;

	if (off >= flags_off + 2 || off + len <= flags_off)
		return;
	flags = (uint16_t)pci_cfg_get(m->pci, flags_off, 2);
	pthread_mutex_lock(&m->lock);
	m->enabled = flags & PCI_MSIX_FLAGS_ENABLE;
	m->masked_all = flags & PCI_MSIX_FLAGS_MASKALL;
	for (unsigned int v = 0; v < m->cfg.nr_vectors; v++)
		vector_update(m, v);
	pthread_mutex_unlock(&m->lock);
}

/* An aligned dword or qword inside a region of (size) bytes. */
static bool access_ok(uint64_t off, uint32_t len, uint64_t size)
{
	return (len == 4 || len == 8) && (off & (len - 1)) == 0 && off < size && size - off >= len;
}

void msix_table_read(struct msix *m, uint64_t off, void *data, uint32_t len)
{
	memset(data, 0, len);
	if (!access_ok(off, len, (uint64_t)m->cfg.nr_vectors * PCI_MSIX_ENTRY_SIZE))
		return;
	pthread_mutex_lock(&m->lock);
	memcpy(data, &m->table[off], len);
	pthread_mutex_unlock(&m->lock);
}

void msix_table_write(struct msix *m, uint64_t off, const void *data, uint32_t len)
{
	const uint8_t *src = data;

	if (!access_ok(off, len, (uint64_t)m->cfg.nr_vectors * PCI_MSIX_ENTRY_SIZE))
		return;
	pthread_mutex_lock(&m->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint8_t mask = entry_wmask[(off + i) % PCI_MSIX_ENTRY_SIZE];

		m->table[off + i] = (uint8_t)((m->table[off + i] & ~mask) | (src[i] & mask));
	}
	/* An aligned access stays inside one entry. */
	vector_update(m, (unsigned int)(off / PCI_MSIX_ENTRY_SIZE));
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_read(struct msix *m, uint64_t off, void *data, uint32_t len)
{
	memset(data, 0, len);
	if (!access_ok(off, len, MSIX_PBA_LEN))
		return;
	pthread_mutex_lock(&m->lock);
	dev_put_le(data, len, m->pba >> (8 * off));
	pthread_mutex_unlock(&m->lock);
}

void msix_set_pending(struct msix *m, unsigned int vector, bool pending)
{
	if (vector >= m->cfg.nr_vectors)
		return;
	pthread_mutex_lock(&m->lock);
	if (pending)
		m->pba |= 1ULL << vector;
	else
		m->pba &= ~(1ULL << vector);
	pthread_mutex_unlock(&m->lock);
}

bool msix_notify(struct msix *m, unsigned int vector)
{
	bool send;

	if (vector >= m->cfg.nr_vectors)
		return false;
	pthread_mutex_lock(&m->lock);
	send = !m->reported[vector].masked;
	if (!send)
		m->pba |= 1ULL << vector;
	pthread_mutex_unlock(&m->lock);
	return send;
}
