/* host.c: what kind of KVM this host offers (L-0), told from what the host reports. */
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "arch.h"
#include "../devices/base/log.h"
#include "probe.h"

#define HOST_TEXT_MAX (64u << 10) /* of /proc/cpuinfo: the first CPU's lines are all that is read */
#define PVM_FIX	      HOST_PVM_FIX " instead; --allow-pvm tries anyway"

/* Whether (word) stands in (line) as a whole word (separated by blanks or at either end). */
static bool has_word(const char *line, size_t len, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = line; p + n <= line + len; p++) {
		bool starts = p == line || p[-1] == ' ' || p[-1] == '\t' || p[-1] == ':';
		bool ends = p + n == line + len || p[n] == ' ' || p[n] == '\t' || p[n] == '\n';

		if (starts && ends && memcmp(p, word, n) == 0)
			return true;
	}
	return false;
}

/* The value of a "key<tabs>: value" line of (line) if its key is (key), else NULL. */
static const char *cpuinfo_value(const char *line, size_t len, const char *key)
{
	size_t n = strlen(key);
	const char *colon;

	if (len < n || strncmp(line, key, n) != 0 || (line[n] != '\t' && line[n] != ' ' && line[n] != ':'))
		return NULL;
	colon = memchr(line, ':', len);
	if (!colon)
		return NULL;
	return colon[1] == ' ' ? colon + 2 : colon + 1;
}

void host_parse_cpuinfo(struct host_facts *f, const char *text)
{
	bool seen_flags = false;

	while (*text) {
		size_t len = strcspn(text, "\n");
		const char *v;

		if (!seen_flags && (v = cpuinfo_value(text, len, "flags"))) {
			size_t vlen = len - (size_t)(v - text);

			f->svm = has_word(v, vlen, "svm");
			f->vmx = has_word(v, vlen, "vmx");
			f->hypervisor = f->hypervisor || has_word(v, vlen, "hypervisor");
			seen_flags = true; /* the first CPU speaks for all */
		} else if (!f->model[0] && (v = cpuinfo_value(text, len, "model name"))) {
			snprintf(f->model, sizeof(f->model), "%.*s", (int)(len - (size_t)(v - text)), v);
		}
		text += len + (text[len] == '\n');
	}
}

void host_parse_modules(struct host_facts *f, const char *text)
{
	while (*text) {
		size_t len = strcspn(text, " \n");

		if (len == 3 && strncmp(text, "kvm", 3) == 0)
			f->kvm = true;
		else if (len == 7 && strncmp(text, "kvm_amd", 7) == 0)
			f->kvm_amd = true;
		else if (len == 9 && strncmp(text, "kvm_intel", 9) == 0)
			f->kvm_intel = true;
		else if (len == 7 && strncmp(text, "kvm_pvm", 7) == 0)
			f->kvm_pvm = true;
		text += strcspn(text, "\n"); /* the name is each line's first word */
		text += *text == '\n';
	}
}

void host_parse_cpuid_sig(struct host_facts *f, uint32_t leaf, uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	char sig[HOST_SIG_LEN + 1] = "";
	size_t n;

	memcpy(sig, &ebx, 4);
	memcpy(sig + 4, &ecx, 4);
	memcpy(sig + 8, &edx, 4);
	for (n = 0; n < HOST_SIG_LEN && sig[n] >= ' ' && sig[n] <= '~'; n++)
		;
	sig[n] = '\0';
	if (leaf == 0x40000000u)
		memcpy(f->hv_sig, sig, sizeof(sig));
	if (strstr(sig, "PVM"))
		f->pvm_sig = true;
}

