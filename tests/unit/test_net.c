/* test_net.c: the virtio-net model driven as its worker drives it, a SOCK_SEQPACKET socket for the tap. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest_ram.h"
#include "log.h"
#include "mem.h"
#include "virtio/net.h"
#include "virtio/pci.h"

#define MIB	 (1ULL << 20)
#define RAM_SIZE (16 * MIB)

/* Where the test's driver lays out its queues and buffers. */
#define RX_DESC	   0x10000ULL
#define RX_AVAIL   0x11000ULL
#define RX_USED	   0x12000ULL
#define TX_DESC	   0x14000ULL
#define TX_AVAIL   0x15000ULL
#define TX_USED	   0x16000ULL
#define RX_BUF	   0x100000ULL /* receive buffers, BUF_STRIDE apart */
#define TX_BUF	   0x800000ULL
#define QSIZE	   NET_QUEUE_SIZE
#define BUF_STRIDE 0x10000ULL /* room for a 64 KiB buffer each; 16 of them before TX_BUF */

#define F(bit)	     (1ULL << (bit))
#define F_BASE	     (F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS))
#define F_MRG	     F(VIRTIO_NET_F_MRG_RXBUF)
#define F_EVENT	     F(VIRTIO_RING_F_EVENT_IDX)
#define F_CSUM	     F(VIRTIO_NET_F_CSUM)
#define F_GUEST_CSUM F(VIRTIO_NET_F_GUEST_CSUM)
#define F_GUEST_TSO4 F(VIRTIO_NET_F_GUEST_TSO4)
#define F_HOST_TSO4  F(VIRTIO_NET_F_HOST_TSO4)
#define F_HOST_ECN   F(VIRTIO_NET_F_HOST_ECN)
#define FRAME_MAX    (NET_HDR_LEN + NET_FRAME_MAX)
#define ETH_LEN	     14
#define SMALL	     (NET_HDR_LEN + 60) /* a minimal Ethernet frame with its header */
#define NOBODY	     65534

static const uint8_t test_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static struct gmem mem;
static struct net_dev n;
static struct virtio_device cfg;
static struct virtio_worker w;
static struct virtq_chain c;
static int peer = -1; /* the test's end of the "tap": the network */
static int call_fd = -1;
static unsigned int resets;
static uint16_t rx_avail_idx;
static uint8_t frame[FRAME_MAX], got[FRAME_MAX + 64];
static uid_t euid;		 /* the test's own, restored after a test that drops it */
static struct net_dev tap, tap2; /* real taps, for the tests that open them */
static const char *open_name;
static int open_ret;

static void needs_reset(void *opaque)
{
	(void)opaque;
	resets++;
}

