/* api_client.c: "kvmini stat|inspect|pause|resume|quit": the commands that talk to a running kvmini's API socket. */
#include "api_client.h"

#include <errno.h>
#include <getopt.h>
#include <http_parser.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../devices/base/log.h"

#define NS_PER_S   1000000000ULL
#define JSON_FLAGS (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* ---- The HTTP exchange: one request on one connection ---- */

void api_client_init(struct api_client *c, const char *sock_path)
{
	*c = (struct api_client){ .sock_path = sock_path,
				  .timeout_ms = API_CLIENT_TIMEOUT_MS,
				  .cancel_fd = -1 };
}

void api_client_response_free(struct api_client_response *resp)
{
	free(resp->body);
	*resp = (struct api_client_response){ 0 };
}

static int fail(struct api_client *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Note what went wrong in c->err and return (err), a -errno. */
static int fail(struct api_client *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return err;
}

/* A failed connect(2) to c->sock_path, (err) its errno, in words that say what to do. */
static int connect_failed(struct api_client *c, int err)
{
	const char *p = c->sock_path;
	struct stat st;

	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return fail(c, -ENOENT, "no kvmini API at %s: start one with kvmini run --api-sock %s", p, p);
	case ECONNREFUSED:
		if (stat(p, &st) == 0 && !S_ISSOCK(st.st_mode))
			return fail(c, -ECONNREFUSED,
				    "%s is not a socket: give the path that kvmini run --api-sock was given",
				    p);
		return fail(
			c, -ECONNREFUSED,
			"no kvmini answers at %s (connection refused): the socket is stale, left by a kvmini "
			"that has ended; remove it, or start one with kvmini run --api-sock %s",
			p, p);
	case EACCES:
	case EPERM:
		return fail(
			c, -err,
			"%s: permission denied: the API socket is its owner's alone (mode 0600); run this as "
			"the user who started kvmini",
			p);
	case EAGAIN:
	case EINPROGRESS:
		return fail(c, -ETIMEDOUT,
			    "the kvmini API at %s accepts no connection (its queue is full): retry", p);
	default:
		return fail(c, -err, "cannot connect to the kvmini API at %s: %s", p, strerror(err));
	}
}

static int connect_api(struct api_client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = c->timeout_ms / 1000, .tv_usec = (c->timeout_ms % 1000) * 1000 };
	int fd;

	if (strlen(c->sock_path) >= sizeof(sa.sun_path))
		return fail(c, -ENAMETOOLONG,
			    "API socket path %s is longer than a socket's %zu bytes: use a shorter one",
			    c->sock_path, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, c->sock_path, strlen(c->sock_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(c, -errno, "socket: %s", strerror(errno));
	/* A full listen queue makes connect(2) wait: bounded by the timeout, as is every send. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		close(fd);
		return connect_failed(c, err);
	}
	return fd;
}

static int send_request(struct api_client *c, int fd, const char *method, const char *target,
			const char *body)
{
	size_t blen = body ? strlen(body) : 0, off = 0, len;
	char *req = NULL, length[96] = "";
	int n;

	/* PUT and PATCH say their length even when they have no body, as HTTP/1.1 asks. */
	if (body || strcmp(method, "GET") != 0)
		snprintf(length, sizeof(length), "Content-Type: application/json\r\nContent-Length: %zu\r\n",
			 blen);
	n = asprintf(&req,
		     "%s %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: kvmini/" KVMINI_VERSION "\r\n"
		     "Accept: application/json\r\nConnection: close\r\n%s\r\n%s",
		     method, target, length, body ? body : "");
	if (n < 0)
		return fail(c, -ENOMEM, "out of memory for a request");
	len = (size_t)n;
	while (off < len) {
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int err = errno;

			free(req);
			if (err == EAGAIN)
				return fail(
					c, -ETIMEDOUT,
					"the kvmini API at %s took no request within %d ms: it may be stuck",
					c->sock_path, c->timeout_ms);
			return fail(
				c, -ECONNRESET,
				"the kvmini API at %s closed the connection before the request was sent (%s): kvmini has ended",
				c->sock_path, strerror(err));
		}
		off += (size_t)w;
	}
	free(req);
	return 0;
}

/* A response as http-parser reads it. */
struct reader {
	http_parser p;
	struct api_client_response *resp;
	size_t cap;
	uint64_t declared; /* Content-Length, UINT64_MAX when there is none */
	size_t received;   /* bytes of the response so far, head included */
	bool head_done, done, too_big;
};

static int on_headers_complete(http_parser *p)
{
	struct reader *r = p->data;

	r->head_done = true;
	r->declared = (p->flags & F_CONTENTLENGTH) ? p->content_length : UINT64_MAX;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct reader *r = p->data;
	struct api_client_response *resp = r->resp;

	if (resp->body_len + len + 1 > API_CLIENT_MAX_RESPONSE) {
		r->too_big = true;
		return -1;
	}
	if (resp->body_len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *b;

		while (cap < resp->body_len + len + 1)
			cap *= 2;
		b = realloc(resp->body, cap);
		if (!b) {
			r->too_big = true;
			return -1;
		}
		resp->body = b;
		r->cap = cap;
	}
	memcpy(resp->body + resp->body_len, at, len);
	resp->body_len += len;
	resp->body[resp->body_len] = '\0';
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct reader *r = p->data;

	r->done = true;
	/* Stop here: anything after the one response we asked for is not ours to read. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings reader_settings = {
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* The connection closed before the response was whole: say where it stopped. */
static int truncated(struct api_client *c, const struct reader *r)
{
	const char *p = c->sock_path;

	if (r->received == 0)
		return fail(
			c, -ECONNRESET,
			"the kvmini API at %s closed the connection with no response: kvmini has ended, or turned the request away",
			p);
	if (!r->head_done)
		return fail(
			c, -EPROTO,
			"truncated response from %s: the connection closed in the HTTP head, after %zu bytes",
			p, r->received);
	if (r->declared != UINT64_MAX)
		return fail(c, -EPROTO,
			    "truncated response from %s: the connection closed after %zu of the %" PRIu64
			    " body bytes that Content-Length announced",
			    p, r->resp->body_len, r->declared);
	return fail(
		c, -EPROTO,
		"truncated response from %s: the connection closed in a chunked body, after %zu bytes of it",
		p, r->resp->body_len);
}

/* Feed (len) bytes of (buf) (0: the end of the stream) to (r). Returns 1 once whole, 0 for more, or -errno. */
static int feed(struct api_client *c, struct reader *r, const char *buf, size_t len)
{
	size_t used;

	r->received += len;
	used = http_parser_execute(&r->p, &reader_settings, len ? buf : NULL, len);
	if (r->done)
		return 1;
	if (r->too_big)
		return fail(c, -EMSGSIZE, "the response from %s is larger than %u MiB: refused", c->sock_path,
			    API_CLIENT_MAX_RESPONSE >> 20);
	if (len == 0)
		return truncated(c, r);
	if (HTTP_PARSER_ERRNO(&r->p) != HPE_OK || used != len)
		return fail(c, -EPROTO, "malformed HTTP response from %s: %s (%s), after %zu bytes",
			    c->sock_path, http_errno_description(HTTP_PARSER_ERRNO(&r->p)),
			    http_errno_name(HTTP_PARSER_ERRNO(&r->p)), r->received - len + used);
	return 0;
}

/* Wait until (fd) can be read, the deadline (end_ns) passes (-ETIMEDOUT) or c->cancel_fd is readable (-EINTR). */
static int wait_readable(struct api_client *c, int fd, uint64_t end_ns, const struct reader *r)
{
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN }, { .fd = c->cancel_fd, .events = POLLIN } };

	for (;;) {
		uint64_t now = now_ns();
		int n;

		if (now >= end_ns)
			return fail(
				c, -ETIMEDOUT,
				"no whole response from the kvmini API at %s within %d ms (%zu bytes came): it may be stuck; retry, or look at its process",
				c->sock_path, c->timeout_ms, r->received);
		n = poll(pfd, c->cancel_fd >= 0 ? 2 : 1, (int)((end_ns - now + 999999) / 1000000));
		if (n < 0 && errno != EINTR)
			return fail(c, -errno, "poll: %s", strerror(errno));
		if (n > 0 && c->cancel_fd >= 0 && pfd[1].revents)
			return fail(c, -EINTR, "interrupted");
		if (n > 0 && pfd[0].revents)
			return 0;
	}
}

