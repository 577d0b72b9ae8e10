/* control.c: the VM's side of the API socket: stats, inspect by layer, pause, resume and quit. */
#include "control.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../devices/base/log.h"
#include "arch.h"
#include "thread_filter.h"
#include "vm.h"

static void put_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static void put_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

/* A KVM counter, or null where this KVM has none. */
static void put_kvm_stat(struct json_object *o, const char *key, const struct kvm_stats *s, enum kvm_stat w)
{
	uint64_t v = kvm_stats_read(s, w);

	json_object_object_add(o, key, v == KVM_STAT_NONE ? NULL : json_object_new_uint64(v));
}

static bool paused(struct vm *vm)
{
	return atomic_load(&vm->pause.requested);
}

void control_gather(struct vm *vm, struct control_facts *f)
{
	struct host_facts hf;

	memset(f, 0, sizeof(*f));
	if (host_gather(&hf) == 0) {
		host_classify(&hf, &f->host);
		f->host_known = true;
	}
	f->api_version = vm->kvm.fd >= 0 ? ioctl(vm->kvm.fd, KVM_GET_API_VERSION, 0) : -1;
	if (cgroup_of(0, f->cgroup, sizeof(f->cgroup)) < 0)
		f->cgroup[0] = '\0';
	f->pid = getpid();
	f->vcpu_syscalls = thread_filter_vcpu_count();
}

/* ---- Devices ---- */

static const char *served_by(const struct vm_device *d)
{
	if (d->virtio.local_ready)
		return "in-process";
	return d->virtio.proc.launcher ? "process" : "vhost-user";
}

/* A counter of (d)'s: null where nothing counts its queues (a back end someone else runs). */
static struct json_object *count(const struct vm_device *d, uint64_t v)
{
	return d->virtio.counters ? json_object_new_uint64(v) : NULL;
}

/* Queue (qi)'s counters. */
static void put_queue_counters(struct json_object *o, const struct vm_device *d, unsigned int qi)
{
	struct virtio_queue_counts c;

	virtio_counters_read(d->virtio.counters, qi, &c);
	json_object_object_add(o, "kicks", count(d, c.kicks));
	json_object_object_add(o, "signals", count(d, c.signals));
	json_object_object_add(o, "chains", count(d, c.chains));
}

static void put_pid(struct json_object *o, const struct vm_device *d)
{
	json_object_object_add(o, "pid", d->virtio.proc.pid ? json_object_new_int(d->virtio.proc.pid) : NULL);
}

/* ---- GET /stats ---- */

static struct json_object *vcpu_stats(const struct vcpu *v)
{
	struct json_object *o = json_object_new_object(), *exits = json_object_new_object();
	struct vcpu_thread_stat st;
	uint64_t total = 0;

	json_object_object_add(o, "id", json_object_new_int((int)v->id));
	json_object_object_add(o, "tid", json_object_new_int(atomic_load(&v->tid)));
	for (unsigned int r = 0; r < VCPU_EXIT_REASONS; r++) {
		uint64_t n = atomic_load_explicit(&v->exits[r], memory_order_relaxed);

		if (n)
			put_u64(exits, vcpu_exit_name(r), n);
		total += n;
	}
	put_u64(o, "exits_total", total);
	json_object_object_add(o, "exits", exits);
	if (vcpu_thread_stat(v, &st) == 0) {
		put_u64(o, "guest_ns", st.guest_ns);
		put_u64(o, "vmm_ns", st.user_ns);
		put_u64(o, "kernel_ns", st.kernel_ns);
	} else {
		json_object_object_add(o, "guest_ns", NULL);
		json_object_object_add(o, "vmm_ns", NULL);
		json_object_object_add(o, "kernel_ns", NULL);
	}
	put_kvm_stat(o, "irq_injections", &v->kstats, KVM_STAT_IRQ_INJECTIONS);
	put_kvm_stat(o, "kvm_exits", &v->kstats, KVM_STAT_EXITS);
	put_kvm_stat(o, "halt_exits", &v->kstats, KVM_STAT_HALT_EXITS);
	return o;
}

static struct json_object *get_stats(struct vm *vm)
{
	struct json_object *o = json_object_new_object(), *vcpus = json_object_new_array(),
			   *devs = json_object_new_array(), *unclaimed = json_object_new_object();

