/* api.c: the API socket's HTTP/1.1 server on the event loop: http-parser for requests, json-c for JSON. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../devices/base/log.h"
#include "../devices/dev.h"
#include "../devices/base/sockpath.h"

#define BACKLOG		  32
#define ACCEPTS_PER_EVENT 8
#define HEAD_MAX	  192	      /* a response's status line and headers */
#define OUT_HIGH	  (64 * 1024) /* pending output past which a client's next request waits */
#define OUT_MAX		  (OUT_HIGH + API_RESPONSE_MAX + HEAD_MAX)
#define OUT_KEEP	  (64 * 1024) /* an emptied output buffer larger than this is given back */
#define OUT_FIRST	  4096
#define LISTEN_RETRY_NS	  (100ULL * 1000 * 1000) /* out of descriptors: accept again after this */
#define JSON_FLAGS	  (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define FAULT_MAX	  256

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Helpers for handlers */

struct json_object *api_error(const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char msg[FAULT_MAX];
	va_list ap;

	if (!o)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_object_object_add(o, "fault_message", json_object_new_string(msg)) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *api_body_json(const struct api_request *r)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t end;

	if (!r->body_len || r->body_len > API_REQUEST_MAX)
		return NULL;
	tok = json_tokener_new();
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT); /* no single quotes, comments, NaN */
	o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
	end = json_tokener_get_parse_end(tok);
	/* One value and nothing after it but white space. */
	if (o && json_tokener_get_error(tok) == json_tokener_success)
		while (end < r->body_len && r->body[end] && strchr(" \t\r\n", r->body[end]))
			end++;
	if (o && (json_tokener_get_error(tok) != json_tokener_success || end != r->body_len)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int api_body_string(const struct api_request *r, const char *key, char *out, size_t size)
{
	struct json_object *o = api_body_json(r), *v;
	const char *str;
	int ret = -EINVAL;
	size_t len;

	if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string)) {
		str = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
		/* A NUL inside (\u0000) would cut the value short: refused as well. */
		if (len < size && strlen(str) == len) {
			memcpy(out, str, len + 1);
			ret = 0;
		}
	}
	json_object_put(o);
	return ret;
}

/* Output */

static size_t out_pending(const struct api_out *o)
{
	return o->len - o->off;
}

/* Room for (n) more bytes after what (o) has pending. Returns 0, -ENOBUFS past OUT_MAX, or -ENOMEM. */
static int out_reserve(struct api_out *o, size_t n)
{
	size_t pending = out_pending(o), cap;
	char *p;

	if (o->off) {
		memmove(o->buf, o->buf + o->off, pending);
		o->off = 0;
		o->len = pending;
	}
	if (n > OUT_MAX - pending)
		return -ENOBUFS;
	if (pending + n <= o->cap)
		return 0;
	for (cap = o->cap ? o->cap : OUT_FIRST; cap < pending + n;)
		cap *= 2;
	cap = cap < OUT_MAX ? cap : OUT_MAX;
	p = realloc(o->buf, cap);
	if (!p)
		return -ENOMEM;
	o->buf = p;
	o->cap = cap;
	return 0;
}

static void out_free(struct api_out *o)
{
	free(o->buf);
	*o = (struct api_out){ NULL, 0, 0, 0 };
}

/* A status line's reason: http-parser's, where it knows the status. */
static const char *reason(int status)
{
	const char *r = http_status_str((enum http_status)status);

	return r[0] == '<' ? "Status" : r;
}

/* How a response goes out: with a body or not (HEAD), and whether the connection closes after it. */
struct reply_how {
	bool head_only;
	bool closing;
};

/*
 * Queue one response on (o): (status) and (text) of (len) bytes, the body left out for a HEAD request
 * or a status that has none. Returns 0 or -errno.
 */
static int queue(struct api_out *o, struct reply_how how, int status, const char *text, size_t len)
{
	bool bodiless = status == 204 || status == 304;
	const char *conn = how.closing ? "Connection: close\r\n" : "";
	char head[HEAD_MAX];
	int n, ret;

	if (bodiless)
		n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n%s\r\n", status, reason(status), conn);
	else
		n = snprintf(
			head, sizeof(head),
			"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
			status, reason(status), len, conn);
	if (bodiless || how.head_only)
		len = 0;
	ret = out_reserve(o, (size_t)n + len);
	if (ret)
		return ret;
	memcpy(o->buf + o->len, head, (size_t)n);
	memcpy(o->buf + o->len + n, text, len);
	o->len += (size_t)n + len;
	return 0;
}

