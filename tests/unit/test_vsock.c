/* test_vsock.c: virtio-vsock driven as a guest's driver drives it, over fake guest RAM and real Unix sockets. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "guest_ram.h"
#include "mem.h"
#include "virtio/pci.h"
#include "virtio/vsock.h"

#define MIB		(1ULL << 20)
#define RAM_SIZE	(16 * MIB)
#define QSIZE		VSOCK_QUEUE_SIZE
#define FEATURES	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX))
#define GUEST_CID	3
#define HOST_CID	VSOCK_HOST_CID
#define HDR		((uint32_t)sizeof(struct virtio_vsock_hdr))
#define RX_DATA		4096 /* what a Linux driver posts after the header */
#define RX_POSTED	64   /* rx buffers the driver keeps posted */
#define FIRST_HOST_PORT (1u << 30)
#define GUEST_PORT	5000  /* the guest's listener */
#define GUEST_EPHEMERAL 49152 /* the guest's side of the connections it makes */
#define HOST_PORT	1234  /* a host program's listener, at <uds>_1234 */
#define WAIT_MS		2000

/* Where the driver lays out its rings and buffers. */
#define RX_DESC	  0x10000ULL
#define RX_AVAIL  0x20000ULL
#define RX_USED	  0x30000ULL
#define TX_DESC	  0x40000ULL
#define TX_AVAIL  0x50000ULL
#define TX_USED	  0x60000ULL
#define RX_BUF(i) (0x100000ULL + 0x2000ULL * (i)) /* 256 of them: up to 3 MiB */
#define TX_HDR	  0x400000ULL
#define TX_DATA	  0x800000ULL /* one packet's payload at a time, up to 1 MiB */

#define OP(x) VIRTIO_VSOCK_OP_##x

static struct gmem m;
static struct vsock_dev v, v2;
static struct virtio_device cfg;
static struct virtio_worker w;
static struct virtq_chain chain;
static char dir[] = "/tmp/kvmini-test-vsock-XXXXXX";
static char uds[128];

/* The driver's side. */
static struct {
	uint16_t rx_avail, rx_used, tx_avail;
	bool no_refill;	    /* rx buffers taken are not posted again */
	uint32_t buf_alloc; /* the guest's credit, sent in every packet */
	uint32_t fwd_cnt;
} drv;

/* A packet the device put in an rx buffer. */
struct rx_pkt {
	struct virtio_vsock_hdr h;
	uint8_t data[RX_DATA];
};

/* The test's guest RAM (guest_ram.h) */
#define ram(gpa, len) ram_at(&m, (gpa), (len))
#define put16(gpa, v) ram_put16(&m, (gpa), (v))
#define get16(gpa)    ram_get16(&m, (gpa))
#define get32(gpa)    ram_get32(&m, (gpa))

static void put_desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(ram(table + 16ULL * i, 16), &d, 16);
}

static void queue_setup(unsigned int qi, uint64_t desc, uint64_t avail, uint64_t used)
{
	memset(ram(desc, 16ULL * QSIZE), 0, 16ULL * QSIZE);
	memset(ram(avail, 6 + 2ULL * QSIZE), 0, 6 + 2ULL * QSIZE);
	memset(ram(used, 6 + 8ULL * QSIZE), 0, 6 + 8ULL * QSIZE);
	w.setup[qi] = (struct virtio_queue_setup){ .enabled = true,
						   .size = QSIZE,
						   .desc = desc,
						   .avail = avail,
						   .used = used,
						   .kick_fd = -1,
						   .call_fd = -1 };
	cr_assert_eq(virtq_configure(&w.q[qi], &m, QSIZE, desc, avail, used, FEATURES), 0);
}

static void needs_reset(void *opaque)
{
	(void)opaque;
	cr_assert_fail("the device asked for a reset");
}

/* Post rx buffer (i): one device-writable buffer with room for a header and RX_DATA bytes. */
static void rx_post_len(uint16_t i, uint32_t len)
{
	put_desc(RX_DESC, i, RX_BUF(i), len, VIRTQ_DESC_F_WRITE, 0);
	put16(RX_AVAIL + 4 + 2ULL * (drv.rx_avail % QSIZE), i);
	drv.rx_avail++;
	put16(RX_AVAIL + 2, drv.rx_avail);
}

static void rx_post_all(void)
{
	for (uint16_t i = 0; i < RX_POSTED; i++)
		rx_post_len(i, HDR + RX_DATA);
}

static void setup_without_rx(void)
{
	cr_assert_eq(gmem_create(&m, 0, RAM_SIZE, RAM_SIZE), 0);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	cr_assert_eq(vsock_open(&v, GUEST_CID, uds), 0);
	v2.listen_fd = -1;
	vsock_device(&v, "vsock-test", &cfg);
	memset(&w, 0, sizeof(w));
	w.model = &cfg.model;
	w.mem = &m;
	w.needs_reset = needs_reset;
	w.nr_queues = 3;
	queue_setup(VSOCK_RXQ, RX_DESC, RX_AVAIL, RX_USED);
	queue_setup(VSOCK_TXQ, TX_DESC, TX_AVAIL, TX_USED);
	w.io_wanted = true;
	w.io_fd = cfg.model.start(cfg.model.opaque, &w, FEATURES);
	cr_assert_eq(w.io_fd, v.epoll_fd);
	memset(&drv, 0, sizeof(drv));
	drv.buf_alloc = 256 * 1024;
}

static void setup(void)
{
	setup_without_rx();
	rx_post_all();
}

/* For a test's .init, after the suite's: the driver posts no rx buffers. */
static void without_rx(void)
{
	queue_setup(VSOCK_RXQ, RX_DESC, RX_AVAIL, RX_USED);
	drv.rx_avail = 0;
	drv.rx_used = 0;
}

static void teardown(void)
{
	DIR *d;
	struct dirent *e;
	char path[512];

	cfg.model.stop(cfg.model.opaque);
	vsock_close(&v);
	if (v2.listen_fd >= 0)
		vsock_close(&v2);
	d = opendir(dir);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) > 0)
			unlink(path);
	if (d)
		closedir(d);
	rmdir(dir);
	gmem_destroy(&m);
}

