/*
 * test_vhu_backend.c: kvmini's vhost-user front end (virtio/vhu_front.c) against its back end
 * (devproc/vhu_backend.c) over a socketpair, a test device model behind it: negotiation, the
 * configuration, guest RAM shared as its memfd, a ring started, served (kick in, used entry and call
 * out, the data path through eventfds only), stopped with its base, resumed from it, and a back end that
 * hangs up replaced by a new one that goes on from the ring's used index, or, the test device being a
 * block device, serves again what the one before had in flight (GET/SET_INFLIGHT_FD).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devproc/vhu_backend.h"
#include "mem.h"
#include "virtio/vhu_front.h"

#define RAM_SIZE  (16 << 20)
#define DESC_GPA  0x10000ULL
#define AVAIL_GPA 0x20000ULL
#define USED_GPA  0x30000ULL
#define BUF_GPA	  0x100000ULL
#define QSIZE	  8
#define STAMP	  0xa5
#define DEVICE_ID 2
#define F_VERSION (1ULL << 32)
#define F_DEV	  (1ULL << 6)
#define WAIT_MS	  5000

static struct gmem mem;
static struct vhu_backend b;
static struct vhu_front f;
static struct virtio_device dev;
static pthread_t server;
static int serve_result;
static atomic_int chains;
static atomic_int drop_next; /* the next chain is taken and never completed, as by a back end that dies */
static uint16_t handled[16]; /* the heads handed to the model, in order */

static int model_handle(void *opaque, unsigned int qi, const struct virtq_chain *c, uint32_t *used)
{
	int n = atomic_fetch_add(&chains, 1);

	(void)opaque;
	(void)qi;
	if (n < 16)
		handled[n] = c->head;
	/* -EINVAL: the worker stops serving the ring without returning the chain, which stays in flight. */
	if (atomic_exchange(&drop_next, 0))
		return -EINVAL;
	c->bufs[0].host[0] = STAMP;
	*used = 1;
	return 0;
}

static void model_config_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	(void)opaque;
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)data)[i] = (uint8_t)(0xc0 + off + i);
}

static void *serve(void *arg)
{
	(void)arg;
	serve_result = vhu_backend_serve(&b);
	return NULL;
}

static void setup(void)
{
	struct vhu_front_want want = {
		.device_id = DEVICE_ID, .config_len = 16, .config_ask = 16, .max_queues = 2, .queue_max = 256
	};
	int sv[2];

	cr_assert_eq(gmem_create(&mem, 0, RAM_SIZE, RAM_SIZE), 0);
	dev = (struct virtio_device){
		.name = "virtio-test",
		.device_id = DEVICE_ID,
		.features = F_VERSION | F_DEV,
		.nr_queues = 3,
		.worker_per_queue = true,
		.queue_max = 256,
		.config_len = 16,
		.config_read = model_config_read,
		.model = { .name = "virtio-test", .handle = model_handle },
	};
	atomic_store(&chains, 0);
	atomic_store(&drop_next, 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(vhu_backend_init(&b, &dev, sv[1]), 0);
	cr_assert_eq(pthread_create(&server, NULL, serve, NULL), 0);
	cr_assert_eq(vhu_front_init(&f, "virtio-test", &want, sv[0], &mem), 0);
}

/* A new back end, serving on a thread as the first: kvmini's end of its socket. */
static int new_back_end(void)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(vhu_backend_init(&b, &dev, sv[1]), 0);
	cr_assert_eq(pthread_create(&server, NULL, serve, NULL), 0);
	return sv[0];
}

static void teardown(void)
{
	vhu_front_destroy(&f);
	pthread_join(server, NULL);
	vhu_backend_destroy(&b);
	gmem_destroy(&mem);
}

TestSuite(vhu_backend, .init = setup, .fini = teardown);

static void put16(uint64_t gpa, uint16_t v)
{
	cr_assert_eq(gmem_write(&mem, gpa, &v, sizeof(v)), 0);
}

static uint16_t get16(uint64_t gpa)
{
	uint16_t v = 0;

	cr_assert_eq(gmem_read(&mem, gpa, &v, sizeof(v)), 0);
	return v;
}

/* The driver posts a one-buffer, device-writable chain at descriptor (i) as avail entry (slot). */
static void post(uint16_t i, uint16_t slot)
{
	struct virtq_desc d = { .addr = BUF_GPA + 0x1000ULL * i, .len = 64, .flags = VIRTQ_DESC_F_WRITE };

	cr_assert_eq(gmem_write(&mem, DESC_GPA + 16ULL * i, &d, sizeof(d)), 0);
	put16(AVAIL_GPA + 4 + 2ULL * (slot % QSIZE), i);
	put16(AVAIL_GPA + 2, (uint16_t)(slot + 1));
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, WAIT_MS) == 1;
}