	put_str(o, "state", paused(vm) ? "Paused" : "Running");
	put_u64(o, "uptime_ns", vm_now_ns() - vm->cfg->start_ns);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		json_object_array_add(vcpus, vcpu_stats(&vm->vcpus[i]));
	json_object_object_add(o, "vcpus", vcpus);
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		const struct vm_device *d = &vm->devices[i];
		struct json_object *dev = json_object_new_object(), *queues = json_object_new_array();
		char type[32];

		vm_device_type(d, type, sizeof(type));
		put_str(dev, "name", d->name);
		put_str(dev, "type", type);
		put_str(dev, "served_by", served_by(d));
		put_pid(dev, d);
		for (unsigned int q = 0; q < vm_device_queues(d); q++) {
			struct json_object *qo = json_object_new_object();

			json_object_object_add(qo, "index", json_object_new_int((int)q));
			put_queue_counters(qo, d, q);
			json_object_array_add(queues, qo);
		}
		json_object_object_add(dev, "queues", queues);
		json_object_array_add(devs, dev);
	}
	json_object_object_add(o, "devices", devs);
	put_u64(unclaimed, "pio", atomic_load(&vm->pio.unclaimed));
	put_u64(unclaimed, "mmio", atomic_load(&vm->mmio.unclaimed));
	json_object_object_add(o, "unclaimed", unclaimed);
	return o;
}

/* ---- GET /inspect: L-0 ---- */

/*
 * Pages of slot (s) the guest wrote since the last call (KVM's dirty log, which KVM_GET_DIRTY_LOG
 * clears), or null with (s) switched to logging where it was not: the first call starts the count.
 */
static struct json_object *dirty_pages(struct vm *vm, struct registry_slot *s)
{
	size_t pages = s->size / 4096, words = (pages + 63) / 64;
	struct kvm_dirty_log log = { .slot = s->slot };
	uint64_t *bitmap, n = 0;

	if (!(s->flags & KVM_MEM_LOG_DIRTY_PAGES)) {
		struct kvm_userspace_memory_region region = {
			.slot = s->slot,
			.flags = s->flags | KVM_MEM_LOG_DIRTY_PAGES,
			.guest_phys_addr = s->guest_phys,
			.memory_size = s->size,
			.userspace_addr = s->host_addr,
		};

		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
			log_layer(LOG_WARN, LAYER_HARDWARE,
				  "cannot start KVM's dirty log on memory slot %u: %s", s->slot,
				  strerror(errno));
			return NULL;
		}
		s->flags = region.flags;
		registry_slot(&vm->registry, s);
		return NULL;
	}
	bitmap = calloc(words ? words : 1, sizeof(*bitmap));
	if (!bitmap)
		return NULL;
	log.dirty_bitmap = bitmap;
	if (ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log) == 0) {
		for (size_t i = 0; i < words; i++)
			n += (uint64_t)__builtin_popcountll(bitmap[i]);
	} else {
		log_layer(LOG_WARN, LAYER_HARDWARE, "KVM_GET_DIRTY_LOG on memory slot %u: %s", s->slot,
			  strerror(errno));
		free(bitmap);
		return NULL;
	}
	free(bitmap);
	return json_object_new_uint64(n);
}

static const char *kvm_kind(const struct control_facts *f)
{
	static const char *const kinds[] = {
		[HOST_KVM_NONE] = "none", [HOST_KVM_HARDWARE] = "hardware", [HOST_KVM_NESTED] = "nested",
		[HOST_KVM_PVM] = "PVM",	  [HOST_KVM_UNKNOWN] = "unknown",
	};

	return f->host_known && f->host.kind <= HOST_KVM_UNKNOWN ? kinds[f->host.kind] : "unknown";
}

static struct json_object *inspect_l0(struct vm *vm, const struct control_facts *f, bool dirty)
{
	static struct registry reg; /* large: a copy, off the stack; only the main thread inspects */
	struct json_object *o = json_object_new_object(), *kvm = json_object_new_object(),
			   *mem = json_object_new_array();

