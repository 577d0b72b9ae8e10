/*
 * test_virtio_pci.c: the virtio-pci modern transport and what serves its queues, driven as a guest's
 * driver drives them. What depends on the back end runs twice, with the same assertions: served by
 * worker threads in this process (virtio/local.c: suite virtio_pci), and over vhost-user (suite
 * virtio_pci_vhost_user: kvmini's front end, virtio/vhu_front.c, talking over a socketpair to the
 * device process's back end, devproc/vhu_backend.c, which serves the same model on a thread here).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "devproc/vhu_backend.h"
#include "event.h"
#include "mem.h"
#include "virtio/local.h"
#include "virtio/pci.h"
#include "virtio/vhu_front.h"

#define MIB	   (1ULL << 20)
#define RAM_SIZE   (4 * MIB)
#define MMIO_START 0xc0000000ULL
#define MMIO_END   0xe0000000ULL
#define IO_START   0xc000
#define IO_END	   0x10000

#define DEVICE_ID  2 /* virtio-blk, as far as the transport cares */
#define NR_QUEUES  2
#define QUEUE_MAX  16
#define CONFIG_LEN 8
#define F_DEV_BIT6 (1ULL << 6)
#define F_EVENT	   (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_VERSION  (1ULL << VIRTIO_F_VERSION_1)
#define FEATURES   (F_VERSION | F_EVENT | F_DEV_BIT6)

#define S_ACK	      VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRIVER      VIRTIO_CONFIG_S_DRIVER
#define S_FEAT_OK     VIRTIO_CONFIG_S_FEATURES_OK
#define S_DRIVER_OK   VIRTIO_CONFIG_S_DRIVER_OK
#define S_NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define S_READY	      (S_ACK | S_DRIVER | S_FEAT_OK)

/* Where the test's driver lays out queue 0 and its buffers. */
#define DESC_GPA    0x10000ULL
#define AVAIL_GPA   0x11000ULL
#define USED_GPA    0x12000ULL
#define BUF_R_GPA   0x20000ULL
#define BUF_W_GPA   0x21000ULL
#define BUF_R_LEN   16
#define BUF_W_LEN   4
#define OUTSIDE_GPA 0x10000000ULL /* 256 MiB: not RAM */

#define MSG_ADDR     0xfee00000u
#define MSG_DATA     0x4021u
#define FIRST_GSI    24
#define WAIT_MS	     5000
#define MODEL_STAMP  0x5a
#define MAX_CALLS    32
#define CAP_WALK_MAX 48 /* a 256-byte space holds at most this many dword-aligned capabilities */

/* What the transport asked of the machine, in order. */
enum call_kind {
	CALL_MSI_ROUTE,
	CALL_IRQFD,
	CALL_IOEVENTFD,
};

struct call {
	enum call_kind kind;
	int gsi_in; /* msi_route: *gsi as passed in */
	int gsi;
	uint64_t addr;
	uint32_t data;
	uint32_t devid; /* msi_route: the requester ID */
	int fd;
	bool assign;
};

struct fake_host {
	struct dev_host host;
	int next_gsi;
	unsigned int n;
	struct call calls[MAX_CALLS];
};

/* The device model: records the chains it is handed and stamps a byte into the device-writable buffer. */
struct fake_model {
	int answer; /* < 0: what handle() returns instead of serving; set before DRIVER_OK */
	unsigned int qi;
	uint16_t head;
	unsigned int nbufs;
	uint32_t readable, writable;
	uint8_t first_byte; /* of the first device-readable buffer */
	atomic_uint chains; /* stored last, so that the fields above are seen once it moves */
};

static struct gmem mem;
static struct fake_host fh;
static struct fake_model fm;
static struct pci_bus pb;
static struct virtio_pci vp;
static int slot;
static uint16_t drv_avail_idx;

static struct call *record(enum call_kind kind)
{
	cr_assert_lt(fh.n, MAX_CALLS, "the transport made more host calls than the test expects");
	fh.calls[fh.n] = (struct call){ .kind = kind };
	return &fh.calls[fh.n++];
}

static int host_msi_route(struct dev_host *h, int *gsi, uint64_t addr, uint32_t data, uint32_t devid)
{
	struct call *c = record(CALL_MSI_ROUTE);

	(void)h;
	c->gsi_in = *gsi;
	if (*gsi < 0)
		*gsi = fh.next_gsi++;
	c->gsi = *gsi;
	c->addr = addr;
	c->data = data;
	c->devid = devid;
	return 0;
}

static int host_irqfd(struct dev_host *h, int fd, int gsi, bool assign)
{
	struct call *c = record(CALL_IRQFD);

	(void)h;
	c->fd = fd;
	c->gsi = gsi;
	c->assign = assign;
	return 0;
}

static int host_ioeventfd(struct dev_host *h, uint64_t addr, int fd, bool assign)
{
	struct call *c = record(CALL_IOEVENTFD);

	(void)h;
	c->addr = addr;
	c->fd = fd;
	c->assign = assign;
	return 0;
}

static int model_handle(void *opaque, unsigned int qi, const struct virtq_chain *c, uint32_t *used)
{
	struct fake_model *m = opaque;

	m->qi = qi;
	m->head = c->head;
	m->nbufs = c->nbufs;
	m->readable = c->readable;
	m->writable = c->writable;
	m->first_byte = c->nbufs && !c->bufs[0].device_writable && c->bufs[0].len ? c->bufs[0].host[0] : 0;
	atomic_fetch_add(&m->chains, 1);
	if (m->answer < 0)
		return m->answer;
	for (unsigned int i = 0; i < c->nbufs; i++) {
		if (c->bufs[i].device_writable && c->bufs[i].len) {
			c->bufs[i].host[0] = MODEL_STAMP;
			*used = 1;
			return 0;
		}
	}
	*used = 0;
	return 0;
}

static void model_config_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	uint8_t *p = data;

	(void)opaque;
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(0xc0 + off + i);
}

static struct virtio_device config(void)
{
	return (struct virtio_device){
		.name = "virtio-test",
		.device_id = DEVICE_ID,
		.features = FEATURES,
		.nr_queues = NR_QUEUES,
		.queue_max = QUEUE_MAX,
		.config_len = CONFIG_LEN,
		.config_read = model_config_read,
		.model = { .name = "virtio-test", .handle = model_handle, .opaque = &fm },
	};
}

static struct virtio_local local;
static bool per_queue; /* the next setup's model wants a worker per queue */

/* The vhost-user suite's back end, serving on a thread of its own as a device process would. */
static struct virtio_device vdev; /* the back end keeps a pointer to it */
static struct vhu_front front;
static struct vhu_backend back;
static pthread_t server;

/*
 * What vmm/vm.c does with the front end's rings' error eventfds, on a thread: the back end signals one
 * when the driver broke a ring, and vhu_front_ring_error() tells the transport (DEVICE_NEEDS_RESET).
 */
struct ring_watch {
	struct event_source src;
	unsigned int ring;
};

static struct event_loop loop;
static struct event_source stop_src;
static struct ring_watch ring_err[NR_QUEUES];
static int stop_fd = -1;
static bool watching; /* the watcher's own: set before it starts, cleared by its stop handler */
static pthread_t watcher;

/* The worker threads of whichever back end serves: worker 0 serves queue 0 in both suites. */
static struct virtio_worker *workers;

