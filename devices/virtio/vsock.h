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

#include "pci.h"
#include "virtq.h"

#define VSOCK_RXQ	    0
#define VSOCK_TXQ	    1
#define VSOCK_EVQ	    2
#define VSOCK_QUEUE_SIZE    256
#define VSOCK_HOST_CID	    2
#define VSOCK_BUF_ALLOC	    (256 * 1024) /* what kvmini buffers a connection, guest to host */
#define VSOCK_MAX_CONNS	    1024	 /* beyond it new connections are refused */
#define VSOCK_UDS_PATH_MAX  108		 /* sun_path */

struct vsock_conn;

struct vsock_stats {
	atomic_uint_fast64_t conns;	  /* connections open now */
	atomic_uint_fast64_t buffered;	  /* guest-to-host bytes held, all connections */
	atomic_uint_fast64_t bad_packets; /* malformed or unexpected packets from the guest, dropped */
};

struct vsock_dev {
	uint64_t guest_cid;
	char uds_path[VSOCK_UDS_PATH_MAX];
	int listen_fd;	/* the Unix socket at (uds_path) host programs connect to */
	int epoll_fd;	/* listen_fd and every connection's socket: the fd the worker polls */
	uint64_t features;
	struct vsock_conn **table; /* connections by (local port, peer port); the model's own layout */
	unsigned int nr_conns;
	uint32_t next_host_port; /* local ports for host-initiated connections */
	struct vsock_stats stats;
	atomic_flag warned; /* a malformed packet was logged */
};

/*
 * vsock_open: a vsock device for the guest with CID (guest_cid) (3 to 2^32 - 2), listening on Unix
 * socket (uds_path). A stale socket file nobody listens on is replaced; a path in use, too long, or
 * in a missing directory is refused with one line saying so. Returns 0 or -errno.
 */
int vsock_open(struct vsock_dev *v, uint64_t guest_cid, const char *uds_path);
/* vsock_close: close every connection and the listener, and remove (uds_path). */
void vsock_close(struct vsock_dev *v);
/*
 * vsock_pci_config: describe (v), called (name), to the virtio-pci transport: device type 19, three
 * queues (rx, tx, event) served by one thread, the guest_cid configuration, and the model: handle()
 * for tx, start/io/stop for the rest.
 */
void vsock_pci_config(struct vsock_dev *v, const char *name, struct virtio_pci_config *c);

#endif
