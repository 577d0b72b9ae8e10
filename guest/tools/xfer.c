/* xfer.c: send, receive, echo and check patterned byte streams over TCP, AF_VSOCK and hybrid vsock. */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "tools.h"

/*
 * The data a sender writes is the pattern of a SEED: byte i is byte (i % 8),
 * little-endian, of mix(SEED, i / 8), the SplitMix64 finaliser blkpattern uses
 * too, so a lost, repeated or misplaced chunk shows and any side can recompute
 * any part of the stream.  Both ends take the CRC-32 (IEEE, as zlib's crc32)
 * of what they moved, so a test can compare one line from each side.
 *
 * An address is listen-style (tcp::PORT, tcp:0.0.0.0:PORT, vsock::PORT,
 * unix:PATH) or connect-style (tcp:HOST:PORT, vsock:CID:PORT, fc:PATH:PORT).
 * send, recv and stall take either: they listen and accept, or connect.  echo
 * only listens; many, connect and refuse only connect (unix:PATH there is a plain
 * connect to PATH).  fc: is the host side of Firecracker's hybrid vsock:
 * connect to the Unix socket, write "CONNECT PORT\n", and expect one line
 * "OK N\n" before the stream; anything else means the guest refused.  A host
 * program that guest connections to host port P reach listens on "<uds>_P":
 * that is unix:PATH.
 *
 * Every result is one line starting "XFER " on stdout (line-buffered, so
 * flushed as written); diagnostics go to stderr.  Exit status: 0 success, 1
 * failure or timeout, 2 usage, 3 refused.
 */

#define EXIT_FAILED	1
#define EXIT_USAGE	2
#define EXIT_REFUSED	3
#define REFUSED		(-2) /* from the connect helpers: the peer refused, reset or closed */
#define BUF_SIZE	(64 * 1024)
#define KEEP_MAX	4096 /* the first bytes a sender keeps of the peer's reply, to print */
#define MIB		(1024ULL * 1024)
#define MAX_CONNS	4096
#define MAX_ARGS	4
#define FC_LINE_MAX	64
#define THREAD_STACK	(256 * 1024)
#define NO_BAD		UINT64_MAX
#define DEFAULT_TIMEOUT 120

enum addr_kind {
	ADDR_TCP,
	ADDR_VSOCK,
	ADDR_FC,
	ADDR_UNIX,
};

struct addr {
	enum addr_kind kind;
	bool listen; /* listen-style */
	const char *text;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_vm vm;
		struct sockaddr_un un;
	} sa;
	socklen_t salen;
	unsigned int fc_port; /* fc: the port of the CONNECT line */
};

struct opts {
	unsigned int timeout;
	bool progress;
	bool bench;
	bool expect;
	uint64_t expect_bytes, expect_seed;
	const char *cmd;
	char *args[MAX_ARGS];
	int nargs;
};

/* What a reader saw: count, CRC, the first bytes, and where it first left the expected pattern. */
struct sink {
	uint64_t bytes;
	uint32_t crc;
	bool nocrc; /* --bench: count only */
	bool verify;
	uint64_t seed, expect;
	uint64_t bad;  /* the first offset that differs from the pattern (or the length), or NO_BAD */
	uint8_t *want; /* BUF_SIZE bytes of scratch, when verify */
	char keep[KEEP_MAX];
	size_t nkeep;
};

/* One connection that writes a pattern and reads at the same time (send and many). */
struct duplex {
	int fd;
	uint64_t bytes, seed; /* what to send */
	bool progress;
	bool bench; /* the first BUF_SIZE bytes of pattern over and over, no CRC */
	uint64_t sent;
	uint32_t sent_crc;
	struct sink in;
	uint8_t *out, *inbuf; /* BUF_SIZE each */
	const char *what;     /* the call that failed */
};

static uint32_t crc_table[8][256];

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xfer [--timeout SECONDS] COMMAND ARGS... [OPTIONS]\n"
		"  send ADDR BYTES SEED    write BYTES of the pattern of SEED, shut down writes and read the reply to\n"
		"                          EOF: XFER peer LINE (each line, if it is short text) or XFER peer-data\n"
		"                          bytes= crc=; then XFER sent bytes= crc= secs= MBps=\n"
		"      --progress          XFER progress bytes=N on stderr at each MiB written\n"
		"  recv ADDR [COUNT]       COUNT connections (default 1) one after another: read to EOF, answer\n"
		"                          \"bytes=N crc=HEX\\n\", close: XFER recvd bytes= crc= secs= MBps=\n"
		"      --expect BYTES SEED also check the data: XFER ok, or XFER mismatch at OFFSET (exit 1)\n"
		"      --bench             (send and recv) no pattern or CRC, to measure the transport: the sender\n"
		"                          repeats its first 64 KiB; crc=- in the lines\n"
		"  echo ADDR [COUNT]       listen; a thread per connection copies what it reads back until EOF\n"
		"                          (COUNT connections, default no limit): XFER echo-ready, then\n"
		"                          XFER echoed conn= bytes= for each, XFER echo done conns= failed= at COUNT\n"
		"  many ADDR N BYTES       N concurrent connections, number i sending BYTES of the pattern of i and\n"
		"                          checking its echo: XFER many ok=K failed=F\n"
		"  connect ADDR N          N connections one after another, each sending one byte to an echo and\n"
		"                          reading it back: XFER connect n= min_us= median_us= p99_us= max_us=\n"
		"  stall ADDR SECONDS      read nothing for SECONDS, then to EOF; answer as recv: XFER stall bytes= crc=\n"
		"  refuse ADDR             XFER refused (exit 0) when the connection is refused or reset, or fc: gets\n"
		"                          no OK line; else XFER connected (exit 1)\n"
		"ADDR  tcp:HOST:PORT, vsock:CID:PORT, fc:PATH:PORT (hybrid vsock, host side) connect;\n"
		"      tcp::PORT, tcp:0.0.0.0:PORT, vsock::PORT, unix:PATH listen, saying XFER listening ADDR first\n"
		"      (echo only listens; many, connect and refuse only connect, unix:PATH as a plain connect).\n"
		"BYTES takes K, M, G suffixes; MBps is 10^6 bytes a second.  --timeout: for the whole run (default\n"
		"%d, 0 none); then XFER timeout on stderr, exit 1.  Exit: 0 ok, 1 failed, 2 usage, 3 refused.\n",
		DEFAULT_TIMEOUT);
}

