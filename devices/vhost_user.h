/* vhost_user.h: the vhost-user protocol (QEMU docs/interop/vhost-user.rst), both front end and back end. */
#ifndef KVMINI_VHOST_USER_H
#define KVMINI_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/mem.h"

/*
 * The front end (kvmini) owns guest RAM and the virtqueues; a back end (a device process) maps that RAM
 * from the file descriptors sent with SET_MEM_TABLE and serves the queues. Everything here is in the
 * host's byte order, as the specification says. Messages travel on a SOCK_STREAM Unix socket; file
 * descriptors ride with them as SCM_RIGHTS.
 *
 * This layer covers the front end's channel (requests from the front end, replies from the back end).
 * The back end's own request channel (BACKEND_REQ) numbers its requests differently and is not handled.
 */

/* Front-end requests (the specification's "Front-end message types"). */
enum vhu_request {
	VHU_GET_FEATURES = 1,
	VHU_SET_FEATURES = 2,
	VHU_SET_OWNER = 3,
	VHU_RESET_OWNER = 4,
	VHU_SET_MEM_TABLE = 5,
	VHU_SET_LOG_BASE = 6,
	VHU_SET_LOG_FD = 7,
	VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10,
	VHU_GET_VRING_BASE = 11,
	VHU_SET_VRING_KICK = 12,
	VHU_SET_VRING_CALL = 13,
	VHU_SET_VRING_ERR = 14,
	VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16,
	VHU_GET_QUEUE_NUM = 17,
	VHU_SET_VRING_ENABLE = 18,
	VHU_SEND_RARP = 19,
	VHU_NET_SET_MTU = 20,
	VHU_SET_BACKEND_REQ_FD = 21,
	VHU_IOTLB_MSG = 22,
	VHU_SET_VRING_ENDIAN = 23,
	VHU_GET_CONFIG = 24,
	VHU_SET_CONFIG = 25,
	VHU_CREATE_CRYPTO_SESSION = 26,
	VHU_CLOSE_CRYPTO_SESSION = 27,
	VHU_POSTCOPY_ADVISE = 28,
	VHU_POSTCOPY_LISTEN = 29,
	VHU_POSTCOPY_END = 30,
	VHU_GET_INFLIGHT_FD = 31,
	VHU_SET_INFLIGHT_FD = 32,
	VHU_GPU_SET_SOCKET = 33,
	VHU_RESET_DEVICE = 34,
	VHU_VRING_KICK = 35,
	VHU_GET_MAX_MEM_SLOTS = 36,
	VHU_ADD_MEM_REG = 37,
	VHU_REM_MEM_REG = 38,
	VHU_SET_STATUS = 39,
	VHU_GET_STATUS = 40,
	VHU_GET_SHARED_OBJECT = 41,
	VHU_SET_DEVICE_STATE_FD = 42,
	VHU_CHECK_DEVICE_STATE = 43,
	VHU_REQUEST_MAX /* one past the last request this layer knows by name */
};

/* Header flags: a 2-bit version, then REPLY (set on every reply) and NEED_REPLY (REPLY_ACK). */
#define VHU_VERSION_MASK 0x3u
#define VHU_VERSION	 0x1u
#define VHU_F_REPLY	 0x4u
#define VHU_F_NEED_REPLY 0x8u

/* Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
#define VHU_PROTOCOL_F_MQ		    0
#define VHU_PROTOCOL_F_LOG_SHMFD	    1
#define VHU_PROTOCOL_F_RARP		    2
#define VHU_PROTOCOL_F_REPLY_ACK	    3
#define VHU_PROTOCOL_F_MTU		    4
#define VHU_PROTOCOL_F_BACKEND_REQ	    5
#define VHU_PROTOCOL_F_CROSS_ENDIAN	    6
#define VHU_PROTOCOL_F_CRYPTO_SESSION	    7
#define VHU_PROTOCOL_F_PAGEFAULT	    8
#define VHU_PROTOCOL_F_CONFIG		    9
#define VHU_PROTOCOL_F_BACKEND_SEND_FD	    10
#define VHU_PROTOCOL_F_HOST_NOTIFIER	    11
#define VHU_PROTOCOL_F_INFLIGHT_SHMFD	    12
#define VHU_PROTOCOL_F_RESET_DEVICE	    13
#define VHU_PROTOCOL_F_INBAND_NOTIFICATIONS 14
#define VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS  15
#define VHU_PROTOCOL_F_STATUS		    16

/* The virtio feature bit (unused by virtio itself) that says GET/SET_PROTOCOL_FEATURES exist. */
#define VHU_F_PROTOCOL_FEATURES 30

/* SET_VRING_KICK/CALL/ERR's u64: the queue index, and a flag saying no fd came (poll instead). */
#define VHU_VRING_INDEX_MASK 0xffull
#define VHU_VRING_NOFD	     0x100ull