static int read_response(struct api_client *c, int fd, uint64_t end_ns, struct api_client_response *resp)
{
	struct reader r = { .resp = resp, .declared = UINT64_MAX };
	char buf[8192];
	int ret;

	http_parser_init(&r.p, HTTP_RESPONSE);
	r.p.data = &r;
	do {
		ssize_t n;

		ret = wait_readable(c, fd, end_ns, &r);
		if (ret < 0)
			return ret;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ECONNRESET)
			n = 0; /* as an end of stream: truncated() tells what had come */
		if (n < 0)
			return fail(c, -errno, "reading from the kvmini API at %s: %s", c->sock_path,
				    strerror(errno));
		ret = feed(c, &r, buf, (size_t)n);
	} while (ret == 0);
	if (ret < 0)
		return ret;
	resp->status = r.p.status_code;
	return 0;
}

int api_client_request(struct api_client *c, const char *method, const char *target, const char *body,
		       struct api_client_response *resp)
{
	uint64_t end_ns = now_ns() + (uint64_t)c->timeout_ms * 1000000;
	int fd, ret;

	*resp = (struct api_client_response){ 0 };
	c->err[0] = '\0';
	fd = connect_api(c);
	if (fd < 0)
		return fd;
	ret = send_request(c, fd, method, target, body);
	if (ret == 0)
		ret = read_response(c, fd, end_ns, resp);
	close(fd);
	if (ret == 0 && !resp->body)
		resp->body = strdup("");
	if (ret == 0 && !resp->body)
		ret = fail(c, -ENOMEM, "out of memory");
	if (ret < 0)
		api_client_response_free(resp);
	return ret;
}

/* (s) for a message: its first (max) bytes, with anything unprintable as '?'. */
static const char *excerpt(const char *s, size_t len, char *buf, size_t max)
{
	size_t i, n = len < max - 1 ? len : max - 1;

	for (i = 0; i < n; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[n] = '\0';
	return buf;
}

int api_client_check(struct api_client *c, const char *what, const struct api_client_response *resp)
{
	struct json_object *o, *msg;
	char ex[121];

	if (resp->status >= 200 && resp->status < 300)
		return 0;
	o = json_tokener_parse(resp->body);
	if (o && json_object_object_get_ex(o, "fault_message", &msg) &&
	    json_object_is_type(msg, json_type_string))
		fail(c, -EREMOTEIO, "%s: %s (HTTP %u %s)", what, json_object_get_string(msg), resp->status,
		     http_status_str((enum http_status)resp->status));
	else
		fail(c, -EREMOTEIO, "%s: HTTP %u %s, with no fault_message in its body (\"%s\")", what,
		     resp->status, http_status_str((enum http_status)resp->status),
		     excerpt(resp->body, resp->body_len, ex, sizeof(ex)));
	json_object_put(o);
	return -EREMOTEIO;
}

int api_client_parse_object(struct api_client *c, const char *what, const struct api_client_response *resp,
			    struct json_object **out)
{
	struct json_tokener *tok = json_tokener_new();
	enum json_tokener_error jerr;
	struct json_object *o;
	size_t end;
	char ex[81];

	*out = NULL;
	if (!tok)
		return fail(c, -ENOMEM, "out of memory");
	o = json_tokener_parse_ex(tok, resp->body, (int)resp->body_len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_continue || (!o && resp->body_len == 0))
		return fail(c, -EPROTO, "the answer to %s is truncated JSON: it ends after %zu bytes", what,
			    resp->body_len);
	if (jerr != json_tokener_success)
		return fail(c, -EPROTO, "the answer to %s is not JSON: %s at byte %zu (\"%s\")", what,
			    json_tokener_error_desc(jerr), end,
			    excerpt(resp->body, resp->body_len, ex, sizeof(ex)));
	while (end < resp->body_len && strchr(" \t\r\n", resp->body[end]))
		end++;
	if (end < resp->body_len || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return fail(c, -EPROTO, "the answer to %s is not one JSON object: %s", what,
			    end < resp->body_len ? "bytes follow it" : "another kind of value");
	}
	*out = o;
	return 0;
}

int api_client_get(struct api_client *c, const char *target, struct json_object **out)
{
	struct api_client_response resp;
	char what[160];
	int ret;

	*out = NULL;
	snprintf(what, sizeof(what), "GET %s", target);
	ret = api_client_request(c, "GET", target, NULL, &resp);
	if (ret < 0)
		return ret;
	ret = api_client_check(c, what, &resp);
	if (ret == 0)
		ret = api_client_parse_object(c, what, &resp, out);
	api_client_response_free(&resp);
	return ret;
}

/* ---- pause, resume, quit ---- */

struct vm_command {
	const char *name, *method, *target, *body, *done;
};

static const struct vm_command vm_commands[] = {
	{ "pause", "PATCH", "/vm", "{\"state\": \"Paused\"}", "paused: every vCPU has stopped" },
	{ "resume", "PATCH", "/vm", "{\"state\": \"Resumed\"}", "resumed: the vCPUs run again" },
	{ "quit", "PUT", "/actions", "{\"action_type\": \"Quit\"}",
	  "quit: kvmini is ending, with exit status 10 (quit)" },
};

static const struct vm_command *find_vm_command(const char *name)
{
	for (size_t i = 0; i < sizeof(vm_commands) / sizeof(vm_commands[0]); i++)
		if (strcmp(vm_commands[i].name, name) == 0)
			return &vm_commands[i];
	return NULL;
}

int api_client_vm_command(struct api_client *c, const char *cmd, FILE *out)
{
	const struct vm_command *vc = find_vm_command(cmd);
	struct api_client_response resp;
	char what[64];
	int ret;

	if (!vc)
		return fail(c, -EINVAL, "%s: not one of pause, resume, quit", cmd);
	snprintf(what, sizeof(what), "%s %s", vc->method, vc->target);
	ret = api_client_request(c, vc->method, vc->target, vc->body, &resp);
	if (ret < 0)
		return ret;
	ret = api_client_check(c, what, &resp);
	api_client_response_free(&resp);
	if (ret == 0)
		fprintf(out, "%s\n", vc->done);
	return ret;
}

/* ---- Reading the server's JSON: anything may be missing or odd ---- */

static struct json_object *field(struct json_object *o, const char *key)
{
	struct json_object *f = NULL;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &f))
		return NULL;
	return f;
}

