/*
 * fuzz_api.c: libFuzzer target for the API socket's HTTP server (vmm/api.c): a hostile client's byte
 * stream, as one connection's input, through the real parser, on a real event loop and socket.
 *
 * Input: byte 0 is the split: the rest, the stream, goes into the client's end of a socketpair in
 * pieces of (byte 0) bytes, the server served and its answers read after each (0: as one piece); then
 * the client shuts its writing side and reads until the server closes.
 *
 * The handler answers as the VM's would, with the helpers: api_body_string ("state") and
 * api_body_json on every body; "/none" gives no answer (500), "/nobody" a 204 with a body the server
 * must drop, "/big?N" an array of about N KiB (N <= 80, for four requests an input: enough to back the
 * answers up past what the server holds before it stops reading), anything else an echo.
 *
 * Checked: nothing crashes or leaks (ASan, LeakSanitizer); what the handler is given is bounded and
 * NUL-terminated; the answers parse as HTTP/1.1 responses, one for each request handed to the handler
 * and at most one more (the refusal of a malformed request), each body JSON; the server closes the
 * connection once the client has shut its side and everything is answered; no fd is left open.
 *
 * Build: make build/tests/fuzz/fuzz_api
 * Seeds: tests/fuzz/corpus/api/, written by hand (printf): byte 0, then HTTP requests.
 */
#include <errno.h>
#include <http_parser.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "event.h"
#include "fuzz_fds.h"
#include "log.h"

#define BIG_MAX	    80 /* KiB */
#define BIG_PER_RUN 4
#define METHODS_MAX 4096   /* requests an input can make: more than 12 KiB of them */
#define ROUNDS_MAX  100000 /* serve-and-read rounds before the server is deemed stuck */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "API server invariant broken: %s\n", what);
		abort();
	}
}

static struct event_loop loop;
static struct api_server srv;

/* One input's run: the methods the handler saw, in order, and the client's reading of the answers. */
static struct {
	int methods[METHODS_MAX];
	unsigned int handled, checked, responses, big;
	http_parser p;
	struct json_tokener *tok;
	bool body_seen;
	bool eof;
} run;

static void handler(void *opaque, const struct api_request *req, struct api_response *resp)
{
	struct json_object *o = api_body_json(req), *echo;
	char state[32];
	int st = api_body_string(req, "state", state, sizeof(state));

	(void)opaque;
	check(strlen(req->path) < API_URL_MAX && strlen(req->query) < API_URL_MAX, "path or query unbounded");
	check(req->body_len <= API_REQUEST_MAX && req->body[req->body_len] == '\0', "body unbounded");
	check(st == 0 || st == -EINVAL, "api_body_string's return");
	check(st != 0 || (o && strlen(state) < sizeof(state)), "a string from a body that does not parse");
	json_object_put(o);
	check(run.handled < METHODS_MAX, "more requests than bytes allow");
	run.methods[run.handled++] = req->method;
	if (!strcmp(req->path, "/none"))
		return;
	if (!strcmp(req->path, "/nobody")) {
		resp->status = 204;
		resp->body = api_error("dropped");
		return;
	}
	if (!strcmp(req->path, "/big") && run.big < BIG_PER_RUN) {
		struct json_object *a = json_object_new_array();
		long n = atol(req->query);
		char kib[1024];

		run.big++;
		memset(kib, 'k', sizeof(kib) - 1);
		kib[sizeof(kib) - 1] = '\0';
		for (long i = 0; i < n && i < BIG_MAX; i++)
			json_object_array_add(a, json_object_new_string(kib));
		resp->status = 200;
		resp->body = a;
		return;
	}
	echo = json_object_new_object();
	json_object_object_add(echo, "path", json_object_new_string(req->path));
	json_object_object_add(echo, "query", json_object_new_string(req->query));
	json_object_object_add(echo, "state", st ? NULL : json_object_new_string(state));
	resp->status = req->body_len ? 200 : 404;
	resp->body = echo;
}

/* The client's reading of the answers: http-parser for responses, json-c for their bodies. */

static int on_headers_complete(http_parser *p)
{
	(void)p;
	run.body_seen = false;
	json_tokener_reset(run.tok);
	/* A HEAD's answer has a Content-Length and no body: the parser must be told (1: skip the body). */
	return run.checked < run.handled && run.methods[run.checked] == HTTP_HEAD;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	(void)p;
	run.body_seen = true;
	json_object_put(json_tokener_parse_ex(run.tok, at, (int)len));
	return 0;
}

static int on_message_complete(http_parser *p)
{
	enum json_tokener_error e = json_tokener_get_error(run.tok);

	(void)p;
	check(!run.body_seen || e == json_tokener_success, "a response's body is not JSON");
	run.responses++;
	if (run.checked < run.handled)
		run.checked++;
	return 0;
}

static const http_parser_settings settings = {
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* Read what the server wrote to (fd) and parse it. */
static void drain(int fd)
{
	static char buf[64 * 1024];
	ssize_t got;

	while ((got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		size_t used = http_parser_execute(&run.p, &settings, buf, (size_t)got);

		check(used == (size_t)got && HTTP_PARSER_ERRNO(&run.p) == HPE_OK,
		      "the server's answers do not parse as HTTP/1.1 responses");
	}
	if (got == 0 || (got < 0 && errno == ECONNRESET))
		run.eof = true;
}

static void serve(int fd)
{
	for (int i = 0; i < 4; i++)
		event_wait(&loop, 0);
	drain(fd);
}

/* Write (len) bytes at (at) to (fd), the server served meanwhile; false once it has closed. */
static bool put(int fd, const uint8_t *at, size_t len)
{
	for (unsigned int rounds = 0; len; rounds++) {
		ssize_t r = send(fd, at, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r < 0 && errno != EAGAIN)
			return false; /* EPIPE: the server refused the stream and closed */
		check(rounds < ROUNDS_MAX, "the server takes no more input and closes nothing");
		if (r > 0) {
			at += r;
			len -= (size_t)r;
		}
		serve(fd);
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool once;
	unsigned int fds_before = fuzz_open_fds(), split;
	int sv[2];

	if (!once) {
		log_set_level(LOG_ERR);
		check(event_loop_init(&loop) == 0, "epoll");
		once = true;
		fds_before = fuzz_open_fds();
	}
	if (!size)
		return 0;
	memset(&run, 0, sizeof(run));
	run.tok = json_tokener_new();
	http_parser_init(&run.p, HTTP_RESPONSE);
	split = data[0] ? data[0] : UINT32_MAX;
	data++;
	size--;
	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	api_server_init(&srv, handler, NULL);
	check(api_server_attach(&srv, &loop) == 0, "attach");
	check(api_server_adopt(&srv, sv[0]) == 0, "adopt");
	for (size_t off = 0; off < size;) {
		size_t n = size - off < split ? size - off : split;

		if (!put(sv[1], data + off, n))
			break;
		off += n;
	}
	shutdown(sv[1], SHUT_WR);
	for (unsigned int rounds = 0; !run.eof; rounds++) {
		check(rounds < ROUNDS_MAX, "the server never closes a connection whose client has left");
		serve(sv[1]);
	}
	check(srv.nr_conns == 0, "the server keeps a connection it closed");
	check(api_server_timeout_ms(&srv, 0) == -1, "a deadline with no connection");
	check(run.responses >= run.handled && run.responses <= run.handled + 1,
	      "not one answer for each request (and at most one refusal)");
	api_server_close(&srv);
	close(sv[1]);
	json_tokener_free(run.tok);
	check(fuzz_open_fds() == fds_before, "a descriptor left open");
	return 0;
}
