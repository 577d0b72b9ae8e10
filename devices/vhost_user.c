/* vhost_user.c: the vhost-user protocol: messages and their fds checked on arrival, and the memory table. */
#include "vhost_user.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/log.h"

/* The wire format has no padding of its own: these sizes are the specification's. */
static_assert(sizeof(struct vhu_hdr) == 12, "vhost-user header");
static_assert(sizeof(struct vhu_vring_state) == 8, "vring state");
static_assert(sizeof(struct vhu_vring_addr) == 40, "vring address");
static_assert(sizeof(struct vhu_mem_region_desc) == 32, "memory region");
static_assert(sizeof(struct vhu_memory) == 8 + 32 * VHU_MAX_REGIONS, "memory table");
static_assert(sizeof(struct vhu_memory_single) == 40, "single memory region");
static_assert(sizeof(struct vhu_log) == 16, "log description");
static_assert(sizeof(struct vhu_config) == 12 + VHU_MAX_CONFIG_SIZE, "device config");
static_assert(sizeof(struct vhu_inflight) == 24, "inflight description");
static_assert(sizeof(union vhu_payload) == 272, "payload");

/* What a message's payload must be. */
enum kind {
	K_ANY,	    /* not known here: whatever fits, for the caller to refuse */
	K_NONE,	    /* empty */
	K_U64,	    /* a u64 */
	K_STATE,    /* struct vhu_vring_state */
	K_ADDR,	    /* struct vhu_vring_addr */
	K_MEMORY,   /* struct vhu_memory, as many regions as it says or all 8 */
	K_REGION,   /* struct vhu_memory_single */
	K_LOG,	    /* struct vhu_log */
	K_CONFIG,   /* struct vhu_config, as many bytes of config space as it says */
	K_INFLIGHT, /* struct vhu_inflight */
};

/* How many fds must come with it. */
enum fds_rule {
	F_NONE,
	F_ONE,
	F_PER_REGION, /* SET_MEM_TABLE: one for each region */
	F_VRING,      /* SET_VRING_KICK/CALL/ERR: one unless the u64 has VHU_VRING_NOFD */
	F_STRAY,      /* REM_MEM_REG: none, but the specification lets a back end take one and close it */
	F_UP_TO_ONE,  /* GET_INFLIGHT_FD's reply: its region's fd, or none when the back end refuses */
};

/* A request as the front end sends it and, where the request has one, the back end's reply. */
struct req_info {
	const char *name;
	unsigned char kind;
	unsigned char fds;
	unsigned char reply; /* K_NONE: no reply of its own, so a reply is a REPLY_ACK u64 */
	unsigned char reply_fds;
};