/* What every suite has: guest RAM (a memfd, which vhost-user shares), the host, the model, the bus. */
static void setup_common(void)
{
	const struct pci_window mw = { MMIO_START, MMIO_END }, iw = { IO_START, IO_END };

	cr_assert_eq(gmem_create(&mem, 0, RAM_SIZE, RAM_SIZE), 0);
	memset(&fh, 0, sizeof(fh));
	fh.host = (struct dev_host){ .msi_route = host_msi_route,
				     .irqfd = host_irqfd,
				     .ioeventfd = host_ioeventfd };
	fh.next_gsi = FIRST_GSI;
	memset(&fm, 0, sizeof(fm));
	drv_avail_idx = 0;
	cr_assert_eq(pci_bus_init(&pb, &mw, &iw), 0);
}

/* The transport on back end (be), in slot 1. */
static void add_device(struct virtio_backend *be)
{
	cr_assert_eq(virtio_pci_init(&vp, be, &fh.host), 0);
	slot = pci_bus_add(&pb, &vp.pci);
	cr_assert_eq(slot, 1);
}

static void teardown_common(void)
{
	pci_bus_free(&pb);
	gmem_destroy(&mem);
}

static void setup(void)
{
	struct virtio_device c = config();

	setup_common();
	c.worker_per_queue = per_queue;
	cr_assert_eq(virtio_local_init(&local, &c, &mem), 0);
	workers = local.workers;
	add_device(&local.backend);
}

static void teardown(void)
{
	virtio_pci_destroy(&vp);
	virtio_local_destroy(&local);
	teardown_common();
}

TestSuite(virtio_pci, .init = setup, .fini = teardown);

static void *serve(void *arg)
{
	(void)arg;
	vhu_backend_serve(&back);
	return NULL;
}

static void on_ring_error(struct event_source *s, uint32_t events)
{
	(void)events;
	vhu_front_ring_error(&front, container_of(s, struct ring_watch, src)->ring);
}

static void on_stop(struct event_source *s, uint32_t events)
{
	(void)s;
	(void)events;
	watching = false;
}

static void *watch(void *arg)
{
	(void)arg;
	while (watching && event_wait(&loop, -1) >= 0)
		;
	return NULL;
}

/* The event loop's thread, on the error eventfd of each of the front end's rings and a stop eventfd. */
static void watch_ring_errors(void)
{
	cr_assert_eq(front.backend.nr_queues, NR_QUEUES);
	cr_assert_eq(event_loop_init(&loop), 0);
	stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cr_assert_geq(stop_fd, 0);
	cr_assert_eq(event_add(&loop, &stop_src, stop_fd, EPOLLIN, on_stop), 0);
	for (unsigned int i = 0; i < NR_QUEUES; i++) {
		ring_err[i].ring = i;
		cr_assert_eq(event_add(&loop, &ring_err[i].src, front.err_fd[i], EPOLLIN, on_ring_error), 0);
	}
	watching = true;
	cr_assert_eq(pthread_create(&watcher, NULL, watch, NULL), 0);
}

static void setup_vhost_user(void)
{
	const struct vhu_front_want want = { .device_id = DEVICE_ID,
					     .config_len = CONFIG_LEN,
					     .config_ask = CONFIG_LEN,
					     .max_queues = NR_QUEUES,
					     .queue_max = QUEUE_MAX };
	int sv[2];

	setup_common();
	vdev = config();
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(vhu_backend_init(&back, &vdev, sv[1]), 0);
	cr_assert_eq(pthread_create(&server, NULL, serve, NULL), 0);
	cr_assert_eq(vhu_front_init(&front, "virtio-test", &want, sv[0], &mem), 0);
	workers = back.workers;
	watch_ring_errors();
	add_device(&front.backend);
}

static void teardown_vhost_user(void)
{
	/* The watcher goes first: nothing may reach the transport once it is destroyed. */
	virtio_eventfd_signal(stop_fd);
	pthread_join(watcher, NULL);
	event_loop_destroy(&loop);
	close(stop_fd);
	virtio_pci_destroy(&vp);
	vhu_front_destroy(&front); /* it hangs up: the back end's serve() returns */
	pthread_join(server, NULL);
	vhu_backend_destroy(&back);
	teardown_common();
}

/*
 * The same transport and model, served over vhost-user: kvmini's front end, and the back end of a device
 * process on a thread here, on guest RAM shared as its memfd.
 */
TestSuite(virtio_pci_vhost_user, .init = setup_vhost_user, .fini = teardown_vhost_user);

/*
 * A test whose outcome depends on what serves the queues: one body, run in both suites. Tests without
 * it concern the transport alone, or the in-process back end's threads.
 */
#define TEST_BOTH_BACKENDS(name)          \
	static void both_##name(void);    \
	Test(virtio_pci, name)            \
	{                                 \
		both_##name();            \
	}                                 \
	Test(virtio_pci_vhost_user, name) \
	{                                 \
		both_##name();            \
	}                                 \
	static void both_##name(void)

/* --- the guest's accesses ------------------------------------------------------------------------- */

/* Config space through ECAM, as the guest's PCI core reaches it. */
static uint32_t cfg_rd(uint32_t reg, uint32_t len)
{
	uint8_t data[4] = { 0 };

	pb.ecam.ops->read(&pb.ecam, (uint64_t)slot << 15 | reg, data, len);
	return (uint32_t)dev_get_le(data, len);
}

static void cfg_wr(uint32_t reg, uint32_t len, uint32_t v)
{
	uint8_t data[4];

	dev_put_le(data, len, v);
	pb.ecam.ops->write(&pb.ecam, (uint64_t)slot << 15 | reg, data, len);
}

/* BAR accesses as the bus hands them to the device: zero-filled before a read. */
static uint64_t bar_rd(unsigned int bar, uint64_t off, uint32_t len)
{
	uint8_t data[8] = { 0 };

	vp.pci.ops->bar_read(&vp.pci, bar, off, data, len);
	return dev_get_le(data, len);
}

static void bar_wr(unsigned int bar, uint64_t off, uint32_t len, uint64_t v)
{
	uint8_t data[8];

	dev_put_le(data, len, v);
	vp.pci.ops->bar_write(&vp.pci, bar, off, data, len);
}

static uint64_t common_rd(uint32_t field, uint32_t len)
{
	return bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_OFF + field, len);
}

static void common_wr(uint32_t field, uint32_t len, uint64_t v)
{
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_OFF + field, len, v);
}

static uint8_t status_rd(void)
{
	return (uint8_t)common_rd(VIRTIO_PCI_COMMON_STATUS, 1);
}

static void status_wr(uint8_t s)
{
	common_wr(VIRTIO_PCI_COMMON_STATUS, 1, s);
}

static uint8_t isr_rd(void)
{
	return (uint8_t)bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_ISR_OFF, 1);
}

static void driver_features_wr(uint64_t f)
{
	common_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	common_wr(VIRTIO_PCI_COMMON_GF, 4, (uint32_t)f);
	common_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	common_wr(VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(f >> 32));
}

/* The start of 3.1.1: ACKNOWLEDGE, DRIVER, the features, FEATURES_OK. */
static void negotiate(uint64_t f)
{
	status_wr(S_ACK);
	status_wr(S_ACK | S_DRIVER);
	driver_features_wr(f);
	status_wr(S_READY);
}

static void wr64(uint32_t lo, uint64_t v)
{
	common_wr(lo, 4, (uint32_t)v);
	common_wr(lo + 4, 4, (uint32_t)(v >> 32));
}

