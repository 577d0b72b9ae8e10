/*
 * arch.h: what kvmini does differently on x86-64 and on arm64, behind one small interface. vmm/x86/ and
 * vmm/arm64/ each implement all of it (the Makefile builds one of them); nothing else in vmm/ asks which
 * architecture it runs on. The loaders and tables both write into guest RAM are portable C in
 * firmware/x86/ and firmware/arm64/.
 */
#ifndef KVMINI_ARCH_H
#define KVMINI_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Each architecture's header defines:
 *   struct arch_vm    what a VM holds of its own on that architecture (arm64: the GIC's KVM devices),
 *                     and ARCH_VM_INIT, its value before arch_vm_setup();
 *   struct arch_boot  where the boot vCPU starts, as arch_load_guest() found;
 *   struct arch_regs  a vCPU's registers, as a snapshot and inspect show them;
 *   ARCH_NAME         "x86_64" or "arm64";
 *   ARCH_RAM_BASE, ARCH_RAM_HOLE  guest RAM starts at ARCH_RAM_BASE; what would reach ARCH_RAM_HOLE
 *                     moves to 4 GiB (gmem_layout);
 *   ARCH_IRQ_PINS     how many interrupt-controller routes arch_irq_routes() adds at most;
 *   ARCH_IRQCHIP      what arch_vm_setup() makes, in words;
 *   ARCH_CANARY_START, ARCH_CANARY_MODE  the canary's way to its loop and its loop's mode, in words;
 *   ARCH_KVM_CAPS     the KVM capabilities kvmini needs there, beside the common ones (kvm.c);
 *   ARCH_VCPU_IOCTLS  what a vCPU thread's syscall filter allows beside KVM_RUN (thread_filter.c);
 *   ARCH_DOCTOR_GSI, ARCH_DOCTOR_MMIO, ARCH_DOCTOR_MSI_ADDR  what the doctor binds an irqfd, an
 *                     ioeventfd and an MSI route to on a scratch VM: what kvmini's own devices use.
 */
#if defined(__x86_64__)
#include "x86/arch.h"
#elif defined(__aarch64__)
#include "arm64/arch.h"
#else
#error "kvmini runs on x86-64 and arm64 hosts"
#endif

struct vm;
struct vcpu;
struct irq_routes;
struct json_object;

/*
 * arch_vm_setup: what KVM makes on a new VM (vm_fd) before its memory, devices and vCPUs: x86 its
 * in-kernel PIC, IOAPIC and PIT; arm64 the GICv3 and its ITS at their addresses (initialised later, by
 * arch_vm_ready, once every vCPU exists). (a) keeps what must be kept (NULL: the doctor's scratch VM,
 * closed with the VM). Returns NULL, or the failed step with errno set.
 */
const char *arch_vm_setup(int kvm_fd, int vm_fd, struct arch_vm *a);
/* arch_vm_ready: the last step once every vCPU exists. Returns 0 or -errno (logged). */
int arch_vm_ready(struct vm *vm);
/* arch_vm_free: release what arch_vm_setup kept in (a). */
void arch_vm_free(struct arch_vm *a);
/*
 * arch_irq_routes: the interrupt controller's own routes, first in (r)'s table (irq_route_pin), and
 * where MSI routes start; whether MSIs carry the PCI requester ID (arm64's ITS needs it).
 */
void arch_irq_routes(struct irq_routes *r);
/*
 * arch_add_devices: the board's devices: the console's 16550A on its bus with its irqfd, and the rest
 * each architecture has (x86: the platform's ports); then the PCI host bridge's ways in. 0 or -errno.
 */
int arch_add_devices(struct vm *vm);
/* arch_load_guest: firmware, kernel, initrd and command line into guest RAM; the boot vCPU's entry into (b). */
int arch_load_guest(struct vm *vm, struct arch_boot *b);
/*
 * arch_vcpu_init: (v), just created, made ready to run as vCPU (v->id) of (vm); the boot vCPU gets the
 * entry registers (b) says. Returns 0 or -errno (logged).
 */
int arch_vcpu_init(struct vm *vm, struct vcpu *v, const struct arch_boot *b);

/* arch_regs_get: the registers of the vCPU (vcpu_fd) into (r), on its own thread. 0 or -errno. */
int arch_regs_get(int vcpu_fd, struct arch_regs *r);
/*
 * arch_regs_where: where (r) says the vCPU was, as "pc 0x... sp 0x..." words, into (buf). Returns false
 * when (r) is a reset state, KVM having dropped what the vCPU held (x86 on AMD after a triple fault).
 */
bool arch_regs_where(const struct arch_regs *r, char *buf, size_t len);
/* arch_regs_json: (r) as inspect's "registers" (and the architecture's system registers) into (o). */
void arch_regs_json(const struct arch_regs *r, struct json_object *o);
/* arch_layout_json: the fixed guest-physical map besides RAM (x86: the PCI hole) into (o). */
void arch_layout_json(struct json_object *o);
/* arch_vcpu_nmi: inject an NMI into the vCPU (vcpu_fd), on its thread; -ENOTSUP where there are none. */
int arch_vcpu_nmi(int vcpu_fd);

#endif
