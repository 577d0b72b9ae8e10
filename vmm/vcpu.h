/* vcpu.h: one host thread per virtual CPU, running KVM_RUN and dispatching its exits. */
#ifndef KVMINI_VCPU_H
#define KVMINI_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;
struct cpuid_table;

#define VCPU_EXIT_REASONS 64 /* counters for KVM_EXIT_* below this */

/*
 * vcpu_stop_vm_fn: end the VM with exit (status), a VM_EXIT_* (exit_status.h), logging (why); the first
 * call wins. Called on the vCPU's thread, under its syscall filter (thread_filter.h).
 */
typedef void vcpu_stop_vm_fn(void *opaque, int status, const char *why);

/* What a vCPU needs of its VM, given by whoever creates it; all of it outlives the vCPU. */
struct vcpu_ctx {
	int vm_fd;
	size_t run_size;	    /* KVM_GET_VCPU_MMAP_SIZE */
	struct bus *pio, *mmio;	    /* where its port and MMIO exits go */
	const atomic_int *stopping; /* non-zero once the VM stops: the vCPU's thread then returns */
	vcpu_stop_vm_fn *stop;
	void *opaque; /* for (stop) */
};

struct vcpu {
	struct vcpu_ctx ctx; /* a copy of vcpu_create()'s */
	unsigned int id;     /* also its APIC ID */
	int fd;
	struct kvm_run *run; /* shared with KVM; immediate_exit is written by other threads */
	pthread_t thread;
	bool started;
	atomic_bool nmi_pending;   /* vcpu_request_nmi() asked; injected before the next entry */
	atomic_bool in_run;	   /* inside KVM_RUN: for vcpu_join()'s diagnosis of a thread that hangs */
	_Atomic int wchan_fd;	   /* its /proc wait channel, opened by the thread before its filter; -1 */
	_Atomic uint64_t io_exits; /* port and MMIO exits so far, for the boot watch; this thread writes it */
	/* Written by this vCPU's thread only; read after it is joined. */
	uint64_t exits[VCPU_EXIT_REASONS];
	uint64_t first_run_ns; /* CLOCK_MONOTONIC of the first KVM_RUN, 0 before */
};

/* vcpu_create: KVM vCPU (id) of the VM (ctx) describes, its run page mapped. Returns 0 or -errno (logged). */
int vcpu_create(struct vcpu *v, const struct vcpu_ctx *ctx, unsigned int id);
/* vcpu_destroy: unmap and close (v); its thread must have been joined. */
void vcpu_destroy(struct vcpu *v);
/* vcpu_set_cpuid: tell (v) what CPUID reports, from KVM's supported (t) adjusted for (v)'s topology. */
int vcpu_set_cpuid(struct vcpu *v, const struct cpuid_table *t, unsigned int ncpus, bool tsc_deadline);
/* vcpu_init_lapic: virtual-wire mode (LINT0 ExtINT, LINT1 NMI), as firmware leaves a PC. */
int vcpu_init_lapic(struct vcpu *v);
/*
 * vcpu_set_long_mode: registers for a 64-bit entry at (rip) with paging on the tables at (cr3),
 * the GDT at (gdt), RSI = (rsi), as Linux's 64-bit boot protocol asks. Returns 0 or -errno.
 */
int vcpu_set_long_mode(struct vcpu *v, uint64_t rip, uint64_t rsi, uint64_t cr3, uint64_t gdt);
/*
 * vcpu_set_protected_mode: registers for a 32-bit entry at (eip) with paging off, flat segments
 * from the GDT at (gdt), and EAX = (eax), EBX = (ebx), as Multiboot asks. Returns 0 or -errno.
 */
int vcpu_set_protected_mode(struct vcpu *v, uint32_t eip, uint32_t eax, uint32_t ebx, uint64_t gdt);
/* vcpu_start: run (v) on its own thread until the VM stops. Returns 0 or -errno. */
int vcpu_start(struct vcpu *v);
/* vcpu_kick: make (v) leave KVM_RUN promptly, now or at its next entry. Any thread. */
void vcpu_kick(struct vcpu *v);
/* vcpu_request_nmi: inject an NMI into (v), getting it out of KVM_RUN to do so (a halted vCPU too). */
void vcpu_request_nmi(struct vcpu *v);
/*
 * vcpu_join: wait for (v)'s thread after vcpu_kick(). One not back within (grace_s) seconds is named
 * with where it hangs, by layer; returns -ETIMEDOUT when it is still not back (grace_s) later, and
 * then it must be left alone (its vCPU and memory stay in use).
 */
int vcpu_join(struct vcpu *v, unsigned int grace_s);
/* vcpu_exit_name: a KVM_EXIT_* reason as text. */
const char *vcpu_exit_name(unsigned int reason);

#endif
