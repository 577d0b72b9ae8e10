/* e820.c: the BIOS E820 memory map that kvmini hands a Linux guest in boot_params. */
#include "e820.h"

#include <errno.h>

#include "layout.h"

#define MIN_MEM_SIZE (2ULL << 20) /* leaves at least 1 MiB of RAM above 1 MiB */
#define PAGE_SIZE_4K 4096ULL

struct e820_map {
	struct e820_entry *out;
	int max;
	int n;
};

static int add(struct e820_map *m, uint64_t addr, uint64_t end, uint32_t type)
{
	if (m->n >= m->max)
		return -ENOSPC;
	m->out[m->n].addr = addr;
	m->out[m->n].size = end - addr;
	m->out[m->n].type = type;
	m->n++;
	return 0;
}

static int check_size(uint64_t mem_size)
{
	if (mem_size < MIN_MEM_SIZE || mem_size % PAGE_SIZE_4K)
		return -EINVAL;
	/* RAM above the hole is remapped to start at 4 GiB: its end must not wrap. */
	if (mem_size > PCI_HOLE_START && mem_size - PCI_HOLE_START > UINT64_MAX - PCI_HOLE_END)
		return -EINVAL;
	return 0;
}

int e820_build(uint64_t mem_size, struct e820_entry *out, int max)
{
	struct e820_map m = { .out = out, .max = out ? max : 0 };
	uint64_t low_end = mem_size < PCI_HOLE_START ? mem_size : PCI_HOLE_START;
	int ret = check_size(mem_size);

	if (ret)
		return ret;
	ret = add(&m, 0, GUEST_EBDA_START, E820_RAM);
	if (!ret)
		ret = add(&m, GUEST_EBDA_START, GUEST_LOW_RAM_END, E820_RESERVED);
	/*
	 * Reserved, not E820_ACPI: ACPI-reclaimable memory may be reused once the tables are
	 * parsed, but the RSDP in the same range must stay findable (kexec, the BIOS-area
	 * scan), and [0xe0000, 1 MiB) is the PC BIOS area (the reset vector stub too), which
	 * PCs report as reserved.
	 */
	if (!ret)
		ret = add(&m, GUEST_ACPI_ADDR, GUEST_HIGH_RAM_START, E820_RESERVED);
	if (!ret)
		ret = add(&m, GUEST_HIGH_RAM_START, low_end, E820_RAM);
	if (!ret && mem_size > PCI_HOLE_START)
		ret = add(&m, PCI_HOLE_END, PCI_HOLE_END + (mem_size - PCI_HOLE_START), E820_RAM);
	return ret ? ret : m.n;
}