/* An unsigned integer (key) of (o) into (*v): false when missing, null, negative or not an integer. */
static bool get_u64(struct json_object *o, const char *key, uint64_t *v)
{
	struct json_object *f = field(o, key);

	if (!f || !json_object_is_type(f, json_type_int) || json_object_get_int64(f) < 0)
		return false;
	*v = json_object_get_uint64(f);
	return true;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *f = field(o, key);

	return f && json_object_is_type(f, json_type_string) ? json_object_get_string(f) : "-";
}

static struct json_object *get_array(struct json_object *o, const char *key)
{
	struct json_object *f = field(o, key);

	return f && json_object_is_type(f, json_type_array) ? f : NULL;
}

/* (key) of (o) as decimal text in (buf), "-" when it is no unsigned integer. */
static const char *dec(struct json_object *o, const char *key, char *buf, size_t len)
{
	uint64_t v;

	if (!get_u64(o, key, &v))
		return "-";
	snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

/* (key) of (o) as 0x-hex text, (width) digits at least, in (buf); "-" when it is no unsigned integer. */
static const char *hex(struct json_object *o, const char *key, int width, char *buf, size_t len)
{
	uint64_t v;

	if (!get_u64(o, key, &v))
		return "-";
	snprintf(buf, len, "0x%0*" PRIx64, width, v);
	return buf;
}

/* The element of array (a) whose (key) is the integer (v), NULL when none. */
static struct json_object *find_by_u64(struct json_object *a, const char *key, uint64_t v)
{
	uint64_t w;

	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *e = json_object_array_get_idx(a, i);

		if (get_u64(e, key, &w) && w == v)
			return e;
	}
	return NULL;
}

static struct json_object *find_by_str(struct json_object *a, const char *key, const char *s)
{
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		struct json_object *f = field(e, key);

		if (f && json_object_is_type(f, json_type_string) &&
		    strcmp(json_object_get_string(f), s) == 0)
			return e;
	}
	return NULL;
}

/* (f) copied for another object: the same value, one more reference; NULL stays NULL (JSON null). */
static struct json_object *copy_of(struct json_object *f)
{
	return json_object_get(f);
}

/* ---- stat: rates between two samples ---- */

/* A sum over the rates that are known; JSON null when none is. */
struct total {
	double sum;
	bool known;
};

/* (v) as a JSON number with one decimal, as printed: %.17g would show 1233.9999999999998. */
static struct json_object *number(double v)
{
	char buf[40];

	snprintf(buf, sizeof(buf), "%.1f", v);
	return json_object_new_double_s(v, buf);
}

/*
 * Counter (key)'s change from (b) to (a) per second of (interval_ns), adding to (t): null when unknown.
 * (b) NULL: nothing to compare with; (b) lacking (key) counts as 0 when (absent_is_0) (an exit reason
 * appears in /stats once it has been seen).
 */
static struct json_object *rate(struct json_object *b, struct json_object *a, const char *key,
				uint64_t interval_ns, struct total *t, bool absent_is_0)
{
	uint64_t vb = 0, va;
	double r;

	if (!b || !get_u64(a, key, &va) || interval_ns == 0)
		return NULL;
	if (!get_u64(b, key, &vb) && !(absent_is_0 && !field(b, key)))
		return NULL;
	if (va < vb)
		return NULL;
	r = (double)(va - vb) * (double)NS_PER_S / (double)interval_ns;
	if (t) {
		t->sum += r;
		t->known = true;
	}
	return number(r);
}

/* Nanosecond counter (key)'s change from (b) to (a) as a percentage of (interval_ns): null when unknown. */
static struct json_object *percent(struct json_object *b, struct json_object *a, const char *key,
				   uint64_t interval_ns)
{
	uint64_t vb, va;

	if (!b || !get_u64(b, key, &vb) || !get_u64(a, key, &va) || va < vb || interval_ns == 0)
		return NULL;
	return number((double)(va - vb) * 100.0 / (double)interval_ns);
}

static struct json_object *total(const struct total *t)
{
	return t->known ? number(t->sum) : NULL;
}

struct stat_totals {
	struct total exits, irqs, kicks, signals;
};

static struct json_object *vcpu_rates(struct json_object *b, struct json_object *a, uint64_t ns,
				      struct stat_totals *t)
{
	struct json_object *r = json_object_new_object(), *reasons = json_object_new_object();
	struct json_object *ea = field(a, "exits"), *eb = b ? field(b, "exits") : NULL;

	json_object_object_add(r, "id", copy_of(field(a, "id")));
	json_object_object_add(r, "tid", copy_of(field(a, "tid")));
	json_object_object_add(r, "exits_total_per_s", rate(b, a, "exits_total", ns, &t->exits, false));
	if (ea && json_object_is_type(ea, json_type_object)) {
		json_object_object_foreach(ea, reason, v)
		{
			(void)v;
			json_object_object_add(reasons, reason, rate(eb, ea, reason, ns, NULL, true));
		}
	}
	json_object_object_add(r, "exits_per_s", reasons);
	json_object_object_add(r, "guest_percent", percent(b, a, "guest_ns", ns));
	json_object_object_add(r, "vmm_percent", percent(b, a, "vmm_ns", ns));
	json_object_object_add(r, "irq_injections_per_s", rate(b, a, "irq_injections", ns, &t->irqs, false));
	return r;
}

static struct json_object *device_rates(struct json_object *b, struct json_object *a, uint64_t ns,
					struct stat_totals *t)
{
	struct json_object *r = json_object_new_object(), *queues = json_object_new_array();
	struct json_object *qa = get_array(a, "queues"), *qb = get_array(b, "queues");
	struct total kicks = { 0 }, signals = { 0 };

