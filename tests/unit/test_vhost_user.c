/* test_vhost_user.c: vhost-user messages over a socketpair, with fds; every rejection; the memory table. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"
#include "vhost_user.h"

#define PAGE 4096u
#define MIB  (1ULL << 20)

static int sv[2]; /* sv[0]: the sender's end, sv[1]: vhu_recv()'s */

static void open_pair(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void close_pair(void)
{
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
}

TestSuite(vhu, .init = open_pair, .fini = close_pair);

static unsigned int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int new_memfd(uint64_t size)
{
	int fd = memfd_create("vhu-test", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	return fd;
}

static void close_all(const int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
}

/* Bytes on the wire as a peer might write them, bypassing vhu_send()'s help: any header, any fds. */
static void raw_send(int sock, uint32_t req, uint32_t flags, uint32_t size, const void *payload,
		     uint32_t plen, const int *fds, unsigned int nfds)
{
	uint32_t hdr[3] = { req, flags, size };
	union {
		char buf[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)payload, plen } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = plen ? 2 : 1 };

	cr_assert_eq(vhu_attach_fds(&mh, ctl.buf, sizeof(ctl.buf), fds, nfds), 0);
	cr_assert_eq(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)(sizeof(hdr) + plen));
}

/* Receive expecting rejection; the fds that came must all be closed again. */
static void expect_rejected(unsigned int fds_before)
{
	struct vhu_msg m;
	int fds[VHU_MAX_FDS];
	unsigned int nfds = 99;
	const char *why = NULL;

	cr_assert_eq(vhu_recv(sv[1], &m, fds, &nfds, &why), -EPROTO);
	cr_assert_not_null(why);
	cr_assert_eq(nfds, 0);
	cr_assert_eq(count_fds(), fds_before, "fds leaked: %u, were %u (%s)", count_fds(), fds_before, why);
}

static void recv_ok(struct vhu_msg *m, int *fds, unsigned int *nfds)
{
	const char *why = NULL;
	int ret = vhu_recv(sv[1], m, fds, nfds, &why);

	cr_assert_eq(ret, 0, "vhu_recv: %d (%s)", ret, why ? why : "");
}

/* --- Round trips, each payload kind --- */

