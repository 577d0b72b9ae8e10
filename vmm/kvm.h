/* kvm.h: opening /dev/kvm, and saying which layer is missing when that fails. */
#ifndef KVMINI_KVM_H
#define KVMINI_KVM_H

struct kvm {
	int fd;
	int vcpu_mmap_size;	  /* size of each vCPU's shared kvm_run page(s) */
	int max_vcpus;		  /* KVM_CAP_MAX_VCPUS, or KVM_CAP_NR_VCPUS on old kernels */
	int tsc_deadline;	  /* the in-kernel LAPIC offers the TSC-deadline timer */
	int ioeventfd_any_length; /* an MMIO ioeventfd may match writes of any length */
};

/*
 * kvm_open: open the KVM device at (path), check its API version and every capability kvmini
 * relies on. On failure logs one line naming the layer (CPU virtualisation extensions, kvm
 * module, permissions, missing capabilities, by name) and what to do. Returns 0 or -errno.
 */
int kvm_open(struct kvm *k, const char *path);
/* kvm_close: close (k)'s device. */
void kvm_close(struct kvm *k);

#endif