/* Queue (status) with (body), which this frees, on (o). Returns false when nothing could be queued. */
static bool respond(struct api_out *o, struct reply_how how, int status, struct json_object *body)
{
	const char *text = "";
	size_t len = 0;
	int ret = -ENOMEM;

	if (body)
		text = json_object_to_json_string_length(body, JSON_FLAGS, &len);
	if (text && len <= API_RESPONSE_MAX)
		ret = queue(o, how, status, text, len);
	json_object_put(body);
	if (!ret)
		return true;
	if (text && len > API_RESPONSE_MAX)
		body = api_error("the response would be larger than %d bytes: ask for less (one layer)",
				 API_RESPONSE_MAX);
	else
		body = api_error("kvmini's API ran out of memory for the response: try again later");
	text = body ? json_object_to_json_string_length(body, JSON_FLAGS, &len) : NULL;
	ret = text ? queue(o, how, HTTP_STATUS_INTERNAL_SERVER_ERROR, text, len) : -ENOMEM;
	json_object_put(body);
	return ret == 0;
}

/* Queue (c)'s answer (status) (body) (respond's). */
static bool conn_respond(struct api_conn *c, int status, struct json_object *body)
{
	struct reply_how how = { .head_only = c->method == HTTP_HEAD, .closing = c->closing };

	return respond(&c->out, how, status, body);
}

/*
 * Write what (o) holds to socket (fd), as far as it takes it now. Returns the bytes written, or -1 when
 * the client is gone.
 */
static ssize_t flush(struct api_out *o, int fd)
{
	size_t written = 0;

	while (out_pending(o)) {
		struct iovec iov = { o->buf + o->off, out_pending(o) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL); /* the socket is non-blocking */

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? (ssize_t)written : -1;
		o->off += (size_t)r;
		written += (size_t)r;
	}
	o->off = o->len = 0;
	if (o->cap > OUT_KEEP)
		out_free(o);
	return (ssize_t)written;
}

/* Parsing: http-parser's callbacks, (p)->data the connection */

