/* diagnose.c: findings by layer while a VM runs (diagnose.h). */
#include "diagnose.h"

#include <inttypes.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "../devices/base/log.h"
#include "vm.h"

#define NS 1000000000ULL

uint64_t diag_rate(uint64_t before, uint64_t after, uint64_t dt_ns)
{
	if (!dt_ns || after < before)
		return 0;
	unsigned __int128 r = (unsigned __int128)(after - before) * NS / dt_ns; /* no overflow */

	return r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

bool diag_update(struct diag_watch *w, uint64_t count, bool holds, uint64_t now_ns, uint64_t hold_ns)
{
	w->count = count;
	if (!holds) {
		w->since_ns = 0;
		w->said = false;
		return false;
	}
	if (!w->since_ns)
		w->since_ns = now_ns;
	if (w->said || now_ns - w->since_ns < hold_ns)
		return false;
	w->said = true;
	return true;
}

bool diag_index_behind(uint16_t seen, uint16_t used)
{
	/* Indexes wrap at 2^16; a queue holds at most 32768 entries, so a larger gap is the other way. */
	uint16_t gap = (uint16_t)(used - seen);

	return gap != 0 && gap < 0x8000;
}

bool diag_request_queue(const char *type, unsigned int qi)
{
	if (strcmp(type, "virtio-blk") == 0)
		return true;
	if (strcmp(type, "virtio-net") == 0)
		return qi % 2 == 1; /* receiveq1, transmitq1, receiveq2, ...: no control queue here */
	if (strcmp(type, "virtio-vsock") == 0)
		return qi == 1; /* rx, tx, event */
	return false;
}

/* L-0: interrupts KVM injects into each vCPU; L-1: a vCPU thread that does not come back. */
static void watch_vcpus(struct diagnose *d, struct vm *vm, uint64_t now, uint64_t dt)
{
	for (unsigned int i = 0; i < vm->nr_vcpus && i < sizeof(d->irqs) / sizeof(d->irqs[0]); i++) {
		struct vcpu *v = &vm->vcpus[i];
		uint64_t irqs = kvm_stats_read(&v->kstats, KVM_STAT_IRQ_INJECTIONS), exits = 0, rate;
		struct vcpu_thread_stat st = { .state = '?' };
		bool out;

		if (irqs != KVM_STAT_NONE) {
			rate = d->last_ns ? diag_rate(d->irqs[i].count, irqs, dt) : 0;
			if (diag_update(&d->irqs[i], irqs, rate > DIAG_IRQ_STORM_PER_S, now, 0))
				log_layer(
					LOG_WARN, LAYER_HARDWARE,
					"interrupt storm: vCPU %u takes %" PRIu64
					" interrupts a second (above "
					"%d): a faulty (virtual) device raises one without end; see which with "
					"'kvmini stat' (irqfd signals per device and queue) and check that device",
					i, rate, DIAG_IRQ_STORM_PER_S);
		}
		for (unsigned int r = 0; r < VCPU_EXIT_REASONS; r++)
			exits += atomic_load_explicit(&v->exits[r], memory_order_relaxed);
		/* Out of KVM_RUN, not paused, and no exit since the last tick: on one exit all along. */
		out = v->started && !atomic_load(&v->in_run) && !atomic_load(&v->parked) &&
		      exits == d->stuck[i].count && d->last_ns;
		if (diag_update(&d->stuck[i], exits, out, now, DIAG_EXIT_STUCK_S * NS)) {
			vcpu_thread_stat(v, &st);
			log_layer(
				LOG_WARN, LAYER_VCPU,
				"vCPU %u has been handling one %s exit for over %d s (its thread is in host "
				"state %c): %s",
				i, vcpu_exit_name(atomic_load(&v->last_exit)), DIAG_EXIT_STUCK_S, st.state,
				st.state == 'R'
					? "it waits for a CPU: the host is overloaded (its vCPU threads "
					  "are starved): give the VM CPU time (fewer vCPUs, a higher "
					  "cpu.max, a less busy host)"
					: "it waits in kvmini or the host kernel: see 'kvmini inspect "
					  "--layer L-1'; a bug in kvmini if it lasts");
		}
	}
}

/* L-2: a queue's interrupts, and a request queue whose kicks go unanswered. */
static void watch_queue(struct diagnose *d, struct vm *vm, unsigned int di, unsigned int qi, uint64_t now,
			uint64_t dt)
{
	struct vm_device *dev = &vm->devices[di];
	struct diag_watch *sig = &d->signals[di][qi], *stall = &d->stall[di][qi], *taken = &d->taken[di][qi];
	struct virtio_queue_counts c;
	struct virtio_pci_queue q;
	uint16_t avail = 0, used = 0, seen = 0;
	uint64_t rate, features;
	bool pending, untaken;
	char type[32];

	virtio_counters_read(dev->virtio.counters, qi, &c);
	rate = d->last_ns ? diag_rate(sig->count, c.signals, dt) : 0;
	if (diag_update(sig, c.signals, rate > DIAG_SIGNAL_STORM_PER_S, now, 0))
		log_layer(LOG_WARN, LAYER_PVIO,
			  "interrupt storm: %s queue %u signals %" PRIu64
			  " interrupts a second (above %d): its "
			  "back end notifies without end; check the device (kvmini inspect --layer L-2)",
			  dev->name, qi, rate, DIAG_SIGNAL_STORM_PER_S);
	vm_device_type(dev, type, sizeof(type));
	pthread_mutex_lock(&dev->virtio.vp.lock);
	q = dev->virtio.vp.q[qi];
	features = dev->virtio.vp.driver_features;
	pthread_mutex_unlock(&dev->virtio.vp.lock);
	/* Requests posted (the guest's avail index ahead of the used one) and none completed since. */
	pending = q.enabled && diag_request_queue(type, qi) &&
		  vm_ring_field(vm, q.avail, VM_RING_IDX, &avail) == 0 &&
		  vm_ring_field(vm, q.used, VM_RING_IDX, &used) == 0 && avail != used &&
		  c.chains == stall->count && d->last_ns;
	if (diag_update(stall, c.chains, pending, now, DIAG_QUEUE_STALL_S * NS))
		log_layer(
			LOG_WARN, LAYER_PVIO,
			"%s queue %u: %u requests posted (avail index %u, used %u) and none completed for %d "
			"s (%" PRIu64 " kicks so far): its event channel is blocked (a kick or an interrupt "
			"lost) or its back end is stuck; see kvmini inspect --layer L-2, and the device "
			"process's messages",
			dev->name, qi, (uint16_t)(avail - used), avail, used, DIAG_QUEUE_STALL_S, c.kicks);
	/*
	 * Completions the driver has not taken: with EVENT_IDX its used_event is the last used index it
	 * has seen; one left behind the used index, unmoved while interrupts were signalled for what lies
	 * beyond it, is an interrupt never taken. virtio-blk only: a NIC's driver polls its transmit queue
	 * with interrupts off, and leaves used_event behind as a matter of course.
	 */
	untaken = q.enabled && strcmp(type, "virtio-blk") == 0 &&
		  (features & (1ULL << VIRTIO_RING_F_EVENT_IDX)) &&
		  vm_ring_field(vm, q.used, VM_RING_IDX, &used) == 0 &&
		  vm_ring_field(vm, q.avail, VM_RING_USED_EVENT(q.size), &seen) == 0 &&
		  diag_index_behind(seen, used) && c.signals > 0 && seen == (uint16_t)taken->count &&
		  d->last_ns;
	if (diag_update(taken, seen, untaken, now, DIAG_QUEUE_STALL_S * NS))
		log_layer(
			LOG_WARN, LAYER_PVIO,
			"%s queue %u: the driver has not taken completions up to used index %u for %d s (it "
			"has seen up to %u; %" PRIu64 " interrupts signalled): an interrupt never taken "
			"(its irqfd or MSI route lost, see kvmini inspect --layer L-2) or a guest driver "
			"that is stuck",
			dev->name, qi, used, DIAG_QUEUE_STALL_S, seen, c.signals);
}

void diagnose_tick(struct diagnose *d, struct vm *vm, uint64_t now_ns)
{
	uint64_t dt = d->last_ns ? now_ns - d->last_ns : 0;

	if (d->last_ns && dt < NS / 2)
		return; /* a second's rates, not a burst's */
	watch_vcpus(d, vm, now_ns, dt);
	for (unsigned int i = 0; i < vm->nr_devices && i < sizeof(d->stall) / sizeof(d->stall[0]); i++)
		if (vm->devices[i].virtio.counters && vm->devices[i].virtio.vp_ready)
			for (unsigned int q = 0; q < vm_device_queues(&vm->devices[i]); q++)
				watch_queue(d, vm, i, q, now_ns, dt);
	d->last_ns = now_ns;
}
