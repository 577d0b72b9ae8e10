/*
 * fuzz_net.c: libFuzzer target for the virtio-net data path: a hostile driver's transmit and receive
 * queues, its frames and headers, and frames from the network of any length and header, served by the
 * model as its worker serves it, a SOCK_SEQPACKET socket standing in for the tap.
 *
 * Input: a 16-byte header then the contents of guest RAM (fuzz_ram.h: 4 KiB at 0, 8 KiB at 4 GiB).
 *   0: queue sizes: transmit 1 << (low nibble % 9), receive 1 << (high nibble % 9)
 *   1: features: bit 0 INDIRECT_DESC, 1 EVENT_IDX, 2 MRG_RXBUF, 3 CSUM, 4 GUEST_CSUM
 *   2: offloads: bits 0-3 GUEST_TSO4, _TSO6, _ECN, _UFO; bits 4-7 HOST_TSO4, _TSO6, _ECN, _UFO
 *   3: bits 0-1 rounds - 1; bits 2-4 frames from the network; bit 5 the network hangs up after them
 *   4, 5, 6: transmit desc, avail, used; 7, 8, 9: receive desc, avail, used. A byte is a guest address:
 *            bit 7 picks the high region, bits 0-6 the offset in 64-byte units
 *   10, 11: how far the "driver" moves the receive and transmit avail->idx between rounds
 *   12, 13: le16 guest address (fuzz_ram.h's gpa_of) of the frames: each a le16 length, then its
 *           bytes (header included) as far as RAM goes, zeros beyond
 *   14, 15: a configuration-space read: offset, width 1 + byte % 16
 *
 * Checked: every frame reaching the tap has a header the negotiated features allow, num_buffers 0,
 * and a length within bounds; the counters add up (each frame sent from the network is delivered,
 * dropped or still in the socket; each frame the model wrote is one the tap got); every used length
 * fits its chain; the model stops polling only with a frame waiting or the queue or tap failed.
 *
 * Build: make build/tests/fuzz/fuzz_net
 * Seeds:  cc -std=c11 -D_GNU_SOURCE -DFUZZ_SEED_MAIN -Ivmm -Idevices -Idevices/base tests/fuzz/fuzz_net.c \
 *            devices/virtio/net.c devices/virtio/worker.c devices/virtio/virtq.c devices/base/mem.c devices/base/log.c \
 *            -Wl,--wrap=virtq_push,--wrap=virtq_push_n -lpthread -o /tmp/net-seeds && \
 *         /tmp/net-seeds tests/fuzz/corpus/net
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "fuzz_push.h"
#include "fuzz_ram.h"
#include "mem.h"
#include "virtio/net.h"
#include "virtio/worker.h"

#define F(bit)	   (1ULL << (bit))
#define FRAME_MAX  (NET_HDR_LEN + NET_FRAME_MAX)
#define MAX_FRAMES 7
#define IO_CALLS   8 /* io() calls a round at most: the model must settle well before */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the target keeps between inputs: libFuzzer gives it no other place. */
static struct {
	struct net_dev n;
	struct virtio_device cfg;
	struct virtio_worker w;
	struct virtq_chain c;
	int peer;		      /* the network's end of the socket */
	uint8_t frame[FRAME_MAX + 1]; /* what the network sends or gets */
	unsigned int resets;
} fz;

/* A failed invariant: crash loudly so that libFuzzer keeps the input. */
static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "net invariant broken: %s\n", what);
		abort();
	}
}

static void needs_reset(void *opaque)
{
	(void)opaque;
	fz.resets++;
}

