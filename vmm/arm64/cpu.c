/* arm64/cpu.c: an arm64 vCPU's registers, through KVM's one-register interface. */
#include "cpu.h"

#include <asm/ptrace.h>
#include <errno.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "../arch.h"

/* A core register's ID (KVM_REG_ARM_CORE): its offset in struct kvm_regs, in 32-bit words. */
#define CORE_REG(off) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | ((off) / sizeof(uint32_t)))
#define REG_X(n)      CORE_REG(offsetof(struct kvm_regs, regs.regs) + (n) * sizeof(uint64_t))
#define REG_SP	      CORE_REG(offsetof(struct kvm_regs, regs.sp))
#define REG_PC	      CORE_REG(offsetof(struct kvm_regs, regs.pc))
#define REG_PSTATE    CORE_REG(offsetof(struct kvm_regs, regs.pstate))
#define REG_SP_EL1    CORE_REG(offsetof(struct kvm_regs, sp_el1))
#define REG_ELR_EL1   CORE_REG(offsetof(struct kvm_regs, elr_el1))
#define REG_SPSR_EL1  CORE_REG(offsetof(struct kvm_regs, spsr[KVM_SPSR_EL1]))

static int set_reg(int fd, uint64_t id, uint64_t v)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&v };

	return ioctl(fd, KVM_SET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int get_reg(int fd, uint64_t id, uint64_t *v)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)v };

	return ioctl(fd, KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

const char *cpu_init(int vm_fd, int vcpu_fd, unsigned int id)
{
	struct kvm_vcpu_init init;

	if (ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		return "KVM_ARM_PREFERRED_TARGET";
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (id != 0)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	return ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0 ? "KVM_ARM_VCPU_INIT" : NULL;
}

int cpu_set_boot_regs(int vcpu_fd, uint64_t entry, uint64_t dtb)
{
	int ret = set_reg(vcpu_fd, REG_PSTATE, PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT | PSR_MODE_EL1h);

	for (unsigned int i = 0; !ret && i < 4; i++)
		ret = set_reg(vcpu_fd, REG_X(i), i == 0 ? dtb : 0);
	if (!ret)
		ret = set_reg(vcpu_fd, REG_PC, entry);
	return ret;
}

int arch_regs_get(int vcpu_fd, struct arch_regs *r)
{
	int ret = 0;

	for (unsigned int i = 0; !ret && i < 31; i++)
		ret = get_reg(vcpu_fd, REG_X(i), &r->x[i]);
	if (!ret)
		ret = get_reg(vcpu_fd, REG_SP, &r->sp);
	if (!ret)
		ret = get_reg(vcpu_fd, REG_PC, &r->pc);
	if (!ret)
		ret = get_reg(vcpu_fd, REG_PSTATE, &r->pstate);
	if (!ret)
		ret = get_reg(vcpu_fd, REG_SP_EL1, &r->sp_el1);
	if (!ret)
		ret = get_reg(vcpu_fd, REG_ELR_EL1, &r->elr_el1);
	if (!ret)
		ret = get_reg(vcpu_fd, REG_SPSR_EL1, &r->spsr_el1);
	return ret;
}

bool arch_regs_where(const struct arch_regs *r, char *buf, size_t len)
{
	snprintf(buf, len, "pc 0x%llx, sp 0x%llx, pstate 0x%llx, elr_el1 0x%llx", (unsigned long long)r->pc,
		 (unsigned long long)r->sp, (unsigned long long)r->pstate, (unsigned long long)r->elr_el1);
	return true;
}

static void put_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

void arch_regs_json(const struct arch_regs *r, struct json_object *o)
{
	struct json_object *regs = json_object_new_object(), *sregs = json_object_new_object();
	char name[8];

	put_u64(regs, "pc", r->pc);
	put_u64(regs, "sp", r->sp);
	put_u64(regs, "pstate", r->pstate);
	for (unsigned int i = 0; i < 31; i++) {
		snprintf(name, sizeof(name), "x%u", i);
		put_u64(regs, name, r->x[i]);
	}
	put_u64(sregs, "sp_el1", r->sp_el1);
	put_u64(sregs, "elr_el1", r->elr_el1);
	put_u64(sregs, "spsr_el1", r->spsr_el1);
	json_object_object_add(o, "regs", regs);
	json_object_object_add(o, "sregs", sregs);
}

static void put_range(struct json_object *o, const char *key, uint64_t start, uint64_t size)
{
	struct json_object *r = json_object_new_object();

	put_u64(r, "start", start);
	put_u64(r, "size", size);
	json_object_object_add(o, key, r);
}

void arch_layout_json(struct json_object *o)
{
	struct json_object *m = json_object_new_object();

	put_range(m, "gic_distributor", ARM64_GICD_BASE, ARM64_GICD_SIZE);
	put_range(m, "gic_its", ARM64_GITS_BASE, ARM64_GITS_SIZE);
	put_range(m, "uart", ARM64_UART_BASE, ARM64_UART_SIZE);
	put_range(m, "gic_redistributors", ARM64_GICR_BASE, ARM64_GICR_REGION);
	put_range(m, "pci_ecam", ARM64_PCI_ECAM_BASE, ARM64_PCI_ECAM_SIZE);
	put_range(m, "pci_mmio", ARM64_PCI_MMIO32_BASE, ARM64_PCI_MMIO32_SIZE);
	json_object_object_add(o, "devices", m);
}

int arch_vcpu_nmi(int vcpu_fd)
{
	(void)vcpu_fd;
	return -ENOTSUP; /* arm64 has no NMI to inject: a kick is all a vCPU gets */
}
