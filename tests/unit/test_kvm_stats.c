/* test_kvm_stats.c: KVM's binary statistics of a real vCPU (no guest runs), and a KVM without them. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_stats.h"

Test(kvm_stats, a_vcpu_has_its_counters_at_zero_before_it_runs)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, vcpu;
	struct kvm_stats s;

	if (kvm < 0)
		cr_skip_test("no /dev/kvm here");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(vm, 0);
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	cr_assert_geq(vcpu, 0);
	if (kvm_stats_open(&s, vcpu) < 0)
		cr_skip_test("this KVM has no KVM_GET_STATS_FD (Linux < 5.14)");
	cr_assert_eq(kvm_stats_read(&s, KVM_STAT_EXITS), 0, "no exit before the first KVM_RUN");
	cr_assert_eq(kvm_stats_read(&s, KVM_STAT_IRQ_INJECTIONS), 0);
	cr_assert_eq(kvm_stats_read(&s, KVM_STAT_COUNT), KVM_STAT_NONE, "out of range");
	cr_assert_str_eq(kvm_stats_name(KVM_STAT_IRQ_INJECTIONS), "irq_injections");
	kvm_stats_close(&s);
	cr_assert_eq(kvm_stats_read(&s, KVM_STAT_EXITS), KVM_STAT_NONE, "closed");
	close(vcpu);
	close(vm);
	close(kvm);
}

Test(kvm_stats, an_object_without_statistics_reads_none)
{
	struct kvm_stats s;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	cr_assert_lt(kvm_stats_open(&s, fd), 0);
	cr_assert_eq(s.fd, -1);
	cr_assert_eq(kvm_stats_read(&s, KVM_STAT_EXITS), KVM_STAT_NONE);
	close(fd);
}