static int on_message_begin(http_parser *p)
{
	struct api_conn *c = p->data;

	c->in_message = true;
	c->req_bytes = 0;
	c->url_len = 0;
	c->body_len = 0;
	c->fail = 0;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct api_conn *c = p->data;

	if (len > sizeof(c->url) - 1 - c->url_len) {
		c->fail = HTTP_STATUS_URI_TOO_LONG;
		return -1;
	}
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct api_conn *c = p->data;

	/* A body announced too large is refused before it comes (ULLONG_MAX: no Content-Length). */
	if (p->content_length != ULLONG_MAX && p->content_length > API_REQUEST_MAX) {
		c->fail = HTTP_STATUS_PAYLOAD_TOO_LARGE;
		return -1; /* 0, 1 and 2 mean something else here */
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct api_conn *c = p->data;

	if (len > API_REQUEST_MAX - c->body_len) {
		c->fail = HTTP_STATUS_PAYLOAD_TOO_LARGE;
		return -1;
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct api_conn *c = p->data;

	c->complete = true;
	c->method = (int)p->method;
	c->keep_alive = http_should_keep_alive(p) && !p->upgrade;
	/* One request at a time: the parser stops after its last byte until it has been answered. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/*
 * Feed (c)'s buffered bytes to its parser, up to the end of one request. Returns 0: it needs more
 * bytes, 1: a request has ended (c->complete), or the error status to answer (400, 413, 414).
 */
static int parse(struct api_conn *c)
{
	size_t n = http_parser_execute(&c->parser, &parser_settings, c->in, c->in_len);
	enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);

	/* What was parsed is copied out (url, body) or not needed (headers). */
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	if (c->in_message)
		c->req_bytes += n;
	if (c->req_bytes > API_REQUEST_MAX)
		return HTTP_STATUS_PAYLOAD_TOO_LARGE;
	if (c->complete)
		return 1;
	if (err != HPE_OK)
		return c->fail ? c->fail : HTTP_STATUS_BAD_REQUEST;
	return 0;
}

/* Answer a request (c) cannot serve with (status) and close after it. Returns respond's. */
static bool refuse(struct api_conn *c, int status)
{
	enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
	struct json_object *body;

	c->closing = true;
	c->method = -1; /* not known to be HEAD: the body goes */
	if (status == HTTP_STATUS_PAYLOAD_TOO_LARGE)
		body = api_error("the request is larger than %d bytes, head and body together: send less",
				 API_REQUEST_MAX);
	else if (status == HTTP_STATUS_URI_TOO_LONG)
		body = api_error("the request target is longer than %d bytes: shorten its path or query",
				 API_URL_MAX - 1);
	else if (err != HPE_OK && err != HPE_PAUSED)
		body = api_error("malformed HTTP/1.1 request: %s", http_errno_description(err));
	else
		body = api_error("malformed HTTP/1.1 request: its target is not a path");
	return conn_respond(c, status, body);
}

/* Copy field (f) of (url) parsed into (u) to (out), which holds API_URL_MAX bytes: as the url does. */
static void url_field(char *out, const char *url, const struct http_parser_url *u,
		      enum http_parser_url_fields f)
{
	size_t len = u->field_set & (1u << f) ? u->field_data[f].len : 0;

	memcpy(out, url + u->field_data[f].off, len);
	out[len] = '\0';
}

/* Hand the request (c) has just parsed to the handler and queue its answer. Returns respond's. */
static bool dispatch(struct api_conn *c)
{
	struct api_request req = { .method = c->method, .body = c->body, .body_len = c->body_len };
	struct api_response resp = { 0, NULL };
	struct http_parser_url u;

	c->complete = false;
	c->in_message = false;
	c->closing = !c->keep_alive;
	c->body[c->body_len] = '\0';
	http_parser_pause(&c->parser, 0);
	http_parser_url_init(&u);
	if (http_parser_parse_url(c->url, c->url_len, c->method == HTTP_CONNECT, &u) ||
	    !(u.field_set & (1u << UF_PATH)))
		return refuse(c, HTTP_STATUS_BAD_REQUEST);
	url_field(req.path, c->url, &u, UF_PATH);
	url_field(req.query, c->url, &u, UF_QUERY);
	c->server->handler(c->server->opaque, &req, &resp);
	if (resp.status < 200 || resp.status > 599) {
		json_object_put(resp.body);
		resp.status = HTTP_STATUS_INTERNAL_SERVER_ERROR;
		resp.body = api_error("kvmini's API gave no answer to %s %s", http_method_str(c->method),
				      req.path);
	}
	return conn_respond(c, resp.status, resp.body);
}

/*
 * Answer the requests buffered on (c), in order, while what it has pending stays under OUT_HIGH.
 * Returns how many were answered, or -1 when (c) must close now.
 */
static int serve(struct api_conn *c)
{
	int answered = 0, ret;

	while (!c->closing && c->in_len && out_pending(&c->out) < OUT_HIGH) {
		ret = parse(c);
		if (ret == 0)
			break;
		if (!(ret == 1 ? dispatch(c) : refuse(c, ret)))
			return -1;
		answered++;
	}
	return answered;
}

/* Connections */

static bool wants_input(const struct api_conn *c)
{
	return !c->closing && !c->eof && c->in_len < sizeof(c->in) && out_pending(&c->out) < OUT_HIGH;
}

static void listener_resume(struct api_server *s)
{
	if (s->listen_paused && event_watch(s->loop, &s->listen, EPOLLIN) == 0)
		s->listen_paused = false;
}

static void conn_close(struct api_conn *c)
{
	struct api_server *s = c->server;
	int fd = c->src.fd;

	event_del(s->loop, &c->src);
	close(fd);
	out_free(&c->out);
	s->nr_conns--;
	listener_resume(s);
}

/* Read what (c)'s client sent into the room left at (in). Returns bytes read, or -1: close (c) now. */
static ssize_t take_input(struct api_conn *c)
{
	ssize_t r;

	do
		r = read(c->src.fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		c->in_len += (size_t)r;
	else if (r == 0)
		c->eof = true;
	else
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	return r;
}

/* Serve and write until (c) waits for its client. Returns requests answered, or -1: close (c) now. */
static int pump(struct api_conn *c)
{
	int answered = 0, n;

	for (;;) {
		n = serve(c);
		if (n < 0 || flush(&c->out, c->src.fd) < 0)
			return -1;
		answered += n;
		/* Written enough to go on with requests still buffered? */
		if (c->closing || !c->in_len || out_pending(&c->out) >= OUT_HIGH)
			return answered;
	}
}

/* (c)'s timers: the request timeout while something is under way, else the idle one. */
static void conn_deadline(struct api_conn *c, bool progress, int answered)
{
	bool active = c->in_message || c->in_len || out_pending(&c->out);

	if (active && (!c->active || answered))
		c->deadline_ns = now_ns() + API_REQUEST_TIMEOUT_NS;
	else if (!active && (c->active || progress))
		c->deadline_ns = now_ns() + API_IDLE_TIMEOUT_NS;
	c->active = active;
}

static void on_conn(struct event_source *src, uint32_t events)
{
	struct api_conn *c = container_of(src, struct api_conn, src);
	ssize_t got = 0;
	uint32_t watch;
	int answered;

	(void)events; /* what can be done is tried: a stale event (the slot reused) finds EAGAIN */
	if (wants_input(c))
		got = take_input(c);
	answered = got < 0 ? -1 : pump(c);
	if (answered < 0 || ((c->closing || c->eof) && !out_pending(&c->out))) {
		conn_close(c);
		return;
	}
	conn_deadline(c, got > 0, answered);
	watch = (wants_input(c) ? EPOLLIN : 0) | (out_pending(&c->out) ? EPOLLOUT : 0);
	if (watch != c->watching) {
		if (!watch || event_watch(c->server->loop, &c->src, watch) < 0) {
			conn_close(c);
			return;
		}
		c->watching = watch;
	}
}

/* A client past API_MAX_CLIENTS: told 503 if its socket takes it now, and closed. */
static void turn_away(struct api_server *s, int fd)
{
	struct reply_how how = { .head_only = false, .closing = true };
	struct api_out o = { NULL, 0, 0, 0 };

	if (respond(&o, how, HTTP_STATUS_SERVICE_UNAVAILABLE,
		    api_error("kvmini's API serves at most %d clients at once: try again later",
			      API_MAX_CLIENTS)))
		flush(&o, fd);
	out_free(&o);
	close(fd);
	if (!s->warned_full)
		log_warn("API socket %s: a client beyond %d at once was turned away (503); further ones are "
			 "not logged",
			 s->path[0] ? s->path : "(none)", API_MAX_CLIENTS);
	s->warned_full = true;
}

int api_server_adopt(struct api_server *s, int fd)
{
	struct api_conn *c = NULL;
	int ret;

	for (unsigned int i = 0; i < API_MAX_CLIENTS && !c; i++)
		if (s->conns[i].src.fd < 0)
			c = &s->conns[i];
	if (!c) {
		turn_away(s, fd);
		return -EBUSY;
	}
	memset(c, 0, offsetof(struct api_conn, in));
	c->server = s;
	c->method = -1;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	ret = event_add(s->loop, &c->src, fd, EPOLLIN, on_conn);
	if (ret) {
		close(fd);
		return ret;
	}
	c->watching = EPOLLIN;
	c->deadline_ns = now_ns() + API_IDLE_TIMEOUT_NS;
	s->nr_conns++;
	return 0;
}

static void on_listen(struct event_source *src, uint32_t events)
{
	struct api_server *s = container_of(src, struct api_server, listen);

	(void)events;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		int fd = accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			/* Out of descriptors or memory: the listener would stay ready; it rests a while. */
			if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) &&
			    event_watch(s->loop, &s->listen, 0) == 0) {
				s->listen_paused = true;
				s->resume_ns = now_ns() + LISTEN_RETRY_NS;
			}
			return; /* EAGAIN: all taken; ECONNABORTED, EINTR: the next event */
		}
		api_server_adopt(s, fd);
	}
}