static void setup(void)
{
	int sv[2];

	/* A socket whose peer has gone raises SIGPIPE on a write; a tap never does. */
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(gmem_create(&mem, 0, RAM_SIZE, RAM_SIZE), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	for (int i = 0; i < 2; i++) {
		int size = 4 * (int)MIB;

		/* Room for several 64 KiB frames in flight either way. */
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	cr_assert_eq(net_init_fd(&n, sv[0], test_mac), 0);
	peer = sv[1];
	net_device(&n, "virtio-net test", &cfg);
	call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	cr_assert_geq(call_fd, 0);
	resets = 0;
	rx_avail_idx = 0;
	euid = geteuid();
	tap.tap_fd = tap2.tap_fd = -1;
}

static void teardown(void)
{
	if (geteuid() != euid && seteuid(euid) != 0)
		perror("seteuid");
	net_close(&tap2);
	net_close(&tap);
	net_close(&n);
	if (peer >= 0)
		close(peer);
	peer = -1;
	close(call_fd);
	gmem_destroy(&mem);
}

TestSuite(net, .init = setup, .fini = teardown);

/* Guest RAM as the test's driver sees it. */

/* The test's guest RAM (guest_ram.h) */
#define ram(gpa, len) ram_at(&mem, (gpa), (len))
#define put16(gpa, v) ram_put16(&mem, (gpa), (v))
#define get16(gpa)    ram_get16(&mem, (gpa))
#define get32(gpa)    ram_get32(&mem, (gpa))

/* The driver sets up both queues with (features) and sets DRIVER_OK: the model's start(). */
static void start(uint64_t features)
{
	static const uint64_t ring[2][3] = {
		[NET_RXQ] = { RX_DESC, RX_AVAIL, RX_USED }, [NET_TXQ] = { TX_DESC, TX_AVAIL, TX_USED }
	};

	memset(&w, 0, sizeof(w));
	w.model = &cfg.model;
	w.mem = &mem;
	w.needs_reset = needs_reset;
	w.nr_queues = cfg.nr_queues;
	for (unsigned int i = 0; i < 2; i++) {
		w.setup[i] = (struct virtio_queue_setup){ .enabled = true,
							  .size = QSIZE,
							  .desc = ring[i][0],
							  .avail = ring[i][1],
							  .used = ring[i][2],
							  .kick_fd = -1,
							  .call_fd = i == NET_RXQ ? call_fd : -1 };
		memset(ram(ring[i][0], 0x3000), 0, 0x3000);
		cr_assert_eq(
			virtq_configure(&w.q[i], &mem, QSIZE, ring[i][0], ring[i][1], ring[i][2], features),
			0);
	}
	w.io_wanted = true; /* as the worker sets it before start() */
	w.io_fd = cfg.model.start(cfg.model.opaque, &w, features);
	cr_assert_eq(w.io_fd, n.tap_fd);
}

static bool io(bool ready)
{
	return cfg.model.io(cfg.model.opaque, &w, ready);
}

/* Frames */

/* A frame of (len) bytes: a header with (gso_type) and no flags, then a pattern from (seed). */
static void make_frame(size_t len, uint8_t gso_type, uint8_t seed)
{
	struct virtio_net_hdr_v1 h = { .gso_type = gso_type };

	if (gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.gso_size = 1448;
		h.hdr_len = 54;
		h.csum_start = 34;
		h.csum_offset = 16;
	}
	memcpy(frame, &h, sizeof(h));
	for (size_t i = NET_HDR_LEN; i < len; i++)
		frame[i] = (uint8_t)(seed + i * 13 + (i >> 8));
}

/* The network sends frame (0, len) to the guest. */
static void net_send(size_t len)
{
	cr_assert_eq(send(peer, frame, len, 0), (ssize_t)len, "send: %s", strerror(errno));
}

/* What the network received from the guest: its length, or -1 when nothing. */
static ssize_t net_recv(void)
{
	return recv(peer, got, sizeof(got), MSG_DONTWAIT);
}

/* How many frames the tap still holds for the guest; it holds none afterwards. */
static unsigned int frames_left(void)
{
	unsigned int count = 0;

	while (count < 1000 && recv(n.tap_fd, got, sizeof(got), MSG_DONTWAIT) > 0)
		count++;
	return count;
}

/* TX chains, built by hand as the worker would hand them to handle(). */

static void chain_reset(void)
{
	memset(&c, 0, sizeof(c));
}

static void chain_add(uint64_t gpa, const void *data, uint32_t len, bool writable)
{
	cr_assert_lt(c.nbufs, VIRTQ_CHAIN_MAX);
	if (data)
		memcpy(ram(gpa, len), data, len);
	c.bufs[c.nbufs++] =
		(struct virtq_buf){ .host = ram(gpa, len), .len = len, .device_writable = writable };
	if (writable)
		c.writable += len;
	else
		c.readable += len;
}

/* The transmit chain (c) through the model, whose used length is always 0. */
static int tx_handle(void)
{
	uint32_t used = 0xdead;
	int ret = cfg.model.handle(cfg.model.opaque, NET_TXQ, &c, &used);

	cr_assert_eq(used, 0, "nothing is written to a transmit chain");
	return ret;
}

/* Transmit frame (0, len) in one buffer; returns handle()'s answer. */
static int transmit(uint32_t len)
{
	chain_reset();
	chain_add(TX_BUF, frame, len, false);
	return tx_handle();
}

/* RX buffers posted by the driver. */

static void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(ram(RX_DESC + 16ULL * i, 16), &d, 16);
}

static void publish(uint16_t head)
{
	put16(RX_AVAIL + 4 + 2ULL * (rx_avail_idx % QSIZE), head);
	rx_avail_idx++;
	put16(RX_AVAIL + 2, rx_avail_idx);
}

/* Post (count) one-buffer chains of (len) bytes, descriptors from (first) on. */
static void post_rx(uint16_t first, uint16_t count, uint32_t len)
{
	for (uint16_t i = first; i < first + count; i++) {
		set_desc(i, RX_BUF + BUF_STRIDE * (i % 16), len, VIRTQ_DESC_F_WRITE, 0);
		publish(i);
	}
}

static uint16_t used_idx(void)
{
	return get16(RX_USED + 2);
}

static uint32_t used_id(uint16_t i)
{
	return get32(RX_USED + 4 + 8ULL * (i % QSIZE));
}

static uint32_t used_len(uint16_t i)
{
	return get32(RX_USED + 8 + 8ULL * (i % QSIZE));
}

static uint8_t *rx_buf(uint16_t desc)
{
	return ram(RX_BUF + BUF_STRIDE * (desc % 16), BUF_STRIDE);
}

static uint16_t num_buffers(const uint8_t *hdr)
{
	return (uint16_t)(hdr[10] | hdr[11] << 8);
}

static uint64_t interrupts(void)
{
	uint64_t v = 0;

	if (read(call_fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* Collect what is written to stderr while (fn) runs. */
static const char *stderr_of(void (*fn)(void))
{
	static char text[4096];
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t len;

	cr_assert(f && saved >= 0);
	fflush(stderr);
	dup2(fileno(f), STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	len = fread(text, 1, sizeof(text) - 1, f);
	text[len] = '\0';
	fclose(f);
	return text;
}

static unsigned int count_lines(const char *s)
{
	unsigned int lines = 0;

	for (; *s; s++)
		lines += *s == '\n';
	return lines;
}

/* Transmit */

Test(net, tx_frame_reaches_tap_byte_for_byte_with_its_header)
{
	start(F_BASE);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 1);
	cr_assert_eq(transmit(SMALL), 0);
	cr_assert_eq(net_recv(), SMALL);
	cr_assert_arr_eq(got, frame, SMALL);
	cr_assert_eq(n.stats.tx_frames, 1);
	cr_assert_eq(n.stats.tx_bytes, SMALL - NET_HDR_LEN);
}

Test(net, tx_frame_in_several_buffers_reaches_tap_whole)
{
	start(F_BASE);
	make_frame(1514 + NET_HDR_LEN, VIRTIO_NET_HDR_GSO_NONE, 2);
	chain_reset();
	chain_add(TX_BUF, frame, 5, false); /* the header itself split */
	chain_add(TX_BUF + 0x1000, frame + 5, 7, false);
	chain_add(TX_BUF + 0x2000, frame + 12, 1000, false);
	chain_add(TX_BUF + 0x3000, frame + 1012, 514, false);
	cr_assert_eq(tx_handle(), 0);
	cr_assert_eq(net_recv(), 1514 + NET_HDR_LEN);
	cr_assert_arr_eq(got, frame, 1514 + NET_HDR_LEN);
}

Test(net, tx_num_buffers_is_passed_to_the_tap_as_zero)
{
	start(F_BASE);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 3);
	frame[10] = 7;
	frame[11] = 1;
	transmit(SMALL);
	cr_assert_eq(net_recv(), SMALL);
	cr_assert_eq(num_buffers(got), 0);
	cr_assert_arr_eq(got + NET_HDR_LEN, frame + NET_HDR_LEN, SMALL - NET_HDR_LEN);
}

Test(net, tx_device_writable_buffers_are_ignored)
{
	static uint8_t junk[64];

	start(F_BASE);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 4);
	chain_reset();
	chain_add(TX_BUF, frame, SMALL, false);
	chain_add(TX_BUF + 0x1000, junk, sizeof(junk), true);
	cr_assert_eq(tx_handle(), 0);
	cr_assert_eq(net_recv(), SMALL);
	cr_assert_arr_eq(got, frame, SMALL);
}

Test(net, tx_tso_frame_with_host_tso4_reaches_tap)
{
	start(F_BASE | F_CSUM | F_HOST_TSO4);
	make_frame(20000, VIRTIO_NET_HDR_GSO_TCPV4, 5);
	transmit(20000);
	cr_assert_eq(net_recv(), 20000);
	cr_assert_arr_eq(got, frame, 20000);
	cr_assert_eq(n.stats.tx_dropped, 0);
}

Test(net, tx_unknown_gso_type_is_dropped_and_counted)
{
	start(F_BASE | F_CSUM | F_HOST_TSO4);
	make_frame(SMALL, 2, 6); /* no such type */
	cr_assert_eq(transmit(SMALL), 0);
	cr_assert_eq(net_recv(), -1);
	cr_assert_eq(n.stats.tx_dropped, 1);
}

Test(net, tx_gso_without_negotiated_host_tso_is_dropped)
{
	start(F_BASE | F_CSUM);
	make_frame(20000, VIRTIO_NET_HDR_GSO_TCPV4, 7);
	transmit(20000);
	cr_assert_eq(net_recv(), -1);
	cr_assert_eq(n.stats.tx_dropped, 1);
}

Test(net, tx_ecn_bit_without_host_ecn_is_dropped)
{
	start(F_BASE | F_CSUM | F_HOST_TSO4);
	make_frame(20000, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 8);
	transmit(20000);
	cr_assert_eq(n.stats.tx_dropped, 1);
	start(F_BASE | F_CSUM | F_HOST_TSO4 | F_HOST_ECN);
	transmit(20000);
	cr_assert_eq(net_recv(), 20000);
	cr_assert_eq(n.stats.tx_dropped, 1);
}

Test(net, tx_frame_shorter_than_header_and_ethernet_is_dropped)
{
	start(F_BASE);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 9);
	transmit(NET_HDR_LEN + ETH_LEN - 1);
	cr_assert_eq(net_recv(), -1);
	cr_assert_eq(n.stats.tx_dropped, 1);
}

Test(net, tx_frame_longer_than_64k_is_dropped)
{
	start(F_BASE | F_CSUM | F_HOST_TSO4);
	make_frame(FRAME_MAX, VIRTIO_NET_HDR_GSO_TCPV4, 10);
	chain_reset();
	chain_add(TX_BUF, frame, FRAME_MAX, false);
	chain_add(TX_BUF + FRAME_MAX, NULL, 1, false);
	tx_handle();
	cr_assert_eq(net_recv(), -1);
	cr_assert_eq(n.stats.tx_dropped, 1);
}

Test(net, tx_longest_frame_reaches_tap)
{
	start(F_BASE | F_CSUM | F_HOST_TSO4);
	make_frame(FRAME_MAX, VIRTIO_NET_HDR_GSO_TCPV4, 11);
	transmit(FRAME_MAX);
	cr_assert_eq(net_recv(), FRAME_MAX);
	cr_assert_eq(n.stats.tx_dropped, 0);
}

Test(net, tx_checksum_position_outside_frame_is_dropped)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM };

	start(F_BASE | F_CSUM);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 12);
	/* The last two bytes of the frame hold the checksum: fine; one further is not. */
	h.csum_start = 34;
	h.csum_offset = SMALL - NET_HDR_LEN - 34 - 2;
	memcpy(frame, &h, sizeof(h));
	transmit(SMALL);
	cr_assert_eq(net_recv(), SMALL);
	h.csum_offset++;
	memcpy(frame, &h, sizeof(h));
	transmit(SMALL);
	cr_assert_eq(net_recv(), -1);
	cr_assert_eq(n.stats.tx_dropped, 1);
}