TestSuite(vsock, .init = setup, .fini = teardown);

/*
 * The worker's part: call io() while it has more to do or the fd it polls is ready, as the worker's
 * loop does. A device that stays ready without making progress fails the test: it would spin.
 */
static void run_io(void)
{
	for (int i = 0; i < 10000; i++) {
		struct pollfd p = { .fd = w.io_wanted ? w.io_fd : -1, .events = POLLIN };
		bool ready = poll(&p, 1, 0) == 1;

		if (!cfg.model.io(cfg.model.opaque, &w, ready) && !ready)
			return;
	}
	cr_assert_fail("the device spins: its fd stays ready or io() always has more");
}

/* Serve every chain the driver posted on the tx queue, as the worker does, then io(). */
static void serve_tx(void)
{
	while (virtq_pop(&w.q[VSOCK_TXQ], &chain) > 0) {
		uint32_t used = 0xdead;

		cr_assert_eq(cfg.model.handle(cfg.model.opaque, VSOCK_TXQ, &chain, &used), 0);
		cr_assert_eq(used, 0, "nothing is written to a tx chain");
		cr_assert_eq(virtq_push(&w.q[VSOCK_TXQ], chain.head, 0), 0);
	}
	run_io();
}

/* A worker thread serves the queues when set: tx chains wait for it, after a kick on (tx_kick). */
static int tx_kick = -1;

static void tx_publish(uint16_t head)
{
	uint64_t one = 1;

	put16(TX_AVAIL + 4 + 2ULL * (drv.tx_avail % QSIZE), head);
	drv.tx_avail++;
	put16(TX_AVAIL + 2, drv.tx_avail);
	if (tx_kick >= 0)
		cr_assert_eq(write(tx_kick, &one, sizeof(one)), sizeof(one));
	else
		serve_tx();
}

/* The guest sends header (h) and (len) bytes of (data), as two buffers (as Linux does). */
static void tx_raw(const struct virtio_vsock_hdr *h, const void *data, uint32_t len)
{
	memcpy(ram(TX_HDR, HDR), h, HDR);
	if (len)
		memcpy(ram(TX_DATA, len), data, len);
	put_desc(TX_DESC, 0, TX_HDR, HDR, len ? VIRTQ_DESC_F_NEXT : 0, 1);
	put_desc(TX_DESC, 1, TX_DATA, len, 0, 0);
	tx_publish(0);
}

/* The guest sends (n) raw bytes as one buffer. */
static void tx_bytes(const void *bytes, uint32_t n)
{
	memcpy(ram(TX_DATA, n), bytes, n);
	put_desc(TX_DESC, 0, TX_DATA, n, 0, 0);
	tx_publish(0);
}

static struct virtio_vsock_hdr hdr(uint16_t op, uint32_t guest_port, uint32_t host_port, uint32_t len)
{
	return (struct virtio_vsock_hdr){ .src_cid = GUEST_CID,
					  .dst_cid = HOST_CID,
					  .src_port = guest_port,
					  .dst_port = host_port,
					  .len = len,
					  .type = VIRTIO_VSOCK_TYPE_STREAM,
					  .op = op,
					  .buf_alloc = drv.buf_alloc,
					  .fwd_cnt = drv.fwd_cnt };
}

/* The guest sends (op) from its (guest_port) to (host_port), with (len) bytes of (data). */
static void tx(uint16_t op, uint32_t guest_port, uint32_t host_port, const void *data, uint32_t len)
{
	struct virtio_vsock_hdr h = hdr(op, guest_port, host_port, len);

	tx_raw(&h, data, len);
}

static void tx_shutdown(uint32_t guest_port, uint32_t host_port, uint32_t flags)
{
	struct virtio_vsock_hdr h = hdr(OP(SHUTDOWN), guest_port, host_port, 0);

	h.flags = flags;
	tx_raw(&h, NULL, 0);
}

/* The next used rx entry: whether there is one, its head and length. */
static bool rx_used(uint32_t *id, uint32_t *len)
{
	uint64_t e = RX_USED + 4 + 8ULL * (drv.rx_used % QSIZE);

	if (get16(RX_USED + 2) == drv.rx_used)
		return false;
	*id = get32(e);
	*len = get32(e + 4);
	drv.rx_used++;
	return true;
}

/* Take the next packet the device put in the rx queue, if any; its buffer is posted again. */
static bool rx_take(struct rx_pkt *p)
{
	uint32_t id, len;

	if (!rx_used(&id, &len))
		return false;
	cr_assert_lt(id, RX_POSTED);
	memcpy(&p->h, ram(RX_BUF(id), HDR), HDR);
	cr_assert_leq(p->h.len, RX_DATA);
	cr_assert_eq(len, HDR + p->h.len, "the used length is the header and its payload");
	memcpy(p->data, ram(RX_BUF(id) + HDR, p->h.len), p->h.len);
	cr_assert_eq(p->h.src_cid, HOST_CID);
	cr_assert_eq(p->h.dst_cid, GUEST_CID);
	cr_assert_eq(p->h.type, VIRTIO_VSOCK_TYPE_STREAM);
	if (!drv.no_refill)
		rx_post_len((uint16_t)id, HDR + RX_DATA);
	return true;
}

/* The next packet is (op) from host (host_port) to guest (guest_port). */
static struct rx_pkt rx_expect(uint16_t op, uint32_t host_port, uint32_t guest_port)
{
	struct rx_pkt p;

	cr_assert(rx_take(&p), "a packet with op %u", op);
	cr_assert_eq(p.h.op, op, "op %u, not %u", p.h.op, op);
	cr_assert_eq(p.h.src_port, host_port);
	cr_assert_eq(p.h.dst_port, guest_port);
	return p;
}

static void rx_none(void)
{
	struct rx_pkt p;

	cr_assert_not(rx_take(&p), "no packet, but op %u came", p.h.op);
}

