/* doctor.c: `kvmini doctor`: the host checked layer by layer before anyone runs a VM on it. */
#include "doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <linux/magic.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../devices/base/mem.h"
#include "../devices/devproc/sandbox.h"
#include "../devices/vhost_user.h"
#include "arch.h"
#include "cgroup.h"
#include "file.h"
#include "irq.h"
#include "kvm.h"
#include "probe.h"

#define DOCTOR_RAM	    (2ULL << 20) /* the memfd that stands in for guest RAM */
#define DOCTOR_MSI_DATA	    0x30	 /* vector 0x30, fixed delivery, edge */
#define DOCTOR_SECCOMP_MISS 255		 /* the probe child's status: its filter loaded but did not act */

/* What the checks share: the device, and what earlier checks made for later ones. */
struct doctor_ctx {
	const char *path; /* the KVM device */
	bool canary;
	struct host_facts f;
	struct host_class c;
	int kvm_fd;	    /* -1: the checks that need KVM are skipped, for the reason in no_kvm */
	const char *no_kvm; /* why there is no usable KVM device */
	int vm_fd;	    /* the scratch VM; -1: skipped, for the reason in no_vm */
	const char *no_vm;  /* why there is no scratch VM */
	struct gmem mem;    /* stand-in guest RAM; mem.fd -1 when it could not be had */
	struct doctor_report rep;
};

/* ---- The report ---- */

const char *doctor_result_name(enum doctor_result r)
{
	static const char *const names[] = { "PASS", "WARN", "FAIL", "SKIP" };

	return (unsigned int)r < sizeof(names) / sizeof(names[0]) ? names[r] : "????";
}

struct doctor_check *doctor_add(struct doctor_report *rep, enum layer l, const char *name)
{
	struct doctor_check *c = rep->n < DOCTOR_MAX_CHECKS ? &rep->checks[rep->n++] : &rep->spare;

	*c = (struct doctor_check){ .layer = l, .name = name, .result = DOCTOR_SKIP };
	return c;
}

struct doctor_check *doctor_set(struct doctor_check *c, enum doctor_result r, const char *fmt, ...)
{
	va_list ap;

	c->result = r;
	va_start(ap, fmt);
	vsnprintf(c->finding, sizeof(c->finding), fmt, ap);
	va_end(ap);
	c->cause[0] = c->fix[0] = '\0';
	return c;
}

void doctor_why(struct doctor_check *c, const char *cause, const char *fix)
{
	snprintf(c->cause, sizeof(c->cause), "%s", cause ? cause : "");
	snprintf(c->fix, sizeof(c->fix), "%s", fix ? fix : "");
}

int doctor_status(const struct doctor_report *rep)
{
	for (unsigned int i = 0; i < rep->n; i++)
		if (rep->checks[i].result == DOCTOR_FAIL)
			return 1;
	return 0;
}

/* order: (rep)'s checks by layer, in the order made within a layer, as indexes into (idx). */
static void order(const struct doctor_report *rep, unsigned int *idx)
{
	unsigned int n = 0;

	for (int l = LAYER_HARDWARE; l <= LAYER_SANDBOX; l++)
		for (unsigned int i = 0; i < rep->n; i++)
			if ((int)rep->checks[i].layer == l)
				idx[n++] = i;
}

/* The summary: counts by result and what they mean. */
static void summary(const struct doctor_report *rep, char *buf, size_t len)
{
	unsigned int count[4] = { 0 };
	const char *verdict;

	for (unsigned int i = 0; i < rep->n; i++)
		count[rep->checks[i].result & 3]++;
	if (count[DOCTOR_FAIL])
		verdict = "fix each FAIL before running a VM here";
	else if (count[DOCTOR_WARN])
		verdict = "kvmini can run a VM here; each WARN says what it goes without";
	else
		verdict = "kvmini can run a VM here with everything it uses";
	snprintf(buf, len, "%u checks: %u PASS, %u WARN, %u FAIL, %u SKIP: %s", rep->n, count[DOCTOR_PASS],
		 count[DOCTOR_WARN], count[DOCTOR_FAIL], count[DOCTOR_SKIP], verdict);
}

void doctor_print(const struct doctor_report *rep, FILE *out)
{
	unsigned int idx[DOCTOR_MAX_CHECKS];
	char line[160];

	order(rep, idx);
	for (unsigned int i = 0; i < rep->n; i++) {
		const struct doctor_check *c = &rep->checks[idx[i]];

		fprintf(out, "%s  %s  %-26s %s\n", layer_tag(c->layer), doctor_result_name(c->result),
			c->name, c->finding);
		if (c->result != DOCTOR_WARN && c->result != DOCTOR_FAIL)
			continue;
		if (c->cause[0])
			fprintf(out, "           cause: %s\n", c->cause);
		if (c->fix[0])
			fprintf(out, "           fix:   %s\n", c->fix);
	}
	summary(rep, line, sizeof(line));
	fprintf(out, "summary    %s\n", line);
}

/* A string member, or null where (s) is empty. */
static json_object *text_or_null(const char *s)
{
	return s[0] ? json_object_new_string(s) : NULL;
}

/* One check as a JSON object: layer, name, result, finding, cause, fix. */
static json_object *check_json(const struct doctor_check *c)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "layer", json_object_new_string(layer_tag(c->layer)));
	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "result", json_object_new_string(doctor_result_name(c->result)));
	json_object_object_add(o, "finding", json_object_new_string(c->finding));
	json_object_object_add(o, "cause", text_or_null(c->cause));
	json_object_object_add(o, "fix", text_or_null(c->fix));
	return o;
}