/* Queue (qi)'s registers, then queue_enable. */
static void queue_setup(uint16_t qi, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used,
			uint16_t vector)
{
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, qi);
	common_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
	common_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, vector);
	wr64(VIRTIO_PCI_COMMON_Q_DESCLO, desc);
	wr64(VIRTIO_PCI_COMMON_Q_AVAILLO, avail);
	wr64(VIRTIO_PCI_COMMON_Q_USEDLO, used);
	common_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

/* --- guest RAM: the driver's side of queue 0 ------------------------------------------------------ */

static void *ram(uint64_t gpa, uint64_t len)
{
	void *p = gmem_ptr(&mem, gpa, len);

	cr_assert_not_null(p, "the test's range at 0x%llx is not in RAM", (unsigned long long)gpa);
	return p;
}

static void put_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(ram(DESC_GPA + 16ULL * i, 16), &d, 16);
}

/* Offer the two-buffer chain at descriptor 0: the ring entry, then avail->idx with release order. */
static void publish_chain(uint16_t qsize)
{
	uint16_t *avail_idx = ram(AVAIL_GPA + 2, 2);
	uint16_t head = 0;

	memset(ram(BUF_R_GPA, BUF_R_LEN), 0x11, BUF_R_LEN);
	put_desc(0, BUF_R_GPA, BUF_R_LEN, VIRTQ_DESC_F_NEXT, 1);
	put_desc(1, BUF_W_GPA, BUF_W_LEN, VIRTQ_DESC_F_WRITE, 0);
	memcpy(ram(AVAIL_GPA + 4 + 2ULL * (drv_avail_idx % qsize), 2), &head, 2);
	drv_avail_idx++;
	__atomic_store_n(avail_idx, drv_avail_idx, __ATOMIC_RELEASE);
}

static uint16_t used_idx(void)
{
	return __atomic_load_n((uint16_t *)ram(USED_GPA + 2, 2), __ATOMIC_ACQUIRE);
}

static uint32_t used_elem(unsigned int i, unsigned int field)
{
	uint32_t v;

	memcpy(&v, ram(USED_GPA + 4 + 8ULL * i + 4 * field, 4), 4);
	return v;
}

/* --- waiting on the worker, never longer than needed ---------------------------------------------- */

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Poll (cond) every millisecond for up to WAIT_MS; whether it came true. */
static bool eventually(bool (*cond)(void))
{
	for (int ms = 0; ms < WAIT_MS; ms++) {
		if (cond())
			return true;
		sleep_ms(1);
	}
	return cond();
}

/* Whether eventfd (fd) is signalled within (ms); the count is left in it. */
static bool readable_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static bool needs_reset_shown(void)
{
	return status_rd() & S_NEEDS_RESET;
}

static bool first_chain_used(void)
{
	return used_idx() == 1;
}

static unsigned int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	unsigned int n = 0;

	cr_assert_not_null(d, "cannot list %s", path);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static unsigned int thread_count(void)
{
	return dir_entries("/proc/self/task");
}

static unsigned int fd_count(void)
{
	return dir_entries("/proc/self/fd");
}

/* Whether thread (tid) of this process is asleep (state S: blocked, as a worker in poll is). */
static bool task_asleep(const char *tid)
{
	char path[320], buf[256];
	const char *paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%s/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true; /* it has gone */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	paren = strrchr(buf, ')');
	return !paren || paren[1] != ' ' || paren[2] == 'S';
}

/* Whether every thread but this one is asleep: the worker has reached its poll(). */
static bool others_asleep(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	char self[16];
	bool asleep = true;

	cr_assert_not_null(d);
	snprintf(self, sizeof(self), "%d", (int)gettid());
	while ((e = readdir(d)) && asleep)
		if (e->d_name[0] != '.' && strcmp(e->d_name, self) != 0)
			asleep = task_asleep(e->d_name);
	closedir(d);
	return asleep;
}

/* --- config space --------------------------------------------------------------------------------- */

/* The offset of the (nth) capability with (id), walking the list as a driver does; 0 when none. */
static uint32_t find_cap(uint8_t id, unsigned int nth)
{
	uint32_t off = cfg_rd(PCI_CAPABILITY_LIST, 1) & ~3u;

	for (int i = 0; off && i < CAP_WALK_MAX; i++) {
		cr_assert_geq(off, 0x40, "a capability inside the header at 0x%x", off);
		if (cfg_rd(off, 1) == id && nth-- == 0)
			return off;
		off = cfg_rd(off + PCI_CAP_LIST_NEXT, 1) & ~3u;
	}
	return 0;
}

/* The virtio vendor capability of (cfg_type); 0 when none. */
static uint32_t find_virtio_cap(uint8_t cfg_type)
{
	for (unsigned int n = 0;; n++) {
		uint32_t off = find_cap(PCI_CAP_ID_VNDR, n);

		if (!off || cfg_rd(off + VIRTIO_PCI_CAP_CFG_TYPE, 1) == cfg_type)
			return off;
	}
}

static void expect_virtio_cap(uint8_t cfg_type, uint32_t offset, uint32_t length)
{
	uint32_t cap = find_virtio_cap(cfg_type);

	cr_assert_neq(cap, 0, "no virtio capability of type %u", cfg_type);
	cr_expect_eq(cfg_rd(cap + VIRTIO_PCI_CAP_BAR, 1), VIRTIO_PCI_BAR, "type %u: bar", cfg_type);
	cr_expect_eq(cfg_rd(cap + VIRTIO_PCI_CAP_OFFSET, 4), offset, "type %u: offset", cfg_type);
	cr_expect_eq(cfg_rd(cap + VIRTIO_PCI_CAP_LENGTH, 4), length, "type %u: length", cfg_type);
}

static uint64_t bar4_addr(void)
{
	return (cfg_rd(PCI_BASE_ADDRESS_4, 4) & PCI_BASE_ADDRESS_MEM_MASK) |
	       (uint64_t)cfg_rd(PCI_BASE_ADDRESS_5, 4) << 32;
}

static void msix_entry_wr(unsigned int v, uint32_t field, uint32_t val)
{
	bar_wr(VIRTIO_PCI_MSIX_BAR, 16ULL * v + field, 4, val);
}

