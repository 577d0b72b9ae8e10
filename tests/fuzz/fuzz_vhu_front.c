/*
 * fuzz_vhu_front.c: libFuzzer target for kvmini's vhost-user front end (virtio/vhu_front.c) against a
 * hostile back end: the input is every byte the back end answers with, in order, on the other end of a
 * socketpair (then its end is shut for writing); wherever a header there names GET_INFLIGHT_FD, that
 * message carries a 64 KiB memfd, as a back end's region. The front end (of a block device: it asks
 * for INFLIGHT_SHMFD) negotiates, reads the configuration, shares guest RAM, and when that succeeds
 * starts two rings (with GET and SET_INFLIGHT_FD when negotiated); then that back end is lost and what it
 * had not yet said comes from a new one the front end reconnects to (vhu_front_reconnect: negotiation
 * again, RAM, the inflight region handed over, the rings at their used index); then the configuration is
 * read, the rings stopped, and the front end hangs up.
 *
 * Checked: nothing crashes and nothing waits (a short answer ends at the end of the stream); a front end
 * that came up shows the transport at least one and at most the asked-for number of queues, and never
 * the vhost-user bit 30 or a transport feature past VERSION_1 it cannot carry; an inflight region it
 * keeps is of a sane size; no input leaves an fd open (fds 0 to 1023 are counted).
 *
 * Build: make build/tests/fuzz/fuzz_vhu_front
 * Seeds:  cc -std=c11 -D_GNU_SOURCE -DFUZZ_SEED_MAIN -Ivmm -Idevices -Idevices/base tests/fuzz/fuzz_vhu_front.c \
 *            -o /tmp/vhu-front-seeds && /tmp/vhu-front-seeds tests/fuzz/corpus/vhu_front
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vhost_user.h"

#define RAM_SIZE (4 << 20)
#define QSIZE	 16
#define CFG_LEN	 60

#ifndef FUZZ_SEED_MAIN
#include "fuzz_fds.h"
#include "log.h"
#include "virtio/vhu_front.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "vhost-user front end invariant broken: %s\n", what);
		abort();
	}
}

static void noop_reset(void *opaque)
{
	(void)opaque;
}

/* Send (data) of (size) on (sock), with (fd) when it is not -1; false when the socket is full. */
static bool send_part(int sock, const uint8_t *data, size_t size, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)data, size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (!size)
		return true;
	check(vhu_attach_fds(&mh, ctl.buf, sizeof(ctl.buf), &fd, fd >= 0) == 0, "control message");
	return sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)size;
}

/*
 * Write the answer stream (data) into (sock): the bytes before each message whose header names
 * GET_INFLIGHT_FD in one piece, that message (its header, and its payload as far as the stream goes)
 * in another with a memfd riding on it. A stream too large for the socket ends where it filled.
 */
static void write_answers(int sock, const uint8_t *data, size_t size)
{
	size_t done = 0, at = 0;
	int memfd = memfd_create("fuzz-inflight", MFD_CLOEXEC);

	check(memfd >= 0 && ftruncate(memfd, 64 * 1024) == 0, "memfd");
	while (at + 12 <= size) {
		uint32_t hdr[3];
		size_t len;

		memcpy(hdr, data + at, sizeof(hdr));
		len = 12 + (hdr[2] < size - at - 12 ? hdr[2] : size - at - 12);
		if (hdr[0] == VHU_GET_INFLIGHT_FD) {
			if (!send_part(sock, data + done, at - done, -1) ||
			    !send_part(sock, data + at, len, memfd))
				break;
			done = at + len;
		}
		at += len;
	}
	if (done < size)
		send_part(sock, data + done, size - done, -1);
	close(memfd);
}

/*
 * A socket whose peer (*peer, to close after) has answered (data) and shut its end for writing: kvmini's
 * end.
 */
static int answers(const uint8_t *data, size_t size, int *peer)
{
	int sv[2];

	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	write_answers(sv[1], data, size);
	shutdown(sv[1], SHUT_WR);
	*peer = sv[1];
	return sv[0];
}