/* crc_init: the tables of slicing-by-8 CRC-32 (IEEE 802.3, reflected polynomial 0xedb88320). */
static void crc_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320U ^ (c >> 1) : c >> 1;
		crc_table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++) {
		for (int t = 1; t < 8; t++)
			crc_table[t][n] =
				(crc_table[t - 1][n] >> 8) ^ crc_table[0][crc_table[t - 1][n] & 0xff];
	}
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* crc32_update: (crc), the CRC-32 of the bytes so far (0 for none), extended by the (len) bytes at (p). */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	for (; len >= 8; p += 8, len -= 8) {
		uint32_t lo = crc ^ le32(p), hi = le32(p + 4);

		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^
		      crc_table[2][(hi >> 8) & 0xff] ^ crc_table[1][(hi >> 16) & 0xff] ^
		      crc_table[0][hi >> 24];
	}
	while (len--)
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* sink_init: (s) for a new stream; checked against (expect) bytes of pattern (seed) when (verify). Returns
 * 0, or -ENOMEM after saying so. */
static int sink_init(struct sink *s, bool verify, uint64_t expect, uint64_t seed)
{
	s->bytes = 0;
	s->crc = 0;
	s->verify = verify;
	s->expect = expect;
	s->seed = seed;
	s->bad = NO_BAD;
	s->nkeep = 0;
	s->nocrc = false;
	s->want = NULL;
	if (verify && !(s->want = malloc(BUF_SIZE))) {
		fprintf(stderr, "xfer: out of memory\n");
		return -ENOMEM;
	}
	return 0;
}

static void sink_free(struct sink *s)
{
	free(s->want);
	s->want = NULL;
}

/* sink_feed: the next (n) bytes, at most BUF_SIZE, of the stream, at (p). */
static void sink_feed(struct sink *s, const uint8_t *p, size_t n)
{
	if (!s->nocrc)
		s->crc = crc32_update(s->crc, p, n);
	if (s->nkeep < KEEP_MAX) {
		size_t k = n < KEEP_MAX - s->nkeep ? n : KEEP_MAX - s->nkeep;

		memcpy(s->keep + s->nkeep, p, k);
		s->nkeep += k;
	}
	if (s->verify && s->bad == NO_BAD) {
		uint64_t off = s->bytes;
		size_t m = off >= s->expect ? 0 : (s->expect - off < n ? (size_t)(s->expect - off) : n);

		tools_pattern(s->want, s->seed, off, m);
		if (memcmp(s->want, p, m)) {
			size_t i = 0;

			while (s->want[i] == p[i])
				i++;
			s->bad = off + i;
		} else if (m < n) {
			s->bad = off + m; /* more than expected */
		}
	}
	s->bytes += n;
}

/* sink_end: the stream ended; a verified one that stopped short differs at its end. */
static void sink_end(struct sink *s)
{
	if (s->verify && s->bad == NO_BAD && s->bytes < s->expect)
		s->bad = s->bytes;
}

static void on_alarm(int sig)
{
	static const char msg[] = "XFER timeout\n";
	ssize_t r;

	(void)sig;
	r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	_exit(EXIT_FAILED);
}