Test(net, tx_partial_checksum_without_csum_feature_is_dropped)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .csum_start = 34,
				       .csum_offset = 6 };

	start(F_BASE);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 13);
	memcpy(frame, &h, sizeof(h));
	transmit(SMALL);
	cr_assert_eq(net_recv(), -1);
	cr_assert_eq(n.stats.tx_dropped, 1);
}

Test(net, tx_unknown_header_flag_is_dropped)
{
	start(F_BASE | F_CSUM);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 14);
	frame[0] = VIRTIO_NET_HDR_F_RSC_INFO;
	transmit(SMALL);
	cr_assert_eq(n.stats.tx_dropped, 1);
}

Test(net, tx_device_stays_usable_after_a_dropped_frame)
{
	start(F_BASE);
	make_frame(SMALL, 0x55, 15);
	transmit(SMALL);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 15);
	transmit(SMALL);
	cr_assert_eq(net_recv(), SMALL);
	cr_assert_arr_eq(got, frame, SMALL);
	cr_assert_eq(n.stats.tx_dropped, 1);
	cr_assert_eq(n.stats.tx_frames, 1);
}

static void transmit_two_bad_frames(void)
{
	make_frame(SMALL, 0x55, 16);
	transmit(SMALL);
	transmit(SMALL);
}