/* A new socket pair: the model's end as its tap, non-blocking both ways, with room for big frames. */
static void connect_tap(void)
{
	int sv[2], size = 4 << 20;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		abort();
	}
	for (int i = 0; i < 2; i++) {
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	if (fz.n.tap_fd >= 0)
		close(fz.n.tap_fd);
	fz.n.tap_fd = sv[0];
	fz.peer = sv[1];
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t mac[6] = { 0x02, 0x6b, 0x76, 0x6d, 0x00, 0x01 };

	(void)argc;
	(void)argv;
	/* Malformed frames are the point here: keep the once-only warnings quiet. */
	log_set_level(LOG_ERR);
	signal(SIGPIPE, SIG_IGN); /* the network hangs up on some inputs */
	if (net_init_fd(&fz.n, -1, mac))
		abort();
	connect_tap();
	net_device(&fz.n, "virtio-net fuzz", &fz.cfg);
	return 0;
}

static uint64_t gpa8(uint8_t b)
{
	return (b & 0x80 ? HIGH_GPA : 0) + (b & 0x7fu) * 64;
}

static uint64_t features_of(const uint8_t *hdr)
{
	return F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) |
	       (hdr[1] & 1 ? F(VIRTIO_RING_F_INDIRECT_DESC) : 0) |
	       (hdr[1] & 2 ? F(VIRTIO_RING_F_EVENT_IDX) : 0) | (hdr[1] & 4 ? F(VIRTIO_NET_F_MRG_RXBUF) : 0) |
	       (hdr[1] & 8 ? F(VIRTIO_NET_F_CSUM) : 0) | (hdr[1] & 16 ? F(VIRTIO_NET_F_GUEST_CSUM) : 0) |
	       (uint64_t)(hdr[2] & 0xf) << VIRTIO_NET_F_GUEST_TSO4 |
	       (uint64_t)(hdr[2] >> 4) << VIRTIO_NET_F_HOST_TSO4;
}

/* The driver's queues as the transport hands them to the worker, and DRIVER_OK. */
static void start(const struct gmem *m, const uint8_t *hdr, uint64_t features)
{
	struct virtio_worker *w = &fz.w;

	memset(w, 0, sizeof(*w));
	w->model = &fz.cfg.model;
	w->mem = m;
	w->needs_reset = needs_reset;
	w->nr_queues = 2;
	w->setup[NET_TXQ] = (struct virtio_queue_setup){ .enabled = true,
							 .size = (uint16_t)(1u << ((hdr[0] & 0xf) % 9)),
							 .desc = gpa8(hdr[4]),
							 .avail = gpa8(hdr[5]),
							 .used = gpa8(hdr[6]),
							 .kick_fd = -1,
							 .call_fd = -1 };
	w->setup[NET_RXQ] = (struct virtio_queue_setup){ .enabled = true,
							 .size = (uint16_t)(1u << ((hdr[0] >> 4) % 9)),
							 .desc = gpa8(hdr[7]),
							 .avail = gpa8(hdr[8]),
							 .used = gpa8(hdr[9]),
							 .kick_fd = -1,
							 .call_fd = -1 };
	for (unsigned int i = 0; i < 2; i++)
		if (virtq_configure(&w->q[i], m, w->setup[i].size, w->setup[i].desc, w->setup[i].avail,
				    w->setup[i].used, features) < 0)
			w->q[i].broken = true;
	w->io_wanted = true;
	w->io_fd = fz.cfg.model.start(fz.cfg.model.opaque, w, features);
	check(w->io_fd == fz.n.tap_fd, "start() returns the tap");
}

/* The network sends the frames listed in guest RAM; returns how many it sent. */
static unsigned int send_frames(const struct gmem *m, const uint8_t *hdr)
{
	uint64_t at = gpa_of(hdr + 12);
	unsigned int sent = 0;

	for (unsigned int i = 0; i < ((hdr[3] >> 2) & 7u); i++) {
		const uint8_t *p = gmem_ptr(m, at, 2);
		uint32_t len, have = 0;

		if (!p)
			break;
		len = (uint32_t)(p[0] | p[1] << 8);
		at += 2;
		while (have < len && gmem_ptr(m, at + have, 1))
			have++;
		memset(fz.frame, 0, len);
		if (have)
			memcpy(fz.frame, gmem_ptr(m, at, have), have);
		at += len;
		/* A tap never hands over an empty frame: it would read as the end of file. */
		if (len && send(fz.peer, fz.frame, len, 0) == (ssize_t)len)
			sent++;
	}
	if (hdr[3] & 0x20) {
		close(fz.peer);
		fz.peer = -1;
	}
	return sent;
}