/* Enable MSI-X, then program and unmask vector (v). */
static void msix_unmask(unsigned int v)
{
	uint32_t cap = find_cap(PCI_CAP_ID_MSIX, 0);

	cr_assert_neq(cap, 0);
	cfg_wr(cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	msix_entry_wr(v, PCI_MSIX_ENTRY_LOWER_ADDR, MSG_ADDR);
	msix_entry_wr(v, PCI_MSIX_ENTRY_UPPER_ADDR, 0);
	msix_entry_wr(v, PCI_MSIX_ENTRY_DATA, MSG_DATA + v);
	msix_entry_wr(v, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
}

/* ================================================================================================== */

Test(virtio_pci, identity_is_a_modern_only_virtio_function)
{
	cr_assert_eq(cfg_rd(PCI_VENDOR_ID, 2), VIRTIO_PCI_VENDOR);
	cr_assert_eq(cfg_rd(PCI_DEVICE_ID, 2), VIRTIO_PCI_DEVICE_BASE + DEVICE_ID);
	cr_assert_eq(cfg_rd(PCI_REVISION_ID, 1), 1);
	cr_assert_eq(cfg_rd(PCI_CLASS_REVISION, 4) >> 8, virtio_pci_class_code(DEVICE_ID));
	cr_assert_eq(cfg_rd(PCI_SUBSYSTEM_VENDOR_ID, 2), VIRTIO_PCI_VENDOR);
	cr_assert(cfg_rd(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
}

Test(virtio_pci, virtio_bar_is_a_64_bit_memory_bar)
{
	uint32_t lo = cfg_rd(PCI_BASE_ADDRESS_4, 4);

	cr_assert_eq(lo & PCI_BASE_ADDRESS_SPACE, PCI_BASE_ADDRESS_SPACE_MEMORY);
	cr_assert_eq(lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK, PCI_BASE_ADDRESS_MEM_TYPE_64);
	cr_assert_eq(bar4_addr() & (VIRTIO_PCI_BAR_SIZE - 1), 0);
	cr_assert_neq(bar4_addr(), 0);
}

Test(virtio_pci, capability_list_points_at_each_structure_in_bar_4)
{
	uint32_t notify = find_virtio_cap(VIRTIO_PCI_CAP_NOTIFY_CFG),
		 pcicfg = find_virtio_cap(VIRTIO_PCI_CAP_PCI_CFG);

	expect_virtio_cap(VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_LEN);
	expect_virtio_cap(VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
			  NR_QUEUES * VIRTIO_PCI_NOTIFY_MULT);
	expect_virtio_cap(VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1);
	expect_virtio_cap(VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF, CONFIG_LEN);
	cr_assert_eq(cfg_rd(notify + VIRTIO_PCI_CAP_LEN, 1), sizeof(struct virtio_pci_notify_cap));
	cr_assert_eq(cfg_rd(notify + VIRTIO_PCI_NOTIFY_CAP_MULT, 4), 4);
	cr_assert_neq(pcicfg, 0, "no VIRTIO_PCI_CAP_PCI_CFG capability");
	cr_assert_eq(cfg_rd(pcicfg + VIRTIO_PCI_CAP_LEN, 1), sizeof(struct virtio_pci_cfg_cap));
}

Test(virtio_pci, common_config_is_large_enough_for_the_1_2_layout)
{
	uint32_t cap = find_virtio_cap(VIRTIO_PCI_CAP_COMMON_CFG);

	cr_assert_geq(cfg_rd(cap + VIRTIO_PCI_CAP_LENGTH, 4), sizeof(struct virtio_pci_common_cfg));
}

Test(virtio_pci, msix_capability_has_a_vector_per_queue_and_one_for_config)
{
	uint32_t cap = find_cap(PCI_CAP_ID_MSIX, 0);

	cr_assert_neq(cap, 0, "no MSI-X capability");
	cr_assert_eq((cfg_rd(cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1, NR_QUEUES + 1);
	cr_assert_eq(cfg_rd(cap + PCI_MSIX_TABLE, 4), 0u | VIRTIO_PCI_MSIX_BAR);
	cr_assert_eq(cfg_rd(cap + PCI_MSIX_PBA, 4), VIRTIO_PCI_MSIX_PBA | VIRTIO_PCI_MSIX_BAR);
	cr_assert_eq(vp.nr_vectors, NR_QUEUES + 1);
}

/* --- set-up ---------------------------------------------------------------------------------------- */

/* The in-process back end checks the model; the transport checks what the back end offers. */
static int init_with(const struct virtio_device *c)
{
	static struct virtio_pci other;
	static struct virtio_local other_local;
	int ret = virtio_local_init(&other_local, c, &mem);

	if (ret)
		return ret;
	ret = virtio_pci_init(&other, &other_local.backend, &fh.host);
	if (ret == 0)
		virtio_pci_destroy(&other);
	virtio_local_destroy(&other_local);
	return ret;
}

Test(virtio_pci, init_refuses_a_device_without_version_1)
{
	struct virtio_device c = config();

	c.features = F_DEV_BIT6;
	cr_assert_eq(init_with(&c), -EINVAL);
}

Test(virtio_pci, init_refuses_a_queue_max_that_is_not_a_power_of_two)
{
	struct virtio_device c = config();

	c.queue_max = 24;
	cr_assert_eq(init_with(&c), -EINVAL);
	c.queue_max = 0;
	cr_assert_eq(init_with(&c), -EINVAL);
}

Test(virtio_pci, init_refuses_no_queues_or_too_many)
{
	struct virtio_device c = config();

	c.nr_queues = 0;
	cr_assert_eq(init_with(&c), -EINVAL);
	c.nr_queues = VIRTIO_MAX_QUEUES + 1;
	cr_assert_eq(init_with(&c), -EINVAL);
	c.nr_queues = VIRTIO_MAX_QUEUES;
	cr_assert_eq(init_with(&c), 0);
}

Test(virtio_pci, init_refuses_config_len_without_config_read)
{
	struct virtio_device c = config();

	c.config_read = NULL;
	cr_assert_eq(init_with(&c), -EINVAL);
	c.config_len = 0;
	cr_assert_eq(init_with(&c), 0);
}

Test(virtio_pci, init_refuses_a_model_without_handle)
{
	struct virtio_device c = config();

	c.model.handle = NULL;
	cr_assert_eq(init_with(&c), -EINVAL);
}

/* --- feature negotiation --------------------------------------------------------------------------- */

TEST_BOTH_BACKENDS(device_feature_words_follow_device_feature_select)
{
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_DF, 4), (uint32_t)FEATURES);
	common_wr(VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_DFSELECT, 4), 1);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_DF, 4), (uint32_t)(FEATURES >> 32));
	common_wr(VIRTIO_PCI_COMMON_DFSELECT, 4, 2);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_DF, 4), 0);
}

Test(virtio_pci, device_feature_is_read_only)
{
	common_wr(VIRTIO_PCI_COMMON_DF, 4, 0xffffffff);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_DF, 4), (uint32_t)FEATURES);
}

Test(virtio_pci, features_ok_sticks_for_an_offered_subset_with_version_1)
{
	negotiate(F_VERSION | F_DEV_BIT6);
	cr_assert_eq(status_rd(), S_READY);
	common_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_GF, 4), (uint32_t)F_DEV_BIT6);
	common_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_GF, 4), 1);
}

Test(virtio_pci, features_ok_is_refused_for_a_bit_the_device_did_not_offer)
{
	negotiate(F_VERSION | (1ULL << 3));
	cr_assert_eq(status_rd(), S_ACK | S_DRIVER);
}

Test(virtio_pci, features_ok_is_refused_without_version_1)
{
	negotiate(F_DEV_BIT6);
	cr_assert_eq(status_rd(), S_ACK | S_DRIVER);
}

Test(virtio_pci, refused_features_can_be_corrected_and_offered_again)
{
	negotiate(F_DEV_BIT6);
	driver_features_wr(F_VERSION | F_DEV_BIT6);
	status_wr(S_READY);
	cr_assert_eq(status_rd(), S_READY);
}

Test(virtio_pci, driver_feature_writes_after_features_ok_are_ignored)
{
	negotiate(F_VERSION);
	driver_features_wr(F_VERSION | F_EVENT | F_DEV_BIT6);
	common_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_GF, 4), 0);
	common_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_GF, 4), 1);
}

Test(virtio_pci, driver_feature_select_beyond_64_bits_holds_nothing)
{
	common_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 2);
	common_wr(VIRTIO_PCI_COMMON_GF, 4, 0xffffffff);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_GF, 4), 0);
	status_wr(S_ACK | S_DRIVER);
	driver_features_wr(F_VERSION);
	status_wr(S_READY);
	cr_assert_eq(status_rd(), S_READY);
}

/* --- queue registers ------------------------------------------------------------------------------- */

Test(virtio_pci, queue_registers_start_at_their_defaults)
{
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_NUMQ, 2), NR_QUEUES);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	for (uint16_t q = 0; q < NR_QUEUES; q++) {
		common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_SELECT, 2), q);
		cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), QUEUE_MAX);
		cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_NOFF, 2), q);
		cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
		cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
		cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
	}
}