	json_object_object_add(r, "name", copy_of(field(a, "name")));
	json_object_object_add(r, "type", copy_of(field(a, "type")));
	json_object_object_add(r, "served_by", copy_of(field(a, "served_by")));
	json_object_object_add(r, "pid", copy_of(field(a, "pid")));
	for (size_t i = 0; qa && i < json_object_array_length(qa); i++) {
		struct json_object *q = json_object_array_get_idx(qa, i), *qr = json_object_new_object();
		uint64_t idx;
		struct json_object *p = get_u64(q, "index", &idx) ? find_by_u64(qb, "index", idx) : NULL;

		json_object_object_add(qr, "index", copy_of(field(q, "index")));
		json_object_object_add(qr, "kicks_per_s", rate(p, q, "kicks", ns, &kicks, false));
		json_object_object_add(qr, "signals_per_s", rate(p, q, "signals", ns, &signals, false));
		json_object_object_add(qr, "chains_per_s", rate(p, q, "chains", ns, NULL, false));
		json_object_array_add(queues, qr);
	}
	json_object_object_add(r, "kicks_per_s", total(&kicks));
	json_object_object_add(r, "signals_per_s", total(&signals));
	json_object_object_add(r, "queues", queues);
	t->kicks.sum += kicks.sum;
	t->kicks.known |= kicks.known;
	t->signals.sum += signals.sum;
	t->signals.known |= signals.known;
	return r;
}

/* The server's clock when it counts: the counters and uptime_ns are read together, the client's round trip is not. */
static uint64_t interval_of(struct json_object *before, struct json_object *after, uint64_t client_ns,
			    bool *server)
{
	uint64_t ub, ua;

	*server = get_u64(before, "uptime_ns", &ub) && get_u64(after, "uptime_ns", &ua) && ua > ub;
	return *server ? ua - ub : client_ns;
}

static struct json_object *rates_of(struct json_object *before, struct json_object *after, uint64_t ns)
{
	struct json_object *r = json_object_new_object(), *vcpus = json_object_new_array(),
			   *devices = json_object_new_array();
	struct json_object *va = get_array(after, "vcpus"), *vb = get_array(before, "vcpus");
	struct json_object *da = get_array(after, "devices"), *db = get_array(before, "devices");
	struct stat_totals t = { 0 };

	for (size_t i = 0; va && i < json_object_array_length(va); i++) {
		struct json_object *a = json_object_array_get_idx(va, i);
		uint64_t id;

		json_object_array_add(
			vcpus,
			vcpu_rates(get_u64(a, "id", &id) ? find_by_u64(vb, "id", id) : NULL, a, ns, &t));
	}
	for (size_t i = 0; da && i < json_object_array_length(da); i++) {
		struct json_object *a = json_object_array_get_idx(da, i);
		const char *name = get_str(a, "name");

		json_object_array_add(devices, device_rates(find_by_str(db, "name", name), a, ns, &t));
	}
	json_object_object_add(r, "exits_total_per_s", total(&t.exits));
	json_object_object_add(r, "irq_injections_per_s", total(&t.irqs));
	json_object_object_add(r, "kicks_per_s", total(&t.kicks));
	json_object_object_add(r, "signals_per_s", total(&t.signals));
	json_object_object_add(r, "vcpus", vcpus);
	json_object_object_add(r, "devices", devices);
	return r;
}

struct json_object *api_client_stat_rates(struct json_object *before, struct json_object *after,
					  uint64_t client_ns)
{
	struct json_object *o = json_object_new_object();
	bool server;
	uint64_t ns = interval_of(before, after, client_ns, &server);

	if (!o)
		return NULL;
	json_object_object_add(o, "interval_ns", json_object_new_uint64(ns));
	json_object_object_add(o, "interval_source", json_object_new_string(server ? "uptime_ns" : "client"));
	json_object_object_add(o, "state", copy_of(field(after, "state")));
	json_object_object_add(o, "uptime_ns", copy_of(field(after, "uptime_ns")));
	json_object_object_add(o, "rates", rates_of(before, after, ns));
	json_object_object_add(o, "before", copy_of(before));
	json_object_object_add(o, "after", copy_of(after));
	return o;
}

/* ---- stat: the table ---- */

/* A rate as printed: whole numbers, but a rate under 10 that is not one keeps a decimal ("0.5"). */
static const char *rate_text(double v, char *buf, size_t len)
{
	snprintf(buf, len, v < 10 && v != (double)(uint64_t)v ? "%.1f" : "%.0f", v);
	return buf;
}

/* Rate (key) of (o) as printed; "-" when unknown. */
static const char *per_s(struct json_object *o, const char *key, char *buf, size_t len)
{
	struct json_object *f = field(o, key);

	if (!f || !(json_object_is_type(f, json_type_double) || json_object_is_type(f, json_type_int)))
		return "-";
	return rate_text(json_object_get_double(f), buf, len);
}

static const char *pct(struct json_object *o, const char *key, char *buf, size_t len)
{
	struct json_object *f = field(o, key);

	if (!f || !(json_object_is_type(f, json_type_double) || json_object_is_type(f, json_type_int)))
		return "-";
	snprintf(buf, len, "%.1f", json_object_get_double(f));
	return buf;
}

/* A reason and its rate, for sorting: the busiest first, then by name. */
struct reason_rate {
	const char *name;
	double rate;
	bool known;
};

static int by_rate(const void *x, const void *y)
{
	const struct reason_rate *a = x, *b = y;

	if (a->known != b->known)
		return a->known ? -1 : 1;
	if (a->rate != b->rate)
		return a->rate > b->rate ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* The exit reasons of one vCPU's rates (v), busiest first; those with no exit in the interval left out. */
static void print_reasons(FILE *out, struct json_object *v)
{
	struct json_object *ex = field(v, "exits_per_s");
	struct reason_rate rr[64];
	size_t n = 0;

	if (!ex || !json_object_is_type(ex, json_type_object))
		return;
	json_object_object_foreach(ex, name, r)
	{
		bool known = r && (json_object_is_type(r, json_type_double) ||
				   json_object_is_type(r, json_type_int));

		if (n == sizeof(rr) / sizeof(rr[0]) || (known && json_object_get_double(r) == 0))
			continue;
		rr[n++] = (struct reason_rate){ name, known ? json_object_get_double(r) : 0, known };
	}
	qsort(rr, n, sizeof(rr[0]), by_rate);
	for (size_t i = 0; i < n; i++) {
		char buf[32] = "-";

		if (rr[i].known)
			rate_text(rr[i].rate, buf, sizeof(buf));
		fprintf(out, "  %-14s %11s\n", rr[i].name, buf);
	}
}

static void print_vcpus(FILE *out, struct json_object *rates)
{
	struct json_object *vcpus = get_array(rates, "vcpus");
	char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];

	fprintf(out, "%-5s %-10s %11s %8s %9s %9s\n", "vCPU", "TID", "exits/s", "guest %", "kvmini %",
		"irqs/s");
	for (size_t i = 0; vcpus && i < json_object_array_length(vcpus); i++) {
		struct json_object *v = json_object_array_get_idx(vcpus, i);

		fprintf(out, "%-5s %-10s %11s %8s %9s %9s\n", dec(v, "id", b1, sizeof(b1)),
			dec(v, "tid", b2, sizeof(b2)), per_s(v, "exits_total_per_s", b3, sizeof(b3)),
			pct(v, "guest_percent", b4, sizeof(b4)), pct(v, "vmm_percent", b5, sizeof(b5)),
			per_s(v, "irq_injections_per_s", b6, sizeof(b6)));
		print_reasons(out, v);
	}
	fprintf(out, "%-16s %11s %8s %9s %9s\n", "all", per_s(rates, "exits_total_per_s", b1, sizeof(b1)), "",
		"", per_s(rates, "irq_injections_per_s", b2, sizeof(b2)));
}

