/*
 * api.h: the HTTP/1.1 server of kvmini's API socket (a Unix socket, mode 0600), on the main thread's
 * event loop. It knows nothing of the VM: it parses each request (http-parser) and hands it to a
 * handler, then writes the handler's JSON (json-c) back. The endpoints and limits are the API's
 * contract (README).
 *
 * Limits: at most API_MAX_CLIENTS connections (one more is answered 503 and closed); a request's head
 * and body together at most API_REQUEST_MAX bytes (413), its target at most API_URL_MAX - 1 (414); a
 * request not complete within API_REQUEST_TIMEOUT_NS of its first byte, an answer not taken within as
 * long of the last request answered, or a connection idle API_IDLE_TIMEOUT_NS, is closed (by
 * api_server_expire); keep-alive unless the client asks otherwise (HTTP/1.0, "Connection: close"),
 * pipelined requests answered in order, one at a time: past OUT_HIGH (api.c) of answers not taken, the
 * client's next request waits. Every read and write is non-blocking. A malformed request (400), an
 * oversized one (413, 414) or an upgrade ends its connection after the answer.
 *
 * Responses: "HTTP/1.1 <status> <reason>", "Content-Type: application/json" and "Content-Length: N"
 * with the body (HEAD: the length without the body; 204 and 304: neither), "Connection: close" when
 * the connection ends after it.
 *
 * Once open, the server makes only these syscalls: accept4 (SOCK_NONBLOCK | SOCK_CLOEXEC), read,
 * sendmsg (MSG_NOSIGNAL), close, epoll_ctl (ADD, MOD, DEL), clock_gettime (the vDSO's, mostly),
 * unlinkat (on its directory's descriptor, at api_server_close), write (a log line) and malloc's (brk,
 * mmap, munmap, mremap, madvise). api_server_open seeds json-c's hash (getrandom) beforehand.
 *
 * struct api_server is large (about 540 KiB: each connection's buffers): make it static or allocate it.
 */
#ifndef KVMINI_API_H
#define KVMINI_API_H

#include <http_parser.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define API_MAX_CLIENTS	       16
#define API_REQUEST_MAX	       (16 * 1024)		    /* a request's head and body together */
#define API_URL_MAX	       1024			    /* a request target, with its query */
#define API_RESPONSE_MAX       (1024 * 1024)		    /* a response's body, serialized */
#define API_REQUEST_TIMEOUT_NS (5ULL * 1000 * 1000 * 1000)  /* first byte to response taken */
#define API_IDLE_TIMEOUT_NS    (30ULL * 1000 * 1000 * 1000) /* a connection with nothing under way */
#define API_SOCK_PATH_MAX      108			    /* sun_path, its NUL included */

/* A request as a handler sees it; valid only during the call. */
struct api_request {
	int method;		 /* enum http_method: HTTP_GET, HTTP_PUT, HTTP_PATCH, ... */
	char path[API_URL_MAX];	 /* "/machine-config": as sent, not percent-decoded */
	char query[API_URL_MAX]; /* "layer=L-0" (no '?'), "" when none */
	const char *body;	 /* (body_len) bytes, NUL-terminated beyond them; "" when none */
	size_t body_len;
};

/* What a handler answers: (status) and (body), which the server serializes and frees; NULL: no body. */
struct api_response {
	int status;
	struct json_object *body;
};

/*
 * api_handler_fn: answer (req) into (resp) (status 0 on entry, body NULL). A status outside 200..599
 * is answered 500. (opaque) is api_server_open's.
 */
typedef void api_handler_fn(void *opaque, const struct api_request *req, struct api_response *resp);

/* Responses not yet written: [off, len) of (cap) bytes at (buf). */
struct api_out {
	char *buf;
	size_t off, len, cap;
};