/* Host programs */

static int unix_socket(const char *path, bool listening)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (listening) {
		cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0, "bind %s: %s", path,
			     strerror(errno));
		cr_assert_eq(listen(fd, 128), 0);
	} else {
		cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0, "connect %s: %s", path,
			     strerror(errno));
	}
	return fd;
}

static void host_write(int fd, const void *data, size_t len)
{
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
}

/* A host program connected to the device's socket that wrote (line). */
static int host_client(const char *line)
{
	int fd = unix_socket(uds, false);

	host_write(fd, line, strlen(line));
	return fd;
}

/* A host program listening where guest connections to (port) go: "<uds>_<port>". */
static int host_listen(uint32_t port)
{
	char path[256];

	snprintf(path, sizeof(path), "%s_%u", uds, port);
	return unix_socket(path, true);
}

/* Up to (len) bytes from (fd), waiting for the first; 0 at EOF, -1 when nothing came in time. */
static ssize_t host_read(int fd, void *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, WAIT_MS) != 1)
		return -1;
	return read(fd, buf, len);
}

/* Whether (fd) has nothing to read right now (neither bytes nor EOF). */
static bool host_quiet(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 0;
}

/* Reads (len) bytes from (fd), running the device between reads, as its other side. */
static void host_read_all(int fd, void *buf, size_t len)
{
	uint8_t *out = buf;

	for (int tries = 0; len && tries < 10000; tries++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		run_io();
		if (poll(&p, 1, 1) != 1)
			continue;
		n = read(fd, out, len);
		cr_assert_gt(n, 0, "EOF or error with %zu bytes still to come", len);
		out += n;
		len -= (size_t)n;
	}
	cr_assert_eq(len, 0, "%zu bytes never came", len);
}

static void host_expect_eof(int fd)
{
	char c;

	cr_assert_eq(host_read(fd, &c, 1), 0, "EOF");
}

/* Closed by the device: EOF, or ECONNRESET where it closed with bytes of ours unread. */
static void host_expect_closed(int fd)
{
	char c;
	ssize_t n = host_read(fd, &c, 1);

	cr_assert(n == 0 || (n < 0 && errno == ECONNRESET), "closed (%zd, %s)", n, strerror(errno));
}

static void pattern(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7 + (i >> 8) * 13);
}

/* Connections, set up */

/* A host program connected to the guest's listener on (guest_port); (*host_port) is its side's port. */
static int host_established(uint32_t guest_port, uint32_t *host_port)
{
	char line[32], want[32];
	int fd, n;
	struct rx_pkt p;

	snprintf(line, sizeof(line), "CONNECT %u\n", guest_port);
	fd = host_client(line);
	run_io();
	cr_assert(rx_take(&p), "a REQUEST for the host program");
	cr_assert_eq(p.h.op, OP(REQUEST));
	cr_assert_eq(p.h.dst_port, guest_port);
	cr_assert_eq(p.h.buf_alloc, VSOCK_BUF_ALLOC);
	*host_port = p.h.src_port;
	tx(OP(RESPONSE), guest_port, *host_port, NULL, 0);
	n = snprintf(want, sizeof(want), "OK %u\n", *host_port);
	memset(line, 0, sizeof(line));
	cr_assert_eq(host_read(fd, line, (size_t)n), n);
	cr_assert_str_eq(line, want);
	return fd;
}

/* The guest connected from (guest_port) to a host program listening on (host_port); its accepted fd. */
static int guest_established(uint32_t guest_port, uint32_t host_port, int *listen_fd)
{
	int fd;

	*listen_fd = host_listen(host_port);
	tx(OP(REQUEST), guest_port, host_port, NULL, 0);
	rx_expect(OP(RESPONSE), host_port, guest_port);
	fd = accept(*listen_fd, NULL, NULL);
	cr_assert_geq(fd, 0);
	return fd;
}

/*
 * The guest sends to a host program that does not read, minding its credit, until it has none and no
 * CREDIT_UPDATE comes. Returns the bytes sent (a pattern from seed 0).
 */
static uint32_t fill_until_stalled(uint32_t guest_port, uint32_t host_port)
{
	static uint8_t chunk[65536];
	uint32_t sent = 0, fwd_seen = 0;
	struct rx_pkt p;

	for (int round = 0; round < 1000; round++) {
		uint32_t credit = VSOCK_BUF_ALLOC - (sent - fwd_seen),
			 n = credit < sizeof(chunk) ? credit : sizeof(chunk);

		while (rx_take(&p)) {
			cr_assert_eq(p.h.op, OP(CREDIT_UPDATE));
			fwd_seen = p.h.fwd_cnt;
		}
		if (!n)
			return sent;
		for (uint32_t i = 0; i < n; i++)
			chunk[i] = (uint8_t)(sent + i);
		tx(OP(RW), guest_port, host_port, chunk, n);
		sent += n;
	}
	cr_assert_fail("the guest never ran out of credit");
	return 0;
}

/* vsock_open */

Test(vsock, open_rejects_a_reserved_cid)
{
	cr_assert_eq(vsock_open(&v2, 2, uds), -EINVAL);
	cr_assert_eq(vsock_open(&v2, 0xffffffffULL, uds), -EINVAL);
}

Test(vsock, open_rejects_a_path_with_no_room_for_the_port_suffix)
{
	char path[128];
	int n = snprintf(path, sizeof(path), "%s/", dir);

	memset(path + n, 'a', 97 - (size_t)n);
	path[97] = '\0';
	cr_assert_eq(vsock_open(&v2, GUEST_CID, path), -ENAMETOOLONG);
	path[96] = '\0'; /* 96 bytes, "_4294967295" and the NUL fill sun_path */
	cr_assert_eq(vsock_open(&v2, GUEST_CID, path), 0);
}

Test(vsock, open_rejects_a_missing_directory)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/missing/v.sock", dir);
	cr_assert_eq(vsock_open(&v2, GUEST_CID, path), -ENOENT);
}

