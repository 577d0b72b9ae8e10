/* test_vcpu.c: what a vCPU does with the context it is given, linked without the VM (vm.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdatomic.h>
#include <string.h>

#include "bus.h"
#include "vcpu.h"

static int stops;

static void count_stop(void *opaque, int status, const char *why)
{
	(void)opaque;
	(void)status;
	(void)why;
	stops++;
}

Test(vcpu, create_on_a_closed_vm_fd_returns_ebadf_and_leaves_the_vm_running)
{
	struct bus pio, mmio;
	atomic_int stopping = 0;
	const struct vcpu_ctx ctx = {
		.vm_fd = -1,
		.run_size = 4096,
		.pio = &pio,
		.mmio = &mmio,
		.stopping = &stopping,
		.stop = count_stop,
	};
	struct vcpu v;

	stops = 0;
	cr_assert_eq(vcpu_create(&v, &ctx, 0), -EBADF);
	cr_assert_eq(v.fd, -1);
	cr_assert_null(v.run);
	cr_assert_eq(stops, 0);
}

Test(vcpu, exit_name_names_known_reasons_and_calls_the_rest_other)
{
	cr_assert_str_eq(vcpu_exit_name(KVM_EXIT_IO), "io");
	cr_assert_str_eq(vcpu_exit_name(KVM_EXIT_SHUTDOWN), "shutdown");
	cr_assert_str_eq(vcpu_exit_name(1000), "other");
}
