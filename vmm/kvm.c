/* kvm.c: opening /dev/kvm, and saying which layer is missing when that fails. */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "host.h"
#include "../devices/base/log.h"

struct cap {
	int id;
	const char *name;
	const char *why;
};

static const struct cap required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM is host memory" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel PIC, IOAPIC and LAPICs" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel PIT" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "TSS placement" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "CPUID from KVM_GET_SUPPORTED_CPUID" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts through eventfds" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "device kicks through eventfds" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", "MSI-X messages routed to irqfds" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping vCPUs without races" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", "application processors wait for INIT/SIPI" },
};

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

/* Why (path) is missing, from the bottom layer up, by the host's own reports. */
static void explain_missing(const char *path)
{
	struct host_facts f;
	const char *mod;
	char buf[8];

	if (host_gather(&f) < 0)
		memset(&f, 0, sizeof(f));
	mod = f.svm ? "kvm_amd" : f.vmx ? "kvm_intel" : NULL;
	if (!mod) {
		log_layer(LOG_ERR, LAYER_HARDWARE,
			  "this CPU shows no virtualisation extensions (no svm or vmx flag in "
			  "/proc/cpuinfo), so %s cannot exist: enable AMD-V/VT-x in the firmware, or, where "
			  "there are none, run under scripts/kvm-env",
			  path);
		return;
	}
	if (!f.kvm || !(f.svm ? f.kvm_amd : f.kvm_intel)) {
		log_layer(LOG_ERR, LAYER_HARDWARE,
			  "the %s module is not loaded, so %s is missing: run 'modprobe %s' as "
			  "root (if it fails, see dmesg: virtualisation may be disabled in the firmware)",
			  f.kvm ? mod : "kvm", path, mod);
		return;
	}
	if (read_first_line("/sys/class/misc/kvm/dev", buf, sizeof(buf)) == 0)
		log_layer(LOG_ERR, LAYER_HARDWARE,
			  "%s is missing although KVM is loaded: create it with 'mknod %s c %.*s' "
			  "or let udev do it",
			  path, path, (int)strcspn(buf, "\n"), buf);
	else
		log_layer(LOG_ERR, LAYER_HARDWARE, "%s does not exist", path);
}

static int open_device(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int err = errno;

	if (fd >= 0)
		return fd;
	if (err == ENOENT)
		explain_missing(path);
	else if (err == EACCES || err == EPERM)
		log_layer(LOG_ERR, LAYER_HARDWARE,
			  "no permission to open %s: add your user to its group ('sudo usermod "
			  "-aG kvm $USER', then log in again) or run as root",
			  path);
	else
		log_layer(LOG_ERR, LAYER_HARDWARE, "cannot open %s: %s", path, strerror(err));
	return -err;
}

static int check_caps(struct kvm *k)
{
	char missing[512] = "";
	size_t used = 0;

	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		const struct cap *c = &required_caps[i];

		if (ioctl(k->fd, KVM_CHECK_EXTENSION, c->id) > 0)
			continue;
		used += (size_t)snprintf(missing + used, sizeof(missing) - used, "%s%s (%s)",
					 used ? ", " : "", c->name, c->why);
		if (used >= sizeof(missing))
			break;
	}
	if (used) {
		log_layer(LOG_ERR, LAYER_HARDWARE,
			  "this kernel's KVM lacks capabilities kvmini needs: %s; use a newer "
			  "host kernel",
			  missing);
		return -ENOTSUP;
	}
	return 0;
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
	k->max_vcpus = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = 4; /* the documented floor when neither is reported */
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