static struct virtio_queue_setup ring(int kick, int call, uint16_t base)
{
	return (struct virtio_queue_setup){ .enabled = true,
					    .size = QSIZE,
					    .desc = DESC_GPA,
					    .avail = AVAIL_GPA,
					    .used = USED_GPA,
					    .base = base,
					    .kick_fd = kick,
					    .call_fd = call };
}

static void reset_needed(void *opaque)
{
	(void)opaque;
}

/* The driver posts chain (i) as avail entry (slot) and notifies the queue's (kick) eventfd. */
static void post_and_kick(int kick, uint16_t i, uint16_t slot)
{
	uint64_t one = 1;

	post(i, slot);
	cr_assert_eq(write(kick, &one, sizeof(one)), sizeof(one));
}

/* Whether the used index reaches (n) within WAIT_MS. */
static bool used_reaches(uint16_t n)
{
	for (int ms = 0; ms < WAIT_MS && get16(USED_GPA + 2) != n; ms++)
		usleep(1000);
	return get16(USED_GPA + 2) == n;
}

/* The back end hangs up and goes: its thread ends, its state is freed; the front end is told. */
static void back_end_dies(void)
{
	shutdown(b.sock, SHUT_RDWR);
	pthread_join(server, NULL);
	vhu_backend_destroy(&b);
	cr_assert(vhu_front_gone(&f), "the hang-up shows on the front end's socket");
	vhu_front_lost(&f);
}

Test(vhu_backend, negotiation_hides_protocol_features_and_caps_the_queues)
{
	uint8_t cfg[16];

	cr_assert_eq(f.backend.features, F_VERSION | F_DEV, "features %#llx",
		     (unsigned long long)f.backend.features);
	cr_assert(f.offers_protocol);
	cr_assert_eq(f.backend.nr_queues, 2, "the front end asked for 2 of the back end's 3 queues");
	cr_assert_eq(f.backend.device_id, DEVICE_ID);
	f.backend.ops->config_read(f.backend.opaque, 0, cfg, sizeof(cfg));
	for (unsigned int i = 0; i < sizeof(cfg); i++)
		cr_assert_eq(cfg[i], 0xc0 + i, "config byte %u", i);
	cr_assert_eq(b.vmem.nr_regions, 1, "guest RAM is shared as one region");
	cr_assert_eq(b.mem.regions[0].size, RAM_SIZE);
}

Test(vhu_backend, a_ring_is_served_through_its_eventfds_and_stops_with_its_base)
{
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct virtio_queue_setup q[2] = { ring(kick, call, 0), { .kick_fd = -1, .call_fd = -1 } };
	uint16_t bases[2] = { 0 };
	uint8_t stamp = 0;

	cr_assert_eq(f.backend.ops->start(f.backend.opaque, F_VERSION, q, 2, reset_needed, NULL), 0);
	post_and_kick(kick, 0, 0);
	cr_assert(used_reaches(1), "the kick did not get the chain served");
	cr_assert(readable(call), "no used-buffer notification on the call eventfd");
	cr_assert_eq(gmem_read(&mem, BUF_GPA, &stamp, 1), 0);
	cr_assert_eq(stamp, STAMP, "the back end wrote the buffer in shared guest RAM");
	f.backend.ops->stop(f.backend.opaque, bases);
	cr_assert_eq(bases[0], 1, "GET_VRING_BASE says the next entry to take is 1");
	cr_assert(!b.q[0].running);

	/* Resumed from its base: the next chain is avail entry 1, returned after used entry 0. */
	q[0] = ring(kick, call, bases[0]);
	cr_assert_eq(f.backend.ops->start(f.backend.opaque, F_VERSION, q, 2, reset_needed, NULL), 0);
	post_and_kick(kick, 1, 1);
	cr_assert(used_reaches(2));
	cr_assert_eq(atomic_load(&chains), 2, "each chain was served once");
	f.backend.ops->stop(f.backend.opaque, bases);
	cr_assert_eq(bases[0], 2);
	close(kick);
	close(call);
}

Test(vhu_backend, a_ring_outside_guest_ram_is_not_started)
{
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct virtio_queue_setup q[1] = { ring(kick, -1, 0) };

	q[0].used = RAM_SIZE - 8;
	cr_assert_eq(f.backend.ops->start(f.backend.opaque, F_VERSION, q, 1, reset_needed, NULL), -EFAULT);
	cr_assert(!b.q[0].running);
	close(kick);
}