Test(net, tx_malformed_frames_are_logged_once)
{
	const char *text;

	start(F_BASE);
	text = stderr_of(transmit_two_bad_frames);
	cr_assert_eq(count_lines(text), 1, "logged: %s", text);
	cr_assert(strstr(text, "malformed"), "logged: %s", text);
	cr_assert_eq(n.stats.tx_dropped, 2);
}

static void transmit_small(void)
{
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 17);
	cr_assert_eq(transmit(SMALL), 0);
}

Test(net, tx_tap_refusal_is_counted_and_not_fatal)
{
	const char *text;

	start(F_BASE);
	close(peer); /* writes now fail with EPIPE */
	peer = -1;
	text = stderr_of(transmit_small);
	cr_assert_eq(n.stats.tx_dropped, 1);
	cr_assert_eq(n.stats.tx_frames, 0);
	cr_assert_eq(count_lines(text), 1, "logged: %s", text);
	transmit_small();
	cr_assert_eq(n.stats.tx_dropped, 2);
}

/* Receive */

Test(net, rx_frame_fills_one_chain_with_num_buffers_1)
{
	start(F_BASE | F_MRG);
	post_rx(0, 4, 2048);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 20);
	net_send(SMALL);
	cr_assert_not(io(true));
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(used_id(0), 0);
	cr_assert_eq(used_len(0), SMALL);
	cr_assert_eq(num_buffers(rx_buf(0)), 1);
	cr_assert_arr_eq(rx_buf(0) + NET_HDR_LEN, frame + NET_HDR_LEN, SMALL - NET_HDR_LEN);
	cr_assert_eq(n.stats.rx_frames, 1);
	cr_assert_eq(n.stats.rx_bytes, SMALL - NET_HDR_LEN);
}

