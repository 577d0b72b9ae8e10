/*
 * fuzz_vsock.c: libFuzzer target for virtio-vsock: a hostile driver's tx and rx queues and packets,
 * against real host Unix sockets (host programs that connect, listen, write, read or not, and leave).
 *
 * Input: fuzz_ram.h's layout, a 16-byte header then the contents of guest RAM (missing bytes are zero).
 *   0: bits 0-3: both queues' size, 1 << (value % 9); bit 4 INDIRECT_DESC; bit 5 EVENT_IDX;
 *      bits 6-7: rounds - 1
 *   1: the host side: bit 0 a host program connects to the device's socket and asks for guest port
 *      1024 + (byte 2 & 3), with a line that is bad when bit 1 is set; after each round, bit 2 it
 *      writes 3000 bytes, bit 3 programs listening on <uds>_1024..1027 accept and write 3000 bytes,
 *      bit 6 every program reads what it can (else none ever reads); after the first round, bit 4 the
 *      first program shuts its writing side, bit 5 it closes, bit 7 the driver resets the device
 *   2: bits 4-7: how far the "driver" moves the rx avail->idx between rounds
 *   3: how far it moves the tx avail->idx between rounds
 *   4, 6, 8: le16 tx desc, avail, used; 10, 12, 14: rx desc, avail, used: guest address (bit 15
 *      picks the high region) + bits 0-14
 * The guest's CID is 3. Each input gets a device of its own on a socket in a directory made once.
 *
 * The invariants: the device never spins (io() comes to rest once the host side is still), its
 * counters agree (connections, bytes held: at most VSOCK_BUF_ALLOC each), and closing it leaves no
 * fd behind; ASan and UBSan watch the rest.
 *
 * Build: make build/tests/fuzz/fuzz_vsock
 * Seeds:  cc -std=c11 -D_GNU_SOURCE -DFUZZ_SEED_MAIN -Ivmm -Idevices -Idevices/base tests/fuzz/fuzz_vsock.c \
 *            devices/virtio/vsock.c devices/virtio/worker.c devices/virtio/virtq.c devices/base/mem.c devices/base/log.c \
 *            -Wl,--wrap=virtq_push,--wrap=virtq_push_n -lpthread -o /tmp/vsock-seeds && \
 *         /tmp/vsock-seeds tests/fuzz/corpus/vsock
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_vsock.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "fuzz_push.h"
#include "fuzz_ram.h"
#include "mem.h"
#include "virtio/vsock.h"
#include "virtio/worker.h"

#define GUEST_CID    3
#define LISTEN_PORT  1024 /* host programs listen on <uds>_1024 .. _1027 */
#define NR_LISTENERS 4
#define MAX_HOST_FDS 64
#define WRITE_LEN    3000
#define IO_SPIN_MAX  4096 /* io() calls without rest before the device is deemed spinning */
#define H_CONNECT    0x01
#define H_BAD_LINE   0x02
#define H_WRITE	     0x04
#define H_ACCEPT     0x08
#define H_SHUT_WR    0x10
#define H_CLOSE	     0x20
#define H_READ	     0x40
#define H_RESET	     0x80

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the target keeps between inputs: libFuzzer gives it no other place. */
static struct {
	char dir[64];
	char uds[128];
	int listeners[NR_LISTENERS];
	int probe_fd; /* the lowest free fd before the input: a leak moves it */
	struct vsock_dev v;
	struct virtio_device cfg;
	struct virtio_worker w;
	int client; /* the host program connected to the device's socket, or -1 */
	int fds[MAX_HOST_FDS];
	unsigned int nr_fds;
	uint8_t buf[65536];
} fz;

/* A failed invariant: crash loudly so that libFuzzer keeps the input. */
static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "vsock invariant broken: %s\n", what);
		abort();
	}
}