	put_str(kvm, "kind", kvm_kind(f));
	put_str(kvm, "module", f->host_known ? f->host.module : NULL);
	json_object_object_add(kvm, "api_version", json_object_new_int(f->api_version));
	put_str(kvm, "paging", f->host_known && f->host.kind == HOST_KVM_PVM ? "shadow" : "nested (EPT/NPT)");
	json_object_object_add(o, "kvm", kvm);
	registry_copy(&vm->registry, &reg);
	for (unsigned int i = 0; i < reg.nr_slots; i++) {
		struct registry_slot *s = &reg.slots[i];
		struct json_object *so = json_object_new_object(), *flags = json_object_new_array(), *d;
		char backing[48];

		d = dirty ? dirty_pages(vm, s) : NULL;
		json_object_object_add(so, "slot", json_object_new_int((int)s->slot));
		put_u64(so, "guest_phys", s->guest_phys);
		put_u64(so, "size", s->size);
		put_u64(so, "host_addr", s->host_addr);
		snprintf(backing, sizeof(backing), "memfd:kvmini-guest-ram+0x%" PRIx64, s->fd_offset);
		put_str(so, "backing", backing);
		if (s->flags & KVM_MEM_LOG_DIRTY_PAGES)
			json_object_array_add(flags, json_object_new_string("log-dirty"));
		if (s->flags & KVM_MEM_READONLY)
			json_object_array_add(flags, json_object_new_string("readonly"));
		json_object_object_add(so, "flags", flags);
		json_object_object_add(so, "dirty_pages", d);
		json_object_array_add(mem, so);
	}
	json_object_object_add(o, "memory", mem);
	arch_layout_json(o);
	return o;
}

/* ---- L-1 ---- */

static struct json_object *inspect_l1(struct vm *vm)
{
	struct json_object *o = json_object_new_object(), *vcpus = json_object_new_array();

	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct json_object *vo = vcpu_stats(v);
		struct vcpu_thread_stat st;
		struct vcpu_snapshot snap;
		char sched[2] = { 0 };
		int ret;

		put_str(vo, "state", vcpu_state_name(v));
		if (vcpu_thread_stat(v, &st) == 0) {
			sched[0] = st.state;
			json_object_object_add(vo, "host_cpu", json_object_new_int(st.cpu));
			put_str(vo, "sched_state", sched);
		}
		put_str(vo, "last_exit", vcpu_exit_name(atomic_load(&v->last_exit)));
		ret = vcpu_snapshot(v, CONTROL_SNAPSHOT_MS, &snap);
		if (ret == 0) {
			arch_regs_json(&snap.regs, vo);
		} else {
			char why[128];

			snprintf(why, sizeof(why), "%s",
				 ret == -ETIMEDOUT ? "L-1: the vCPU did not hand over its registers in time "
						     "(its thread is busy or starved)"
						   : strerror(-ret));
			json_object_object_add(vo, "regs", NULL);
			put_str(vo, "regs_error", why);
		}
		json_object_array_add(vcpus, vo);
	}
	json_object_object_add(o, "vcpus", vcpus);
	return o;
}

/* ---- L-2 ---- */

/* Device and queue whose kick eventfd is (fd): 0, or -1 when none has it. */
static int find_kick(struct vm *vm, int fd, unsigned int *dev, unsigned int *queue)
{
	for (unsigned int i = 0; i < vm->nr_devices; i++)
		for (unsigned int q = 0; q < vm_device_queues(&vm->devices[i]); q++)
			if (vm->devices[i].virtio.vp.q[q].kick_fd == fd) {
				*dev = i;
				*queue = q;
				return 0;
			}
	return -1;
}

/* Device and MSI-X vector whose eventfd is (fd): 0, or -1 when none has it. */
static int find_vector(struct vm *vm, int fd, unsigned int *dev, unsigned int *vector)
{
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		const struct vm_device *d = &vm->devices[i];

		for (unsigned int j = 0; d->virtio.vp_ready && j < d->virtio.vp.nr_vectors; j++)
			if (d->virtio.vp.vec[j].fd == fd) {
				*dev = i;
				*vector = j;
				return 0;
			}
	}
	return -1;
}

static struct json_object *ioeventfds(struct vm *vm, const struct registry *reg)
{
	struct json_object *a = json_object_new_array();

