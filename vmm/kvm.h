/* kvm.h: opening /dev/kvm, and saying which layer is missing when that fails. */
#ifndef KVMINI_KVM_H
#define KVMINI_KVM_H

#include <stddef.h>

struct kvm {
	int fd;
	int vcpu_mmap_size;	  /* size of each vCPU's shared kvm_run page(s) */
	int max_vcpus;		  /* KVM_CAP_MAX_VCPUS, or KVM_CAP_NR_VCPUS on old kernels */
	int tsc_deadline;	  /* the in-kernel LAPIC offers the TSC-deadline timer */
	int ioeventfd_any_length; /* an MMIO ioeventfd may match writes of any length */
};

/* A KVM capability kvmini cannot run without, and what it is for. */
struct kvm_cap {
	int id;		  /* KVM_CAP_* */
	const char *name; /* "KVM_CAP_IRQFD" */
	const char *why;  /* "device interrupts through eventfds" */
};

/* Every capability kvm_open() requires: the one list, which `kvmini doctor` shows too. */
extern const struct kvm_cap kvm_required_caps[];
extern const unsigned int kvm_nr_required_caps;

/* Why the KVM device could not be opened: what is wrong, and what to do ("" when nothing to add). */
struct kvm_why {
	char cause[256];
	char fix[256];
};

/*
 * kvm_explain_open: why opening the KVM device (path) failed with errno (err), told from the bottom
 * layer up by the host's own reports (virtualisation extensions, kvm modules, the device node,
 * permissions), into (w).
 */
void kvm_explain_open(const char *path, int err, struct kvm_why *w);
/*
 * kvm_missing_caps: which of kvm_required_caps the KVM device (fd) lacks, as "NAME (why), ..." in (buf)
 * of (len) bytes (truncated to fit). Returns how many it lacks (0: none).
 */
int kvm_missing_caps(int fd, char *buf, size_t len);
/* kvm_max_vcpus: the most vCPUs a VM of KVM device (fd) may have (KVM_CAP_MAX_VCPUS, else NR_VCPUS, else 4). */
int kvm_max_vcpus(int fd);

/*
 * kvm_open: open the KVM device at (path), check its API version and every capability kvmini
 * relies on. On failure logs one line naming the layer (CPU virtualisation extensions, kvm
 * module, permissions, missing capabilities, by name) and what to do. Returns 0 or -errno.
 */
int kvm_open(struct kvm *k, const char *path);
/* kvm_close: close (k)'s device. */
void kvm_close(struct kvm *k);

#endif