Test(virtio_pci, num_queues_is_read_only)
{
	common_wr(VIRTIO_PCI_COMMON_NUMQ, 2, 7);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_NUMQ, 2), NR_QUEUES);
}

Test(virtio_pci, queue_select_past_the_last_queue_reads_size_zero)
{
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, NR_QUEUES);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	common_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 4);
	common_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0xffff);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
}

Test(virtio_pci, ring_addresses_written_as_two_halves_read_back_whole)
{
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	wr64(VIRTIO_PCI_COMMON_Q_DESCLO, 0x0000000123456000ULL);
	wr64(VIRTIO_PCI_COMMON_Q_AVAILLO, 0x0000000234567000ULL);
	wr64(VIRTIO_PCI_COMMON_Q_USEDLO, 0xfedcba9876543000ULL);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0x23456000u);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_DESCHI, 4), 0x1u);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_AVAILLO, 8), 0x0000000234567000ULL);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_USEDLO, 8), 0xfedcba9876543000ULL);
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0, "queue 1's address leaked into queue 0");
}

Test(virtio_pci, msix_vectors_beyond_the_table_read_back_no_vector)
{
	common_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, NR_QUEUES);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), NR_QUEUES);
	common_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, NR_QUEUES + 1);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	common_wr(VIRTIO_PCI_COMMON_MSIX, 2, 0);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_MSIX, 2), 0);
	common_wr(VIRTIO_PCI_COMMON_MSIX, 2, 0x7ff);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
}

Test(virtio_pci, queue_registers_are_frozen_once_the_queue_is_enabled)
{
	negotiate(F_VERSION);
	queue_setup(0, 8, DESC_GPA, AVAIL_GPA, USED_GPA, 1);
	common_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 4);
	wr64(VIRTIO_PCI_COMMON_Q_DESCLO, 0x40000);
	wr64(VIRTIO_PCI_COMMON_Q_AVAILLO, 0x41000);
	wr64(VIRTIO_PCI_COMMON_Q_USEDLO, 0x42000);
	common_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 8);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_DESCLO, 8), DESC_GPA);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_AVAILLO, 8), AVAIL_GPA);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_USEDLO, 8), USED_GPA);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
}

Test(virtio_pci, queue_registers_are_frozen_after_driver_ok)
{
	negotiate(F_VERSION);
	status_wr(S_READY | S_DRIVER_OK);
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	common_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 4);
	common_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), QUEUE_MAX);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
}

/* --- ISR and device configuration ------------------------------------------------------------------ */

Test(virtio_pci, isr_reads_zero_while_nothing_happened)
{
	cr_assert_eq(isr_rd(), 0);
}

TEST_BOTH_BACKENDS(device_config_comes_from_config_read_within_config_len)
{
	cr_assert_eq(bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_DEVICE_OFF, 4), 0xc3c2c1c0u);
	cr_assert_eq(bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_DEVICE_OFF + 4, 4), 0xc7c6c5c4u);
	cr_assert_eq(bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_DEVICE_OFF + 6, 4), 0, "a read crossing config_len");
	cr_assert_eq(bar_rd(VIRTIO_PCI_BAR, VIRTIO_PCI_DEVICE_OFF + CONFIG_LEN, 1), 0);
}

/* --- end to end ------------------------------------------------------------------------------------- */

/* Features, queue 0 on vector 1 in RAM, config vector 0, DRIVER_OK: what Linux's probe does. */
static void bring_up(uint16_t qsize)
{
	negotiate(F_VERSION);
	common_wr(VIRTIO_PCI_COMMON_MSIX, 2, 0);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_MSIX, 2), 0);
	queue_setup(0, qsize, DESC_GPA, AVAIL_GPA, USED_GPA, 1);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), 1);
	status_wr(S_READY | S_DRIVER_OK);
}

TEST_BOTH_BACKENDS(a_notified_chain_is_served_and_interrupts_its_vector)
{
	bring_up(8);
	cr_assert_eq(status_rd(), S_READY | S_DRIVER_OK);
	cr_assert(workers[0].running);
	publish_chain(8);
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF + 0 * VIRTIO_PCI_NOTIFY_MULT, 2, 0);
	cr_assert(readable_within(vp.vec[1].fd, WAIT_MS),
		  "no used-buffer notification on vector 1's eventfd");
	cr_assert(eventually(first_chain_used), "used->idx is %u", used_idx());
	cr_assert_eq(atomic_load(&fm.chains), 1);
	cr_assert_eq(fm.qi, 0);
	cr_assert_eq(fm.head, 0);
	cr_assert_eq(fm.nbufs, 2);
	cr_assert_eq(fm.readable, BUF_R_LEN);
	cr_assert_eq(fm.writable, BUF_W_LEN);
	cr_assert_eq(fm.first_byte, 0x11);
	cr_assert_eq(used_elem(0, 0), 0, "used id");
	cr_assert_eq(used_elem(0, 1), 1, "used len");
	cr_assert_eq(*(uint8_t *)ram(BUF_W_GPA, 1), MODEL_STAMP);
	cr_assert_eq(status_rd() & S_NEEDS_RESET, 0);
	cr_assert(!readable_within(vp.vec[0].fd, 0), "a config interrupt for a good chain");
}

TEST_BOTH_BACKENDS(a_kick_sent_before_driver_ok_is_served_at_driver_ok)
{
	negotiate(F_VERSION);
	queue_setup(0, 8, DESC_GPA, AVAIL_GPA, USED_GPA, 1);
	publish_chain(8);
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	cr_assert_eq(atomic_load(&fm.chains), 0, "served before DRIVER_OK");
	status_wr(S_READY | S_DRIVER_OK);
	cr_assert(eventually(first_chain_used), "used->idx is %u", used_idx());
	cr_assert(readable_within(vp.vec[1].fd, WAIT_MS));
}

Test(virtio_pci, a_notify_write_for_a_queue_that_does_not_exist_is_ignored)
{
	uint64_t n;

	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF + NR_QUEUES * VIRTIO_PCI_NOTIFY_MULT, 2, NR_QUEUES);
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_BAR_SIZE - 4, 4, 0);
	for (unsigned int q = 0; q < NR_QUEUES; q++)
		cr_assert(read(vp.q[q].kick_fd, &n, sizeof(n)) < 0 && errno == EAGAIN, "queue %u was kicked",
			  q);
}

/* --- a hostile driver ------------------------------------------------------------------------------ */

/* NEEDS_RESET in the status, the configuration-change ISR bit once, and the config vector signalled. */
static void expect_needs_reset_reported(void)
{
	cr_assert(eventually(needs_reset_shown), "status 0x%x without DEVICE_NEEDS_RESET", status_rd());
	cr_assert(readable_within(vp.vec[0].fd, WAIT_MS), "no interrupt on the config vector");
	cr_assert_eq(isr_rd(), VIRTIO_PCI_ISR_CONFIG);
	cr_assert_eq(isr_rd(), 0, "reading the ISR did not clear it");
}

TEST_BOTH_BACKENDS(queue_size_not_a_power_of_two_needs_reset_at_driver_ok)
{
	bring_up(6);
	expect_needs_reset_reported();
	cr_assert(status_rd() & S_DRIVER_OK);
}