Test(vhu_backend, a_back_end_that_dies_is_replaced_and_the_ring_goes_on_from_its_used_index)
{
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct virtio_queue_setup q[2] = { ring(kick, call, 0), { .kick_fd = -1, .call_fd = -1 } };
	uint16_t bases[2] = { 0 };
	unsigned int outstanding;

	cr_assert_eq(f.backend.ops->start(f.backend.opaque, F_VERSION, q, 2, reset_needed, NULL), 0);
	post_and_kick(kick, 0, 0);
	cr_assert(used_reaches(1));
	cr_assert_not(vhu_front_gone(&f));

	/* The back end dies; the driver posts and kicks meanwhile, stops and starts the device again. */
	back_end_dies();
	post_and_kick(kick, 1, 1);
	f.backend.ops->stop(f.backend.opaque, bases);
	cr_assert_eq(bases[0], 1, "with no back end, a ring stops at its used index");
	q[0] = ring(kick, call, bases[0]);
	cr_assert_eq(f.backend.ops->start(f.backend.opaque, F_VERSION, q, 2, reset_needed, NULL), 0,
		     "with no back end, a start is kept for the next one");

	/* A new back end: the same negotiation, shared RAM, and the ring from used entry 1. */
	cr_assert_eq(vhu_front_reconnect(&f, new_back_end(), &outstanding), 0);
	cr_assert_eq(outstanding, 1, "one request was posted past the used index");
	cr_assert_not(vhu_front_gone(&f));
	cr_assert(used_reaches(2), "the new back end did not serve the chain posted meanwhile");
	cr_assert_eq(atomic_load(&chains), 2, "each chain was served once");
	f.backend.ops->stop(f.backend.opaque, bases);
	cr_assert_eq(bases[0], 2);
	close(kick);
	close(call);
}

Test(vhu_backend, a_new_back_end_that_offers_less_is_refused)
{
	unsigned int outstanding;
	int sock;

	back_end_dies();
	dev.features = F_VERSION; /* F_DEV was offered to the driver */
	sock = new_back_end();
	cr_assert_eq(vhu_front_reconnect(&f, sock, &outstanding), -EPROTO);
	cr_assert(f.hung_up, "the front end stays without a back end");
}

/* --- Inflight tracking (INFLIGHT_SHMFD): the test device is a block device --- */

Test(vhu_backend, a_block_device_negotiates_inflight_and_each_start_gets_a_region)
{
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct virtio_queue_setup q[2] = { ring(kick, call, 0), { .kick_fd = -1, .call_fd = -1 } };
	uint16_t bases[2] = { 0 };
	uint8_t *region;
	uint16_t version, desc_num;

	cr_assert(f.protocol_features & (1ULL << VHU_PROTOCOL_F_INFLIGHT_SHMFD));
	cr_assert_eq(f.inflight_fd, -1, "no region before the driver starts the device");
	cr_assert_eq(f.backend.ops->start(f.backend.opaque, F_VERSION, q, 2, reset_needed, NULL), 0);
	cr_assert_geq(f.inflight_fd, 0);
	cr_assert_eq(f.inflight.num_queues, 2);
	cr_assert_eq(f.inflight.queue_size, 256);
	cr_assert_eq(f.inflight.mmap_size, 2 * virtq_inflight_size(256));
	cr_assert_not_null(b.inflight);
	cr_assert_eq(b.inflight_queues, 2);
	post_and_kick(kick, 0, 0);
	cr_assert(used_reaches(1));

	/* The region the back end tracks in is the memory behind the fd kvmini keeps. */
	region = mmap(NULL, f.inflight.mmap_size, PROT_READ, MAP_SHARED, f.inflight_fd,
		      (off_t)f.inflight.mmap_offset);
	cr_assert_neq(region, MAP_FAILED);
	memcpy(&version, region + 8, 2);
	memcpy(&desc_num, region + 10, 2);
	cr_assert_eq(version, 1, "the ring's start initialised its region");
	cr_assert_eq(desc_num, QSIZE);
	cr_assert_eq(region[16], 0, "chain 0 was returned: not in flight");
	munmap(region, f.inflight.mmap_size);
	f.backend.ops->stop(f.backend.opaque, bases);
	close(kick);
	close(call);
}

