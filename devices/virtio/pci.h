/*
 * virtio/pci.h: the virtio-pci modern transport (virtio 1.2, 4.1): a PCI function whose capabilities
 * point at the common, notify, ISR and device configuration in a BAR, with MSI-X for interrupts.
 *
 * The transport is the VMM's half of a device: it answers the driver's register accesses on vCPU
 * threads and, once the driver sets DRIVER_OK, hands the queues to its back end (backend.h): worker
 * threads of kvmini's, or a vhost-user device process. Kicks reach the back end through ioeventfds
 * on the notify addresses, interrupts reach the guest through irqfds on the MSI-X vectors' routes: no
 * vCPU thread and no kvmini thread is in that path.
 */
#ifndef KVMINI_VIRTIO_PCI_H
#define KVMINI_VIRTIO_PCI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../msix.h"
#include "../pci.h"
#include "backend.h"

#define VIRTIO_PCI_VENDOR	 0x1af4
#define VIRTIO_PCI_DEVICE_BASE	 0x1040 /* + the virtio device ID, for modern-only devices */
#define VIRTIO_PCI_MSIX_BAR	 1	/* 32-bit memory BAR: MSI-X table and PBA */
#define VIRTIO_PCI_MSIX_BAR_SIZE 0x1000
#define VIRTIO_PCI_MSIX_PBA	 0x800
#define VIRTIO_PCI_BAR		 4 /* 64-bit memory BAR: the virtio structures */
#define VIRTIO_PCI_BAR_SIZE	 0x4000
#define VIRTIO_PCI_COMMON_OFF	 0x0000 /* each structure has its own page */
#define VIRTIO_PCI_ISR_OFF	 0x1000
#define VIRTIO_PCI_DEVICE_OFF	 0x2000
#define VIRTIO_PCI_NOTIFY_OFF	 0x3000
#define VIRTIO_PCI_NOTIFY_MULT	 4  /* queue n is notified at NOTIFY_OFF + 4 * n */
#define VIRTIO_PCI_COMMON_LEN	 60 /* struct virtio_pci_common_cfg with queue_notify_data and queue_reset */

/* virtio_pci_class_code: the PCI class a virtio device of (device_id) shows, as QEMU's do. */
uint32_t virtio_pci_class_code(uint16_t device_id);

/* A queue's registers as the driver left them. Under the transport lock. */
struct virtio_pci_queue {
	uint16_t size;
	uint16_t vector; /* MSI-X vector, or VIRTIO_MSI_NO_VECTOR */
	bool enabled;
	uint64_t desc, avail, used;
	int kick_fd;
};

/* An MSI-X vector's event channel: an eventfd bound by irqfd to a GSI routed to the vector's message. */
struct virtio_pci_vector {
	int fd;
	int gsi; /* -1: no route yet */
	bool bound;
	bool was_masked; /* its irqfd was removed once: unmasking re-sends (see vector_changed) */
};

struct virtio_pci {
	struct pci_dev pci;
	struct msix msix;
	struct virtio_backend *be; /* what serves the queues */
	struct dev_host *host;
	unsigned int nr_vectors; /* one per queue and one for configuration changes */
	struct virtio_pci_vector vec[VIRTIO_MAX_QUEUES + 1]; /* under the MSI-X lock */
	uint64_t notify_base; /* where the notify structure decodes; under the bus lock */
	uint8_t pci_cfg_cap;  /* offset of the VIRTIO_PCI_CAP_PCI_CFG capability */
	pthread_mutex_t lock; /* guards everything below: register accesses come from any vCPU */
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint8_t status;
	uint16_t queue_select;
	struct virtio_pci_queue q[VIRTIO_MAX_QUEUES];
	bool started;		   /* the back end serves the queues (DRIVER_OK until a reset) */
	atomic_uint config_vector; /* read by the back end's needs-reset report too */
	atomic_bool needs_reset;
	atomic_uint isr;
	atomic_flag warned; /* a driver error was logged */
};

/*
 * virtio_pci_init: the transport for the device that back end (be) serves, asking (host) for event
 * channels. Call pci_bus_add() on vp->pci next. Returns 0, -EINVAL for a (be) it cannot carry, or
 * -errno.
 */
int virtio_pci_init(struct virtio_pci *vp, struct virtio_backend *be, struct dev_host *host);
/* virtio_pci_destroy: stop the back end and release the eventfds (the VM's vCPUs have stopped). */
void virtio_pci_destroy(struct virtio_pci *vp);

#endif