/* The server */

void api_server_init(struct api_server *s, api_handler_fn *h, void *opaque)
{
	s->path[0] = '\0';
	s->dir_fd = -1;
	s->listen.fd = -1;
	s->loop = NULL;
	s->listen_paused = false;
	s->warned_full = false;
	s->handler = h;
	s->opaque = opaque;
	s->nr_conns = 0;
	for (unsigned int i = 0; i < API_MAX_CLIENTS; i++) {
		s->conns[i].src.fd = -1;
		s->conns[i].out = (struct api_out){ NULL, 0, 0, 0 };
	}
}

/* Bind (s)'s socket at (path), owner-only, and listen. Returns 0 or -errno. */
static int listen_on(struct api_server *s, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, err;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	s->listen.fd = fd;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	/* The socket file takes the socket's mode: 0600 from its birth, no umask change (threads run). */
	if (fchmod(fd, 0600) < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = errno;
		log_err("API socket %s: cannot create it: %s%s", path, strerror(err),
			err == EADDRINUSE ? " (created meanwhile by another program? pick another path)"
					  : "");
		return -err;
	}
	memcpy(s->path, path, strlen(path) + 1); /* ours now: api_server_close removes it */
	if (listen(fd, BACKLOG) < 0) {
		err = errno;
		log_err("API socket %s: cannot listen: %s", path, strerror(err));
		return -err;
	}
	return 0;
}