Test(net, rx_without_mrg_rxbuf_num_buffers_is_1)
{
	start(F_BASE);
	post_rx(0, 1, 2048);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 21);
	frame[10] = 0xaa; /* whatever the tap wrote there */
	net_send(SMALL);
	io(true);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(num_buffers(rx_buf(0)), 1);
}

Test(net, rx_64k_frame_spans_mergeable_buffers)
{
	const uint32_t len = NET_HDR_LEN + 65536, buf = 4096, nbufs = (len + buf - 1) / buf;

	start(F_BASE | F_MRG | F_GUEST_CSUM | F_GUEST_TSO4);
	/* 17 buffers of 4 KiB, each in a 64 KiB slot of its own (descriptors 0-15, then 16 reuses slot 0). */
	post_rx(0, 16, buf);
	set_desc(16, TX_BUF, buf, VIRTQ_DESC_F_WRITE, 0);
	publish(16);
	make_frame(len, VIRTIO_NET_HDR_GSO_TCPV4, 22);
	net_send(len);
	io(true);
	cr_assert_eq(used_idx(), nbufs);
	for (uint32_t i = 0; i < nbufs; i++) {
		uint32_t want = i + 1 < nbufs ? buf : len - buf * (nbufs - 1);
		const uint8_t *p = i < 16 ? rx_buf((uint16_t)i) : ram(TX_BUF, buf);

		cr_assert_eq(used_id((uint16_t)i), i);
		cr_assert_eq(used_len((uint16_t)i), want, "buffer %u", i);
		if (i == 0) {
			cr_assert_eq(num_buffers(p), nbufs);
			cr_assert_arr_eq(p, frame, 10, "the tap's header is passed on");
			cr_assert_arr_eq(p + NET_HDR_LEN, frame + NET_HDR_LEN, buf - NET_HDR_LEN);
		} else {
			cr_assert_arr_eq(p, frame + buf * i, want, "buffer %u", i);
		}
	}
	cr_assert_eq(n.stats.rx_frames, 1);
}

Test(net, rx_chain_of_several_buffers_takes_a_frame_across_them)
{
	start(F_BASE);
	set_desc(0, RX_BUF, 10, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1); /* num_buffers straddles */
	set_desc(1, RX_BUF + BUF_STRIDE, 2000, VIRTQ_DESC_F_WRITE, 0);
	publish(0);
	make_frame(1000, VIRTIO_NET_HDR_GSO_NONE, 23);
	net_send(1000);
	io(true);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(used_len(0), 1000);
	cr_assert_arr_eq(rx_buf(0), frame, 10);
	cr_assert_eq(rx_buf(1)[0], 1);
	cr_assert_eq(rx_buf(1)[1], 0);
	cr_assert_arr_eq(rx_buf(1) + 2, frame + 12, 1000 - 12);
}

Test(net, rx_without_buffers_stops_polling_and_keeps_the_frame)
{
	start(F_BASE | F_MRG);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 24);
	net_send(SMALL);
	net_send(SMALL);
	cr_assert_not(io(true));
	cr_assert_not(w.io_wanted);
	cr_assert_eq(n.frame_len, SMALL);
	cr_assert_eq(n.stats.rx_waits, 1);
	cr_assert_eq(frames_left(), 1, "the second frame stays in the tap");
	cr_assert_eq(used_idx(), 0);
}

Test(net, rx_waiting_for_buffers_reads_no_more_frames)
{
	start(F_BASE | F_MRG);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 25);
	net_send(SMALL);
	net_send(SMALL);
	io(true);
	/* A transmit batch, or a kick with nothing posted: the frame still waits, nothing is read. */
	for (int i = 0; i < 3; i++)
		cr_assert_not(io(false));
	cr_assert_eq(frames_left(), 1);
	cr_assert_eq(n.stats.rx_waits, 1);
	cr_assert_not(w.io_wanted);
}