int doctor_print_json(const struct doctor_report *rep, const char *path, FILE *out)
{
	json_object *o = json_object_new_object(), *checks = json_object_new_array();
	unsigned int idx[DOCTOR_MAX_CHECKS];
	char line[160];

	if (!o || !checks) {
		json_object_put(o);
		json_object_put(checks);
		return -ENOMEM;
	}
	order(rep, idx);
	for (unsigned int i = 0; i < rep->n; i++)
		json_object_array_add(checks, check_json(&rep->checks[idx[i]]));
	summary(rep, line, sizeof(line));
	json_object_object_add(o, "kvm_device", json_object_new_string(path));
	json_object_object_add(o, "checks", checks);
	json_object_object_add(o, "summary", json_object_new_string(line));
	json_object_object_add(o, "ok", json_object_new_boolean(!doctor_status(rep)));
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

/* ---- Classifying the host's facts (pure: the unit tests feed them recorded facts) ---- */

/* The CPU has an extension but its KVM module is missing (or none, or it failed to load). */
static void classify_no_module(const struct host_facts *f, const struct host_class *c,
			       struct doctor_check *out)
{
	const char *mod = f->svm ? "kvm_amd" : "kvm_intel";

	doctor_set(out, DOCTOR_FAIL, "%s, but %s is not loaded: no KVM runs on it", c->extension, mod);
	doctor_why(
		out,
		"the module was never loaded, or failed to load (virtualisation disabled in the firmware)",
		f->svm ? "run 'modprobe kvm_amd' as root; if it fails, dmesg says why (enable SVM in the firmware)"
		       : "run 'modprobe kvm_intel' as root; if it fails, dmesg says why (enable VT-x in the firmware)");
}

/* Neither svm nor vmx. */
static void classify_no_extension(const struct host_facts *f, struct doctor_check *out)
{
	char cause[DOCTOR_TEXT];

	doctor_set(out, DOCTOR_FAIL, "none: neither svm nor vmx in /proc/cpuinfo%s",
		   f->hypervisor ? " (this machine is a guest)" : "");
	if (f->hypervisor) {
		snprintf(cause, sizeof(cause),
			 "the hypervisor this machine runs under%s%s%s offers no nested virtualisation",
			 f->hv_sig[0] ? " (\"" : "", f->hv_sig, f->hv_sig[0] ? "\")" : "");
		doctor_why(out, cause, "enable nested virtualisation for this VM, or " HOST_PVM_FIX);
	} else {
		doctor_why(
			out, "the CPU has no VT-x/AMD-V, or it is disabled in the firmware",
			"enable VT-x/AMD-V (SVM) in the firmware setup; where there is none, scripts/kvm-env runs "
			"kvmini inside QEMU");
	}
}

void doctor_classify_cpu(const struct host_facts *f, const struct host_class *c, struct doctor_check *out)
{
	switch (c->kind) {
	case HOST_KVM_HARDWARE:
		doctor_set(out, DOCTOR_PASS, "%s, %s loaded", c->extension, c->module);
		return;
	case HOST_KVM_NESTED:
		doctor_set(out, DOCTOR_PASS, "%s, %s loaded, nested under hypervisor \"%s\"", c->extension,
			   c->module, f->hv_sig[0] ? f->hv_sig : "?");
		return;
	case HOST_KVM_PVM:
		doctor_set(out, DOCTOR_FAIL,
			   "none: /dev/kvm is PVM (kvm_pvm), which runs guests without VT-x/AMD-V%s%s",
			   c->extension ? "; the CPU shows " : "", c->extension ? c->extension : "");
		doctor_why(
			out,
			"PVM has no hardware virtualisation: guest kernel code is emulated instruction by instruction, "
			"so a stock kernel cannot boot in useful time",
			HOST_PVM_FIX);
		return;
	case HOST_KVM_UNKNOWN:
		if (f->kvm_pvm) {
			doctor_set(out, DOCTOR_WARN, "%s, but kvm_pvm is loaded beside %s",
				   c->extension ? c->extension : "none",
				   f->kvm_amd ? "kvm_amd" : "kvm_intel");
			doctor_why(out,
				   "which of the two backs /dev/kvm cannot be told from the host's reports",
				   "run 'kvmini doctor --canary' (or 'kvmini host'): its canary guest tells");
			return;
		}
		break;
	case HOST_KVM_NONE:
		break;
	}
	if (c->extension)
		classify_no_module(f, c, out);
	else
		classify_no_extension(f, out);
}

void doctor_classify_paging(const struct host_class *c, const char *param, struct doctor_check *out)
{
	bool amd = c->module && strcmp(c->module, "kvm_amd") == 0;
	const char *name = amd ? "npt" : "ept";

	if (c->stage2) {
		doctor_set(out, DOCTOR_PASS,
			   "stage 2: arm64 KVM always has the CPU walk the guest's page tables");
		return;
	}
	if (!c->module || (!amd && strcmp(c->module, "kvm_intel") != 0)) {
		doctor_set(out, DOCTOR_SKIP, "no kvm_amd or kvm_intel backs KVM here%s",
			   c->kind == HOST_KVM_PVM ? ": PVM shadows the guest's page tables in software"
						   : "");
		return;
	}
	if (!param) {
		doctor_set(out, DOCTOR_SKIP, "cannot read /sys/module/%s/parameters/%s", c->module, name);
		return;
	}
	if (param[0] == 'Y' || param[0] == 'y' || param[0] == '1') {
		doctor_set(out, DOCTOR_PASS, "on (%s %s=%c): the CPU walks the guest's page tables (%s)",
			   c->module, name, param[0], amd ? "AMD NPT" : "Intel EPT");
		return;
	}
	doctor_set(
		out, DOCTOR_WARN,
		"off (%s %s=%c): KVM shadows the guest's page tables in software, every change to them exits",
		c->module, name, param[0]);
	snprintf(out->cause, sizeof(out->cause),
		 "%s was loaded with %s=0, or the CPU (or the hypervisor below) offers no %s", c->module,
		 name, amd ? "NPT" : "EPT");
	snprintf(out->fix, sizeof(out->fix), "as root: modprobe -r %s && modprobe %s %s=1", c->module,
		 c->module, name);
}

void doctor_classify_landlock(int abi, struct doctor_check *out)
{
	if (abi > 0) {
		doctor_set(out, DOCTOR_PASS, "ABI %d: device processes reach no files but their own", abi);
		return;
	}
	doctor_set(out, DOCTOR_WARN,
		   "none: device processes run without it, their file access limited by their empty root and "
		   "syscall filter alone");
	if (abi == -EOPNOTSUPP)
		doctor_why(
			out,
			"Landlock is built into this kernel but not enabled at boot (not in its lsm= list)",
			"add landlock to the kernel's lsm= boot parameter (cat /sys/kernel/security/lsm shows the "
			"list)");
	else
		doctor_why(
			out,
			"this kernel has no Landlock (before 5.13, or built without CONFIG_SECURITY_LANDLOCK)",
			"a host kernel 5.13 or newer with CONFIG_SECURITY_LANDLOCK=y and landlock in lsm=");
}

/* What a device process goes without when it lacks namespace (name). */
static const char *ns_loss(const char *name)
{
	if (strcmp(name, "user") == 0)
		return "device processes start without one: unless kvmini runs as root, they get no other namespace either";
	if (strcmp(name, "mount") == 0)
		return "device processes see the host's files (no empty root): Landlock alone limits them";
	if (strcmp(name, "PID") == 0)
		return "device processes see the host's processes (their syscall filter still allows no kill)";
	return "device processes share the host's network (their syscall filter still allows no socket but vsock's Unix ones)";
}

/* ns_note: the note of (why) ("; "-separated) about namespace (name), into (buf); "" when none. */
static void ns_note(const char *why, const char *name, char *buf, size_t len)
{
	char key[32];
	const char *p;

	snprintf(key, sizeof(key), "no %s namespace", name);
	p = why ? strstr(why, key) : NULL;
	snprintf(buf, len, "%.*s", p ? (int)strcspn(p, ";") : 0, p ? p : "");
}

void doctor_classify_namespace(const char *name, bool had, const char *why, bool user,
			       struct doctor_check *out)
{
	char note[128];

	if (had) {
		doctor_set(out, DOCTOR_PASS, "a device process gets its own");
		return;
	}
	ns_note(why, name, note, sizeof(note));
	doctor_set(out, DOCTOR_WARN, "%s: %s", note[0] ? note : "not had", ns_loss(name));
	if (!user || strcmp(name, "user") == 0)
		doctor_why(
			out,
			"unprivileged user namespaces are off here (sysctl user.max_user_namespaces=0 or "
			"kernel.unprivileged_userns_clone=0, or an LSM policy), and kvmini is not root",
			"allow them (sysctl -w user.max_user_namespaces=15000 kernel.unprivileged_userns_clone=1) or "
			"run kvmini as root");
	else
		doctor_why(
			out,
			"the kernel is built without this namespace, or a container kvmini runs in forbids it",
			"a host kernel with CONFIG_NAMESPACES and all of its namespaces, outside a container that "
			"forbids unshare()");
}

static void classify_delegated(const struct doctor_cgroup *g, struct doctor_check *out)
{
	bool cpu = g->controllers && cgroup_has_controller(g->controllers, "cpu");
	bool memory = g->controllers && cgroup_has_controller(g->controllers, "memory");

	if (cpu && memory && g->writable) {
		doctor_set(out, DOCTOR_PASS, "%s: cpu and memory available, writable by kvmini", g->dir);
		return;
	}
	if (!g->controllers)
		doctor_set(out, DOCTOR_WARN,
			   "%s: no cgroup.controllers to read: kvmini run --cgroup cannot work", g->dir);
	else if (!cpu || !memory)
		doctor_set(out, DOCTOR_WARN,
			   "%s: %s%s%s not available: kvmini run --cgroup cannot set cpu.max and memory.max",
			   g->dir, cpu ? "" : "cpu", !cpu && !memory ? " and " : "", memory ? "" : "memory");
	else
		doctor_set(out, DOCTOR_WARN,
			   "%s: not writable by kvmini: kvmini run --cgroup cannot make its subtree", g->dir);
	doctor_why(
		out,
		"this cgroup is not delegated to kvmini's user, or its parent does not pass cpu and memory down "
		"(cgroup.subtree_control)",
		"run kvmini in a delegated unit (systemd-run --user --scope -p Delegate=yes kvmini run ...), or "
		"as root: echo '+cpu +memory' > PARENT/cgroup.subtree_control");
}

void doctor_classify_cgroup(const struct doctor_cgroup *g, struct doctor_check *mounted,
			    struct doctor_check *delegated)
{
	if (strcmp(g->fs_type, "cgroup2") == 0) {
		doctor_set(mounted, DOCTOR_PASS, CGROUP_MOUNT " is cgroup2 (the unified hierarchy)");
	} else {
		doctor_set(mounted, DOCTOR_WARN,
			   CGROUP_MOUNT " is %s, not cgroup2: kvmini run --cgroup cannot work", g->fs_type);
		doctor_why(
			mounted,
			"the system boots with cgroup v1 or the hybrid layout, or (in a container or a minimal "
			"init) mounts none",
			"boot with systemd.unified_cgroup_hierarchy=1, or as root: mount -t cgroup2 none " CGROUP_MOUNT);
		doctor_set(delegated, DOCTOR_SKIP, "needs cgroup v2 mounted at " CGROUP_MOUNT);
		return;
	}
	if (!g->dir) {
		doctor_set(delegated, DOCTOR_WARN, "/proc/self/cgroup names no cgroup v2 path (no 0:: line)");
		doctor_why(delegated,
			   "this process is in no cgroup v2 hierarchy (a cgroup v1 or hybrid system)",
			   "boot with systemd.unified_cgroup_hierarchy=1");
		return;
	}
	classify_delegated(g, delegated);
}

/* ---- Reading the host ---- */

/* Up to (len) - 1 bytes of small file (path) into (buf), NUL-terminated. Returns their number or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	return file_read_text(AT_FDCWD, path, buf, len);
}

/* ---- L-0: the CPU, nested paging, the canary ---- */

static void check_cpu(struct doctor_ctx *x, int gathered)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_HARDWARE, "virtualisation extensions");

	if (gathered < 0) {
		doctor_set(c, DOCTOR_FAIL, "cannot read /proc/cpuinfo: %s", strerror(-gathered));
		doctor_why(c, "/proc is not mounted here", "as root: mount -t proc proc /proc");
		return;
	}
	doctor_classify_cpu(&x->f, &x->c, c);
}

