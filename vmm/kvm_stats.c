/* kvm_stats.c: reading KVM's binary statistics (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD). */
#include "kvm_stats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char *const names[KVM_STAT_COUNT] = {
	[KVM_STAT_EXITS] = "exits",
	[KVM_STAT_IRQ_INJECTIONS] = "irq_injections",
	[KVM_STAT_NMI_INJECTIONS] = "nmi_injections",
	[KVM_STAT_HALT_EXITS] = "halt_exits",
	[KVM_STAT_IRQ_EXITS] = "irq_exits",
	[KVM_STAT_IO_EXITS] = "io_exits",
	[KVM_STAT_MMIO_EXITS] = "mmio_exits",
	[KVM_STAT_SIGNAL_EXITS] = "signal_exits",
	[KVM_STAT_INSN_EMULATION] = "insn_emulation",
};

/* Descriptors past this many are not looked at: KVM has about sixty per vCPU. */
#define MAX_DESCRIPTORS 1024

const char *kvm_stats_name(enum kvm_stat which)
{
	return which < KVM_STAT_COUNT ? names[which] : "?";
}

/* Notes where descriptor (d), named (name), keeps its value, when it is one kvmini reads. */
static void note(struct kvm_stats *s, const struct kvm_stats_desc *d, const char *name)
{
	/* One cumulative or instant 64-bit value: a histogram is not a counter. */
	if (d->size != 1 || (d->flags & KVM_STATS_TYPE_MASK) > KVM_STATS_TYPE_PEAK)
		return;
	for (unsigned int i = 0; i < KVM_STAT_COUNT; i++)
		if (strcmp(name, names[i]) == 0) {
			s->offset[i] = d->offset;
			s->have[i] = 1;
		}
}

int kvm_stats_open(struct kvm_stats *s, int fd)
{
	struct kvm_stats_header h;
	size_t each;
	char *buf = NULL;
	int ret = 0;

	memset(s, 0, sizeof(*s));
	s->fd = ioctl(fd, KVM_GET_STATS_FD, NULL);
	if (s->fd < 0)
		return s->fd = -1, -errno;
	if (pread(s->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.name_size == 0 || h.name_size > 4096 ||
	    h.num_desc > MAX_DESCRIPTORS) {
		ret = -EPROTO;
		goto fail;
	}
	each = sizeof(struct kvm_stats_desc) + h.name_size;
	buf = malloc(each * h.num_desc);
	if (!buf) {
		ret = -ENOMEM;
		goto fail;
	}
	if (pread(s->fd, buf, each * h.num_desc, h.desc_offset) != (ssize_t)(each * h.num_desc)) {
		ret = -EPROTO;
		goto fail;
	}
	for (uint32_t i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc d;

		memcpy(&d, buf + i * each, sizeof(d)); /* the fixed part, aligned */
		buf[i * each + each - 1] = '\0';       /* the name ends within its room */
		note(s, &d, buf + i * each + sizeof(d));
	}
	s->data_offset = h.data_offset;
	free(buf);
	return 0;
fail:
	free(buf);
	close(s->fd);
	s->fd = -1;
	return ret;
}

uint64_t kvm_stats_read(const struct kvm_stats *s, enum kvm_stat which)
{
	uint64_t v;

	if (s->fd < 0 || which >= KVM_STAT_COUNT || !s->have[which] ||
	    pread(s->fd, &v, sizeof(v), (off_t)s->data_offset + s->offset[which]) != (ssize_t)sizeof(v))
		return KVM_STAT_NONE;
	return v;
}

void kvm_stats_close(struct kvm_stats *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