/* Up to HOST_TEXT_MAX bytes of (path), NUL-terminated, or NULL. /proc files have no size to ask for. */
static char *read_text(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = fd < 0 ? NULL : malloc(HOST_TEXT_MAX + 1);
	size_t used = 0;

	while (buf && used < HOST_TEXT_MAX) {
		ssize_t n = read(fd, buf + used, HOST_TEXT_MAX - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	if (buf)
		buf[used] = '\0';
	return buf;
}

static bool module_present(const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return stat(path, &st) == 0;
}

/* The hypervisor leaves a guest sees: 0x40000000 and the ones above it, 0x100 apart, as Linux scans. */
void host_gather_hypervisor(struct host_facts *f)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned int a, b, c, d;

	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 31)))
		return;
	f->hypervisor = true;
	for (uint32_t leaf = 0x40000000u; leaf < 0x40010000u; leaf += 0x100) {
		__cpuid(leaf, a, b, c, d);
		if (a < leaf || a > leaf + 0xff)
			continue; /* no leaf block here */
		host_parse_cpuid_sig(f, leaf, b, c, d);
	}
#else
	(void)f;
#endif
}

int host_gather(struct host_facts *f)
{
	char *text = read_text("/proc/cpuinfo");
	struct stat st;

	memset(f, 0, sizeof(*f));
	if (!text)
		return -errno;
	host_parse_cpuinfo(f, text);
	free(text);
	text = read_text("/proc/modules");
	if (text)
		host_parse_modules(f, text);
	free(text);
	/* Built into the kernel, a module is in /sys/module but not /proc/modules. */
	f->kvm = f->kvm || module_present("kvm");
	f->kvm_amd = f->kvm_amd || module_present("kvm_amd");
	f->kvm_intel = f->kvm_intel || module_present("kvm_intel");
	f->kvm_pvm = f->kvm_pvm || module_present("kvm_pvm");
	f->dev_kvm = stat("/dev/kvm", &st) == 0;
	f->el2 = strcmp(ARCH_NAME, "arm64") == 0 && f->dev_kvm && f->kvm;
	return 0;
}

void host_classify(const struct host_facts *f, struct host_class *c)
{
	bool vendor_loaded = (f->svm && f->kvm_amd) || (f->vmx && f->kvm_intel);

	*c = (struct host_class){ .kind = HOST_KVM_NONE };
	c->extension = f->svm ? "AMD-V (svm)" : f->vmx ? "VT-x (vmx)" : NULL;
	if (f->kvm_pvm && !f->kvm_amd && !f->kvm_intel) {
		c->kind = HOST_KVM_PVM;
		c->module = "kvm_pvm";
	} else if (f->kvm_pvm) {
		c->kind = HOST_KVM_UNKNOWN; /* which of the two backs /dev/kvm cannot be read from here */
	} else if (f->el2) {
		/* arm64 has no cpuinfo flag for EL2, nor a way to tell here whether a hypervisor is below. */
		c->kind = HOST_KVM_HARDWARE;
		c->extension = "EL2 (arm64 virtualisation)";
		c->module = "kvm";
		c->stage2 = true;
	} else if (vendor_loaded) {
		c->kind = f->hypervisor ? HOST_KVM_NESTED : HOST_KVM_HARDWARE;
		c->module = f->svm ? "kvm_amd" : "kvm_intel";
	} else if (f->kvm || f->kvm_amd || f->kvm_intel) {
		c->kind = HOST_KVM_UNKNOWN; /* KVM without the extension its module needs */
	}
}

const char *host_kind_name(enum host_kvm_kind kind)
{
	switch (kind) {
	case HOST_KVM_HARDWARE:
		return "hardware-assisted";
	case HOST_KVM_NESTED:
		return "nested (hardware-assisted, under a hypervisor)";
	case HOST_KVM_PVM:
		return "PVM (shadow paging, no hardware virtualisation)";
	case HOST_KVM_UNKNOWN:
		return "unknown";
	case HOST_KVM_NONE:
		break;
	}
	return "none";
}