static void print_devices(FILE *out, struct json_object *rates)
{
	struct json_object *devs = get_array(rates, "devices");
	char b1[32], b2[32], b3[32], b4[32];

	if (!devs || json_object_array_length(devs) == 0) {
		fprintf(out, "devices: none\n");
		return;
	}
	fprintf(out, "%-10s %-13s %-11s %-8s %5s %10s %10s\n", "device", "type", "served by", "PID", "queue",
		"kicks/s", "signals/s");
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		struct json_object *d = json_object_array_get_idx(devs, i), *qs = get_array(d, "queues");
		size_t nq = qs ? json_object_array_length(qs) : 0;

		fprintf(out, "%-10s %-13s %-11s %-8s", get_str(d, "name"), get_str(d, "type"),
			get_str(d, "served_by"), dec(d, "pid", b1, sizeof(b1)));
		for (size_t j = 0; j < nq; j++) {
			struct json_object *q = json_object_array_get_idx(qs, j);

			fprintf(out, "%*s %5s %10s %10s\n", j ? 45 : 0, "", dec(q, "index", b2, sizeof(b2)),
				per_s(q, "kicks_per_s", b3, sizeof(b3)),
				per_s(q, "signals_per_s", b4, sizeof(b4)));
		}
		if (nq != 1)
			fprintf(out, "%*s %5s %10s %10s\n", nq ? 45 : 0, "", "all",
				per_s(d, "kicks_per_s", b3, sizeof(b3)),
				per_s(d, "signals_per_s", b4, sizeof(b4)));
	}
	if (json_object_array_length(devs) > 1)
		fprintf(out, "%-45s %5s %10s %10s\n", "all devices", "",
			per_s(rates, "kicks_per_s", b3, sizeof(b3)),
			per_s(rates, "signals_per_s", b4, sizeof(b4)));
}

/* (ns) as seconds with (decimals) digits (1 or 2), in integer arithmetic: u64 nanoseconds exceed a double's 2^53. */
static const char *seconds(uint64_t ns, int decimals, char *buf, size_t len)
{
	uint64_t unit = decimals == 2 ? 10000000 : 100000000, frac = (ns % NS_PER_S + unit / 2) / unit;
	uint64_t s = ns / NS_PER_S;

	if (frac == (decimals == 2 ? 100u : 10u)) {
		s++;
		frac = 0;
	}
	snprintf(buf, len, "%" PRIu64 ".%0*" PRIu64, s, decimals, frac);
	return buf;
}

void api_client_stat_print(FILE *out, struct json_object *rates)
{
	struct json_object *r = field(rates, "rates");
	char up[32] = "-", iv[32] = "-";
	uint64_t ns;

	if (get_u64(rates, "uptime_ns", &ns))
		seconds(ns, 1, up, sizeof(up));
	if (get_u64(rates, "interval_ns", &ns))
		seconds(ns, 2, iv, sizeof(iv));
	fprintf(out, "kvmini stat: %s, up %s s; per second over the last %s s\n", get_str(rates, "state"), up,
		iv);
	print_vcpus(out, r);
	fputc('\n', out);
	print_devices(out, r);
}

/* ---- inspect: the report by layer ---- */

/* (v) bytes in the largest unit that divides it: "256 MiB", "4097 B". */
static const char *size_text(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	size_t u = 0;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && v && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 " %s", v, units[u]);
	return buf;
}

static const char *size_of(struct json_object *o, const char *key, char *buf, size_t len)
{
	uint64_t v;

	return get_u64(o, key, &v) ? size_text(v, buf, len) : "-";
}

/* [start, start + size) of (o) as "0x...-0x..." (inclusive end), "-" when either is missing or it wraps. */
static const char *range(struct json_object *o, const char *start, const char *size, char *buf, size_t len)
{
	uint64_t s, n;

	if (!get_u64(o, start, &s) || !get_u64(o, size, &n) || (n && s + (n - 1) < s))
		return "-";
	if (n == 0)
		snprintf(buf, len, "0x%016" PRIx64 " (empty)", s);
	else
		snprintf(buf, len, "0x%016" PRIx64 "-0x%016" PRIx64, s, s + (n - 1));
	return buf;
}

/* Array (key) of (o)'s strings joined by ",": "-" when missing, (empty) when it has none. */
static const char *join(struct json_object *o, const char *key, const char *empty, char *buf, size_t len)
{
	struct json_object *a = get_array(o, key);
	size_t used = 0;

	if (!a)
		return "-";
	buf[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *s = json_object_array_get_idx(a, i);
		int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "",
				 json_object_is_type(s, json_type_string) ? json_object_get_string(s) : "?");

		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	return used ? buf : empty;
}

/* The heading line of an array (key) of (o), with its count; NULL (after "-" or "none") when there is no row. */
static struct json_object *list_heading(FILE *out, struct json_object *o, const char *key, const char *title)
{
	struct json_object *a = get_array(o, key);

	if (!a)
		fprintf(out, "  %s: -\n", title);
	else if (json_object_array_length(a) == 0)
		fprintf(out, "  %s: none\n", title);
	else
		fprintf(out, "  %s (%zu):\n", title, json_object_array_length(a));
	return a && json_object_array_length(a) ? a : NULL;
}

static void print_l0(FILE *out, struct json_object *l0)
{
	struct json_object *kvm = field(l0, "kvm"), *mem, *hole = field(l0, "pci_hole"),
			   *devices = field(l0, "devices");
	char b[7][64];

	fprintf(out, "  KVM: %s, module %s, API version %s\n", get_str(kvm, "kind"), get_str(kvm, "module"),
		dec(kvm, "api_version", b[0], sizeof(b[0])));
	mem = list_heading(out, l0, "memory", "memory slots");
	if (mem)
		fprintf(out, "    %4s  %-37s  %-9s  %-18s  %-24s  %-10s  %s\n", "slot", "guest range", "size",
			"host mapping", "backing", "flags", "dirty pages");
	for (size_t i = 0; mem && i < json_object_array_length(mem); i++) {
		struct json_object *m = json_object_array_get_idx(mem, i);

		fprintf(out, "    %4s  %-37s  %-9s  %-18s  %-24s  %-10s  %s\n",
			dec(m, "slot", b[0], sizeof(b[0])),
			range(m, "guest_phys", "size", b[1], sizeof(b[1])),
			size_of(m, "size", b[2], sizeof(b[2])), hex(m, "host_addr", 16, b[3], sizeof(b[3])),
			get_str(m, "backing"), join(m, "flags", "-", b[4], sizeof(b[4])),
			dec(m, "dirty_pages", b[5], sizeof(b[5])));
	}
	/* x86 sends its PCI hole, arm64 its map of device regions below RAM. */
	if (hole || !devices)
		fprintf(out, "  PCI hole: %s (%s)\n", range(hole, "start", "size", b[0], sizeof(b[0])),
			size_of(hole, "size", b[1], sizeof(b[1])));
	if (devices) {
		fprintf(out, "  device regions:\n");
		json_object_object_foreach(devices, name, r)
		{
			fprintf(out, "    %-20s %s (%s)\n", name,
				range(r, "start", "size", b[0], sizeof(b[0])),
				size_of(r, "size", b[1], sizeof(b[1])));
		}
	}
}