static int parse_u32(const char *s, uint64_t max, unsigned int *out)
{
	uint64_t v;

	if (tools_parse_u64(s, 0, false, &v) || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* parse_tcp: HOST:PORT (HOST empty, 0.0.0.0 or [::] to listen; [v6] in brackets) into (a). */
static int parse_tcp(char *spec, struct addr *a)
{
	char *colon = strrchr(spec, ':'), *host = spec;
	unsigned int port;
	size_t hl;

	if (!colon || parse_u32(colon + 1, 65535, &port))
		return -EINVAL;
	*colon = '\0';
	hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		host++;
	}
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	memset(&a->sa, 0, sizeof(a->sa));
	if (*host == '\0' || inet_pton(AF_INET, host, &a->sa.in.sin_addr) == 1) {
		a->sa.in.sin_family = AF_INET;
		a->sa.in.sin_port = htons((uint16_t)port);
		a->salen = sizeof(a->sa.in);
		a->listen = a->sa.in.sin_addr.s_addr == htonl(INADDR_ANY);
	} else if (inet_pton(AF_INET6, host, &a->sa.in6.sin6_addr) == 1) {
		a->sa.in6.sin6_family = AF_INET6;
		a->sa.in6.sin6_port = htons((uint16_t)port);
		a->salen = sizeof(a->sa.in6);
		a->listen = memcmp(&a->sa.in6.sin6_addr, &in6addr_any, sizeof(in6addr_any)) == 0;
	} else {
		return -EINVAL; /* numeric addresses only: a static binary has no resolver */
	}
	return 0;
}

static int set_unix_path(struct addr *a, const char *path)
{
	if (*path == '\0' || strlen(path) >= sizeof(a->sa.un.sun_path))
		return -EINVAL;
	memset(&a->sa, 0, sizeof(a->sa));
	a->sa.un.sun_family = AF_UNIX;
	strcpy(a->sa.un.sun_path, path);
	a->salen = sizeof(a->sa.un);
	return 0;
}

/* parse_addr: (text) into (a). Returns 0, or -EINVAL after saying why. */
static int parse_addr(const char *text, struct addr *a)
{
	char spec[sizeof(a->sa.un.sun_path) + 32];
	char *colon;
	unsigned int cid, port;
	int ret = -EINVAL;

	memset(a, 0, sizeof(*a));
	a->text = text;
	if (strlen(text) >= sizeof(spec))
		goto bad;
	if (strncmp(text, "tcp:", 4) == 0) {
		a->kind = ADDR_TCP;
		strcpy(spec, text + 4);
		ret = parse_tcp(spec, a);
	} else if (strncmp(text, "vsock:", 6) == 0) {
		a->kind = ADDR_VSOCK;
		strcpy(spec, text + 6);
		colon = strchr(spec, ':');
		if (!colon || parse_u32(colon + 1, UINT32_MAX, &port))
			goto bad;
		*colon = '\0';
		a->listen = spec[0] == '\0';
		if (a->listen)
			cid = VMADDR_CID_ANY;
		else if (parse_u32(spec, UINT32_MAX, &cid))
			goto bad;
		a->sa.vm.svm_family = AF_VSOCK;
		a->sa.vm.svm_cid = cid;
		a->sa.vm.svm_port = port;
		a->salen = sizeof(a->sa.vm);
		ret = 0;
	} else if (strncmp(text, "fc:", 3) == 0) {
		a->kind = ADDR_FC;
		strcpy(spec, text + 3);
		colon = strrchr(spec, ':');
		if (!colon || parse_u32(colon + 1, UINT32_MAX, &a->fc_port))
			goto bad;
		*colon = '\0';
		ret = set_unix_path(a, spec);
	} else if (strncmp(text, "unix:", 5) == 0) {
		a->kind = ADDR_UNIX;
		a->listen = true;
		ret = set_unix_path(a, text + 5);
	}
	if (ret == 0)
		return 0;
bad:
	fprintf(stderr,
		"xfer: bad address '%s' (tcp:HOST:PORT with a numeric HOST, tcp::PORT, vsock:CID:PORT, "
		"vsock::PORT, fc:PATH:PORT, unix:PATH)\n",
		text);
	return -EINVAL;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* read_all: feed what (fd) gives to (s) until EOF, through (buf) of BUF_SIZE. Returns 0 or -errno. */
static int read_all(int fd, struct sink *s, uint8_t *buf)
{
	for (;;) {
		ssize_t n = read(fd, buf, BUF_SIZE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		sink_feed(s, buf, (size_t)n);
	}
	sink_end(s);
	return 0;
}

/* fc_handshake: "CONNECT PORT\n" on (fd), then one line that must be "OK N\n". Returns 0 or REFUSED. */
static int fc_handshake(int fd, const struct addr *a)
{
	char cmd[32], line[FC_LINE_MAX];
	size_t n = 0;
	int len = snprintf(cmd, sizeof(cmd), "CONNECT %u\n", a->fc_port);
	const char *p;
	int ret;

	ret = write_all(fd, cmd, (size_t)len);
	if (ret) {
		fprintf(stderr, "xfer: %s: writing CONNECT: %s\n", a->text, strerror(-ret));
		return REFUSED;
	}
	/* A byte at a time: the stream starts right after the line. */
	while (n == 0 || line[n - 1] != '\n') {
		ssize_t r = read(fd, line + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "xfer: %s: %s after %zu bytes of the answer to CONNECT\n", a->text,
				r ? strerror(errno) : "EOF", n);
			return REFUSED;
		}
		if (++n == sizeof(line)) {
			fprintf(stderr, "xfer: %s: answer to CONNECT too long\n", a->text);
			return REFUSED;
		}
	}
	line[n] = '\0';
	p = line + 3;
	if (strncmp(line, "OK ", 3) == 0 && *p >= '0' && *p <= '9') {
		while (*p >= '0' && *p <= '9')
			p++;
		if (strcmp(p, "\n") == 0)
			return 0;
	}
	fprintf(stderr, "xfer: %s: answer to CONNECT is '%.*s', not OK\n", a->text, (int)(n - 1), line);
	return REFUSED;
}

/* connect_addr: a connection over (a) (unix: a plain connect to its path). Returns the descriptor, -1 after
 * saying why, or REFUSED. */
static int connect_addr(const struct addr *a)
{
	int fd = socket(a->sa.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err;

	if (fd < 0) {
		fprintf(stderr, "xfer: socket for %s: %s\n", a->text, strerror(errno));
		return -1;
	}
	/*
	 * The kernel gives a vsock connect 2 s: under nested emulation, with a hundred connections at
	 * once, an answer may take longer. The run's --timeout bounds the wait instead.
	 */
	if (a->kind == ADDR_VSOCK) {
		struct timeval tv = { .tv_sec = 120 };

		setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
	}
	if (connect(fd, &a->sa.sa, a->salen) == 0) {
		if (a->kind == ADDR_FC && fc_handshake(fd, a)) {
			close(fd);
			return REFUSED;
		}
		return fd;
	}
	err = errno;
	close(fd);
	if ((a->kind == ADDR_TCP || a->kind == ADDR_VSOCK) && (err == ECONNREFUSED || err == ECONNRESET)) {
		fprintf(stderr, "xfer: connect %s: %s\n", a->text, strerror(err));
		return REFUSED;
	}
	fprintf(stderr, "xfer: connect %s: %s\n", a->text, strerror(err));
	return -1;
}

/* listen_addr: a socket listening on (a), announced on stdout. Returns it, or -1 after saying why. */
static int listen_addr(const struct addr *a)
{
	int fd = socket(a->sa.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	const char *what = "socket";
	struct stat st;

	if (fd < 0)
		goto fail;
	what = "SO_REUSEADDR";
	if (a->kind == ADDR_TCP && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	if (a->kind == ADDR_UNIX && lstat(a->sa.un.sun_path, &st) == 0) {
		what = "removing the stale socket";
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "xfer: %s: %s exists and is not a socket\n", a->text,
				a->sa.un.sun_path);
			close(fd);
			return -1;
		}
		if (unlink(a->sa.un.sun_path))
			goto fail;
	}
	what = "bind";
	if (bind(fd, &a->sa.sa, a->salen))
		goto fail;
	what = "listen";
	if (listen(fd, 1024))
		goto fail;
	if (a->kind == ADDR_TCP && a->sa.in.sin_port == 0) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		unsigned int port;

		what = "getsockname";
		if (getsockname(fd, (struct sockaddr *)&ss, &len))
			goto fail;
		port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						     : ((struct sockaddr_in6 *)&ss)->sin6_port);
		printf("XFER listening %.*s%u\n", (int)(strrchr(a->text, ':') + 1 - a->text), a->text, port);
	} else {
		printf("XFER listening %s\n", a->text);
	}
	fflush(stdout);
	return fd;
fail:
	fprintf(stderr, "xfer: %s on %s: %s\n", what, a->text, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int accept_one(int lfd, const struct addr *a)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0)
			return fd;
		if (errno != EINTR && errno != ECONNABORTED) {
			fprintf(stderr, "xfer: accept on %s: %s\n", a->text, strerror(errno));
			return -1;
		}
	}
}