int host_check_kvm(const char *kernel, bool allow_pvm)
{
	struct host_facts f;
	struct host_class c;

	if (host_gather(&f) < 0)
		return 0; /* no facts: KVM's own checks decide */
	host_classify(&f, &c);
	log_layer(LOG_INFO, LAYER_HARDWARE, "KVM here is %s%s%s", host_kind_name(c.kind),
		  c.module ? ", module " : "", c.module ? c.module : "");
	if (c.kind != HOST_KVM_PVM)
		return 0;
	if (allow_pvm) {
		log_layer(
			LOG_WARN, LAYER_HARDWARE,
			"running on PVM as asked (--allow-pvm): every guest kernel instruction is emulated, "
			"so a stock kernel takes hours to boot, if it boots at all");
		return 0;
	}
	log_layer(
		LOG_ERR, LAYER_HARDWARE,
		"guest kernel %s cannot boot on this host's /dev/kvm in useful time: it is PVM (kvm_pvm), "
		"which has no hardware virtualisation and emulates every guest kernel instruction; " PVM_FIX,
		kernel);
	return -ENOTSUP;
}

struct host_report {
	struct host_facts f;
	struct host_class c;
	int canary; /* probe_canary()'s answer; 2 when it was not run */
	struct probe_result r;
};

/* One row of the summary: "L-0 CPU  ..." for a row of layer (l), or (name) alone where (l) is -1. */
static void print_row(int l, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void print_row(int l, const char *name, const char *fmt, ...)
{
	char label[32];
	va_list ap;

	snprintf(label, sizeof(label), "%s%s%s", l < 0 ? "" : layer_tag((enum layer)l), l < 0 ? "" : " ",
		 name);
	printf("%-16s", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void print_canary(const struct host_report *h)
{
	const struct probe_result *r = &h->r;
	double lm_ms = (double)r->start_ns / 1e6;
	uint64_t insns = r->iterations * PROBE_LOOP_INSNS;

	if (h->canary == 2)
		print_row(LAYER_HARDWARE, "canary", "not run");
	else if (h->canary < 0)
		print_row(LAYER_HARDWARE, "canary", "no VM could be made (see the error above)");
	else if (h->canary == 0)
		print_row(LAYER_HARDWARE, "canary",
			  ARCH_CANARY_START " in %.2f ms; %" PRIu64 " " ARCH_CANARY_MODE
					    " instructions in %.2f ms (%.2f ns each)",
			  lm_ms, insns, (double)r->loop_ns / 1e6, (double)r->loop_ns / (double)insns);
	else if (r->turns)
		print_row(LAYER_HARDWARE, "canary",
			  ARCH_CANARY_START " in %.2f ms; %" PRIu64 " " ARCH_CANARY_MODE
					    " instructions: %s after %" PRIu64 " in %.0f ms (%.0f ns each)",
			  lm_ms, insns, r->why, r->turns * PROBE_LOOP_INSNS, (double)r->loop_ns / 1e6,
			  (double)r->loop_ns / (double)(r->turns * PROBE_LOOP_INSNS));
	else if (r->stage >= PROBE_STAGE_LOOP)
		print_row(LAYER_HARDWARE, "canary",
			  ARCH_CANARY_START " in %.2f ms; %" PRIu64 " " ARCH_CANARY_MODE
					    " instructions not done: %s",
			  lm_ms, insns, r->why);
	else
		print_row(LAYER_HARDWARE, "canary", "%s before reaching long mode (last stage %u of %u)",
			  r->why, r->stage, PROBE_STAGE_DONE);
}

/* The verdict line; returns 0 when a stock guest kernel can run here. */
static int print_verdict(const struct host_report *h)
{
	if (h->c.kind == HOST_KVM_PVM) {
		print_row(-1, "verdict",
			  "a stock guest kernel cannot boot here in useful time: /dev/kvm is PVM, "
			  "which emulates guest kernel code; " PVM_FIX);
		return 1;
	}
	if (h->canary == 0) {
		print_row(-1, "verdict", "usable: KVM runs guest kernel code at hardware speed here");
		return 0;
	}
	if (h->c.stage2 && h->canary == 2) {
		print_row(-1, "verdict",
			  "usable: arm64 KVM at EL2 runs guest kernel code natively (no PVM exists there; "
			  "the canary was not run)");
		return 0;
	}
	if (h->c.kind == HOST_KVM_NONE || h->canary < 0)
		print_row(-1, "verdict", "no usable KVM here: %s",
			  h->c.extension
				  ? "load the KVM module (modprobe) or fix /dev/kvm as the error says"
				  : "enable VT-x/AMD-V (or nested virtualisation), or use scripts/kvm-env");
	else
		print_row(-1, "verdict",
			  "KVM here does not run guest kernel code at hardware speed (canary: %s); %s",
			  h->canary == 2 ? "not run" : h->r.why, PVM_FIX);
	return 1;
}

static void print_report(const struct host_report *h)
{
	const struct host_facts *f = &h->f;
	struct utsname u;

	printf("kvmini host: what this machine offers kvmini, by layer\n");
	print_row(LAYER_HARDWARE, "CPU", "%s; virtualisation extensions: %s",
		  f->model[0] ? f->model : "(no model name)",
		  h->c.extension ? h->c.extension : "none (neither svm nor vmx in /proc/cpuinfo)");
	if (h->c.stage2)
		print_row(LAYER_HARDWARE, "machine",
			  "a guest or not: arm64 does not say (no hypervisor CPUID bit)");
	else if (f->hypervisor)
		print_row(LAYER_HARDWARE, "machine", "a guest itself: hypervisor \"%s\" (CPUID 0x40000000)%s",
			  f->hv_sig, f->pvm_sig ? ", which offers PVM" : "");
	else
		print_row(LAYER_HARDWARE, "machine", "not a guest (no hypervisor CPUID bit)");
	print_row(LAYER_HARDWARE, "KVM", "%s: %s%s%s", f->dev_kvm ? "/dev/kvm" : "no /dev/kvm",
		  host_kind_name(h->c.kind), h->c.module ? ", module " : "", h->c.module ? h->c.module : "");
	print_canary(h);
	if (uname(&u) == 0)
		print_row(-1, "host kernel", "%s %s", u.release, u.machine);
}

static const struct option host_options[] = {
	{ "quiet", no_argument, NULL, 'q' },
	{ "no-canary", no_argument, NULL, 'n' },
	{ "kvm-device", required_argument, NULL, 'K' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char host_usage[] =
	"usage: kvmini host [-q] [--no-canary] [--kvm-device PATH]\n"
	"\n"
	"What this machine offers kvmini, by layer: the CPU's virtualisation extensions, whether it is\n"
	"itself a guest, which KVM backs /dev/kvm (hardware, nested, PVM), and a canary guest that goes\n"
	"to kernel mode (x86: from real mode to long mode) and times its code there. Exit status 0 when\n"
	"a stock guest kernel can run here at hardware speed, 1 when not, 2 on a usage error.\n"
	"  -q, --quiet       the verdict line only\n"
	"      --no-canary   judge from the host's reports alone\n";

int host_main(int argc, char **argv)
{
	static struct host_report h; /* one per process */
	const char *path = "/dev/kvm";
	bool quiet = false, canary = true;
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "qh", host_options, NULL)) != -1) {
		if (opt == 'q') {
			quiet = true;
		} else if (opt == 'n') {
			canary = false;
		} else if (opt == 'K') {
			path = optarg;
		} else if (opt == 'h') {
			fputs(host_usage, stdout);
			return 0;
		} else {
			log_err("host: unknown option or missing value '%s': see 'kvmini host --help'",
				argv[optind - 1]);
			return 2;
		}
	}
	if (host_gather(&h.f) < 0) {
		log_layer(LOG_ERR, LAYER_HARDWARE, "cannot read /proc/cpuinfo: %s", strerror(errno));
		return 2;
	}
	host_gather_hypervisor(&h.f);
	host_classify(&h.f, &h.c);
	h.canary = 2;
	if (canary && h.f.dev_kvm)
		h.canary = probe_canary(path, PROBE_ITERATIONS, PROBE_LIMIT_MS, &h.r);
	if (!quiet)
		print_report(&h);
	return print_verdict(&h);
}