Test(vhu_backend, a_new_back_end_serves_again_exactly_what_the_old_one_had_in_flight)
{
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct virtio_queue_setup q[2] = { ring(kick, call, 0), { .kick_fd = -1, .call_fd = -1 } };
	uint16_t bases[2] = { 0 };
	unsigned int outstanding;

	cr_assert_eq(f.backend.ops->start(f.backend.opaque, F_VERSION, q, 2, reset_needed, NULL), 0);
	post_and_kick(kick, 3, 0);
	cr_assert(used_reaches(1));
	/* The back end takes chain 5 and dies before it completes it; chain 6 it never takes. */
	atomic_store(&drop_next, 1);
	post(5, 1);
	post_and_kick(kick, 6, 2);
	for (int ms = 0; ms < WAIT_MS && atomic_load(&chains) < 2; ms++)
		usleep(1000);
	cr_assert_eq(atomic_load(&chains), 2);
	back_end_dies();
	cr_assert_eq(get16(USED_GPA + 2), 1, "only chain 3 was completed");

	cr_assert_eq(vhu_front_reconnect(&f, new_back_end(), &outstanding), 0);
	cr_assert_eq(outstanding, 2);
	cr_assert(used_reaches(3), "the new back end did not serve what was left");
	cr_assert_eq(atomic_load(&chains), 4);
	cr_assert_eq(handled[2], 5, "the chain in flight is served again first");
	cr_assert_eq(handled[3], 6, "then the one never taken");
	f.backend.ops->stop(f.backend.opaque, bases);
	cr_assert_eq(bases[0], 3);
	close(kick);
	close(call);
}

Test(vhu_backend, a_new_back_end_without_inflight_goes_on_from_the_used_index)
{
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct virtio_queue_setup q[2] = { ring(kick, call, 0), { .kick_fd = -1, .call_fd = -1 } };
	uint16_t bases[2] = { 0 };
	unsigned int outstanding;

	cr_assert_eq(f.backend.ops->start(f.backend.opaque, F_VERSION, q, 2, reset_needed, NULL), 0);
	back_end_dies();
	post(2, 0);
	dev.device_id = 1; /* a NIC's back end: no INFLIGHT_SHMFD */
	cr_assert_eq(vhu_front_reconnect(&f, new_back_end(), &outstanding), 0);
	cr_assert_not(f.protocol_features & (1ULL << VHU_PROTOCOL_F_INFLIGHT_SHMFD));
	cr_assert_null(b.inflight);
	cr_assert(used_reaches(1));
	f.backend.ops->stop(f.backend.opaque, bases);
	close(kick);
	close(call);
}

/* A request straight to the back end on kvmini's socket, with REPLY_ACK: 0, or -EIO when refused. */
static int set_inflight_raw(const struct vhu_inflight *in, int fd)
{
	struct vhu_msg m = { .hdr = { .request = VHU_SET_INFLIGHT_FD, .size = sizeof(*in) } };

	m.payload.inflight = *in;
	return vhu_call(f.sock, &m, &fd, 1, NULL, true);
}

Test(vhu_backend, inflight_requests_that_do_not_fit_the_device_are_refused)
{
	struct vhu_msg m = { .hdr = { .request = VHU_GET_INFLIGHT_FD, .size = sizeof(struct vhu_inflight) } };
	struct vhu_msg reply;
	size_t len = 2 * virtq_inflight_size(256);
	int memfd = memfd_create("test-inflight", MFD_CLOEXEC), evfd = eventfd(0, EFD_CLOEXEC), fd;

	cr_assert_eq(ftruncate(memfd, (off_t)len), 0);
	m.payload.inflight = (struct vhu_inflight){ .num_queues = 2, .queue_size = 512 };
	cr_assert_eq(vhu_call_fd(f.sock, &m, NULL, 0, &reply, &fd), -EIO, "rings larger than the device's");
	cr_assert_eq(fd, -1);
	m.payload.inflight = (struct vhu_inflight){ .num_queues = 4, .queue_size = 256 };
	cr_assert_eq(vhu_call_fd(f.sock, &m, NULL, 0, &reply, &fd), -EIO, "queues the device lacks");

	cr_assert_eq(set_inflight_raw(&(struct vhu_inflight){ len, 0, 2, 256 }, memfd), 0);
	cr_assert_not_null(b.inflight_map);
	cr_assert_eq(set_inflight_raw(&(struct vhu_inflight){ len - 1, 0, 2, 256 }, memfd), -EIO,
		     "smaller than its queues need");
	cr_assert_eq(set_inflight_raw(&(struct vhu_inflight){ len, 4096, 2, 256 }, memfd), -EIO,
		     "beyond the end of its file");
	cr_assert_eq(set_inflight_raw(&(struct vhu_inflight){ len, 100, 2, 256 }, memfd), -EIO,
		     "offset not page aligned");
	cr_assert_eq(set_inflight_raw(&(struct vhu_inflight){ len, 0, 0, 256 }, memfd), -EIO, "no queue");
	cr_assert_eq(set_inflight_raw(&(struct vhu_inflight){ len, 0, 2, 0 }, memfd), -EIO,
		     "rings of size 0");
	cr_assert_eq(set_inflight_raw(&(struct vhu_inflight){ len, 0, 2, 256 }, evfd), -EIO,
		     "not a memory file");
	cr_assert_not_null(b.inflight_map, "a refused region leaves the one before");
	close(memfd);
	close(evfd);
}
