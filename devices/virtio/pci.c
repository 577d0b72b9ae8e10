/* virtio/pci.c: the virtio-pci modern transport (virtio 1.2, 4.1). */
#include "pci.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../base/log.h"

static struct virtio_pci *of_pci(struct pci_dev *d)
{
	return container_of(d, struct virtio_pci, pci);
}

/* One log line per device for whatever the driver gets wrong: a guest must not flood the host's log. */
static void driver_error(struct virtio_pci *vp, const char *what)
{
	if (!atomic_flag_test_and_set(&vp->warned))
		log_warn("%s: the guest's driver %s (logged once)", vp->be->name, what);
}

/* --- interrupts ----------------------------------------------------------------------------------- */

static int vector_fd(const struct virtio_pci *vp, unsigned int vector)
{
	return vector < vp->nr_vectors ? vp->vec[vector].fd : -1;
}

/*
 * MSI-X told us a vector's state: an unmasked vector's eventfd raises its message through an irqfd
 * on its own GSI; a masked one has no irqfd, so signals wait in the eventfd (the pending bit) and
 * arrive when it is assigned again. MSI-X lock held.
 */
static void vector_changed(void *opaque, unsigned int vector, const struct msix_msg *msg)
{
	struct virtio_pci *vp = opaque;
	struct virtio_pci_vector *v = &vp->vec[vector];

	if (msg->masked) {
		if (v->bound && vp->host->irqfd(vp->host, v->fd, v->gsi, false) == 0) {
			v->bound = false;
			v->was_masked = true;
		}
		return;
	}
	/* Bus 0, function 0 of its slot: the requester ID is the slot's device number. */
	if (vp->host->msi_route(vp->host, &v->gsi, msg->addr, msg->data, (uint32_t)vp->pci.slot << 3) < 0)
		return;
	if (!v->bound && vp->host->irqfd(vp->host, v->fd, v->gsi, true) == 0) {
		v->bound = true;
		/*
		 * KVM tears a removed irqfd down later, on a workqueue, and that reads the eventfd's count:
		 * a signal sent in that window is gone. Once a vector has been masked, unmasking it sends
		 * one interrupt, so none is lost; a spurious one is harmless (the driver finds no work).
		 */
		if (v->was_masked)
			virtio_eventfd_signal(v->fd);
	}
	if (msg->pending)
		virtio_eventfd_signal(v->fd);
}

/* The worker found the driver breaking the rules: DEVICE_NEEDS_RESET and a configuration interrupt. */
static void needs_reset(void *opaque)
{
	struct virtio_pci *vp = opaque;

	atomic_store(&vp->needs_reset, true);
	atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_CONFIG);
	virtio_eventfd_signal(vector_fd(vp, atomic_load(&vp->config_vector)));
}

/* --- common configuration ------------------------------------------------------------------------- */

static void queue_reset(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
	int kick_fd = q->kick_fd;

	*q = (struct virtio_pci_queue){ .size = vp->be->queue_max,
					.vector = VIRTIO_MSI_NO_VECTOR,
					.kick_fd = kick_fd };
	virtio_eventfd_drain(kick_fd); /* kicks from before the reset are stale */
}

/* Every reset stops the back end, started or not (stopping an idle one is a no-op). */
static void backend_stop(struct virtio_pci *vp)
{
	vp->be->ops->stop(vp->be->opaque, NULL);
	vp->started = false;
}

/* Device reset (status 0): stop serving, forget everything the driver set. Lock held. */
static void device_reset(struct virtio_pci *vp)
{
	backend_stop(vp);
	vp->dfselect = vp->gfselect = 0;
	vp->driver_features = 0;
	vp->status = 0;
	vp->queue_select = 0;
	for (unsigned int i = 0; i < vp->be->nr_queues; i++)
		queue_reset(vp, &vp->q[i]);
	/* Interrupts left waiting in a masked vector belong to the old driver: the next must not get them. */
	for (unsigned int i = 0; i < vp->nr_vectors; i++)
		virtio_eventfd_drain(vp->vec[i].fd);
	atomic_store(&vp->config_vector, VIRTIO_MSI_NO_VECTOR);
	atomic_store(&vp->needs_reset, false);
	atomic_store(&vp->isr, 0);
}

