/*
 * x86/machine.c: the x86-64 machine: a PC with KVM's in-kernel PIC, IOAPIC, LAPICs and PIT, COM1, the
 * platform's ports, PCI through configuration mechanism #1 and ECAM, ACPI tables, and a Linux
 * (bzImage) or Multiboot kernel entered in long or protected mode.
 */
#include "../arch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../../firmware/x86/acpi.h"
#include "../../firmware/x86/e820.h"
#include "../../firmware/x86/pagetable.h"
#include "../../firmware/x86/reset_vector.h"
#include "../file.h"
#include "../irq.h"
#include "../vm.h"
#include "cpu.h"
#include "cpuid.h"
#include "../../devices/base/log.h"

#define E820_MAX	16
#define IRQ_PIC_PINS	16 /* two 8259s */
#define IRQ_IOAPIC_PINS 24 /* KVM's IOAPIC */

const char *arch_vm_setup(int kvm_fd, int vm_fd, struct arch_vm *a)
{
	struct kvm_pit_config pit = { .flags = 0 };
	uint64_t identity = KVM_IDENTITY_MAP_ADDR;

	(void)a;
	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		return "KVM_SET_TSS_ADDR";
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
	    ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
		return "KVM_SET_IDENTITY_MAP_ADDR";
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return "KVM_CREATE_IRQCHIP (in-kernel PIC, IOAPIC and LAPICs)";
	if (ioctl(vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return "KVM_CREATE_PIT2 (in-kernel timer)";
	return NULL;
}

int arch_vm_ready(struct vm *vm)
{
	(void)vm;
	return 0;
}

void arch_vm_free(struct arch_vm *a)
{
	(void)a;
}

/* The same table KVM_CREATE_IRQCHIP starts with: ISA IRQs reach both PICs and the IOAPIC. */
void arch_irq_routes(struct irq_routes *r)
{
	for (uint32_t i = 0; i < IRQ_PIC_PINS; i++)
		irq_route_pin(r, i, i < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, i % 8);
	for (uint32_t i = 0; i < IRQ_IOAPIC_PINS; i++)
		irq_route_pin(r, i, KVM_IRQCHIP_IOAPIC, i);
	r->next_gsi = IRQ_IOAPIC_PINS;
	r->msi_devid = false;
}

/*
 * COM1, the platform's ports (debug exit, pvpanic, ACPI sleep, resets), and the PCI host bridge with
 * configuration mechanism #1 and its I/O window beside ECAM.
 */
int arch_add_devices(struct vm *vm)
{
	struct platform_port ports[PLATFORM_NR_PORTS];
	struct pci_window mmio = { PCI_MMIO_BASE, PCI_MMIO_BASE + PCI_MMIO_SIZE };
	struct pci_window io = { PCI_IOPORT_BASE, PCI_IOPORT_BASE + PCI_IOPORT_SIZE };
	struct pci_bus *b = &vm->pci;
	int ret = vm_add_console(vm, &vm->pio, PORT_COM1, IRQ_COM1);

	if (ret)
		return ret;
	platform_init(&vm->platform, &vm->host);
	platform_ports(&vm->platform, ports);
	for (int i = 0; !ret && i < PLATFORM_NR_PORTS; i++)
		ret = bus_add(&vm->pio, ports[i].port, ports[i].len, ports[i].dev);
	if (ret) {
		log_err("cannot map the platform devices: %s", strerror(-ret));
		return ret;
	}
	ret = vm_add_pci(vm, PCI_ECAM_BASE, PCI_ECAM_SIZE, &mmio, &io);
	if (ret)
		return ret;
	ret = bus_add(&vm->pio, PCI_PORT_CONFIG_ADDRESS, PCI_CONFIG_ADDRESS_LEN, &b->config_address_dev);
	if (!ret)
		ret = bus_add(&vm->pio, PCI_PORT_CONFIG_DATA, PCI_CONFIG_DATA_LEN, &b->config_data_dev);
	if (!ret)
		ret = bus_add(&vm->pio, PCI_IOPORT_BASE, PCI_IOPORT_SIZE, &b->io_window);
	if (ret)
		log_err("cannot map the PCI host bridge's ports: %s", strerror(-ret));
	return ret;
}

int arch_write_boot_tables(const struct gmem *m)
{
	uint64_t gdt[GDT_ENTRIES];
	uint64_t *tables = malloc(PAGETABLE_PAGES * 4096);
	int ret = tables ? 0 : -ENOMEM;

	pagetable_build_gdt(gdt);
	if (!ret) {
		pagetable_build_identity(tables, GUEST_PML4_ADDR);
		ret = gmem_write(m, GUEST_GDT_ADDR, gdt, sizeof(gdt));
	}
	if (!ret)
		ret = gmem_write(m, GUEST_PML4_ADDR, tables, PAGETABLE_PAGES * 4096);
	free(tables);
	return ret;
}

static int write_acpi(struct vm *vm)
{
	struct acpi_config acpi = { .ncpus = vm->cfg->cpus, .base_gpa = GUEST_ACPI_ADDR, .pci = true };
	uint8_t *buf = calloc(1, GUEST_ACPI_MAX);
	ssize_t n = buf ? acpi_build(&acpi, buf, GUEST_ACPI_MAX) : -ENOMEM;

	if (n >= 0)
		n = gmem_write(&vm->mem, GUEST_ACPI_ADDR, buf, (uint64_t)n);
	free(buf);
	if (n < 0)
		log_err("cannot build the ACPI tables for %u vCPUs: %s", vm->cfg->cpus, strerror((int)-n));
	return n < 0 ? (int)n : 0;
}

/* ACPI tables, the reset vector, GDT and page tables; fills the E820 map the zero page will carry. */
static int write_firmware(struct vm *vm, struct e820_entry *e820, int *e820_nr)
{
	uint8_t stub[RESET_VECTOR_STUB_LEN];
	int ret = write_acpi(vm);

	if (ret)
		return ret;
	*e820_nr = e820_build(vm->mem.size, e820, E820_MAX);
	if (*e820_nr < 0) {
		log_err("cannot describe %" PRIu64 " bytes of RAM in the E820 map: %s", vm->mem.size,
			strerror(-*e820_nr));
		return *e820_nr;
	}
	reset_vector_build(stub, PORT_RESET, RESET_VALUE);
	ret = gmem_write(&vm->mem, GUEST_RESET_VECTOR, stub, sizeof(stub));
	if (!ret)
		ret = arch_write_boot_tables(&vm->mem);
	if (ret)
		log_err("cannot write the boot tables into guest RAM: %s", strerror(-ret));
	return ret;
}

static int load_linux(struct vm *vm, const uint8_t *img, size_t len, const struct e820_entry *e820,
		      int e820_nr, struct arch_boot *entry)
{
	char *cmdline = vm_cmdline(vm);
	struct boot_linux_args args;
	int ret;

	if (!cmdline)
		return -ENOMEM;
	args = (struct boot_linux_args){
		.kernel_path = vm->cfg->kernel,
		.image = img,
		.image_len = len,
		.initrd_path = vm->cfg->initrd,
		.cmdline = cmdline,
		.e820 = e820,
		.e820_nr = e820_nr,
		.rsdp_gpa = GUEST_ACPI_ADDR,
	};
	ret = boot_linux_load(&vm->mem, &args, &entry->linux64);
	free(cmdline);
	return ret;
}

int arch_load_guest(struct vm *vm, struct arch_boot *entry)
{
	struct e820_entry e820[E820_MAX];
	struct multiboot_args mb;
	uint8_t *img = NULL;
	size_t len = 0;
	int e820_nr = 0, ret = write_firmware(vm, e820, &e820_nr);

	if (ret)
		return ret;
	ret = file_read_all(vm->cfg->kernel, VM_KERNEL_MAX_SIZE, &img, &len);
	if (ret) {
		log_err("kernel %s: %s", vm->cfg->kernel, file_strerror(ret));
		return ret;
	}
	/* A Multiboot header is looked for first: no bzImage carries one. */
	mb = (struct multiboot_args){
		.kernel_path = vm->cfg->kernel,
		.image = img,
		.image_len = len,
		.module_path = vm->cfg->initrd,
		.cmdline = vm->cfg->cmdline,
		.e820 = e820,
		.e820_nr = e820_nr,
	};
	ret = multiboot_load(&vm->mem, &mb, &entry->mb);
	entry->multiboot = ret == 1;
	if (ret == 0)
		ret = load_linux(vm, img, len, e820, e820_nr, entry);
	free(img);
	return ret < 0 ? ret : 0;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *v, const struct arch_boot *entry)
{
	static struct cpuid_table supported; /* large: kept off the stack, read-only once filled */
	int ret;

	if (v->id == 0) {
		supported.nent = CPUID_MAX_ENTRIES;
		if (ioctl(vm->kvm.fd, KVM_GET_SUPPORTED_CPUID, cpuid_kvm(&supported)) < 0) {
			log_layer(LOG_ERR, LAYER_VCPU, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(errno));
			return -errno;
		}
	}
	ret = cpu_set_cpuid(v, &supported, vm->cfg->cpus, vm->kvm.tsc_deadline);
	if (!ret)
		ret = cpu_init_lapic(v);
	/* Application processors wait in KVM for INIT/SIPI, as on hardware. */
	if (!ret && v->id == 0 && entry->multiboot)
		ret = cpu_set_protected_mode(v, entry->mb.eip, MULTIBOOT_BOOT_MAGIC, entry->mb.ebx,
					     GUEST_GDT_ADDR);
	else if (!ret && v->id == 0)
		ret = cpu_set_long_mode(v, entry->linux64.rip, entry->linux64.zero_page, GUEST_PML4_ADDR,
					GUEST_GDT_ADDR);
	return ret;
}
