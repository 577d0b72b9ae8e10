/* host.h: what kind of KVM this host offers (L-0), told from what the host reports. */
#ifndef KVMINI_HOST_H
#define KVMINI_HOST_H

#include <stdbool.h>
#include <stdint.h>

/* What backs /dev/kvm, as far as the host's own reports tell. */
enum host_kvm_kind {
	HOST_KVM_NONE,	   /* no KVM here: no module, or no extension for one */
	HOST_KVM_HARDWARE, /* AMD-V or VT-x on a machine that is not itself a guest */
	HOST_KVM_NESTED,   /* AMD-V or VT-x that the hypervisor this machine runs under offers */
	HOST_KVM_PVM,	   /* kvm_pvm: shadow paging, guest kernel code emulated instruction by instruction */
	HOST_KVM_UNKNOWN,  /* the reports leave doubt: only running a guest (the canary) can tell */
};

/* What to do on a PVM host (kvmini run adds its --allow-pvm; kvmini doctor prints it as is). */
#define HOST_PVM_FIX                                                                           \
	"run on a host with VT-x/AMD-V, or in a VM with nested virtualisation enabled; here, " \
	"scripts/kvm-env runs kvmini inside QEMU"

#define HOST_SIG_LEN 12 /* a CPUID hypervisor signature: EBX, ECX, EDX of its leaf */

/* The facts, from /proc/cpuinfo, the loaded modules and CPUID. */
struct host_facts {
	bool svm, vmx;	 /* the CPU's virtualisation extensions (cpuinfo flags) */
	bool hypervisor; /* this machine is itself a guest (cpuinfo flag, CPUID.1:ECX[31]) */
	bool kvm, kvm_amd, kvm_intel, kvm_pvm; /* modules loaded or built in */
	bool dev_kvm;			       /* /dev/kvm exists */
	bool el2; /* arm64: KVM initialised at EL2 (Linux makes /dev/kvm there only then) */
	char hv_sig[HOST_SIG_LEN + 1]; /* CPUID 0x40000000's signature, "" when none */
	bool pvm_sig;		       /* some hypervisor leaf says "PVM": this machine is a PVM guest */
	char model[64];		       /* cpuinfo's "model name", "" when none */
};

/* What the facts say. */
struct host_class {
	enum host_kvm_kind kind;
	const char *extension; /* "AMD-V (svm)", "VT-x (vmx)" or NULL */
	const char *module;    /* the module that backs /dev/kvm: "kvm_amd", "kvm_intel", "kvm_pvm" or NULL */
	bool stage2;	       /* arm64 KVM: the CPU always walks the guest's page tables (stage 2) */
};

/* host_parse_cpuinfo: the flags and model name in (text), /proc/cpuinfo's contents, into (f). */
void host_parse_cpuinfo(struct host_facts *f, const char *text);
/* host_parse_modules: which KVM modules (text), /proc/modules' contents, lists, into (f). */
void host_parse_modules(struct host_facts *f, const char *text);
/*
 * host_parse_cpuid_sig: note the hypervisor signature (ebx, ecx, edx) of CPUID leaf (leaf) in (f):
 * 0x40000000 is the hypervisor's own; "PVM" in any leaf marks a PVM guest.
 */
void host_parse_cpuid_sig(struct host_facts *f, uint32_t leaf, uint32_t ebx, uint32_t ecx, uint32_t edx);
/*
 * host_gather: this host's facts, read from /proc, /sys and /dev, into (f): all that host_classify()
 * needs, cheap enough for every start of kvmini. Returns 0 or -errno.
 */
int host_gather(struct host_facts *f);
/*
 * host_gather_hypervisor: add to (f) what the hypervisor CPUID leaves say (whose guest this machine is,
 * whether it offers PVM): up to 256 CPUIDs, each a VM exit on a guest, so only 'kvmini host' asks.
 */
void host_gather_hypervisor(struct host_facts *f);
/* host_classify: what (f) says backs /dev/kvm, into (c). */
void host_classify(const struct host_facts *f, struct host_class *c);
/* host_kind_name: (kind) in a few words. */
const char *host_kind_name(enum host_kvm_kind kind);
/*
 * host_check_kvm: say at -v which KVM this host has; when it is PVM, log the one line that says why a
 * stock guest cannot run on it and what to do and return -ENOTSUP, unless (allow_pvm) (then a warning).
 * 0 otherwise: other kinds fail, if they do, when KVM is opened. (kernel): the guest's path, for the message.
 */
int host_check_kvm(const char *kernel, bool allow_pvm);
/* host_main: "kvmini host [-q] [--no-canary]": the summary, exit 0 when a stock guest can run here, 1 when not, 2 on errors. */
int host_main(int argc, char **argv);

#endif
