/* msix.h: the MSI-X capability, vector table and pending-bit array of a PCI function. */
#ifndef KVMINI_MSIX_H
#define KVMINI_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci.h"

#define MSIX_MAX_VECTORS 64 /* kvmini's limit: the pending bits fit one qword */
#define MSIX_CAP_LEN	 12
#define MSIX_PBA_LEN	 8

/* A vector's effective state. */
struct msix_msg {
	uint64_t addr;
	uint32_t data;
	bool masked;  /* entry mask, function mask or MSI-X disabled: the message must not be sent */
	bool pending; /* it was unmasked with its pending bit set: send it once now (the bit is cleared) */
};

/*
 * vector_changed: vector (vector)'s effective state is now (msg). Called when it becomes masked or
 * unmasked, and when its address or data changes while it is unmasked; never for a write that changes
 * neither (entries written while masked are reported when unmasked). Called with the MSI-X lock held,
 * on the thread that caused the change: it may not call back into this msix.
 */
typedef void msix_vector_changed_fn(void *opaque, unsigned int vector, const struct msix_msg *msg);

struct msix_config {
	unsigned int nr_vectors;     /* 1 to MSIX_MAX_VECTORS */
	unsigned int bar;	     /* a memory BAR of the function, already set */
	uint32_t table_off, pba_off; /* 8-byte aligned offsets in it; they must not overlap */
	msix_vector_changed_fn *vector_changed;
	void *opaque;
};

struct msix {
	struct pci_dev *pci;
	struct msix_config cfg;
	uint8_t cap;	      /* the capability's offset in config space */
	pthread_mutex_t lock; /* the table is MMIO from any vCPU; guards everything below */
	uint8_t table[MSIX_MAX_VECTORS * PCI_MSIX_ENTRY_SIZE];
	uint64_t pba;
	bool enabled, masked_all;		    /* message control, as last seen by msix_cfg_write() */
	struct msix_msg reported[MSIX_MAX_VECTORS]; /* what vector_changed last said */
};

/*
 * msix_init: give (d) an MSI-X capability described by (cfg), every entry masked and zero, MSI-X
 * disabled. Returns the capability's offset, -EINVAL for a bad (cfg) (no callback, vector count, BAR
 * kind, alignment, table or PBA outside the BAR or overlapping), -ENOSPC when config space is full, or
 * -errno from pthread_mutex_init.
 */
int msix_init(struct msix *m, struct pci_dev *d, const struct msix_config *cfg);
/* msix_free: release (m)'s lock. */
void msix_free(struct msix *m);
/*
 * msix_cfg_write: the guest wrote (len) bytes at (off) of the function's config space; call it from the
 * pci_dev_ops cfg_write hook (bus lock held). A write to message control applies the enable and
 * function mask bits.
 */
void msix_cfg_write(struct msix *m, uint32_t off, uint32_t len);
/*
 * msix_table_read/msix_table_write: a guest access of (len) bytes at (off) from the start of the table.
 * Aligned dwords and qwords only (PCI 3.0, 6.8.2); others read zero and are dropped.
 */
void msix_table_read(struct msix *m, uint64_t off, void *data, uint32_t len);
void msix_table_write(struct msix *m, uint64_t off, const void *data, uint32_t len);
/* msix_pba_read: a guest read of (len) bytes at (off) from the start of the PBA. It takes no writes. */
void msix_pba_read(struct msix *m, uint64_t off, void *data, uint32_t len);
/* msix_set_pending: set or clear (pending) the pending bit of (vector). */
void msix_set_pending(struct msix *m, unsigned int vector, bool pending);
/*
 * msix_notify: the function wants to signal (vector). Returns true when the caller should send the
 * message now; false when the vector is masked (its pending bit is set, and vector_changed reports it
 * with msg->pending on unmask) or out of range.
 */
bool msix_notify(struct msix *m, unsigned int vector);

#endif