Test(vsock, open_refuses_a_path_another_listener_holds)
{
	cr_assert_eq(vsock_open(&v2, GUEST_CID, uds), -EADDRINUSE);
	close(host_client("")); /* the first device still listens there */
}

Test(vsock, open_refuses_a_path_that_is_not_a_socket)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/file", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(vsock_open(&v2, GUEST_CID, path), -EEXIST);
	cr_assert_eq(access(path, F_OK), 0, "the file is left alone");
}

Test(vsock, open_replaces_a_stale_socket)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	close(unix_socket(path, true)); /* its file stays, nobody listens */
	cr_assert_eq(vsock_open(&v2, GUEST_CID, path), 0);
	close(unix_socket(path, false));
	vsock_close(&v2);
	cr_assert_neq(access(path, F_OK), 0, "vsock_close removes the socket");
}

/* Configuration */

Test(vsock, config_reads_the_guest_cid)
{
	uint64_t cid = 0;
	uint8_t beyond[4] = { 1, 1, 1, 1 };

	vsock_config_read(&v, 0, &cid, 8);
	cr_assert_eq(cid, GUEST_CID);
	vsock_config_read(&v, 6, beyond, 4);
	cr_assert(beyond[0] == 0 && beyond[1] == 0 && beyond[2] == 0 && beyond[3] == 0);
}

Test(vsock, pci_config_describes_a_vsock_device)
{
	cr_assert_eq(cfg.device_id, VIRTIO_ID_VSOCK);
	cr_assert_eq(virtio_pci_class_code(cfg.device_id), 0x078000);
	cr_assert_eq(cfg.nr_queues, 3);
	cr_assert(cfg.features & (1ULL << VIRTIO_F_VERSION_1));
	cr_assert_not(cfg.features & (1ULL << VIRTIO_VSOCK_F_SEQPACKET));
	cr_assert_eq(cfg.model.rx_queues, (1u << VSOCK_RXQ) | (1u << VSOCK_EVQ));
	cr_assert_eq(cfg.config_len, 8);
}

/* Host programs connecting to the guest */

Test(vsock, host_connect_line_sends_a_request_to_the_guest)
{
	int fd = host_client("CONNECT 5000\n");
	struct rx_pkt p;

	run_io();
	p = rx_expect(OP(REQUEST), FIRST_HOST_PORT, GUEST_PORT);
	cr_assert_eq(p.h.buf_alloc, VSOCK_BUF_ALLOC);
	cr_assert_eq(p.h.fwd_cnt, 0);
	rx_none();
	close(fd);
}

Test(vsock, host_connect_line_in_lower_case_with_extra_words_is_taken)
{
	int fd = host_client("  connect 5000 please\n");

	run_io();
	rx_expect(OP(REQUEST), FIRST_HOST_PORT, GUEST_PORT);
	close(fd);
}

Test(vsock, host_connect_line_may_come_in_pieces)
{
	int fd = host_client("CONN");

	run_io();
	rx_none();
	host_write(fd, "ECT 5000\n", 9);
	run_io();
	rx_expect(OP(REQUEST), FIRST_HOST_PORT, GUEST_PORT);
	close(fd);
}

Test(vsock, guest_response_answers_ok_with_the_host_port)
{
	uint32_t port;
	int fd = host_established(GUEST_PORT, &port);

	cr_assert_eq(port, FIRST_HOST_PORT);
	close(fd);
}

Test(vsock, each_host_connection_gets_its_own_host_port)
{
	uint32_t a, b;
	int fa = host_established(GUEST_PORT, &a), fb = host_established(GUEST_PORT, &b);

	cr_assert_neq(a, b);
	close(fa);
	close(fb);
}

Test(vsock, bad_connect_line_closes_the_host_program)
{
	int fd = host_client("HELLO 5000\n");

	run_io();
	host_expect_eof(fd);
	rx_none();
	cr_assert_eq(v.stats.conns, 0);
	close(fd);
}

Test(vsock, connect_line_with_a_bad_port_closes_the_host_program)
{
	int fd = host_client("CONNECT 99999999999\n");

	run_io();
	host_expect_eof(fd);
	rx_none();
	close(fd);
}

Test(vsock, connect_line_without_newline_in_32_bytes_closes_the_host_program)
{
	int fd = host_client("CONNECT 5000                        ");

	run_io();
	host_expect_closed(fd);
	rx_none();
	close(fd);
}

Test(vsock, host_program_leaving_before_its_line_ends_is_forgotten)
{
	close(host_client("CONNECT 50"));
	run_io();
	rx_none();
	cr_assert_eq(v.stats.conns, 0);
}

Test(vsock, guest_rst_to_a_host_connection_closes_the_host_program)
{
	int fd = host_client("CONNECT 5000\n");

	run_io();
	rx_expect(OP(REQUEST), FIRST_HOST_PORT, GUEST_PORT);
	tx(OP(RST), GUEST_PORT, FIRST_HOST_PORT, NULL, 0);
	host_expect_eof(fd);
	rx_none();
	cr_assert_eq(v.stats.conns, 0);
	close(fd);
}

/* A host program's connection the guest never answers: closed at the deadline, and reset in the guest. */
Test(vsock, unanswered_host_connection_is_closed_and_reset_at_its_deadline)
{
	int fd;

	v.connect_timeout_ms = 200;
	fd = host_client("CONNECT 5000\n");
	run_io();
	rx_expect(OP(REQUEST), FIRST_HOST_PORT, GUEST_PORT);
	run_io();
	cr_assert(host_quiet(fd), "no answer before the deadline");
	usleep(300 * 1000);
	run_io();
	host_expect_eof(fd);
	rx_expect(OP(RST), FIRST_HOST_PORT, GUEST_PORT);
	rx_none();
	cr_assert_eq(v.stats.conns, 0);
	cr_assert_eq(v.stats.connect_timeouts, 1);
	close(fd);
}