/*
 * json-c seeds its hash of object keys on first use, from getrandom(): done here, before the main
 * thread's syscall filter, so that serving takes no syscall for it.
 */
static void json_seed(void)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "seed", NULL);
	json_object_put(o);
}

/* Whether a socket can be made at (path), through (s)'s dir_fd: replaced if stale. Returns 0 or -errno. */
static int check_path(struct api_server *s, const char *path)
{
	struct stat st;
	int err;

	if (fstatat(s->dir_fd, sockpath_name(path), &st, AT_SYMLINK_NOFOLLOW) == 0)
		return sockpath_replace_stale("API socket path", path, &st);
	if (errno == ENOENT)
		return 0;
	err = errno;
	log_err("API socket path %s: cannot look at it: %s", path, strerror(err));
	return -err;
}

int api_server_open(struct api_server *s, const char *path, api_handler_fn *h, void *opaque)
{
	size_t len = strlen(path);
	int ret;

	api_server_init(s, h, opaque);
	json_seed();
	if (!len || len >= API_SOCK_PATH_MAX || !sockpath_name(path)[0]) {
		log_err("API socket path \"%s\" is %s: give a file name of at most %d bytes, directory included",
			path, len >= API_SOCK_PATH_MAX ? "too long" : "not a file name",
			API_SOCK_PATH_MAX - 1);
		return len >= API_SOCK_PATH_MAX ? -ENAMETOOLONG : -EINVAL;
	}
	ret = sockpath_dir_open(path);
	if (ret < 0) {
		log_err("API socket path %s: cannot open its directory: %s: create it or pick another path",
			path, strerror(-ret));
		return ret;
	}
	s->dir_fd = ret;
	ret = check_path(s, path);
	if (!ret)
		ret = listen_on(s, path);
	if (ret)
		api_server_close(s);
	return ret;
}

int api_server_attach(struct api_server *s, struct event_loop *l)
{
	int ret;

	s->loop = l;
	if (s->listen.fd < 0)
		return 0; /* api_server_init's: connections are adopted */
	ret = event_add(l, &s->listen, s->listen.fd, EPOLLIN, on_listen);
	if (ret < 0)
		log_err("API socket %s: cannot watch it on the event loop: %s", s->path, strerror(-ret));
	return ret;
}

int api_server_timeout_ms(const struct api_server *s, uint64_t now_ns)
{
	uint64_t first = UINT64_MAX, ms;

	for (unsigned int i = 0; i < API_MAX_CLIENTS; i++)
		if (s->conns[i].src.fd >= 0 && s->conns[i].deadline_ns < first)
			first = s->conns[i].deadline_ns;
	if (s->listen_paused && s->resume_ns < first)
		first = s->resume_ns;
	if (first == UINT64_MAX)
		return -1;
	if (first <= now_ns)
		return 0;
	ms = (first - now_ns + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

void api_server_expire(struct api_server *s, uint64_t now_ns)
{
	for (unsigned int i = 0; i < API_MAX_CLIENTS; i++) {
		struct api_conn *c = &s->conns[i];

		if (c->src.fd >= 0 && c->deadline_ns <= now_ns) {
			log_debug("API socket %s: a client %s: closed", s->path,
				  c->active ? "did not finish its request or take its answer in time"
					    : "was idle too long");
			conn_close(c);
		}
	}
	if (s->listen_paused && s->resume_ns <= now_ns)
		listener_resume(s);
}

void api_server_close(struct api_server *s)
{
	for (unsigned int i = 0; i < API_MAX_CLIENTS; i++) {
		struct api_conn *c = &s->conns[i];

		if (c->src.fd < 0)
			continue;
		flush(&c->out, c->src.fd); /* a last answer (quit's) goes if the socket takes it */
		conn_close(c);
	}
	if (s->listen.fd >= 0) {
		int fd = s->listen.fd;

		if (s->loop)
			event_del(s->loop, &s->listen);
		close(fd);
		s->listen.fd = -1;
	}
	if (s->path[0] && s->dir_fd >= 0)
		unlinkat(s->dir_fd, sockpath_name(s->path), 0);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	s->dir_fd = -1;
	s->path[0] = '\0';
	s->listen_paused = false;
}