/* open_stream: one connection over (a): for a listen-style address accepted on (*lfd), which is opened
 * first when it is -1; else connected. Returns the descriptor, -1 after saying why, or REFUSED. */
static int open_stream(const struct addr *a, int *lfd)
{
	if (!a->listen)
		return connect_addr(a);
	if (*lfd < 0 && (*lfd = listen_addr(a)) < 0)
		return -1;
	return accept_one(*lfd, a);
}

/* duplex_run: write (d)->bytes of pattern to (d)->fd, then shut down writes, while reading into (d)->in
 * until EOF, so that a peer that echoes never blocks either side. Returns 0, or -errno with (d)->what. */
static int duplex_run(struct duplex *d)
{
	uint64_t gen = 0, next_progress = MIB;
	size_t olen = 0, opos = 0;
	bool wdone = false, eof = false;
	int fl = fcntl(d->fd, F_GETFL);

	d->what = "fcntl";
	if (fl < 0 || fcntl(d->fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	d->what = "shutdown";
	if (d->bytes == 0) {
		if (shutdown(d->fd, SHUT_WR))
			return -errno;
		wdone = true;
	}
	while (!eof || !wdone) {
		struct pollfd pfd = { .fd = d->fd,
				      .events = (short)((eof ? 0 : POLLIN) | (wdone ? 0 : POLLOUT)) };
		ssize_t n;

		if (poll(&pfd, 1, -1) < 0) {
			d->what = "poll";
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!wdone && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
			if (opos == olen) {
				olen = d->bytes - gen < BUF_SIZE ? (size_t)(d->bytes - gen) : BUF_SIZE;
				if (!d->bench) {
					tools_pattern(d->out, d->seed, gen, olen);
					d->sent_crc = crc32_update(d->sent_crc, d->out, olen);
				} else if (gen == 0) {
					tools_pattern(d->out, d->seed, 0, BUF_SIZE);
				}
				gen += olen;
				opos = 0;
			}
			n = write(d->fd, d->out + opos, olen - opos);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				d->what = "write";
				return -errno;
			}
			if (n > 0) {
				opos += (size_t)n;
				d->sent += (uint64_t)n;
				if (d->progress && d->sent >= next_progress) {
					fprintf(stderr, "XFER progress bytes=%llu\n",
						(unsigned long long)d->sent);
					next_progress = (d->sent / MIB + 1) * MIB;
				}
				if (d->sent == d->bytes) {
					d->what = "shutdown";
					if (shutdown(d->fd, SHUT_WR))
						return -errno;
					wdone = true;
				}
			}
		}
		if (!eof && (pfd.revents & (POLLIN | POLLERR | POLLHUP))) {
			n = read(d->fd, d->inbuf, BUF_SIZE);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				d->what = "read";
				return -errno;
			}
			if (n > 0)
				sink_feed(&d->in, d->inbuf, (size_t)n);
			eof = n == 0;
		}
	}
	sink_end(&d->in);
	return 0;
}

