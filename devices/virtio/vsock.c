/* vsock.c: virtio-vsock streams (virtio 1.2, 5.10) carried by host Unix sockets, as Firecracker's hybrid vsock. */
#include "vsock.h"

#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../base/log.h"
#include "../base/sockpath.h"
#include "../dev.h"
#include "worker.h"

#define HDR_LEN		 ((uint32_t)sizeof(struct virtio_vsock_hdr)) /* 44 */
#define PKT_MAX		 65536u /* payload of one packet to the guest: Linux's own largest */
#define BUF_ALLOC	 ((uint32_t)VSOCK_BUF_ALLOC)
#define CREDIT_STEP	 (BUF_ALLOC / 4) /* fwd_cnt progress worth a CREDIT_UPDATE of its own */
#define PORT_SUFFIX_MAX	 11		 /* "_4294967295" */
#define PATH_LEN_MAX	 (VSOCK_UDS_PATH_MAX - 1 - PORT_SUFFIX_MAX)
#define CONNECT_LINE_MAX 32 /* the most of "CONNECT <port>\n" Firecracker reads */
#define HASH_SIZE	 1024
#define EVENTS_MAX	 64		  /* epoll events taken in one io() */
#define ACCEPT_MAX	 16		  /* host connections accepted in one io() */
#define RX_BUDGET	 VSOCK_QUEUE_SIZE /* rx buffers filled in one io() */
#define HOST_PORT_FIRST	 (1u << 30) /* host-initiated local ports run over [2^30, 2^31), as Firecracker's */
#define SHUT_RCV	 VIRTIO_VSOCK_SHUTDOWN_RCV
#define SHUT_SEND	 VIRTIO_VSOCK_SHUTDOWN_SEND
#define SHUT_BOTH	 (SHUT_RCV | SHUT_SEND)

/* Control packets a connection owes the guest, sent before its data in this order. */
enum {
	P_RST = 1,
	P_REQUEST = 2,
	P_RESPONSE = 4,
	P_CREDIT_UPDATE = 8,
};

enum conn_state {
	C_LINE,	       /* a host program connected: reading its "CONNECT <port>\n" */
	C_CONNECTING,  /* REQUEST owed or sent to the guest's listener: awaiting RESPONSE or RST */
	C_ESTABLISHED, /* guest-initiated ones start here, with a RESPONSE owed */
	C_DEAD,	       /* the socket is closed and an RST owed: the connection goes once it is sent */
};

struct vsock_conn {
	struct vsock_link link;	  /* on vsock_dev.conns */
	struct vsock_link rlink;  /* on vsock_dev.ready, or linked to itself */
	struct vsock_link tlink;  /* on vsock_dev.connecting while the guest has not answered, or to itself */
	uint64_t deadline_ns;	  /* on (tlink): when the guest's answer is too late (CLOCK_MONOTONIC) */
	struct vsock_conn *hnext; /* hash chain, while (hashed) */
	bool hashed;
	enum conn_state state;
	int fd;		     /* the host socket; -1 once closed */
	uint32_t events;     /* what epoll watches on (fd) */
	uint32_t local_port; /* the host side's port */
	uint32_t peer_port;  /* the guest's */
	uint8_t pending;     /* P_* */
	uint8_t guest_shut;  /* SHUT_* the guest has sent */
	bool guest_gone;     /* the guest reset it: only draining to the host is left */
	bool readable;	     /* the socket may hold bytes or EOF for the guest; EPOLLIN is off meanwhile */
	bool host_eof;	     /* the host program shut its sending side: SHUTDOWN sent */
	bool hup;	     /* the socket hung up: out of epoll, read until EOF */
	bool wr_shut;	     /* shutdown(SHUT_WR) done, after the guest's SHUTDOWN SEND */
	bool rd_shut;	     /* shutdown(SHUT_RD) done, after the guest's SHUTDOWN RCV */
	bool credit_asked;   /* CREDIT_REQUEST sent since the guest last gave credit */
	/* Credit (virtio 1.2, 5.10.6.3): free-running counters that wrap at 2^32. */
	uint32_t peer_buf_alloc, peer_fwd_cnt; /* the guest's, from its last packet */
	uint32_t tx_cnt;		       /* bytes sent to the guest */
	uint32_t fwd_cnt;		       /* guest bytes the host socket has taken */
	uint32_t fwd_sent;		       /* fwd_cnt as last told to the guest */
	/* Guest bytes the socket has not taken yet: a ring of BUF_ALLOC, allocated only while in use. */
	uint8_t *buf;
	uint32_t head, len;
	uint8_t line_len;
	char line[CONNECT_LINE_MAX];
};

/* A packet header in host byte order. */
struct pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Lists */

static void list_init(struct vsock_link *l)
{
	l->prev = l;
	l->next = l;
}

static bool list_empty(const struct vsock_link *l)
{
	return l->next == l;
}

