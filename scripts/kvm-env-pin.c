/*
 * kvm-env-pin: holds one idle KVM VM open for the whole of a scripts/kvm-env session, so that the
 * emulated machine's kernel never patches its own code when kvmini's VMs come and go.
 *
 * KVM flips static keys (live code patching: int3 over the site, a sync IPI to every CPU, the new
 * bytes) when the first VM is created and the last destroyed (preempt notifiers, in __schedule) and
 * when the count of vCPUs whose local APIC is disabled passes zero (apic_hw_disabled and
 * apic_sw_disabled, the latter from a kworker a second later). Under QEMU 7.2's software CPU, with two
 * vCPUs, that patching now and then wedges the machine for good: both CPUs were seen spinning through
 * the int3 left in __schedule, with soft lockups of a kworker and of kvmini. One VM with one vCPU whose
 * APIC is disabled, both ways, keeps every one of those counts above zero: the keys never flip again.
 *
 * It never runs its vCPU and waits for a signal; kvm-env starts it before the command (qemu mode only).
 * With the argument "vm" it holds the VM alone: the first and last VM no longer flip the preempt-notifier
 * key, while the APIC keys (and KVM's paths) stay as without a pin.
 * Build: cc -std=c11 -O2 -Wall -Wextra scripts/kvm-env-pin.c -o build/kvm-env/pin
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define APIC_BASE_ENABLE (1ULL << 11) /* IA32_APIC_BASE: the APIC's global enable */

static int fail(const char *what)
{
	fprintf(stderr,
		"kvm-env-pin: %s: %s; kvm-env goes on without it (a wedge of the emulated machine "
		"gets likelier)\n",
		what, strerror(errno));
	return 1;
}

/* Says the keys are held (kvm-env waits for the line before it brings the other CPUs online), then waits. */
static int hold(void)
{
	printf("kvm-env-pin: holding\n");
	fflush(stdout);
	for (;;)
		pause();
	return 0; /* not reached */
}

int main(int argc, char **argv)
{
	struct kvm_sregs sregs;
	int kvm, vm, vcpu;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	/* "vm": the VM alone holds the preempt-notifier key (in __schedule), and no APIC key. */
	if (argc > 1 && strcmp(argv[1], "vm") == 0)
		return hold();
	/* The in-kernel irqchip gives the vCPU a local APIC: created software-disabled, as at reset. */
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return fail("KVM_CREATE_IRQCHIP");
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	/* Hardware-disabled too, so that apic_hw_disabled has a holder as well. */
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	sregs.apic_base &= ~APIC_BASE_ENABLE;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS");
	return hold();
}
