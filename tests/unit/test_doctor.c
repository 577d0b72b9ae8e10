/* test_doctor.c: kvmini doctor's verdicts on recorded host facts, and its table and JSON. */
#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "doctor.h"

/* This project's machines: a KVM guest, no svm or vmx, kvm_pvm built in. */
static const char cpuinfo_pvm[] = "model name\t: AMD EPYC\n"
				  "flags\t\t: fpu vme de pse tsc msr pae hypervisor lahf_lm\n";
static const char cpuinfo_amd_metal[] = "model name\t: AMD EPYC 7763\n"
					"flags\t\t: fpu vme de pse tsc msr pae svm npt\n";
static const char cpuinfo_qemu_max[] = "model name\t: QEMU TCG CPU version 2.5+\n"
				       "flags\t\t: fpu de pse tsc msr pae hypervisor svm npt\n";
static const char cpuinfo_intel_guest[] = "model name\t: Intel Xeon\n"
					  "flags\t\t: fpu vme de pse tsc msr pae hypervisor\n";
static const char modules_amd[] = "kvm_amd 155648 0 - Live 0x0\n"
				  "kvm 1146880 1 kvm_amd, Live 0x0\n";
static const char modules_kvm_only[] = "kvm 1146880 0 - Live 0x0\n";

/* The verdict on the CPU for (cpuinfo) and (modules), with (pvm): kvm_pvm built in, (sig): CPUID's signature. */
static void cpu_verdict(const char *cpuinfo, const char *modules, bool pvm, const char *sig,
			struct doctor_check *out)
{
	struct host_facts f = { .kvm_pvm = pvm };
	struct host_class c;

	host_parse_cpuinfo(&f, cpuinfo);
	host_parse_modules(&f, modules);
	f.kvm = f.kvm || pvm;
	snprintf(f.hv_sig, sizeof(f.hv_sig), "%s", sig);
	host_classify(&f, &c);
	*out = (struct doctor_check){ .name = "virtualisation extensions" };
	doctor_classify_cpu(&f, &c, out);
}

Test(doctor, pvm_host_fails_l0_with_the_emulation_cause_and_kvm_env_fix)
{
	struct doctor_check c;

	cpu_verdict(cpuinfo_pvm, "", true, "KVMKVMKVM", &c);
	cr_assert_eq(c.result, DOCTOR_FAIL);
	cr_assert(strstr(c.finding, "PVM (kvm_pvm)"), "%s", c.finding);
	cr_assert(strstr(c.cause, "emulated instruction by instruction"), "%s", c.cause);
	cr_assert(strstr(c.cause, "cannot boot in useful time"), "%s", c.cause);
	cr_assert(strstr(c.fix, "VT-x/AMD-V") && strstr(c.fix, "scripts/kvm-env"), "%s", c.fix);
}

Test(doctor, bare_metal_amd_with_kvm_amd_passes)
{
	struct doctor_check c;

	cpu_verdict(cpuinfo_amd_metal, modules_amd, false, "", &c);
	cr_assert_eq(c.result, DOCTOR_PASS);
	cr_assert_str_eq(c.finding, "AMD-V (svm), kvm_amd loaded");
	cr_assert_str_empty(c.cause);
}

Test(doctor, nested_svm_under_a_hypervisor_passes_naming_it)
{
	struct doctor_check c;

	cpu_verdict(cpuinfo_qemu_max, modules_amd, false, "TCGTCGTCGTCG", &c);
	cr_assert_eq(c.result, DOCTOR_PASS);
	cr_assert(strstr(c.finding, "nested under hypervisor \"TCGTCGTCGTCG\""), "%s", c.finding);
}

Test(doctor, extension_without_its_module_fails_with_modprobe)
{
	struct doctor_check c;

	cpu_verdict(cpuinfo_amd_metal, modules_kvm_only, false, "", &c);
	cr_assert_eq(c.result, DOCTOR_FAIL);
	cr_assert(strstr(c.finding, "kvm_amd is not loaded"), "%s", c.finding);
	cr_assert(strstr(c.fix, "modprobe kvm_amd"), "%s", c.fix);
}