/* DRIVER_OK: hand the queues to the back end. Lock held. */
static void device_start(struct virtio_pci *vp)
{
	struct virtio_queue_setup setup[VIRTIO_MAX_QUEUES];

	if (!(vp->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		driver_error(vp, "set DRIVER_OK without FEATURES_OK");
		needs_reset(vp);
		return;
	}
	for (unsigned int i = 0; i < vp->be->nr_queues; i++) {
		const struct virtio_pci_queue *q = &vp->q[i];

		setup[i] = (struct virtio_queue_setup){
			.enabled = q->enabled,
			.size = q->size,
			.desc = q->desc,
			.avail = q->avail,
			.used = q->used,
			.kick_fd = q->kick_fd,
			.call_fd = vector_fd(vp, q->vector),
			.counters = vp->be->counters ? &vp->be->counters->q[i] : NULL,
		};
	}
	if (vp->be->ops->start(vp->be->opaque, vp->driver_features, setup, vp->be->nr_queues, needs_reset,
			       vp)) {
		needs_reset(vp);
		return;
	}
	vp->started = true;
}

static void status_write(struct virtio_pci *vp, uint8_t v)
{
	uint8_t was = vp->status;
	uint64_t unknown = vp->driver_features & ~vp->be->features;

	if (v == 0) {
		device_reset(vp);
		return;
	}
	if ((v & was) != was) {
		/* Only a reset clears status bits (spec 2.1.1): the device keeps them. */
		driver_error(vp, "cleared device status bits without a reset");
		v |= was;
	}
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(was & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    (unknown || !(vp->driver_features & (1ULL << VIRTIO_F_VERSION_1)))) {
		/* The driver reads FEATURES_OK back and gives up on the device, as the spec has it. */
		driver_error(vp, unknown ? "accepted features the device does not offer"
					 : "did not accept VIRTIO_F_VERSION_1 (a legacy driver)");
		v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	vp->status = v;
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(was & VIRTIO_CONFIG_S_DRIVER_OK) && !vp->started)
		device_start(vp);
}

static struct virtio_pci_queue *selected(struct virtio_pci *vp)
{
	return vp->queue_select < vp->be->nr_queues ? &vp->q[vp->queue_select] : NULL;
}

static uint16_t vector_or_none(const struct virtio_pci *vp, uint64_t v)
{
	return v < vp->nr_vectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

/* The common configuration structure as the driver reads it now. Lock held. */
static void common_image(struct virtio_pci *vp, uint8_t img[VIRTIO_PCI_COMMON_LEN])
{
	const struct virtio_pci_queue *q = selected(vp);
	uint8_t status = vp->status | (atomic_load(&vp->needs_reset) ? VIRTIO_CONFIG_S_NEEDS_RESET : 0);

	memset(img, 0, VIRTIO_PCI_COMMON_LEN);
	if (vp->dfselect < 2)
		dev_put_le(img + VIRTIO_PCI_COMMON_DF, 4, vp->be->features >> (32 * vp->dfselect));
	dev_put_le(img + VIRTIO_PCI_COMMON_DFSELECT, 4, vp->dfselect);
	dev_put_le(img + VIRTIO_PCI_COMMON_GFSELECT, 4, vp->gfselect);
	if (vp->gfselect < 2)
		dev_put_le(img + VIRTIO_PCI_COMMON_GF, 4, vp->driver_features >> (32 * vp->gfselect));
	dev_put_le(img + VIRTIO_PCI_COMMON_MSIX, 2, atomic_load(&vp->config_vector));
	dev_put_le(img + VIRTIO_PCI_COMMON_NUMQ, 2, vp->be->nr_queues);
	img[VIRTIO_PCI_COMMON_STATUS] = status;
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_SELECT, 2, vp->queue_select);
	if (!q)
		return; /* queue_size 0: no such queue */
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_SIZE, 2, q->size);
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_MSIX, 2, q->vector);
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_ENABLE, 2, q->enabled);
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_NOFF, 2, vp->queue_select);
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_DESCLO, 8, q->desc);
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_AVAILLO, 8, q->avail);
	dev_put_le(img + VIRTIO_PCI_COMMON_Q_USEDLO, 8, q->used);
}