static void check_paging(struct doctor_ctx *x)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_HARDWARE, "nested paging");
	bool amd = x->c.module && strcmp(x->c.module, "kvm_amd") == 0;
	bool intel = x->c.module && strcmp(x->c.module, "kvm_intel") == 0;
	char path[96], param[16];
	const char *value = NULL;

	if (amd || intel) {
		snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", x->c.module,
			 amd ? "npt" : "ept");
		if (read_small(path, param, sizeof(param)) > 0)
			value = param;
	}
	doctor_classify_paging(&x->c, value, c);
}

static void check_canary(struct doctor_ctx *x)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_HARDWARE, "canary");
	struct probe_result r;
	int ret;

	if (x->kvm_fd < 0) {
		doctor_set(c, DOCTOR_SKIP, "needs %s", x->no_kvm);
		return;
	}
	ret = probe_canary(x->path, PROBE_ITERATIONS, PROBE_LIMIT_MS, &r);
	if (ret == 0) {
		doctor_set(c, DOCTOR_PASS,
			   ARCH_CANARY_START " in %.2f ms; %llu " ARCH_CANARY_MODE " instructions in %.2f ms",
			   (double)r.start_ns / 1e6, (unsigned long long)r.iterations * PROBE_LOOP_INSNS,
			   (double)r.loop_ns / 1e6);
		return;
	}
	if (ret > 0) {
		doctor_set(c, DOCTOR_FAIL, "%s (stage %u of %u reached)", r.why, r.stage, PROBE_STAGE_DONE);
		doctor_why(c,
			   "this KVM does not run guest kernel code at hardware speed (PVM, or KVM emulated)",
			   HOST_PVM_FIX);
		return;
	}
	doctor_set(c, DOCTOR_FAIL, "no VM could be made for it: %s", strerror(-ret));
	doctor_why(c, "KVM refused a step of making the canary's VM (the error line above names it)",
		   "see 'kvmini host' and dmesg");
}

