/* net.c: virtio-net over a tap device (virtio 1.2, 5.1): frames and their virtio-net headers, both ways. */
#include "net.h"

#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../base/log.h"

#define F(bit)		(1ULL << (bit))
#define RX_BUDGET	64 /* frames a call of io() moves: the worker looks at its other work in between */
#define NUM_BUFFERS_OFF 10 /* of num_buffers in struct virtio_net_hdr_v1 */
#define HDR_FLAGS	(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)

#define FEATURES                                                                                           \
	(F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_RING_F_EVENT_IDX) |             \
	 F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_CSUM) | \
	 F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |            \
	 F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_GUEST_UFO) | F(VIRTIO_NET_F_HOST_TSO4) |               \
	 F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN) | F(VIRTIO_NET_F_HOST_UFO))

_Static_assert(sizeof(struct virtio_net_hdr_v1) == NET_HDR_LEN, "the VERSION_1 header is 12 bytes");
_Static_assert(offsetof(struct virtio_net_hdr_v1, num_buffers) == NUM_BUFFERS_OFF, "num_buffers at 10");
_Static_assert(offsetof(struct virtio_net_config, speed) == NET_CONFIG_LEN, "configuration up to mtu");
/* gso_allowed() finds TSO6, ECN and UFO after TSO4, on the guest's side and on the host's. */
_Static_assert(VIRTIO_NET_F_GUEST_TSO6 == VIRTIO_NET_F_GUEST_TSO4 + 1 &&
		       VIRTIO_NET_F_GUEST_ECN == VIRTIO_NET_F_GUEST_TSO4 + 2 &&
		       VIRTIO_NET_F_GUEST_UFO == VIRTIO_NET_F_GUEST_TSO4 + 3 &&
		       VIRTIO_NET_F_HOST_TSO6 == VIRTIO_NET_F_HOST_TSO4 + 1 &&
		       VIRTIO_NET_F_HOST_ECN == VIRTIO_NET_F_HOST_TSO4 + 2 &&
		       VIRTIO_NET_F_HOST_UFO == VIRTIO_NET_F_HOST_TSO4 + 3,
	       "offload feature bits in the spec's order");

/* Opening the tap */

/* A name the kernel takes for an interface (dev_valid_name): 1 to 15 bytes, not . or .., no '/', ':', blank. */
static bool valid_name(const char *name)
{
	size_t len = strnlen(name, IFNAMSIZ);

	if (len == 0 || len == IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == ':' || isspace((unsigned char)name[i]))
			return false;
	return true;
}

static int open_tun(void)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	int err = errno;

	if (fd >= 0)
		return fd;
	if (err == ENOENT || err == ENODEV || err == ENXIO)
		log_err("no /dev/net/tun: load the tun module (modprobe tun)");
	else
		log_err("cannot open /dev/net/tun: %s", strerror(err));
	return -err;
}

/* One line for a TUNSETIFF on (name) that failed with (err): what is wrong and what to do. */
static void setiff_error(const char *name, int err, bool creating)
{
	if (err == EPERM && creating)
		log_err("kvmini needs CAP_NET_ADMIN to create tap %s, or create it beforehand with "
			"`ip tuntap add %s mode tap user $USER`",
			name, name);
	else if (err == EPERM)
		log_err("tap %s belongs to another user or group: recreate it with "
			"`ip tuntap del %s mode tap; ip tuntap add %s mode tap user $USER`",
			name, name, name);
	else if (err == EBUSY)
		log_err("tap %s is in use by another program: stop it, or give kvmini a tap of its own",
			name);
	else if (err == EINVAL)
		log_err("%s is not a tap kvmini can use (a tun, a multi-queue tap, or another kind of "
			"interface): name another one",
			name);
	else
		log_err("tap %s: cannot attach to it: %s", name, strerror(err));
}

/*
 * Attaches (fd) to tap (name) with virtio-net headers and no offloads until a driver asks for some, so
 * that meanwhile the tap hands over plain frames. (name) may be a pattern ("tap%d"): it becomes the
 * interface's name. Returns 0 or -errno, logged.
 */