#define VHU_MAX_FDS	    8	/* file descriptors one message may carry */
#define VHU_MAX_REGIONS	    8	/* regions in a SET_MEM_TABLE */
#define VHU_MAX_CONFIG_SIZE 256 /* bytes of device config space in one GET/SET_CONFIG */

/* The 12-byte header on the wire. */
struct vhu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* bytes of payload that follow */
};

struct vhu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vhu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr; /* ring addresses are the front end's virtual addresses */
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

struct vhu_mem_region_desc {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

/* SET_MEM_TABLE: (nregions) regions, each with one fd, in order; the size covers only those used. */
struct vhu_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vhu_mem_region_desc regions[VHU_MAX_REGIONS];
};

/* ADD_MEM_REG and REM_MEM_REG. */
struct vhu_memory_single {
	uint64_t padding;
	struct vhu_mem_region_desc region;
};

/* SET_LOG_BASE (with LOG_SHMFD): where in the fd sent with it the dirty log lies. */
struct vhu_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

/* GET/SET_CONFIG: (size) bytes of config space at (offset); the message carries only those. */
struct vhu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VHU_MAX_CONFIG_SIZE];
};

#define VHU_CONFIG_HDR_SIZE offsetof(struct vhu_config, region)

/* GET/SET_INFLIGHT_FD. 24 bytes on the wire: QEMU sends the struct with its 4 bytes of tail padding. */
struct vhu_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};

union vhu_payload {
	uint64_t u64;
	struct vhu_vring_state state;
	struct vhu_vring_addr addr;
	struct vhu_memory memory;
	struct vhu_memory_single region;
	struct vhu_log log;
	struct vhu_config config;
	struct vhu_inflight inflight;
	uint8_t bytes[272]; /* the largest (config: 268) rounded up to 8; what an unknown request may carry */
};

/* One message. Only the header's 12 bytes and (hdr.size) bytes of payload travel; the gap does not. */
struct vhu_msg {
	struct vhu_hdr hdr;
	union vhu_payload payload;
};

/*
 * vhu_recv: read one whole message into (m) and the file descriptors that came with it into (fds)
 * (room for VHU_MAX_FDS; their count in (*nfds)), blocking until it is all there. The header's size
 * is checked against what the request carries (a reply's against what a reply to that request
 * carries), the version and flags too, and the number of fds against what the request takes; on any
 * error every fd that came is closed and (*nfds) is 0. The peer's size is never trusted beyond (m).
 * Received fds are close-on-exec. Requests this layer does not know are accepted when their payload
 * fits and no fd came, so that the caller can answer that it does not support them.
 * Returns 0, -ECONNRESET when the peer closed the connection at a message boundary, -ETIMEDOUT when
 * the socket's SO_RCVTIMEO ran out, -EPROTO with (*why) naming what was wrong, or -errno. After an
 * error other than a -EPROTO for a complete message (wrong fds, bad payload) the stream may be out of
 * step: close the connection.
 */
int vhu_recv(int sock, struct vhu_msg *m, int *fds, unsigned int *nfds, const char **why);

/*
 * vhu_attach_fds: put (nfds) descriptors (fds) on (mh) as one SCM_RIGHTS control message built in (buf),
 * (len) bytes aligned for a struct cmsghdr; none: (mh) is left alone. Returns 0, or -EINVAL when they
 * do not fit in (buf).
 */
int vhu_attach_fds(struct msghdr *mh, void *buf, size_t len, const int *fds, unsigned int nfds);
/*
 * vhu_take_fds: append the descriptors of SCM_RIGHTS control message (c) to (fds), which holds (*nfds)
 * of at most (max); any beyond (max) are closed. Returns false when some were.
 */
bool vhu_take_fds(const struct cmsghdr *c, int *fds, unsigned int *nfds, unsigned int max);

/*
 * vhu_send: write (m) (its header and (m->hdr.size) bytes of payload) with (nfds) file descriptors
 * (fds), which stay the caller's. Sets the version bits, keeps the other flags. Never raises SIGPIPE.
 * Returns 0, -EINVAL when (nfds) > VHU_MAX_FDS or the size exceeds the payload, or -errno (-EPIPE:
 * the peer is gone).
 */
int vhu_send(int sock, struct vhu_msg *m, const int *fds, unsigned int nfds);

/*
 * vhu_reply: the back end's answer to (req): (rep), whose size and payload the caller has set, goes
 * out with the request's code and the REPLY flag, without fds. Returns as vhu_send.
 */
int vhu_reply(int sock, const struct vhu_msg *req, struct vhu_msg *rep);
/* vhu_reply_fds: as vhu_reply, with (nfds) descriptors (fds), which stay the caller's (GET_INFLIGHT_FD). */
int vhu_reply_fds(int sock, const struct vhu_msg *req, struct vhu_msg *rep, const int *fds,
		  unsigned int nfds);

