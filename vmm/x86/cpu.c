/* x86/cpu.c: an x86-64 vCPU's registers: CPUID, the LAPIC, the boot entries, and reading them back. */
#include "cpu.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../../firmware/x86/pagetable.h"
#include "../arch.h"
#include "cpuid.h"
#include "../../devices/base/log.h"

#define MSR_IA32_MISC_ENABLE	0x000001a0
#define MISC_ENABLE_FAST_STRING (1ULL << 0)
#define CR0_PE			(1ULL << 0)
#define CR0_ET			(1ULL << 4)
#define CR0_PG			(1ULL << 31)
#define CR4_PAE			(1ULL << 5)
#define EFER_LME		(1ULL << 8)
#define EFER_LMA		(1ULL << 10)
#define APIC_LVT0		0x350
#define APIC_LVT1		0x360
#define APIC_MODE_NMI		0x4
#define APIC_MODE_EXTINT	0x7

int cpu_set_cpuid(struct vcpu *v, const struct cpuid_table *t, unsigned int ncpus, bool tsc_deadline)
{
	struct cpuid_table own = *t;
	struct cpuid_topology topo = { .cpu = v->id, .ncpus = ncpus, .tsc_deadline = tsc_deadline };
	int ret = cpuid_apply_topology(&own, &topo);

	if (ret == 0 && ioctl(v->fd, KVM_SET_CPUID2, cpuid_kvm(&own)) < 0)
		ret = -errno;
	if (ret)
		log_layer(LOG_ERR, LAYER_VCPU, "setting CPUID of vCPU %u failed: %s", v->id, strerror(-ret));
	return ret;
}

int cpu_init_lapic(struct vcpu *v)
{
	struct kvm_lapic_state lapic;
	uint32_t lvt;

	if (ioctl(v->fd, KVM_GET_LAPIC, &lapic) < 0)
		goto fail;
	memcpy(&lvt, &lapic.regs[APIC_LVT0], sizeof(lvt));
	lvt = (lvt & ~0x700u) | (APIC_MODE_EXTINT << 8);
	memcpy(&lapic.regs[APIC_LVT0], &lvt, sizeof(lvt));
	memcpy(&lvt, &lapic.regs[APIC_LVT1], sizeof(lvt));
	lvt = (lvt & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(&lapic.regs[APIC_LVT1], &lvt, sizeof(lvt));
	if (ioctl(v->fd, KVM_SET_LAPIC, &lapic) < 0)
		goto fail;
	return 0;
fail:
	log_layer(LOG_ERR, LAYER_HARDWARE, "setting up vCPU %u's local APIC failed: %s", v->id,
		  strerror(errno));
	return -errno;
}

static void flat_segment(struct kvm_segment *s, uint16_t selector, uint8_t type, bool code64)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code64 ? 0 : 1,
		.s = 1,
		.l = code64 ? 1 : 0,
		.g = 1,
	};
}

static int set_msrs(struct vcpu *v)
{
	/* struct kvm_msrs ends in a flexible array: build it in a buffer big enough for one entry. */
	union {
		struct kvm_msrs msrs;
		uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} buf = { .bytes = { 0 } };

	buf.msrs.nmsrs = 1;
	buf.msrs.entries[0] =
		(struct kvm_msr_entry){ .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING };
	return ioctl(v->fd, KVM_SET_MSRS, &buf.msrs) == 1 ? 0 : -EIO;
}

/* Segments from the GDT at (gdt) with (code) as CS; paging and long mode as (cr0, cr4, efer) say. */
static int set_flat_sregs(struct vcpu *v, struct kvm_segment *code, uint64_t gdt, uint64_t cr0, uint64_t cr3,
			  uint64_t cr4, uint64_t efer)
{
	struct kvm_sregs sregs;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs = *code;
	flat_segment(&sregs.ds, GDT_SEL_DATA, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){ .selector = GDT_SEL_TSS, .limit = 0x67, .type = 0xb, .present = 1 };
	sregs.gdt.base = gdt;
	sregs.gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs.cr0 = cr0;
	sregs.cr3 = cr3;
	sregs.cr4 = cr4;
	sregs.efer = efer;
	return ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0 ? -errno : 0;
}

static int set_regs_fpu(struct vcpu *v, struct kvm_regs *regs)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (ioctl(v->fd, KVM_SET_REGS, regs) < 0 || ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	if (set_msrs(v) < 0)
		log_warn("vCPU %u: KVM refused IA32_MISC_ENABLE; going on without fast strings", v->id);
	return 0;
}

