/* test_host.c: telling which KVM backs /dev/kvm from recorded host reports. */
#include <criterion/criterion.h>
#include <string.h>

#include "host.h"

/* This project's development and CI machines (host kernel 6.18, a guest of KVM, kvm_pvm built in). */
static const char cpuinfo_pvm_host[] =
	"processor\t: 0\n"
	"vendor_id\t: AuthenticAMD\n"
	"model name\t: AMD EPYC\n"
	"flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr "
	"sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology "
	"nonstop_tsc cpuid extd_apicid tsc_known_freq pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe "
	"popcnt tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy cr8_legacy abm "
	"sse4a misalignsse 3dnowprefetch osvw topoext ssbd ibrs ibpb stibp vmmcall fsgsbase tsc_adjust bmi1 "
	"avx2 smep bmi2 rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 clzero xsaveerptr "
	"wbnoinvd arat umip rdpid\n"
	"\n"
	"processor\t: 1\n"
	"model name\t: AMD EPYC\n"
	"flags\t\t: fpu vme de pse tsc msr pae hypervisor\n";

/* A bare-metal AMD server: svm, no hypervisor flag. */
static const char cpuinfo_amd_metal[] =
	"processor\t: 0\n"
	"model name\t: AMD EPYC 7763 64-Core Processor\n"
	"flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr lm constant_tsc rep_good nopl "
	"nonstop_tsc cpuid extd_apicid aperfmperf pni pclmulqdq monitor ssse3 fma cx16 svm extapic cr8_legacy "
	"npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid decodeassists pausefilter pfthreshold "
	"v_vmsave_vmload vgif v_spec_ctrl umip pku ospke vaes vpclmulqdq rdpid overflow_recov succor smca\n";

/* A bare-metal Intel laptop: vmx and its sub-features, no hypervisor flag. */
static const char cpuinfo_intel_metal[] =
	"processor\t: 0\n"
	"model name\t: 11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz\n"
	"flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi "
	"mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts "
	"rep_good nopl xtopology nonstop_tsc cpuid aperfmperf tsc_known_freq pni pclmulqdq dtes64 monitor "
	"ds_cpl vmx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid sse4_1 sse4_2 x2apic movbe popcnt\n"
	"vmx flags\t: vnmi preemption_timer posted_intr invvpid ept_x_only ept_ad ept_1gb flexpriority "
	"apicv tsc_offset vtpr mtf vapic ept vpid unrestricted_guest vapic_reg vid ple shadow_vmcs\n";

/* Inside scripts/kvm-env: QEMU 7.2 TCG, -cpu max, which offers svm to its guest. */
static const char cpuinfo_qemu_max[] =
	"processor\t: 0\n"
	"model name\t: QEMU TCG CPU version 2.5+\n"
	"flags\t\t: fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse "
	"sse2 ss syscall nx mmxext pdpe1gb rdtscp lm 3dnowext 3dnow rep_good nopl cpuid extd_apicid pni "
	"pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave rdrand hypervisor lahf_lm svm cr8_legacy "
	"abm sse4a 3dnowprefetch vmmcall fsgsbase bmi1 avx2 smep bmi2 erms adx smap clflushopt clwb sha_ni "
	"xsaveopt xgetbv1 arat npt vgif umip pku ospke la57\n";

static const char modules_kvm_amd[] = "kvm_amd 155648 0 - Live 0x0000000000000000\n"
				      "ccp 118784 1 kvm_amd, Live 0x0000000000000000\n"
				      "kvm 1146880 1 kvm_amd, Live 0x0000000000000000\n"
				      "irqbypass 16384 1 kvm, Live 0x0000000000000000\n";
static const char modules_kvm_intel[] = "kvm_intel 380928 0 - Live 0x0000000000000000\n"
					"kvm 1146880 1 kvm_intel, Live 0x0000000000000000\n";
static const char modules_none[] =
	"tun 61440 0 - Live 0x0000000000000000\n"
	"kvmgt 1 0 - Live 0x0000000000000000\n"; /* a name that only starts with kvm */

static struct host_class classify(const char *cpuinfo, const char *modules)
{
	struct host_facts f;
	struct host_class c;

	memset(&f, 0, sizeof(f));
	host_parse_cpuinfo(&f, cpuinfo);
	host_parse_modules(&f, modules);
	f.dev_kvm = true;
	host_classify(&f, &c);
	return c;
}

Test(host, cpuinfo_flags_are_read_as_whole_words_from_the_first_cpu)
{
	struct host_facts f;

	memset(&f, 0, sizeof(f));
	host_parse_cpuinfo(&f, cpuinfo_intel_metal);
	cr_assert(f.vmx);
	cr_assert_not(f.svm, "svm_lock-like words and other CPUs' lines do not count");
	cr_assert_not(f.hypervisor);
	cr_assert_str_eq(f.model, "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz");
	memset(&f, 0, sizeof(f));
	host_parse_cpuinfo(&f, "flags\t\t: fpu svm_lock vmx_flags hypervisorx\n");
	cr_assert_not(f.svm);
	cr_assert_not(f.vmx);
	cr_assert_not(f.hypervisor);
}

Test(host, modules_are_matched_by_their_whole_name)
{
	struct host_facts f;

	memset(&f, 0, sizeof(f));
	host_parse_modules(&f, modules_none);
	cr_assert_not(f.kvm);
	host_parse_modules(&f, modules_kvm_amd);
	cr_assert(f.kvm);
	cr_assert(f.kvm_amd);
	cr_assert_not(f.kvm_intel);
	cr_assert_not(f.kvm_pvm);
}

