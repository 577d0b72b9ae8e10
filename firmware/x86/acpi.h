/* acpi.h: hardware-reduced ACPI tables (RSDP, XSDT, FADT, MADT, DSDT, MCFG) for the guest. */
#ifndef KVMINI_FIRMWARE_ACPI_H
#define KVMINI_FIRMWARE_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* xAPIC IDs are 8 bits and 0xff is the broadcast ID: vCPU n has APIC ID n. */
#define ACPI_MAX_CPUS 255

struct acpi_config {
	uint32_t ncpus;	   /* vCPUs: one enabled local APIC each, APIC IDs 0..ncpus-1 */
	uint64_t base_gpa; /* guest-physical address of buf[0]; the RSDP is at buf[0] */
	bool pci;	   /* describe the PCI host bridge of layout.h: MCFG, \_SB_.PCI0 */
};

/*
 * acpi_build: write RSDP, XSDT, FADT, MADT and DSDT for (c), and MCFG if c->pci, into
 * (buf, len) as they will appear once copied to guest-physical c->base_gpa. The RSDP is at
 * buf[0], so c->base_gpa is also the RSDP address to hand the guest (boot_params.acpi_rsdp_addr).
 * Returns the number of bytes used; -ENOSPC if (len) is too small; -EINVAL if (c) or (buf)
 * is NULL, c->ncpus is 0 or above ACPI_MAX_CPUS, c->base_gpa is not 16-byte aligned (the
 * legacy RSDP scan only looks on 16-byte boundaries) or [base_gpa, base_gpa + len) wraps.
 */
ssize_t acpi_build(const struct acpi_config *c, void *buf, size_t len);

#endif