/* A frame that reached the tap: within bounds, num_buffers 0, a header the features allow. */
static void check_tx_frame(ssize_t len, uint64_t f)
{
	struct virtio_net_hdr_v1 h;
	uint8_t gso;

	check(len >= NET_HDR_LEN + 14 && len <= FRAME_MAX, "a transmitted frame within bounds");
	memcpy(&h, fz.frame, sizeof(h));
	gso = h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	check(h.num_buffers == 0, "num_buffers 0 towards the tap");
	check(!(h.flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)), "known flags only");
	check(!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
		      ((f & F(VIRTIO_NET_F_CSUM)) && h.csum_start + h.csum_offset + 2 <= len - NET_HDR_LEN),
	      "a partial checksum negotiated and inside the frame");
	check(gso == VIRTIO_NET_HDR_GSO_NONE ||
		      (gso == VIRTIO_NET_HDR_GSO_TCPV4 && (f & F(VIRTIO_NET_F_HOST_TSO4))) ||
		      (gso == VIRTIO_NET_HDR_GSO_TCPV6 && (f & F(VIRTIO_NET_F_HOST_TSO6))) ||
		      (gso == VIRTIO_NET_HDR_GSO_UDP && (f & F(VIRTIO_NET_F_HOST_UFO))),
	      "a negotiated segmentation type");
	check(!(h.gso_type & VIRTIO_NET_HDR_GSO_ECN) || (f & F(VIRTIO_NET_F_HOST_ECN)), "ECN negotiated");
}

/* The transmit queue as the worker serves it: pop, handle, push, bounded as fuzz_virtq bounds it. */
static void serve_tx(void)
{
	struct virtq *q = &fz.w.q[NET_TXQ];

	if (q->broken)
		return;
	virtq_kick_suppress(q, true);
	for (unsigned int i = 0; i < 4u * q->size + 4 && virtq_pop(q, &fz.c) > 0; i++) {
		uint32_t used = 0xdead;

		check(fz.cfg.model.handle(fz.cfg.model.opaque, NET_TXQ, &fz.c, &used) == 0 && used == 0,
		      "transmit answers 0 and writes nothing");
		check(virtq_push(q, fz.c.head, 0) == 0, "push of a popped head");
	}
	(void)virtq_should_notify(q);
	virtq_kick_suppress(q, false);
}

/* The receive side: the tap readable, then a kick, as the worker calls io(). */
static void serve_rx(void)
{
	struct virtio_worker *w = &fz.w;
	struct virtq *q = &w->q[NET_RXQ];
	unsigned int calls = 0;
	bool more = true;

	while (more && calls++ < IO_CALLS)
		more = fz.cfg.model.io(fz.cfg.model.opaque, w, w->io_wanted);
	check(!more, "io() settles within a few calls");
	(void)fz.cfg.model.io(fz.cfg.model.opaque, w, false);
	check(w->io_wanted || fz.n.rx_waiting || q->broken || fz.peer < 0,
	      "the tap is left unpolled only while a frame waits, or the queue or the tap failed");
	check(!fz.n.rx_waiting || (fz.n.frame_len && !w->io_wanted), "waiting means a frame and no polling");
}

/* Every used length the device publishes on the receive queue is within a frame (fuzz_push.h). */
static void push_check(const struct virtq *q, const uint16_t *heads, const uint32_t *written, uint16_t n)
{
	(void)heads;
	for (uint16_t i = 0; q == &fz.w.q[NET_RXQ] && i < n; i++)
		check(written[i] <= FRAME_MAX, "a used length within a frame");
}