Test(vhu, u64_round_trip)
{
	struct vhu_msg m = { .hdr = { VHU_SET_FEATURES, 0, 8 }, .payload.u64 = 0x140000001ULL }, r;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;

	cr_assert_eq(vhu_send(sv[0], &m, NULL, 0), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(r.hdr.request, VHU_SET_FEATURES);
	cr_assert_eq(r.hdr.flags, VHU_VERSION);
	cr_assert_eq(r.hdr.size, 8);
	cr_assert_eq(r.payload.u64, 0x140000001ULL);
	cr_assert_eq(nfds, 0);
}

Test(vhu, empty_request_round_trip)
{
	struct vhu_msg m = { .hdr = { VHU_SET_OWNER, 0, 0 } }, r;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;

	cr_assert_eq(vhu_send(sv[0], &m, NULL, 0), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(r.hdr.request, VHU_SET_OWNER);
	cr_assert_eq(r.hdr.size, 0);
}

Test(vhu, vring_state_round_trip)
{
	struct vhu_msg m = { .hdr = { VHU_SET_VRING_NUM, 0, sizeof(struct vhu_vring_state) },
			     .payload.state = { 1, 256 } },
		       r;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;

	cr_assert_eq(vhu_send(sv[0], &m, NULL, 0), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(r.payload.state.index, 1);
	cr_assert_eq(r.payload.state.num, 256);
}

Test(vhu, vring_addr_round_trip)
{
	struct vhu_msg m = { .hdr = { VHU_SET_VRING_ADDR, 0, sizeof(struct vhu_vring_addr) },
			     .payload.addr = { 2, 1, 0x7f0000001000, 0x7f0000003000, 0x7f0000002000,
					       0x5000 } },
		       r;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;

	cr_assert_eq(vhu_send(sv[0], &m, NULL, 0), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(memcmp(&r.payload.addr, &m.payload.addr, sizeof(m.payload.addr)), 0);
}

Test(vhu, mem_table_round_trip_brings_one_fd_a_region)
{
	struct vhu_msg m = { .hdr = { VHU_SET_MEM_TABLE, 0, 8 + 2 * 32 } }, r;
	int sent[2] = { new_memfd(PAGE), new_memfd(2 * PAGE) }, fds[VHU_MAX_FDS];
	unsigned int nfds;
	struct stat st;

	m.payload.memory.nregions = 2;
	m.payload.memory.regions[0] = (struct vhu_mem_region_desc){ 0, PAGE, 0x10000, 0 };
	m.payload.memory.regions[1] = (struct vhu_mem_region_desc){ 0x100000, 2 * PAGE, 0x20000, 0 };
	cr_assert_eq(vhu_send(sv[0], &m, sent, 2), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(nfds, 2);
	cr_assert_eq(r.payload.memory.nregions, 2);
	cr_assert_eq(r.payload.memory.regions[1].guest_phys_addr, 0x100000);
	cr_assert_eq(fstat(fds[1], &st), 0);
	cr_assert_eq(st.st_size, 2 * PAGE, "fds arrive in order");
	cr_assert_eq(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close_all(fds, nfds);
	close_all(sent, 2);
}

Test(vhu, mem_table_sent_whole_is_accepted)
{
	struct vhu_msg m = { .hdr = { VHU_SET_MEM_TABLE, 0, sizeof(struct vhu_memory) } }, r;
	int sent = new_memfd(PAGE), fds[VHU_MAX_FDS];
	unsigned int nfds;

	m.payload.memory.nregions = 1;
	m.payload.memory.regions[0] = (struct vhu_mem_region_desc){ 0, PAGE, 0x10000, 0 };
	cr_assert_eq(vhu_send(sv[0], &m, &sent, 1), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(nfds, 1);
	close_all(fds, nfds);
	close(sent);
}

Test(vhu, add_mem_reg_round_trip)
{
	struct vhu_msg m = { .hdr = { VHU_ADD_MEM_REG, 0, sizeof(struct vhu_memory_single) },
			     .payload.region.region = { 0x1000, PAGE, 0x30000, 0 } },
		       r;
	int sent = new_memfd(PAGE), fds[VHU_MAX_FDS];
	unsigned int nfds;

	cr_assert_eq(vhu_send(sv[0], &m, &sent, 1), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(nfds, 1);
	cr_assert_eq(r.payload.region.region.userspace_addr, 0x30000);
	close_all(fds, nfds);
	close(sent);
}

Test(vhu, rem_mem_reg_stray_fd_is_closed_and_accepted)
{
	struct vhu_msg m = { .hdr = { VHU_REM_MEM_REG, 0, sizeof(struct vhu_memory_single) } }, r;
	int sent = new_memfd(PAGE), fds[VHU_MAX_FDS];
	unsigned int nfds, before = count_fds();

	cr_assert_eq(vhu_send(sv[0], &m, &sent, 1), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(nfds, 0);
	cr_assert_eq(count_fds(), before);
	close(sent);
}

Test(vhu, config_round_trip_carries_only_the_bytes_asked_for)
{
	struct vhu_msg m = { .hdr = { VHU_SET_CONFIG, 0, VHU_CONFIG_HDR_SIZE + 16 } }, r;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;

	m.payload.config.offset = 8;
	m.payload.config.size = 16;
	memset(m.payload.config.region, 0xab, 16);
	cr_assert_eq(vhu_send(sv[0], &m, NULL, 0), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(r.payload.config.size, 16);
	cr_assert_eq(r.payload.config.region[15], 0xab);
}

Test(vhu, inflight_round_trip)
{
	struct vhu_msg m = { .hdr = { VHU_SET_INFLIGHT_FD, 0, sizeof(struct vhu_inflight) },
			     .payload.inflight = { 4 * PAGE, 0, 2, 256 } },
		       r;
	int sent = new_memfd(4 * PAGE), fds[VHU_MAX_FDS];
	unsigned int nfds;

	cr_assert_eq(vhu_send(sv[0], &m, &sent, 1), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(nfds, 1);
	cr_assert_eq(r.payload.inflight.num_queues, 2);
	cr_assert_eq(r.payload.inflight.queue_size, 256);
	close_all(fds, nfds);
	close(sent);
}

Test(vhu, log_base_round_trip)
{
	struct vhu_msg m = { .hdr = { VHU_SET_LOG_BASE, 0, sizeof(struct vhu_log) },
			     .payload.log = { PAGE, 0 } },
		       r;
	int sent = new_memfd(PAGE), fds[VHU_MAX_FDS];
	unsigned int nfds;

	cr_assert_eq(vhu_send(sv[0], &m, &sent, 1), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(nfds, 1);
	close_all(fds, nfds);
	close(sent);
}

Test(vhu, vring_kick_brings_the_same_eventfd)
{
	struct vhu_msg m = { .hdr = { VHU_SET_VRING_KICK, 0, 8 }, .payload.u64 = 3 }, r;
	int efd = new_eventfd(), fds[VHU_MAX_FDS];
	unsigned int nfds;
	uint64_t v = 5;

	cr_assert_eq(vhu_send(sv[0], &m, &efd, 1), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(nfds, 1);
	cr_assert_eq(r.payload.u64 & VHU_VRING_INDEX_MASK, 3);
	cr_assert_eq(write(fds[0], &v, 8), 8);
	v = 0;
	cr_assert_eq(read(efd, &v, 8), 8);
	cr_assert_eq(v, 5);
	close_all(fds, nfds);
	close(efd);
}

Test(vhu, vring_call_with_no_fd_flag_takes_none)
{
	struct vhu_msg m = { .hdr = { VHU_SET_VRING_CALL, 0, 8 }, .payload.u64 = VHU_VRING_NOFD | 1 }, r;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;

	cr_assert_eq(vhu_send(sv[0], &m, NULL, 0), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(nfds, 0);
}

Test(vhu, unknown_request_that_fits_is_accepted_for_the_caller_to_refuse)
{
	struct vhu_msg m = { .hdr = { 200, 0, 24 } }, r;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;

	cr_assert_eq(vhu_send(sv[0], &m, NULL, 0), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(r.hdr.request, 200);
	cr_assert_str_eq(vhu_request_name(r.hdr.request), "UNKNOWN");
}

Test(vhu, header_and_payload_in_separate_writes_arrive_whole)
{
	uint32_t hdr[3] = { VHU_SET_FEATURES, VHU_VERSION, 8 };
	uint64_t v = 42;
	struct vhu_msg r;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;

	cr_assert_eq(write(sv[0], hdr, 7), 7);
	cr_assert_eq(write(sv[0], (char *)hdr + 7, 5), 5);
	cr_assert_eq(write(sv[0], &v, 8), 8);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(r.payload.u64, 42);
}

Test(vhu, two_messages_back_to_back_stay_apart)
{
	struct vhu_msg a = { .hdr = { VHU_SET_VRING_KICK, 0, 8 }, .payload.u64 = 0 };
	struct vhu_msg b = { .hdr = { VHU_SET_VRING_CALL, 0, 8 }, .payload.u64 = 0 }, r;
	int e1 = new_eventfd(), e2 = new_eventfd(), fds[VHU_MAX_FDS];
	unsigned int nfds;

	cr_assert_eq(vhu_send(sv[0], &a, &e1, 1), 0);
	cr_assert_eq(vhu_send(sv[0], &b, &e2, 1), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(r.hdr.request, VHU_SET_VRING_KICK);
	cr_assert_eq(nfds, 1);
	close_all(fds, nfds);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(r.hdr.request, VHU_SET_VRING_CALL);
	cr_assert_eq(nfds, 1);
	close_all(fds, nfds);
	close(e1);
	close(e2);
}

/* --- Rejections --- */

Test(vhu, oversize_payload_is_rejected)
{
	uint8_t junk[300] = { 0 };

	raw_send(sv[0], 200, VHU_VERSION, sizeof(union vhu_payload) + 1, junk, sizeof(union vhu_payload) + 1,
		 NULL, 0);
	expect_rejected(count_fds());
}

Test(vhu, huge_size_is_rejected_before_reading)
{
	raw_send(sv[0], VHU_SET_MEM_TABLE, VHU_VERSION, 0xffffffffu, NULL, 0, NULL, 0);
	expect_rejected(count_fds());
}

Test(vhu, wrong_size_for_a_fixed_request_is_rejected)
{
	uint32_t v = 1;

	raw_send(sv[0], VHU_SET_FEATURES, VHU_VERSION, 4, &v, 4, NULL, 0);
	expect_rejected(count_fds());
}

Test(vhu, payload_on_an_empty_request_is_rejected)
{
	uint64_t v = 1;

	raw_send(sv[0], VHU_GET_FEATURES, VHU_VERSION, 8, &v, 8, NULL, 0);
	expect_rejected(count_fds());
}

Test(vhu, bad_version_is_rejected)
{
	uint64_t v = 1;

	raw_send(sv[0], VHU_SET_FEATURES, 0x2, 8, &v, 8, NULL, 0);
	expect_rejected(count_fds());
}

Test(vhu, reserved_flags_are_rejected)
{
	uint64_t v = 1;

	raw_send(sv[0], VHU_SET_FEATURES, VHU_VERSION | 0x10, 8, &v, 8, NULL, 0);
	expect_rejected(count_fds());
}

Test(vhu, too_many_fds_are_all_closed)
{
	uint64_t v = 0;
	int efds[9];
	unsigned int before;

	for (int i = 0; i < 9; i++)
		efds[i] = new_eventfd();
	before = count_fds();
	raw_send(sv[0], VHU_SET_VRING_KICK, VHU_VERSION, 8, &v, 8, efds, 9);
	expect_rejected(before);
	close_all(efds, 9);
}

Test(vhu, fds_on_a_request_that_takes_none_are_closed)
{
	int efds[2] = { new_eventfd(), new_eventfd() };
	unsigned int before = count_fds();

	raw_send(sv[0], VHU_SET_OWNER, VHU_VERSION, 0, NULL, 0, efds, 2);
	expect_rejected(before);
	close_all(efds, 2);
}

Test(vhu, vring_kick_without_its_fd_is_rejected)
{
	uint64_t v = 0;

	raw_send(sv[0], VHU_SET_VRING_KICK, VHU_VERSION, 8, &v, 8, NULL, 0);
	expect_rejected(count_fds());
}

Test(vhu, vring_call_with_no_fd_flag_and_an_fd_is_rejected)
{
	uint64_t v = VHU_VRING_NOFD;
	int efd = new_eventfd();
	unsigned int before = count_fds();

	raw_send(sv[0], VHU_SET_VRING_CALL, VHU_VERSION, 8, &v, 8, &efd, 1);
	expect_rejected(before);
	close(efd);
}

Test(vhu, vring_fd_request_with_high_bits_is_rejected)
{
	uint64_t v = 1ULL << 40;
	int efd = new_eventfd();
	unsigned int before = count_fds();

	raw_send(sv[0], VHU_SET_VRING_ERR, VHU_VERSION, 8, &v, 8, &efd, 1);
	expect_rejected(before);
	close(efd);
}

Test(vhu, add_mem_reg_without_fd_is_rejected)
{
	struct vhu_memory_single r = { 0, { 0, PAGE, 0x1000, 0 } };

	raw_send(sv[0], VHU_ADD_MEM_REG, VHU_VERSION, sizeof(r), &r, sizeof(r), NULL, 0);
	expect_rejected(count_fds());
}

Test(vhu, mem_table_with_fewer_fds_than_regions_is_rejected)
{
	struct vhu_memory t = { .nregions = 2 };
	int mfd = new_memfd(PAGE);
	unsigned int before = count_fds();

	raw_send(sv[0], VHU_SET_MEM_TABLE, VHU_VERSION, 8 + 64, &t, 8 + 64, &mfd, 1);
	expect_rejected(before);
	close(mfd);
}

Test(vhu, mem_table_with_9_regions_is_rejected)
{
	struct vhu_memory t = { .nregions = 9 };

	raw_send(sv[0], VHU_SET_MEM_TABLE, VHU_VERSION, sizeof(t), &t, sizeof(t), NULL, 0);
	expect_rejected(count_fds());
}

Test(vhu, mem_table_size_not_matching_its_count_is_rejected)
{
	struct vhu_memory t = { .nregions = 1 };

	raw_send(sv[0], VHU_SET_MEM_TABLE, VHU_VERSION, 8 + 64, &t, 8 + 64, NULL, 0);
	expect_rejected(count_fds());
}

Test(vhu, config_larger_than_256_is_rejected)
{
	struct vhu_config c = { .size = 257 };

	raw_send(sv[0], VHU_SET_CONFIG, VHU_VERSION, sizeof(c), &c, sizeof(c), NULL, 0);
	expect_rejected(count_fds());
}

Test(vhu, config_size_not_matching_its_access_is_rejected)
{
	struct vhu_config c = { .size = 8 };

	raw_send(sv[0], VHU_SET_CONFIG, VHU_VERSION, VHU_CONFIG_HDR_SIZE + 4, &c, VHU_CONFIG_HDR_SIZE + 4,
		 NULL, 0);
	expect_rejected(count_fds());
}

Test(vhu, eof_at_a_message_boundary_is_connreset)
{
	struct vhu_msg m;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;
	const char *why;

	close(sv[0]);
	sv[0] = -1;
	cr_assert_eq(vhu_recv(sv[1], &m, fds, &nfds, &why), -ECONNRESET);
}

Test(vhu, eof_mid_header_is_a_protocol_error)
{
	uint32_t hdr[3] = { VHU_SET_OWNER, VHU_VERSION, 0 };

	cr_assert_eq(write(sv[0], hdr, 5), 5);
	close(sv[0]);
	sv[0] = -1;
	expect_rejected(count_fds());
}

Test(vhu, eof_mid_payload_is_a_protocol_error_and_closes_the_fds)
{
	uint32_t hdr[3] = { VHU_SET_VRING_KICK, VHU_VERSION, 8 };
	int efd = new_eventfd();
	unsigned int before = count_fds();

	raw_send(sv[0], VHU_SET_VRING_KICK, VHU_VERSION, 8, hdr, 3, &efd, 1);
	close(sv[0]);
	sv[0] = -1;
	expect_rejected(before - 1);
	close(efd);
}

Test(vhu, receive_timeout_is_etimedout)
{
	struct vhu_msg m;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;
	const char *why;

	cr_assert_eq(vhu_set_timeout(sv[1], 50), 0);
	cr_assert_eq(vhu_recv(sv[1], &m, fds, &nfds, &why), -ETIMEDOUT);
}

/* --- Sending --- */

Test(vhu, send_refuses_too_many_fds_and_oversize)
{
	struct vhu_msg m = { .hdr = { VHU_SET_OWNER, 0, 0 } };
	int fds[9] = { 0 };

	cr_assert_eq(vhu_send(sv[0], &m, fds, 9), -EINVAL);
	m.hdr.size = sizeof(m.payload) + 1;
	cr_assert_eq(vhu_send(sv[0], &m, NULL, 0), -EINVAL);
}

Test(vhu, send_to_a_closed_peer_is_epipe_without_sigpipe)
{
	struct vhu_msg m = { .hdr = { VHU_SET_OWNER, 0, 0 } };

	close(sv[1]);
	sv[1] = -1;
	cr_assert_eq(vhu_send(sv[0], &m, NULL, 0), -EPIPE);
}

Test(vhu, reply_carries_the_request_and_the_reply_flag)
{
	struct vhu_msg req = { .hdr = { VHU_GET_FEATURES, VHU_VERSION, 0 } };
	struct vhu_msg rep = { .hdr = { 0, VHU_F_NEED_REPLY, 8 }, .payload.u64 = 7 }, r;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;
	const char *why;

	cr_assert_eq(vhu_reply(sv[0], &req, &rep), 0);
	cr_assert_eq(vhu_recv(sv[1], &r, fds, &nfds, &why), 0);
	cr_assert_eq(r.hdr.request, VHU_GET_FEATURES);
	cr_assert_eq(r.hdr.flags, VHU_VERSION | VHU_F_REPLY);
	cr_assert_eq(r.payload.u64, 7);
}

Test(vhu, request_names)
{
	cr_assert_str_eq(vhu_request_name(VHU_SET_MEM_TABLE), "SET_MEM_TABLE");
	cr_assert_str_eq(vhu_request_name(VHU_GET_STATUS), "GET_STATUS");
	cr_assert_str_eq(vhu_request_name(0), "UNKNOWN");
	cr_assert_str_eq(vhu_request_name(0xffffffffu), "UNKNOWN");
}

/* --- vhu_call() against a fake back end on a thread --- */

/* What the fake back end answers: a header of its choosing, (size) bytes of (payload). */
struct fake {
	int sock;
	uint32_t request, flags, size;
	union vhu_payload payload;
	int fd;		     /* one fd the answer carries; -1 or 0 (unset): none */
	bool silent;	     /* answer nothing */
	struct vhu_msg seen; /* the request as it arrived */
	int seen_ret;
};

static void *fake_backend(void *arg)
{
	struct fake *f = arg;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;
	const char *why;

	f->seen_ret = vhu_recv(f->sock, &f->seen, fds, &nfds, &why);
	close_all(fds, nfds);
	if (!f->silent)
		raw_send(f->sock, f->request, f->flags, f->size, &f->payload, f->size, &f->fd, f->fd > 0);
	return NULL;
}

/*
 * vhu_call(), or vhu_call_fd() where (fd) is not NULL (GET_INFLIGHT_FD, whose reply carries the region's
 * fd), against the fake back end (f).
 */
static int call_with_fd(struct fake *f, struct vhu_msg *m, struct vhu_msg *reply, bool reply_ack, int *fd)
{
	pthread_t t;
	int ret;

	f->sock = sv[1];
	cr_assert_eq(pthread_create(&t, NULL, fake_backend, f), 0);
	ret = fd ? vhu_call_fd(sv[0], m, NULL, 0, reply, fd) : vhu_call(sv[0], m, NULL, 0, reply, reply_ack);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(f->seen_ret, 0);
	return ret;
}

static int call_with(struct fake *f, struct vhu_msg *m, struct vhu_msg *reply, bool reply_ack)
{
	return call_with_fd(f, m, reply, reply_ack, NULL);
}

Test(vhu, call_get_features_returns_the_reply)
{
	struct fake f = { .request = VHU_GET_FEATURES,
			  .flags = VHU_VERSION | VHU_F_REPLY,
			  .size = 8,
			  .payload.u64 = 1ULL << VHU_F_PROTOCOL_FEATURES };
	struct vhu_msg m = { .hdr = { VHU_GET_FEATURES, 0, 0 } }, r;

	cr_assert_eq(call_with(&f, &m, &r, false), 0);
	cr_assert_eq(r.payload.u64, 1ULL << VHU_F_PROTOCOL_FEATURES);
	cr_assert_eq(f.seen.hdr.flags & VHU_F_NEED_REPLY, 0, "a GET has its own reply: no NEED_REPLY");
}

Test(vhu, call_reply_to_another_request_is_eproto)
{
	struct fake f = { .request = VHU_GET_PROTOCOL_FEATURES,
			  .flags = VHU_VERSION | VHU_F_REPLY,
			  .size = 8 };
	struct vhu_msg m = { .hdr = { VHU_GET_FEATURES, 0, 0 } }, r;

	cr_assert_eq(call_with(&f, &m, &r, false), -EPROTO);
}

Test(vhu, call_answer_without_reply_flag_is_eproto)
{
	struct fake f = { .request = VHU_GET_FEATURES, .flags = VHU_VERSION, .size = 8 };
	struct vhu_msg m = { .hdr = { VHU_GET_FEATURES, 0, 0 } }, r;

	cr_assert_eq(call_with(&f, &m, &r, false), -EPROTO);
}

Test(vhu, call_reply_of_the_wrong_size_is_eproto)
{
	struct fake f = { .request = VHU_GET_VRING_BASE, .flags = VHU_VERSION | VHU_F_REPLY, .size = 8 + 4 };
	struct vhu_msg m = { .hdr = { VHU_GET_VRING_BASE, 0, 8 } }, r;

	cr_assert_eq(call_with(&f, &m, &r, false), -EPROTO);
}

Test(vhu, call_get_config_reply_of_another_size_is_eproto)
{
	struct fake f = { .request = VHU_GET_CONFIG,
			  .flags = VHU_VERSION | VHU_F_REPLY,
			  .size = VHU_CONFIG_HDR_SIZE + 4,
			  .payload.config.size = 4 };
	struct vhu_msg m = { .hdr = { VHU_GET_CONFIG, 0, VHU_CONFIG_HDR_SIZE + 8 },
			     .payload.config.size = 8 },
		       r;

	cr_assert_eq(call_with(&f, &m, &r, false), -EPROTO);
}

Test(vhu, call_reply_ack_zero_is_success_and_asks_for_it)
{
	struct fake f = { .request = VHU_SET_FEATURES, .flags = VHU_VERSION | VHU_F_REPLY, .size = 8 };
	struct vhu_msg m = { .hdr = { VHU_SET_FEATURES, 0, 8 }, .payload.u64 = 1 };

	cr_assert_eq(call_with(&f, &m, NULL, true), 0);
	cr_assert_eq(f.seen.hdr.flags & VHU_F_NEED_REPLY, VHU_F_NEED_REPLY);
}

Test(vhu, call_reply_ack_nonzero_is_eio)
{
	struct fake f = {
		.request = VHU_SET_VRING_NUM, .flags = VHU_VERSION | VHU_F_REPLY, .size = 8, .payload.u64 = 1
	};
	struct vhu_msg m = { .hdr = { VHU_SET_VRING_NUM, 0, 8 }, .payload.state = { 0, 256 } };

	cr_assert_eq(call_with(&f, &m, NULL, true), -EIO);
}

Test(vhu, call_without_reply_ack_does_not_wait)
{
	struct fake f = { .silent = true };
	struct vhu_msg m = { .hdr = { VHU_SET_OWNER, VHU_F_NEED_REPLY, 0 } };

	cr_assert_eq(call_with(&f, &m, NULL, false), 0);
	cr_assert_eq(f.seen.hdr.flags & VHU_F_NEED_REPLY, 0);
}

Test(vhu, call_times_out_on_a_silent_backend)
{
	struct fake f = { .silent = true };
	struct vhu_msg m = { .hdr = { VHU_GET_FEATURES, 0, 0 } }, r;

	cr_assert_eq(vhu_set_timeout(sv[0], 100), 0);
	cr_assert_eq(call_with(&f, &m, &r, false), -ETIMEDOUT);
}

Test(vhu, call_refuses_get_inflight_fd)
{
	struct vhu_msg m = { .hdr = { VHU_GET_INFLIGHT_FD, 0, sizeof(struct vhu_inflight) } }, r;

	cr_assert_eq(vhu_call(sv[0], &m, NULL, 0, &r, false), -EINVAL);
}

static int call_fd_with(struct fake *f, struct vhu_msg *m, struct vhu_msg *reply, int *fd)
{
	return call_with_fd(f, m, reply, false, fd);
}

Test(vhu, call_fd_get_inflight_returns_the_region_and_its_fd)
{
	struct fake f = { .request = VHU_GET_INFLIGHT_FD,
			  .flags = VHU_VERSION | VHU_F_REPLY,
			  .size = sizeof(struct vhu_inflight),
			  .payload.inflight = { 2 * PAGE, 0, 2, 256 },
			  .fd = new_memfd(2 * PAGE) };
	struct vhu_msg m = { .hdr = { VHU_GET_INFLIGHT_FD, 0, sizeof(struct vhu_inflight) },
			     .payload.inflight = { 0, 0, 2, 256 } },
		       r;
	struct stat st;
	int fd;

	cr_assert_eq(call_fd_with(&f, &m, &r, &fd), 0);
	cr_assert_geq(fd, 0);
	cr_assert_neq(fd, f.fd, "a descriptor of kvmini's own");
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 2 * PAGE);
	cr_assert_eq(r.payload.inflight.mmap_size, 2 * PAGE);
	cr_assert_eq(f.seen.hdr.flags & VHU_F_NEED_REPLY, 0, "it has its own reply: no NEED_REPLY");
	close(fd);
	close(f.fd);
}

Test(vhu, call_fd_reply_without_its_fd_is_eio)
{
	struct fake f = { .request = VHU_GET_INFLIGHT_FD,
			  .flags = VHU_VERSION | VHU_F_REPLY,
			  .size = sizeof(struct vhu_inflight),
			  .fd = -1 };
	struct vhu_msg m = { .hdr = { VHU_GET_INFLIGHT_FD, 0, sizeof(struct vhu_inflight) } }, r;
	int fd;

	cr_assert_eq(call_fd_with(&f, &m, &r, &fd), -EIO, "the back end's refusal: no region");
	cr_assert_eq(fd, -1);
}

Test(vhu, call_fd_reply_with_two_fds_is_eproto_and_leaves_none_open)
{
	struct vhu_msg m = { .hdr = { VHU_GET_INFLIGHT_FD, 0, sizeof(struct vhu_inflight) } }, r;
	struct vhu_inflight in = { PAGE, 0, 1, 8 };
	int two[2] = { new_memfd(PAGE), new_eventfd() }, fd;
	uint32_t hdr[3] = { VHU_GET_INFLIGHT_FD, VHU_VERSION | VHU_F_REPLY, sizeof(in) };

	/* The answer waits in the socket before the request goes: the call reads it at once. */
	raw_send(sv[1], hdr[0], hdr[1], hdr[2], &in, sizeof(in), two, 2);
	cr_assert_eq(vhu_call_fd(sv[0], &m, NULL, 0, &r, &fd), -EPROTO);
	cr_assert_eq(fd, -1);
	close_all(two, 2);
}

Test(vhu, call_fd_refuses_a_request_whose_reply_carries_none)
{
	struct vhu_msg m = { .hdr = { VHU_GET_FEATURES, 0, 0 } }, r;
	int fd;

	cr_assert_eq(vhu_call_fd(sv[0], &m, NULL, 0, &r, &fd), -EINVAL);
	cr_assert_eq(fd, -1);
}

Test(vhu, reply_fds_carries_the_region_to_the_front_end)
{
	struct vhu_msg req = { .hdr = { VHU_GET_INFLIGHT_FD, 0, sizeof(struct vhu_inflight) } };
	struct vhu_msg rep = { .hdr = { .size = sizeof(struct vhu_inflight) },
			       .payload.inflight = { PAGE, 0, 1, 8 } },
		       r;
	int memfd = new_memfd(PAGE), fds[VHU_MAX_FDS];
	unsigned int nfds;

	cr_assert_eq(vhu_reply_fds(sv[0], &req, &rep, &memfd, 1), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(r.hdr.flags & VHU_F_REPLY, VHU_F_REPLY);
	cr_assert_eq(nfds, 1);
	cr_assert_eq(r.payload.inflight.mmap_size, PAGE);
	close_all(fds, nfds);
	close(memfd);
}

/* --- The memory table --- */

/* Two memfd regions: 4 pages at gpa 0 (va 0x7f0000000000), 2 pages at 1 MiB from offset 2 pages of the second. */
#define VA0 0x7f0000000000ULL
#define VA1 0x7f0000100000ULL

static struct vhu_memory two_regions(void)
{
	struct vhu_memory t = { .nregions = 2 };

	t.regions[0] = (struct vhu_mem_region_desc){ 0, 4 * PAGE, VA0, 0 };
	t.regions[1] = (struct vhu_mem_region_desc){ MIB, 2 * PAGE, VA1, 2 * PAGE };
	return t;
}

static void map_two(struct vhu_mem *m, int *backing)
{
	struct vhu_memory t = two_regions();
	int fds[2];
	const char *why = NULL;
	int ret;

	backing[0] = new_memfd(4 * PAGE);
	backing[1] = new_memfd(4 * PAGE);
	fds[0] = dup(backing[0]);
	fds[1] = dup(backing[1]);
	ret = vhu_mem_map(m, &t, fds, 2, &why);
	cr_assert_eq(ret, 0, "vhu_mem_map: %d (%s)", ret, why ? why : "");
}

Test(vhu_mem, map_shares_the_pages_with_the_front_end)
{
	struct vhu_mem m;
	int backing[2];
	uint8_t *p, *front;

	map_two(&m, backing);
	cr_assert_eq(m.nr_regions, 2);
	p = vhu_mem_gpa_ptr(&m, MIB + 5, 1);
	cr_assert_not_null(p);
	*p = 0x5a;
	front = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, backing[1], 0);
	cr_assert_neq(front, MAP_FAILED);
	cr_assert_eq(front[2 * PAGE + 5], 0x5a, "region 1 starts at its mmap offset");
	munmap(front, 4 * PAGE);
	vhu_mem_unmap(&m);
	cr_assert_eq(m.nr_regions, 0);
	close_all(backing, 2);
}

Test(vhu_mem, map_closes_the_fds)
{
	struct vhu_mem m;
	int backing[2];
	unsigned int before = count_fds();

	map_two(&m, backing);
	cr_assert_eq(count_fds(), before + 2, "only the two backing fds stay open");
	vhu_mem_unmap(&m);
	close_all(backing, 2);
}

Test(vhu_mem, va_to_gpa_edges)
{
	struct vhu_mem m;
	int backing[2];
	uint64_t gpa = 0;

	map_two(&m, backing);
	cr_assert_eq(vhu_mem_va_to_gpa(&m, VA0, 4 * PAGE, &gpa), 0);
	cr_assert_eq(gpa, 0);
	cr_assert_eq(vhu_mem_va_to_gpa(&m, VA1 + 2 * PAGE - 1, 1, &gpa), 0);
	cr_assert_eq(gpa, MIB + 2 * PAGE - 1);
	cr_assert_eq(vhu_mem_va_to_gpa(&m, VA1 + 2 * PAGE - 1, 0, &gpa), 0, "len 0 checks va alone");
	cr_assert_eq(vhu_mem_va_to_gpa(&m, VA1 + 2 * PAGE - 1, 2, &gpa), -EFAULT, "one byte past the end");
	cr_assert_eq(vhu_mem_va_to_gpa(&m, VA1 + 2 * PAGE, 1, &gpa), -EFAULT);
	cr_assert_eq(vhu_mem_va_to_gpa(&m, VA0 - 1, 2, &gpa), -EFAULT);
	cr_assert_eq(vhu_mem_va_to_gpa(&m, VA0 + 1, UINT64_MAX, &gpa), -EFAULT, "a length that wraps");
	cr_assert_eq(vhu_mem_va_to_gpa(&m, UINT64_MAX, 1, &gpa), -EFAULT);
	vhu_mem_unmap(&m);
	close_all(backing, 2);
}

Test(vhu_mem, gpa_ptr_edges)
{
	struct vhu_mem m;
	int backing[2];

	map_two(&m, backing);
	cr_assert_eq(vhu_mem_gpa_ptr(&m, 0, 4 * PAGE), m.regions[0].host);
	cr_assert_eq(vhu_mem_gpa_ptr(&m, 4 * PAGE - 1, 1), m.regions[0].host + 4 * PAGE - 1);
	cr_assert_null(vhu_mem_gpa_ptr(&m, 4 * PAGE - 1, 2));
	cr_assert_null(vhu_mem_gpa_ptr(&m, 4 * PAGE, 0), "len 0 still needs gpa inside");
	cr_assert_null(vhu_mem_gpa_ptr(&m, MIB - 1, 2), "a range never spans a gap");
	cr_assert_null(vhu_mem_gpa_ptr(&m, MIB + 1, UINT64_MAX));
	cr_assert_null(vhu_mem_gpa_ptr(&m, UINT64_MAX, 1));
	vhu_mem_unmap(&m);
	close_all(backing, 2);
}

/* A table vhu_mem_map() must refuse; its fds (fresh memfds) must be closed all the same. */
static void expect_map_rejected(struct vhu_memory *t, uint64_t file_size)
{
	struct vhu_mem m;
	int fds[VHU_MAX_REGIONS];
	unsigned int n = t->nregions <= VHU_MAX_REGIONS ? t->nregions : VHU_MAX_REGIONS;
	unsigned int before = count_fds();
	const char *why = NULL;

	for (unsigned int i = 0; i < n; i++)
		fds[i] = new_memfd(file_size);
	cr_assert_eq(vhu_mem_map(&m, t, fds, n, &why), -EINVAL);
	cr_assert_not_null(why);
	cr_assert_eq(m.nr_regions, 0);
	cr_assert_eq(count_fds(), before, "fds closed (%s)", why);
}

Test(vhu_mem, overlapping_gpa_is_rejected)
{
	struct vhu_memory t = two_regions();

	t.regions[1].guest_phys_addr = 4 * PAGE - 1;
	expect_map_rejected(&t, 4 * PAGE);
}

Test(vhu_mem, same_gpa_start_is_rejected)
{
	struct vhu_memory t = two_regions();

	t.regions[1].guest_phys_addr = 0;
	expect_map_rejected(&t, 4 * PAGE);
}

Test(vhu_mem, overlapping_user_addresses_are_rejected)
{
	struct vhu_memory t = two_regions();

	t.regions[1].userspace_addr = VA0 + PAGE;
	expect_map_rejected(&t, 4 * PAGE);
}

Test(vhu_mem, adjacent_regions_are_accepted)
{
	struct vhu_memory t = two_regions();
	struct vhu_mem m;
	int fds[2] = { new_memfd(4 * PAGE), new_memfd(4 * PAGE) };
	const char *why = NULL;

	t.regions[1].guest_phys_addr = 4 * PAGE;
	t.regions[1].userspace_addr = VA0 + 4 * PAGE;
	cr_assert_eq(vhu_mem_map(&m, &t, fds, 2, &why), 0, "%s", why ? why : "");
	cr_assert_null(vhu_mem_gpa_ptr(&m, 4 * PAGE - 1, 2), "adjacent, still two regions");
	vhu_mem_unmap(&m);
}

Test(vhu_mem, gpa_overflow_is_rejected)
{
	struct vhu_memory t = two_regions();

	t.regions[1].guest_phys_addr = UINT64_MAX - PAGE;
	expect_map_rejected(&t, 4 * PAGE);
}

Test(vhu_mem, user_address_overflow_is_rejected)
{
	struct vhu_memory t = two_regions();

	t.regions[1].userspace_addr = UINT64_MAX - PAGE;
	expect_map_rejected(&t, 4 * PAGE);
}

Test(vhu_mem, offset_overflow_is_rejected)
{
	struct vhu_memory t = two_regions();

	t.regions[1].mmap_offset = UINT64_MAX & ~(uint64_t)(PAGE - 1);
	expect_map_rejected(&t, 4 * PAGE);
}

Test(vhu_mem, unaligned_offset_is_rejected)
{
	struct vhu_memory t = two_regions();

	t.regions[1].mmap_offset = 2 * PAGE + 8;
	expect_map_rejected(&t, 4 * PAGE);
}

Test(vhu_mem, size_zero_is_rejected)
{
	struct vhu_memory t = two_regions();

	t.regions[0].memory_size = 0;
	expect_map_rejected(&t, 4 * PAGE);
}

Test(vhu_mem, region_beyond_its_file_is_rejected)
{
	struct vhu_memory t = two_regions();

	expect_map_rejected(&t, 3 * PAGE);
}

Test(vhu_mem, nine_regions_are_rejected)
{
	struct vhu_memory t = { .nregions = 9 };

	expect_map_rejected(&t, PAGE);
}

Test(vhu_mem, eventfd_as_memory_is_rejected_and_closed)
{
	struct vhu_memory t = { .nregions = 1, .regions = { { 0, PAGE, VA0, 0 } } };
	struct vhu_mem m;
	int fd = new_eventfd();
	unsigned int before = count_fds();
	const char *why = NULL;

	cr_assert_eq(vhu_mem_map(&m, &t, &fd, 1, &why), -EINVAL);
	cr_assert_eq(count_fds(), before - 1);
}

Test(vhu_mem, fd_count_not_matching_is_rejected_and_closed)
{
	struct vhu_memory t = two_regions();
	struct vhu_mem m;
	int fd = new_memfd(4 * PAGE);
	unsigned int before = count_fds();
	const char *why = NULL;

	cr_assert_eq(vhu_mem_map(&m, &t, &fd, 1, &why), -EINVAL);
	cr_assert_eq(count_fds(), before - 1);
}

/* The front end's guest RAM, described, sent, mapped by a back end: both see the same bytes. */
Test(vhu, guest_ram_table_maps_in_the_back_end)
{
	struct gmem g;
	struct vhu_msg m = { .hdr = { VHU_SET_MEM_TABLE, 0, 0 } }, r;
	struct vhu_mem mem;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;
	const char *why = NULL;
	uint64_t gpa = 0;

	cr_assert_eq(gmem_create(&g, 0, 16 * MIB, 8 * MIB), 0);
	cr_assert_eq(vhu_mem_table(&g, &m.payload.memory, fds, &nfds), 0);
	cr_assert_eq(nfds, 2);
	m.hdr.size = 8 + nfds * sizeof(struct vhu_mem_region_desc);
	cr_assert_eq(vhu_send(sv[0], &m, fds, nfds), 0);
	recv_ok(&r, fds, &nfds);
	cr_assert_eq(vhu_mem_map(&mem, &r.payload.memory, fds, nfds, &why), 0, "%s", why ? why : "");
	cr_assert_eq(gmem_write(&g, 0x100000004ULL, "ring", 4), 0);
	cr_assert_eq(memcmp(vhu_mem_gpa_ptr(&mem, 0x100000004ULL, 4), "ring", 4), 0);
	/* A ring address arrives as kvmini's virtual address; the back end finds the guest address. */
	cr_assert_eq(vhu_mem_va_to_gpa(&mem, (uint64_t)(uintptr_t)gmem_ptr(&g, 0x7000, 16), 16, &gpa), 0);
	cr_assert_eq(gpa, 0x7000);
	vhu_mem_unmap(&mem);
	gmem_destroy(&g);
}

Test(vhu, guest_ram_table_without_fd_is_einval)
{
	struct gmem g = { .fd = -1 };
	struct vhu_memory t;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;

	cr_assert_eq(vhu_mem_table(&g, &t, fds, &nfds), -EINVAL);
}