Test(net, rx_posted_buffers_resume_delivery_and_polling)
{
	start(F_BASE | F_MRG);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 26);
	net_send(SMALL);
	make_frame(SMALL + 10, VIRTIO_NET_HDR_GSO_NONE, 27);
	net_send(SMALL + 10);
	io(true);
	post_rx(0, 4, 2048);
	cr_assert_not(io(false)); /* the driver's kick */
	cr_assert(w.io_wanted);
	cr_assert_eq(used_idx(), 2);
	cr_assert_eq(used_len(0), SMALL);
	cr_assert_eq(used_len(1), SMALL + 10);
	cr_assert_arr_eq(rx_buf(1) + NET_HDR_LEN, frame + NET_HDR_LEN, SMALL + 10 - NET_HDR_LEN);
	cr_assert_eq(n.frame_len, 0);
}

Test(net, rx_running_out_mid_frame_gives_the_chains_back)
{
	const uint32_t len = NET_HDR_LEN + 10000;

	start(F_BASE | F_MRG);
	post_rx(0, 2, 4096);
	make_frame(len, VIRTIO_NET_HDR_GSO_NONE, 28);
	net_send(len);
	cr_assert_not(io(true));
	cr_assert_eq(used_idx(), 0, "no part of the frame is published");
	cr_assert_not(w.io_wanted);
	post_rx(2, 1, 4096);
	io(false);
	cr_assert_eq(used_idx(), 3);
	cr_assert_eq(used_id(0), 0, "the chains given back are taken again, in order");
	cr_assert_eq(used_id(1), 1);
	cr_assert_eq(used_id(2), 2);
	cr_assert_eq(num_buffers(rx_buf(0)), 3);
	cr_assert_arr_eq(rx_buf(2), frame + 8192, len - 8192);
}

Test(net, rx_without_mrg_rxbuf_frame_too_big_for_the_chain_is_dropped)
{
	start(F_BASE);
	post_rx(0, 1, 1526);
	make_frame(3000, VIRTIO_NET_HDR_GSO_NONE, 29);
	net_send(3000);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 30);
	net_send(SMALL);
	io(true);
	cr_assert_eq(n.stats.rx_dropped, 1);
	cr_assert_eq(used_idx(), 1, "the chain is kept for the next frame");
	cr_assert_eq(used_len(0), SMALL);
	cr_assert_arr_eq(rx_buf(0) + NET_HDR_LEN, frame + NET_HDR_LEN, SMALL - NET_HDR_LEN);
}

Test(net, rx_gso_frame_the_guest_did_not_negotiate_is_dropped)
{
	start(F_BASE | F_MRG | F_GUEST_CSUM);
	post_rx(0, 4, 4096);
	make_frame(3000, VIRTIO_NET_HDR_GSO_TCPV4, 31);
	net_send(3000);
	io(true);
	cr_assert_eq(n.stats.rx_dropped, 1);
	cr_assert_eq(used_idx(), 0);
}

Test(net, rx_checksum_flags_are_cleared_without_guest_csum)
{
	start(F_BASE | F_MRG);
	post_rx(0, 1, 2048);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 32);
	frame[0] = VIRTIO_NET_HDR_F_DATA_VALID;
	net_send(SMALL);
	io(true);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(rx_buf(0)[0], 0);
}

Test(net, rx_checksum_flags_pass_with_guest_csum)
{
	start(F_BASE | F_MRG | F_GUEST_CSUM);
	post_rx(0, 1, 2048);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 33);
	frame[0] = VIRTIO_NET_HDR_F_DATA_VALID;
	net_send(SMALL);
	io(true);
	cr_assert_eq(rx_buf(0)[0], VIRTIO_NET_HDR_F_DATA_VALID);
}

Test(net, rx_transmit_batch_call_does_not_read_the_tap)
{
	start(F_BASE | F_MRG);
	post_rx(0, 4, 2048);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 34);
	net_send(SMALL);
	cr_assert_not(io(false));
	cr_assert_eq(frames_left(), 1);
	cr_assert_eq(used_idx(), 0);
}

Test(net, rx_budget_spent_asks_to_be_called_again)
{
	start(F_BASE | F_MRG);
	post_rx(0, 100, 2048);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 35);
	for (int i = 0; i < 70; i++)
		net_send(SMALL);
	cr_assert(io(true));
	cr_assert_eq(used_idx(), 64);
	cr_assert_not(io(true));
	cr_assert_eq(used_idx(), 70);
}