static void list_add_tail(struct vsock_link *head, struct vsock_link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

static void list_del(struct vsock_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	list_init(l);
}

/* Chains */

/* Copies the packet header out of the chain's device-readable bytes, once. Returns 0, or -1 when short. */
static int pkt_load(const struct virtq_chain *c, struct pkt *p)
{
	struct virtio_vsock_hdr h;

	if (virtq_chain_read(c, 0, &h, HDR_LEN) < 0)
		return -1;
	*p = (struct pkt){ .src_cid = le64toh(h.src_cid),
			   .dst_cid = le64toh(h.dst_cid),
			   .src_port = le32toh(h.src_port),
			   .dst_port = le32toh(h.dst_port),
			   .len = le32toh(h.len),
			   .type = le16toh(h.type),
			   .op = le16toh(h.op),
			   .flags = le32toh(h.flags),
			   .buf_alloc = le32toh(h.buf_alloc),
			   .fwd_cnt = le32toh(h.fwd_cnt) };
	return 0;
}

/* Writes the header (p) at the start of the chain's device-writable bytes (at least HDR_LEN of them). */
static void pkt_store(const struct virtq_chain *c, const struct pkt *p)
{
	struct virtio_vsock_hdr h = { .src_cid = htole64(p->src_cid),
				      .dst_cid = htole64(p->dst_cid),
				      .src_port = htole32(p->src_port),
				      .dst_port = htole32(p->dst_port),
				      .len = htole32(p->len),
				      .type = htole16(p->type),
				      .op = htole16(p->op),
				      .flags = htole32(p->flags),
				      .buf_alloc = htole32(p->buf_alloc),
				      .fwd_cnt = htole32(p->fwd_cnt) };

	virtq_chain_write(c, 0, &h, HDR_LEN);
}

/* A packet from the host side (local_port) to the guest's (peer_port). */
static struct pkt pkt_to_guest(const struct vsock_dev *v, uint32_t local_port, uint32_t peer_port,
			       uint16_t op)
{
	return (struct pkt){ .src_cid = VSOCK_HOST_CID,
			     .dst_cid = v->guest_cid,
			     .src_port = local_port,
			     .dst_port = peer_port,
			     .type = VIRTIO_VSOCK_TYPE_STREAM,
			     .op = op };
}

static void bad(struct vsock_dev *v, const char *what)
{
	atomic_fetch_add(&v->stats.bad_packets, 1);
	if (!atomic_flag_test_and_set(&v->warned))
		log_warn("vsock %s: the guest sent a malformed or unexpected packet (%s): dropped; "
			 "further ones are not logged",
			 v->uds_path, what);
}

/* Sends (iov) on socket (fd) without blocking or SIGPIPE. Returns bytes sent, or -1 with errno. */
static ssize_t send_iov(int fd, struct iovec *iov, int n)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	ssize_t r;

	do
		r = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	return r;
}

/* The connection table */

static unsigned int bucket(uint32_t local_port, uint32_t peer_port)
{
	uint32_t h = local_port * 0x9e3779b1u ^ peer_port * 0x85ebca6bu;

	return (h ^ h >> 16) & (HASH_SIZE - 1);
}

static struct vsock_conn *lookup(const struct vsock_dev *v, uint32_t local_port, uint32_t peer_port)
{
	struct vsock_conn *c = v->table[bucket(local_port, peer_port)];

	while (c && (c->local_port != local_port || c->peer_port != peer_port))
		c = c->hnext;
	return c;
}

static void hash_add(struct vsock_dev *v, struct vsock_conn *c)
{
	struct vsock_conn **head = &v->table[bucket(c->local_port, c->peer_port)];

	c->hnext = *head;
	*head = c;
	c->hashed = true;
}

static void hash_del(struct vsock_dev *v, struct vsock_conn *c)
{
	struct vsock_conn **p = &v->table[bucket(c->local_port, c->peer_port)];

	if (!c->hashed)
		return;
	while (*p != c)
		p = &(*p)->hnext;
	*p = c->hnext;
	c->hashed = false;
}

static bool port_in_use(const struct vsock_dev *v, uint32_t port)
{
	for (const struct vsock_link *l = v->conns.next; l != &v->conns; l = l->next) {
		const struct vsock_conn *c = container_of(l, const struct vsock_conn, link);

		if (c->hashed && c->local_port == port)
			return true;
	}
	return false;
}

/* A local port for a host-initiated connection: the next free one, round robin. */
static uint32_t host_port(struct vsock_dev *v)
{
	for (;;) {
		uint32_t port = v->next_host_port;

		v->next_host_port = port + 1 < 1u << 31 ? port + 1 : HOST_PORT_FIRST;
		if (!port_in_use(v, port))
			return port; /* at most VSOCK_MAX_CONNS ports are taken: it comes soon */
	}
}

/* Watches the listener (on) or not: with no fd left to accept into, its readiness would spin. */
static void listen_arm(struct vsock_dev *v, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.ptr = NULL };

	if (epoll_ctl(v->epoll_fd, EPOLL_CTL_MOD, v->listen_fd, &ev) == 0)
		v->listen_paused = !on;
}

/* Connections: life and death */