/* A queue register write; ignored once the queue is enabled or the device is running (spec 4.1.4.3.2). */
static void queue_write(struct virtio_pci *vp, uint32_t field, uint64_t v, const uint8_t *img)
{
	struct virtio_pci_queue *q = selected(vp);

	if (!q)
		return;
	if (field == VIRTIO_PCI_COMMON_Q_MSIX) {
		q->vector = vector_or_none(vp, v);
		return;
	}
	if (q->enabled || (vp->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		driver_error(vp, "changed a queue after enabling it");
		return;
	}
	switch (field) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (v > vp->be->queue_max)
			driver_error(vp, "made a queue larger than the device's maximum");
		else
			q->size = (uint16_t)v; /* a power of two? checked when the device starts */
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		q->enabled = v == 1;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		q->desc = dev_get_le(img + VIRTIO_PCI_COMMON_Q_DESCLO, 8);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		q->avail = dev_get_le(img + VIRTIO_PCI_COMMON_Q_AVAILLO, 8);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		q->used = dev_get_le(img + VIRTIO_PCI_COMMON_Q_USEDLO, 8);
		break;
	}
}

/* The writable fields of the common configuration, in the order a write that spans several applies them. */
static const struct {
	uint8_t off, len;
} common_fields[] = {
	{ VIRTIO_PCI_COMMON_DFSELECT, 4 },  { VIRTIO_PCI_COMMON_GFSELECT, 4 },
	{ VIRTIO_PCI_COMMON_GF, 4 },	    { VIRTIO_PCI_COMMON_MSIX, 2 },
	{ VIRTIO_PCI_COMMON_Q_SELECT, 2 },  { VIRTIO_PCI_COMMON_Q_SIZE, 2 },
	{ VIRTIO_PCI_COMMON_Q_MSIX, 2 },    { VIRTIO_PCI_COMMON_Q_DESCLO, 4 },
	{ VIRTIO_PCI_COMMON_Q_DESCHI, 4 },  { VIRTIO_PCI_COMMON_Q_AVAILLO, 4 },
	{ VIRTIO_PCI_COMMON_Q_AVAILHI, 4 }, { VIRTIO_PCI_COMMON_Q_USEDLO, 4 },
	{ VIRTIO_PCI_COMMON_Q_USEDHI, 4 },  { VIRTIO_PCI_COMMON_Q_ENABLE, 2 },
	{ VIRTIO_PCI_COMMON_STATUS, 1 },
};

static void field_write(struct virtio_pci *vp, uint32_t field, uint64_t v, const uint8_t *img)
{
	switch (field) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vp->dfselect = (uint32_t)v;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vp->gfselect = (uint32_t)v;
		break;
	case VIRTIO_PCI_COMMON_GF:
		if (vp->status & VIRTIO_CONFIG_S_FEATURES_OK)
			driver_error(vp, "changed its features after FEATURES_OK");
		else if (vp->gfselect < 2)
			vp->driver_features =
				(vp->driver_features & ~(0xffffffffULL << (32 * vp->gfselect))) |
				v << (32 * vp->gfselect);
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		atomic_store(&vp->config_vector, vector_or_none(vp, v));
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vp->queue_select = (uint16_t)v;
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		status_write(vp, (uint8_t)v);
		break;
	default:
		queue_write(vp, field, v, img);
	}
}

static void common_read(struct virtio_pci *vp, uint64_t off, void *data, uint32_t len)
{
	uint8_t img[VIRTIO_PCI_COMMON_LEN];

	if (off >= VIRTIO_PCI_COMMON_LEN || len > VIRTIO_PCI_COMMON_LEN - off)
		return;
	pthread_mutex_lock(&vp->lock);
	common_image(vp, img);
	pthread_mutex_unlock(&vp->lock);
	memcpy(data, img + off, len);
}

/* A write lands on the current image; each writable field it touches then takes its new value. */
static void common_write(struct virtio_pci *vp, uint64_t off, const void *data, uint32_t len)
{
	uint8_t img[VIRTIO_PCI_COMMON_LEN];

	if (off >= VIRTIO_PCI_COMMON_LEN || len > VIRTIO_PCI_COMMON_LEN - off)
		return;
	pthread_mutex_lock(&vp->lock);
	common_image(vp, img);
	memcpy(img + off, data, len);
	for (size_t i = 0; i < sizeof(common_fields) / sizeof(common_fields[0]); i++) {
		uint32_t f = common_fields[i].off, flen = common_fields[i].len;

		if (off < f + flen && f < off + len)
			field_write(vp, f, dev_get_le(img + f, flen), img);
	}
	pthread_mutex_unlock(&vp->lock);
}

/* --- the BARs ------------------------------------------------------------------------------------- */