Test(vsock, answered_host_connection_outlives_the_deadline)
{
	uint32_t port;
	int fd;

	v.connect_timeout_ms = 200;
	fd = host_established(GUEST_PORT, &port);
	usleep(300 * 1000);
	run_io();
	rx_none();
	cr_assert(host_quiet(fd), "still open");
	cr_assert_eq(v.stats.conns, 1);
	cr_assert_eq(v.stats.connect_timeouts, 0);
	close(fd);
}

/* Without rx buffers the REQUEST never left: at the deadline the program is closed, the guest told nothing. */
Test(vsock, host_connection_whose_request_never_left_is_closed_at_its_deadline, .init = without_rx)
{
	int fd;

	v.connect_timeout_ms = 200;
	fd = host_client("CONNECT 5000\n");
	run_io();
	usleep(300 * 1000);
	run_io();
	host_expect_eof(fd);
	rx_post_all();
	run_io();
	rx_none();
	cr_assert_eq(v.stats.conns, 0);
	close(fd);
}

Test(vsock, host_to_guest_data_arrives_byte_for_byte)
{
	uint32_t port;
	int fd = host_established(GUEST_PORT, &port);
	struct rx_pkt p;

	host_write(fd, "hello, guest", 12);
	run_io();
	p = rx_expect(OP(RW), port, GUEST_PORT);
	cr_assert_eq(p.h.len, 12);
	cr_assert_arr_eq(p.data, "hello, guest", 12);
	cr_assert_eq(p.h.fwd_cnt, 0);
	rx_none();
	close(fd);
}

Test(vsock, guest_to_host_data_arrives_byte_for_byte)
{
	uint32_t port;
	int fd = host_established(GUEST_PORT, &port);
	char buf[16] = { 0 };

	tx(OP(RW), GUEST_PORT, port, "hello, host", 11);
	cr_assert_eq(host_read(fd, buf, sizeof(buf)), 11);
	cr_assert_str_eq(buf, "hello, host");
	close(fd);
}

Test(vsock, bytes_after_the_connect_line_wait_for_the_guest_then_reach_it)
{
	int fd = host_client("CONNECT 5000\nearly");
	struct rx_pkt p;
	char ok[32] = { 0 };

	run_io();
	rx_expect(OP(REQUEST), FIRST_HOST_PORT, GUEST_PORT);
	rx_none();
	tx(OP(RESPONSE), GUEST_PORT, FIRST_HOST_PORT, NULL, 0);
	cr_assert_gt(host_read(fd, ok, sizeof(ok) - 1), 0);
	cr_assert_str_eq(ok, "OK 1073741824\n");
	p = rx_expect(OP(RW), FIRST_HOST_PORT, GUEST_PORT);
	cr_assert_eq(p.h.len, 5);
	cr_assert_arr_eq(p.data, "early", 5);
	close(fd);
}

/* The guest connecting to host programs */

Test(vsock, guest_request_reaches_the_program_listening_on_uds_port)
{
	int lfd, fd = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);
	char buf[8] = { 0 };

	tx(OP(RW), GUEST_EPHEMERAL, HOST_PORT, "ping", 4);
	cr_assert_eq(host_read(fd, buf, sizeof(buf)), 4);
	cr_assert_str_eq(buf, "ping");
	host_write(fd, "pong", 4);
	run_io();
	cr_assert_arr_eq(rx_expect(OP(RW), HOST_PORT, GUEST_EPHEMERAL).data, "pong", 4);
	close(fd);
	close(lfd);
}

Test(vsock, guest_request_with_nobody_listening_gets_rst)
{
	tx(OP(REQUEST), GUEST_EPHEMERAL, HOST_PORT, NULL, 0);
	rx_expect(OP(RST), HOST_PORT, GUEST_EPHEMERAL);
	rx_none();
	cr_assert_eq(v.stats.conns, 0);
	cr_assert_eq(v.stats.bad_packets, 0);
}

Test(vsock, rw_on_an_unknown_connection_gets_rst)
{
	tx(OP(RW), GUEST_EPHEMERAL, HOST_PORT, "x", 1);
	rx_expect(OP(RST), HOST_PORT, GUEST_EPHEMERAL);
	rx_none();
}

Test(vsock, rst_on_an_unknown_connection_gets_nothing)
{
	tx(OP(RST), GUEST_EPHEMERAL, HOST_PORT, NULL, 0);
	rx_none();
	cr_assert_eq(v.stats.bad_packets, 0);
}

Test(vsock, request_on_an_open_connection_resets_it)
{
	int lfd, fd = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);

	tx(OP(REQUEST), GUEST_EPHEMERAL, HOST_PORT, NULL, 0);
	rx_expect(OP(RST), HOST_PORT, GUEST_EPHEMERAL);
	host_expect_eof(fd);
	cr_assert_eq(v.stats.bad_packets, 1);
	cr_assert_eq(v.stats.conns, 0);
	close(fd);
	close(lfd);
}

/* Credit */

Test(vsock, guest_data_beyond_the_credit_resets_the_connection)
{
	static uint8_t big[VSOCK_BUF_ALLOC + 1];
	int lfd, fd = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);

	tx(OP(RW), GUEST_EPHEMERAL, HOST_PORT, big, sizeof(big));
	rx_expect(OP(RST), HOST_PORT, GUEST_EPHEMERAL);
	host_expect_eof(fd);
	cr_assert_eq(v.stats.bad_packets, 1);
	cr_assert_eq(v.stats.buffered, 0);
	close(fd);
	close(lfd);
}

Test(vsock, credit_request_gets_a_credit_update)
{
	int lfd, fd = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);
	struct rx_pkt p;

	tx(OP(CREDIT_REQUEST), GUEST_EPHEMERAL, HOST_PORT, NULL, 0);
	p = rx_expect(OP(CREDIT_UPDATE), HOST_PORT, GUEST_EPHEMERAL);
	cr_assert_eq(p.h.buf_alloc, VSOCK_BUF_ALLOC);
	cr_assert_eq(p.h.fwd_cnt, 0);
	rx_none();
	close(fd);
	close(lfd);
}

