/*
 * arm64/machine.c: the arm64 machine: KVM's GICv3 with an ITS, PSCI in KVM, the console's 16550A and a
 * PCI host bridge on ECAM, RAM from 0x40000000, and a Linux Image entered at EL1 with x0 the address of
 * its device tree (firmware/arm64/dtb.c), as Documentation/arch/arm64/booting.rst asks.
 */
#include "../arch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../../firmware/arm64/image.h"
#include "../file.h"
#include "../irq.h"
#include "../vm.h"
#include "cpu.h"
#include "../../devices/base/log.h"

#define MSI_GSI_BASE 64 /* MSI routes take GSIs from here: clear of the SPIs GSI n raises */
/*
 * PCI: devices/pci.c decodes one memory window, the 32-bit one the device tree gives the guest. kvmini's
 * devices have no I/O BARs and arm64 has no port space, so the bus's I/O window is never mapped.
 */
#define PCI_IO_UNMAPPED_SIZE 0x10000

static int set_attr(int fd, uint32_t group, uint64_t attr, const void *addr)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)addr };

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &a);
}

static int create_device(int vm_fd, uint32_t type)
{
	struct kvm_create_device d = { .type = type };

	return ioctl(vm_fd, KVM_CREATE_DEVICE, &d) < 0 ? -1 : (int)d.fd;
}

/* The GIC's init, once it knows every vCPU (it sizes its redistributors by them), then the ITS's. */
static const char *init_gic(const struct arch_vm *a)
{
	if (set_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL) < 0)
		return "initialising the GICv3 (KVM_DEV_ARM_VGIC_CTRL_INIT)";
	if (set_attr(a->its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL) < 0)
		return "initialising the ITS (KVM_DEV_ARM_VGIC_CTRL_INIT)";
	return NULL;
}

/*
 * The doctor's scratch VM gets one vCPU, never run, and its GIC initialised: KVM takes irqfds only on an
 * initialised GIC, and that needs the vCPUs.
 */
static const char *finish_scratch(int vm_fd, const struct arch_vm *a)
{
	int vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0UL);
	const char *step = vcpu_fd < 0 ? "KVM_CREATE_VCPU" : cpu_init(vm_fd, vcpu_fd, 0);

	if (!step)
		step = init_gic(a);
	if (vcpu_fd >= 0) {
		int err = errno;

		close(vcpu_fd); /* the vCPU lives on with the VM */
		errno = err;
	}
	return step;
}

const char *arch_vm_setup(int kvm_fd, int vm_fd, struct arch_vm *a)
{
	const uint64_t dist = ARM64_GICD_BASE, redist = ARM64_GICR_BASE, its = ARM64_GITS_BASE;
	struct arch_vm scratch;
	const char *step = NULL;

	(void)kvm_fd;
	if (!a)
		a = &scratch;
	a->gic_fd = create_device(vm_fd, KVM_DEV_TYPE_ARM_VGIC_V3);
	a->its_fd = -1;
	if (a->gic_fd < 0)
		step = "KVM_CREATE_DEVICE (an in-kernel GICv3)";
	else if (set_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist) < 0)
		step = "placing the GICv3 distributor (KVM_VGIC_V3_ADDR_TYPE_DIST)";
	else if (set_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist) < 0)
		step = "placing the GICv3 redistributors (KVM_VGIC_V3_ADDR_TYPE_REDIST)";
	else if ((a->its_fd = create_device(vm_fd, KVM_DEV_TYPE_ARM_VGIC_ITS)) < 0)
		step = "KVM_CREATE_DEVICE (an in-kernel GICv3 ITS, for PCI devices' MSIs)";
	else if (set_attr(a->its_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, &its) < 0)
		step = "placing the ITS (KVM_VGIC_ITS_ADDR_TYPE)";
	if (a == &scratch) { /* the devices live on with the VM */
		int err;

		if (!step)
			step = finish_scratch(vm_fd, a);
		err = errno;
		arch_vm_free(a);
		errno = err;
	}
	return step;
}