/* What the tap got from the guest; returns how many frames. */
static uint64_t drain_peer(uint64_t f)
{
	uint64_t got = 0;
	ssize_t len;

	while (fz.peer >= 0 && (len = recv(fz.peer, fz.frame, sizeof(fz.frame), MSG_DONTWAIT)) > 0) {
		check_tx_frame(len, f);
		got++;
	}
	return got;
}

static unsigned int drain_tap(void)
{
	unsigned int left = 0;

	while (recv(fz.n.tap_fd, fz.frame, sizeof(fz.frame), MSG_DONTWAIT) > 0)
		left++;
	return left;
}

static void config_probe(const uint8_t *hdr)
{
	uint8_t got[16], all[32];
	uint32_t len = 1u + hdr[15] % 16;

	net_config_read(&fz.n, 0, all, sizeof(all));
	check(!memcmp(all, fz.n.mac, 6) && all[6] == VIRTIO_NET_S_LINK_UP && all[8] == 1,
	      "configuration: mac, link up, one queue pair");
	net_config_read(&fz.n, hdr[14], got, len);
	for (uint32_t i = 0; i < len; i++)
		check(got[i] == (hdr[14] + i < sizeof(all) ? all[hdr[14] + i] : 0), "a configuration slice");
}

static void run(const struct gmem *m, const uint8_t *hdr)
{
	uint64_t f = features_of(hdr), tx_got = 0;
	unsigned int sent, left;

	memset(&fz.n.stats, 0, sizeof(fz.n.stats));
	config_probe(hdr);
	start(m, hdr, f);
	sent = send_frames(m, hdr);
	for (unsigned int round = 0; round < 1u + (hdr[3] & 3); round++) {
		serve_tx();
		tx_got += drain_peer(f);
		serve_rx();
		for (unsigned int i = 0; i < 2; i++) {
			uint16_t *idx = fz.w.q[i].size ? gmem_ptr(m, fz.w.setup[i].avail + 2, 2) : NULL;

			if (idx)
				*idx = (uint16_t)(*idx + hdr[i == NET_RXQ ? 10 : 11]);
		}
	}
	fz.cfg.model.stop(fz.cfg.model.opaque);
	check(fz.n.frame_len == 0 && !fz.n.rx_waiting, "stop() drops the waiting frame");
	left = drain_tap();
	check(fz.n.stats.rx_frames + fz.n.stats.rx_dropped + left == sent,
	      "each frame sent is accounted for");
	check(fz.n.stats.tx_frames == tx_got, "each frame written reached the tap");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[HDR_LEN];
	struct gmem m;

	fuzz_ram_load(data, size, hdr, &m);
	run(&m, hdr);
	if (fz.peer < 0)
		connect_tap();
	fuzz_ram_free(&m);
	return 0;
}

#ifdef FUZZ_SEED_MAIN
/*
 * Seed corpus: frames each way in the shapes a Linux driver uses (one buffer with header and frame, a
 * header in a buffer of its own, mergeable receive buffers, a big-packets chain), offloads, and the
 * receive queue running dry then refilled. Rings low, buffers and frames in both regions.
 */

#define TXQ_AT	  0x00 /* header bytes: 64-byte units in the low region */
#define RXQ_AT	  0x20
#define Q_LOG2	  3 /* 8 entries each: desc 128 bytes, avail 22, used 70 */
#define TX_DESC	  (TXQ_AT * 64)
#define TX_AVAIL  (TX_DESC + 0x80)
#define TX_USED	  (TX_DESC + 0x100)
#define RX_DESC	  (RXQ_AT * 64)
#define RX_AVAIL  (RX_DESC + 0x80)
#define RX_USED	  (RX_DESC + 0x100)
#define TX_DATA	  0xc00		      /* transmit frames in the low region */
#define RX_DATA	  HIGH_GPA	      /* receive buffers in the high region */
#define FRAMES_AT (HIGH_GPA + 0x1800) /* the network's frames */
#define W	  VIRTQ_DESC_F_WRITE
#define N	  VIRTQ_DESC_F_NEXT