static struct vsock_conn *conn_new(struct vsock_dev *v, int fd, enum conn_state state, uint32_t events)
{
	struct vsock_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (!c || epoll_ctl(v->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c);
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->state = state;
	c->events = events;
	list_init(&c->rlink);
	list_init(&c->tlink);
	list_add_tail(&v->conns, &c->link);
	v->nr_conns++;
	atomic_fetch_add(&v->stats.conns, 1);
	return c;
}

/* Closes the host socket and drops the bytes still buffered for it. */
static void close_socket(struct vsock_dev *v, struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	if (!c->hup)
		epoll_ctl(v->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	atomic_fetch_sub(&v->stats.buffered, c->len);
	free(c->buf);
	c->buf = NULL;
	c->head = 0;
	c->len = 0;
}

static void conn_free(struct vsock_dev *v, struct vsock_conn *c)
{
	close_socket(v, c);
	hash_del(v, c);
	list_del(&c->rlink);
	list_del(&c->tlink);
	list_del(&c->link);
	free(c);
	v->nr_conns--;
	atomic_fetch_sub(&v->stats.conns, 1);
	if (v->listen_paused)
		listen_arm(v, true);
}

static void schedule(struct vsock_dev *v, struct vsock_conn *c)
{
	if (list_empty(&c->rlink))
		list_add_tail(&v->ready, &c->rlink);
}

/* Ends (c) from the host side: the socket closes and the guest gets an RST, if it knows of (c). */
static void conn_kill(struct vsock_dev *v, struct vsock_conn *c)
{
	close_socket(v, c);
	if (c->guest_gone || c->state == C_LINE || (c->state == C_CONNECTING && (c->pending & P_REQUEST))) {
		conn_free(v, c);
		return;
	}
	c->state = C_DEAD;
	c->pending = P_RST;
	list_del(&c->tlink);
	schedule(v, c);
}

/* An RST for a packet that matches no connection; dropped (and counted) when too many are owed. */
static void rst_queue(struct vsock_dev *v, uint32_t local_port, uint32_t peer_port)
{
	unsigned int i = (v->rst_head + v->rst_len) % VSOCK_RST_MAX;

	if (v->rst_len == VSOCK_RST_MAX) {
		atomic_fetch_add(&v->stats.rst_dropped, 1);
		return;
	}
	v->rst[i].local_port = local_port;
	v->rst[i].peer_port = peer_port;
	v->rst_len++;
}

/* Resets whatever the guest has at (local_port, peer_port): its connection, or nothing we know of. */
static void reset_key(struct vsock_dev *v, uint32_t local_port, uint32_t peer_port)
{
	struct vsock_conn *c = lookup(v, local_port, peer_port);

	if (c)
		conn_kill(v, c);
	else
		rst_queue(v, local_port, peer_port);
}

static void close_all(struct vsock_dev *v)
{
	while (!list_empty(&v->conns))
		conn_free(v, container_of(v->conns.next, struct vsock_conn, link));
	v->rst_head = 0;
	v->rst_len = 0;
}

/* Connections: state */

static uint32_t peer_free(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight < c->peer_buf_alloc ? c->peer_buf_alloc - in_flight : 0;
}

/* Whether host bytes may still go to the guest: established, the guest receives, no EOF yet. */
static bool can_read(const struct vsock_conn *c)
{
	return c->state == C_ESTABLISHED && !(c->guest_shut & SHUT_RCV) && !c->host_eof && !c->guest_gone;
}

/* Whether (c) has a packet for the guest now. */
static bool rx_work(const struct vsock_conn *c)
{
	return c->pending || (c->readable && can_read(c) && (peer_free(c) || !c->credit_asked));
}

/* Sets what epoll watches on (c)'s socket: what (c) waits for, no more (readiness is level-triggered). */
static void watch(struct vsock_dev *v, struct vsock_conn *c)
{
	uint32_t want = 0;
	struct epoll_event ev = { .data.ptr = c };

	if (c->fd < 0 || c->hup)
		return;
	if (c->state == C_LINE || (can_read(c) && !c->readable && peer_free(c)))
		want = EPOLLIN;
	if (c->len && !c->wr_shut)
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	ev.events = want;
	if (epoll_ctl(v->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

/* Passes the guest's shutdowns on to the socket: SEND once the bytes before it are out, RCV at once. */
static void shut_socket(struct vsock_conn *c)
{
	if (!c->len && (c->guest_shut & SHUT_SEND) && !c->wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = true;
	}
	if ((c->guest_shut & SHUT_RCV) && !c->rd_shut) {
		shutdown(c->fd, SHUT_RD); /* the host program's writes fail from now on, as on a stream */
		c->rd_shut = true;
	}
}

/*
 * After a change to (c): carry out what its state now implies (shut the socket's sending side, close
 * it, reset), watch its socket for what it waits on, and queue it if it owes the guest a packet.
 * (c) may be gone when it returns.
 */
static void settle(struct vsock_dev *v, struct vsock_conn *c)
{
	if (c->state == C_DEAD) {
		schedule(v, c);
		return;
	}
	if (!c->len && c->guest_gone) {
		conn_free(v, c);
		return;
	}
	shut_socket(c);
	/* The guest closed and its bytes are out, or the host side can take or give nothing more. */
	if ((!c->len && c->guest_shut == SHUT_BOTH) ||
	    (c->hup && c->state == C_ESTABLISHED && (c->len || !can_read(c))) ||
	    (c->hup && c->state == C_CONNECTING && (c->pending & P_REQUEST))) {
		conn_kill(v, c);
		return;
	}
	watch(v, c);
	if (rx_work(c))
		schedule(v, c);
}

/* Guest to host */

static void credit_check(struct vsock_conn *c)
{
	if (!(c->guest_shut & SHUT_SEND) && !c->guest_gone && c->fwd_cnt - c->fwd_sent >= CREDIT_STEP)
		c->pending |= P_CREDIT_UPDATE;
}

static void forwarded(struct vsock_conn *c, uint32_t n)
{
	c->fwd_cnt += n;
	credit_check(c);
}

/* Writes buffered guest bytes to the socket as far as it takes them. Returns 0, or -1 when it failed. */
static int flush(struct vsock_dev *v, struct vsock_conn *c)
{
	while (c->len) {
		uint32_t first = min_u32(c->len, BUF_ALLOC - c->head);
		struct iovec iov[2] = { { c->buf + c->head, first }, { c->buf, c->len - first } };
		ssize_t n = send_iov(c->fd, iov, c->len > first ? 2 : 1);

		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->head = (c->head + (uint32_t)n) % BUF_ALLOC;
		c->len -= (uint32_t)n;
		atomic_fetch_sub(&v->stats.buffered, (uint64_t)n);
		forwarded(c, (uint32_t)n);
	}
	free(c->buf);
	c->buf = NULL;
	c->head = 0;
	return 0;
}

/* Appends the bytes of (iov) past the first (skip) to (c)'s buffer, which has room. Returns 0 or -1. */
static int buffer_append(struct vsock_dev *v, struct vsock_conn *c, const struct iovec *iov, int n,
			 size_t skip)
{
	if (!c->buf && !(c->buf = malloc(BUF_ALLOC)))
		return -1;
	for (int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		if (skip >= left) {
			skip -= left;
			continue;
		}
		p += skip;
		left -= skip;
		skip = 0;
		while (left) {
			uint32_t tail = (c->head + c->len) % BUF_ALLOC;
			uint32_t take = min_u32((uint32_t)left, BUF_ALLOC - tail);

			memcpy(c->buf + tail, p, take);
			c->len += take;
			p += take;
			left -= take;
			atomic_fetch_add(&v->stats.buffered, take);
		}
	}
	return 0;
}

/*
 * An RW packet's (len) bytes: straight to the socket when nothing waits before them, the rest into the
 * buffer. Returns 0, or -1 when the connection must be reset.
 */
static int guest_data(struct vsock_dev *v, struct vsock_conn *c, const struct virtq_chain *ch, uint32_t len)
{
	struct iovec iov[VIRTQ_CHAIN_MAX];
	size_t done = 0;
	ssize_t sent;
	int n;

	if (c->state != C_ESTABLISHED || (c->guest_shut & SHUT_SEND)) {
		bad(v, "data on a connection not open for it");
		return -1;
	}
	if (len > BUF_ALLOC - c->len) {
		bad(v, "data beyond the credit kvmini gave");
		return -1;
	}
	n = virtq_chain_iov(ch, false, HDR_LEN, len, iov);
	if (n <= 0)
		return 0; /* no payload (len 0) */
	if (!c->len) {
		sent = send_iov(c->fd, iov, n);
		if (sent < 0 && errno != EAGAIN)
			return -1;
		if (sent > 0) {
			done = (size_t)sent;
			forwarded(c, (uint32_t)sent);
		}
	}
	if (done < len && buffer_append(v, c, iov, n, done) < 0)
		return -1;
	return 0;
}

/* The guest's listener took a host program's connection: tell the program, as Firecracker does. */
static int established(struct vsock_conn *c)
{
	char msg[24];
	int n = snprintf(msg, sizeof(msg), "OK %u\n", c->local_port);
	struct iovec iov = { msg, (size_t)n };

	c->state = C_ESTABLISHED;
	list_del(&c->tlink);
	return send_iov(c->fd, &iov, 1) == n ? 0 : -1;
}

/* The guest reset (c): close it, or, after an orderly SHUTDOWN SEND, let the host take what is buffered first. */
static void guest_reset(struct vsock_dev *v, struct vsock_conn *c)
{
	if (c->state == C_ESTABLISHED && (c->guest_shut & SHUT_SEND) && c->len && !c->hup) {
		c->guest_gone = true;
		c->pending = 0;
		hash_del(v, c); /* the guest may reuse the ports at once */
		settle(v, c);
		return;
	}
	conn_free(v, c);
}

/* A packet for an existing connection. Returns 0, or -1 when (c) must be reset. */
static int conn_op(struct vsock_dev *v, struct vsock_conn *c, const struct pkt *p,
		   const struct virtq_chain *ch)
{
	switch (p->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != C_CONNECTING || (c->pending & P_REQUEST)) {
			bad(v, "a RESPONSE to no request");
			return -1;
		}
		return established(c);
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (c->state != C_ESTABLISHED) {
			bad(v, "a SHUTDOWN before the connection was established");
			return -1;
		}
		c->guest_shut |= (uint8_t)(p->flags & SHUT_BOTH);
		return 0;
	case VIRTIO_VSOCK_OP_RW:
		return guest_data(v, c, ch, p->len);
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		return 0; /* the credit is in every header */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= P_CREDIT_UPDATE;
		return 0;
	default:
		bad(v,
		    p->op == VIRTIO_VSOCK_OP_REQUEST ? "a REQUEST on an open connection" : "an unknown op");
		return -1;
	}
}

static void conn_packet(struct vsock_dev *v, struct vsock_conn *c, const struct pkt *p,
			const struct virtq_chain *ch)
{
	if (c->state == C_DEAD) {
		if (p->op == VIRTIO_VSOCK_OP_RST)
			conn_free(v, c); /* no need to send ours */
		return;
	}
	if (p->op == VIRTIO_VSOCK_OP_RST) {
		guest_reset(v, c);
		return;
	}
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	if (peer_free(c))
		c->credit_asked = false;
	if (conn_op(v, c, p, ch) < 0) {
		conn_kill(v, c);
		return;
	}
	settle(v, c);
}

/* The guest connects to host port (p->dst_port): a host program listening on "<uds>_<port>", or an RST. */
static void guest_connect(struct vsock_dev *v, const struct pkt *p)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int fd = -1;

	if (v->nr_conns < VSOCK_MAX_CONNS)
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto refuse;
	/* vsock_open left room for the suffix. Unix sockets connect at once (EAGAIN: backlog full). */
	if (snprintf(addr.sun_path, sizeof(addr.sun_path), "%s_%u", v->uds_path, p->dst_port) >=
		    (int)sizeof(addr.sun_path) ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		goto refuse;
	}
	c = conn_new(v, fd, C_ESTABLISHED, 0);
	if (!c)
		goto refuse;
	c->local_port = p->dst_port;
	c->peer_port = p->src_port;
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	c->pending = P_RESPONSE;
	hash_add(v, c);
	settle(v, c);
	return;
refuse:
	rst_queue(v, p->dst_port, p->src_port);
}

/* Why the header (p) of chain (ch) cannot be taken, or NULL. */
static const char *pkt_check(const struct vsock_dev *v, const struct pkt *p, const struct virtq_chain *ch)
{
	if (p->len > ch->readable - HDR_LEN)
		return "a length beyond its payload";
	if (p->type != VIRTIO_VSOCK_TYPE_STREAM)
		return "a type other than stream";
	if (p->src_cid != v->guest_cid)
		return "a source CID other than the guest's";
	if (p->dst_cid != VSOCK_HOST_CID)
		return "a destination CID other than the host's";
	return NULL;
}

/* The tx queue: a packet from the guest. Nothing is written back to it. */
static int vsock_handle(void *opaque, unsigned int qi, const struct virtq_chain *ch, uint32_t *used)
{
	struct vsock_dev *v = opaque;
	struct vsock_conn *c;
	const char *why;
	struct pkt p;

	(void)qi;
	*used = 0;
	if (pkt_load(ch, &p) < 0) {
		bad(v, "shorter than a packet header");
		return 0;
	}
	why = pkt_check(v, &p, ch);
	if (why) {
		bad(v, why);
		if (p.op != VIRTIO_VSOCK_OP_RST)
			reset_key(v, p.dst_port, p.src_port);
		return 0;
	}
	c = lookup(v, p.dst_port, p.src_port);
	if (c)
		conn_packet(v, c, &p, ch);
	else if (p.op == VIRTIO_VSOCK_OP_REQUEST)
		guest_connect(v, &p);
	else if (p.op != VIRTIO_VSOCK_OP_RST)
		rst_queue(v, p.dst_port, p.src_port); /* a connection that is gone, or never was */
	return 0;
}

/* Host to guest */

/*
 * The next data packet from (c)'s socket, read straight into rx chain (ch) after the header: its op,
 * RW with (p->len) bytes, SHUTDOWN or RST at the end of the stream, CREDIT_REQUEST when the guest has no
 * room left; 0 when the socket has nothing now.
 */
static uint16_t read_data(struct vsock_dev *v, struct vsock_conn *c, const struct virtq_chain *ch,
			  struct pkt *p)
{
	struct iovec iov[VIRTQ_CHAIN_MAX];
	uint32_t want = min_u32(min_u32(peer_free(c), ch->writable - HDR_LEN), PKT_MAX);
	ssize_t n;
	int cnt;

	if (!want) {
		if (c->credit_asked)
			return 0;
		c->credit_asked = true;
		return VIRTIO_VSOCK_OP_CREDIT_REQUEST;
	}
	cnt = virtq_chain_iov(ch, true, HDR_LEN, want, iov); /* (ch) has (want) bytes past the header */
	do
		n = readv(c->fd, iov, cnt);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		p->len = (uint32_t)n;
		c->tx_cnt += (uint32_t)n;
		/* A short read emptied the socket; out of epoll (hup), read on until EOF. */
		if ((uint32_t)n < want && !c->hup)
			c->readable = false;
		return VIRTIO_VSOCK_OP_RW;
	}
	c->readable = false;
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n == 0 && !c->hup) {
		c->host_eof = true; /* the guest may still send: a half-close */
		p->flags = SHUT_SEND;
		return VIRTIO_VSOCK_OP_SHUTDOWN;
	}
	close_socket(v, c); /* gone altogether, or failed */
	c->state = C_DEAD;
	return VIRTIO_VSOCK_OP_RST;
}

/* Fills (ch) with the next packet (c) owes the guest. Returns its length, 0 for none; (c) may be gone. */
static uint32_t conn_emit(struct vsock_dev *v, struct vsock_conn *c, const struct virtq_chain *ch)
{
	struct pkt p = pkt_to_guest(v, c->local_port, c->peer_port, 0);

	if (c->pending & P_RST)
		p.op = VIRTIO_VSOCK_OP_RST;
	else if (c->pending & P_REQUEST)
		p.op = VIRTIO_VSOCK_OP_REQUEST;
	else if (c->pending & P_RESPONSE)
		p.op = VIRTIO_VSOCK_OP_RESPONSE;
	else if (c->readable && can_read(c))
		p.op = read_data(v, c, ch, &p);
	if (!p.op && (c->pending & P_CREDIT_UPDATE))
		p.op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	if (!p.op) {
		settle(v, c);
		return 0;
	}
	/* Every header carries the credit: no CREDIT_UPDATE is owed after this one. */
	c->pending &= (uint8_t) ~(P_REQUEST | P_RESPONSE | P_CREDIT_UPDATE);
	p.buf_alloc = BUF_ALLOC;
	p.fwd_cnt = c->fwd_cnt;
	c->fwd_sent = c->fwd_cnt;
	pkt_store(ch, &p);
	if (p.op == VIRTIO_VSOCK_OP_RST)
		conn_free(v, c);
	else
		settle(v, c);
	return HDR_LEN + p.len;
}

static uint32_t emit_rst(struct vsock_dev *v, const struct virtq_chain *ch)
{
	struct pkt p = pkt_to_guest(v, v->rst[v->rst_head].local_port, v->rst[v->rst_head].peer_port,
				    VIRTIO_VSOCK_OP_RST);

	v->rst_head = (v->rst_head + 1) % VSOCK_RST_MAX;
	v->rst_len--;
	pkt_store(ch, &p);
	return HDR_LEN;
}

/* Fills rx chain (ch) with the next packet owed: RSTs for strays first, then connections in turn. */
static uint32_t emit(struct vsock_dev *v, const struct virtq_chain *ch)
{
	struct vsock_conn *c;

	if (v->rst_len)
		return emit_rst(v, ch);
	c = container_of(v->ready.next, struct vsock_conn, rlink);
	list_del(&c->rlink); /* settle() queues it again, at the back, when it has more */
	return conn_emit(v, c, ch);
}

/*
 * Fills rx buffers while packets are owed, up to a budget. Returns true when some are still owed and
 * buffers may be left; (stalled) says the driver has posted none (its next rx kick calls io() again).
 */
static bool fill_rx(struct vsock_dev *v, struct virtio_worker *w, bool *stalled)
{
	struct virtq_chain *ch = &v->rx_chain;
	bool pushed = false;

	*stalled = false;
	for (unsigned int budget = RX_BUDGET; budget && (v->rst_len || !list_empty(&v->ready)); budget--) {
		uint32_t len = 0;

		if (virtio_worker_pop(w, VSOCK_RXQ, ch) <= 0) {
			*stalled = true;
			break;
		}
		if (ch->writable <= HDR_LEN) {
			bad(v, "an rx buffer too small for a packet");
		} else if (!(len = emit(v, ch))) {
			virtio_worker_unpop(w, VSOCK_RXQ, 1);
			continue;
		}
		virtio_worker_push(w, VSOCK_RXQ, ch->head, len);
		pushed = true;
	}
	if (pushed)
		virtio_worker_notify(w, VSOCK_RXQ);
	virtio_worker_want_io(w, !*stalled);
	return !*stalled && (v->rst_len || !list_empty(&v->ready));
}

/* Host sockets */

/*
 * Parses a connect line as Firecracker does: white-space separated words, the first "connect" in any
 * case, the second a decimal port; further words are ignored. Returns 0 or -1.
 */
static int parse_connect(const char *s, size_t len, uint32_t *port)
{
	const char *end = s + len, *digits;
	uint64_t val = 0;

	while (s < end && isspace((unsigned char)*s))
		s++;
	if (end - s < 8 || strncasecmp(s, "connect", 7) || !isspace((unsigned char)s[7]))
		return -1;
	for (s += 7; s < end && isspace((unsigned char)*s); s++)
		;
	if (s < end && *s == '+')
		s++;
	for (digits = s; s < end && isdigit((unsigned char)*s) && val <= UINT32_MAX; s++)
		val = val * 10 + (uint64_t)(*s - '0');
	if (s == digits || val > UINT32_MAX || (s < end && !isspace((unsigned char)*s)))
		return -1;
	*port = (uint32_t)val;
	return 0;
}

/* Connect deadlines */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sets the timer to the oldest deadline, or stops it when none is left. */
static void timer_arm(struct vsock_dev *v)
{
	struct itimerspec its = { 0 };

	if (!list_empty(&v->connecting)) {
		uint64_t at = container_of(v->connecting.next, struct vsock_conn, tlink)->deadline_ns;

		its.it_value = (struct timespec){ .tv_sec = (time_t)(at / 1000000000u),
						  .tv_nsec = (long)(at % 1000000000u) };
	}
	if (timerfd_settime(v->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_warn("vsock %s: cannot set the connect timer: %s; an unanswered connection waits for "
			 "its program to close it",
			 v->uds_path, strerror(errno));
}

/* (c) has asked the guest: it has VSOCK_CONNECT_TIMEOUT_MS to answer. All wait as long: FIFO is in order. */
static void deadline_set(struct vsock_dev *v, struct vsock_conn *c)
{
	bool first = list_empty(&v->connecting);

	c->deadline_ns = now_ns() + (uint64_t)v->connect_timeout_ms * 1000000u;
	list_add_tail(&v->connecting, &c->tlink);
	if (first)
		timer_arm(v);
}

/* The timer fired: connections past their deadline are closed, and reset in the guest if it had the REQUEST. */
static void deadlines_check(struct vsock_dev *v)
{
	uint64_t now = now_ns(), expirations;

	if (read(v->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn("vsock %s: cannot read the connect timer: %s", v->uds_path, strerror(errno));
	while (!list_empty(&v->connecting)) {
		struct vsock_conn *c = container_of(v->connecting.next, struct vsock_conn, tlink);

		if (c->deadline_ns > now)
			break;
		atomic_fetch_add(&v->stats.connect_timeouts, 1);
		log_info("vsock %s: the guest did not answer a connection to its port %u within %u ms: "
			 "closed it",
			 v->uds_path, c->peer_port, v->connect_timeout_ms);
		conn_kill(v, c); /* off (connecting) */
	}
	timer_arm(v);
}

/*
 * Reads the connect line, never past its newline: what follows is the stream's. Returns 1 when the
 * line is complete, 0 when more must come, -1 when it cannot be (closed, failed, too long).
 */
static int line_read(struct vsock_conn *c)
{
	char *at = c->line + c->line_len;
	ssize_t n = recv(c->fd, at, CONNECT_LINE_MAX - c->line_len, MSG_PEEK | MSG_DONTWAIT);
	const char *nl;
	size_t take;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	nl = memchr(at, '\n', (size_t)n);
	take = nl ? (size_t)(nl - at) + 1 : (size_t)n;
	if (recv(c->fd, at, take, MSG_DONTWAIT) != (ssize_t)take)
		return -1;
	c->line_len = (uint8_t)(c->line_len + take);
	if (nl)
		return 1;
	return c->line_len == CONNECT_LINE_MAX ? -1 : 0;
}

static void line_event(struct vsock_dev *v, struct vsock_conn *c)
{
	uint32_t port;
	int r = line_read(c);

	if (r == 0 && !c->hup)
		return;
	if (r <= 0 || parse_connect(c->line, c->line_len, &port) < 0) {
		if (r > 0 || c->line_len == CONNECT_LINE_MAX)
			log_warn(
				"vsock %s: a host program's first line was not \"CONNECT <port>\": closed it; "
				"a program sends that line, then reads \"OK <hostport>\"",
				v->uds_path);
		conn_free(v, c);
		return;
	}
	c->local_port = host_port(v);
	c->peer_port = port;
	c->state = C_CONNECTING;
	c->pending = P_REQUEST;
	hash_add(v, c);
	deadline_set(v, c);
	settle(v, c);
}

static void conn_event(struct vsock_dev *v, struct vsock_conn *c, uint32_t events)
{
	if (events & (EPOLLHUP | EPOLLERR)) {
		/* Reported whatever we ask for: the socket leaves epoll, and is read until EOF. */
		epoll_ctl(v->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
		c->hup = true;
		c->readable = true;
	}
	if (c->state == C_LINE) {
		line_event(v, c);
		return;
	}
	if (events & EPOLLIN)
		c->readable = true;
	if (c->len && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && flush(v, c) < 0) {
		conn_kill(v, c);
		return;
	}
	settle(v, c);
}

/* Accepts host programs' connections, a bounded number. Returns true when more may be waiting. */
static bool accept_conns(struct vsock_dev *v)
{
	for (unsigned int i = 0; i < ACCEPT_MAX; i++) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int err = errno;

		if (fd < 0 && (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)) {
			log_warn(
				"vsock %s: cannot accept a host connection: %s; new ones wait until one closes",
				v->uds_path, strerror(err));
			listen_arm(v, false);
		}
		if (fd < 0)
			return err == EINTR || err == ECONNABORTED;
		if (v->nr_conns >= VSOCK_MAX_CONNS) {
			close(fd); /* as Firecracker: accepted, so that the listener does not stay ready */
			continue;
		}
		conn_new(v, fd, C_LINE, EPOLLIN);
	}
	return true;
}

/* Takes the events of the sockets, a bounded number. Returns true when more may be waiting. */
static bool poll_events(struct vsock_dev *v)
{
	struct epoll_event ev[EVENTS_MAX];
	bool more = false;
	int n = epoll_wait(v->epoll_fd, ev, EVENTS_MAX, 0);

	/* One event per fd: handling one frees no connection but its own. */
	for (int i = 0; i < n; i++) {
		if (!ev[i].data.ptr)
			more |= accept_conns(v);
		else if (ev[i].data.ptr == &v->connecting)
			deadlines_check(v);
		else
			conn_event(v, ev[i].data.ptr, ev[i].events);
	}
	return more || n == EVENTS_MAX;
}

/* The model */

static int vsock_start(void *opaque, struct virtio_worker *w, uint64_t features)
{
	struct vsock_dev *v = opaque;

	(void)w;
	v->features = features;
	return v->epoll_fd;
}

static bool vsock_io(void *opaque, struct virtio_worker *w, bool ready)
{
	struct vsock_dev *v = opaque;
	bool more, stalled;

	(void)ready; /* the epoll set is looked at every time: an rx kick or a tx packet may also free the way */
	more = poll_events(v);
	return fill_rx(v, w, &stalled) || (more && !stalled);
}

/* The driver reset the device or the VM is going: no connection outlives it. */
static void vsock_stop(void *opaque)
{
	close_all(opaque);
}

static void vsock_describe(void *opaque, const struct virtio_worker *w)
{
	struct vsock_dev *v = opaque;

	log_info("vsock: %" PRIu64 " connections open, %" PRIu64 " bytes held for host sockets, %" PRIu64
		 " bad packets, %" PRIu64 " RSTs not sent, %" PRIu64
		 " connections unanswered; host sockets %s",
		 (uint64_t)atomic_load(&v->stats.conns), (uint64_t)atomic_load(&v->stats.buffered),
		 (uint64_t)atomic_load(&v->stats.bad_packets), (uint64_t)atomic_load(&v->stats.rst_dropped),
		 (uint64_t)atomic_load(&v->stats.connect_timeouts),
		 w->io_wanted ? "polled" : "not polled (waiting for the driver's rx buffers)");
}

void vsock_config_read(const struct vsock_dev *v, uint64_t off, void *data, uint32_t len)
{
	struct virtio_vsock_config cfg = { .guest_cid = htole64(v->guest_cid) };

	memset(data, 0, len);
	if (off < sizeof(cfg))
		memcpy(data, (const uint8_t *)&cfg + off, min_u32(len, (uint32_t)(sizeof(cfg) - off)));
}

static void pci_config_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	vsock_config_read(opaque, off, data, len);
}

void vsock_device(struct vsock_dev *v, const char *name, struct virtio_device *c)
{
	*c = (struct virtio_device){
		.name = name,
		.device_id = VIRTIO_ID_VSOCK,
		.features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) |
			    (1ULL << VIRTIO_RING_F_INDIRECT_DESC),
		.nr_queues = 3,
		.worker_per_queue = false,
		.queue_max = VSOCK_QUEUE_SIZE,
		.config_len = sizeof(struct virtio_vsock_config),
		.config_read = pci_config_read,
		/* The event queue is never filled: kvmini has no transport events to tell. */
		.model = { .name = name,
			   .handle = vsock_handle,
			   .rx_queues = (1u << VSOCK_RXQ) | (1u << VSOCK_EVQ),
			   .start = vsock_start,
			   .io = vsock_io,
			   .stop = vsock_stop,
			   .describe = vsock_describe,
			   .opaque = v },
	};
}

/* Opening */

/* Whether a socket can be made at (path): its length, its directory, what is there now. Returns 0 or -errno. */
static int check_path(const char *path)
{
	size_t len = strlen(path);
	char dir[VSOCK_UDS_PATH_MAX];
	struct stat st;

	if (!len || len > PATH_LEN_MAX) {
		log_err("vsock socket path \"%s\" is %s: at most %d bytes leave room for the \"_<port>\" of the "
			"sockets guests connect to; pick a shorter path",
			path, len ? "too long" : "empty", PATH_LEN_MAX);
		return len ? -ENAMETOOLONG : -EINVAL;
	}
	sockpath_dir(path, dir, sizeof(dir));
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_err("vsock socket path %s: directory %s does not exist: create it or pick another path",
			path, dir);
		return -ENOENT;
	}
	if (lstat(path, &st) == 0)
		return sockpath_replace_stale("vsock socket path", path, &st);
	if (errno != ENOENT) {
		log_err("vsock socket path %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Undoes mountinfo's octal escapes (a space is written \040) in place. */
static void unescape_mount(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/*
 * The type of the file system holding (dir), from the mount that covers it in /proc/self/mountinfo,
 * into (type); "" when unknown. statfs() will not do: 9p passes the host file system's type through.
 */
static void fs_type_of(const char *dir, char *type, size_t len)
{
	char real[PATH_MAX], line[4096], mnt[PATH_MAX], fstype[64];
	size_t best = 0;
	FILE *f;

	type[0] = '\0';
	if (!realpath(dir, real) || !(f = fopen("/proc/self/mountinfo", "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		const char *dash = strstr(line, " - ");
		size_t n;

		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(dash + 3, "%63s", fstype) != 1)
			continue;
		unescape_mount(mnt);
		n = strlen(mnt);
		/* The longest mount point above (real) covers it; of equal ones, the last mounted. */
		if (n >= best && strncmp(real, mnt, n) == 0 &&
		    (n == 1 || real[n] == '/' || real[n] == '\0')) {
			best = n;
			snprintf(type, len, "%s", fstype);
		}
	}
	fclose(f);
}

/* Shared and network file systems that cannot hold a Unix socket, by mount type; NULL for others. */
static const char *socketless_fs(const char *dir)
{
	static const char *const kinds[][2] = {
		{ "9p", "9p" },
		{ "cifs", "CIFS/SMB" },
		{ "smb3", "CIFS/SMB" },
		{ "vboxsf", "VirtualBox shared folder" },
	};
	char type[64];

	fs_type_of(dir, type, sizeof(type));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(type, kinds[i][0]) == 0)
			return kinds[i][1];
	return NULL;
}

/* Why bind() at (path) failed with (err), and what to do. */
static void explain_bind(const char *path, int err)
{
	char dir[VSOCK_UDS_PATH_MAX];
	const char *fs;

	sockpath_dir(path, dir, sizeof(dir));
	fs = socketless_fs(dir);
	if (fs)
		log_err("vsock socket path %s: the file system holding %s (%s) cannot hold Unix sockets (%s): "
			"put the socket in a local directory such as /tmp",
			path, dir, fs, strerror(err));
	else if (err == EACCES || err == EROFS)
		log_err("vsock socket path %s: cannot create a file in %s (%s): pick a directory you can write",
			path, dir, strerror(err));
	else
		log_err("vsock socket path %s: cannot create the socket (%s); if %s is on a shared or network "
			"file system, put the socket in a local directory such as /tmp",
			path, strerror(err), dir);
}

static int listen_on(struct vsock_dev *v, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct epoll_event tev = { .events = EPOLLIN, .data.ptr = &v->connecting };
	int err;

	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (v->listen_fd < 0)
		return -errno;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (bind(v->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = errno;
		explain_bind(path, err);
		return -err;
	}
	memcpy(v->uds_path, path, strlen(path) + 1); /* ours now: vsock_close removes it */
	v->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (listen(v->listen_fd, 128) < 0 || v->epoll_fd < 0 || v->timer_fd < 0 ||
	    epoll_ctl(v->epoll_fd, EPOLL_CTL_ADD, v->listen_fd, &ev) < 0 ||
	    epoll_ctl(v->epoll_fd, EPOLL_CTL_ADD, v->timer_fd, &tev) < 0) {
		err = errno;
		log_err("vsock %s: cannot listen: %s", path, strerror(err));
		return -err;
	}
	return 0;
}

int vsock_open(struct vsock_dev *v, uint64_t guest_cid, const char *uds_path)
{
	int ret;

	memset(v, 0, sizeof(*v));
	atomic_flag_clear(&v->warned);
	v->dir_fd = -1;
	v->listen_fd = -1;
	v->epoll_fd = -1;
	v->timer_fd = -1;
	v->connect_timeout_ms = VSOCK_CONNECT_TIMEOUT_MS;
	list_init(&v->conns);
	list_init(&v->ready);
	list_init(&v->connecting);
	v->next_host_port = HOST_PORT_FIRST;
	if (guest_cid < 3 || guest_cid > UINT32_MAX - 1) {
		log_err("vsock guest CID %llu is reserved or too large: pick one from 3 to 4294967294",
			(unsigned long long)guest_cid);
		return -EINVAL;
	}
	v->guest_cid = guest_cid;
	v->table = calloc(HASH_SIZE, sizeof(*v->table));
	if (!v->table)
		return -ENOMEM;
	ret = check_path(uds_path);
	if (!ret) {
		v->dir_fd = sockpath_dir_open(uds_path);
		ret = v->dir_fd < 0 ? v->dir_fd : 0;
		if (ret)
			log_err("vsock socket path %s: cannot open its directory: %s", uds_path,
				strerror(-ret));
	}
	if (!ret)
		ret = listen_on(v, uds_path);
	if (ret)
		vsock_close(v);
	return ret;
}

void vsock_close(struct vsock_dev *v)
{
	if (v->conns.next)
		close_all(v);
	if (v->epoll_fd >= 0)
		close(v->epoll_fd);
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	if (v->listen_fd >= 0)
		close(v->listen_fd);
	if (v->uds_path[0] && v->dir_fd >= 0)
		unlinkat(v->dir_fd, sockpath_name(v->uds_path), 0);
	if (v->dir_fd >= 0)
		close(v->dir_fd);
	v->dir_fd = -1;
	free(v->table);
	v->table = NULL;
	v->epoll_fd = -1;
	v->timer_fd = -1;
	v->listen_fd = -1;
	v->uds_path[0] = '\0';
}