/* ---- L-1: the KVM device, its API, capabilities, a scratch VM ---- */

static void check_device(struct doctor_ctx *x)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_VCPU, "KVM device");
	struct kvm_why w;
	int err;

	x->kvm_fd = open(x->path, O_RDWR | O_CLOEXEC);
	if (x->kvm_fd >= 0) {
		doctor_set(c, DOCTOR_PASS, "%s opened read-write", x->path);
		return;
	}
	err = errno;
	x->no_kvm = "the KVM device (L-1 KVM device failed)";
	kvm_explain_open(x->path, err, &w);
	doctor_set(c, DOCTOR_FAIL, "cannot open %s: %s", x->path, strerror(err));
	doctor_why(c, w.cause, w.fix[0] ? w.fix : "point --kvm-device at KVM's device (/dev/kvm)");
}

static void check_api(struct doctor_ctx *x)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_VCPU, "API version");
	int v;

	if (x->kvm_fd < 0) {
		doctor_set(c, DOCTOR_SKIP, "needs %s", x->no_kvm);
		return;
	}
	v = ioctl(x->kvm_fd, KVM_GET_API_VERSION, 0);
	if (v == KVM_API_VERSION) {
		doctor_set(c, DOCTOR_PASS, "KVM_GET_API_VERSION is %d", v);
		return;
	}
	doctor_set(c, DOCTOR_FAIL, "KVM_GET_API_VERSION on %s gave %d (%s), not %d", x->path, v,
		   v < 0 ? strerror(errno) : "another interface", KVM_API_VERSION);
	doctor_why(c, "the device is not KVM's, or a KVM with another interface",
		   "point --kvm-device at KVM's device (/dev/kvm)");
	close(x->kvm_fd);
	x->kvm_fd = -1;
	x->no_kvm = "a KVM device of API version 12 (L-1 API version failed)";
}

static void check_caps(struct doctor_ctx *x)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_VCPU, "capabilities");
	char names[DOCTOR_TEXT] = "", missing[DOCTOR_TEXT];
	size_t used = 0;
	int n;

	if (x->kvm_fd < 0) {
		doctor_set(c, DOCTOR_SKIP, "needs %s", x->no_kvm);
		return;
	}
	n = kvm_missing_caps(x->kvm_fd, missing, sizeof(missing));
	if (n) {
		doctor_set(c, DOCTOR_FAIL, "lacks %d of the %u kvmini needs: %s", n, kvm_nr_required_caps,
			   missing);
		doctor_why(c, "this host kernel's KVM is too old for kvmini", "use a newer host kernel");
		return;
	}
	for (unsigned int i = 0; i < kvm_nr_required_caps && used < sizeof(names); i++)
		used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", i ? " " : "",
					 kvm_required_caps[i].name + strlen("KVM_CAP_"));
	doctor_set(c, DOCTOR_PASS, "all %u kvmini needs: %s", kvm_nr_required_caps, names);
}

