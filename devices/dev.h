/* dev.h: the interface between the address buses and a device model. */
#ifndef KVMINI_DEV_H
#define KVMINI_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef container_of
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#endif

struct dev;

/*
 * A device's operations: one const table per device type, shared by every instance.
 * read/write get the offset from the base the device was mapped at, and (len) of 1, 2, 4 or 8.
 * The bus zero-fills (data) before read, so a device may leave bytes it does not implement.
 * They run on vCPU threads, concurrently when the guest has several: a device locks its own state.
 */
struct dev_ops {
	const char *name;
	void (*read)(struct dev *d, uint64_t off, void *data, uint32_t len);
	void (*write)(struct dev *d, uint64_t off, const void *data, uint32_t len);
	void (*reset)(struct dev *d);
};

/* Embedded in each device's own struct; container_of() gets back to it. */
struct dev {
	const struct dev_ops *ops;
};

/* Why a device asks the VM to stop: each maps to a documented exit status (vm.h). */
enum dev_stop_reason {
	DEV_STOP_POWEROFF,   /* ACPI S5 */
	DEV_STOP_REBOOT,     /* ACPI reset register, 8042 reset */
	DEV_STOP_PANIC,	     /* pvpanic */
	DEV_STOP_DEBUG_EXIT, /* isa-debug-exit: (value << 1) | 1 */
};

/* What a device may ask of the machine it sits in; implemented by the VM. */
struct dev_host {
	/* stop: end the VM for (reason); (value) is the debug-exit value, else 0. Idempotent, any thread. */
	void (*stop)(struct dev_host *h, enum dev_stop_reason reason, uint32_t value);
	/* boot_marker: the guest reached its boot marker; the VM logs the time since start. */
	void (*boot_marker)(struct dev_host *h);
	/*
	 * Event channels (L-2), so that I/O never passes through a vCPU thread in userspace; each returns
	 * 0 or -errno (logged). They run on a vCPU thread, from a device's register write.
	 * msi_route: route MSI message (addr, data) from PCI requester ID (devid) to a GSI: *gsi < 0
	 *   takes a new GSI (stored back), else *gsi is re-routed.
	 * irqfd: signals on eventfd (fd) raise (gsi) (assign), or no longer do; signals sent while it is
	 *   not assigned stay counted in (fd) and are delivered when it is assigned again.
	 * ioeventfd: a guest write of any length to MMIO address (addr) signals eventfd (fd) in the kernel
	 *   instead of exiting to kvmini (assign), or exits again.
	 */
	int (*msi_route)(struct dev_host *h, int *gsi, uint64_t addr, uint32_t data, uint32_t devid);
	int (*irqfd)(struct dev_host *h, int fd, int gsi, bool assign);
	int (*ioeventfd)(struct dev_host *h, uint64_t addr, int fd, bool assign);
};

/* dev_get_le/dev_put_le: little-endian value of (len) <= 8 bytes, as the guest sees it. */
static inline uint64_t dev_get_le(const void *data, uint32_t len)
{
	const uint8_t *p = data;
	uint64_t v = 0;

	for (uint32_t i = 0; i < len && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void dev_put_le(void *data, uint32_t len, uint64_t v)
{
	uint8_t *p = data;

	for (uint32_t i = 0; i < len && i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif
