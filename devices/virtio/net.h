/*
 * net.h: virtio-net over a tap device (virtio 1.2, 5.1). Frames cross between the guest's queues and
 * the tap with the virtio-net header in front (IFF_VNET_HDR), so checksum and segmentation offloads
 * pass through untouched: bulk TCP moves 64 KiB segments, not 1500-byte frames.
 */
#ifndef KVMINI_VIRTIO_NET_H
#define KVMINI_VIRTIO_NET_H

#include <net/if.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "virtq.h"

#define NET_RXQ	       0  /* receiveq1 */
#define NET_CONFIG_LEN 12 /* mac, status, max_virtqueue_pairs, mtu: what the offered features define */
#define NET_TXQ	       1  /* transmitq1 */
#define NET_QUEUE_SIZE 256
#define NET_HDR_LEN    12    /* struct virtio_net_hdr_v1: with VERSION_1 it always has num_buffers */
#define NET_FRAME_MAX  65550 /* a 64 KiB GSO packet with its Ethernet and VLAN headers */

/* What a NIC counts; read by anyone, written by its worker thread. */
struct net_stats {
	atomic_uint_fast64_t rx_frames, rx_bytes, tx_frames, tx_bytes; /* bytes: Ethernet frames, no header */
	atomic_uint_fast64_t tx_dropped; /* malformed header, frame too short or too long, tap refused */
	atomic_uint_fast64_t rx_dropped; /* from the tap: too big or an offload for the guest, or reset */
	atomic_uint_fast64_t rx_waits;	 /* times reading the tap stopped for want of guest buffers */
};

struct net_dev {
	char ifname[IFNAMSIZ];
	uint8_t mac[6];
	int tap_fd;
	bool created; /* kvmini created the tap (it goes away when kvmini closes it) */
	/* The rest belongs to the worker thread from start() to stop(). */
	uint64_t features;	  /* negotiated, from start() */
	uint8_t *frame;		  /* NET_HDR_LEN + NET_FRAME_MAX: a frame read from the tap */
	uint32_t frame_len;	  /* bytes in (frame) not yet delivered; 0: none */
	bool rx_waiting;	  /* (frame) waits for the driver's buffers: the tap is not polled */
	struct virtq_chain chain; /* the rx chain being filled: large, so not on the thread's stack */
	struct net_stats stats;
	atomic_flag warned;	/* a malformed frame from the guest was logged */
	atomic_flag warned_tap; /* a tap that failed to read or write was logged */
};

/*
 * net_open: attach (n) to tap interface (ifname) with MAC (mac): open /dev/net/tun, TUNSETIFF with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (creating the interface when absent: needs CAP_NET_ADMIN; a
 * pattern such as "tap%d" names a new one, then in (n)->ifname), TUNSETVNETHDRSZ NET_HDR_LEN, no
 * offloads until a driver negotiates some, non-blocking. Errors are logged as one line naming the
 * interface and the fix (no /dev/net/tun, bad name, no permission to create it, busy, not a tap).
 * Returns 0 or -errno; net_close() may be called either way.
 */
int net_open(struct net_dev *n, const char *ifname, const uint8_t mac[6]);
/*
 * net_init_fd: attach (n) to (fd), an already open tap-like fd that keeps frame boundaries (a tap
 * set up as net_open does, a SOCK_SEQPACKET socket in tests), with MAC (mac). (n) is reset; it owns
 * (fd) from then on. Returns 0, or -ENOMEM (then (fd) is still the caller's).
 */
int net_init_fd(struct net_dev *n, int fd, const uint8_t mac[6]);
/* net_close: close the tap and free the frame buffer; (n) may be closed again. */
void net_close(struct net_dev *n);
/*
 * net_device: describe NIC (n), called (name), to any transport and back end: device type 1, its
 * features (MAC, STATUS, MRG_RXBUF, CSUM, GUEST_CSUM, HOST_/GUEST_TSO4/TSO6/ECN/UFO, EVENT_IDX,
 * INDIRECT_DESC, VERSION_1), one receive and one transmit queue served by one thread, its configuration
 * (mac, status LINK_UP), and the model: handle() for transmit, start/io/stop for receive.
 */
void net_device(struct net_dev *n, const char *name, struct virtio_device *c);
/* net_config_read: (len) bytes of struct virtio_net_config at (off); beyond it reads zero. */
void net_config_read(const struct net_dev *n, uint64_t off, void *data, uint32_t len);
/* net_mac_random: a random locally administered unicast MAC. */
void net_mac_random(uint8_t mac[6]);

#endif