static void virtio_bar_read(struct virtio_pci *vp, uint64_t off, void *data, uint32_t len)
{
	if (off < VIRTIO_PCI_ISR_OFF) {
		common_read(vp, off - VIRTIO_PCI_COMMON_OFF, data, len);
	} else if (off < VIRTIO_PCI_DEVICE_OFF) {
		if (off == VIRTIO_PCI_ISR_OFF)
			dev_put_le(data, 1, atomic_exchange(&vp->isr, 0)); /* reading clears it */
	} else if (off < VIRTIO_PCI_NOTIFY_OFF) {
		off -= VIRTIO_PCI_DEVICE_OFF;
		if (off < vp->be->config_len && len <= vp->be->config_len - off)
			vp->be->ops->config_read(vp->be->opaque, off, data, len);
	}
}

static void virtio_bar_write(struct virtio_pci *vp, uint64_t off, const void *data, uint32_t len)
{
	if (off < VIRTIO_PCI_ISR_OFF) {
		common_write(vp, off - VIRTIO_PCI_COMMON_OFF, data, len);
	} else if (off >= VIRTIO_PCI_NOTIFY_OFF) {
		/* A notify write KVM did not take as an ioeventfd (or through the PCI config window). */
		uint64_t qi = (off - VIRTIO_PCI_NOTIFY_OFF) / VIRTIO_PCI_NOTIFY_MULT;

		if (qi < vp->be->nr_queues)
			virtio_eventfd_signal(vp->q[qi].kick_fd);
	}
	/* The ISR is read-only; the device configuration has no writable field kvmini offers. */
}

static void bar_read(struct pci_dev *d, unsigned int bar, uint64_t off, void *data, uint32_t len)
{
	struct virtio_pci *vp = of_pci(d);

	if (bar == VIRTIO_PCI_BAR)
		virtio_bar_read(vp, off, data, len);
	else if (bar == VIRTIO_PCI_MSIX_BAR && off >= VIRTIO_PCI_MSIX_PBA)
		msix_pba_read(&vp->msix, off - VIRTIO_PCI_MSIX_PBA, data, len);
	else if (bar == VIRTIO_PCI_MSIX_BAR)
		msix_table_read(&vp->msix, off, data, len);
}

static void bar_write(struct pci_dev *d, unsigned int bar, uint64_t off, const void *data, uint32_t len)
{
	struct virtio_pci *vp = of_pci(d);

	if (bar == VIRTIO_PCI_BAR)
		virtio_bar_write(vp, off, data, len);
	else if (bar == VIRTIO_PCI_MSIX_BAR && off < VIRTIO_PCI_MSIX_PBA)
		msix_table_write(&vp->msix, off, data, len);
}

/* The notify structure moved: each queue's ioeventfd follows it. Bus lock held. */
static void bar_moved(struct pci_dev *d, unsigned int bar, uint64_t addr)
{
	struct virtio_pci *vp = of_pci(d);
	uint64_t was = vp->notify_base;

	if (bar != VIRTIO_PCI_BAR)
		return;
	vp->notify_base = addr == PCI_BAR_UNMAPPED ? PCI_BAR_UNMAPPED : addr + VIRTIO_PCI_NOTIFY_OFF;
	for (unsigned int i = 0; i < vp->be->nr_queues; i++) {
		uint64_t qoff = (uint64_t)i * VIRTIO_PCI_NOTIFY_MULT;

		if (was != PCI_BAR_UNMAPPED)
			vp->host->ioeventfd(vp->host, was + qoff, vp->q[i].kick_fd, false);
		if (vp->notify_base != PCI_BAR_UNMAPPED)
			vp->host->ioeventfd(vp->host, vp->notify_base + qoff, vp->q[i].kick_fd, true);
	}
}

/* --- config space: MSI-X and the PCI configuration access capability ------------------------------ */

/* Where the VIRTIO_PCI_CAP_PCI_CFG window points: a BAR access of 1, 2 or 4 bytes, or false. */
static bool cfg_window(struct virtio_pci *vp, unsigned int *bar, uint32_t *off, uint32_t *len)
{
	uint32_t cap = vp->pci_cfg_cap;

	*bar = (unsigned int)pci_cfg_get(&vp->pci, cap + VIRTIO_PCI_CAP_BAR, 1);
	*off = pci_cfg_get(&vp->pci, cap + VIRTIO_PCI_CAP_OFFSET, 4);
	*len = pci_cfg_get(&vp->pci, cap + VIRTIO_PCI_CAP_LENGTH, 4);
	return (*len == 1 || *len == 2 || *len == 4) && (*off & (*len - 1)) == 0 &&
	       *off < VIRTIO_PCI_BAR_SIZE && (*bar == VIRTIO_PCI_BAR || *bar == VIRTIO_PCI_MSIX_BAR);
}

