/* kvm.c: opening /dev/kvm, and saying which layer is missing when that fails. */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch.h"
#include "host.h"
#include "../devices/base/log.h"

const struct kvm_cap kvm_required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM is host memory" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts through eventfds" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "device kicks through eventfds" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", "MSI-X messages routed to irqfds" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping vCPUs without races" },
	ARCH_KVM_CAPS, /* the architecture's own (arch.h) */
};
const unsigned int kvm_nr_required_caps = sizeof(kvm_required_caps) / sizeof(kvm_required_caps[0]);

/* Reads one line of (path) into (buf); returns 0 or -errno. */
static int read_first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	return 0;
}

/* Why (path) is missing, from the bottom layer up, by the host's own reports, into (w). */
static void explain_missing(const char *path, struct kvm_why *w)
{
	struct host_facts f;
	const char *mod;
	char buf[16];

	if (host_gather(&f) < 0)
		memset(&f, 0, sizeof(f));
	mod = f.svm ? "kvm_amd" : f.vmx ? "kvm_intel" : NULL;
	if (!mod && !f.kvm_pvm) {
		snprintf(w->cause, sizeof(w->cause),
			 "this CPU shows no virtualisation extensions (no svm or vmx flag in "
			 "/proc/cpuinfo), so %s cannot exist",
			 path);
		snprintf(
			w->fix, sizeof(w->fix),
			"enable AMD-V/VT-x in the firmware, or, where there are none, run under scripts/kvm-env");
	} else if (mod && !f.kvm_pvm && (!f.kvm || !(f.svm ? f.kvm_amd : f.kvm_intel))) {
		snprintf(w->cause, sizeof(w->cause), "the %s module is not loaded, so %s is missing",
			 f.kvm ? mod : "kvm", path);
		snprintf(w->fix, sizeof(w->fix),
			 "run 'modprobe %s' as root (if it fails, see dmesg: virtualisation may be disabled "
			 "in the firmware)",
			 mod);
	} else if (read_first_line("/sys/class/misc/kvm/dev", buf, sizeof(buf)) == 0) {
		char *colon = strchr(buf, ':');

		if (colon)
			*colon = ' '; /* "10:232" there; mknod takes major and minor apart */
		snprintf(w->cause, sizeof(w->cause), "%s is missing although KVM is loaded", path);
		snprintf(w->fix, sizeof(w->fix), "create it with 'mknod %s c %.*s' or let udev do it", path,
			 (int)strcspn(buf, "\n"), buf);
	} else {
		snprintf(w->cause, sizeof(w->cause), "%s does not exist", path);
	}
}

void kvm_explain_open(const char *path, int err, struct kvm_why *w)
{
	*w = (struct kvm_why){ .cause = "" };
	if (err == ENOENT) {
		explain_missing(path, w);
	} else if (err == EACCES || err == EPERM) {
		snprintf(w->cause, sizeof(w->cause), "no permission to open %s", path);
		snprintf(w->fix, sizeof(w->fix),
			 "add your user to its group ('sudo usermod -aG kvm $USER', then log in again) or "
			 "run as root");
	} else {
		snprintf(w->cause, sizeof(w->cause), "cannot open %s: %s", path, strerror(err));
	}
}

static int open_device(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int err = errno;
	struct kvm_why w;

	if (fd >= 0)
		return fd;
	kvm_explain_open(path, err, &w);
	log_layer(LOG_ERR, LAYER_HARDWARE, "%s%s%s", w.cause, w.fix[0] ? ": " : "", w.fix);
	return -err;
}

int kvm_missing_caps(int fd, char *buf, size_t len)
{
	size_t used = 0;
	int n = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned int i = 0; i < kvm_nr_required_caps; i++) {
		const struct kvm_cap *c = &kvm_required_caps[i];

		if (ioctl(fd, KVM_CHECK_EXTENSION, c->id) > 0)
			continue;
		n++;
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s (%s)", used ? ", " : "",
						 c->name, c->why);
	}
	return n;
}

int kvm_max_vcpus(int fd)
{
	int n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (n <= 0)
		n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	return n > 0 ? n : 4; /* the documented floor when neither is reported */
}

static int check_caps(struct kvm *k)
{
	char missing[512];

	if (kvm_missing_caps(k->fd, missing, sizeof(missing)) == 0)
		return 0;
	log_layer(LOG_ERR, LAYER_HARDWARE,
		  "this kernel's KVM lacks capabilities kvmini needs: %s; use a newer "
		  "host kernel",
		  missing);
	return -ENOTSUP;
}

int kvm_open(struct kvm *k, const char *path)
{
	int ret;

	memset(k, 0, sizeof(*k));
	k->fd = open_device(path);
	if (k->fd < 0)
		return k->fd;
	ret = ioctl(k->fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		log_layer(LOG_ERR, LAYER_HARDWARE,
			  "%s is not a usable KVM device (KVM_GET_API_VERSION gave %d, want %d)", path, ret,
			  KVM_API_VERSION);
		ret = -ENOTSUP;
		goto fail;
	}
	ret = check_caps(k);
	if (ret)
		goto fail;
	k->vcpu_mmap_size = ioctl(k->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	k->max_vcpus = kvm_max_vcpus(k->fd);
	k->tsc_deadline = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	k->ioeventfd_any_length = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0;
	if (k->vcpu_mmap_size <= 0) {
		log_layer(LOG_ERR, LAYER_HARDWARE, "KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
		ret = -ENOTSUP;
		goto fail;
	}
	return 0;
fail:
	close(k->fd);
	k->fd = -1;
	return ret;
}

void kvm_close(struct kvm *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}
