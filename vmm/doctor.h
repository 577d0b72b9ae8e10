/* doctor.h: `kvmini doctor`: the host checked layer by layer before anyone runs a VM on it. */
#ifndef KVMINI_DOCTOR_H
#define KVMINI_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "../devices/base/log.h"
#include "host.h"

/* A check's outcome. SKIP: it could not be made (what it needs failed first); it fails nothing. */
enum doctor_result {
	DOCTOR_PASS,
	DOCTOR_WARN, /* kvmini runs, without something it would use; the finding says what it does then */
	DOCTOR_FAIL, /* kvmini cannot run a VM here (or not as asked) until it is fixed */
	DOCTOR_SKIP,
};

#define DOCTOR_TEXT	  320 /* a finding, a cause or a fix: one line */
#define DOCTOR_MAX_CHECKS 32

/* One check: its layer, name, result and one-line finding; for WARN and FAIL, the usual cause and the fix. */
struct doctor_check {
	enum layer layer;
	const char *name; /* "virtualisation extensions": a string constant */
	enum doctor_result result;
	char finding[DOCTOR_TEXT];
	char cause[DOCTOR_TEXT]; /* "" for PASS and SKIP */
	char fix[DOCTOR_TEXT];
};

/* Every check made, in the order made; printed by layer. */
struct doctor_report {
	struct doctor_check checks[DOCTOR_MAX_CHECKS];
	unsigned int n;
	struct doctor_check spare; /* what doctor_add hands out once (checks) is full: never reported */
};

/* What `kvmini run --cgroup` needs of cgroup v2, as read from the host. */
struct doctor_cgroup {
	const char *fs_type;	 /* what /sys/fs/cgroup is: "cgroup2", "tmpfs", "sysfs", ... */
	const char *dir;	 /* this process's cgroup directory, NULL when /proc/self/cgroup names none */
	const char *controllers; /* its cgroup.controllers, NULL when unreadable */
	bool writable;		 /* this process may create cgroups in (dir) */
};

/* doctor_result_name: "PASS", "WARN", "FAIL" or "SKIP". */
const char *doctor_result_name(enum doctor_result r);
/*
 * doctor_add: a new check named (name) of layer (l) in (rep), SKIP with no finding until set; when
 * (rep) is full, a scratch check that is not reported (never NULL).
 */
struct doctor_check *doctor_add(struct doctor_report *rep, enum layer l, const char *name);
/* doctor_set: (c)'s result (r) and finding, printf-style; cause and fix emptied. Returns (c). */
struct doctor_check *doctor_set(struct doctor_check *c, enum doctor_result r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* doctor_why: (c)'s usual cause and its fix, each one line (NULL: left empty). */
void doctor_why(struct doctor_check *c, const char *cause, const char *fix);

/*
 * doctor_classify_cpu: the L-0 verdict on the CPU's virtualisation extensions from the host's facts
 * (f) and what they say (c): PASS for hardware or nested KVM, FAIL for PVM (guest kernel code is
 * emulated) and for no extensions or no vendor module, WARN where the reports leave doubt.
 */
void doctor_classify_cpu(const struct host_facts *f, const struct host_class *c, struct doctor_check *out);
/*
 * doctor_classify_paging: the L-0 verdict on nested paging: (param) is the contents of the vendor
 * module's parameter (kvm_amd's npt, kvm_intel's ept; NULL when unreadable), (c) which module backs KVM.
 */
void doctor_classify_paging(const struct host_class *c, const char *param, struct doctor_check *out);
/* doctor_classify_landlock: the L-3 verdict on Landlock from sandbox_landlock_abi()'s answer (abi). */
void doctor_classify_landlock(int abi, struct doctor_check *out);
/*
 * doctor_classify_namespace: the L-3 verdict on namespace (name) ("user", "mount", "PID", "network"):
 * (had) whether a device process got it, (why) sandbox_spawn's notes on what it did not get, (user)
 * whether it got a user namespace (without one the others need root).
 */
void doctor_classify_namespace(const char *name, bool had, const char *why, bool user,
			       struct doctor_check *out);
/* doctor_classify_cgroup: the L-3 verdicts on cgroup v2 from (g): mounted into (mounted), delegated into (delegated). */
void doctor_classify_cgroup(const struct doctor_cgroup *g, struct doctor_check *mounted,
			    struct doctor_check *delegated);

/* doctor_status: the exit status for (rep): 1 when any check failed, else 0. */
int doctor_status(const struct doctor_report *rep);
/* doctor_print: (rep) as a table on (out), by layer, each WARN and FAIL with its cause and fix, then the summary line. */
void doctor_print(const struct doctor_report *rep, FILE *out);
/* doctor_print_json: (rep) as one JSON object on (out) (kvm_device: (path)). Returns 0 or -ENOMEM. */
int doctor_print_json(const struct doctor_report *rep, const char *path, FILE *out);

/* doctor_main: "kvmini doctor [--json] [--canary] [--kvm-device PATH]"; exit 0 with no FAIL, 1 with one, 2 on a usage error. */
int doctor_main(int argc, char **argv);

#endif