Test(doctor, guest_without_extensions_fails_asking_for_nested_virtualisation)
{
	struct doctor_check c;

	cpu_verdict(cpuinfo_intel_guest, "", false, "Microsoft Hv", &c);
	cr_assert_eq(c.result, DOCTOR_FAIL);
	cr_assert(strstr(c.finding, "neither svm nor vmx"), "%s", c.finding);
	cr_assert(strstr(c.cause, "\"Microsoft Hv\"") && strstr(c.cause, "no nested virtualisation"), "%s",
		  c.cause);
	cr_assert(strstr(c.fix, "enable nested virtualisation"), "%s", c.fix);
}

Test(doctor, pvm_beside_a_vendor_module_warns_and_points_at_the_canary)
{
	struct doctor_check c;

	cpu_verdict(cpuinfo_amd_metal, modules_amd, true, "", &c);
	cr_assert_eq(c.result, DOCTOR_WARN);
	cr_assert(strstr(c.fix, "--canary"), "%s", c.fix);
}

Test(doctor, nested_paging_on_passes_off_warns_with_the_module_parameter)
{
	struct host_class amd = { .kind = HOST_KVM_HARDWARE, .module = "kvm_amd" };
	struct host_class intel = { .kind = HOST_KVM_NESTED, .module = "kvm_intel" };
	struct doctor_check c;

	doctor_classify_paging(&amd, "Y\n", &c);
	cr_assert_eq(c.result, DOCTOR_PASS);
	cr_assert(strstr(c.finding, "kvm_amd npt=Y") && strstr(c.finding, "AMD NPT"), "%s", c.finding);
	doctor_classify_paging(&amd, "0\n", &c);
	cr_assert_eq(c.result, DOCTOR_WARN);
	cr_assert_str_eq(c.fix, "as root: modprobe -r kvm_amd && modprobe kvm_amd npt=1");
	doctor_classify_paging(&intel, "N\n", &c);
	cr_assert_eq(c.result, DOCTOR_WARN);
	cr_assert(strstr(c.finding, "kvm_intel ept=N"), "%s", c.finding);
	cr_assert(strstr(c.cause, "EPT"), "%s", c.cause);
	doctor_classify_paging(&intel, NULL, &c);
	cr_assert_eq(c.result, DOCTOR_SKIP);
}

Test(doctor, stage_2_on_arm64_passes)
{
	struct host_class arm = { .kind = HOST_KVM_HARDWARE, .module = "kvm", .stage2 = true };
	struct doctor_check c;

	doctor_classify_paging(&arm, NULL, &c);
	cr_assert_eq(c.result, DOCTOR_PASS);
	cr_assert(strstr(c.finding, "stage 2"), "%s", c.finding);
}

Test(doctor, nested_paging_on_pvm_is_skipped_saying_shadow_paging)
{
	struct host_class pvm = { .kind = HOST_KVM_PVM, .module = "kvm_pvm" };
	struct doctor_check c;

	doctor_classify_paging(&pvm, NULL, &c);
	cr_assert_eq(c.result, DOCTOR_SKIP);
	cr_assert(strstr(c.finding, "shadows"), "%s", c.finding);
}

Test(doctor, landlock_absent_warns_with_what_device_processes_do_then)
{
	struct doctor_check c;

	doctor_classify_landlock(4, &c);
	cr_assert_eq(c.result, DOCTOR_PASS);
	cr_assert(strstr(c.finding, "ABI 4"), "%s", c.finding);
	doctor_classify_landlock(-EOPNOTSUPP, &c);
	cr_assert_eq(c.result, DOCTOR_WARN);
	cr_assert(strstr(c.finding, "without it") && strstr(c.finding, "empty root"), "%s", c.finding);
	cr_assert(strstr(c.fix, "lsm="), "%s", c.fix);
	doctor_classify_landlock(-ENOSYS, &c);
	cr_assert_eq(c.result, DOCTOR_WARN);
	cr_assert(strstr(c.cause, "CONFIG_SECURITY_LANDLOCK"), "%s", c.cause);
}