/* The front end came up: rings, a new back end, configuration, stop, as the VMM drives it. */
static void drive(struct vhu_front *f, const struct vhu_front_want *want)
{
	static uint8_t rest[16384];
	uint64_t offered = f->backend.features;
	int sock, peer = -1;
	unsigned int outstanding;
	size_t kept = 0;
	ssize_t n;

	const uint64_t transport_bits = 0xffffffffULL | (1ULL << 32);
	struct virtio_queue_setup q[2];
	uint16_t bases[2] = { 0 };
	uint8_t cfg[CFG_LEN];
	int ev[4];

	check(f->backend.nr_queues >= 1 && f->backend.nr_queues <= want->max_queues,
	      "queues within the asked");
	check(!(f->backend.features & ~transport_bits) && !(f->backend.features & (1ULL << 30)),
	      "only features the transport carries reach the driver");
	for (int i = 0; i < 4; i++)
		ev[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (unsigned int i = 0; i < 2; i++)
		q[i] = (struct virtio_queue_setup){ .enabled = i < f->backend.nr_queues,
						    .size = QSIZE,
						    .desc = 0x10000 + 0x4000 * i,
						    .avail = 0x11000 + 0x4000 * i,
						    .used = 0x12000 + 0x4000 * i,
						    .kick_fd = ev[2 * i],
						    .call_fd = ev[2 * i + 1] };
	f->backend.ops->start(f->backend.opaque, 1ULL << 32, q, f->backend.nr_queues, noop_reset, NULL);
	check(f->inflight_fd < 0 || (f->inflight.mmap_size && f->inflight.mmap_size <= (64 << 20)),
	      "an inflight region kept is one of a sane size");
	/* The rest of the answers are the new back end's. */
	while (kept < sizeof(rest) && (n = recv(f->sock, rest + kept, sizeof(rest) - kept, MSG_DONTWAIT)) > 0)
		kept += (size_t)n;
	vhu_front_lost(f);
	sock = answers(rest, kept, &peer);
	if (sock >= 0)
		check((vhu_front_reconnect(f, sock, &outstanding) == 0) == !f->hung_up,
		      "a failed reconnect leaves it lost");
	check(f->backend.features == offered, "what the driver was offered never changes");
	f->backend.ops->config_read(f->backend.opaque, 0, cfg, sizeof(cfg));
	f->backend.ops->stop(f->backend.opaque, bases);
	for (int i = 0; i < 4; i++)
		close(ev[i]);
	if (peer >= 0)
		close(peer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gmem mem;
	static bool ready;
	static struct vhu_front f;
	struct vhu_front_want want = { .device_id = 2,
				       .config_len = CFG_LEN,
				       .config_ask = CFG_LEN,
				       .max_queues = 2,
				       .queue_max = 256 };
	unsigned int fds_before;
	int sock, peer = -1;

	if (!ready) {
		check(gmem_create(&mem, 0, RAM_SIZE, RAM_SIZE) == 0, "guest RAM");
		log_set_level(LOG_ERR);
		ready = true;
	}
	fds_before = fuzz_open_fds();
	sock = answers(data, size, &peer);
	if (sock >= 0 && vhu_front_init(&f, "virtio-fuzz", &want, sock, &mem) == 0) {
		drive(&f, &want);
		vhu_front_destroy(&f);
	}
	if (peer >= 0)
		close(peer);
	check(fuzz_open_fds() == fds_before, "no fd left open");
	return 0;
}

#else /* FUZZ_SEED_MAIN: a well-behaved back end's answers, whole and cut short. */

static uint8_t stream[4096];
static size_t len;

static void reply(uint32_t req, const void *payload, uint32_t size)
{
	uint32_t hdr[3] = { req, 0x1 | 0x4, size };

	memcpy(stream + len, hdr, sizeof(hdr));
	memcpy(stream + len + sizeof(hdr), payload, size);
	len += sizeof(hdr) + size;
}

static void ack(uint32_t req)
{
	uint64_t zero = 0;

	reply(req, &zero, sizeof(zero));
}

static void put(const char *dir, const char *name, size_t n)
{
	char path[512];
	FILE *out;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out = fopen(path, "wb");
	if (!out || fwrite(stream, 1, n, out) != n) {
		perror(path);
		exit(1);
	}
	fclose(out);
}

static void greet(uint64_t features, uint64_t protocol, uint64_t queues)
{
	reply(VHU_GET_FEATURES, &features, sizeof(features));
	reply(VHU_GET_PROTOCOL_FEATURES, &protocol, sizeof(protocol));
	reply(VHU_GET_QUEUE_NUM, &queues, sizeof(queues));
	ack(VHU_SET_OWNER);
}

/* The rings start: with INFLIGHT_SHMFD, a new region first (GET, then SET) or the one handed over (SET). */
static void start_rings_inflight(bool get, bool set)
{
	static const uint32_t ring[] = { VHU_SET_VRING_NUM,   VHU_SET_VRING_ADDR, VHU_SET_VRING_BASE,
					 VHU_SET_VRING_CALL,  VHU_SET_VRING_ERR,  VHU_SET_VRING_KICK,
					 VHU_SET_VRING_ENABLE };
	struct vhu_inflight region = { .mmap_size = 2 * 4160, .num_queues = 2, .queue_size = 256 };

	ack(VHU_SET_FEATURES);
	if (get)
		reply(VHU_GET_INFLIGHT_FD, &region, sizeof(region));
	if (set)
		ack(VHU_SET_INFLIGHT_FD);
	for (uint32_t i = 0; i < 2; i++)
		for (size_t r = 0; r < sizeof(ring) / sizeof(ring[0]); r++)
			ack(ring[r]);
}

static void start_rings(void)
{
	start_rings_inflight(false, false);
}

int main(int argc, char **argv)
{
	size_t greet_len;
	uint64_t features = (1ULL << 32) | (1ULL << 30) | (1ULL << 29) | (1ULL << 6) | (1ULL << 34);
	uint64_t protocol =
		(1 << VHU_PROTOCOL_F_MQ) | (1 << VHU_PROTOCOL_F_REPLY_ACK) | (1 << VHU_PROTOCOL_F_CONFIG);
	uint64_t queues = 2;
	struct vhu_config cfg = { .size = CFG_LEN };
	struct vhu_vring_state base = { 0, 7 };

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	greet(features, protocol, queues);
	memset(cfg.region, 0x5a, CFG_LEN);
	reply(VHU_GET_CONFIG, &cfg, (uint32_t)VHU_CONFIG_HDR_SIZE + CFG_LEN);
	ack(VHU_SET_MEM_TABLE);
	put(argv[1], "init-only", len);
	start_rings();
	greet_len = len;
	for (uint32_t i = 0; i < 2; i++) {
		base.index = i;
		reply(VHU_GET_VRING_BASE, &base, sizeof(base));
	}
	put(argv[1], "whole-session", len);
	put(argv[1], "cut-in-config", 3 * (12 + 8) + 12 + 8 + 30);
	/* The back end dies after the rings start; a new one answers the reconnect, then the stop. */
	len = greet_len;
	greet(features, protocol, queues);
	ack(VHU_SET_MEM_TABLE);
	start_rings();
	for (uint32_t i = 0; i < 2; i++) {
		base.index = i;
		reply(VHU_GET_VRING_BASE, &base, sizeof(base));
	}
	put(argv[1], "reconnect", len);
	/* A block device's back end with INFLIGHT_SHMFD: a region at the start, handed over at the reconnect. */
	len = 0;
	protocol |= 1 << VHU_PROTOCOL_F_INFLIGHT_SHMFD;
	greet(features, protocol, queues);
	reply(VHU_GET_CONFIG, &cfg, (uint32_t)VHU_CONFIG_HDR_SIZE + CFG_LEN);
	ack(VHU_SET_MEM_TABLE);
	start_rings_inflight(true, true);
	greet(features, protocol, queues);
	ack(VHU_SET_MEM_TABLE);
	start_rings_inflight(false, true);
	for (uint32_t i = 0; i < 2; i++) {
		base.index = i;
		reply(VHU_GET_VRING_BASE, &base, sizeof(base));
	}
	put(argv[1], "inflight-reconnect", len);
	return 0;
}
#endif