struct seed_opts {
	uint8_t features, offloads, rounds, nframes, rx_move;
};

static void header(struct seed *s, const struct seed_opts *o)
{
	const uint8_t h[HDR_LEN] = { Q_LOG2 | Q_LOG2 << 4,
				     o->features,
				     o->offloads,
				     (uint8_t)((o->rounds - 1) | o->nframes << 2),
				     TXQ_AT,
				     TXQ_AT + 2,
				     TXQ_AT + 4,
				     RXQ_AT,
				     RXQ_AT + 2,
				     RXQ_AT + 4,
				     o->rx_move,
				     0,
				     (uint8_t)(FRAMES_AT - HIGH_GPA),
				     (uint8_t)((FRAMES_AT - HIGH_GPA) >> 8 | 0x80),
				     0,
				     11 };

	memset(s, 0, sizeof(*s));
	memcpy(s->img, h, HDR_LEN);
	s->len = HDR_LEN;
}

/* A virtio-net header with (flags) and (gso_type); TCP over IPv4 offsets. */
static void net_hdr(struct seed *s, uint64_t gpa, uint8_t flags, uint8_t gso_type)
{
	struct virtio_net_hdr_v1 h = { .flags = flags, .gso_type = gso_type };

	if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		h.csum_start = 34;
		h.csum_offset = 16;
	}
	if (gso_type) {
		h.hdr_len = 54;
		h.gso_size = 1448;
	}
	poke(s, gpa, &h, sizeof(h));
}

/* (len) bytes of a frame's Ethernet part at (gpa). */
static void eth(struct seed *s, uint64_t gpa, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		uint8_t b = (uint8_t)(i < 6 ? 0xff : i * 7);

		poke(s, gpa + i, &b, 1);
	}
}

/*
 * The network's frames, of (lens), at FRAMES_AT: le16 length, header, 128 bytes at most, zeros after.
 * Only the last may run past the end of RAM (the harness reads zeros there).
 */
static void net_frames(struct seed *s, const uint16_t *lens, unsigned int n, uint8_t gso_type)
{
	uint64_t at = FRAMES_AT;

	for (unsigned int i = 0; i < n; i++) {
		uint32_t shown = lens[i] < 128 ? lens[i] : 128;

		poke16(s, at, lens[i]);
		net_hdr(s, at + 2, gso_type ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0, gso_type);
		eth(s, at + 2 + NET_HDR_LEN, shown - NET_HDR_LEN);
		at += 2 + lens[i];
	}
}

