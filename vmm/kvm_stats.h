/*
 * kvm_stats.h: KVM's own counters for a VM or vCPU (the binary statistics of KVM_GET_STATS_FD, Linux
 * 5.14+): what happens inside the kernel, which kvmini's exit counters never see (in-kernel exits,
 * interrupts injected, halts).
 */
#ifndef KVMINI_KVM_STATS_H
#define KVMINI_KVM_STATS_H

#include <stdint.h>

/* The counters kvmini reads, where KVM has them (names as KVM gives them). */
enum kvm_stat {
	KVM_STAT_EXITS,		 /* every exit, handled in the kernel or not */
	KVM_STAT_IRQ_INJECTIONS, /* interrupts injected into the guest */
	KVM_STAT_NMI_INJECTIONS,
	KVM_STAT_HALT_EXITS, /* HLT */
	KVM_STAT_IRQ_EXITS,  /* external interrupts on the host CPU */
	KVM_STAT_IO_EXITS,   /* port I/O, handled in the kernel or by kvmini */
	KVM_STAT_MMIO_EXITS,
	KVM_STAT_SIGNAL_EXITS,	 /* a signal made KVM_RUN return (kicks) */
	KVM_STAT_INSN_EMULATION, /* instructions KVM emulated */
	KVM_STAT_COUNT
};

#define KVM_STAT_NONE UINT64_MAX /* a counter this KVM does not have */

struct kvm_stats {
	int fd;				 /* -1: none (older KVM) */
	uint32_t data_offset;		 /* where the values start in (fd) */
	uint32_t offset[KVM_STAT_COUNT]; /* each value's offset from there; */
	uint8_t have[KVM_STAT_COUNT];	 /* whether KVM has it */
};

/*
 * kvm_stats_open: the statistics of KVM object (fd) (a VM or vCPU), opened now: the reads need no other
 * syscall than pread. Returns 0, or -errno with (s)->fd -1 (the counters then read KVM_STAT_NONE).
 */
int kvm_stats_open(struct kvm_stats *s, int fd);
/* kvm_stats_read: counter (which) now, or KVM_STAT_NONE. Any thread. */
uint64_t kvm_stats_read(const struct kvm_stats *s, enum kvm_stat which);
/* kvm_stats_name: (which)'s name as KVM gives it ("irq_injections"). */
const char *kvm_stats_name(enum kvm_stat which);
void kvm_stats_close(struct kvm_stats *s);

#endif