Test(net, rx_event_idx_interrupts_once_per_batch)
{
	start(F_BASE | F_MRG | F_EVENT);
	post_rx(0, 8, 2048);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 36);
	for (int i = 0; i < 3; i++)
		net_send(SMALL);
	io(true);
	cr_assert_eq(used_idx(), 3);
	cr_assert_eq(interrupts(), 1);
}

Test(net, rx_nothing_delivered_sends_no_interrupt)
{
	start(F_BASE | F_MRG | F_EVENT);
	post_rx(0, 8, 2048);
	cr_assert_not(io(true));
	cr_assert_eq(interrupts(), 0);
}

Test(net, rx_broken_queue_stops_polling_and_asks_for_reset)
{
	start(F_BASE | F_MRG);
	set_desc(0, RX_BUF, 2048, VIRTQ_DESC_F_WRITE, 0);
	put16(RX_AVAIL + 2, QSIZE + 1); /* more entries than the queue holds */
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 37);
	net_send(SMALL);
	log_set_level(LOG_ERR);
	cr_assert_not(io(true));
	log_set_level(LOG_NOTICE);
	cr_assert_eq(resets, 1);
	cr_assert_not(w.io_wanted);
	cr_assert_eq(n.frame_len, 0);
	cr_assert_eq(n.stats.rx_dropped, 1);
}

static void io_ready(void)
{
	cr_assert_not(io(true));
}

Test(net, rx_tap_end_of_file_stops_polling)
{
	const char *text;

	start(F_BASE | F_MRG);
	close(peer);
	peer = -1;
	text = stderr_of(io_ready);
	cr_assert_not(w.io_wanted);
	cr_assert_eq(count_lines(text), 1, "logged: %s", text);
}

Test(net, stop_drops_the_waiting_frame)
{
	start(F_BASE | F_MRG);
	make_frame(SMALL, VIRTIO_NET_HDR_GSO_NONE, 38);
	net_send(SMALL);
	io(true);
	cr_assert_eq(n.frame_len, SMALL);
	cfg.model.stop(cfg.model.opaque);
	cr_assert_eq(n.frame_len, 0);
	cr_assert_not(n.rx_waiting);
	cr_assert_eq(n.stats.rx_dropped, 1);
}

/* Configuration, features, MAC */

Test(net, config_read_gives_mac_and_link_up)
{
	struct virtio_net_config got_cfg;

	memset(&got_cfg, 0xff, sizeof(got_cfg));
	net_config_read(&n, 0, &got_cfg, 12);
	cr_assert_arr_eq(got_cfg.mac, test_mac, 6);
	cr_assert_eq(got_cfg.status, VIRTIO_NET_S_LINK_UP);
	cr_assert_eq(got_cfg.max_virtqueue_pairs, 1);
	cr_assert_eq(got_cfg.mtu, 0);
	cr_assert_eq(cfg.config_len, 12);
}

Test(net, config_read_is_a_slice_with_zeros_beyond)
{
	uint8_t b[8];

	net_config_read(&n, 4, b, 4);
	cr_assert_eq(b[0], test_mac[4]);
	cr_assert_eq(b[1], test_mac[5]);
	cr_assert_eq(b[2], VIRTIO_NET_S_LINK_UP);
	cr_assert_eq(b[3], 0);
	memset(b, 0xff, sizeof(b));
	net_config_read(&n, 10, b, 8);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(b[i], 0);
}

Test(net, features_offered_are_the_data_path_ones)
{
	static const unsigned int bits[] = {
		VIRTIO_F_VERSION_1,	 VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX,
		VIRTIO_NET_F_MAC,	 VIRTIO_NET_F_STATUS,	      VIRTIO_NET_F_MRG_RXBUF,
		VIRTIO_NET_F_CSUM,	 VIRTIO_NET_F_GUEST_CSUM,     VIRTIO_NET_F_GUEST_TSO4,
		VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN,      VIRTIO_NET_F_GUEST_UFO,
		VIRTIO_NET_F_HOST_TSO4,	 VIRTIO_NET_F_HOST_TSO6,      VIRTIO_NET_F_HOST_ECN,
		VIRTIO_NET_F_HOST_UFO,
	};
	uint64_t want = 0;

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		want |= F(bits[i]);
	cr_assert_eq(cfg.features, want);
}