Test(vsock, a_quarter_of_the_buffer_forwarded_sends_a_credit_update)
{
	static uint8_t data[VSOCK_BUF_ALLOC / 4], got[VSOCK_BUF_ALLOC / 4];
	int lfd, fd = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);
	struct rx_pkt p;

	pattern(data, sizeof(data), 1);
	tx(OP(RW), GUEST_EPHEMERAL, HOST_PORT, data, sizeof(data) - 1);
	host_read_all(fd, got, sizeof(data) - 1);
	rx_none();
	tx(OP(RW), GUEST_EPHEMERAL, HOST_PORT, data + sizeof(data) - 1, 1);
	host_read_all(fd, got + sizeof(data) - 1, 1);
	p = rx_expect(OP(CREDIT_UPDATE), HOST_PORT, GUEST_EPHEMERAL);
	cr_assert_eq(p.h.fwd_cnt, sizeof(data));
	cr_assert_arr_eq(got, data, sizeof(data));
	close(fd);
	close(lfd);
}

Test(vsock, host_to_guest_stops_at_the_guest_credit_and_resumes_on_credit_update)
{
	static uint8_t data[3000];
	uint32_t port, got = 0;
	int fd;
	struct rx_pkt p;

	drv.buf_alloc = 1000;
	fd = host_established(GUEST_PORT, &port);
	pattern(data, sizeof(data), 2);
	host_write(fd, data, sizeof(data));
	run_io();
	while (rx_take(&p) && p.h.op == OP(RW)) {
		cr_assert_arr_eq(p.data, data + got, p.h.len);
		got += p.h.len;
	}
	cr_assert_eq(got, 1000, "exactly the guest's credit");
	cr_assert_eq(p.h.op, OP(CREDIT_REQUEST), "then one CREDIT_REQUEST");
	rx_none();
	drv.fwd_cnt = 1000;
	tx(OP(CREDIT_UPDATE), GUEST_PORT, port, NULL, 0);
	p = rx_expect(OP(RW), port, GUEST_PORT);
	cr_assert_eq(p.h.len, 1000);
	cr_assert_arr_eq(p.data, data + 1000, 1000);
	close(fd);
}

Test(vsock, slow_host_reader_holds_the_guest_back_with_bounded_memory)
{
	int lfd, fd = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);
	uint32_t sent = fill_until_stalled(GUEST_EPHEMERAL, HOST_PORT);
	static uint8_t got[4 * 1024 * 1024];
	struct rx_pkt p;

	cr_assert_gt(v.stats.buffered, 0, "kvmini holds some, the socket the rest");
	cr_assert_leq(v.stats.buffered, VSOCK_BUF_ALLOC);
	run_io();
	rx_none(); /* no credit while the reader sleeps */
	cr_assert_lt(sent, sizeof(got));
	host_read_all(fd, got, sent);
	for (uint32_t i = 0; i < sent; i++)
		cr_assert_eq(got[i], (uint8_t)i, "byte %u", i);
	cr_assert_eq(v.stats.buffered, 0);
	cr_assert(rx_take(&p) && p.h.op == OP(CREDIT_UPDATE), "credit once the reader has read");
	close(fd);
	close(lfd);
}

/* Shutdown and close */

Test(vsock, guest_shutdown_send_gives_the_host_eof_and_keeps_the_other_way)
{
	int lfd, fd = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);
	char buf[8] = { 0 };

	tx(OP(RW), GUEST_EPHEMERAL, HOST_PORT, "last", 4);
	tx_shutdown(GUEST_EPHEMERAL, HOST_PORT, VIRTIO_VSOCK_SHUTDOWN_SEND);
	cr_assert_eq(host_read(fd, buf, sizeof(buf)), 4);
	host_expect_eof(fd);
	host_write(fd, "back", 4);
	run_io();
	cr_assert_arr_eq(rx_expect(OP(RW), HOST_PORT, GUEST_EPHEMERAL).data, "back", 4);
	close(fd);
	close(lfd);
}

Test(vsock, host_shutdown_write_gives_the_guest_shutdown_send_and_keeps_the_other_way)
{
	uint32_t port;
	int fd = host_established(GUEST_PORT, &port);
	struct rx_pkt p;
	char buf[8] = { 0 };

	host_write(fd, "abc", 3);
	shutdown(fd, SHUT_WR);
	run_io();
	cr_assert_arr_eq(rx_expect(OP(RW), port, GUEST_PORT).data, "abc", 3);
	p = rx_expect(OP(SHUTDOWN), port, GUEST_PORT);
	cr_assert_eq(p.h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	rx_none();
	tx(OP(RW), GUEST_PORT, port, "reply", 5);
	cr_assert_eq(host_read(fd, buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "reply");
	close(fd);
}

Test(vsock, guest_shutdown_rcv_makes_the_host_program_writes_fail)
{
	int lfd, fd = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);
	char buf[8] = { 0 };

	tx_shutdown(GUEST_EPHEMERAL, HOST_PORT, VIRTIO_VSOCK_SHUTDOWN_RCV);
	cr_assert_eq(send(fd, "x", 1, MSG_NOSIGNAL), -1);
	cr_assert_eq(errno, EPIPE);
	tx(OP(RW), GUEST_EPHEMERAL, HOST_PORT, "still", 5);
	cr_assert_eq(host_read(fd, buf, sizeof(buf)), 5, "the other way still carries");
	run_io();
	rx_none();
	close(fd);
	close(lfd);
}

Test(vsock, guest_close_gets_rst_and_the_host_eof)
{
	int lfd, fd = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);

	tx_shutdown(GUEST_EPHEMERAL, HOST_PORT, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	rx_expect(OP(RST), HOST_PORT, GUEST_EPHEMERAL);
	host_expect_eof(fd);
	cr_assert_eq(v.stats.conns, 0);
	close(fd);
	close(lfd);
}

Test(vsock, guest_close_gets_rst_only_after_the_buffer_drains)
{
	static uint8_t got[4 * 1024 * 1024];
	int lfd, fd = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);
	uint32_t sent = fill_until_stalled(GUEST_EPHEMERAL, HOST_PORT);

	tx_shutdown(GUEST_EPHEMERAL, HOST_PORT, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	rx_none();
	host_read_all(fd, got, sent);
	cr_assert_eq(got[sent - 1], (uint8_t)(sent - 1));
	rx_expect(OP(RST), HOST_PORT, GUEST_EPHEMERAL);
	host_expect_eof(fd);
	close(fd);
	close(lfd);
}

Test(vsock, guest_rst_after_shutdown_send_still_delivers_the_buffer)
{
	static uint8_t got[4 * 1024 * 1024];
	int lfd, fd = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);
	uint32_t sent = fill_until_stalled(GUEST_EPHEMERAL, HOST_PORT);

	tx_shutdown(GUEST_EPHEMERAL, HOST_PORT, VIRTIO_VSOCK_SHUTDOWN_SEND);
	tx(OP(RST), GUEST_EPHEMERAL, HOST_PORT, NULL, 0);
	cr_assert_eq(v.stats.conns, 1, "draining");
	host_read_all(fd, got, sent);
	cr_assert_eq(got[sent - 1], (uint8_t)(sent - 1));
	host_expect_eof(fd);
	rx_none();
	cr_assert_eq(v.stats.conns, 0);
	close(fd);
	close(lfd);
}