TEST_BOTH_BACKENDS(rings_outside_ram_need_reset_at_driver_ok)
{
	negotiate(F_VERSION);
	common_wr(VIRTIO_PCI_COMMON_MSIX, 2, 0);
	queue_setup(0, 8, OUTSIDE_GPA, AVAIL_GPA, USED_GPA, 1);
	status_wr(S_READY | S_DRIVER_OK);
	expect_needs_reset_reported();
}

TEST_BOTH_BACKENDS(used_ring_straddling_the_end_of_ram_needs_reset)
{
	negotiate(F_VERSION);
	common_wr(VIRTIO_PCI_COMMON_MSIX, 2, 0);
	queue_setup(0, 8, DESC_GPA, AVAIL_GPA, RAM_SIZE - 8, 1);
	status_wr(S_READY | S_DRIVER_OK);
	expect_needs_reset_reported();
}

TEST_BOTH_BACKENDS(driver_ok_without_features_ok_needs_reset)
{
	status_wr(S_ACK);
	status_wr(S_ACK | S_DRIVER);
	driver_features_wr(F_VERSION);
	common_wr(VIRTIO_PCI_COMMON_MSIX, 2, 0);
	status_wr(S_ACK | S_DRIVER | S_DRIVER_OK);
	expect_needs_reset_reported();
	cr_assert(!workers[0].running, "a worker runs for a device whose features were never accepted");
}

TEST_BOTH_BACKENDS(refused_features_then_driver_ok_needs_reset)
{
	negotiate(F_DEV_BIT6);
	common_wr(VIRTIO_PCI_COMMON_MSIX, 2, 0);
	status_wr(S_ACK | S_DRIVER | S_FEAT_OK | S_DRIVER_OK);
	expect_needs_reset_reported();
	cr_assert_eq(status_rd() & S_FEAT_OK, 0);
}

TEST_BOTH_BACKENDS(a_chain_the_model_cannot_answer_needs_reset)
{
	fm.answer = -EINVAL;
	bring_up(8);
	publish_chain(8);
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	expect_needs_reset_reported();
	cr_assert_eq(used_idx(), 0, "an unanswered chain was returned as used");
	cr_assert_eq(atomic_load(&fm.chains), 1);
}

TEST_BOTH_BACKENDS(a_chain_with_a_buffer_outside_ram_needs_reset)
{
	bring_up(8);
	publish_chain(8);
	put_desc(1, OUTSIDE_GPA, BUF_W_LEN, VIRTQ_DESC_F_WRITE, 0);
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	expect_needs_reset_reported();
	cr_assert_eq(atomic_load(&fm.chains), 0, "the model was handed a bad chain");
}

TEST_BOTH_BACKENDS(needs_reset_without_a_config_vector_still_sets_status_and_isr)
{
	negotiate(F_VERSION);
	queue_setup(0, 6, DESC_GPA, AVAIL_GPA, USED_GPA, 1);
	status_wr(S_READY | S_DRIVER_OK);
	cr_assert(eventually(needs_reset_shown));
	cr_assert_eq(isr_rd(), VIRTIO_PCI_ISR_CONFIG);
	cr_assert(!readable_within(vp.vec[0].fd, 0));
}

/*
 * 2.1.1: the driver MUST NOT clear a status bit. One that does, clearing DRIVER_OK and setting it again,
 * must not get a second worker serving the same queues beside the first; the worker's thread was made
 * when the device was added, and no register write makes or ends one, nor leaks a descriptor.
 * In-process only: it counts this process's threads and descriptors, and expects the worker to serve
 * with no queue enabled, as local.c's does (a vhost-user back end's worker starts with its first ring).
 */
Test(virtio_pci, clearing_driver_ok_and_setting_it_again_runs_one_worker)
{
	unsigned int threads = thread_count(), fds = fd_count();

	negotiate(F_VERSION);
	status_wr(S_READY | S_DRIVER_OK);
	cr_assert_eq(thread_count(), threads, "DRIVER_OK made a thread: the worker's was made at init");
	cr_assert(local.workers[0].running);
	cr_assert(eventually(others_asleep), "the worker never waited in poll()");
	status_wr(S_READY);
	status_wr(S_READY | S_DRIVER_OK);
	cr_expect_eq(thread_count(), threads, "%u more threads after DRIVER_OK was cleared and set again",
		     thread_count() - threads);
	status_wr(0);
	cr_assert(!local.workers[0].running);
	cr_expect_eq(thread_count(), threads, "the reset changed the number of threads by %d",
		     (int)thread_count() - (int)threads);
	cr_expect_eq(fd_count(), fds, "%d more fds open after the reset than before DRIVER_OK",
		     (int)fd_count() - (int)fds);
}

/* --- reset ---------------------------------------------------------------------------------------- */

TEST_BOTH_BACKENDS(writing_status_zero_stops_the_worker_and_restores_defaults)
{
	bring_up(8);
	cr_assert(workers[0].running);
	common_wr(VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	status_wr(0);
	cr_assert(!workers[0].running);
	cr_assert_eq(status_rd(), 0);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_DFSELECT, 4), 0);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	common_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_GF, 4), 0);
	common_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), QUEUE_MAX);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_AVAILLO, 8), 0);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_USEDLO, 8), 0);
}

TEST_BOTH_BACKENDS(reset_clears_needs_reset_and_the_isr)
{
	bring_up(6);
	cr_assert(eventually(needs_reset_shown));
	status_wr(0);
	cr_assert_eq(status_rd(), 0);
	cr_assert_eq(isr_rd(), 0);
}

TEST_BOTH_BACKENDS(a_device_reset_after_needs_reset_can_be_brought_up_again)
{
	bring_up(6);
	cr_assert(eventually(needs_reset_shown));
	status_wr(0);
	memset(ram(USED_GPA, 4096), 0, 4096);
	bring_up(8);
	cr_assert_eq(status_rd(), S_READY | S_DRIVER_OK);
	publish_chain(8);
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	cr_assert(eventually(first_chain_used), "used->idx is %u", used_idx());
}

Test(virtio_pci, kicks_from_before_a_reset_are_dropped)
{
	uint64_t n;

	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	status_wr(0);
	cr_assert(read(vp.q[0].kick_fd, &n, sizeof(n)) < 0 && errno == EAGAIN,
		  "a stale kick survived the reset");
}

/*
 * 2.1.2: the device MUST NOT send used-buffer notifications before DRIVER_OK. A notification the worker
 * raised on a masked vector waits in its eventfd (the pending bit); a reset must drop it, or the next
 * driver gets it as soon as it unmasks the vector, before its own DRIVER_OK (QEMU clears the pending
 * bits on a virtio reset too: msix_unuse_all_vectors()).
 */