Test(net, pci_config_describes_one_rx_and_one_tx_queue)
{
	cr_assert_eq(cfg.device_id, VIRTIO_ID_NET);
	cr_assert_eq(virtio_pci_class_code(cfg.device_id), 0x020000);
	cr_assert_eq(cfg.nr_queues, 2);
	cr_assert_not(cfg.worker_per_queue);
	cr_assert_eq(cfg.queue_max, NET_QUEUE_SIZE);
	cr_assert_eq(cfg.model.rx_queues, 1u << NET_RXQ);
	cr_assert(cfg.model.handle && cfg.model.start && cfg.model.io && cfg.model.stop);
	cr_assert_eq(cfg.model.opaque, &n);
}

Test(net, mac_random_is_locally_administered_unicast)
{
	uint8_t a[6], b[6];

	for (int i = 0; i < 64; i++) {
		net_mac_random(a);
		cr_assert_eq(a[0] & 1, 0, "multicast bit set");
		cr_assert_eq(a[0] & 2, 2, "not locally administered");
	}
	net_mac_random(b);
	cr_assert(memcmp(a, b, 6), "two random MACs are the same");
}

/* Opening a tap */

Test(net, open_name_too_long_returns_einval)
{
	struct net_dev d;

	cr_assert_eq(net_open(&d, "kvmini-name-too-long", test_mac), -EINVAL);
	net_close(&d);
}

Test(net, open_name_with_slash_returns_einval)
{
	struct net_dev d;

	cr_assert_eq(net_open(&d, "tap/0", test_mac), -EINVAL);
	net_close(&d);
}

static void open_tap2(void)
{
	open_ret = net_open(&tap2, open_name, test_mac);
}

/* Opens a new tap as (tap), or skips the test where this process may not create one. */
static void open_new_tap(void)
{
	const char *text;

	open_name = "kvmt%d";
	text = stderr_of(open_tap2);
	if (open_ret == -EPERM || open_ret == -ENOENT || open_ret == -EACCES)
		cr_skip_test("cannot create a tap here: %s", text);
	cr_assert_eq(open_ret, 0, "net_open: %s", text);
	tap = tap2;
	tap2.tap_fd = -1;
	tap2.frame = NULL;
}

Test(net, open_creates_a_missing_tap_with_vnet_headers_and_close_removes_it)
{
	char name[IFNAMSIZ];
	struct ifreq ifr;
	int hdr_len = 0;

	open_new_tap();
	memcpy(name, tap.ifname, sizeof(name));
	cr_assert(tap.created);
	cr_assert_neq(if_nametoindex(name), 0, "%s does not exist", name);
	memset(&ifr, 0, sizeof(ifr));
	cr_assert_eq(ioctl(tap.tap_fd, TUNGETIFF, &ifr), 0);
	cr_assert_eq(ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR),
		     IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
	cr_assert_eq(ioctl(tap.tap_fd, TUNGETVNETHDRSZ, &hdr_len), 0);
	cr_assert_eq(hdr_len, NET_HDR_LEN);
	net_close(&tap);
	cr_assert_eq(if_nametoindex(name), 0, "%s outlived kvmini", name);
}

Test(net, open_tap_in_use_returns_ebusy)
{
	const char *text;

	open_new_tap();
	open_name = tap.ifname;
	text = stderr_of(open_tap2);
	cr_assert_eq(open_ret, -EBUSY);
	cr_assert(strstr(text, "in use"), "logged: %s", text);
}

Test(net, open_without_cap_net_admin_says_how_to_create_the_tap)
{
	const char *text;

	if (geteuid() == 0 && seteuid(NOBODY) != 0)
		cr_skip_test("running as root, who may create taps, and seteuid() failed");
	open_name = "kvmtnoperm0";
	text = stderr_of(open_tap2);
	if (open_ret == -ENOENT)
		cr_skip_test("no /dev/net/tun here");
	if (open_ret == 0)
		cr_skip_test("this process may create taps although it is not root");
	cr_assert_eq(open_ret, -EPERM);
	cr_assert(strstr(text, "CAP_NET_ADMIN"), "logged: %s", text);
	cr_assert(strstr(text, "`ip tuntap add kvmtnoperm0 mode tap user $USER`"), "logged: %s", text);
	cr_assert_eq(count_lines(text), 1, "logged: %s", text);
}

Test(net, open_interface_that_is_no_tap_returns_einval)
{
	const char *text;

	open_name = "lo";
	text = stderr_of(open_tap2);
	if (open_ret == -ENOENT)
		cr_skip_test("no /dev/net/tun here");
	cr_assert_eq(open_ret, -EINVAL);
	cr_assert(strstr(text, "not a tap"), "logged: %s", text);
}