static void check_vcpus(struct doctor_ctx *x)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_VCPU, "max vCPUs");
	int n;

	if (x->kvm_fd < 0) {
		doctor_set(c, DOCTOR_SKIP, "needs %s", x->no_kvm);
		return;
	}
	n = kvm_max_vcpus(x->kvm_fd);
	doctor_set(c, DOCTOR_PASS, "%d per VM: kvmini run --cpus takes up to %d", n, n < 255 ? n : 255);
}

/* The scratch VM as kvmini makes its own, up to its vCPUs (none: no guest runs). */
static const char *make_vm(struct doctor_ctx *x)
{
	x->vm_fd = ioctl(x->kvm_fd, KVM_CREATE_VM, 0UL);
	if (x->vm_fd < 0)
		return "KVM_CREATE_VM";
	return arch_vm_setup(x->kvm_fd, x->vm_fd, NULL);
}

static void check_vm(struct doctor_ctx *x)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_VCPU, "scratch VM");
	const char *step;

	x->no_vm = "a scratch VM (L-1 scratch VM failed)";
	if (x->kvm_fd < 0) {
		doctor_set(c, DOCTOR_SKIP, "needs %s", x->no_kvm);
		x->no_vm = x->no_kvm;
		return;
	}
	step = make_vm(x);
	if (!step) {
		doctor_set(c, DOCTOR_PASS, "made with %s (no vCPU runs)", ARCH_IRQCHIP);
		return;
	}
	doctor_set(c, DOCTOR_FAIL, "%s failed: %s", step, strerror(errno));
	doctor_why(
		c, "KVM refused a VM of the kind kvmini makes (dmesg may say why)",
		"use a host kernel whose KVM offers in-kernel interrupt controllers (x86 KVM and arm64 KVM with a GICv3 do)");
	if (x->vm_fd >= 0)
		close(x->vm_fd);
	x->vm_fd = -1;
}

/* ---- L-2: event channels and memory shared with device processes ---- */

/* An ioeventfd where a virtio notify register would be, as kvmini sets one (vm.c's host_ioeventfd). */
static int ioeventfd_try(struct doctor_ctx *x, int any, const char **step)
{
	struct kvm_ioeventfd io = { .addr = ARCH_DOCTOR_MMIO, .len = any ? 0 : 2 };
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), ret = 0;

	*step = "eventfd";
	if (fd < 0)
		return -errno;
	io.fd = fd;
	*step = "KVM_IOEVENTFD";
	if (ioctl(x->vm_fd, KVM_IOEVENTFD, &io) < 0)
		ret = -errno;
	io.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
	*step = ret ? *step : "KVM_IOEVENTFD (removing it)";
	if (!ret && ioctl(x->vm_fd, KVM_IOEVENTFD, &io) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void check_ioeventfd(struct doctor_ctx *x)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_PVIO, "ioeventfd");
	int any, ret;
	const char *step;

	if (x->vm_fd < 0) {
		doctor_set(c, DOCTOR_SKIP, "needs %s", x->no_vm);
		return;
	}
	any = ioctl(x->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0;
	ret = ioeventfd_try(x, any, &step);
	if (!ret) {
		doctor_set(c, DOCTOR_PASS, "a guest write at 0x%llx bound to an eventfd and unbound (%s)",
			   (unsigned long long)ARCH_DOCTOR_MMIO,
			   any ? "writes of any length" : "2-byte writes only");
		return;
	}
	doctor_set(c, DOCTOR_FAIL, "%s failed: %s", step, strerror(-ret));
	doctor_why(
		c,
		"KVM refused to turn a guest write into an eventfd signal: virtio kicks cannot reach devices",
		"use a host kernel whose KVM has KVM_CAP_IOEVENTFD (every one since 2.6.32)");
}

/* Binds an eventfd to (gsi) and unbinds it; returns 0 or -errno with the failed step in (*step). */
static int irqfd_try(struct doctor_ctx *x, int gsi, const char **step)
{
	struct kvm_irqfd irqfd = { .gsi = (uint32_t)gsi };
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), ret = 0;

	*step = "eventfd";
	if (fd < 0)
		return -errno;
	irqfd.fd = (uint32_t)fd;
	*step = "KVM_IRQFD";
	if (ioctl(x->vm_fd, KVM_IRQFD, &irqfd) < 0)
		ret = -errno;
	irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
	*step = ret ? *step : "KVM_IRQFD (removing it)";
	if (!ret && ioctl(x->vm_fd, KVM_IRQFD, &irqfd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void check_irqfd(struct doctor_ctx *x)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_PVIO, "irqfd");
	const char *step;
	int ret;

	if (x->vm_fd < 0) {
		doctor_set(c, DOCTOR_SKIP, "needs %s", x->no_vm);
		return;
	}
	ret = irqfd_try(x, ARCH_DOCTOR_GSI, &step);
	if (!ret) {
		doctor_set(c, DOCTOR_PASS, "an eventfd bound to GSI %d (the console's IRQ) and unbound",
			   ARCH_DOCTOR_GSI);
		return;
	}
	doctor_set(c, DOCTOR_FAIL, "%s on GSI %d failed: %s", step, ARCH_DOCTOR_GSI, strerror(-ret));
	doctor_why(
		c,
		"KVM refused to turn an eventfd signal into a guest interrupt: devices cannot interrupt the guest",
		"use a host kernel whose KVM has KVM_CAP_IRQFD (every one since 2.6.32)");
}