Test(doctor, missing_namespace_warns_with_sandbox_spawns_own_note)
{
	const char *why = "no user namespace (Operation not permitted); no PID namespace (Invalid argument)";
	struct doctor_check c;

	doctor_classify_namespace("PID", true, "", true, &c);
	cr_assert_eq(c.result, DOCTOR_PASS);
	doctor_classify_namespace("PID", false, why, false, &c);
	cr_assert_eq(c.result, DOCTOR_WARN);
	cr_assert(strncmp(c.finding, "no PID namespace (Invalid argument): ", 37) == 0, "%s", c.finding);
	cr_assert(strstr(c.fix, "user.max_user_namespaces"), "%s", c.fix);
	doctor_classify_namespace("network", false, "no network namespace (Invalid argument)", true, &c);
	cr_assert_eq(c.result, DOCTOR_WARN);
	cr_assert(strstr(c.finding, "host's network"), "%s", c.finding);
	cr_assert(strstr(c.cause, "built without"), "%s", c.cause);
	doctor_classify_namespace("mount", false, NULL, true, &c);
	cr_assert(strncmp(c.finding, "not had: ", 9) == 0, "%s", c.finding);
}

Test(doctor, cgroup_path_is_the_unified_line)
{
	char buf[64];

	cr_assert_eq(cgroup_path_in("4:memory:/x\n1:cpu:/\n0::/user.slice/a.scope\n", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/user.slice/a.scope");
	cr_assert_eq(cgroup_path_in("0::/", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/");
	cr_assert_eq(cgroup_path_in("4:memory:/x\n", buf, sizeof(buf)), -ENOENT);
	cr_assert_eq(cgroup_path_in("0::/a/very/long/path/indeed", buf, 8), -ENAMETOOLONG);
}

Test(doctor, cgroup_v1_warns_and_skips_delegation)
{
	struct doctor_cgroup g = { .fs_type = "tmpfs (cgroup v1 or the hybrid layout)",
				   .dir = "/sys/fs/cgroup" };
	struct doctor_check m, d;

	doctor_classify_cgroup(&g, &m, &d);
	cr_assert_eq(m.result, DOCTOR_WARN);
	cr_assert(strstr(m.fix, "mount -t cgroup2"), "%s", m.fix);
	cr_assert_eq(d.result, DOCTOR_SKIP);
}

Test(doctor, cgroup_v2_delegated_needs_cpu_memory_and_write_access)
{
	struct doctor_cgroup g = { .fs_type = "cgroup2",
				   .dir = "/sys/fs/cgroup/user.slice",
				   .controllers = "cpuset cpu io memory pids\n",
				   .writable = true };
	struct doctor_check m, d;

	doctor_classify_cgroup(&g, &m, &d);
	cr_assert_eq(m.result, DOCTOR_PASS);
	cr_assert_eq(d.result, DOCTOR_PASS);
	g.controllers = "cpuset io memory pids\n"; /* cpuset is not cpu */
	doctor_classify_cgroup(&g, &m, &d);
	cr_assert_eq(d.result, DOCTOR_WARN);
	cr_assert(strstr(d.finding, ": cpu not available"), "%s", d.finding);
	cr_assert(strstr(d.fix, "Delegate=yes"), "%s", d.fix);
	g.controllers = "cpu memory";
	g.writable = false;
	doctor_classify_cgroup(&g, &m, &d);
	cr_assert_eq(d.result, DOCTOR_WARN);
	cr_assert(strstr(d.finding, "not writable"), "%s", d.finding);
}

Test(doctor, report_holds_at_most_its_size_and_fails_on_any_fail)
{
	struct doctor_report *rep = calloc(1, sizeof(*rep));

	for (int i = 0; i < DOCTOR_MAX_CHECKS + 3; i++)
		doctor_set(doctor_add(rep, LAYER_PVIO, "x"), DOCTOR_PASS, "ok %d", i);
	cr_assert_eq(rep->n, DOCTOR_MAX_CHECKS);
	cr_assert_eq(doctor_status(rep), 0);
	doctor_set(&rep->checks[3], DOCTOR_WARN, "meh");
	cr_assert_eq(doctor_status(rep), 0);
	doctor_set(&rep->checks[5], DOCTOR_FAIL, "no");
	cr_assert_eq(doctor_status(rep), 1);
	free(rep);
}

/* A small report: an L-3 check made before an L-0 one, a FAIL with its cause and fix, a SKIP. */
static void sample(struct doctor_report *rep)
{
	struct doctor_check *c;

	doctor_set(doctor_add(rep, LAYER_SANDBOX, "seccomp filters"), DOCTOR_PASS, "acts as written");
	doctor_set(doctor_add(rep, LAYER_HARDWARE, "virtualisation extensions"), DOCTOR_PASS, "AMD-V (svm)");
	c = doctor_set(doctor_add(rep, LAYER_VCPU, "KVM device"), DOCTOR_FAIL, "cannot open /x: %s",
		       "Permission denied");
	doctor_why(c, "no permission to open /x", "add your user to group kvm");
	doctor_add(rep, LAYER_PVIO, "ioeventfd"); /* left SKIP */
}

Test(doctor, table_is_by_layer_with_cause_and_fix_under_a_failure)
{
	struct doctor_report *rep = calloc(1, sizeof(*rep));
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	sample(rep);
	doctor_print(rep, out);
	fclose(out);
	cr_assert_str_eq(
		text,
		"L-0  PASS  virtualisation extensions  AMD-V (svm)\n"
		"L-1  FAIL  KVM device                 cannot open /x: Permission denied\n"
		"           cause: no permission to open /x\n"
		"           fix:   add your user to group kvm\n"
		"L-2  SKIP  ioeventfd                  \n"
		"L-3  PASS  seccomp filters            acts as written\n"
		"summary    4 checks: 2 PASS, 0 WARN, 1 FAIL, 1 SKIP: fix each FAIL before running a VM here\n");
	free(text);
	free(rep);
}

Test(doctor, json_has_every_field_and_null_cause_where_none)
{
	struct doctor_report *rep = calloc(1, sizeof(*rep));
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	json_object *o, *checks, *first, *dev, *v;

	sample(rep);
	cr_assert_eq(doctor_print_json(rep, "/x", out), 0);
	fclose(out);
	o = json_tokener_parse(text);
	cr_assert_not_null(o, "not JSON: %s", text);
	cr_assert(json_object_object_get_ex(o, "checks", &checks));
	cr_assert_eq(json_object_array_length(checks), 4);
	first = json_object_array_get_idx(checks, 0);
	cr_assert(json_object_object_get_ex(first, "layer", &v));
	cr_assert_str_eq(json_object_get_string(v), "L-0");
	cr_assert(json_object_object_get_ex(first, "cause", &v));
	cr_assert_null(v);
	dev = json_object_array_get_idx(checks, 1);
	cr_assert(json_object_object_get_ex(dev, "result", &v));
	cr_assert_str_eq(json_object_get_string(v), "FAIL");
	cr_assert(json_object_object_get_ex(dev, "fix", &v));
	cr_assert_str_eq(json_object_get_string(v), "add your user to group kvm");
	cr_assert(json_object_object_get_ex(o, "ok", &v));
	cr_assert_eq(json_object_get_boolean(v), 0);
	cr_assert(json_object_object_get_ex(o, "kvm_device", &v));
	cr_assert_str_eq(json_object_get_string(v), "/x");
	json_object_put(o);
	free(text);
	free(rep);
}

Test(doctor, result_names)
{
	cr_assert_str_eq(doctor_result_name(DOCTOR_PASS), "PASS");
	cr_assert_str_eq(doctor_result_name(DOCTOR_WARN), "WARN");
	cr_assert_str_eq(doctor_result_name(DOCTOR_FAIL), "FAIL");
	cr_assert_str_eq(doctor_result_name(DOCTOR_SKIP), "SKIP");
}

Test(doctor, usage_errors_exit_2_before_any_check)
{
	char *bad[] = { "doctor", "--frobnicate", NULL };
	char *extra[] = { "doctor", "now", NULL };
	char *missing[] = { "doctor", "--kvm-device", NULL };

	cr_assert_eq(doctor_main(2, bad), 2);
	cr_assert_eq(doctor_main(2, extra), 2);
	cr_assert_eq(doctor_main(2, missing), 2);
}
