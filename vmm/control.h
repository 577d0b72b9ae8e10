/*
 * control.h: the VM's side of the API socket (api.h): what `kvmini stat`, `inspect`, `pause`, `resume`
 * and `quit` ask of a running VM, answered from its live counters, the registry of what kvmini set up
 * with KVM, and facts about the host gathered before the main thread locks itself down.
 */
#ifndef KVMINI_CONTROL_H
#define KVMINI_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "host.h"

/* How long a pause may take before the API says which vCPU did not stop, and by layer. */
#define CONTROL_PAUSE_MS 2000
/* How long a vCPU may take to hand over its registers for inspect. */
#define CONTROL_SNAPSHOT_MS 500

struct vm;

/* What is read once, before the main thread's syscall filter forbids opening files. */
struct control_facts {
	struct host_class host; /* what backs /dev/kvm */
	bool host_known;
	int api_version;	    /* KVM_GET_API_VERSION */
	char cgroup[256];	    /* kvmini's cgroup v2 path, "" when unknown */
	int pid;		    /* kvmini's */
	unsigned int main_syscalls; /* the main thread's allowlist, counted as it locks itself down */
	unsigned int vcpu_syscalls; /* the vCPUs' */
};

/* control_gather: fill (f) for (vm). */
void control_gather(struct vm *vm, struct control_facts *f);
/* control_handle: api_handler_fn for the VM (opaque): every endpoint of the API. */
void control_handle(void *opaque, const struct api_request *req, struct api_response *resp);

#endif