static void check_msi(struct doctor_ctx *x)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_PVIO, "MSI routing");
	struct irq_routes routes;
	const char *step = "KVM_SET_GSI_ROUTING";
	int gsi = -1, ret;

	if (x->vm_fd < 0) {
		doctor_set(c, DOCTOR_SKIP, "needs %s", x->no_vm);
		return;
	}
	ret = irq_routes_init(&routes, x->vm_fd);
	if (!ret)
		ret = irq_route_msi(&routes, &gsi, ARCH_DOCTOR_MSI_ADDR, DOCTOR_MSI_DATA, 0);
	if (!ret)
		ret = irqfd_try(x, gsi, &step);
	irq_routes_free(&routes);
	if (!ret) {
		doctor_set(c, DOCTOR_PASS,
			   "MSI 0x%llx/0x%x routed to GSI %d, an irqfd bound to it and unbound",
			   (unsigned long long)ARCH_DOCTOR_MSI_ADDR, DOCTOR_MSI_DATA, gsi);
		return;
	}
	doctor_set(c, DOCTOR_FAIL, "%s failed: %s", step, strerror(-ret));
	doctor_why(c, "KVM refused an MSI route: virtio devices' MSI-X vectors cannot reach the guest",
		   "use a host kernel whose KVM has KVM_CAP_IRQ_ROUTING and KVM_CAP_SIGNAL_MSI");
}

static void check_memfd(struct doctor_ctx *x)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_PVIO, "shared memory (memfd)");
	static const char pattern[] = "kvmini doctor";
	int ret = gmem_create(&x->mem, 0, DOCTOR_RAM, DOCTOR_RAM);

	if (!ret)
		ret = gmem_write(&x->mem, 0, pattern, sizeof(pattern));
	if (!ret) {
		doctor_set(c, DOCTOR_PASS, "%llu MiB memfd mapped shared, as guest RAM is",
			   (unsigned long long)(DOCTOR_RAM >> 20));
		return;
	}
	if (x->mem.base)
		gmem_destroy(&x->mem);
	x->mem.fd = -1;
	doctor_set(c, DOCTOR_FAIL, "a memfd for guest RAM: %s", strerror(-ret));
	doctor_why(c, "memfd_create or a shared mapping is refused (a kernel before 3.17, or a memory limit)",
		   "use a newer host kernel; check ulimit -v and the memory cgroup kvmini runs in");
}

/* The front end's SET_MEM_TABLE with the memfd over (sv), mapped by the back end into (bm). */
static int hand_over(struct doctor_ctx *x, int sv[2], struct vhu_mem *bm, const char **why)
{
	struct vhu_msg out = { .hdr = { .request = VHU_SET_MEM_TABLE } }, in;
	int fds[VHU_MAX_FDS], got[VHU_MAX_FDS];
	unsigned int nfds, ngot;
	int ret = vhu_mem_table(&x->mem, &out.payload.memory, fds, &nfds);

	*why = NULL;
	out.hdr.size = (uint32_t)(offsetof(struct vhu_memory, regions) +
				  out.payload.memory.nregions * sizeof(out.payload.memory.regions[0]));
	if (!ret)
		ret = vhu_send(sv[0], &out, fds, nfds);
	if (!ret)
		ret = vhu_recv(sv[1], &in, got, &ngot, why);
	if (!ret && ngot != nfds) {
		*why = "the descriptors did not arrive";
		for (unsigned int i = 0; i < ngot; i++)
			close(got[i]);
		return -EPROTO;
	}
	return ret ? ret : vhu_mem_map(bm, &in.payload.memory, got, ngot, why);
}

static void check_scm_rights(struct doctor_ctx *x)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_PVIO, "fd passing (SCM_RIGHTS)");
	struct vhu_mem bm = { .nr_regions = 0 };
	const char *why = NULL;
	int sv[2], ret;

	if (x->mem.fd < 0) {
		doctor_set(c, DOCTOR_SKIP, "needs a memfd (L-2 shared memory failed)");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
	} else {
		ret = hand_over(x, sv, &bm, &why);
		close(sv[0]);
		close(sv[1]);
	}
	if (!ret) {
		const void *seen = vhu_mem_gpa_ptr(&bm, 0, 16);

		if (!seen || memcmp(seen, x->mem.base, 16) != 0) {
			why = "the receiver's mapping shows other bytes than the sender's";
			ret = -EIO;
		}
	}
	vhu_mem_unmap(&bm);
	if (!ret) {
		doctor_set(c, DOCTOR_PASS,
			   "guest RAM's memfd sent as vhost-user SET_MEM_TABLE, mapped by the receiver");
		return;
	}
	doctor_set(c, DOCTOR_FAIL, "handing the memfd over a Unix socket: %s", why ? why : strerror(-ret));
	doctor_why(c, "Unix sockets here refuse to pass descriptors (an LSM policy, or the open-file limit)",
		   "device processes get guest RAM and event fds this way: lift the policy, or run with "
		   "--devices in-process");
}

/* ---- L-3: syscall filters, Landlock, namespaces, the device-process lock-down, cgroups ---- */

/* In a child: a filter as kvmini's threads load theirs (libseccomp, every thread); 0 when it acts. */
static int seccomp_child(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int ret;

	if (!ctx)
		return ENOMEM;
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EXDEV), SCMP_SYS(getppid), 0);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret)
		return -ret & 0xff;
	errno = 0;
	/* getppid() cannot fail: only the filter can make it answer EXDEV. */
	return syscall(SYS_getppid) == -1 && errno == EXDEV ? 0 : DOCTOR_SECCOMP_MISS;
}