Test(host, hardware_svm_on_bare_metal)
{
	struct host_class c = classify(cpuinfo_amd_metal, modules_kvm_amd);

	cr_assert_eq(c.kind, HOST_KVM_HARDWARE);
	cr_assert_str_eq(c.module, "kvm_amd");
	cr_assert_str_eq(c.extension, "AMD-V (svm)");
}

Test(host, hardware_vmx_on_bare_metal)
{
	struct host_class c = classify(cpuinfo_intel_metal, modules_kvm_intel);

	cr_assert_eq(c.kind, HOST_KVM_HARDWARE);
	cr_assert_str_eq(c.module, "kvm_intel");
	cr_assert_str_eq(c.extension, "VT-x (vmx)");
}

Test(host, arm64_kvm_at_el2_is_hardware_with_stage_2)
{
	struct host_facts f = { .kvm = true, .dev_kvm = true, .el2 = true };
	struct host_class c;

	host_classify(&f, &c);
	cr_assert_eq(c.kind, HOST_KVM_HARDWARE);
	cr_assert_str_eq(c.module, "kvm");
	cr_assert(c.stage2);
	cr_assert(strstr(c.extension, "EL2"), "%s", c.extension);
}

Test(host, nested_svm_inside_qemu)
{
	struct host_class c = classify(cpuinfo_qemu_max, modules_kvm_amd);

	cr_assert_eq(c.kind, HOST_KVM_NESTED);
	cr_assert_str_eq(c.module, "kvm_amd");
}

Test(host, pvm_without_extensions)
{
	struct host_facts f;
	struct host_class c;

	memset(&f, 0, sizeof(f));
	host_parse_cpuinfo(&f, cpuinfo_pvm_host);
	f.kvm = f.kvm_pvm = true; /* built in: /sys/module only, no /proc/modules */
	host_parse_cpuid_sig(&f, 0x40000000u, 0x4b4d564b, 0x564b4d56, 0x0000004d); /* "KVMKVMKVM" */
	host_classify(&f, &c);
	cr_assert_eq(c.kind, HOST_KVM_PVM);
	cr_assert_str_eq(c.module, "kvm_pvm");
	cr_assert_null(c.extension);
	cr_assert(f.hypervisor);
	cr_assert_str_eq(f.hv_sig, "KVMKVMKVM");
	cr_assert_not(f.pvm_sig);
}

Test(host, pvm_beside_a_vendor_module_leaves_doubt)
{
	struct host_facts f;
	struct host_class c;

	memset(&f, 0, sizeof(f));
	host_parse_cpuinfo(&f, cpuinfo_amd_metal);
	host_parse_modules(&f, "kvm_pvm 1 0 - Live 0x0\nkvm_amd 1 0 - Live 0x0\nkvm 1 2 - Live 0x0\n");
	host_classify(&f, &c);
	cr_assert_eq(c.kind, HOST_KVM_UNKNOWN);
}

Test(host, kvm_without_extensions_or_pvm_leaves_doubt)
{
	struct host_class c = classify(cpuinfo_pvm_host, "kvm 1 0 - Live 0x0\n");

	cr_assert_eq(c.kind, HOST_KVM_UNKNOWN);
	cr_assert_null(c.module);
}

Test(host, no_kvm_module_is_none)
{
	cr_assert_eq(classify(cpuinfo_amd_metal, modules_none).kind, HOST_KVM_NONE);
	cr_assert_eq(classify(cpuinfo_pvm_host, "").kind, HOST_KVM_NONE);
}

Test(host, extension_without_its_vendor_module_is_none)
{
	/* vmx, but only kvm_amd loaded (as after a wrong modprobe): /dev/kvm cannot work */
	cr_assert_eq(classify(cpuinfo_intel_metal, modules_kvm_amd).kind, HOST_KVM_UNKNOWN);
	cr_assert_eq(classify(cpuinfo_intel_metal, "").kind, HOST_KVM_NONE);
}

Test(host, pvm_cpuid_signature_in_any_hypervisor_leaf_is_noted)
{
	struct host_facts f;

	memset(&f, 0, sizeof(f));
	host_parse_cpuid_sig(&f, 0x40000100u, 0x4d5650, 0, 0); /* "PVM" */
	cr_assert(f.pvm_sig);
	cr_assert_str_eq(f.hv_sig, "", "only leaf 0x40000000 names the hypervisor");
}

Test(host, unprintable_signature_bytes_end_it)
{
	struct host_facts f;

	memset(&f, 0, sizeof(f));
	host_parse_cpuid_sig(&f, 0x40000000u, 0x7263694d, 0x666f736f, 0x76482074); /* "Microsoft Hv" */
	cr_assert_str_eq(f.hv_sig, "Microsoft Hv");
	host_parse_cpuid_sig(&f, 0x40000000u, 0x00474354, 0x01020304, 0); /* "TCG" then junk */
	cr_assert_str_eq(f.hv_sig, "TCG");
}

Test(host, kind_names_say_pvm_and_nested)
{
	cr_assert_not_null(strstr(host_kind_name(HOST_KVM_PVM), "PVM"));
	cr_assert_not_null(strstr(host_kind_name(HOST_KVM_NESTED), "nested"));
	cr_assert_str_eq(host_kind_name(HOST_KVM_NONE), "none");
}