/* The members of (o) as "name value" pairs, integers in hex (padded to (width)), (per_line) a line. */
static void print_values(FILE *out, struct json_object *o, int width, int per_line, const char *indent)
{
	int n = 0;

	json_object_object_foreach(o, key, v)
	{
		char buf[40] = "-";

		if (json_object_is_type(v, json_type_object))
			continue; /* a segment or table: on its own line (print_segments) */
		if (json_object_is_type(v, json_type_string))
			snprintf(buf, sizeof(buf), "%s", json_object_get_string(v));
		else
			hex(o, key, width, buf, sizeof(buf));
		fprintf(out, "%s%s%-6s %-*s", n % per_line ? "  " : indent, "", key, width + 2, buf);
		if (++n % per_line == 0)
			fputc('\n', out);
	}
	if (n % per_line)
		fputc('\n', out);
}

/* The object members of (sregs): segments and descriptor tables, one a line. */
static void print_segments(FILE *out, struct json_object *sregs)
{
	json_object_object_foreach(sregs, key, v)
	{
		char buf[40] = "-";
		bool first = true;

		if (!json_object_is_type(v, json_type_object))
			continue;
		fprintf(out, "    %-4s", key);
		json_object_object_foreach(v, k, f)
		{
			if (json_object_is_type(f, json_type_string))
				snprintf(buf, sizeof(buf), "%s", json_object_get_string(f));
			else
				hex(v, k, 1, buf, sizeof(buf));
			fprintf(out, "%s %s %s", first ? "" : ",", k, buf);
			first = false;
		}
		fputc('\n', out);
	}
}

static void print_l1(FILE *out, struct json_object *l1)
{
	struct json_object *vcpus = list_heading(out, l1, "vcpus", "vCPUs");
	char b[3][32];

	for (size_t i = 0; vcpus && i < json_object_array_length(vcpus); i++) {
		struct json_object *v = json_object_array_get_idx(vcpus, i);
		struct json_object *regs = field(v, "regs"), *sregs = field(v, "sregs");

		fprintf(out, "  vCPU %s: TID %s, host CPU %s, state %s, last exit %s\n",
			dec(v, "id", b[0], sizeof(b[0])), dec(v, "tid", b[1], sizeof(b[1])),
			dec(v, "host_cpu", b[2], sizeof(b[2])), get_str(v, "state"), get_str(v, "last_exit"));
		if (regs && json_object_is_type(regs, json_type_object))
			print_values(out, regs, 16, 4, "    ");
		else
			fprintf(out, "    registers: -\n");
		if (sregs && json_object_is_type(sregs, json_type_object)) {
			print_values(out, sregs, 16, 4, "    ");
			print_segments(out, sregs);
		} else {
			fprintf(out, "    segment and control registers: -\n");
		}
	}
}

static void print_event_channels(FILE *out, struct json_object *l2)
{
	struct json_object *a = list_heading(out, l2, "ioeventfds", "ioeventfds");
	char b[6][32];

	if (a)
		fprintf(out, "    %-18s  %3s  %-10s  %5s  %10s\n", "address", "len", "device", "queue",
			"kicks");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *e = json_object_array_get_idx(a, i);

		fprintf(out, "    %-18s  %3s  %-10s  %5s  %10s\n", hex(e, "addr", 16, b[0], sizeof(b[0])),
			dec(e, "len", b[1], sizeof(b[1])), get_str(e, "device"),
			dec(e, "queue", b[2], sizeof(b[2])), dec(e, "kicks", b[3], sizeof(b[3])));
	}
	a = list_heading(out, l2, "irqfds", "irqfds");
	if (a)
		fprintf(out, "    %4s  %-18s  %-10s  %-10s  %6s  %10s\n", "GSI", "MSI address", "MSI data",
			"device", "vector", "signals");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *e = json_object_array_get_idx(a, i);

		fprintf(out, "    %4s  %-18s  %-10s  %-10s  %6s  %10s\n", dec(e, "gsi", b[0], sizeof(b[0])),
			hex(e, "msi_addr", 16, b[1], sizeof(b[1])), hex(e, "msi_data", 8, b[2], sizeof(b[2])),
			get_str(e, "device"), dec(e, "vector", b[3], sizeof(b[3])),
			dec(e, "signals", b[4], sizeof(b[4])));
	}
}

static void print_l2(FILE *out, struct json_object *l2)
{
	struct json_object *a;
	char b[6][32];

	print_event_channels(out, l2);
	a = list_heading(out, l2, "queues", "queues");
	if (a)
		fprintf(out, "    %-10s  %5s  %5s  %9s  %8s\n", "device", "index", "size", "avail_idx",
			"used_idx");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *q = json_object_array_get_idx(a, i);

		fprintf(out, "    %-10s  %5s  %5s  %9s  %8s\n", get_str(q, "device"),
			dec(q, "index", b[0], sizeof(b[0])), dec(q, "size", b[1], sizeof(b[1])),
			dec(q, "avail_idx", b[2], sizeof(b[2])), dec(q, "used_idx", b[3], sizeof(b[3])));
	}
	a = list_heading(out, l2, "shared_memory", "shared memory");
	if (a)
		fprintf(out, "    %-16s  %-10s  %-8s  %s\n", "what", "with", "PID", "size");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *s = json_object_array_get_idx(a, i);

		fprintf(out, "    %-16s  %-10s  %-8s  %s\n", get_str(s, "what"), get_str(s, "with"),
			dec(s, "pid", b[0], sizeof(b[0])), size_of(s, "size", b[1], sizeof(b[1])));
	}
}