static void check_seccomp(struct doctor_ctx *x)
{
	struct doctor_check *c = doctor_add(&x->rep, LAYER_SANDBOX, "seccomp filters");
	const struct scmp_version *v = seccomp_version();
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(seccomp_child());
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		doctor_set(c, DOCTOR_SKIP, "cannot start a child to try one in: %s", strerror(errno));
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		doctor_set(c, DOCTOR_PASS,
			   "a filter loaded on every thread (libseccomp %u.%u.%u) acts as written", v->major,
			   v->minor, v->micro);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == DOCTOR_SECCOMP_MISS)
		doctor_set(c, DOCTOR_FAIL, "a filter loaded but did not act");
	else if (WIFEXITED(status))
		doctor_set(c, DOCTOR_FAIL, "loading a filter failed: %s", strerror(WEXITSTATUS(status)));
	else
		doctor_set(c, DOCTOR_FAIL, "the child trying one was killed by signal %d", WTERMSIG(status));
	doctor_why(c, "this kernel has no seccomp filters (CONFIG_SECCOMP_FILTER) or refuses them here",
		   "use a host kernel with CONFIG_SECCOMP_FILTER=y (distribution kernels have it): kvmini's "
		   "vCPU threads and device processes do not run without their filters");
}

static void check_landlock(struct doctor_ctx *x)
{
	doctor_classify_landlock(sandbox_landlock_abi(), doctor_add(&x->rep, LAYER_SANDBOX, "Landlock"));
}

/* What the probe device process says once locked: sandbox_lock's answer and report (one write). */
struct lock_msg {
	int ret;
	struct sandbox_report r;
};

static const struct sandbox_policy probe_policy = { .name = "doctor's probe",
						    .kind = SANDBOX_PROBE,
						    .report_fd = -1 };

/* The probe device process: lock down as a device process does, say how it went on (arg)'s fd. */
static int probe_lock(void *arg)
{
	struct lock_msg m = { 0 };

	m.ret = sandbox_lock(&probe_policy, &m.r);
	return write(*(int *)arg, &m, sizeof(m)) == (ssize_t)sizeof(m) ? 0 : 1;
}

/* Starts the probe device process, waits for it: its report in (m); returns 0 or sandbox_spawn's -errno. */
static int probe_run(struct sandbox_report *spawned, struct lock_msg *m)
{
	int pipefd[2], pidfd = -1, ret;
	pid_t pid;
	ssize_t n;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	ret = sandbox_spawn(&probe_policy, probe_lock, &pipefd[1], &pipefd[1], 1, &pid, &pidfd, spawned);
	close(pipefd[1]);
	if (!ret) {
		do
			n = read(pipefd[0], m, sizeof(*m));
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)sizeof(*m))
			m->ret = -ECHILD; /* it ended without a report */
		waitpid(pid, NULL, 0);
		close(pidfd);
	}
	close(pipefd[0]);
	return ret;
}

static void lockdown_result(struct doctor_check *c, const struct lock_msg *m)
{
	const struct sandbox_report *r = &m->r;
	char landlock[24] = "no Landlock";

	if (r->landlock_abi)
		snprintf(landlock, sizeof(landlock), "Landlock ABI %d", r->landlock_abi);
	if (!m->ret) {
		doctor_set(
			c, DOCTOR_PASS,
			"a probe device process locked itself down: %s, no capabilities, %s, %u-syscall filter",
			r->namespaces & CLONE_NEWNS ? "empty root" : "host's root (no mount namespace)",
			landlock, r->nr_syscalls);
		return;
	}
	if (m->ret == -ECHILD)
		doctor_set(c, DOCTOR_FAIL,
			   "a probe device process ended before it said how its lock-down went");
	else
		doctor_set(c, DOCTOR_FAIL, "a probe device process could not lock itself down: %s",
			   strerror(-m->ret));
	doctor_why(c, "a step of the lock-down is refused here (the L-3 error line above names it)",
		   "lift what refuses it, or run with --devices in-process (devices inside kvmini, without "
		   "this sandbox)");
}

static void check_sandbox(struct doctor_ctx *x)
{
	static const struct {
		const char *name, *check;
		unsigned long flag;
	} ns[] = { { "user", "user namespace", CLONE_NEWUSER },
		   { "mount", "mount namespace", CLONE_NEWNS },
		   { "PID", "PID namespace", CLONE_NEWPID },
		   { "network", "network namespace", CLONE_NEWNET } };
	struct doctor_check *c[4], *lock;
	struct sandbox_report spawned = { 0 };
	struct lock_msg m = { 0 };
	int ret;

	for (size_t i = 0; i < 4; i++)
		c[i] = doctor_add(&x->rep, LAYER_SANDBOX, ns[i].check);
	lock = doctor_add(&x->rep, LAYER_SANDBOX, "device-process lock-down");
	ret = probe_run(&spawned, &m);
	if (ret) {
		doctor_set(lock, DOCTOR_FAIL, "cannot start a device process: %s", strerror(-ret));
		doctor_why(lock, "clone3() is refused here (a kernel before 5.3, or a container's policy)",
			   "use a newer host kernel, or run with --devices in-process");
		for (size_t i = 0; i < 4; i++)
			doctor_set(c[i], DOCTOR_SKIP,
				   "needs a device process (L-3 device-process lock-down failed)");
		return;
	}
	for (size_t i = 0; i < 4; i++)
		doctor_classify_namespace(ns[i].name, spawned.namespaces & ns[i].flag, spawned.why,
					  spawned.namespaces & CLONE_NEWUSER, c[i]);
	lockdown_result(lock, &m);
}