/* One client's connection: the server's. */
struct api_conn {
	struct event_source src; /* fd -1: the slot is free */
	struct api_server *server;
	http_parser parser;
	uint32_t watching;    /* the events (src) waits for */
	uint64_t deadline_ns; /* CLOCK_MONOTONIC: closed by api_server_expire past it */
	bool active;	      /* a request or a response under way: deadline is the request timeout */
	bool in_message;      /* the parser is inside a request */
	bool complete;	      /* it has just ended one: (parser) is paused on it */
	bool keep_alive;      /* the request ended allows another after it */
	bool closing;	      /* no more requests: close once (out) is written */
	bool eof;	      /* the client has shut its side */
	int method;	      /* the request's enum http_method, -1 unknown */
	int fail;	      /* a status that ends the request being parsed (413, 414), 0 none */
	size_t req_bytes;     /* bytes of the request being parsed, its head included */
	size_t in_len;	      /* bytes read, not yet parsed, at (in) */
	size_t url_len, body_len;
	struct api_out out;
	/* Last: not cleared for a new connection. */
	char in[API_REQUEST_MAX];
	char url[API_URL_MAX];
	char body[API_REQUEST_MAX + 1];
};

/* The main thread's. */
struct api_server {
	char path[API_SOCK_PATH_MAX]; /* the socket's path, "" while it is not ours to remove */
	int dir_fd;		      /* O_PATH of its directory: the socket is removed through it */
	struct event_source listen;   /* the listening socket */
	struct event_loop *loop;      /* api_server_attach's */
	bool listen_paused;	      /* out of descriptors: the listener waits for (resume_ns) */
	uint64_t resume_ns;
	bool warned_full; /* a client was turned away (503) and it was logged */
	api_handler_fn *handler;
	void *opaque;
	unsigned int nr_conns;
	struct api_conn conns[API_MAX_CLIENTS];
};

/*
 * api_server_open: listen on Unix socket (path) (at most API_SOCK_PATH_MAX - 1 bytes, mode 0600), and
 * answer each request with (h)(opaque, ...) once attached. A stale socket nobody listens on is
 * replaced; a path that is not a socket, one another program listens on, or one in a missing directory
 * is refused with one line saying so. Returns 0 or -errno; api_server_close is safe either way.
 */
int api_server_open(struct api_server *s, const char *path, api_handler_fn *h, void *opaque);
/* api_server_init: a server with no socket (tests and the fuzz target adopt connections). */
void api_server_init(struct api_server *s, api_handler_fn *h, void *opaque);
/* api_server_attach: serve (s) on event loop (l). Returns 0 or -errno. */
int api_server_attach(struct api_server *s, struct event_loop *l);
/*
 * api_server_adopt: serve connected, non-blocking socket (fd) as a client of attached (s); the server
 * owns (fd) from then on, even on failure. Returns 0, -EBUSY (API_MAX_CLIENTS connected: (fd) was
 * answered 503 and closed) or -errno.
 */
int api_server_adopt(struct api_server *s, int fd);
/* api_server_timeout_ms: milliseconds from (now_ns) to the first deadline (0: past), -1: none. */
int api_server_timeout_ms(const struct api_server *s, uint64_t now_ns);
/* api_server_expire: close the connections whose deadline is at or before (now_ns). */
void api_server_expire(struct api_server *s, uint64_t now_ns);
/*
 * api_server_close: write what is pending where the socket takes it without waiting, close every
 * connection and the listener, remove the socket. Safe after a failed open and twice.
 */
void api_server_close(struct api_server *s);

/* Helpers for handlers */

/* api_error: {"fault_message": "<fmt ...>"} (Firecracker's error body), or NULL out of memory. */
struct json_object *api_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * api_body_string: the string member (key) of (r)'s body, a JSON object, into (out) of (size) bytes.
 * Returns 0, or -EINVAL: the body is not a JSON object, (key) is missing or not a string, or it does
 * not fit (out) with its NUL.
 */
int api_body_string(const struct api_request *r, const char *key, char *out, size_t size);
/* api_body_json: (r)'s body parsed as one JSON value (the caller puts it), NULL when it is not one. */
struct json_object *api_body_json(const struct api_request *r);

#endif