static void tx_seeds(const char *dir)
{
	static struct seed s;
	static const uint16_t heads[] = { 0, 1, 3, 4 };
	struct seed_opts o = { .features = 8, .offloads = 0x10, .rounds = 1 };

	header(&s, &o);
	/* One buffer (Linux with a header in front of the frame), a header apart, a TSO frame, a bad one. */
	net_hdr(&s, TX_DATA, 0, 0);
	eth(&s, TX_DATA + NET_HDR_LEN, 60);
	desc(&s, TX_DESC, 0, TX_DATA, NET_HDR_LEN + 60, 0, 0);
	desc(&s, TX_DESC, 1, TX_DATA + 0x100, NET_HDR_LEN, N, 2);
	net_hdr(&s, TX_DATA + 0x100, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
	desc(&s, TX_DESC, 2, TX_DATA + 0x120, 100, 0, 0);
	eth(&s, TX_DATA + 0x120, 100);
	net_hdr(&s, TX_DATA + 0x200, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4);
	eth(&s, TX_DATA + 0x200 + NET_HDR_LEN, 200);
	desc(&s, TX_DESC, 3, TX_DATA + 0x200, NET_HDR_LEN + 200, N, 5);
	desc(&s, TX_DESC, 5, HIGH_GPA, 4096, 0, 0);
	net_hdr(&s, TX_DATA + 0x300, 0, 0x55);
	desc(&s, TX_DESC, 4, TX_DATA + 0x300, NET_HDR_LEN + 60, 0, 0);
	offer(&s, TX_AVAIL, heads, 4);
	emit(&s, dir, "tx");
}

/* Receive buffers: (n) chains of one (len)-byte buffer each, len 512 at most. */
static void rx_buffers(struct seed *s, uint16_t n, uint32_t len)
{
	uint16_t heads[8];

	for (uint16_t i = 0; i < n; i++) {
		desc(s, RX_DESC, i, RX_DATA + 0x200ULL * i, len, W, 0);
		heads[i] = i;
	}
	offer(s, RX_AVAIL, heads, n);
}

static void rx_seeds(const char *dir)
{
	static struct seed s;
	static const uint16_t small[] = { 72, 100, 1000 }, big[] = { 72, 3000 }, tso[] = { 3000 },
			      huge[] = { 60000 };
	struct seed_opts o = { .features = 2 | 4, .rounds = 1, .nframes = 3 };

	header(&s, &o); /* mergeable, event index: three frames, the last over two buffers */
	rx_buffers(&s, 4, 0x200);
	net_frames(&s, small, 3, 0);
	emit(&s, dir, "rx-mergeable");
	o = (struct seed_opts){ .rounds = 1, .nframes = 2 };
	header(&s, &o); /* no mergeable buffers: the small frame fits, the big one is dropped */
	rx_buffers(&s, 2, 0x200);
	net_frames(&s, big, 2, 0);
	emit(&s, dir, "rx-too-big");
	o = (struct seed_opts){
		.features = 4 | 16, .offloads = 0x01, .rounds = 4, .nframes = 1, .rx_move = 2
	};
	header(&s, &o); /* a TSO frame over 6 buffers: 2 posted, then 2 more each round */
	rx_buffers(&s, 8, 0x200);
	poke16(&s, RX_AVAIL + 2, 2);
	net_frames(&s, tso, 1, VIRTIO_NET_HDR_GSO_TCPV4);
	emit(&s, dir, "rx-dry-then-refilled");
	o = (struct seed_opts){ .features = 4 | 16, .offloads = 0x01, .rounds = 1, .nframes = 1 };
	header(&s, &o); /* a 60000-byte frame that a whole queue of buffers cannot hold */
	rx_buffers(&s, 8, 0x200);
	net_frames(&s, huge, 1, VIRTIO_NET_HDR_GSO_TCPV4);
	emit(&s, dir, "rx-bigger-than-the-queue");
}

/* A receive chain through an indirect table (Linux's big packets), and the network hanging up. */
static void indirect_seed(const char *dir)
{
	static struct seed s;
	static const uint16_t head0[] = { 0 }, lens[] = { 1500 };
	struct seed_opts o = { .features = 1, .rounds = 2, .nframes = 1 };

	header(&s, &o);
	s.img[3] |= 0x20;
	desc(&s, RX_DESC, 0, RX_DESC + 0x200, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(&s, RX_DESC + 0x200, 0, RX_DATA, NET_HDR_LEN, W | N, 1);
	desc(&s, RX_DESC + 0x200, 1, RX_DATA + 0x100, 1000, W | N, 2);
	desc(&s, RX_DESC + 0x200, 2, RX_DATA + 0x800, 1000, W, 0);
	offer(&s, RX_AVAIL, head0, 1);
	net_frames(&s, lens, 1, 0);
	emit(&s, dir, "rx-indirect-hangup");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	tx_seeds(argv[1]);
	rx_seeds(argv[1]);
	indirect_seed(argv[1]);
	return 0;
}
#endif
