/* irq.h: the VM's GSI routing table: the in-kernel irqchips' pins, then one MSI route per device vector. */
#ifndef KVMINI_IRQ_H
#define KVMINI_IRQ_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IRQ_MSI_MAX 1024

/*
 * KVM_SET_GSI_ROUTING replaces the whole table, so kvmini keeps it: first the interrupt controller's
 * own routes (arch_irq_routes: on x86 those KVM sets up with its irqchip, GSI 0-15 to both PICs and the
 * IOAPIC, 16-23 to the IOAPIC; on arm64 GSI n to SPI n), then MSI routes upwards from (next_gsi).
 * Devices change their MSI routes from any vCPU thread.
 */
struct irq_routes {
	pthread_mutex_t lock;
	int vm_fd;
	struct kvm_irq_routing *table; /* header and entries */
	unsigned int next_gsi;
	bool msi_devid; /* MSI routes carry the device's PCI requester ID (arm64's ITS translates by it) */
};

/* irq_routes_init: (r) with the irqchip's default routes, for the VM (vm_fd). Returns 0 or -errno. */
int irq_routes_init(struct irq_routes *r, int vm_fd);
/* irq_route_pin: GSI (gsi) to pin (pin) of in-kernel interrupt controller (chip); before any MSI route. */
void irq_route_pin(struct irq_routes *r, uint32_t gsi, uint32_t chip, uint32_t pin);
/* irq_routes_free: release (r). */
void irq_routes_free(struct irq_routes *r);
/*
 * irq_route_msi: route MSI (addr, data) from the PCI function (devid, its requester ID) to (*gsi),
 * taking a new GSI when *gsi < 0, and hand KVM the table. Returns 0, -ENOSPC when out of GSIs, or
 * -errno from KVM (logged).
 */
int irq_route_msi(struct irq_routes *r, int *gsi, uint64_t addr, uint32_t data, uint32_t devid);

/* irq_route_find: the MSI message GSI (gsi) is routed to, into (addr, data). 0, or -ENOENT when none. */
int irq_route_find(struct irq_routes *r, int gsi, uint64_t *addr, uint32_t *data);

#endif