/*
 * vhu_call: the front end's request (m) with (fds), and its answer. A request that has a reply
 * (GET_FEATURES, GET_PROTOCOL_FEATURES, GET_VRING_BASE, GET_QUEUE_NUM, GET_CONFIG, GET_MAX_MEM_SLOTS,
 * GET_STATUS) waits for it in (reply); any other, when (reply_ack) says REPLY_ACK was negotiated, is
 * sent with NEED_REPLY and waits for the back end's u64 (0: done). (reply) may be NULL when the caller
 * wants only the status. The reply must be a REPLY to the same request, of the size that reply has
 * (GET_CONFIG: the size asked for). The wait is bounded by the socket's SO_RCVTIMEO, which the caller
 * sets (vhu_set_timeout()); without one it blocks until the back end answers or goes.
 * GET_INFLIGHT_FD's reply carries an fd: use vhu_call_fd() for it.
 * Returns 0, -EIO when the back end acked with a nonzero u64, -EPROTO for a malformed or mismatched
 * reply (logged with what was wrong), -ETIMEDOUT, -ECONNRESET, -EINVAL (GET_INFLIGHT_FD), or -errno.
 */
int vhu_call(int sock, struct vhu_msg *m, const int *fds, unsigned int nfds, struct vhu_msg *reply,
	     bool reply_ack);
/*
 * vhu_call_fd: as vhu_call for a request whose reply carries a file descriptor (GET_INFLIGHT_FD): the
 * reply in (reply) (not NULL), its fd in (*reply_fd) (close-on-exec, the caller's to close; -1 on any
 * error). Returns as vhu_call; -EIO when the reply came without its fd (the back end's refusal), -EINVAL
 * for a request whose reply carries none.
 */
int vhu_call_fd(int sock, struct vhu_msg *m, const int *fds, unsigned int nfds, struct vhu_msg *reply,
		int *reply_fd);

/* vhu_set_timeout: bound each receive on (sock) to (ms) milliseconds (0: no bound). Returns 0 or -errno. */
int vhu_set_timeout(int sock, unsigned int ms);

/* vhu_request_name: "SET_MEM_TABLE" for messages; "UNKNOWN" for a request this layer does not know. */
const char *vhu_request_name(uint32_t req);

/* One region of the front end's memory as the back end has mapped it. */
struct vhu_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t user_addr;   /* where the front end has it: ring addresses arrive in this space */
	uint64_t mmap_offset; /* where it starts in the fd */
	uint8_t *host;	      /* where it is mapped here */
	size_t map_len;	      /* what to munmap() */
};

struct vhu_mem {
	struct vhu_mem_region regions[VHU_MAX_REGIONS];
	unsigned int nr_regions;
};

/*
 * vhu_mem_map: map each region of (table) from its fd in (fds) ((nfds) of them, one a region, in order)
 * into (out), shared and writable from its mmap_offset. Checks each region (size > 0, no overflow of
 * gpa + size, user_addr + size or offset + size, offset page aligned, the fd a regular file (memfd) that
 * holds the whole range) and that no two overlap in guest-physical or front-end virtual space.
 * The fds are always closed, mapped or not. Returns 0, -EINVAL with (*why) for a bad table, or -errno
 * from mmap() (nothing stays mapped).
 */
int vhu_mem_map(struct vhu_mem *out, const struct vhu_memory *table, int *fds, unsigned int nfds,
		const char **why);
/* vhu_mem_unmap: unmap every region of (m) and empty it. */
void vhu_mem_unmap(struct vhu_mem *m);
/*
 * vhu_mem_va_to_gpa: the guest-physical address of front-end virtual [va, va + len) in (*gpa).
 * Returns 0, or -EFAULT when the range does not lie inside one region or wraps. (len) 0 checks (va).
 */
int vhu_mem_va_to_gpa(const struct vhu_mem *m, uint64_t va, uint64_t len, uint64_t *gpa);
/*
 * vhu_mem_gmem: (m)'s regions as the guest RAM accessor the device models use (vmm/mem.h; no memfd of
 * its own: fd -1), the same mappings.
 */
void vhu_mem_gmem(const struct vhu_mem *m, struct gmem *out);
/*
 * vhu_mem_gpa_ptr: the local address of guest-physical [gpa, gpa + len), or NULL when any byte of it
 * lies outside a region or the range wraps; as gmem_ptr(), a range never spans two regions and (len)
 * 0 checks (gpa) alone.
 */
void *vhu_mem_gpa_ptr(const struct vhu_mem *m, uint64_t gpa, uint64_t len);

/*
 * vhu_mem_table: the front end's SET_MEM_TABLE for guest RAM (m): its regions in (table) (userspace_addr:
 * where kvmini maps them) and the memfd once a region in (fds), (*nfds) of them. The fds are (m)'s, not
 * duplicates: send them, do not close them. Returns 0, or -EINVAL when (m) has no fd or too many regions.
 */
int vhu_mem_table(const struct gmem *m, struct vhu_memory *table, int *fds, unsigned int *nfds);

#endif