static int attach(int fd, char name[IFNAMSIZ], bool creating)
{
	unsigned int features = 0;
	int hdr_len = NET_HDR_LEN, err;
	struct ifreq ifr;

	if (ioctl(fd, TUNGETFEATURES, &features) < 0 || !(features & IFF_VNET_HDR)) {
		log_err("tap %s: this kernel's tun driver has no virtio-net headers (IFF_VNET_HDR), which "
			"kvmini needs",
			name);
		return -EOPNOTSUPP;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, IFNAMSIZ);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = errno;
		setiff_error(name, err, creating);
		return -err;
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0 || ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) {
		err = errno;
		log_err("tap %s: cannot set its virtio-net header size or offloads: %s", name, strerror(err));
		return -err;
	}
	return 0;
}

int net_init_fd(struct net_dev *n, int fd, const uint8_t mac[6])
{
	memset(n, 0, sizeof(*n));
	n->tap_fd = -1;
	atomic_flag_clear(&n->warned);
	atomic_flag_clear(&n->warned_tap);
	snprintf(n->ifname, sizeof(n->ifname), "fd%d", fd);
	memcpy(n->mac, mac, sizeof(n->mac));
	n->frame = malloc(NET_HDR_LEN + NET_FRAME_MAX);
	if (!n->frame) {
		log_err("tap %s: no memory for its 64 KiB frame buffer", n->ifname);
		return -ENOMEM;
	}
	n->tap_fd = fd;
	return 0;
}

int net_open(struct net_dev *n, const char *ifname, const uint8_t mac[6])
{
	char name[IFNAMSIZ] = { 0 };
	bool creating;
	int fd, ret;

	n->tap_fd = -1;
	n->frame = NULL;
	if (!valid_name(ifname)) {
		log_err("tap name '%s' is not an interface name: 1 to %d characters, none of them '/', ':' or "
			"blank",
			ifname, IFNAMSIZ - 1);
		return -EINVAL;
	}
	memcpy(name, ifname, strlen(ifname));
	/* TUNSETIFF creates a missing interface; closing the fd then removes it again. */
	creating = if_nametoindex(name) == 0;
	fd = open_tun();
	if (fd < 0)
		return fd;
	ret = attach(fd, name, creating);
	if (!ret)
		ret = net_init_fd(n, fd, mac);
	if (ret) {
		close(fd);
		return ret;
	}
	memcpy(n->ifname, name, IFNAMSIZ);
	n->created = creating;
	return 0;
}

void net_close(struct net_dev *n)
{
	if (n->tap_fd >= 0)
		close(n->tap_fd);
	n->tap_fd = -1;
	free(n->frame);
	n->frame = NULL;
	n->frame_len = 0;
}

void net_mac_random(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6) {
		/* No getrandom (a kernel before 3.17): the time and the pid still tell two VMs apart. */
		struct timespec ts;
		uint64_t x;

		clock_gettime(CLOCK_REALTIME, &ts);
		x = ((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 40)) *
		    0x9e3779b97f4a7c15ULL;
		for (int i = 0; i < 6; i++)
			mac[i] = (uint8_t)(x >> (8 * i + 16));
	}
	mac[0] = (uint8_t)((mac[0] & ~0x01) | 0x02); /* unicast (I/G 0), locally administered (U/L 1) */
}

/* Configuration and features */

void net_config_read(const struct net_dev *n, uint64_t off, void *data, uint32_t len)
{
	struct virtio_net_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, n->mac, sizeof(cfg.mac));
	cfg.status = htole16(VIRTIO_NET_S_LINK_UP); /* there since VIRTIO_NET_F_STATUS is offered */
	cfg.max_virtqueue_pairs = htole16(1);
	memset(data, 0, len);
	if (off < NET_CONFIG_LEN)
		memcpy(data, (const uint8_t *)&cfg + off,
		       len < NET_CONFIG_LEN - off ? len : NET_CONFIG_LEN - off);
}

/*
 * Whether a frame with (gso_type) is allowed by features (f), where (tso4) is VIRTIO_NET_F_GUEST_TSO4
 * (frames to the guest) or VIRTIO_NET_F_HOST_TSO4 (frames from it). The ECN bit goes with TCP only.
 */