/* duplex_init: (d) to send (bytes) of pattern (seed), checking what comes back against the same when
 * (verify). Returns 0, or -ENOMEM after saying so. */
static int duplex_init(struct duplex *d, uint64_t bytes, uint64_t seed, bool verify)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->bytes = bytes;
	d->seed = seed;
	d->out = malloc(BUF_SIZE);
	d->inbuf = malloc(BUF_SIZE);
	if (!d->out || !d->inbuf) {
		fprintf(stderr, "xfer: out of memory\n");
		return -ENOMEM;
	}
	return sink_init(&d->in, verify, bytes, seed);
}

static void duplex_free(struct duplex *d)
{
	free(d->out);
	free(d->inbuf);
	sink_free(&d->in);
}

/* crc_text: (crc) in hex into (buf), or "-" when there is none (--bench). Returns (buf). */
static const char *crc_text(char buf[16], bool none, uint32_t crc)
{
	snprintf(buf, 16, none ? "-" : "%08x", crc);
	return buf;
}

static void print_rate(const char *tag, uint64_t bytes, const char *crc, uint64_t ns)
{
	double secs = (double)ns / NS_PER_SEC;

	printf("XFER %s bytes=%llu crc=%s secs=%.3f MBps=%.1f\n", tag, (unsigned long long)bytes, crc, secs,
	       secs > 0 ? (double)bytes / secs / 1e6 : 0.0);
}

/* show_peer: what the peer sent back: its text lines, or if it is not short text, a count and CRC. */
static void show_peer(const struct sink *s)
{
	size_t i, start = 0;

	if (s->bytes == 0)
		return;
	for (i = 0; i < s->nkeep; i++) {
		unsigned char c = (unsigned char)s->keep[i];

		if (c != '\n' && c != '\t' && (c < 0x20 || c > 0x7e))
			break;
	}
	if (s->bytes > KEEP_MAX || i < s->nkeep) {
		printf("XFER peer-data bytes=%llu crc=%08x\n", (unsigned long long)s->bytes, s->crc);
		return;
	}
	for (i = 0; i <= s->nkeep; i++) {
		if (i < s->nkeep && s->keep[i] != '\n')
			continue;
		if (i > start || i < s->nkeep)
			printf("XFER peer %.*s\n", (int)(i - start), s->keep + start);
		start = i + 1;
	}
}

/* reply: the line "bytes=N crc=HEX\n" of (s) to the peer on (fd); a peer that has gone is only noted. */
static void reply(int fd, const struct sink *s, const char *text)
{
	char line[64], crc[16];
	int len = snprintf(line, sizeof(line), "bytes=%llu crc=%s\n", (unsigned long long)s->bytes,
			   crc_text(crc, s->nocrc, s->crc));
	int ret = write_all(fd, line, (size_t)len);

	if (ret)
		fprintf(stderr, "xfer: %s: cannot answer the peer: %s\n", text, strerror(-ret));
}

static int cmd_send(const struct opts *o, const struct addr *a)
{
	struct duplex d;
	uint64_t bytes, seed, t0;
	char crc[16];
	int lfd = -1, ret;

	if (tools_parse_u64(o->args[1], 0, true, &bytes) || tools_parse_u64(o->args[2], 0, false, &seed)) {
		fprintf(stderr, "xfer: send: want BYTES and SEED, not '%s' '%s'\n", o->args[1], o->args[2]);
		return EXIT_USAGE;
	}
	if (duplex_init(&d, bytes, seed, false))
		return EXIT_FAILED;
	d.progress = o->progress;
	d.bench = o->bench;
	d.fd = open_stream(a, &lfd);
	if (d.fd == REFUSED) {
		printf("XFER refused\n");
		return EXIT_REFUSED;
	}
	if (d.fd < 0)
		return EXIT_FAILED;
	t0 = tools_now_ns();
	ret = duplex_run(&d);
	if (ret) {
		fprintf(stderr, "xfer: send on %s: %s after %llu bytes sent: %s\n", a->text, d.what,
			(unsigned long long)d.sent, strerror(-ret));
		return EXIT_FAILED;
	}
	show_peer(&d.in);
	print_rate("sent", d.sent, crc_text(crc, d.bench, d.sent_crc), tools_now_ns() - t0);
	close(d.fd);
	duplex_free(&d);
	return 0;
}