int arch_vm_ready(struct vm *vm)
{
	const char *step = init_gic(&vm->arch);

	if (!step)
		return 0;
	log_layer(LOG_ERR, LAYER_HARDWARE, "%s failed: %s", step, strerror(errno));
	return -errno;
}

void arch_vm_free(struct arch_vm *a)
{
	if (a->its_fd >= 0)
		close(a->its_fd);
	if (a->gic_fd >= 0)
		close(a->gic_fd);
	a->its_fd = a->gic_fd = -1;
}

/* KVM's vGIC takes GSI n to SPI n (pin n); kvmini wires the console's, and MSIs go through the ITS. */
void arch_irq_routes(struct irq_routes *r)
{
	irq_route_pin(r, ARM64_UART_SPI, 0, ARM64_UART_SPI);
	r->next_gsi = MSI_GSI_BASE;
	r->msi_devid = true;
}

int arch_add_devices(struct vm *vm)
{
	struct pci_window mmio = { ARM64_PCI_MMIO32_BASE, ARM64_PCI_MMIO32_BASE + ARM64_PCI_MMIO32_SIZE };
	struct pci_window io = { 0, PCI_IO_UNMAPPED_SIZE };
	int ret = vm_add_console(vm, &vm->mmio, ARM64_UART_BASE, ARM64_UART_SPI);

	return ret ? ret : vm_add_pci(vm, ARM64_PCI_ECAM_BASE, ARM64_PCI_ECAM_SIZE, &mmio, &io);
}

/* The device tree for this VM at (b->dtb), telling the kernel where its initrd went. */
static int write_dtb(struct vm *vm, const struct boot_arm64 *out)
{
	char *cmdline = vm_cmdline(vm);
	void *buf = NULL;
	struct dtb_config c;
	int ret;

	if (!cmdline)
		return -ENOMEM;
	c = (struct dtb_config){
		.ram_base = ARM64_RAM_BASE,
		.ram_size = vm->mem.size,
		.ncpus = vm->cfg->cpus,
		.cmdline = cmdline,
		.initrd_start = out->initrd,
		.initrd_size = out->initrd_size,
	};
	buf = aligned_alloc(8, DTB_MAX);
	ret = buf ? dtb_build(buf, DTB_MAX, &c) : -ENOMEM;
	if (!ret)
		ret = gmem_write(&vm->mem, out->dtb, buf, dtb_size(buf));
	if (ret)
		log_err("cannot write the guest's device tree: %s", strerror(-ret));
	free(buf);
	free(cmdline);
	return ret;
}

int arch_load_guest(struct vm *vm, struct arch_boot *b)
{
	struct boot_arm64_args args = {
		.kernel_path = vm->cfg->kernel,
		.initrd_path = vm->cfg->initrd,
		.ram_base = ARM64_RAM_BASE,
		.ram_size = vm->mem.size,
	};
	struct boot_arm64 out;
	uint8_t *img = NULL;
	size_t len = 0;
	int ret = file_read_all(vm->cfg->kernel, VM_KERNEL_MAX_SIZE, &img, &len);

	if (ret) {
		log_err("kernel %s: %s", vm->cfg->kernel, file_strerror(ret));
		return ret;
	}
	ret = boot_arm64_load(&vm->mem, &args, img, len, &out);
	free(img);
	if (!ret)
		ret = write_dtb(vm, &out);
	b->entry = out.entry;
	b->dtb = out.dtb;
	return ret;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *v, const struct arch_boot *b)
{
	const char *step = cpu_init(vm->fd, v->fd, v->id);
	int ret;

	if (step) {
		log_layer(LOG_ERR, LAYER_VCPU, "%s of vCPU %u failed: %s", step, v->id, strerror(errno));
		return -errno;
	}
	ret = v->id == 0 ? cpu_set_boot_regs(v->fd, b->entry, b->dtb) : 0;
	if (ret)
		log_layer(LOG_ERR, LAYER_VCPU, "setting vCPU %u's boot registers failed: %s", v->id,
			  strerror(-ret));
	return ret;
}
