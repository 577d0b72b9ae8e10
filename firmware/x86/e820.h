/* e820.h: the BIOS E820 memory map that kvmini hands a Linux guest in boot_params. */
#ifndef KVMINI_FIRMWARE_E820_H
#define KVMINI_FIRMWARE_E820_H

#include <stdint.h>

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3

/* Entries needed for any guest: low RAM, EBDA, ACPI area, RAM to the PCI hole, RAM above 4 GiB. */
#define E820_MAX_ENTRIES 5

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed)); /* Linux boot_params layout (struct boot_e820_entry) */

_Static_assert(sizeof(struct e820_entry) == 20, "boot_params e820 entries are 20 bytes");

/*
 * e820_build: describe a guest with (mem_size) bytes of RAM laid out as in layout.h, in
 * ascending address order: RAM below GUEST_EBDA_START, the EBDA up to GUEST_LOW_RAM_END
 * reserved, the ACPI tables [GUEST_ACPI_ADDR, 1 MiB) reserved, RAM from 1 MiB up to
 * min(mem_size, PCI_HOLE_START), and the rest of mem_size as RAM from 4 GiB. The legacy
 * area [GUEST_EBDA_START, 1 MiB) counts towards mem_size but is not reported as RAM.
 * Writes at most (max) entries to (out); E820_MAX_ENTRIES is always enough.
 * Returns the number of entries; -EINVAL if mem_size is below 2 MiB, not a multiple of
 * 4 KiB, or so large that RAM above 4 GiB would pass 2^64; -ENOSPC if (max) is too small.
 */
int e820_build(uint64_t mem_size, struct e820_entry *out, int max);

#endif