static int cmd_recv(const struct opts *o, const struct addr *a)
{
	uint64_t count = 1;
	uint8_t *buf = malloc(BUF_SIZE);
	int lfd = -1, status = 0;
	struct sink s;
	char crc[16];

	if (o->nargs > 1 && (tools_parse_u64(o->args[1], 0, false, &count) || count == 0)) {
		fprintf(stderr, "xfer: recv: want a COUNT of 1 or more, not '%s'\n", o->args[1]);
		return EXIT_USAGE;
	}
	if (!buf)
		return EXIT_FAILED;
	for (uint64_t i = 0; i < count; i++) {
		int fd = open_stream(a, &lfd), ret;
		uint64_t t0 = tools_now_ns();

		if (fd == REFUSED) {
			printf("XFER refused\n");
			return EXIT_REFUSED;
		}
		if (fd < 0)
			return EXIT_FAILED;
		if (sink_init(&s, o->expect, o->expect_bytes, o->expect_seed))
			return EXIT_FAILED;
		s.nocrc = o->bench;
		ret = read_all(fd, &s, buf);
		if (ret) {
			fprintf(stderr, "xfer: recv on %s: read after %llu bytes: %s\n", a->text,
				(unsigned long long)s.bytes, strerror(-ret));
			return EXIT_FAILED;
		}
		print_rate("recvd", s.bytes, crc_text(crc, s.nocrc, s.crc), tools_now_ns() - t0);
		reply(fd, &s, a->text);
		close(fd);
		if (o->expect && s.bad == NO_BAD) {
			printf("XFER ok\n");
		} else if (o->expect) {
			printf("XFER mismatch at %llu\n", (unsigned long long)s.bad);
			status = EXIT_FAILED;
		}
		sink_free(&s);
	}
	free(buf);
	if (lfd >= 0)
		close(lfd);
	return status;
}

static int cmd_stall(const struct opts *o, const struct addr *a)
{
	uint8_t *buf = malloc(BUF_SIZE);
	struct timespec ts;
	struct sink s;
	char *end;
	double secs;
	int fd, lfd = -1, ret;

	errno = 0;
	secs = strtod(o->args[1], &end);
	if (errno || end == o->args[1] || *end || !(secs >= 0 && secs < 1e6)) {
		fprintf(stderr, "xfer: stall: want SECONDS, not '%s'\n", o->args[1]);
		return EXIT_USAGE;
	}
	if (!buf || sink_init(&s, false, 0, 0))
		return EXIT_FAILED;
	fd = open_stream(a, &lfd);
	if (fd == REFUSED) {
		printf("XFER refused\n");
		return EXIT_REFUSED;
	}
	if (fd < 0)
		return EXIT_FAILED;
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	ret = read_all(fd, &s, buf);
	if (ret) {
		fprintf(stderr, "xfer: stall on %s: read after %llu bytes: %s\n", a->text,
			(unsigned long long)s.bytes, strerror(-ret));
		return EXIT_FAILED;
	}
	printf("XFER stall bytes=%llu crc=%08x\n", (unsigned long long)s.bytes, s.crc);
	reply(fd, &s, a->text);
	close(fd);
	sink_free(&s);
	if (lfd >= 0)
		close(lfd);
	free(buf);
	return 0;
}

/* The connections an echo server is serving. */
struct echo_state {
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned int active, failed;
	const char *text;
};

struct echo_conn {
	struct echo_state *st;
	int fd;
	unsigned long long id;
};

static void *echo_thread(void *arg)
{
	struct echo_conn *c = arg;
	struct echo_state *st = c->st;
	uint8_t *buf = malloc(BUF_SIZE);
	unsigned long long bytes = 0;
	const char *what = "malloc";
	int err = ENOMEM;

	while (buf) {
		ssize_t n = read(c->fd, buf, BUF_SIZE);

		what = "read";
		err = n < 0 ? errno : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		what = "write";
		err = -write_all(c->fd, buf, (size_t)n);
		if (err)
			break;
		bytes += (unsigned long long)n;
	}
	if (buf && err == 0) {
		what = "shutdown";
		err = shutdown(c->fd, SHUT_WR) ? errno : 0;
	}
	close(c->fd);
	free(buf);
	if (err)
		fprintf(stderr, "xfer: echo on %s, connection %llu: %s after %llu bytes: %s\n", st->text,
			c->id, what, bytes, strerror(err));
	else
		printf("XFER echoed conn=%llu bytes=%llu\n", c->id, bytes);
	pthread_mutex_lock(&st->lock);
	st->failed += err != 0;
	if (--st->active == 0)
		pthread_cond_signal(&st->idle);
	pthread_mutex_unlock(&st->lock);
	free(c);
	return NULL;
}