int cpu_set_long_mode(struct vcpu *v, uint64_t rip, uint64_t rsi, uint64_t cr3, uint64_t gdt)
{
	struct kvm_regs regs = { .rip = rip, .rsi = rsi, .rflags = 0x2 };
	struct kvm_segment cs;
	int ret;

	flat_segment(&cs, GDT_SEL_CODE64, 0xb, true);
	ret = set_flat_sregs(v, &cs, gdt, CR0_PE | CR0_ET | CR0_PG, cr3, CR4_PAE, EFER_LME | EFER_LMA);
	if (!ret)
		ret = set_regs_fpu(v, &regs);
	if (ret)
		log_layer(LOG_ERR, LAYER_VCPU, "setting vCPU %u's boot registers failed: %s", v->id,
			  strerror(-ret));
	return ret;
}

int cpu_set_protected_mode(struct vcpu *v, uint32_t eip, uint32_t eax, uint32_t ebx, uint64_t gdt)
{
	struct kvm_regs regs = { .rip = eip, .rax = eax, .rbx = ebx, .rflags = 0x2 };
	struct kvm_segment cs;
	int ret;

	flat_segment(&cs, GDT_SEL_CODE32, 0xb, false);
	ret = set_flat_sregs(v, &cs, gdt, CR0_PE | CR0_ET, 0, 0, 0);
	if (!ret)
		ret = set_regs_fpu(v, &regs);
	if (ret)
		log_layer(LOG_ERR, LAYER_VCPU, "setting vCPU %u's boot registers failed: %s", v->id,
			  strerror(-ret));
	return ret;
}

static void put_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static struct json_object *segment(const struct kvm_segment *s)
{
	struct json_object *o = json_object_new_object();

	put_u64(o, "selector", s->selector);
	put_u64(o, "base", s->base);
	put_u64(o, "limit", s->limit);
	put_u64(o, "type", s->type);
	put_u64(o, "dpl", s->dpl);
	json_object_object_add(o, "present", json_object_new_boolean(s->present));
	json_object_object_add(o, "long", json_object_new_boolean(s->l));
	return o;
}

void arch_regs_json(const struct arch_regs *s, struct json_object *o)
{
	struct json_object *regs = json_object_new_object(), *sregs = json_object_new_object();
	const struct kvm_regs *r = &s->regs;
	const struct kvm_sregs *sr = &s->sregs;
	const struct {
		const char *name;
		uint64_t v;
	} g[] = {
		{ "rip", r->rip }, { "rsp", r->rsp }, { "rflags", r->rflags }, { "rax", r->rax },
		{ "rbx", r->rbx }, { "rcx", r->rcx }, { "rdx", r->rdx },       { "rsi", r->rsi },
		{ "rdi", r->rdi }, { "rbp", r->rbp }, { "r8", r->r8 },	       { "r9", r->r9 },
		{ "r10", r->r10 }, { "r11", r->r11 }, { "r12", r->r12 },       { "r13", r->r13 },
		{ "r14", r->r14 }, { "r15", r->r15 },
	};

	for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++)
		put_u64(regs, g[i].name, g[i].v);
	put_u64(sregs, "cr0", sr->cr0);
	put_u64(sregs, "cr2", sr->cr2);
	put_u64(sregs, "cr3", sr->cr3);
	put_u64(sregs, "cr4", sr->cr4);
	put_u64(sregs, "cr8", sr->cr8);
	put_u64(sregs, "efer", sr->efer);
	put_u64(sregs, "apic_base", sr->apic_base);
	json_object_object_add(sregs, "cs", segment(&sr->cs));
	json_object_object_add(sregs, "ds", segment(&sr->ds));
	json_object_object_add(sregs, "ss", segment(&sr->ss));
	json_object_object_add(sregs, "tr", segment(&sr->tr));
	put_u64(sregs, "gdt_base", sr->gdt.base);
	put_u64(sregs, "idt_base", sr->idt.base);
	json_object_object_add(o, "regs", regs);
	json_object_object_add(o, "sregs", sregs);
}

void arch_layout_json(struct json_object *o)
{
	struct json_object *hole = json_object_new_object();

	put_u64(hole, "start", PCI_HOLE_START);
	put_u64(hole, "size", PCI_HOLE_END - PCI_HOLE_START);
	json_object_object_add(o, "pci_hole", hole);
}

int arch_regs_get(int vcpu_fd, struct arch_regs *r)
{
	if (ioctl(vcpu_fd, KVM_GET_REGS, &r->regs) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &r->sregs) < 0)
		return -errno;
	return 0;
}

bool arch_regs_where(const struct arch_regs *r, char *buf, size_t len)
{
	/* KVM on AMD INITs a vCPU before it reports SHUTDOWN: what it held is gone. */
	if (r->regs.rip == 0xfff0 && r->sregs.cs.base == 0xffff0000)
		return false;
	snprintf(buf, len, "rip 0x%llx, rsp 0x%llx, cr0 0x%llx, cr3 0x%llx, efer 0x%llx", r->regs.rip,
		 r->regs.rsp, r->sregs.cr0, r->sregs.cr3, r->sregs.efer);
	return true;
}

int arch_vcpu_nmi(int vcpu_fd)
{
	return ioctl(vcpu_fd, KVM_NMI) < 0 ? -errno : 0;
}
