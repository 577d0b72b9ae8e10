/*
 * vsock.h: virtio-vsock (virtio 1.2, 5.10) with host sockets compatible with Firecracker's hybrid
 * vsock: a host program connects to the Unix socket (uds) and writes "CONNECT <port>\n"; kvmini
 * answers "OK <hostport>\n" and the stream reaches the guest's listener on <port>. A guest connecting
 * to CID 2 port P reaches a host program listening on "<uds>_<P>".
 *
 * Streams follow the spec's credit flow control: kvmini holds at most VSOCK_BUF_ALLOC bytes a
 * connection that the host side has not yet taken, and reads a host socket only while the guest has
 * room, so a slow reader on either side stalls the writer instead of growing kvmini's memory.
 */
#ifndef KVMINI_VIRTIO_VSOCK_H
#define KVMINI_VIRTIO_VSOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "virtq.h"

#define VSOCK_RXQ		 0
#define VSOCK_TXQ		 1
#define VSOCK_EVQ		 2
#define VSOCK_QUEUE_SIZE	 256
#define VSOCK_HOST_CID		 2
#define VSOCK_BUF_ALLOC		 (256 * 1024) /* what kvmini buffers a connection, guest to host */
#define VSOCK_MAX_CONNS		 1024	      /* beyond it new connections are refused */
#define VSOCK_UDS_PATH_MAX	 108	      /* sun_path; (uds_path) leaves room for "_<port>" in it */
#define VSOCK_RST_MAX		 256	      /* RSTs owed for packets that match no connection */
#define VSOCK_CONNECT_TIMEOUT_MS 2000 /* for the guest to answer a host program's REQUEST (Firecracker's) */

struct vsock_conn;

/* A link of a circular list of connections; a list's head is a link of its own. */
struct vsock_link {
	struct vsock_link *prev, *next;
};

struct vsock_stats {
	atomic_uint_fast64_t conns;	       /* connections open now */
	atomic_uint_fast64_t buffered;	       /* guest-to-host bytes held, all connections */
	atomic_uint_fast64_t bad_packets;      /* malformed or unexpected packets from the guest, dropped */
	atomic_uint_fast64_t rst_dropped;      /* RSTs not sent: more were owed than VSOCK_RST_MAX */
	atomic_uint_fast64_t connect_timeouts; /* host programs' connections the guest never answered */
};

/* The worker thread's, or its owner's while the device is stopped; (stats) anyone may read. */
struct vsock_dev {
	uint64_t guest_cid;
	char uds_path[VSOCK_UDS_PATH_MAX];
	int dir_fd;	    /* (uds_path)'s directory: the socket is removed through it (vsock_close) */
	int listen_fd;	    /* the Unix socket at (uds_path) host programs connect to */
	int epoll_fd;	    /* listen_fd and every connection's socket: the fd the worker polls */
	bool listen_paused; /* out of fds: the listener leaves epoll until a connection closes */
	int timer_fd;	    /* in epoll: fires at the first deadline on (connecting) */
	unsigned int connect_timeout_ms; /* VSOCK_CONNECT_TIMEOUT_MS; tests may shorten it */
	uint64_t features;
	struct vsock_conn **table;    /* connections by (local port, peer port): hash buckets */
	struct vsock_link conns;      /* every connection */
	struct vsock_link ready;      /* connections with something for the guest, served in turn */
	struct vsock_link connecting; /* host programs' connections awaiting the guest, oldest first */
	unsigned int nr_conns;
	uint32_t next_host_port; /* local ports for host-initiated connections */
	struct {
		uint32_t local_port, peer_port;
	} rst[VSOCK_RST_MAX]; /* a ring */
	unsigned int rst_head, rst_len;
	struct virtq_chain rx_chain; /* the rx buffer being filled */
	struct vsock_stats stats;
	atomic_flag warned; /* a malformed packet was logged */
};

/*
 * vsock_open: a vsock device for the guest with CID (guest_cid) (3 to 2^32 - 2), listening on Unix
 * socket (uds_path) (at most 96 bytes: "<uds_path>_<port>" must fit sun_path). A stale socket file
 * nobody listens on is replaced; a path in use, too long, not a socket, or in a missing directory is
 * refused with one line saying so. A host program's connection that the guest has not answered
 * within VSOCK_CONNECT_TIMEOUT_MS is closed (and reset in the guest). Returns 0 or -errno.
 */
int vsock_open(struct vsock_dev *v, uint64_t guest_cid, const char *uds_path);
/* vsock_close: close every connection and the listener, and remove (uds_path). Safe after a failed open. */
void vsock_close(struct vsock_dev *v);
/*
 * vsock_device: describe (v), called (name), to any transport and back end: device type 19, PCI class
 * "other communication device" as QEMU's vhost-vsock-pci, three queues (rx, tx, event) served by one
 * thread, the guest_cid configuration, and the model: handle() for tx, start/io/stop for the rest.
 */
void vsock_device(struct vsock_dev *v, const char *name, struct virtio_device *c);
/* vsock_config_read: (len) bytes of struct virtio_vsock_config at (off); beyond it reads zero. */
void vsock_config_read(const struct vsock_dev *v, uint64_t off, void *data, uint32_t len);

#endif