static int cmd_echo(const struct opts *o, const struct addr *a)
{
	struct echo_state st = { .lock = PTHREAD_MUTEX_INITIALIZER,
				 .idle = PTHREAD_COND_INITIALIZER,
				 .text = a->text };
	uint64_t count = UINT64_MAX, n;
	pthread_attr_t attr;
	int lfd;

	if (o->nargs > 1 && (tools_parse_u64(o->args[1], 0, false, &count) || count == 0)) {
		fprintf(stderr, "xfer: echo: want a COUNT of 1 or more, not '%s'\n", o->args[1]);
		return EXIT_USAGE;
	}
	if (!a->listen) {
		fprintf(stderr, "xfer: echo: want a listen-style address, not '%s'\n", a->text);
		return EXIT_USAGE;
	}
	lfd = listen_addr(a);
	if (lfd < 0)
		return EXIT_FAILED;
	printf("XFER echo-ready\n");
	fflush(stdout);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (n = 0; n < count; n++) {
		struct echo_conn *c = malloc(sizeof(*c));
		pthread_t t;
		int ret;

		if (!c) {
			fprintf(stderr, "xfer: out of memory\n");
			return EXIT_FAILED;
		}
		c->st = &st;
		c->id = n;
		c->fd = accept_one(lfd, a);
		if (c->fd < 0)
			return EXIT_FAILED;
		pthread_mutex_lock(&st.lock);
		st.active++;
		pthread_mutex_unlock(&st.lock);
		ret = pthread_create(&t, &attr, echo_thread, c);
		if (ret) {
			fprintf(stderr, "xfer: echo: thread for connection %llu: %s\n", c->id, strerror(ret));
			close(c->fd);
			free(c);
			pthread_mutex_lock(&st.lock);
			st.active--;
			st.failed++;
			pthread_mutex_unlock(&st.lock);
		}
	}
	close(lfd);
	pthread_mutex_lock(&st.lock);
	while (st.active)
		pthread_cond_wait(&st.idle, &st.lock);
	pthread_mutex_unlock(&st.lock);
	printf("XFER echo done conns=%llu failed=%u\n", (unsigned long long)n, st.failed);
	return st.failed ? EXIT_FAILED : 0;
}

/* Whether (a) is an address command (o) can connect to (unix:PATH connects), or says why not. */
static bool connect_style(const struct opts *o, const struct addr *a)
{
	if (a->listen && a->kind != ADDR_UNIX) {
		fprintf(stderr, "xfer: %s: want a connect-style address, not '%s'\n", o->cmd, a->text);
		return false;
	}
	return true;
}

struct many_conn {
	const struct addr *a;
	unsigned int index;
	uint64_t bytes;
	bool started, ok;
};

static void *many_thread(void *arg)
{
	struct many_conn *m = arg;
	struct duplex d;
	int ret;

	if (duplex_init(&d, m->bytes, m->index, true))
		goto out;
	d.fd = connect_addr(m->a);
	if (d.fd == REFUSED)
		fprintf(stderr, "xfer: many: connection %u refused\n", m->index);
	if (d.fd < 0)
		goto out;
	ret = duplex_run(&d);
	close(d.fd);
	if (ret) {
		fprintf(stderr, "xfer: many: connection %u: %s after %llu bytes sent, %llu back: %s\n",
			m->index, d.what, (unsigned long long)d.sent, (unsigned long long)d.in.bytes,
			strerror(-ret));
		goto out;
	}
	if (d.in.bad != NO_BAD) {
		fprintf(stderr,
			"xfer: many: connection %u: %llu bytes back, differing from those sent at %llu\n",
			m->index, (unsigned long long)d.in.bytes, (unsigned long long)d.in.bad);
		goto out;
	}
	m->ok = true;
out:
	duplex_free(&d);
	return NULL;
}