static int unix_socket(const char *path, bool listening)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	check(fd >= 0, "a socket for a host program");
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (listening)
		check(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 && listen(fd, 64) == 0,
		      "a host program listens");
	else
		check(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0, "a host program connects");
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	(void)argc;
	(void)argv;
	/* Malformed packets are the point here: keep the once-only warnings quiet. */
	log_set_level(LOG_ERR);
	snprintf(fz.dir, sizeof(fz.dir), "%s/kvmini-fuzz-vsock-XXXXXX", tmp);
	check(mkdtemp(fz.dir) != NULL, "a directory for the sockets");
	snprintf(fz.uds, sizeof(fz.uds), "%s/v", fz.dir);
	for (int i = 0; i < NR_LISTENERS; i++) {
		char path[160];

		snprintf(path, sizeof(path), "%s_%d", fz.uds, LISTEN_PORT + i);
		fz.listeners[i] = unix_socket(path, true);
	}
	return 0;
}

static void needs_reset(void *opaque)
{
	(void)opaque;
}

/* The worker's part: io() until it rests, as the worker's loop calls it. */
static void run_io(bool kick)
{
	for (unsigned int i = 0; i < IO_SPIN_MAX; i++) {
		struct pollfd p = { .fd = fz.w.io_wanted ? fz.w.io_fd : -1, .events = POLLIN };
		bool ready = poll(&p, 1, 0) == 1;

		if (!fz.cfg.model.io(fz.cfg.model.opaque, &fz.w, ready) && !ready && !kick)
			return;
		kick = false;
	}
	check(false, "io() never rests: the device spins");
}

/*
 * Every rx chain the device returns (fuzz_push.h): the chain it took last, once, with no more written
 * than its device-writable bytes, and a whole header or nothing (a buffer too small for one).
 */
static void push_check(const struct virtq *q, const uint16_t *heads, const uint32_t *written, uint16_t n)
{
	const struct virtq_chain *ch = &fz.v.rx_chain;

	if (q != &fz.w.q[VSOCK_RXQ])
		return;
	check(n == 1 && heads[0] == ch->head, "the rx chain returned is the one just filled");
	check(written[0] <= ch->writable, "no more written than the rx chain holds");
	check(written[0] == 0 || written[0] >= sizeof(struct virtio_vsock_hdr),
	      "an rx packet has its whole header");
}

/* Serve the tx queue as the worker's serve() does: a queue's worth of chains, then the notification. */
static void serve_tx(void)
{
	struct virtq *q = &fz.w.q[VSOCK_TXQ];
	unsigned int budget = q->size;

	if (!fz.w.setup[VSOCK_TXQ].enabled || q->broken)
		return;
	virtq_kick_suppress(q, true);
	while (budget-- && virtq_pop(q, &fz.w.chain) > 0) {
		uint32_t used = 0xdead;

		check(fz.cfg.model.handle(fz.cfg.model.opaque, VSOCK_TXQ, &fz.w.chain, &used) == 0 &&
			      used == 0,
		      "nothing is written to a tx chain");
		virtq_push(q, fz.w.chain.head, 0);
	}
	(void)virtq_should_notify(q);
	virtq_kick_suppress(q, false);
}

static void queue(unsigned int qi, const struct gmem *m, const uint8_t *hdr, uint64_t features)
{
	uint16_t size = (uint16_t)(1u << (hdr[0] & 0xf) % 9);
	const uint8_t *a = hdr + (qi == VSOCK_TXQ ? 4 : 10);

	struct virtio_queue_setup *q = &fz.w.setup[qi];

	*q = (struct virtio_queue_setup){ .size = size,
					  .desc = gpa_of(a),
					  .avail = gpa_of(a + 2),
					  .used = gpa_of(a + 4),
					  .kick_fd = -1,
					  .call_fd = -1 };
	q->enabled = virtq_configure(&fz.w.q[qi], m, size, q->desc, q->avail, q->used, features) == 0;
}