static const struct req_info requests[VHU_REQUEST_MAX] = {
	[VHU_GET_FEATURES] = { "GET_FEATURES", K_NONE, F_NONE, K_U64, F_NONE },
	[VHU_SET_FEATURES] = { "SET_FEATURES", K_U64, F_NONE, K_NONE, F_NONE },
	[VHU_SET_OWNER] = { "SET_OWNER", K_NONE, F_NONE, K_NONE, F_NONE },
	[VHU_RESET_OWNER] = { "RESET_OWNER", K_NONE, F_NONE, K_NONE, F_NONE },
	[VHU_SET_MEM_TABLE] = { "SET_MEM_TABLE", K_MEMORY, F_PER_REGION, K_NONE, F_NONE },
	/* The log's fd comes with it (LOG_SHMFD; QEMU sends the log description, not the bare u64). */
	[VHU_SET_LOG_BASE] = { "SET_LOG_BASE", K_LOG, F_ONE, K_NONE, F_NONE },
	[VHU_SET_LOG_FD] = { "SET_LOG_FD", K_NONE, F_ONE, K_NONE, F_NONE },
	[VHU_SET_VRING_NUM] = { "SET_VRING_NUM", K_STATE, F_NONE, K_NONE, F_NONE },
	[VHU_SET_VRING_ADDR] = { "SET_VRING_ADDR", K_ADDR, F_NONE, K_NONE, F_NONE },
	[VHU_SET_VRING_BASE] = { "SET_VRING_BASE", K_STATE, F_NONE, K_NONE, F_NONE },
	[VHU_GET_VRING_BASE] = { "GET_VRING_BASE", K_STATE, F_NONE, K_STATE, F_NONE },
	[VHU_SET_VRING_KICK] = { "SET_VRING_KICK", K_U64, F_VRING, K_NONE, F_NONE },
	[VHU_SET_VRING_CALL] = { "SET_VRING_CALL", K_U64, F_VRING, K_NONE, F_NONE },
	[VHU_SET_VRING_ERR] = { "SET_VRING_ERR", K_U64, F_VRING, K_NONE, F_NONE },
	[VHU_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES", K_NONE, F_NONE, K_U64, F_NONE },
	[VHU_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES", K_U64, F_NONE, K_NONE, F_NONE },
	[VHU_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", K_NONE, F_NONE, K_U64, F_NONE },
	[VHU_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", K_STATE, F_NONE, K_NONE, F_NONE },
	[VHU_SEND_RARP] = { "SEND_RARP", K_U64, F_NONE, K_NONE, F_NONE },
	[VHU_NET_SET_MTU] = { "NET_SET_MTU", K_U64, F_NONE, K_NONE, F_NONE },
	[VHU_SET_BACKEND_REQ_FD] = { "SET_BACKEND_REQ_FD", K_NONE, F_ONE, K_NONE, F_NONE },
	[VHU_IOTLB_MSG] = { "IOTLB_MSG", K_ANY, F_NONE, K_NONE, F_NONE },
	[VHU_SET_VRING_ENDIAN] = { "SET_VRING_ENDIAN", K_STATE, F_NONE, K_NONE, F_NONE },
	[VHU_GET_CONFIG] = { "GET_CONFIG", K_CONFIG, F_NONE, K_CONFIG, F_NONE },
	[VHU_SET_CONFIG] = { "SET_CONFIG", K_CONFIG, F_NONE, K_NONE, F_NONE },
	[VHU_CREATE_CRYPTO_SESSION] = { "CREATE_CRYPTO_SESSION", K_ANY, F_NONE, K_NONE, F_NONE },
	[VHU_CLOSE_CRYPTO_SESSION] = { "CLOSE_CRYPTO_SESSION", K_U64, F_NONE, K_NONE, F_NONE },
	[VHU_POSTCOPY_ADVISE] = { "POSTCOPY_ADVISE", K_ANY, F_NONE, K_NONE, F_NONE },
	[VHU_POSTCOPY_LISTEN] = { "POSTCOPY_LISTEN", K_ANY, F_NONE, K_NONE, F_NONE },
	[VHU_POSTCOPY_END] = { "POSTCOPY_END", K_ANY, F_NONE, K_NONE, F_NONE },
	/* A back end that cannot make the region answers with mmap_size 0 and no fd (libvhost-user). */
	[VHU_GET_INFLIGHT_FD] = { "GET_INFLIGHT_FD", K_INFLIGHT, F_NONE, K_INFLIGHT, F_UP_TO_ONE },
	[VHU_SET_INFLIGHT_FD] = { "SET_INFLIGHT_FD", K_INFLIGHT, F_ONE, K_NONE, F_NONE },
	[VHU_GPU_SET_SOCKET] = { "GPU_SET_SOCKET", K_NONE, F_ONE, K_NONE, F_NONE },
	[VHU_RESET_DEVICE] = { "RESET_DEVICE", K_NONE, F_NONE, K_NONE, F_NONE },
	[VHU_VRING_KICK] = { "VRING_KICK", K_STATE, F_NONE, K_NONE, F_NONE },
	[VHU_GET_MAX_MEM_SLOTS] = { "GET_MAX_MEM_SLOTS", K_NONE, F_NONE, K_U64, F_NONE },
	[VHU_ADD_MEM_REG] = { "ADD_MEM_REG", K_REGION, F_ONE, K_NONE, F_NONE },
	[VHU_REM_MEM_REG] = { "REM_MEM_REG", K_REGION, F_STRAY, K_NONE, F_NONE },
	[VHU_SET_STATUS] = { "SET_STATUS", K_U64, F_NONE, K_NONE, F_NONE },
	[VHU_GET_STATUS] = { "GET_STATUS", K_NONE, F_NONE, K_U64, F_NONE },
	[VHU_GET_SHARED_OBJECT] = { "GET_SHARED_OBJECT", K_ANY, F_NONE, K_NONE, F_NONE },
	[VHU_SET_DEVICE_STATE_FD] = { "SET_DEVICE_STATE_FD", K_ANY, F_NONE, K_NONE, F_NONE },
	[VHU_CHECK_DEVICE_STATE] = { "CHECK_DEVICE_STATE", K_ANY, F_NONE, K_NONE, F_NONE },
};

static const struct req_info unknown = { "UNKNOWN", K_ANY, F_NONE, K_NONE, F_NONE };

static const struct req_info *info(uint32_t req)
{
	if (req >= VHU_REQUEST_MAX || !requests[req].name)
		return &unknown;
	return &requests[req];
}

const char *vhu_request_name(uint32_t req)
{
	return info(req)->name;
}

static void close_fds(int *fds, unsigned int *nfds)
{
	for (unsigned int i = 0; i < *nfds; i++)
		close(fds[i]);
	*nfds = 0;
}

bool vhu_take_fds(const struct cmsghdr *c, int *fds, unsigned int *nfds, unsigned int max)
{
	size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	const unsigned char *data = CMSG_DATA(c);
	bool all = true;

	for (size_t i = 0; i < n; i++) {
		int fd;

		memcpy(&fd, data + i * sizeof(int), sizeof(fd));
		if (*nfds < max) {
			fds[(*nfds)++] = fd;
		} else {
			close(fd);
			all = false;
		}
	}
	return all;
}

/*
 * Read exactly (len) bytes into (buf), gathering any fds that come with them. The fds may ride on
 * any part of the message, so every read asks for them. Trouble with fds is noted in (*fd_err) and the
 * read goes on, so that the stream stays in step. Returns 0, 1 on EOF before any byte, -EPROTO on EOF
 * after some, or -errno.
 */
static int read_full(int sock, void *buf, size_t len, int *fds, unsigned int *nfds, const char **fd_err)
{
	size_t done = 0;

	while (done < len) {
		union {
			char buf[CMSG_SPACE(VHU_MAX_FDS * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = (char *)buf + done, .iov_len = len - done };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
			    !vhu_take_fds(c, fds, nfds, VHU_MAX_FDS))
				*fd_err = "more file descriptors than a message may carry";
		/* The kernel closed what did not fit: the message is not as it was sent. */
		if (mh.msg_flags & MSG_CTRUNC)
			*fd_err =
				"more file descriptors than a message may carry (control message truncated)";
		if (n == 0)
			return done == 0 ? 1 : -EPROTO;
		done += (size_t)n;
	}
	return 0;
}

/* The payload a message of this kind carries, before it is read: exact, or bounds for the variable ones. */
static const char *check_size(enum kind k, uint32_t size)
{
	static const uint32_t fixed[] = {
		[K_NONE] = 0,
		[K_U64] = sizeof(uint64_t),
		[K_STATE] = sizeof(struct vhu_vring_state),
		[K_ADDR] = sizeof(struct vhu_vring_addr),
		[K_REGION] = sizeof(struct vhu_memory_single),
		[K_LOG] = sizeof(struct vhu_log),
		[K_INFLIGHT] = sizeof(struct vhu_inflight),
	};

	switch (k) {
	case K_ANY:
		return size > sizeof(union vhu_payload) ? "payload larger than any message" : NULL;
	case K_MEMORY:
		return size < offsetof(struct vhu_memory, regions) || size > sizeof(struct vhu_memory)
			       ? "memory table size out of range"
			       : NULL;
	case K_CONFIG:
		return size < VHU_CONFIG_HDR_SIZE || size > sizeof(struct vhu_config)
			       ? "config size out of range"
			       : NULL;
	default:
		return size != fixed[k] ? "payload size wrong for the message" : NULL;
	}
}

/* What only the payload itself can tell: the variable sizes. */
static const char *check_payload(enum kind k, const struct vhu_msg *m)
{
	if (k == K_MEMORY) {
		uint32_t n = m->payload.memory.nregions;

		if (n > VHU_MAX_REGIONS)
			return "memory table with more than 8 regions";
		if (m->hdr.size !=
			    offsetof(struct vhu_memory, regions) + n * sizeof(struct vhu_mem_region_desc) &&
		    m->hdr.size != sizeof(struct vhu_memory))
			return "memory table size does not match its region count";
	}
	if (k == K_CONFIG) {
		if (m->payload.config.size > VHU_MAX_CONFIG_SIZE)
			return "config access larger than 256 bytes";
		if (m->hdr.size != VHU_CONFIG_HDR_SIZE + m->payload.config.size)
			return "config message size does not match its access size";
	}
	return NULL;
}

/* The fds a message must carry, against those that came (a stray one on REM_MEM_REG is closed here). */
static const char *check_fds(enum fds_rule rule, const struct vhu_msg *m, int *fds, unsigned int *nfds)
{
	switch (rule) {
	case F_NONE:
		return *nfds ? "file descriptors on a request that takes none" : NULL;
	case F_ONE:
		return *nfds != 1 ? "request takes exactly one file descriptor" : NULL;
	case F_PER_REGION:
		return *nfds != m->payload.memory.nregions ? "memory table without one fd per region" : NULL;
	case F_VRING:
		if (m->payload.u64 & ~(VHU_VRING_INDEX_MASK | VHU_VRING_NOFD))
			return "vring fd request with bits beyond the index and the no-fd flag";
		if (m->payload.u64 & VHU_VRING_NOFD)
			return *nfds ? "vring fd request says no fd but carries one" : NULL;
		return *nfds != 1 ? "vring fd request without its fd" : NULL;
	case F_UP_TO_ONE:
		return *nfds > 1 ? "more than one file descriptor on a reply that takes one" : NULL;
	case F_STRAY:
		if (*nfds > 1)
			return "more than one file descriptor on REM_MEM_REG";
		close_fds(fds, nfds);
		return NULL;
	}
	return "internal: unknown fd rule";
}

/* The front end's check of an answer to (req), before its payload is read. */
static const char *check_reply_hdr(const struct vhu_hdr *req, const struct vhu_hdr *rep)
{
	if (!(rep->flags & VHU_F_REPLY))
		return "answer without the REPLY flag";
	if (rep->request != req->request)
		return "reply to another request";
	return NULL;
}

static const char *check_hdr(const struct vhu_hdr *h)
{
	if ((h->flags & VHU_VERSION_MASK) != VHU_VERSION)
		return "unsupported protocol version";
	if (h->flags & ~(VHU_VERSION_MASK | VHU_F_REPLY | VHU_F_NEED_REPLY))
		return "reserved header flags set";
	return NULL;
}

/*
 * Read one message and its fds; check the header, then the size, then the payload and the fds. With
 * (req), the message must be a reply to it: that is checked before its payload is read.
 */
static int recv_checked(int sock, struct vhu_msg *m, int *fds, unsigned int *nfds, const char **why,
			const struct vhu_hdr *req)
{
	const char *fd_err = NULL, *err;
	const struct req_info *ri;
	bool reply;
	enum kind k;
	int ret;

	ret = read_full(sock, &m->hdr, sizeof(m->hdr), fds, nfds, &fd_err);
	if (ret == 1)
		return -ECONNRESET;
	if (ret == -EPROTO)
		*why = "the peer closed the connection inside a message header";
	if (ret < 0)
		return ret;
	if ((err = check_hdr(&m->hdr)) || (req && (err = check_reply_hdr(req, &m->hdr))))
		goto bad;
	ri = info(m->hdr.request);
	reply = m->hdr.flags & VHU_F_REPLY;
	k = reply ? (ri->reply == K_NONE ? K_U64 : ri->reply) : ri->kind;
	if ((err = check_size(k, m->hdr.size)))
		goto bad;
	ret = read_full(sock, &m->payload, m->hdr.size, fds, nfds, &fd_err);
	if (ret == 1 || ret == -EPROTO) {
		*why = "the peer closed the connection inside a message payload";
		return -EPROTO;
	}
	if (ret < 0)
		return ret;
	if ((err = fd_err) || (err = check_payload(k, m)) ||
	    (err = check_fds(reply ? ri->reply_fds : ri->fds, m, fds, nfds)))
		goto bad;
	return 0;
bad:
	*why = err;
	return -EPROTO;
}

int vhu_recv(int sock, struct vhu_msg *m, int *fds, unsigned int *nfds, const char **why)
{
	int ret;

	*nfds = 0;
	*why = NULL;
	ret = recv_checked(sock, m, fds, nfds, why, NULL);
	if (ret < 0)
		close_fds(fds, nfds);
	return ret;
}

int vhu_attach_fds(struct msghdr *mh, void *buf, size_t len, const int *fds, unsigned int nfds)
{
	struct cmsghdr *c;

	if (CMSG_SPACE(nfds * sizeof(int)) > len)
		return -EINVAL;
	if (!nfds)
		return 0;
	memset(buf, 0, len);
	mh->msg_control = buf;
	mh->msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	return 0;
}

int vhu_send(int sock, struct vhu_msg *m, const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(VHU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = { { &m->hdr, sizeof(m->hdr) }, { &m->payload, m->hdr.size } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t left = sizeof(m->hdr) + m->hdr.size;

	if (m->hdr.size > sizeof(m->payload) || vhu_attach_fds(&mh, ctl.buf, sizeof(ctl.buf), fds, nfds) < 0)
		return -EINVAL;
	m->hdr.flags = (m->hdr.flags & ~VHU_VERSION_MASK) | VHU_VERSION;
	while (left) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		left -= (size_t)n;
		/* A short write: the rest goes without the fds, which went with the first byte. */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		while (n > 0 && mh.msg_iovlen) {
			size_t step = (size_t)n < mh.msg_iov->iov_len ? (size_t)n : mh.msg_iov->iov_len;

			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + step;
			mh.msg_iov->iov_len -= step;
			n -= (ssize_t)step;
			if (!mh.msg_iov->iov_len) {
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
	}
	return 0;
}

int vhu_reply(int sock, const struct vhu_msg *req, struct vhu_msg *rep)
{
	return vhu_reply_fds(sock, req, rep, NULL, 0);
}

int vhu_reply_fds(int sock, const struct vhu_msg *req, struct vhu_msg *rep, const int *fds, unsigned int nfds)
{
	rep->hdr.request = req->hdr.request;
	rep->hdr.flags = VHU_VERSION | VHU_F_REPLY;
	return vhu_send(sock, rep, fds, nfds);
}

int vhu_set_timeout(int sock, unsigned int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ? -errno : 0;
}

/* vhu_call and vhu_call_fd: the request, and its reply with the fd it may carry into (*reply_fd). */
static int call(int sock, struct vhu_msg *m, const int *fds, unsigned int nfds, struct vhu_msg *reply,
		bool reply_ack, int *reply_fd)
{
	const struct req_info *ri = info(m->hdr.request);
	bool has_reply = ri->reply != K_NONE;
	struct vhu_msg local;
	int rfds[VHU_MAX_FDS];
	unsigned int nrfds;
	const char *why;
	int ret;

	m->hdr.flags &= ~(VHU_F_REPLY | VHU_F_NEED_REPLY);
	if (!has_reply && reply_ack)
		m->hdr.flags |= VHU_F_NEED_REPLY;
	ret = vhu_send(sock, m, fds, nfds);
	if (ret < 0 || (!has_reply && !reply_ack))
		return ret;
	if (!reply)
		reply = &local;
	nrfds = 0;
	why = NULL;
	ret = recv_checked(sock, reply, rfds, &nrfds, &why, &m->hdr);
	/* GET_CONFIG's answer is the config space asked for, or nothing useful. */
	if (ret == 0 && m->hdr.request == VHU_GET_CONFIG && reply->hdr.size != m->hdr.size) {
		why = "config reply of another size than asked";
		ret = -EPROTO;
	}
	if (ret < 0)
		close_fds(rfds, &nrfds);
	if (ret == -EPROTO)
		log_warn("vhost-user: reply to %s: %s", ri->name, why);
	if (ret < 0)
		return ret;
	if (reply_fd)
		*reply_fd = nrfds ? rfds[0] : -1;
	return !has_reply && reply->payload.u64 ? -EIO : 0;
}

int vhu_call(int sock, struct vhu_msg *m, const int *fds, unsigned int nfds, struct vhu_msg *reply,
	     bool reply_ack)
{
	if (info(m->hdr.request)->reply_fds != F_NONE)
		return -EINVAL;
	return call(sock, m, fds, nfds, reply, reply_ack, NULL);
}

int vhu_call_fd(int sock, struct vhu_msg *m, const int *fds, unsigned int nfds, struct vhu_msg *reply,
		int *reply_fd)
{
	int ret;

	*reply_fd = -1;
	if (info(m->hdr.request)->reply_fds == F_NONE || !reply)
		return -EINVAL;
	ret = call(sock, m, fds, nfds, reply, false, reply_fd);
	if (ret == 0 && *reply_fd < 0)
		return -EIO;
	return ret;
}

/* Whether [a, a_last] and [b, b_last] share a byte (inclusive ends: a region may end at 2^64 - 1). */
static bool overlap(uint64_t a, uint64_t a_last, uint64_t b, uint64_t b_last)
{
	return a <= b_last && b <= a_last;
}

/* One region on its own: sizes, overflow, alignment. */
static const char *check_region(const struct vhu_mem_region_desc *r, uint64_t page)
{
	uint64_t last = r->memory_size - 1;

	if (!r->memory_size)
		return "memory region of size 0";
	if (r->guest_phys_addr > UINT64_MAX - last)
		return "memory region wraps guest-physical space";
	if (r->userspace_addr > UINT64_MAX - last)
		return "memory region wraps the front end's address space";
	/* A file offset is signed: offset + size must fit an off_t. */
	if (r->memory_size > (uint64_t)INT64_MAX || r->mmap_offset > (uint64_t)INT64_MAX - r->memory_size)
		return "memory region's offset and size overflow a file offset";
	if (r->mmap_offset % page)
		return "memory region's mmap offset is not page aligned";
	return NULL;
}

/* The whole table: each region, then every pair. */
static const char *check_table(const struct vhu_memory *t, uint64_t page)
{
	const char *err;

	if (t->nregions > VHU_MAX_REGIONS)
		return "memory table with more than 8 regions";
	for (uint32_t i = 0; i < t->nregions; i++) {
		const struct vhu_mem_region_desc *a = &t->regions[i];

		if ((err = check_region(a, page)))
			return err;
		for (uint32_t j = 0; j < i; j++) {
			const struct vhu_mem_region_desc *b = &t->regions[j];

			if (overlap(a->guest_phys_addr, a->guest_phys_addr + a->memory_size - 1,
				    b->guest_phys_addr, b->guest_phys_addr + b->memory_size - 1))
				return "memory regions overlap in guest-physical space";
			if (overlap(a->userspace_addr, a->userspace_addr + a->memory_size - 1,
				    b->userspace_addr, b->userspace_addr + b->memory_size - 1))
				return "memory regions overlap in the front end's address space";
		}
	}
	return NULL;
}

/* Map one checked region from (fd). */
static int map_region(struct vhu_mem_region *out, const struct vhu_mem_region_desc *r, int fd,
		      const char **why)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		*why = "memory region's fd is not a memory file";
		return -EINVAL;
	}
	/* Beyond the end of the file a mapping faults (SIGBUS) when touched. */
	if ((uint64_t)st.st_size < r->mmap_offset + r->memory_size) {
		*why = "memory region extends beyond the end of its file";
		return -EINVAL;
	}
	p = mmap(NULL, r->memory_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
		 (off_t)r->mmap_offset);
	if (p == MAP_FAILED)
		return -errno;
	*out = (struct vhu_mem_region){ .gpa = r->guest_phys_addr,
					.size = r->memory_size,
					.user_addr = r->userspace_addr,
					.mmap_offset = r->mmap_offset,
					.host = p,
					.map_len = r->memory_size };
	return 0;
}

int vhu_mem_map(struct vhu_mem *out, const struct vhu_memory *table, int *fds, unsigned int nfds,
		const char **why)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	int ret = -EINVAL;

	memset(out, 0, sizeof(*out));
	*why = check_table(table, page);
	if (!*why && nfds != table->nregions)
		*why = "memory table without one fd per region";
	if (*why)
		goto out;
	for (unsigned int i = 0; i < table->nregions; i++) {
		ret = map_region(&out->regions[i], &table->regions[i], fds[i], why);
		if (ret < 0) {
			vhu_mem_unmap(out);
			goto out;
		}
		out->nr_regions++;
	}
	ret = 0;
out:
	close_fds(fds, &nfds);
	return ret;
}

void vhu_mem_unmap(struct vhu_mem *m)
{
	for (unsigned int i = 0; i < m->nr_regions; i++)
		munmap(m->regions[i].host, m->regions[i].map_len);
	memset(m, 0, sizeof(*m));
}

int vhu_mem_va_to_gpa(const struct vhu_mem *m, uint64_t va, uint64_t len, uint64_t *gpa)
{
	for (unsigned int i = 0; i < m->nr_regions; i++) {
		const struct vhu_mem_region *r = &m->regions[i];
		uint64_t off;

		if (va < r->user_addr || va - r->user_addr >= r->size)
			continue;
		off = va - r->user_addr;
		/* off < size, so size - off is exact: no sum can wrap. */
		if (len > r->size - off)
			return -EFAULT;
		*gpa = r->gpa + off;
		return 0;
	}
	return -EFAULT;
}

_Static_assert(VHU_MAX_REGIONS <= GMEM_MAX_REGIONS, "guest RAM's accessor holds a whole memory table");

void vhu_mem_gmem(const struct vhu_mem *m, struct gmem *out)
{
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	for (unsigned int i = 0; i < m->nr_regions; i++) {
		const struct vhu_mem_region *r = &m->regions[i];

		out->regions[i] = (struct gmem_region){ .gpa = r->gpa, .size = r->size, .host = r->host };
		out->size += r->size;
	}
	out->nr_regions = m->nr_regions;
}

void *vhu_mem_gpa_ptr(const struct vhu_mem *m, uint64_t gpa, uint64_t len)
{
	struct gmem g;

	vhu_mem_gmem(m, &g);
	return gmem_ptr(&g, gpa, len);
}

int vhu_mem_table(const struct gmem *m, struct vhu_memory *table, int *fds, unsigned int *nfds)
{
	if (m->fd < 0 || m->nr_regions > VHU_MAX_REGIONS)
		return -EINVAL;
	memset(table, 0, sizeof(*table));
	for (unsigned int i = 0; i < m->nr_regions; i++) {
		const struct gmem_region *r = &m->regions[i];

		table->regions[i] =
			(struct vhu_mem_region_desc){ .guest_phys_addr = r->gpa,
						      .memory_size = r->size,
						      .userspace_addr = (uint64_t)(uintptr_t)r->host,
						      .mmap_offset = r->fd_offset };
		fds[i] = m->fd;
	}
	table->nregions = m->nr_regions;
	*nfds = m->nr_regions;
	return 0;
}