static void print_l3(FILE *out, struct json_object *l3)
{
	struct json_object *k = field(l3, "kvmini"), *a;
	char b[5][32], ns[160];

	fprintf(out, "  kvmini: PID %s, cgroup %s, syscalls allowed: main thread %s, vCPU threads %s\n",
		dec(k, "pid", b[0], sizeof(b[0])), get_str(k, "cgroup"),
		dec(k, "main_thread_syscalls", b[1], sizeof(b[1])),
		dec(k, "vcpu_syscalls", b[2], sizeof(b[2])));
	a = list_heading(out, l3, "device_processes", "device processes");
	if (a)
		fprintf(out, "    %-10s  %-8s  %-8s  %8s  %8s  %-16s  %s\n", "device", "PID", "seccomp",
			"syscalls", "Landlock", "cgroup", "namespaces of its own");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *d = json_object_array_get_idx(a, i);

		fprintf(out, "    %-10s  %-8s  %-8s  %8s  %8s  %-16s  %s\n", get_str(d, "device"),
			dec(d, "pid", b[0], sizeof(b[0])), get_str(d, "seccomp"),
			dec(d, "syscalls_allowed", b[1], sizeof(b[1])),
			dec(d, "landlock_abi", b[2], sizeof(b[2])), get_str(d, "cgroup"),
			join(d, "namespaces", "none", ns, sizeof(ns)));
	}
}

void api_client_inspect_print(FILE *out, struct json_object *inspect)
{
	static void (*const print_layer[])(FILE *, struct json_object *) = { print_l0, print_l1, print_l2,
									     print_l3 };
	bool first = true;

	for (enum layer l = LAYER_HARDWARE; l <= LAYER_SANDBOX; l++) {
		struct json_object *o = field(inspect, layer_tag(l));

		if (!o)
			continue;
		fprintf(out, "%s%s\n", first ? "" : "\n", layer_name(l));
		first = false;
		if (json_object_is_type(o, json_type_object))
			print_layer[l](out, o);
		else
			fprintf(out, "  %s\n",
				json_object_is_type(o, json_type_string) ? json_object_get_string(o) : "-");
	}
	if (first)
		fprintf(out, "no layer in the answer (expected L-0 to L-3)\n");
}

/* ---- The commands ---- */

static const char *const api_usage[] = {
	[0] = "usage: kvmini stat --api-sock PATH [--once] [--json] [--interval S]\n"
	      "\n"
	      "A running kvmini's live counters, refreshed every interval (like kvm_stat): for each vCPU its\n"
	      "exits per second, by reason too, the share of the interval spent in the guest (inside KVM_RUN)\n"
	      "and in kvmini (handling exits), and the interrupts KVM injected per second (\"-\" where KVM does\n"
	      "not count them); for each device and queue, ioeventfd kicks and irqfd signals per second, with\n"
	      "totals. The first table comes one interval after the start. On a terminal the screen is\n"
	      "redrawn; otherwise tables follow one another, a blank line apart. Ctrl-C ends it, as does the\n"
	      "VM's end (\"the VM has ended\" on stderr), both with exit status 0 (with --once: 1).\n"
	      "  --api-sock PATH   the socket kvmini run --api-sock PATH serves\n"
	      "  --once            two samples one interval apart, one table, then exit\n"
	      "  --json            JSON instead of the table (with --once: one object; else one a line):\n"
	      "                    \"rates\" has each counter K as K_per_s (guest_ns and vmm_ns as\n"
	      "                    guest_percent and vmm_percent), null where unknown; \"before\" and\n"
	      "                    \"after\" are the two GET /stats answers; \"interval_ns\" their distance\n"
	      "  --interval S      seconds between samples, 0.1 to 3600 (default 1)\n"
	      "Exit status: 0 done, 1 the API failed or refused, 2 a usage error.\n",
	[1] = "usage: kvmini inspect --api-sock PATH [--json] [--layer L-n] [--dirty]\n"
	      "\n"
	      "A running VM, layer by layer: L-0 which KVM this is and the guest-physical memory map (slot,\n"
	      "guest range, size, host mapping, backing, flags, dirty pages); L-1 each vCPU thread (TID,\n"
	      "host CPU, state, last exit, registers); L-2 the event channels (ioeventfds, irqfds), each\n"
	      "queue's indexes and the memory shared with device processes; L-3 kvmini's and each device\n"
	      "process's sandbox (seccomp, namespaces, Landlock, cgroup).\n"
	      "  --api-sock PATH   the socket kvmini run --api-sock PATH serves\n"
	      "  --json            the server's JSON, indented\n"
	      "  --layer L-n       one layer: L-0, L-1, L-2 or L-3\n"
	      "  --dirty           count each slot's pages dirtied since the last --dirty (KVM's dirty log)\n"
	      "Exit status: 0 done, 1 the API failed or refused, 2 a usage error.\n",
	[2] = "usage: kvmini pause|resume|quit --api-sock PATH\n"
	      "\n"
	      "pause: stop every vCPU (PATCH /vm {\"state\": \"Paused\"}), bounded by 2 s; resume: run them\n"
	      "again (PATCH /vm {\"state\": \"Resumed\"}); quit: end kvmini (PUT /actions {\"action_type\":\n"
	      "\"Quit\"}), whose exit status is then 0. One line says it is done, or the server's reason why not.\n"
	      "  --api-sock PATH   the socket kvmini run --api-sock PATH serves\n"
	      "Exit status: 0 done, 1 the API failed or refused, 2 a usage error.\n",
};

enum {
	CMD_STAT,
	CMD_INSPECT,
	CMD_VM
};

struct client_opts {
	int cmd;
	const char *name, *sock, *layer;
	bool once, json, dirty;
	int interval_ms;
};

static const struct option api_options[] = {
	{ "api-sock", required_argument, NULL, 'S' }, { "once", no_argument, NULL, 'o' },
	{ "json", no_argument, NULL, 'j' },	      { "interval", required_argument, NULL, 'i' },
	{ "layer", required_argument, NULL, 'l' },    { "dirty", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },	      { NULL, 0, NULL, 0 },
};

bool api_client_command(const char *name)
{
	return strcmp(name, "stat") == 0 || strcmp(name, "inspect") == 0 || find_vm_command(name);
}

static int parse_interval(const char *s, int *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.1 && v <= 3600))
		return -EINVAL;
	*ms = (int)(v * 1000 + 0.5);
	return 0;
}

static int parse_layer(const char *s)
{
	return (s[0] == 'L' || s[0] == 'l') && s[1] == '-' && s[2] >= '0' && s[2] <= '3' && !s[3] ? 0
												  : -EINVAL;
}

static const char *option_name(int opt)
{
	for (const struct option *p = api_options; p->name; p++)
		if (p->val == opt)
			return p->name;
	return "?";
}