/* The device for one input: opened, described, started on the input's queues. */
static void start(const struct gmem *m, const uint8_t *hdr)
{
	uint64_t features = (1ULL << VIRTIO_F_VERSION_1) |
			    (hdr[0] & 0x10 ? 1ULL << VIRTIO_RING_F_INDIRECT_DESC : 0) |
			    (hdr[0] & 0x20 ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0);

	check(vsock_open(&fz.v, GUEST_CID, fz.uds) == 0, "the device opens");
	vsock_device(&fz.v, "fuzz-vsock", &fz.cfg);
	check((fz.cfg.features & features) == features, "the device offers the ring features");
	memset(&fz.w, 0, sizeof(fz.w));
	fz.w.model = &fz.cfg.model;
	fz.w.mem = m;
	fz.w.needs_reset = needs_reset;
	fz.w.nr_queues = 3;
	queue(VSOCK_RXQ, m, hdr, features);
	queue(VSOCK_TXQ, m, hdr, features);
	fz.w.io_wanted = true;
	fz.w.io_fd = fz.cfg.model.start(fz.cfg.model.opaque, &fz.w, features);
	check(fz.w.io_fd == fz.v.epoll_fd, "start() hands over the epoll fd");
}

static void keep_fd(int fd)
{
	if (fz.nr_fds < MAX_HOST_FDS)
		fz.fds[fz.nr_fds++] = fd;
	else
		close(fd);
}