/* Where the window's pci_cfg_data sits in config space. */
static uint32_t window_data(const struct virtio_pci *vp)
{
	return vp->pci_cfg_cap + (uint32_t)offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
}

static bool touches_window_data(const struct virtio_pci *vp, uint32_t off, uint32_t len)
{
	uint32_t data = window_data(vp);

	return off < data + 4 && data < off + len;
}

static void cfg_read(struct pci_dev *d, uint32_t off, uint32_t len)
{
	struct virtio_pci *vp = of_pci(d);
	uint32_t woff, wlen;
	unsigned int bar;
	uint8_t buf[4] = { 0 };

	if (!touches_window_data(vp, off, len) || !cfg_window(vp, &bar, &woff, &wlen))
		return;
	bar_read(d, bar, woff, buf, wlen);
	pci_cfg_set(d, window_data(vp), 4, (uint32_t)dev_get_le(buf, 4));
}

static void cfg_write(struct pci_dev *d, uint32_t off, uint32_t len)
{
	struct virtio_pci *vp = of_pci(d);
	uint32_t woff, wlen;
	unsigned int bar;
	uint8_t buf[4];

	msix_cfg_write(&vp->msix, off, len);
	if (!touches_window_data(vp, off, len) || !cfg_window(vp, &bar, &woff, &wlen))
		return;
	dev_put_le(buf, 4, pci_cfg_get(d, window_data(vp), 4));
	bar_write(d, bar, woff, buf, wlen);
}

static const struct pci_dev_ops virtio_pci_ops = {
	.cfg_read = cfg_read,
	.cfg_write = cfg_write,
	.bar_moved = bar_moved,
	.bar_read = bar_read,
	.bar_write = bar_write,
};

/* --- set-up --------------------------------------------------------------------------------------- */

static int add_virtio_cap(struct virtio_pci *vp, uint8_t type, uint32_t off, uint32_t len, bool notify)
{
	uint8_t cap[sizeof(struct virtio_pci_notify_cap)] = { PCI_CAP_ID_VNDR };
	uint8_t cap_len = notify ? sizeof(struct virtio_pci_notify_cap) : sizeof(struct virtio_pci_cap);

	cap[VIRTIO_PCI_CAP_LEN] = cap_len;
	cap[VIRTIO_PCI_CAP_CFG_TYPE] = type;
	cap[VIRTIO_PCI_CAP_BAR] = VIRTIO_PCI_BAR;
	dev_put_le(&cap[VIRTIO_PCI_CAP_OFFSET], 4, off);
	dev_put_le(&cap[VIRTIO_PCI_CAP_LENGTH], 4, len);
	if (notify)
		dev_put_le(&cap[offsetof(struct virtio_pci_notify_cap, notify_off_multiplier)], 4,
			   VIRTIO_PCI_NOTIFY_MULT);
	return pci_add_cap(&vp->pci, cap, cap_len);
}

/* The capability through which a driver can reach the BARs by config cycles alone (spec 4.1.4.9). */
static int add_pci_cfg_cap(struct virtio_pci *vp)
{
	uint8_t cap[sizeof(struct virtio_pci_cfg_cap)] = { PCI_CAP_ID_VNDR };
	int off;

	cap[VIRTIO_PCI_CAP_LEN] = sizeof(cap);
	cap[VIRTIO_PCI_CAP_CFG_TYPE] = VIRTIO_PCI_CAP_PCI_CFG;
	off = pci_add_cap(&vp->pci, cap, sizeof(cap));
	if (off < 0)
		return off;
	vp->pci_cfg_cap = (uint8_t)off;
	pci_set_wmask(&vp->pci, (uint32_t)off + VIRTIO_PCI_CAP_BAR, 1, 0xff);
	pci_set_wmask(&vp->pci, (uint32_t)off + VIRTIO_PCI_CAP_OFFSET, 4, UINT32_MAX);
	pci_set_wmask(&vp->pci, (uint32_t)off + VIRTIO_PCI_CAP_LENGTH, 4, UINT32_MAX);
	pci_set_wmask(&vp->pci, window_data(vp), 4, UINT32_MAX);
	return 0;
}