static int cmd_many(const struct opts *o, const struct addr *a)
{
	struct many_conn *conns;
	pthread_t *threads;
	pthread_attr_t attr;
	uint64_t n, bytes;
	unsigned int ok = 0, failed = 0;

	if (tools_parse_u64(o->args[1], 0, false, &n) || n == 0 || n > MAX_CONNS ||
	    tools_parse_u64(o->args[2], 0, true, &bytes)) {
		fprintf(stderr, "xfer: many: want N (1 to %d) and BYTES, not '%s' '%s'\n", MAX_CONNS,
			o->args[1], o->args[2]);
		return EXIT_USAGE;
	}
	if (!connect_style(o, a))
		return EXIT_USAGE;
	conns = calloc(n, sizeof(*conns));
	threads = calloc(n, sizeof(*threads));
	if (!conns || !threads) {
		fprintf(stderr, "xfer: out of memory\n");
		return EXIT_FAILED;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	for (unsigned int i = 0; i < n; i++) {
		int ret;

		conns[i] = (struct many_conn){ .a = a, .index = i, .bytes = bytes };
		ret = pthread_create(&threads[i], &attr, many_thread, &conns[i]);
		if (ret) {
			fprintf(stderr, "xfer: many: thread for connection %u: %s\n", i, strerror(ret));
			many_thread(&conns[i]); /* in this thread, then */
		} else {
			conns[i].started = true;
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		if (conns[i].started)
			pthread_join(threads[i], NULL);
		if (conns[i].ok)
			ok++;
		else
			failed++;
	}
	printf("XFER many ok=%u failed=%u\n", ok, failed);
	free(conns);
	free(threads);
	return failed ? EXIT_FAILED : 0;
}

static int cmd_refuse(const struct opts *o, const struct addr *a)
{
	int fd;

	if (!connect_style(o, a))
		return EXIT_USAGE;
	fd = connect_addr(a);
	if (fd == REFUSED) {
		printf("XFER refused\n");
		return 0;
	}
	if (fd < 0)
		return EXIT_FAILED;
	printf("XFER connected\n");
	close(fd);
	return EXIT_FAILED;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/*
 * Connections one after another, each: connect, one byte to the echo and back, close. The time each
 * took is the connection latency a client sees, with its first round trip.
 */
static int cmd_connect(const struct opts *o, const struct addr *a)
{
	uint64_t n, *us;

	if (tools_parse_u64(o->args[1], 0, false, &n) || n == 0 || n > MAX_CONNS) {
		fprintf(stderr, "xfer: connect: want N (1 to %d), not '%s'\n", MAX_CONNS, o->args[1]);
		return EXIT_USAGE;
	}
	if (!connect_style(o, a))
		return EXIT_USAGE;
	us = calloc(n, sizeof(*us));
	if (!us) {
		fprintf(stderr, "xfer: out of memory\n");
		return EXIT_FAILED;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0 = tools_now_ns();
		uint8_t out = (uint8_t)i, in;
		ssize_t r = 0;
		int fd = connect_addr(a);

		if (fd < 0) {
			fprintf(stderr, "xfer: connect: connection %llu %s\n", (unsigned long long)i,
				fd == REFUSED ? "refused" : "failed");
			free(us);
			return EXIT_FAILED;
		}
		if (write_all(fd, &out, 1) == 0)
			while ((r = read(fd, &in, 1)) < 0 && errno == EINTR)
				;
		close(fd);
		if (r != 1 || in != out) {
			fprintf(stderr, "xfer: connect: connection %llu: no echo of its byte\n",
				(unsigned long long)i);
			free(us);
			return EXIT_FAILED;
		}
		us[i] = (tools_now_ns() - t0) / 1000;
	}
	qsort(us, n, sizeof(*us), cmp_u64);
	printf("XFER connect n=%llu min_us=%llu median_us=%llu p99_us=%llu max_us=%llu\n",
	       (unsigned long long)n, (unsigned long long)us[0], (unsigned long long)us[n / 2],
	       (unsigned long long)us[(n * 99) / 100], (unsigned long long)us[n - 1]);
	free(us);
	return 0;
}

static const struct command {
	const char *name;
	int min_args, max_args; /* ADDR included */
	int (*run)(const struct opts *o, const struct addr *a);
} COMMANDS[] = {
	{ "send", 3, 3, cmd_send },	  { "recv", 1, 2, cmd_recv },	{ "echo", 1, 2, cmd_echo },
	{ "many", 3, 3, cmd_many },	  { "stall", 2, 2, cmd_stall }, { "refuse", 1, 1, cmd_refuse },
	{ "connect", 2, 2, cmd_connect },
};

/* parse_args: options anywhere, then COMMAND and its arguments, into (o). Returns 1 for --help, 0, or
 * -EINVAL after saying why. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	bool dashdash = false;

	*o = (struct opts){ .timeout = DEFAULT_TIMEOUT };
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (dashdash || strncmp(arg, "--", 2) != 0) {
			if (!o->cmd) {
				o->cmd = arg;
			} else if (o->nargs == MAX_ARGS) {
				fprintf(stderr, "xfer: too many arguments (xfer --help)\n");
				return -EINVAL;
			} else {
				o->args[o->nargs++] = argv[i];
			}
		} else if (strcmp(arg, "--") == 0) {
			dashdash = true;
		} else if (strcmp(arg, "--help") == 0) {
			usage(stdout);
			return 1;
		} else if (strcmp(arg, "--progress") == 0) {
			o->progress = true;
		} else if (strcmp(arg, "--bench") == 0) {
			o->bench = true;
		} else if (strcmp(arg, "--timeout") == 0) {
			if (i + 1 == argc || parse_u32(argv[i + 1], 1000000, &o->timeout)) {
				fprintf(stderr, "xfer: --timeout: want SECONDS (0 for none)\n");
				return -EINVAL;
			}
			i++;
		} else if (strcmp(arg, "--expect") == 0) {
			if (i + 2 >= argc || tools_parse_u64(argv[i + 1], 0, true, &o->expect_bytes) ||
			    tools_parse_u64(argv[i + 2], 0, false, &o->expect_seed)) {
				fprintf(stderr, "xfer: --expect: want BYTES SEED\n");
				return -EINVAL;
			}
			o->expect = true;
			i += 2;
		} else {
			fprintf(stderr, "xfer: unknown option '%s' (xfer --help)\n", arg);
			return -EINVAL;
		}
	}
	if (!o->cmd) {
		fprintf(stderr, "xfer: want a COMMAND (xfer --help)\n");
		return -EINVAL;
	}
	if ((o->progress && strcmp(o->cmd, "send")) || (o->expect && strcmp(o->cmd, "recv")) ||
	    (o->bench && ((strcmp(o->cmd, "send") && strcmp(o->cmd, "recv")) || o->expect))) {
		fprintf(stderr, "xfer: --progress is for send, --expect for recv, --bench for either but not "
				"with --expect\n");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	const struct command *c = NULL;
	struct addr a;
	struct opts o;
	int ret;

	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret > 0 ? 0 : EXIT_USAGE;
	for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++) {
		if (strcmp(o.cmd, COMMANDS[i].name) == 0)
			c = &COMMANDS[i];
	}
	if (!c || o.nargs < c->min_args || o.nargs > c->max_args) {
		fprintf(stderr,
			c ? "xfer: wrong number of arguments for %s (xfer --help)\n"
			  : "xfer: unknown command '%s' (xfer --help)\n",
			o.cmd);
		return EXIT_USAGE;
	}
	if (parse_addr(o.args[0], &a))
		return EXIT_USAGE;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGALRM, &sa, NULL);
	alarm(o.timeout);
	crc_init();
	return c->run(&o, &a);
}