TEST_BOTH_BACKENDS(a_reset_drops_a_notification_pending_on_a_masked_vector)
{
	msix_unmask(1);
	msix_entry_wr(1, PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	bring_up(8);
	publish_chain(8);
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	cr_assert(eventually(first_chain_used), "used->idx is %u", used_idx());
	cr_assert(readable_within(vp.vec[1].fd, WAIT_MS), "no notification pending on the masked vector");
	status_wr(0);
	cr_assert_eq(status_rd(), 0);
	cr_expect(!readable_within(vp.vec[1].fd, 0),
		  "a used-buffer notification from before the reset is still pending on vector 1");
}

TEST_BOTH_BACKENDS(a_reset_drops_a_config_interrupt_pending_on_a_masked_vector)
{
	bring_up(6);
	cr_assert(eventually(needs_reset_shown));
	cr_assert(readable_within(vp.vec[0].fd, WAIT_MS));
	status_wr(0);
	cr_expect(!readable_within(vp.vec[0].fd, 0),
		  "the NEEDS_RESET config interrupt from before the reset is still pending on vector 0");
}

/* --- MSI-X ------------------------------------------------------------------------------------------ */

Test(virtio_pci, an_unmasked_vector_gets_a_route_and_an_irqfd)
{
	msix_unmask(1);
	cr_assert_eq(fh.n, 2);
	cr_assert_eq(fh.calls[0].kind, CALL_MSI_ROUTE);
	cr_assert_eq(fh.calls[0].devid, (uint32_t)slot << 3, "the requester ID of bus 0, slot %d, function 0",
		     slot);
	cr_assert_lt(fh.calls[0].gsi_in, 0, "a new vector did not ask for a new GSI");
	cr_assert_eq(fh.calls[0].gsi, FIRST_GSI);
	cr_assert_eq(fh.calls[0].addr, MSG_ADDR);
	cr_assert_eq(fh.calls[0].data, MSG_DATA + 1);
	cr_assert_eq(fh.calls[1].kind, CALL_IRQFD);
	cr_assert_eq(fh.calls[1].fd, vp.vec[1].fd);
	cr_assert_eq(fh.calls[1].gsi, FIRST_GSI);
	cr_assert(fh.calls[1].assign);
}

Test(virtio_pci, masking_a_vector_unbinds_its_irqfd_and_unmasking_rebinds_it_on_the_same_gsi)
{
	msix_unmask(1);
	msix_entry_wr(1, PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	cr_assert_eq(fh.n, 3);
	cr_assert_eq(fh.calls[2].kind, CALL_IRQFD);
	cr_assert_eq(fh.calls[2].fd, vp.vec[1].fd);
	cr_assert_eq(fh.calls[2].gsi, FIRST_GSI);
	cr_assert(!fh.calls[2].assign);
	msix_entry_wr(1, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	cr_assert_eq(fh.n, 5);
	cr_assert_eq(fh.calls[3].kind, CALL_MSI_ROUTE);
	cr_assert_eq(fh.calls[3].gsi_in, FIRST_GSI, "an unmask asked for a new GSI");
	cr_assert_eq(fh.calls[4].kind, CALL_IRQFD);
	cr_assert_eq(fh.calls[4].fd, vp.vec[1].fd);
	cr_assert(fh.calls[4].assign);
	cr_assert_eq(fh.next_gsi, FIRST_GSI + 1);
}

Test(virtio_pci, a_new_message_on_an_unmasked_vector_reroutes_without_rebinding)
{
	msix_unmask(2);
	msix_entry_wr(2, PCI_MSIX_ENTRY_DATA, 0x4099);
	cr_assert_eq(fh.n, 3);
	cr_assert_eq(fh.calls[2].kind, CALL_MSI_ROUTE);
	cr_assert_eq(fh.calls[2].gsi_in, FIRST_GSI);
	cr_assert_eq(fh.calls[2].data, 0x4099);
}

Test(virtio_pci, each_vector_gets_its_own_gsi)
{
	msix_unmask(0);
	msix_unmask(2);
	cr_assert_eq(fh.n, 4);
	cr_assert_eq(fh.calls[1].fd, vp.vec[0].fd);
	cr_assert_eq(fh.calls[3].fd, vp.vec[2].fd);
	cr_assert_neq(fh.calls[1].gsi, fh.calls[3].gsi);
}

Test(virtio_pci, function_mask_unbinds_every_bound_vector)
{
	uint32_t cap = find_cap(PCI_CAP_ID_MSIX, 0);

	msix_unmask(0);
	msix_unmask(1);
	fh.n = 0;
	cfg_wr(cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	cr_assert_eq(fh.n, 2);
	for (unsigned int i = 0; i < 2; i++) {
		cr_assert_eq(fh.calls[i].kind, CALL_IRQFD);
		cr_assert(!fh.calls[i].assign);
		cr_assert_eq(fh.calls[i].fd, vp.vec[i].fd);
	}
}

Test(virtio_pci, a_masked_vector_reports_nothing_to_the_host)
{
	uint32_t cap = find_cap(PCI_CAP_ID_MSIX, 0);

	cfg_wr(cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	msix_entry_wr(1, PCI_MSIX_ENTRY_LOWER_ADDR, MSG_ADDR);
	msix_entry_wr(1, PCI_MSIX_ENTRY_DATA, MSG_DATA);
	cr_assert_eq(fh.n, 0);
}

/* --- BAR moves and ioeventfds ---------------------------------------------------------------------- */

static void expect_ioeventfd(unsigned int i, uint64_t addr, unsigned int q, bool assign)
{
	cr_assert_eq(fh.calls[i].kind, CALL_IOEVENTFD, "call %u", i);
	cr_assert_eq(fh.calls[i].addr, addr, "call %u: address 0x%llx", i,
		     (unsigned long long)fh.calls[i].addr);
	cr_assert_eq(fh.calls[i].fd, vp.q[q].kick_fd, "call %u", i);
	cr_assert_eq(fh.calls[i].assign, assign, "call %u", i);
}

static uint64_t notify_addr(uint64_t bar, unsigned int q)
{
	return bar + VIRTIO_PCI_NOTIFY_OFF + (uint64_t)q * VIRTIO_PCI_NOTIFY_MULT;
}

Test(virtio_pci, nothing_is_assigned_while_memory_decode_is_off)
{
	cr_assert_eq(fh.n, 0);
	cr_assert_eq(vp.notify_base, PCI_BAR_UNMAPPED);
}

Test(virtio_pci, enabling_memory_decode_assigns_an_ioeventfd_per_queue)
{
	uint64_t base = bar4_addr();

	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(fh.n, NR_QUEUES);
	for (unsigned int q = 0; q < NR_QUEUES; q++)
		expect_ioeventfd(q, notify_addr(base, q), q, true);
}

Test(virtio_pci, moving_bar_4_moves_the_ioeventfds)
{
	uint64_t old = bar4_addr(), moved = MMIO_START + 0x100000;

	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	fh.n = 0;
	cfg_wr(PCI_BASE_ADDRESS_4, 4, (uint32_t)moved);
	cr_assert_eq(bar4_addr(), moved);
	cr_assert_eq(fh.n, 2 * NR_QUEUES);
	for (unsigned int q = 0; q < NR_QUEUES; q++) {
		expect_ioeventfd(2 * q, notify_addr(old, q), q, false);
		expect_ioeventfd(2 * q + 1, notify_addr(moved, q), q, true);
	}
}

Test(virtio_pci, moving_the_msix_bar_leaves_the_ioeventfds_alone)
{
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	fh.n = 0;
	cfg_wr(PCI_BASE_ADDRESS_1, 4, (uint32_t)(MMIO_START + 0x200000));
	cr_assert_eq(fh.n, 0);
}

Test(virtio_pci, disabling_memory_decode_deassigns_the_ioeventfds)
{
	uint64_t base = bar4_addr();

	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	fh.n = 0;
	cfg_wr(PCI_COMMAND, 2, 0);
	cr_assert_eq(fh.n, NR_QUEUES);
	for (unsigned int q = 0; q < NR_QUEUES; q++)
		expect_ioeventfd(q, notify_addr(base, q), q, false);
	cr_assert_eq(vp.notify_base, PCI_BAR_UNMAPPED);
}

/* --- the VIRTIO_PCI_CAP_PCI_CFG window -------------------------------------------------------------- */

static uint32_t window_at(uint32_t off, uint32_t len)
{
	uint32_t cap = find_virtio_cap(VIRTIO_PCI_CAP_PCI_CFG);

	cr_assert_neq(cap, 0);
	cfg_wr(cap + VIRTIO_PCI_CAP_BAR, 1, VIRTIO_PCI_BAR);
	cfg_wr(cap + VIRTIO_PCI_CAP_OFFSET, 4, off);
	cfg_wr(cap + VIRTIO_PCI_CAP_LENGTH, 4, len);
	cr_assert_eq(cfg_rd(cap + VIRTIO_PCI_CAP_BAR, 1), VIRTIO_PCI_BAR);
	cr_assert_eq(cfg_rd(cap + VIRTIO_PCI_CAP_OFFSET, 4), off);
	cr_assert_eq(cfg_rd(cap + VIRTIO_PCI_CAP_LENGTH, 4), len);
	return cap + (uint32_t)offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
}

Test(virtio_pci, pci_cfg_window_reads_the_common_config)
{
	uint32_t data = window_at(VIRTIO_PCI_COMMON_DF, 4);

	cr_assert_eq(cfg_rd(data, 4), (uint32_t)FEATURES);
	common_wr(VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	cr_assert_eq(cfg_rd(data, 4), (uint32_t)(FEATURES >> 32));
}

Test(virtio_pci, pci_cfg_window_writes_land_in_the_common_config)
{
	uint32_t data = window_at(VIRTIO_PCI_COMMON_Q_SELECT, 2);

	cfg_wr(data, 4, 1);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_SELECT, 2), 1);
	cr_assert_eq(cfg_rd(data, 4), 1);
}

Test(virtio_pci, pci_cfg_window_notifies_a_queue)
{
	uint32_t data = window_at(VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT, 2);

	cfg_wr(data, 2, 1);
	cr_assert(readable_within(vp.q[1].kick_fd, 0), "queue 1 was not kicked through the window");
}

Test(virtio_pci, pci_cfg_window_with_a_bad_length_or_alignment_does_nothing)
{
	uint32_t data = window_at(VIRTIO_PCI_COMMON_Q_SELECT, 3);

	cfg_wr(data, 4, 1);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
	data = window_at(VIRTIO_PCI_COMMON_Q_SELECT, 4); /* 0x16 is not dword aligned */
	cfg_wr(data, 4, 1);
	cr_assert_eq(common_rd(VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
}

Test(virtio_pci, pci_cfg_window_reaches_the_msix_table)
{
	uint32_t cap = find_virtio_cap(VIRTIO_PCI_CAP_PCI_CFG), data;

	data = window_at(16 + PCI_MSIX_ENTRY_DATA, 4);
	cfg_wr(cap + VIRTIO_PCI_CAP_BAR, 1, VIRTIO_PCI_MSIX_BAR);
	cfg_wr(data, 4, 0x4077);
	cr_assert_eq(bar_rd(VIRTIO_PCI_MSIX_BAR, 16 + PCI_MSIX_ENTRY_DATA, 4), 0x4077u);
}

static void setup_per_queue(void)
{
	per_queue = true;
	setup();
}

static void teardown_per_queue(void)
{
	teardown();
	per_queue = false;
}

/*
 * worker_per_queue: each queue is served by a thread of its own, made when the device is added: the
 * driver's DRIVER_OK (a vCPU's register write) makes none.
 */
TestSuite(virtio_pci_per_queue, .init = setup_per_queue, .fini = teardown_per_queue);

Test(virtio_pci_per_queue, serves_each_queue_on_a_thread_made_at_init)
{
	unsigned int threads = thread_count();

	cr_assert_eq(local.nr_workers, NR_QUEUES);
	negotiate(F_VERSION);
	queue_setup(0, 8, DESC_GPA, AVAIL_GPA, USED_GPA, 1);
	queue_setup(1, 8, DESC_GPA + 0x4000, AVAIL_GPA + 0x4000, USED_GPA + 0x4000, 2);
	status_wr(S_READY | S_DRIVER_OK);
	cr_assert(local.workers[0].running && local.workers[1].running);
	cr_assert_eq(thread_count(), threads);
	cr_assert_eq(status_rd() & S_NEEDS_RESET, 0);
	status_wr(0);
	cr_assert(!local.workers[0].running && !local.workers[1].running);
	cr_assert_eq(thread_count(), threads, "a reset ends no thread: the next DRIVER_OK reuses them");
}

Test(virtio_pci, one_worker_serves_every_queue_by_default)
{
	unsigned int threads = thread_count();

	cr_assert_eq(local.nr_workers, 1);
	negotiate(F_VERSION);
	queue_setup(0, 8, DESC_GPA, AVAIL_GPA, USED_GPA, 1);
	queue_setup(1, 8, DESC_GPA + 0x4000, AVAIL_GPA + 0x4000, USED_GPA + 0x4000, 2);
	status_wr(S_READY | S_DRIVER_OK);
	cr_assert(local.workers[0].running && !local.workers[1].running);
	cr_assert_eq(thread_count(), threads);
}

/*
 * KVM removes an irqfd on a workqueue that consumes the eventfd's count, so a signal sent just after a
 * mask could vanish: re-unmasking a vector sends one interrupt. The first unmask (probe) sends none.
 */
Test(virtio_pci, unmasking_a_vector_again_sends_one_interrupt_but_the_first_unmask_none)
{
	msix_unmask(1);
	cr_assert(!readable_within(vp.vec[1].fd, 0), "the first unmask raised an interrupt");
	msix_entry_wr(1, PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	msix_entry_wr(1, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	cr_assert(readable_within(vp.vec[1].fd, 0), "re-unmasking sent no interrupt");
}

/* Each model's PCI class is the one QEMU's devices show, so that guests and tools see the same thing. */
Test(virtio_pci, class_codes_as_qemu)
{
	cr_assert_eq(virtio_pci_class_code(1), 0x020000u);  /* net: Ethernet controller */
	cr_assert_eq(virtio_pci_class_code(2), 0x018000u);  /* blk: mass storage, other */
	cr_assert_eq(virtio_pci_class_code(19), 0x078000u); /* vsock: communication, other */
	cr_assert_eq(virtio_pci_class_code(42), 0xff0000u);
}

/*
 * The back end reports a broken ring on its error eventfd, which kvmini's event loop reads on the main
 * thread; when the driver resets the device before the loop gets there, the report belongs to a run
 * that is over: the reset device must not show DEVICE_NEEDS_RESET.
 */
Test(virtio_pci_vhost_user, a_ring_error_reported_before_a_reset_does_not_mark_the_reset_device)
{
	struct pollfd p = { .fd = front.err_fd[0], .events = POLLIN };

	/* Hold the event loop back, as a busy main thread would, and let the vCPU's reset run first. */
	virtio_eventfd_signal(stop_fd);
	pthread_join(watcher, NULL);
	watching = true;
	fm.answer = -EINVAL;
	bring_up(8);
	publish_chain(8);
	bar_wr(VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	cr_assert_eq(poll(&p, 1, WAIT_MS), 1, "the back end did not signal the ring's error eventfd");
	status_wr(0); /* the driver resets the device */
	cr_assert_eq(status_rd(), 0);
	vhu_front_ring_error(&front, 0); /* the event loop gets to the error eventfd now */
	cr_expect_eq(status_rd(), 0, "a freshly reset device shows status 0x%x", status_rd());
	cr_expect_eq(isr_rd(), 0, "and a configuration-change ISR bit");
	/* The suite's fini joins the watcher: give it one that ends at once. */
	watching = false;
	cr_assert_eq(pthread_create(&watcher, NULL, watch, NULL), 0);
}