/* One option (opt) with (arg) into (o). Returns 0, or -EINVAL after saying what is wrong. */
static int parse_option(struct client_opts *o, int opt, const char *arg, const char *text)
{
	/* Which command takes which option: stat, inspect, the others. */
	static const char *const takes[] = { "Soji", "Sjld", "S" };

	if (opt == '?' || opt == ':') {
		log_err("%s: %s '%s': see 'kvmini %s --help'", o->name,
			opt == '?' ? "unknown option" : "a value is missing after", text, o->name);
		return -EINVAL;
	}
	if (!strchr(takes[o->cmd], opt)) {
		log_err("%s: --%s is not an option of kvmini %s: see 'kvmini %s --help'", o->name,
			option_name(opt), o->name, o->name);
		return -EINVAL;
	}
	if (opt == 'i' && parse_interval(arg, &o->interval_ms) < 0) {
		log_err("%s: --interval '%s' is not a number of seconds from 0.1 to 3600", o->name, arg);
		return -EINVAL;
	}
	if (opt == 'l' && parse_layer(arg) < 0) {
		log_err("%s: --layer '%s' is not a layer: give one of L-0, L-1, L-2, L-3", o->name, arg);
		return -EINVAL;
	}
	if (opt == 'S')
		o->sock = arg;
	o->once |= opt == 'o';
	o->json |= opt == 'j';
	o->dirty |= opt == 'd';
	if (opt == 'l')
		o->layer = arg;
	return 0;
}

/* (argc, argv) into (o). Returns 0, 1 after --help, -EINVAL on a usage error (said). */
static int parse_options(int argc, char **argv, struct client_opts *o)
{
	int opt;

	o->name = argv[0];
	o->cmd = strcmp(argv[0], "stat") == 0	   ? CMD_STAT
		 : strcmp(argv[0], "inspect") == 0 ? CMD_INSPECT
						   : CMD_VM;
	o->interval_ms = 1000;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", api_options, NULL)) != -1) {
		if (opt == 'h') {
			fputs(api_usage[o->cmd], stdout);
			return 1;
		}
		if (parse_option(o, opt, optarg, argv[optind - 1]) < 0)
			return -EINVAL;
	}
	if (optind < argc) {
		log_err("%s: unexpected argument '%s': see 'kvmini %s --help'", o->name, argv[optind],
			o->name);
		return -EINVAL;
	}
	if (!o->sock || !*o->sock) {
		log_err("%s: which kvmini? give --api-sock PATH, the path given to kvmini run --api-sock",
			o->name);
		return -EINVAL;
	}
	return 0;
}

static void stat_show(FILE *out, struct json_object *rates, const struct client_opts *o, bool tty, bool first)
{
	if (o->json)
		fprintf(out, "%s\n",
			json_object_to_json_string_ext(
				rates, o->once ? JSON_FLAGS
					       : JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (tty && !o->once)
		fputs("\033[H\033[2J", out); /* cursor home, clear the screen */
	else if (!first)
		fputc('\n', out);
	if (!o->json)
		api_client_stat_print(out, rates);
	fflush(out);
}

/* Wait until (until_ns), monotonic; false when a signal came on (sfd) first. */
static bool wait_until(int sfd, uint64_t until_ns)
{
	struct pollfd p = { .fd = sfd, .events = POLLIN };

	for (;;) {
		uint64_t now = now_ns();

		if (now >= until_ns)
			return true;
		if (poll(&p, sfd >= 0 ? 1 : 0, (int)((until_ns - now + 999999) / 1000000)) > 0)
			return false;
	}
}

/* A second (or later) sample failed with (ret): say why; the exit status. */
static int sample_failed(struct api_client *c, const struct client_opts *o, int ret)
{
	if (ret == -EINTR) {
		if (o->once)
			log_err("stat: interrupted before the second sample");
		return o->once;
	}
	if (ret == -ENOENT || ret == -ECONNREFUSED || ret == -ECONNRESET) {
		/* Not an error while watching: it is how a watched VM ends. */
		log_msg(o->once ? LOG_ERR : LOG_NOTICE, "stat: the VM has ended (its API at %s is gone)",
			c->sock_path);
		return o->once;
	}
	log_err("stat: %s", c->err);
	return 1;
}

/* Samples every interval until a signal, the VM's end or a failure; the exit status. */
static int stat_samples(struct api_client *c, const struct client_opts *o, bool tty)
{
	uint64_t iv = (uint64_t)o->interval_ms * 1000000, t0, t1, next;
	struct json_object *before, *after, *rates;
	int ret, status = 0;
	char s[32];

	ret = api_client_get(c, "/stats", &before);
	if (ret < 0) {
		if (ret != -EINTR)
			log_err("stat: %s", c->err);
		return ret == -EINTR ? 0 : 1;
	}
	t0 = now_ns();
	next = t0 + iv;
	if (tty && !o->json && !o->once)
		printf("kvmini stat: the first rates come in %s s; Ctrl-C ends\n",
		       seconds(iv, 1, s, sizeof(s)));
	fflush(stdout);
	for (bool first = true;; first = false) {
		ret = wait_until(c->cancel_fd, next) ? api_client_get(c, "/stats", &after) : -EINTR;
		if (ret < 0) {
			status = sample_failed(c, o, ret);
			break;
		}
		t1 = now_ns();
		rates = api_client_stat_rates(before, after, t1 - t0);
		stat_show(stdout, rates, o, tty, first);
		json_object_put(rates);
		json_object_put(before);
		before = after;
		t0 = t1;
		if (o->once)
			break;
		next = next + iv > t1 ? next + iv : t1 + iv;
	}
	json_object_put(before);
	return status;
}

/* stat: SIGINT, SIGTERM and SIGHUP end it cleanly, read from a signalfd that also cuts a request short. */
static int run_stat(struct api_client *c, const struct client_opts *o)
{
	struct signalfd_siginfo si;
	sigset_t set, old;
	int status;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	c->cancel_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (c->cancel_fd < 0) {
		log_err("stat: signalfd: %s", strerror(errno));
		sigprocmask(SIG_SETMASK, &old, NULL);
		return 1;
	}
	status = stat_samples(c, o, isatty(STDOUT_FILENO));
	/* Taken off the signalfd before unblocking: a pending SIGINT would kill us now. */
	while (read(c->cancel_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	close(c->cancel_fd);
	c->cancel_fd = -1;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return status;
}

static int run_inspect(struct api_client *c, const struct client_opts *o)
{
	struct json_object *obj;
	char target[64];

	snprintf(target, sizeof(target), "/inspect%s%s%s", o->layer ? "?layer=L-" : "",
		 o->layer ? o->layer + 2 : "", o->dirty ? (o->layer ? "&dirty=1" : "?dirty=1") : "");
	if (api_client_get(c, target, &obj) < 0) {
		log_err("inspect: %s", c->err);
		return 1;
	}
	if (o->json)
		printf("%s\n", json_object_to_json_string_ext(obj, JSON_FLAGS));
	else
		api_client_inspect_print(stdout, obj);
	json_object_put(obj);
	return 0;
}

int api_client_main(int argc, char **argv)
{
	struct client_opts o = { 0 };
	struct api_client c;
	int ret = parse_options(argc, argv, &o);

	if (ret)
		return ret > 0 ? 0 : 2;
	api_client_init(&c, o.sock);
	if (o.cmd == CMD_STAT)
		return run_stat(&c, &o);
	if (o.cmd == CMD_INSPECT)
		return run_inspect(&c, &o);
	if (api_client_vm_command(&c, o.name, stdout) < 0) {
		log_err("%s: %s", o.name, c.err);
		return 1;
	}
	return 0;
}