/* Host programs that connected to the listeners are accepted; they write when (write). */
static void accept_all(bool write)
{
	for (int i = 0; i < NR_LISTENERS; i++) {
		int fd;

		while ((fd = accept4(fz.listeners[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
			if (write)
				(void)send(fd, fz.buf, WRITE_LEN, MSG_NOSIGNAL);
			keep_fd(fd);
		}
	}
}

static void read_all(void)
{
	for (unsigned int i = 0; i < fz.nr_fds; i++)
		while (read(fz.fds[i], fz.buf, sizeof(fz.buf)) > 0)
			;
}

/* What the host programs do after round (round). */
static void host_acts(uint8_t how, unsigned int round)
{
	if (how & H_ACCEPT)
		accept_all(true);
	if (fz.client >= 0 && (how & H_WRITE))
		(void)send(fz.client, fz.buf, WRITE_LEN, MSG_NOSIGNAL);
	if (how & H_READ)
		read_all();
	if (round == 0 && fz.client >= 0 && (how & H_SHUT_WR))
		shutdown(fz.client, SHUT_WR);
	if (round == 0 && fz.client >= 0 && (how & H_CLOSE)) {
		for (unsigned int i = 0; i < fz.nr_fds; i++)
			if (fz.fds[i] == fz.client)
				fz.fds[i] = fz.fds[--fz.nr_fds];
		close(fz.client);
		fz.client = -1;
	}
	if (round == 0 && (how & H_RESET)) {
		fz.cfg.model.stop(fz.cfg.model.opaque);
		check(fz.v.stats.conns == 0 && fz.v.stats.buffered == 0, "a reset closes every connection");
		fz.w.io_fd = fz.cfg.model.start(fz.cfg.model.opaque, &fz.w, 0);
	}
}

static void check_counts(void)
{
	const struct vsock_dev *v = &fz.v;

	check(v->stats.conns == v->nr_conns && v->nr_conns <= VSOCK_MAX_CONNS, "the connections are counted");
	check(v->stats.buffered <= (uint64_t)v->nr_conns * VSOCK_BUF_ALLOC,
	      "at most VSOCK_BUF_ALLOC held each");
	check(v->rst_len <= VSOCK_RST_MAX, "the RSTs owed are bounded");
}

static void bump(const struct gmem *m, unsigned int qi, uint8_t by)
{
	uint8_t *idx = fz.w.setup[qi].enabled ? gmem_ptr(m, fz.w.setup[qi].avail + 2, 2) : NULL;
	uint16_t val;

	if (!idx)
		return;
	memcpy(&val, idx, 2);
	val = (uint16_t)(val + by);
	memcpy(idx, &val, 2);
}

static void run(const struct gmem *m, const uint8_t *hdr)
{
	uint8_t how = hdr[1];

	start(m, hdr);
	fz.client = -1;
	fz.nr_fds = 0;
	if (how & H_CONNECT) {
		char line[32];
		int n = snprintf(line, sizeof(line), how & H_BAD_LINE ? "CONNECT x%u\n" : "CONNECT %u\n",
				 LISTEN_PORT + (hdr[2] & 3));

		fz.client = unix_socket(fz.uds, false);
		(void)send(fz.client, line, (size_t)n, MSG_NOSIGNAL);
		keep_fd(fz.client);
	}
	run_io(false);
	for (unsigned int round = 0; round < 1u + (hdr[0] >> 6); round++) {
		serve_tx();
		run_io(false);
		check_counts();
		host_acts(how, round);
		run_io(true); /* an rx kick */
		check_counts();
		bump(m, VSOCK_TXQ, hdr[3]);
		bump(m, VSOCK_RXQ, hdr[2] >> 4);
	}
}

static void finish(void)
{
	int probe;

	fz.cfg.model.stop(fz.cfg.model.opaque);
	check(fz.v.stats.conns == 0 && fz.v.stats.buffered == 0, "stop() closes every connection");
	vsock_close(&fz.v);
	for (unsigned int i = 0; i < fz.nr_fds; i++)
		close(fz.fds[i]);
	fz.nr_fds = 0;
	accept_all(false); /* connections left in the listeners' backlogs */
	for (unsigned int i = 0; i < fz.nr_fds; i++)
		close(fz.fds[i]);
	fz.nr_fds = 0;
	probe = dup(2);
	close(probe);
	check(probe == fz.probe_fd, "no fd is left open");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[HDR_LEN];
	struct gmem m;

	fz.probe_fd = dup(2);
	close(fz.probe_fd);
	fuzz_ram_load(data, size, hdr, &m);
	run(&m, hdr);
	finish();
	fuzz_ram_free(&m);
	return 0;
}

#ifdef FUZZ_SEED_MAIN
/*
 * Seed corpus: each kind of exchange well formed, so that coverage starts from every path, and the
 * malformed ones. All use 16-entry queues with their rings low; packet headers sit in fixed slots of
 * the low region, payloads and rx buffers in the high one.
 */

#define Q_LOG2	     4 /* 16 entries */
#define TX_DESC	     0x000
#define TX_AVAIL     0x100
#define TX_USED	     0x140
#define RX_DESC	     0x200
#define RX_AVAIL     0x300
#define RX_USED	     0x340
#define PKT_AT(k)    (0x400 + 0x40ULL * (k)) /* packet k's header */
#define DATA_AT	     0x800		     /* 2 KiB of payload */
#define RX_BUF_AT(i) (HIGH_GPA + 0x200ULL * (i))
#define RX_BUF_LEN   0x200
#define TABLE_AT     (HIGH_GPA + 0x1e00) /* an indirect table of 16 entries, past the rx buffers */
#define VHDR_LEN     44
#define HOST_PORT0   (1u << 30) /* the first host program's port */
#define R	     0
#define W	     VIRTQ_DESC_F_WRITE

static void header(struct seed *s, uint8_t features, uint8_t rounds, uint8_t how, uint8_t rx_bump,
		   uint8_t tx_bump)
{
	const uint8_t h[HDR_LEN] = { (uint8_t)(Q_LOG2 | features << 4 | (rounds - 1) << 6),
				     how,
				     (uint8_t)(rx_bump << 4),
				     tx_bump,
				     TX_DESC & 0xff,
				     TX_DESC >> 8,
				     TX_AVAIL & 0xff,
				     TX_AVAIL >> 8,
				     TX_USED & 0xff,
				     TX_USED >> 8,
				     RX_DESC & 0xff,
				     RX_DESC >> 8,
				     RX_AVAIL & 0xff,
				     RX_AVAIL >> 8,
				     RX_USED & 0xff,
				     RX_USED >> 8 };

	memset(s, 0, sizeof(*s));
	memcpy(s->img, h, HDR_LEN);
	s->len = HDR_LEN;
}

/* 15 rx buffers posted, in the high region below the indirect table. */
static void rx_buffers(struct seed *s)
{
	uint16_t heads[16];

	for (uint16_t i = 0; i < 15; i++) {
		desc(s, RX_DESC, i, RX_BUF_AT(i), RX_BUF_LEN, W, 0);
		heads[i] = i;
	}
	offer(s, RX_AVAIL, heads, 15);
}

/* Packet k in tx descriptor k: a header from the guest's (src) to the host's (dst), with (len) bytes at DATA_AT. */
static void packet(struct seed *s, uint16_t k, uint16_t op, uint32_t src, uint32_t dst, uint32_t len,
		   uint32_t flags)
{
	struct virtio_vsock_hdr h = { .src_cid = GUEST_CID,
				      .dst_cid = VSOCK_HOST_CID,
				      .src_port = src,
				      .dst_port = dst,
				      .len = len,
				      .type = VIRTIO_VSOCK_TYPE_STREAM,
				      .op = op,
				      .flags = flags,
				      .buf_alloc = 65536 };

	poke(s, PKT_AT(k), &h, sizeof(h));
	desc(s, TX_DESC, k, PKT_AT(k), VHDR_LEN, len ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(8 + k));
	if (len)
		desc(s, TX_DESC, (uint16_t)(8 + k), DATA_AT, len, R, 0);
}

/* Tx heads 0 to (n - 1) in the avail ring, (first) of them published: the rest come with later rounds. */
static void tx_offer(struct seed *s, uint16_t n, uint16_t first)
{
	for (uint16_t k = 0; k < n; k++)
		poke16(s, TX_AVAIL + 4 + 2ULL * k, k);
	poke16(s, TX_AVAIL + 2, first);
}

/* The guest connects to a host program, sends, asks for credit, shuts down sending, then closes. */
static void seed_guest_connect(const char *dir)
{
	static struct seed s;

	header(&s, 0, 3, H_ACCEPT | H_WRITE | H_READ, 0, 2);
	rx_buffers(&s);
	poke(&s, DATA_AT, "hello, host", 11);
	packet(&s, 0, VIRTIO_VSOCK_OP_REQUEST, 49152, LISTEN_PORT, 0, 0);
	packet(&s, 1, VIRTIO_VSOCK_OP_RW, 49152, LISTEN_PORT, 11, 0);
	packet(&s, 2, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 49152, LISTEN_PORT, 0, 0);
	packet(&s, 3, VIRTIO_VSOCK_OP_SHUTDOWN, 49152, LISTEN_PORT, 0, VIRTIO_VSOCK_SHUTDOWN_SEND);
	packet(&s, 4, VIRTIO_VSOCK_OP_SHUTDOWN, 49152, LISTEN_PORT, 0, 3);
	tx_offer(&s, 5, 1);
	emit(&s, dir, "guest-connect");
}

/* A host program connects; the guest answers, data both ways, credit, then close; in variants. */
static void seed_host_connect(const char *dir)
{
	static const struct {
		uint8_t how;
		const char *name;
	} variants[] = { { H_CONNECT | H_WRITE | H_READ, "host-connect" },
			 { H_CONNECT | H_WRITE | H_SHUT_WR, "host-shut-wr" },
			 { H_CONNECT | H_WRITE | H_CLOSE, "host-close" },
			 { H_CONNECT | H_WRITE | H_RESET, "reset" },
			 { H_CONNECT | H_BAD_LINE, "host-bad-line" } };
	static struct seed s;

	for (unsigned int i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		header(&s, 2, 3, variants[i].how, 0, 2);
		rx_buffers(&s);
		poke(&s, DATA_AT, "hello, program", 14);
		packet(&s, 0, VIRTIO_VSOCK_OP_RESPONSE, LISTEN_PORT, HOST_PORT0, 0, 0);
		packet(&s, 1, VIRTIO_VSOCK_OP_RW, LISTEN_PORT, HOST_PORT0, 14, 0);
		packet(&s, 2, VIRTIO_VSOCK_OP_CREDIT_UPDATE, LISTEN_PORT, HOST_PORT0, 0, 0);
		packet(&s, 3, VIRTIO_VSOCK_OP_SHUTDOWN, LISTEN_PORT, HOST_PORT0, 0, 3);
		tx_offer(&s, 4, 1);
		emit(&s, dir, variants[i].name);
	}
}

/* Connections refused or unknown, and an RST for nothing. */
static void seed_refused(const char *dir)
{
	static struct seed s;

	header(&s, 0, 1, 0, 0, 0);
	rx_buffers(&s);
	packet(&s, 0, VIRTIO_VSOCK_OP_REQUEST, 49152, 2000, 0, 0);
	packet(&s, 1, VIRTIO_VSOCK_OP_RW, 49153, 2000, 4, 0);
	packet(&s, 2, VIRTIO_VSOCK_OP_RST, 49154, 2000, 0, 0);
	packet(&s, 3, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 49155, LISTEN_PORT, 0, 0);
	tx_offer(&s, 4, 4);
	emit(&s, dir, "refused");
}

/* A short header, the wrong CIDs, type, length and op. */
static void seed_malformed(const char *dir)
{
	static struct seed s;
	struct virtio_vsock_hdr h;

	header(&s, 0, 1, 0, 0, 0);
	rx_buffers(&s);
	packet(&s, 0, VIRTIO_VSOCK_OP_REQUEST, 49152, LISTEN_PORT, 0, 0);
	desc(&s, TX_DESC, 0, PKT_AT(0), 20, R, 0);
	for (uint16_t k = 1; k <= 5; k++)
		packet(&s, k, VIRTIO_VSOCK_OP_REQUEST, 49152 + k, LISTEN_PORT, 0, 0);
	memcpy(&h, s.img + HDR_LEN + PKT_AT(1), sizeof(h));
	h.src_cid = 7;
	poke(&s, PKT_AT(1), &h, sizeof(h));
	h = (struct virtio_vsock_hdr){ .src_cid = GUEST_CID, .dst_cid = 9, .type = 1, .op = 1 };
	poke(&s, PKT_AT(2), &h, sizeof(h));
	h = (struct virtio_vsock_hdr){ .src_cid = GUEST_CID, .dst_cid = 2, .type = 2, .op = 1 };
	poke(&s, PKT_AT(3), &h, sizeof(h));
	h = (struct virtio_vsock_hdr){ .src_cid = GUEST_CID, .dst_cid = 2, .type = 1, .op = 5, .len = 100 };
	poke(&s, PKT_AT(4), &h, sizeof(h));
	h = (struct virtio_vsock_hdr){ .src_cid = GUEST_CID, .dst_cid = 2, .type = 1, .op = 42 };
	poke(&s, PKT_AT(5), &h, sizeof(h));
	tx_offer(&s, 6, 6);
	emit(&s, dir, "malformed");
}

/* An indirect table at (at): the header of packet (k), then (n) times the whole high region. */
static void big_packet(struct seed *s, uint64_t at, uint16_t k, uint16_t n)
{
	desc(s, at, 0, PKT_AT(k), VHDR_LEN, VIRTQ_DESC_F_NEXT, 1);
	for (uint16_t i = 1; i <= n; i++)
		desc(s, at, i, HIGH_GPA, HIGH_SIZE, (uint16_t)(i < n ? VIRTQ_DESC_F_NEXT : 0),
		     (uint16_t)(i + 1));
}

/*
 * The guest connects, then sends 120 KiB packets (the high region read 15 times through an indirect
 * table) to a host program that never reads, soon past the credit kvmini gave.
 */
static void seed_credit(const char *dir)
{
	static struct seed s;
	struct virtio_vsock_hdr h = { .src_cid = GUEST_CID,
				      .dst_cid = VSOCK_HOST_CID,
				      .src_port = 49152,
				      .dst_port = LISTEN_PORT,
				      .len = 15 * HIGH_SIZE,
				      .type = VIRTIO_VSOCK_TYPE_STREAM,
				      .op = VIRTIO_VSOCK_OP_RW,
				      .buf_alloc = 65536 };

	header(&s, 1, 2, H_ACCEPT, 0, 7);
	rx_buffers(&s);
	packet(&s, 0, VIRTIO_VSOCK_OP_REQUEST, 49152, LISTEN_PORT, 0, 0);
	poke(&s, PKT_AT(1), &h, sizeof(h));
	big_packet(&s, TABLE_AT, 1, 15);
	for (uint16_t k = 1; k < 8; k++)
		desc(&s, TX_DESC, k, TABLE_AT, 16 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	tx_offer(&s, 8, 1);
	emit(&s, dir, "credit");
}

/*
 * The guest sends 360 KiB within its credit to a program that reads only later, shuts down sending
 * and resets: kvmini still delivers what it holds. Then a connection it resets for a bad packet is
 * reset by the guest too.
 */
static void seed_drain(const char *dir)
{
	static struct seed s;

	header(&s, 1, 2, H_ACCEPT | H_READ, 0, 7);
	rx_buffers(&s);
	packet(&s, 0, VIRTIO_VSOCK_OP_REQUEST, 49152, LISTEN_PORT, 0, 0);
	packet(&s, 1, VIRTIO_VSOCK_OP_RW, 49152, LISTEN_PORT, 15 * HIGH_SIZE, 0);
	big_packet(&s, TABLE_AT, 1, 15);
	for (uint16_t k = 1; k < 4; k++)
		desc(&s, TX_DESC, k, TABLE_AT, 16 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	packet(&s, 4, VIRTIO_VSOCK_OP_SHUTDOWN, 49152, LISTEN_PORT, 0, VIRTIO_VSOCK_SHUTDOWN_SEND);
	packet(&s, 5, VIRTIO_VSOCK_OP_RST, 49152, LISTEN_PORT, 0, 0);
	tx_offer(&s, 8, 1);
	emit(&s, dir, "drain");
	header(&s, 0, 2, H_ACCEPT, 0, 2);
	rx_buffers(&s);
	packet(&s, 0, VIRTIO_VSOCK_OP_REQUEST, 49152, LISTEN_PORT, 0, 0);
	packet(&s, 1, VIRTIO_VSOCK_OP_RW, 49152, LISTEN_PORT, 100, 0);
	desc(&s, TX_DESC, 1, PKT_AT(1), VHDR_LEN, 0, 0); /* no payload: the length lies */
	packet(&s, 2, VIRTIO_VSOCK_OP_RST, 49152, LISTEN_PORT, 0, 0);
	tx_offer(&s, 3, 1);
	emit(&s, dir, "killed-then-reset");
}

/* A host program connects while the driver has posted no rx buffers; it posts them a round later. */
static void seed_no_rx(const char *dir)
{
	static struct seed s;

	header(&s, 2, 2, H_CONNECT | H_WRITE, 8, 0);
	for (uint16_t i = 0; i < 16; i++)
		desc(&s, RX_DESC, i, RX_BUF_AT(i), i ? RX_BUF_LEN : VHDR_LEN, W, 0);
	for (uint16_t i = 0; i < 16; i++)
		poke16(&s, RX_AVAIL + 4 + 2ULL * i, i);
	emit(&s, dir, "no-rx");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	seed_guest_connect(argv[1]);
	seed_host_connect(argv[1]);
	seed_refused(argv[1]);
	seed_malformed(argv[1]);
	seed_credit(argv[1]);
	seed_drain(argv[1]);
	seed_no_rx(argv[1]);
	return 0;
}
#endif