	for (unsigned int i = 0; i < reg->nr_ioeventfds; i++) {
		const struct registry_ioeventfd *e = &reg->ioeventfds[i];
		struct json_object *o = json_object_new_object();
		unsigned int d, q;

		put_u64(o, "addr", e->addr);
		put_u64(o, "len", e->len);
		put_str(o, "space", e->pio ? "pio" : "mmio");
		if (find_kick(vm, e->fd, &d, &q) == 0) {
			struct virtio_queue_counts c;

			virtio_counters_read(vm->devices[d].virtio.counters, q, &c);
			put_str(o, "device", vm->devices[d].name);
			json_object_object_add(o, "queue", json_object_new_int((int)q));
			json_object_object_add(o, "kicks", count(&vm->devices[d], c.kicks));
		}
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *irqfds(struct vm *vm, const struct registry *reg)
{
	struct json_object *a = json_object_new_array();

	for (unsigned int i = 0; i < reg->nr_irqfds; i++) {
		const struct registry_irqfd *e = &reg->irqfds[i];
		struct json_object *o = json_object_new_object();
		unsigned int d, vec;
		uint64_t addr;
		uint32_t data;

		put_u64(o, "gsi", e->gsi);
		if (irq_route_find(&vm->routes, (int)e->gsi, &addr, &data) == 0) {
			put_u64(o, "msi_addr", addr);
			put_u64(o, "msi_data", data);
		}
		if (e->fd == vm->com1_irq_fd) {
			put_str(o, "device", "ttyS0");
		} else if (find_vector(vm, e->fd, &d, &vec) == 0) {
			struct vm_device *dev = &vm->devices[d];
			struct virtio_pci *vp = &dev->virtio.vp;
			uint64_t signals = 0;

			put_str(o, "device", dev->name);
			json_object_object_add(o, "vector", json_object_new_int((int)vec));
			/* The signals of the queues that use this vector (the driver says which). */
			pthread_mutex_lock(&vp->lock);
			for (unsigned int q = 0; q < vm_device_queues(dev); q++) {
				struct virtio_queue_counts c;

				virtio_counters_read(dev->virtio.counters, q, &c);
				if (vp->q[q].vector == vec)
					signals += c.signals;
			}
			pthread_mutex_unlock(&vp->lock);
			json_object_object_add(o, "signals", count(dev, signals));
		}
		json_object_array_add(a, o);
	}
	return a;
}

/* A ring's index now; null where the guest put the ring outside RAM. */
static struct json_object *ring_index(struct vm *vm, uint64_t ring)
{
	uint16_t idx;

	return vm_ring_field(vm, ring, VM_RING_IDX, &idx) < 0 ? NULL : json_object_new_int(idx);
}

static struct json_object *queues(struct vm *vm)
{
	struct json_object *a = json_object_new_array();

	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		struct vm_device *d = &vm->devices[i];
		struct virtio_pci *vp = &d->virtio.vp;

		for (unsigned int q = 0; q < vm_device_queues(d); q++) {
			struct json_object *o = json_object_new_object();
			struct virtio_pci_queue copy;

			pthread_mutex_lock(&vp->lock);
			copy = vp->q[q];
			pthread_mutex_unlock(&vp->lock);
			put_str(o, "device", d->name);
			json_object_object_add(o, "index", json_object_new_int((int)q));
			json_object_object_add(o, "size", json_object_new_int(copy.size));
			json_object_object_add(o, "enabled", json_object_new_boolean(copy.enabled));
			put_u64(o, "desc", copy.desc);
			put_u64(o, "avail", copy.avail);
			put_u64(o, "used", copy.used);
			json_object_object_add(o, "avail_idx",
					       copy.enabled ? ring_index(vm, copy.avail) : NULL);
			json_object_object_add(o, "used_idx",
					       copy.enabled ? ring_index(vm, copy.used) : NULL);
			put_queue_counters(o, d, q);
			json_object_array_add(a, o);
		}
	}
	return a;
}

static void shared(struct json_object *a, const char *what, const struct vm_device *d, uint64_t size)
{
	struct json_object *o = json_object_new_object();

	put_str(o, "what", what);
	put_str(o, "with", d->name);
	put_pid(o, d);
	put_u64(o, "size", size);
	json_object_array_add(a, o);
}

static struct json_object *inspect_l2(struct vm *vm)
{
	static struct registry reg;
	struct json_object *o = json_object_new_object(), *mem = json_object_new_array();

	registry_copy(&vm->registry, &reg);
	json_object_object_add(o, "ioeventfds", ioeventfds(vm, &reg));
	json_object_object_add(o, "irqfds", irqfds(vm, &reg));
	json_object_object_add(o, "queues", queues(vm));
	/* What a device process maps of kvmini's: all of guest RAM, and its counters' page. */
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		const struct vm_device *d = &vm->devices[i];

		if (!d->virtio.proc.launcher)
			continue;
		shared(mem, "guest RAM (memfd kvmini-guest-ram)", d, vm->mem.size);
		if (d->virtio.counters)
			shared(mem, "queue counters (memfd kvmini-counters)", d,
			       sizeof(struct virtio_counters));
	}
	json_object_object_add(o, "shared_memory", mem);
	return o;
}

/* ---- L-3 ---- */

static struct json_object *namespaces(uint64_t flags)
{
	static const struct {
		uint64_t flag;
		const char *name;
	} ns[] = {
		{ CLONE_NEWUSER, "user" }, { CLONE_NEWNS, "mnt" },  { CLONE_NEWPID, "pid" },
		{ CLONE_NEWNET, "net" },   { CLONE_NEWIPC, "ipc" }, { CLONE_NEWUTS, "uts" },
	};
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		if (flags & ns[i].flag)
			json_object_array_add(a, json_object_new_string(ns[i].name));
	return a;
}

static struct json_object *inspect_l3(struct vm *vm, const struct control_facts *f)
{
	struct json_object *o = json_object_new_object(), *k = json_object_new_object(),
			   *procs = json_object_new_array();

	struct cgroup_limits lim;

	json_object_object_add(k, "pid", json_object_new_int(f->pid));
	put_str(k, "cgroup", f->cgroup[0] ? f->cgroup : NULL);
	/* --cgroup's limits as the kernel holds them now */
	if (cgroup_read_limits(&vm->cgroup, &lim) == 0) {
		put_str(k, "cpu_max", lim.cpu_max);
		put_str(k, "memory_max", lim.memory_max);
	}
	json_object_object_add(k, "main_thread_syscalls", json_object_new_int((int)f->main_syscalls));
	json_object_object_add(k, "vcpu_syscalls", json_object_new_int((int)f->vcpu_syscalls));
	json_object_object_add(k, "launcher_pid",
			       vm->launcher.pid ? json_object_new_int(vm->launcher.pid) : NULL);
	json_object_object_add(o, "kvmini", k);
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		const struct vm_device *d = &vm->devices[i];
		const struct device_process *p = &d->virtio.proc;
		static const char *const modes[] = { "none", "strict", "filter" };
		struct device_process_facts pf;
		struct json_object *po;
		bool known;

		if (!p->launcher)
			continue;
		/* As the kernel reports it (its launcher reads /proc), not as kvmini asked for it. */
		known = device_process_describe(&vm->devices[i].virtio.proc, &pf) == 0;
		po = json_object_new_object();
		put_str(po, "device", d->name);
		put_pid(po, d);
		put_str(po, "seccomp",
			known && pf.seccomp >= 0 && pf.seccomp <= 2 ? modes[pf.seccomp] : NULL);
		json_object_object_add(po, "no_new_privs",
				       known ? json_object_new_boolean(pf.no_new_privs == 1) : NULL);
		json_object_object_add(po, "syscalls_allowed", json_object_new_int((int)p->nr_syscalls));
		json_object_object_add(po, "namespaces", namespaces(p->namespaces));
		json_object_object_add(po, "landlock_abi", json_object_new_int(p->landlock_abi));
		put_str(po, "cgroup", known && pf.cgroup[0] ? pf.cgroup : NULL);
		json_object_array_add(procs, po);
	}
	json_object_object_add(o, "device_processes", procs);
	return o;
}

/* ---- Requests ---- */

/* The value of (key) in query (q) ("layer=L-0&dirty=1") into (out); false when absent. */
static bool query_value(const char *q, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);

	while (*q) {
		size_t len = strcspn(q, "&");

		if (len > klen && strncmp(q, key, klen) == 0 && q[klen] == '=') {
			snprintf(out, size, "%.*s", (int)(len - klen - 1), q + klen + 1);
			return true;
		}
		q += len + (q[len] == '&');
	}
	return false;
}

static void get_inspect(struct vm *vm, const struct control_facts *f, const struct api_request *req,
			struct api_response *resp)
{
	static const char *const names[] = { "L-0", "L-1", "L-2", "L-3" };
	char layer[8] = "", dirty[4] = "";
	struct json_object *o;
	int only = -1;

	if (query_value(req->query, "layer", layer, sizeof(layer))) {
		if (strlen(layer) != 3 || strncmp(layer, "L-", 2) || layer[2] < '0' || layer[2] > '3') {
			resp->status = 400;
			resp->body = api_error("layer '%s': give one of L-0, L-1, L-2, L-3", layer);
			return;
		}
		only = layer[2] - '0';
	}
	query_value(req->query, "dirty", dirty, sizeof(dirty));
	o = json_object_new_object();
	for (int l = 0; l < 4; l++)
		if (only < 0 || l == only)
			json_object_object_add(o, names[l],
					       l == 0	? inspect_l0(vm, f, strcmp(dirty, "1") == 0)
					       : l == 1 ? inspect_l1(vm)
					       : l == 2 ? inspect_l2(vm)
							: inspect_l3(vm, f));
	resp->status = 200;
	resp->body = o;
}

static void patch_vm(struct vm *vm, const struct api_request *req, struct api_response *resp)
{
	char state[16];
	unsigned int late = 0;
	bool pause;

	if (api_body_string(req, "state", state, sizeof(state)) < 0 ||
	    (strcmp(state, "Paused") && strcmp(state, "Resumed"))) {
		resp->status = 400;
		resp->body =
			api_error("give a JSON body {\"state\": \"Paused\"} or {\"state\": \"Resumed\"}");
		return;
	}
	if (atomic_load(&vm->stopping)) {
		resp->status = 409;
		resp->body = api_error("the VM is stopping");
		return;
	}
	pause = strcmp(state, "Paused") == 0;
	if (vcpu_pause_all(vm->vcpus, vm->nr_vcpus, pause, CONTROL_PAUSE_MS, &late) < 0) {
		resp->status = 500;
		resp->body =
			api_error("L-1 vCPUs: vCPU %u did not stop within %u ms (its thread is starved or "
				  "stuck in the host kernel: see 'kvmini inspect --layer L-1'); it stops "
				  "when it can, and a resume lets every vCPU go on",
				  late, CONTROL_PAUSE_MS);
		return;
	}
	log_notice("%s through the API", pause ? "paused: every vCPU has stopped" : "resumed");
	resp->status = 204;
}

static void put_actions(struct vm *vm, const struct api_request *req, struct api_response *resp)
{
	char action[32];

	if (api_body_string(req, "action_type", action, sizeof(action)) < 0 || strcmp(action, "Quit")) {
		resp->status = 400;
		resp->body = api_error("give a JSON body {\"action_type\": \"Quit\"}: the action kvmini has");
		return;
	}
	vm_stop(vm, VM_EXIT_QUIT, "quit through the API");
	resp->status = 204;
}

void control_handle(void *opaque, const struct api_request *req, struct api_response *resp)
{
	struct vm *vm = opaque;
	const struct control_facts *f = &vm->facts;
	const char *p = req->path;
	bool get = req->method == HTTP_GET;

	resp->status = 405;
	resp->body = NULL;
	if (strcmp(p, "/") == 0 && get) {
		resp->status = 200;
		resp->body = json_object_new_object();
		put_str(resp->body, "id", "kvmini");
		put_str(resp->body, "state", paused(vm) ? "Paused" : "Running");
		put_str(resp->body, "vmm_version", KVMINI_VERSION);
		put_str(resp->body, "app_name", "kvmini");
	} else if (strcmp(p, "/machine-config") == 0 && get) {
		resp->status = 200;
		resp->body = json_object_new_object();
		json_object_object_add(resp->body, "vcpu_count", json_object_new_int((int)vm->nr_vcpus));
		put_u64(resp->body, "mem_size_mib", vm->cfg->mem >> 20);
	} else if (strcmp(p, "/stats") == 0 && get) {
		resp->status = 200;
		resp->body = get_stats(vm);
	} else if (strcmp(p, "/inspect") == 0 && get) {
		get_inspect(vm, f, req, resp);
	} else if (strcmp(p, "/vm") == 0 && req->method == HTTP_PATCH) {
		patch_vm(vm, req, resp);
	} else if (strcmp(p, "/actions") == 0 && req->method == HTTP_PUT) {
		put_actions(vm, req, resp);
	} else if (strcmp(p, "/") && strcmp(p, "/machine-config") && strcmp(p, "/stats") &&
		   strcmp(p, "/inspect") && strcmp(p, "/vm") && strcmp(p, "/actions")) {
		resp->status = 404;
		resp->body = api_error("no such path '%s': see 'kvmini run --help' for the API's paths", p);
	}
	if (resp->status == 405)
		resp->body = api_error("%s is not allowed on '%s'", http_method_str(req->method), p);
}