static bool gso_allowed(uint8_t gso_type, uint64_t f, unsigned int tso4)
{
	bool ecn = gso_type & VIRTIO_NET_HDR_GSO_ECN;

	if (ecn && !(f & F(tso4 + 2)))
		return false;
	switch (gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return !ecn;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return f & F(tso4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return f & F(tso4 + 1);
	case VIRTIO_NET_HDR_GSO_UDP:
		return !ecn && (f & F(tso4 + 3));
	default:
		return false;
	}
}

/* What the tap may hand over: what the driver accepts (segmentation needs partial checksums). */
static unsigned long tap_offloads(uint64_t f)
{
	unsigned long off;

	if (!(f & F(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	off = TUN_F_CSUM;
	if (f & F(VIRTIO_NET_F_GUEST_TSO4))
		off |= TUN_F_TSO4;
	if (f & F(VIRTIO_NET_F_GUEST_TSO6))
		off |= TUN_F_TSO6;
	if ((off & (TUN_F_TSO4 | TUN_F_TSO6)) && (f & F(VIRTIO_NET_F_GUEST_ECN)))
		off |= TUN_F_TSO_ECN;
	if (f & F(VIRTIO_NET_F_GUEST_UFO))
		off |= TUN_F_UFO;
	return off;
}

static void set_offloads(struct net_dev *n)
{
	unsigned long off = tap_offloads(n->features);
	int ret = ioctl(n->tap_fd, TUNSETOFFLOAD, off);

	/* Kernels without UFO refuse the bit: the guest then gets no UFO frames, which it can do without. */
	if (ret < 0 && errno == EINVAL && (off & TUN_F_UFO))
		ret = ioctl(n->tap_fd, TUNSETOFFLOAD, off & ~(unsigned long)TUN_F_UFO);
	/* ENOTTY: not a tap (a socket in tests), which has no offloads to set. */
	if (ret < 0 && errno != ENOTTY)
		log_warn("tap %s: cannot set its offloads to what the guest takes (%s): frames it cannot "
			 "take are dropped",
			 n->ifname, strerror(errno));
}

static void warn_guest(struct net_dev *n, const char *what)
{
	if (!atomic_flag_test_and_set(&n->warned))
		log_warn(
			"tap %s: the guest sent a malformed frame (%s): dropped; further ones are not logged",
			n->ifname, what);
}

/* (err) 0: end of file. */
static void warn_tap(struct net_dev *n, const char *what, int err)
{
	if (atomic_flag_test_and_set(&n->warned_tap))
		return;
	if (err == EIO)
		log_warn("tap %s %s: %s (is it up? `ip link set %s up`); further failures are not logged",
			 n->ifname, what, strerror(err), n->ifname);
	else
		log_warn("tap %s %s: %s; further failures are not logged", n->ifname, what,
			 err ? strerror(err) : "end of file");
}

/* Transmit: the guest's frames to the tap */

/* Why chain (c) is no frame the tap may be handed, with its header copied to (h); NULL: it is one. */
static const char *tx_fault(const struct net_dev *n, const struct virtq_chain *c, struct virtio_net_hdr_v1 *h)
{
	uint32_t len;

	if (c->readable < NET_HDR_LEN + ETH_HLEN)
		return "shorter than a virtio-net header and an Ethernet header";
	if (c->readable > NET_HDR_LEN + NET_FRAME_MAX)
		return "longer than 64 KiB";
	len = c->readable - NET_HDR_LEN;
	virtq_chain_read(c, 0, h, NET_HDR_LEN); /* (c) has that many: checked above */
	if (h->flags & ~HDR_FLAGS)
		return "unknown header flags";
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !(n->features & F(VIRTIO_NET_F_CSUM)))
		return "a partial checksum without VIRTIO_NET_F_CSUM";
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (uint32_t)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2 > len)
		return "a checksum position beyond the frame";
	if (!gso_allowed(h->gso_type, n->features, VIRTIO_NET_F_HOST_TSO4))
		return "a segmentation type unknown or not negotiated";
	if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE && h->gso_size == 0)
		return "a segment size of 0";
	return NULL;
}

static void tap_write(struct net_dev *n, const struct iovec *iov, int nr, uint32_t frame_len)
{
	ssize_t done;

	do
		done = writev(n->tap_fd, iov, nr);
	while (done < 0 && errno == EINTR);
	if (done < 0) {
		int err = errno;

		atomic_fetch_add(&n->stats.tx_dropped, 1);
		warn_tap(n, "refused a frame", err);
		return;
	}
	atomic_fetch_add(&n->stats.tx_frames, 1);
	atomic_fetch_add(&n->stats.tx_bytes, frame_len);
}

/* A frame on the transmit queue goes to the tap as it lies in guest RAM, behind the header as checked. */
static int model_handle(void *opaque, unsigned int qi, const struct virtq_chain *c, uint32_t *used)
{
	struct net_dev *n = opaque;
	struct iovec iov[1 + VIRTQ_CHAIN_MAX];
	struct virtio_net_hdr_v1 h;
	const char *fault;

	*used = 0; /* nothing is written to a transmit chain */
	if (qi != NET_TXQ)
		return 0;
	fault = tx_fault(n, c, &h);
	if (fault) {
		atomic_fetch_add(&n->stats.tx_dropped, 1);
		warn_guest(n, fault);
		return 0;
	}
	/* Our copy, not the guest's header, which it may rewrite after the check. */
	h.num_buffers = 0;
	iov[0] = (struct iovec){ .iov_base = &h, .iov_len = NET_HDR_LEN };
	tap_write(n, iov, 1 + virtq_chain_iov(c, false, NET_HDR_LEN, c->readable - NET_HDR_LEN, iov + 1),
		  c->readable - NET_HDR_LEN);
	return 0;
}

/* Receive: the tap's frames to the guest */

/*
 * Makes the tap's header on the frame in (n) one the driver accepts: no checksum flags unless it took
 * GUEST_CSUM, no segmentation type it did not negotiate. Returns false when the frame must be dropped.
 */
static bool rx_header_fix(struct net_dev *n)
{
	struct virtio_net_hdr_v1 *h = (struct virtio_net_hdr_v1 *)(void *)n->frame;

	if (!(n->features & F(VIRTIO_NET_F_GUEST_CSUM))) {
		h->flags = 0;
		return h->gso_type == VIRTIO_NET_HDR_GSO_NONE; /* segmentation needs partial checksums */
	}
	h->flags &= HDR_FLAGS;
	return gso_allowed(h->gso_type, n->features, VIRTIO_NET_F_GUEST_TSO4);
}

/*
 * Reads the next frame from the tap into (n). Returns 1 with (n)->frame_len its length, or 0 when it
 * was dropped; 0 when the tap has none; -1 when reading failed (logged once).
 */
static int tap_read(struct net_dev *n)
{
	ssize_t len;
	int err;

	do
		len = read(n->tap_fd, n->frame, NET_HDR_LEN + NET_FRAME_MAX);
	while (len < 0 && errno == EINTR);
	err = len < 0 ? errno : 0;
	if (err == EAGAIN)
		return 0;
	if (len <= 0) {
		warn_tap(n, "cannot be read", err);
		return -1;
	}
	n->frame_len = (uint32_t)len;
	if (len < NET_HDR_LEN + ETH_HLEN || !rx_header_fix(n)) {
		atomic_fetch_add(&n->stats.rx_dropped, 1);
		n->frame_len = 0;
	}
	return 1;
}

/* Where a frame being spread over rx chains went. */
struct rx_fill {
	uint16_t nr;
	uint16_t heads[NET_QUEUE_SIZE];
	uint32_t lens[NET_QUEUE_SIZE];
	uint8_t *num_buffers[2]; /* the guest bytes that frame bytes 10 and 11 landed on */
};

/* Copies frame bytes [off, off + len) into the device-writable buffers of (c) as far as they go. */
static uint32_t fill_chain(const struct virtq_chain *c, const uint8_t *frame, uint32_t off, uint32_t len,
			   struct rx_fill *f)
{
	uint32_t done = 0;

	for (unsigned int i = 0; i < c->nbufs && done < len; i++) {
		const struct virtq_buf *b = &c->bufs[i];
		uint32_t at = off + done, take;

		if (!b->device_writable)
			continue;
		take = b->len < len - done ? b->len : len - done;
		memcpy(b->host, frame + at, take);
		for (uint32_t k = 0; k < 2; k++)
			if (NUM_BUFFERS_OFF + k >= at && NUM_BUFFERS_OFF + k < at + take)
				f->num_buffers[k] = b->host + (NUM_BUFFERS_OFF + k - at);
		done += take;
	}
	return done;
}

/* Gives back the (taken) chains and drops the frame: the guest's buffers cannot hold it. */
static int rx_too_big(struct net_dev *n, struct virtio_worker *w, uint16_t taken)
{
	virtio_worker_unpop(w, NET_RXQ, taken);
	atomic_fetch_add(&n->stats.rx_dropped, 1);
	return 1;
}

/*
 * Puts the frame in (n) into the rx queue: in one chain, or with VIRTIO_NET_F_MRG_RXBUF in as many as
 * it takes, all published at once, counted in (delivered). Returns 1 when done with it (delivered, or
 * dropped as too big); 0 when the driver has not posted buffers enough (the chains taken are given
 * back); -EINVAL when it broke the queue.
 */
static int rx_deliver(struct net_dev *n, struct virtio_worker *w, unsigned int *delivered)
{
	bool mrg = n->features & F(VIRTIO_NET_F_MRG_RXBUF);
	/* A queue's worth of chains at most: a hostile driver may offer its heads again and again. */
	uint16_t max = mrg ? (w->q[NET_RXQ].size < NET_QUEUE_SIZE ? w->q[NET_RXQ].size : NET_QUEUE_SIZE) : 1;
	struct rx_fill f = { .nr = 0 };
	uint32_t off = 0;
	int r;

	while (off < n->frame_len) {
		r = virtio_worker_pop(w, NET_RXQ, &n->chain);
		/* Holding a queue's worth, there is no room for the driver to post more: it never fits. */
		if (r == 0 && f.nr && f.nr == max)
			return rx_too_big(n, w, f.nr);
		if (r <= 0) {
			if (r == 0)
				virtio_worker_unpop(w, NET_RXQ, f.nr);
			return r;
		}
		if (f.nr == max || (!mrg && n->chain.writable < n->frame_len))
			return rx_too_big(n, w, (uint16_t)(f.nr + 1));
		f.heads[f.nr] = n->chain.head;
		f.lens[f.nr] = fill_chain(&n->chain, n->frame, off, n->frame_len - off, &f);
		off += f.lens[f.nr++];
	}
	/* Always found: the frame is longer than the header, and all of it was copied. */
	if (f.num_buffers[0] && f.num_buffers[1]) {
		*f.num_buffers[0] = (uint8_t)f.nr;
		*f.num_buffers[1] = (uint8_t)(f.nr >> 8);
	}
	virtio_worker_push_n(w, NET_RXQ, f.heads, f.lens, f.nr);
	(*delivered)++;
	atomic_fetch_add(&n->stats.rx_frames, 1);
	atomic_fetch_add(&n->stats.rx_bytes, n->frame_len - NET_HDR_LEN);
	return 1;
}

/* Why a batch of receiving ended. */
enum rx_end {
	RX_BUDGET_SPENT,
	RX_TAP_EMPTY,
	RX_NO_BUFFERS, /* the frame in (n) waits for the driver's buffers */
	RX_FAILED,     /* the tap or the queue failed: nothing more until the driver resets the device */
};

/* Moves up to RX_BUDGET frames from the tap to the rx queue, counting those delivered in (delivered). */
static enum rx_end rx_batch(struct net_dev *n, struct virtio_worker *w, unsigned int *delivered)
{
	int r;

	for (unsigned int i = 0; i < RX_BUDGET; i++) {
		if (!n->frame_len) {
			r = tap_read(n);
			if (r <= 0)
				return r ? RX_FAILED : RX_TAP_EMPTY;
			if (!n->frame_len)
				continue;
		}
		r = rx_deliver(n, w, delivered);
		if (r <= 0)
			return r ? RX_FAILED : RX_NO_BUFFERS;
		n->frame_len = 0;
	}
	return RX_BUDGET_SPENT;
}

/*
 * On the worker thread, when the tap is readable (ready), after a kick on the rx queue or a batch of
 * transmits. Without buffers for a frame, the tap is not polled until the driver posts some.
 */
static bool model_io(void *opaque, struct virtio_worker *w, bool ready)
{
	struct net_dev *n = opaque;
	unsigned int delivered = 0;
	enum rx_end end;

	/* Nothing read can be waiting: don't ask the tap (this is a transmit batch's call). */
	if (!ready && !n->rx_waiting)
		return false;
	end = rx_batch(n, w, &delivered);
	if (delivered)
		virtio_worker_notify(w, NET_RXQ);
	if (end == RX_NO_BUFFERS) {
		if (!n->rx_waiting)
			atomic_fetch_add(&n->stats.rx_waits, 1);
		n->rx_waiting = true;
		virtio_worker_want_io(w, false);
		return false;
	}
	if (end == RX_FAILED) {
		if (n->frame_len)
			atomic_fetch_add(&n->stats.rx_dropped, 1);
		n->frame_len = 0;
		n->rx_waiting = false;
		virtio_worker_want_io(w, false);
		return false;
	}
	if (n->rx_waiting) {
		n->rx_waiting = false;
		virtio_worker_want_io(w, true);
	}
	return end == RX_BUDGET_SPENT;
}

static int model_start(void *opaque, struct virtio_worker *w, uint64_t features)
{
	struct net_dev *n = opaque;

	(void)w;
	if (n->tap_fd < 0)
		return -EBADF;
	n->features = features;
	n->frame_len = 0;
	n->rx_waiting = false;
	set_offloads(n);
	return n->tap_fd;
}

/* A frame half-way to a driver that has reset the device is dropped with the wait for its buffers. */
static void model_stop(void *opaque)
{
	struct net_dev *n = opaque;

	if (n->frame_len)
		atomic_fetch_add(&n->stats.rx_dropped, 1);
	n->frame_len = 0;
	n->rx_waiting = false;
}

static void model_describe(void *opaque, const struct virtio_worker *w)
{
	struct net_dev *n = opaque;

	log_info("%s: received %" PRIu64 " frames (%" PRIu64 " bytes), %" PRIu64 " dropped, %" PRIu64
		 " waits for buffers; sent %" PRIu64 " (%" PRIu64 " bytes), %" PRIu64 " dropped; the tap %s",
		 n->ifname, (uint64_t)atomic_load(&n->stats.rx_frames),
		 (uint64_t)atomic_load(&n->stats.rx_bytes), (uint64_t)atomic_load(&n->stats.rx_dropped),
		 (uint64_t)atomic_load(&n->stats.rx_waits), (uint64_t)atomic_load(&n->stats.tx_frames),
		 (uint64_t)atomic_load(&n->stats.tx_bytes), (uint64_t)atomic_load(&n->stats.tx_dropped),
		 n->rx_waiting	? "waited for the driver's buffers, a frame in hand"
		 : w->io_wanted ? "was being read"
				: "was not read (failed)");
}

static void pci_config_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	net_config_read(opaque, off, data, len);
}

void net_device(struct net_dev *n, const char *name, struct virtio_device *c)
{
	*c = (struct virtio_device){
		.name = name,
		.device_id = VIRTIO_ID_NET,
		.features = FEATURES,
		.nr_queues = 2, /* receiveq1, transmitq1; no control queue */
		.worker_per_queue = false,
		.queue_max = NET_QUEUE_SIZE,
		.config_len = NET_CONFIG_LEN,
		.config_read = pci_config_read,
		.model = { .name = name,
			   .handle = model_handle,
			   .rx_queues = 1u << NET_RXQ,
			   .start = model_start,
			   .io = model_io,
			   .stop = model_stop,
			   .describe = model_describe,
			   .opaque = n },
	};
}