Test(vsock, guest_rst_without_shutdown_closes_at_once)
{
	int lfd, fd = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);

	fill_until_stalled(GUEST_EPHEMERAL, HOST_PORT);
	tx(OP(RST), GUEST_EPHEMERAL, HOST_PORT, NULL, 0);
	cr_assert_eq(v.stats.conns, 0);
	cr_assert_eq(v.stats.buffered, 0);
	rx_none();
	close(fd);
	close(lfd);
}

Test(vsock, host_program_closing_gives_the_guest_its_data_then_rst)
{
	uint32_t port;
	int fd = host_established(GUEST_PORT, &port);

	host_write(fd, "bye", 3);
	close(fd);
	run_io();
	cr_assert_arr_eq(rx_expect(OP(RW), port, GUEST_PORT).data, "bye", 3);
	rx_expect(OP(RST), port, GUEST_PORT);
	rx_none();
	cr_assert_eq(v.stats.conns, 0);
}

Test(vsock, stop_closes_every_connection)
{
	uint32_t port;
	int lfd, a = host_established(GUEST_PORT, &port),
		 b = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);

	cr_assert_eq(v.stats.conns, 2);
	cfg.model.stop(cfg.model.opaque);
	cr_assert_eq(v.stats.conns, 0);
	host_expect_eof(a);
	host_expect_eof(b);
	close(a);
	close(b);
	close(lfd);
}

/* Rx buffers */

Test(vsock, no_rx_buffers_stops_polling_and_resumes_when_some_come, .init = without_rx)
{
	int fd = host_client("CONNECT 5000\n");

	run_io();
	cr_assert_not(w.io_wanted, "the device stops polling its sockets");
	rx_none();
	rx_post_all();
	cr_assert_not(cfg.model.io(cfg.model.opaque, &w, false), "an rx kick");
	cr_assert(w.io_wanted);
	rx_expect(OP(REQUEST), FIRST_HOST_PORT, GUEST_PORT);
	close(fd);
}

Test(vsock, rx_buffer_too_small_for_a_header_is_returned_empty, .init = without_rx)
{
	int fd = host_client("CONNECT 5000\n");
	uint32_t id, len;

	rx_post_len(0, HDR - 1);
	for (uint16_t i = 1; i < RX_POSTED; i++)
		rx_post_len(i, HDR + RX_DATA);
	run_io();
	cr_assert(rx_used(&id, &len));
	cr_assert_eq(id, 0);
	cr_assert_eq(len, 0);
	cr_assert_eq(v.stats.bad_packets, 1);
	rx_expect(OP(REQUEST), FIRST_HOST_PORT, GUEST_PORT);
	close(fd);
}

/* Malformed packets */

Test(vsock, header_split_across_buffers_is_read_whole)
{
	struct virtio_vsock_hdr h = hdr(OP(REQUEST), GUEST_EPHEMERAL, HOST_PORT, 0);

	memcpy(ram(TX_HDR, HDR), &h, HDR);
	put_desc(TX_DESC, 0, TX_HDR, 10, VIRTQ_DESC_F_NEXT, 1);
	put_desc(TX_DESC, 1, TX_HDR + 10, HDR - 10, 0, 0);
	tx_publish(0);
	rx_expect(OP(RST), HOST_PORT, GUEST_EPHEMERAL); /* nobody listens: but the header was understood */
	cr_assert_eq(v.stats.bad_packets, 0);
}

Test(vsock, short_header_is_counted_and_dropped)
{
	struct virtio_vsock_hdr h = hdr(OP(REQUEST), GUEST_EPHEMERAL, HOST_PORT, 0);

	tx_bytes(&h, HDR - 1);
	cr_assert_eq(v.stats.bad_packets, 1);
	rx_none();
}

Test(vsock, wrong_source_cid_is_counted_and_reset)
{
	struct virtio_vsock_hdr h = hdr(OP(REQUEST), GUEST_EPHEMERAL, HOST_PORT, 0);

	h.src_cid = GUEST_CID + 1;
	tx_raw(&h, NULL, 0);
	cr_assert_eq(v.stats.bad_packets, 1);
	rx_expect(OP(RST), HOST_PORT, GUEST_EPHEMERAL);
}

Test(vsock, wrong_destination_cid_is_counted_and_reset)
{
	int lfd = host_listen(HOST_PORT);
	struct virtio_vsock_hdr h = hdr(OP(REQUEST), GUEST_EPHEMERAL, HOST_PORT, 0);

	h.dst_cid = 7;
	tx_raw(&h, NULL, 0);
	cr_assert_eq(v.stats.bad_packets, 1);
	rx_expect(OP(RST), HOST_PORT, GUEST_EPHEMERAL);
	cr_assert_eq(v.stats.conns, 0);
	close(lfd);
}