static int add_caps(struct virtio_pci *vp)
{
	struct msix_config msix = {
		.nr_vectors = vp->nr_vectors,
		.bar = VIRTIO_PCI_MSIX_BAR,
		.table_off = 0,
		.pba_off = VIRTIO_PCI_MSIX_PBA,
		.vector_changed = vector_changed,
		.opaque = vp,
	};
	int ret = pci_set_bar(&vp->pci, VIRTIO_PCI_MSIX_BAR, VIRTIO_PCI_MSIX_BAR_SIZE, PCI_BAR_MEM32);

	if (!ret)
		ret = pci_set_bar(&vp->pci, VIRTIO_PCI_BAR, VIRTIO_PCI_BAR_SIZE, PCI_BAR_MEM64);
	if (!ret)
		ret = msix_init(&vp->msix, &vp->pci, &msix);
	if (ret < 0)
		return ret;
	ret = add_virtio_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_LEN,
			     false);
	if (ret >= 0)
		ret = add_virtio_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
				     vp->be->nr_queues * VIRTIO_PCI_NOTIFY_MULT, true);
	if (ret >= 0)
		ret = add_virtio_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1, false);
	if (ret >= 0 && vp->be->config_len)
		ret = add_virtio_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF, vp->be->config_len,
				     false);
	if (ret >= 0)
		ret = add_pci_cfg_cap(vp);
	if (ret < 0) {
		msix_free(&vp->msix);
		return ret;
	}
	return 0;
}

uint32_t virtio_pci_class_code(uint16_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET:
		return 0x020000; /* network controller, Ethernet */
	case VIRTIO_ID_BLOCK:
		return 0x018000; /* mass storage, other */
	case VIRTIO_ID_VSOCK:
		return 0x078000; /* communication, other: as QEMU's vhost-vsock-pci */
	default:
		return 0xff0000; /* unassigned class */
	}
}

static void close_fds(struct virtio_pci *vp)
{
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (vp->q[i].kick_fd >= 0)
			close(vp->q[i].kick_fd);
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES + 1; i++)
		if (vp->vec[i].fd >= 0)
			close(vp->vec[i].fd);
}

static int make_fds(struct virtio_pci *vp)
{
	for (unsigned int i = 0; i < vp->be->nr_queues; i++) {
		vp->q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->q[i].kick_fd < 0)
			return -errno;
	}
	for (unsigned int i = 0; i < vp->nr_vectors; i++) {
		vp->vec[i].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->vec[i].fd < 0)
			return -errno;
	}
	return 0;
}

/* Whether the transport can carry what back end (be) serves. */
static bool backend_ok(const struct virtio_backend *be)
{
	return be->nr_queues >= 1 && be->nr_queues <= VIRTIO_MAX_QUEUES && be->queue_max &&
	       !(be->queue_max & (be->queue_max - 1)) && be->queue_max <= VIRTQ_MAX_SIZE &&
	       (be->features & (1ULL << VIRTIO_F_VERSION_1)) &&
	       be->config_len <= VIRTIO_PCI_NOTIFY_OFF - VIRTIO_PCI_DEVICE_OFF;
}

int virtio_pci_init(struct virtio_pci *vp, struct virtio_backend *be, struct dev_host *host)
{
	struct pci_ids ids = {
		.vendor = VIRTIO_PCI_VENDOR,
		.device = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + be->device_id),
		.class_code = virtio_pci_class_code(be->device_id),
		.revision = 1, /* a modern-only device (spec 4.1.2.1) */
		.subsys_vendor = VIRTIO_PCI_VENDOR,
		.subsys = be->device_id,
	};
	int ret;

	if (!backend_ok(be))
		return -EINVAL;
	memset(vp, 0, sizeof(*vp));
	vp->be = be;
	vp->host = host;
	vp->nr_vectors = be->nr_queues + 1;
	vp->notify_base = PCI_BAR_UNMAPPED;
	atomic_flag_clear(&vp->warned);
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vp->q[i].kick_fd = -1;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES + 1; i++)
		vp->vec[i] = (struct virtio_pci_vector){ .fd = -1, .gsi = -1 };
	pci_dev_init(&vp->pci, &virtio_pci_ops, &ids);
	ret = make_fds(vp);
	if (!ret)
		ret = -pthread_mutex_init(&vp->lock, NULL);
	if (ret) {
		close_fds(vp);
		return ret;
	}
	ret = add_caps(vp);
	if (ret) {
		pthread_mutex_destroy(&vp->lock);
		close_fds(vp);
		return ret;
	}
	device_reset(vp);
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	backend_stop(vp);
	msix_free(&vp->msix);
	pthread_mutex_destroy(&vp->lock);
	close_fds(vp);
}
