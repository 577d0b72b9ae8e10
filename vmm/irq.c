/* irq.c: the VM's GSI routing table: the in-kernel irqchips' pins, then one MSI route per device vector. */
#include "irq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch.h"
#include "../devices/base/log.h"

#define IRQ_MAX_ROUTES (ARCH_IRQ_PINS + IRQ_MSI_MAX)

void irq_route_pin(struct irq_routes *r, uint32_t gsi, uint32_t chip, uint32_t pin)
{
	struct kvm_irq_routing_entry *e;

	if (r->table->nr >= ARCH_IRQ_PINS)
		return;
	e = &r->table->entries[r->table->nr++];
	*e = (struct kvm_irq_routing_entry){ .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP };
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

int irq_routes_init(struct irq_routes *r, int vm_fd)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	r->table = calloc(1, sizeof(*r->table) + IRQ_MAX_ROUTES * sizeof(r->table->entries[0]));
	if (!r->table)
		return -ENOMEM;
	arch_irq_routes(r);
	ret = pthread_mutex_init(&r->lock, NULL);
	if (ret) {
		free(r->table);
		r->table = NULL;
	}
	return -ret;
}

void irq_routes_free(struct irq_routes *r)
{
	if (!r->table)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->table);
	r->table = NULL;
}

static struct kvm_irq_routing_entry *find_msi(struct irq_routes *r, int gsi)
{
	for (uint32_t i = 0; i < r->table->nr; i++)
		if (r->table->entries[i].gsi == (uint32_t)gsi &&
		    r->table->entries[i].type == KVM_IRQ_ROUTING_MSI)
			return &r->table->entries[i];
	return NULL;
}

int irq_route_msi(struct irq_routes *r, int *gsi, uint64_t addr, uint32_t data, uint32_t devid)
{
	struct kvm_irq_routing_entry *e;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	e = *gsi < 0 ? NULL : find_msi(r, *gsi);
	if (!e && *gsi >= 0) {
		ret = -EINVAL;
	} else if (!e && r->table->nr == IRQ_MAX_ROUTES) {
		ret = -ENOSPC;
	} else if (!e) {
		e = &r->table->entries[r->table->nr++];
		*e = (struct kvm_irq_routing_entry){ .gsi = r->next_gsi, .type = KVM_IRQ_ROUTING_MSI };
		*gsi = (int)r->next_gsi++;
	}
	if (e) {
		e->u.msi.address_lo = (uint32_t)addr;
		e->u.msi.address_hi = (uint32_t)(addr >> 32);
		e->u.msi.data = data;
		if (r->msi_devid) {
			e->flags = KVM_MSI_VALID_DEVID;
			e->u.msi.devid = devid;
		}
		if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, r->table) < 0)
			ret = -errno;
	}
	pthread_mutex_unlock(&r->lock);
	if (ret)
		log_layer(LOG_ERR, LAYER_PVIO, "cannot route MSI 0x%llx/0x%x to GSI %d: %s",
			  (unsigned long long)addr, data, *gsi, strerror(-ret));
	return ret;
}

int irq_route_find(struct irq_routes *r, int gsi, uint64_t *addr, uint32_t *data)
{
	struct kvm_irq_routing_entry *e;
	int ret = -ENOENT;

	pthread_mutex_lock(&r->lock);
	e = find_msi(r, gsi);
	if (e) {
		*addr = (uint64_t)e->u.msi.address_hi << 32 | e->u.msi.address_lo;
		*data = e->u.msi.data;
		ret = 0;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}