Test(vsock, seqpacket_type_is_counted_and_reset)
{
	struct virtio_vsock_hdr h = hdr(OP(REQUEST), GUEST_EPHEMERAL, HOST_PORT, 0);

	h.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	tx_raw(&h, NULL, 0);
	cr_assert_eq(v.stats.bad_packets, 1);
	rx_expect(OP(RST), HOST_PORT, GUEST_EPHEMERAL);
}

Test(vsock, malformed_rst_is_counted_and_not_answered)
{
	struct virtio_vsock_hdr h = hdr(OP(RST), GUEST_EPHEMERAL, HOST_PORT, 0);

	h.type = 9;
	tx_raw(&h, NULL, 0);
	cr_assert_eq(v.stats.bad_packets, 1);
	rx_none();
}

Test(vsock, length_beyond_the_payload_resets_the_connection)
{
	int lfd, fd = guest_established(GUEST_EPHEMERAL, HOST_PORT, &lfd);
	struct virtio_vsock_hdr h = hdr(OP(RW), GUEST_EPHEMERAL, HOST_PORT, 100);

	tx_raw(&h, "0123456789", 10);
	cr_assert_eq(v.stats.bad_packets, 1);
	rx_expect(OP(RST), HOST_PORT, GUEST_EPHEMERAL);
	host_expect_eof(fd);
	cr_assert(host_quiet(lfd));
	close(fd);
	close(lfd);
}

Test(vsock, data_before_the_guest_answers_resets_the_connection)
{
	int fd = host_client("CONNECT 5000\n");

	run_io();
	rx_expect(OP(REQUEST), FIRST_HOST_PORT, GUEST_PORT);
	tx(OP(RW), GUEST_PORT, FIRST_HOST_PORT, "early", 5);
	cr_assert_eq(v.stats.bad_packets, 1);
	rx_expect(OP(RST), FIRST_HOST_PORT, GUEST_PORT);
	host_expect_eof(fd);
	close(fd);
}

/* Many connections */

Test(vsock, a_hundred_connections_each_carry_their_own_bytes)
{
	enum {
		N = 100
	};
	int fd[N];
	uint32_t port[N];
	struct rx_pkt p;
	char msg[32], buf[32];

	for (int i = 0; i < N; i++)
		fd[i] = host_established(GUEST_PORT + (uint32_t)i, &port[i]);
	cr_assert_eq(v.stats.conns, N);
	for (int i = 0; i < N; i++) {
		snprintf(msg, sizeof(msg), "to guest %d", i);
		host_write(fd[i], msg, strlen(msg));
	}
	run_io();
	for (int n = 0; n < N; n++) {
		int i;

		if (!rx_take(&p)) {
			run_io();
			cr_assert(rx_take(&p), "%d packets of %d", n, N);
		}
		cr_assert_eq(p.h.op, OP(RW));
		i = (int)(p.h.dst_port - GUEST_PORT);
		cr_assert(i >= 0 && i < N && p.h.src_port == port[i]);
		snprintf(msg, sizeof(msg), "to guest %d", i);
		cr_assert_eq(p.h.len, strlen(msg));
		cr_assert_arr_eq(p.data, msg, p.h.len);
	}
	for (int i = 0; i < N; i++) {
		snprintf(msg, sizeof(msg), "to host %d", i);
		tx(OP(RW), GUEST_PORT + (uint32_t)i, port[i], msg, (uint32_t)strlen(msg));
	}
	for (int i = 0; i < N; i++) {
		snprintf(msg, sizeof(msg), "to host %d", i);
		memset(buf, 0, sizeof(buf));
		cr_assert_eq(host_read(fd[i], buf, sizeof(buf) - 1), (ssize_t)strlen(msg));
		cr_assert_str_eq(buf, msg);
		close(fd[i]);
	}
}

/* The worker thread */

/* Waits for the device to use an rx buffer, as a driver woken by an interrupt would. */
static void wait_rx(void)
{
	for (int i = 0; i < WAIT_MS && get16(RX_USED + 2) == drv.rx_used; i++)
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
}

Test(vsock, worker_thread_carries_a_host_connection_both_ways)
{
	static struct virtio_worker tw;
	struct virtio_queue_setup qs[3];
	char ok[32] = { 0 }, buf[8] = { 0 };
	int fd;

	cfg.model.stop(cfg.model.opaque); /* the worker starts the model anew */
	memcpy(qs, w.setup, sizeof(qs));
	for (int i = 0; i < 2; i++) {
		qs[i].kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		cr_assert_geq(qs[i].kick_fd, 0);
	}
	tx_kick = qs[VSOCK_TXQ].kick_fd;
	cr_assert_eq(virtio_worker_init(&tw), 0);
	cr_assert_eq(virtio_worker_start(&tw, &cfg.model, &m, FEATURES, qs, 3, needs_reset, NULL), 0);
	fd = host_client("CONNECT 5000\n");
	wait_rx();
	rx_expect(OP(REQUEST), FIRST_HOST_PORT, GUEST_PORT);
	tx(OP(RESPONSE), GUEST_PORT, FIRST_HOST_PORT, NULL, 0);
	cr_assert_gt(host_read(fd, ok, sizeof(ok) - 1), 0);
	cr_assert_str_eq(ok, "OK 1073741824\n");
	host_write(fd, "ping", 4);
	wait_rx();
	cr_assert_arr_eq(rx_expect(OP(RW), FIRST_HOST_PORT, GUEST_PORT).data, "ping", 4);
	tx(OP(RW), GUEST_PORT, FIRST_HOST_PORT, "pong", 4);
	cr_assert_eq(host_read(fd, buf, sizeof(buf)), 4);
	cr_assert_str_eq(buf, "pong");
	virtio_worker_stop(&tw, NULL);
	cr_assert_eq(v.stats.conns, 0, "stopping the worker closes the connections");
	virtio_worker_destroy(&tw);
	host_expect_eof(fd);
	close(fd);
	close(qs[0].kick_fd);
	close(qs[1].kick_fd);
}