/* What /sys/fs/cgroup is, for the finding. */
static const char *fs_name(long type)
{
	switch (type) {
	case CGROUP2_SUPER_MAGIC:
		return "cgroup2";
	case CGROUP_SUPER_MAGIC:
		return "cgroup v1";
	case TMPFS_MAGIC:
		return "tmpfs (cgroup v1 or the hybrid layout)";
	case SYSFS_MAGIC:
		return "an empty sysfs directory (nothing mounted)";
	}
	return "another file system";
}

static void check_cgroup(struct doctor_ctx *x)
{
	struct doctor_check *mounted = doctor_add(&x->rep, LAYER_SANDBOX, "cgroup v2 mounted");
	struct doctor_check *delegated = doctor_add(&x->rep, LAYER_SANDBOX, "cgroup v2 delegated");
	char rel[PATH_MAX], dir[PATH_MAX + 32], file[PATH_MAX + 64], text[4096], ctl[512];
	struct doctor_cgroup g = { .fs_type = "missing" };
	struct statfs sf;

	if (statfs(CGROUP_MOUNT, &sf) == 0)
		g.fs_type = fs_name((long)sf.f_type);
	if (read_small("/proc/self/cgroup", text, sizeof(text)) > 0 &&
	    cgroup_path_in(text, rel, sizeof(rel)) == 0) {
		snprintf(dir, sizeof(dir), CGROUP_MOUNT "%s", strcmp(rel, "/") == 0 ? "" : rel);
		g.dir = dir;
		snprintf(file, sizeof(file), "%s/cgroup.controllers", dir);
		if (read_small(file, ctl, sizeof(ctl)) >= 0)
			g.controllers = ctl;
		g.writable = access(dir, W_OK) == 0;
	}
	doctor_classify_cgroup(&g, mounted, delegated);
}

/* ---- The command ---- */

static void run_checks(struct doctor_ctx *x)
{
	int gathered = host_gather(&x->f);

	if (gathered == 0)
		host_gather_hypervisor(&x->f);
	host_classify(&x->f, &x->c);
	check_cpu(x, gathered);
	check_paging(x);
	check_device(x);
	check_api(x);
	if (x->canary)
		check_canary(x);
	check_caps(x);
	check_vcpus(x);
	check_vm(x);
	check_ioeventfd(x);
	check_irqfd(x);
	check_msi(x);
	check_memfd(x);
	check_scm_rights(x);
	check_seccomp(x);
	check_landlock(x);
	check_sandbox(x);
	check_cgroup(x);
}

static void release(struct doctor_ctx *x)
{
	if (x->mem.fd >= 0)
		gmem_destroy(&x->mem);
	if (x->vm_fd >= 0)
		close(x->vm_fd);
	if (x->kvm_fd >= 0)
		close(x->kvm_fd);
}

static const struct option doctor_options[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "canary", no_argument, NULL, 'C' },
	{ "kvm-device", required_argument, NULL, 'K' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char doctor_usage[] =
	"usage: kvmini doctor [--json] [--canary] [--kvm-device PATH]\n"
	"\n"
	"Checks this host before anyone runs a VM on it, layer by layer: L-0 the CPU's virtualisation\n"
	"extensions, nested paging, PVM; L-1 the KVM device, its API version, the capabilities kvmini\n"
	"uses, a scratch VM (no guest runs); L-2 ioeventfd, irqfd, MSI routing, memfd and SCM_RIGHTS\n"
	"(vhost-user); L-3 seccomp, Landlock, namespaces, a device process's lock-down, cgroup v2.\n"
	"Each check is PASS, WARN, FAIL or SKIP, with the usual cause and the fix for each WARN and FAIL.\n"
	"Exit status 0 when nothing failed, 1 when something did, 2 on a usage error.\n"
	"      --json            one JSON object: kvm_device, checks (layer, name, result, finding,\n"
	"                        cause, fix), summary, ok\n"
	"      --canary          also run the canary guest (kvmini host's): whether guest kernel code\n"
	"                        runs at hardware speed (up to a second)\n"
	"      --kvm-device PATH the KVM device (default /dev/kvm)\n";

/* Options into (x) and (*json). Returns -1 to go on, else the exit status. */
static int parse(int argc, char **argv, struct doctor_ctx *x, bool *json)
{
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", doctor_options, NULL)) != -1) {
		if (opt == 'j') {
			*json = true;
		} else if (opt == 'C') {
			x->canary = true;
		} else if (opt == 'K') {
			x->path = optarg;
		} else if (opt == 'h') {
			fputs(doctor_usage, stdout);
			return 0;
		} else {
			log_err("doctor: unknown option or missing value '%s': see 'kvmini doctor --help'",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		log_err("doctor: unexpected argument '%s': see 'kvmini doctor --help'", argv[optind]);
		return 2;
	}
	return -1;
}

int doctor_main(int argc, char **argv)
{
	static struct doctor_ctx x; /* one per process; large */
	bool json = false;
	int ret;

	x = (struct doctor_ctx){ .path = "/dev/kvm", .kvm_fd = -1, .vm_fd = -1, .mem = { .fd = -1 } };
	ret = parse(argc, argv, &x, &json);
	if (ret >= 0)
		return ret;
	run_checks(&x);
	release(&x);
	if (json) {
		if (doctor_print_json(&x.rep, x.path, stdout) < 0) {
			log_err("doctor: out of memory for the JSON report");
			return 2;
		}
	} else {
		printf("kvmini doctor: this host, checked layer by layer (KVM device %s)\n", x.path);
		doctor_print(&x.rep, stdout);
	}
	return doctor_status(&x.rep);
}
