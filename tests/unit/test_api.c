/* test_api.c: the API socket's HTTP server, over a real Unix socket, served on a real event loop. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "event.h"

#define WAIT_MS	 2000
#define SEC	 (1000ULL * 1000 * 1000)
#define RESP_MAX (2 * 1024 * 1024)

static struct event_loop loop;
static struct api_server srv;
static char dir[] = "/tmp/kvmini-test-api-XXXXXX";
static char sock[128];
static unsigned int handled; /* handler calls */

/* The handler: /vm as the API's PATCH /vm, /big?N a body of about N KiB, /silent no answer, else an echo. */
static void handler(void *opaque, const struct api_request *req, struct api_response *resp)
{
	char state[16];

	cr_assert_eq(opaque, &handled);
	handled++;
	if (!strcmp(req->path, "/vm")) {
		if (req->method != HTTP_PATCH) {
			resp->status = 405;
			resp->body = api_error("/vm takes PATCH");
		} else if (api_body_string(req, "state", state, sizeof(state)) == 0 &&
			   (!strcmp(state, "Paused") || !strcmp(state, "Resumed"))) {
			resp->status = 204;
		} else {
			resp->status = 400;
			resp->body = api_error("state must be Paused or Resumed");
		}
	} else if (!strcmp(req->path, "/big")) {
		struct json_object *a = json_object_new_array();
		char kib[1024];

		memset(kib, 'k', sizeof(kib) - 1);
		kib[sizeof(kib) - 1] = '\0';
		for (long i = 0, n = atol(req->query); i < n; i++)
			json_object_array_add(a, json_object_new_string(kib));
		resp->status = 200;
		resp->body = a;
	} else if (strcmp(req->path, "/silent")) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "method", json_object_new_string(http_method_str(req->method)));
		json_object_object_add(o, "path", json_object_new_string(req->path));
		json_object_object_add(o, "query", json_object_new_string(req->query));
		json_object_object_add(o, "body", json_object_new_string_len(req->body, (int)req->body_len));
		resp->status = 200;
		resp->body = o;
	}
}

static uint64_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	cr_assert_eq(event_loop_init(&loop), 0);
	cr_assert_eq(api_server_open(&srv, sock, handler, &handled), 0);
	cr_assert_eq(api_server_attach(&srv, &loop), 0);
}

static void teardown(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	api_server_close(&srv);
	event_loop_destroy(&loop);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) > 0)
			unlink(path);
	if (d)
		closedir(d);
	rmdir(dir);
}

TestSuite(api, .init = setup, .fini = teardown);

/* The client's side */

/* A socket at (path): listening, or bound and closed without listening (a stale one) when (stale). */
static void unix_socket_at(const char *path, bool stale, int *out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	cr_assert_lt(strlen(path), sizeof(addr.sun_path));
	memcpy(addr.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	if (stale) {
		close(fd);
		return;
	}
	cr_assert_eq(listen(fd, 1), 0);
	*out = fd;
}

static int client(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	memcpy(addr.sun_path, sock, strlen(sock) + 1); /* a short path: mkdtemp's */
	cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0, "connect: %s", strerror(errno));
	return fd;
}

/* Serve whatever is ready, a few rounds. */
static void pump(void)
{
	for (int i = 0; i < 8; i++)
		event_wait(&loop, 0);
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t r = send(fd, buf, len, MSG_NOSIGNAL);

		if (r < 0 && errno == EAGAIN) {
			pump();
			continue;
		}
		cr_assert_gt(r, 0, "send: %s", strerror(errno));
		buf += r;
		len -= (size_t)r;
	}
	pump();
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* A response as the client's parser saw it. */
struct resp {
	int status;
	bool closes;	 /* Connection: close */
	bool has_length; /* Content-Length given */
	char *body;	 /* NUL-terminated */
	size_t body_len;
};

struct reader {
	http_parser p;
	struct resp *r;
	int n, want;
	char field[32];
	bool in_value_of_interest;
};

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct reader *rd = p->data;

	snprintf(rd->field, sizeof(rd->field), "%.*s", (int)len, at);
	if (!strcasecmp(rd->field, "Content-Length"))
		rd->r[rd->n].has_length = true;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct reader *rd = p->data;

	if (!strcasecmp(rd->field, "Connection") && len == 5 && !strncasecmp(at, "close", 5))
		rd->r[rd->n].closes = true;
	return 0;
}

static int on_resp_body(http_parser *p, const char *at, size_t len)
{
	struct resp *r = &((struct reader *)p->data)->r[((struct reader *)p->data)->n];

	r->body = realloc(r->body, r->body_len + len + 1);
	memcpy(r->body + r->body_len, at, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return 0;
}

static int on_resp_complete(http_parser *p)
{
	struct reader *rd = p->data;

	rd->r[rd->n].status = (int)p->status_code;
	if (!rd->r[rd->n].body)
		rd->r[rd->n].body = strdup("");
	rd->n++;
	if (rd->n == rd->want)
		http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings resp_settings = {
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_body = on_resp_body,
	.on_message_complete = on_resp_complete,
};

/*
 * Read (n) responses from (fd) into (r), serving the server meanwhile, within WAIT_MS. Returns how many
 * came before the end of the stream or the time; (*eof) says whether the server closed after them.
 */
static int responses(int fd, struct resp *r, int n, bool *eof)
{
	struct reader rd = { .r = r, .want = n };
	static char buf[64 * 1024];
	uint64_t end = now() + WAIT_MS * 1000000ULL;

	memset(r, 0, sizeof(*r) * (size_t)n);
	http_parser_init(&rd.p, HTTP_RESPONSE);
	rd.p.data = &rd;
	*eof = false;
	while (rd.n < n && now() < end) {
		ssize_t got;

		event_wait(&loop, 1);
		got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (got == 0 || (got < 0 && errno == ECONNRESET)) {
			*eof = true;
			break;
		}
		if (got < 0)
			continue;
		size_t used = http_parser_execute(&rd.p, &resp_settings, buf, (size_t)got);

		cr_assert(used == (size_t)got || HTTP_PARSER_ERRNO(&rd.p) == HPE_PAUSED,
			  "the response does not parse: %s",
			  http_errno_description(HTTP_PARSER_ERRNO(&rd.p)));
		cr_assert_eq(used, (size_t)got, "bytes after the last response wanted");
	}
	return rd.n;
}

static void resp_free(struct resp *r, int n)
{
	for (int i = 0; i < n; i++)
		free(r[i].body);
}

/* Whether the server has closed (fd), serving it meanwhile for up to WAIT_MS. */
static bool closed_by_server(int fd)
{
	uint64_t end = now() + WAIT_MS * 1000000ULL;
	char c;

	while (now() < end) {
		ssize_t got;

		event_wait(&loop, 1);
		got = recv(fd, &c, 1, MSG_DONTWAIT);
		if (got == 0 || (got < 0 && errno == ECONNRESET))
			return true;
		cr_assert(got < 0 && errno == EAGAIN, "unexpected bytes from the server");
	}
	return false;
}

/* One request on a new connection; its one response into (r); whether the server closed after it. */
static bool exchange(const char *req, struct resp *r)
{
	int fd = client();
	bool eof;

	send_str(fd, req);
	cr_assert_eq(responses(fd, r, 1, &eof), 1, "no response to %s", req);
	if (!eof)
		eof = r->closes && closed_by_server(fd);
	close(fd);
	return eof;
}

/* A JSON body's string member (key), or NULL; the object lives in (*o). */
static const char *member(const struct resp *r, const char *key, struct json_object **o)
{
	struct json_object *v;

	*o = json_tokener_parse(r->body);
	cr_assert_not_null(*o, "the body is not JSON: %s", r->body);
	if (!json_object_object_get_ex(*o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static void assert_fault(const struct resp *r, int status)
{
	struct json_object *o;

	cr_assert_eq(r->status, status, "status %d, not %d (%s)", r->status, status, r->body);
	cr_assert_not_null(member(r, "fault_message", &o), "no fault_message in %s", r->body);
	json_object_put(o);
}

/* Opening and closing */

Test(api, open_makes_an_owner_only_socket)
{
	struct stat st;

	cr_assert_eq(lstat(sock, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
}

Test(api, close_removes_the_socket)
{
	api_server_close(&srv);
	cr_assert_neq(access(sock, F_OK), 0);
	api_server_close(&srv); /* twice is safe */
}

Test(api, open_replaces_a_stale_socket)
{
	struct api_server s2;
	char path[160];

	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	unix_socket_at(path, true, NULL);
	cr_assert_eq(api_server_open(&s2, path, handler, &handled), 0);
	api_server_close(&s2);
	cr_assert_neq(access(path, F_OK), 0);
}

Test(api, open_refuses_a_socket_someone_listens_on)
{
	struct api_server s2;

	cr_assert_eq(api_server_open(&s2, sock, handler, &handled), -EADDRINUSE);
	api_server_close(&s2);
	cr_assert_eq(access(sock, F_OK), 0, "the first server's socket stays");
}

Test(api, open_refuses_a_path_that_is_not_a_socket)
{
	struct api_server s2;
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(api_server_open(&s2, path, handler, &handled), -EEXIST);
	api_server_close(&s2);
	cr_assert_eq(access(path, F_OK), 0, "the file is left alone");
}

Test(api, open_refuses_a_missing_directory_and_a_long_path)
{
	struct api_server s2;
	char path[256];

	snprintf(path, sizeof(path), "%s/missing/api.sock", dir);
	cr_assert_eq(api_server_open(&s2, path, handler, &handled), -ENOENT);
	memset(path, 'a', 200);
	path[200] = '\0';
	cr_assert_eq(api_server_open(&s2, path, handler, &handled), -ENAMETOOLONG);
	cr_assert_eq(api_server_open(&s2, "", handler, &handled), -EINVAL);
}

/* Requests and responses */

Test(api, get_is_answered_with_the_handlers_json)
{
	struct json_object *o;
	struct resp r;

	cr_assert_not(exchange("GET /machine-config?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n", &r));
	cr_assert_eq(r.status, 200);
	cr_assert(r.has_length);
	cr_assert_str_eq(member(&r, "method", &o), "GET");
	json_object_put(o);
	cr_assert_str_eq(member(&r, "path", &o), "/machine-config");
	json_object_put(o);
	cr_assert_str_eq(member(&r, "query", &o), "x=1");
	json_object_put(o);
	resp_free(&r, 1);
}

Test(api, response_is_well_formed_http)
{
	const char want[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ";
	char buf[512];
	ssize_t got = -1;
	int fd = client();

	send_str(fd, "GET / HTTP/1.1\r\n\r\n");
	for (int i = 0; i < 100 && got < 0; i++) {
		event_wait(&loop, 10);
		got = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	}
	cr_assert_gt(got, 0);
	buf[got] = '\0';
	cr_assert_eq(strncmp(buf, want, strlen(want)), 0, "%s", buf);
	cr_assert_not_null(strstr(buf, "\r\n\r\n{\"method\":\"GET\",\"path\":\"/\""), "%s", buf);
	close(fd);
}

Test(api, patch_with_a_body_reaches_the_handler)
{
	const char *req = "PATCH /vm HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n"
			  "{\"state\": \"Paused\"}";
	struct resp r;

	cr_assert_not(exchange(req, &r));
	cr_assert_eq(r.status, 204);
	cr_assert_not(r.has_length, "a 204 has no Content-Length");
	resp_free(&r, 1);
	cr_assert_not(exchange("PATCH /vm HTTP/1.1\r\nContent-Length: 16\r\n\r\n{\"state\": \"Off\"}", &r));
	assert_fault(&r, 400);
	resp_free(&r, 1);
}

Test(api, chunked_body_is_reassembled)
{
	const char *req = "PATCH /vm HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "a\r\n{\"state\": \r\n9\r\n\"Resumed\"\r\n1\r\n}\r\n0\r\n\r\n";
	struct resp r;

	cr_assert_not(exchange(req, &r));
	cr_assert_eq(r.status, 204, "%d %s", r.status, r.body);
	resp_free(&r, 1);
}

Test(api, pipelined_requests_are_answered_in_order)
{
	const char *reqs = "GET /a HTTP/1.1\r\n\r\n"
			   "PATCH /vm HTTP/1.1\r\nContent-Length: 20\r\n\r\n{\"state\": \"Resumed\"}"
			   "GET /c?q=3 HTTP/1.1\r\n\r\n";
	struct json_object *o;
	struct resp r[3];
	bool eof;
	int fd = client();

	send_str(fd, reqs);
	cr_assert_eq(responses(fd, r, 3, &eof), 3);
	cr_assert_str_eq(member(&r[0], "path", &o), "/a");
	json_object_put(o);
	cr_assert_eq(r[1].status, 204);
	cr_assert_str_eq(member(&r[2], "query", &o), "q=3");
	json_object_put(o);
	cr_assert_not(eof);
	resp_free(r, 3);
	/* Kept alive: one more on the same connection. */
	send_str(fd, "GET /d HTTP/1.1\r\n\r\n");
	cr_assert_eq(responses(fd, r, 1, &eof), 1);
	cr_assert_str_eq(member(&r[0], "path", &o), "/d");
	json_object_put(o);
	resp_free(r, 1);
	close(fd);
}

Test(api, a_request_split_byte_by_byte_is_answered_once)
{
	const char *req = "PATCH /vm HTTP/1.1\r\nContent-Length: 19\r\n\r\n{\"state\": \"Paused\"}";
	struct resp r;
	bool eof;
	int fd = client();

	for (size_t i = 0; req[i]; i++) {
		send_all(fd, req + i, 1);
		cr_assert_eq(handled, req[i + 1] ? 0u : 1u, "answered at byte %zu", i);
	}
	cr_assert_eq(responses(fd, &r, 1, &eof), 1);
	cr_assert_eq(r.status, 204);
	resp_free(&r, 1);
	close(fd);
}

Test(api, connection_close_is_honoured)
{
	struct resp r;

	cr_assert(exchange("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &r));
	cr_assert_eq(r.status, 200);
	cr_assert(r.closes);
	resp_free(&r, 1);
	/* HTTP/1.0 closes unless asked otherwise. */
	cr_assert(exchange("GET / HTTP/1.0\r\n\r\n", &r));
	resp_free(&r, 1);
}

/* Read raw bytes from (fd) into (buf) of (size) until (needle) occurs (n) times. */
static size_t raw_until(int fd, char *buf, size_t size, const char *needle, int n)
{
	uint64_t end = now() + WAIT_MS * 1000000ULL;
	size_t len = 0;

	while (now() < end) {
		ssize_t got;
		int seen = 0;

		event_wait(&loop, 1);
		got = recv(fd, buf + len, size - 1 - len, MSG_DONTWAIT);
		if (got > 0)
			len += (size_t)got;
		buf[len] = '\0';
		for (const char *p = strstr(buf, needle); p; p = strstr(p + 1, needle))
			seen++;
		if (seen >= n || got == 0)
			break;
	}
	return len;
}

Test(api, head_gets_the_length_but_no_body)
{
	char buf[1024], *second;
	int fd = client();

	send_str(fd, "HEAD / HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
	raw_until(fd, buf, sizeof(buf), "\"/after\"", 1);
	cr_assert_eq(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", buf);
	cr_assert_not_null(strstr(buf, "Content-Length: "));
	second = strstr(buf, "\r\n\r\n");
	cr_assert_not_null(second);
	cr_assert_eq(strncmp(second + 4, "HTTP/1.1 200 OK\r\n", 17), 0, "the body follows a HEAD's head: %s",
		     buf);
	close(fd);
}

Test(api, a_handler_without_an_answer_gives_500)
{
	struct resp r;

	cr_assert_not(exchange("GET /silent HTTP/1.1\r\n\r\n", &r));
	assert_fault(&r, 500);
	resp_free(&r, 1);
}

Test(api, a_large_response_is_written_whole)
{
	struct resp r;
	struct json_object *o;

	cr_assert_not(exchange("GET /big?900 HTTP/1.1\r\n\r\n", &r));
	cr_assert_eq(r.status, 200);
	cr_assert_gt(r.body_len, 900u * 1024);
	o = json_tokener_parse(r.body);
	cr_assert_eq(json_object_array_length(o), 900);
	json_object_put(o);
	resp_free(&r, 1);
}

Test(api, backed_up_answers_go_on_once_the_client_reads)
{
	const char one[] = "GET /big?60 HTTP/1.1\r\n\r\n";
	char reqs[10 * sizeof(one)];
	struct resp r[10];
	bool eof;
	int fd = client();

	for (int i = 0; i < 10; i++)
		memcpy(reqs + i * (sizeof(one) - 1), one, sizeof(one) - 1);
	send_all(fd, reqs, 10 * (sizeof(one) - 1));
	cr_assert_lt(handled, 10u, "the server waits for the client to read");
	cr_assert_eq(responses(fd, r, 10, &eof), 10);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(r[i].status, 200);
		cr_assert_gt(r[i].body_len, 60u * 1024);
	}
	resp_free(r, 10);
	close(fd);
}

Test(api, a_response_beyond_the_limit_is_500)
{
	struct resp r;

	cr_assert_not(exchange("GET /big?1100 HTTP/1.1\r\n\r\n", &r));
	assert_fault(&r, 500);
	resp_free(&r, 1);
}

/* Refused requests */

Test(api, malformed_request_is_400_and_closed)
{
	struct resp r;

	cr_assert(exchange("BLAH / HTTP/1.1\r\n\r\n", &r));
	assert_fault(&r, 400);
	cr_assert(r.closes);
	resp_free(&r, 1);
	cr_assert(exchange("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", &r));
	assert_fault(&r, 400);
	resp_free(&r, 1);
	cr_assert(exchange("GET / HTTP/1.1\r\nHost\r\n\r\n", &r));
	assert_fault(&r, 400);
	resp_free(&r, 1);
	cr_assert_eq(handled, 0);
}

Test(api, requests_before_a_malformed_one_are_answered)
{
	struct resp r[2];
	bool eof;
	int fd = client();

	send_str(fd, "GET /first HTTP/1.1\r\n\r\n\x01\x02 garbage\r\n\r\n");
	cr_assert_eq(responses(fd, r, 2, &eof), 2);
	cr_assert_eq(r[0].status, 200);
	assert_fault(&r[1], 400);
	cr_assert(eof || closed_by_server(fd));
	resp_free(r, 2);
	close(fd);
}

Test(api, an_announced_large_body_is_413_at_once)
{
	struct resp r;

	cr_assert(exchange("PUT /actions HTTP/1.1\r\nContent-Length: 20000\r\n\r\n{", &r));
	assert_fault(&r, 413);
	resp_free(&r, 1);
	cr_assert_eq(handled, 0);
}

Test(api, a_large_head_is_413)
{
	static char req[API_REQUEST_MAX + 256];
	int n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Pad: ");
	struct resp r;

	memset(req + n, 'a', API_REQUEST_MAX);
	strcpy(req + n + API_REQUEST_MAX, "\r\n\r\n");
	cr_assert(exchange(req, &r));
	assert_fault(&r, 413);
	resp_free(&r, 1);
}

Test(api, a_large_chunked_body_is_413)
{
	static char req[3 * API_REQUEST_MAX];
	int n = snprintf(req, sizeof(req), "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	struct resp r;

	for (int i = 0; i < 20; i++) {
		n += snprintf(req + n, sizeof(req) - (size_t)n, "400\r\n");
		memset(req + n, 'b', 1024);
		n += 1024;
		n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
	}
	cr_assert(exchange(req, &r));
	assert_fault(&r, 413);
	resp_free(&r, 1);
	cr_assert_eq(handled, 0);
}

Test(api, a_long_target_is_414)
{
	static char req[API_URL_MAX + 64];
	int n = snprintf(req, sizeof(req), "GET /");
	struct resp r;

	memset(req + n, 'p', API_URL_MAX);
	strcpy(req + n + API_URL_MAX, " HTTP/1.1\r\n\r\n");
	cr_assert(exchange(req, &r));
	assert_fault(&r, 414);
	resp_free(&r, 1);
}

/* Clients and time */

Test(api, a_seventeenth_client_gets_503)
{
	int fds[API_MAX_CLIENTS + 1];
	struct resp r;
	bool eof;

	for (int i = 0; i < API_MAX_CLIENTS; i++)
		fds[i] = client();
	pump();
	cr_assert_eq(srv.nr_conns, API_MAX_CLIENTS);
	fds[API_MAX_CLIENTS] = client();
	pump();
	cr_assert_eq(responses(fds[API_MAX_CLIENTS], &r, 1, &eof), 1);
	assert_fault(&r, 503);
	cr_assert(r.closes);
	cr_assert(eof || closed_by_server(fds[API_MAX_CLIENTS]));
	resp_free(&r, 1);
	/* The others are still served; once one leaves, a new client is too. */
	send_str(fds[3], "GET / HTTP/1.1\r\n\r\n");
	cr_assert_eq(responses(fds[3], &r, 1, &eof), 1);
	cr_assert_eq(r.status, 200);
	resp_free(&r, 1);
	close(fds[0]);
	pump();
	cr_assert_eq(srv.nr_conns, API_MAX_CLIENTS - 1);
	fds[0] = client();
	send_str(fds[0], "GET / HTTP/1.1\r\n\r\n");
	cr_assert_eq(responses(fds[0], &r, 1, &eof), 1);
	cr_assert_eq(r.status, 200);
	resp_free(&r, 1);
	for (int i = 0; i <= API_MAX_CLIENTS; i++)
		close(fds[i]);
}

Test(api, an_unfinished_request_is_closed_after_its_timeout)
{
	uint64_t t;
	int fd = client();
	int ms;

	send_str(fd, "GET / HTTP/1.1\r\nHo");
	t = now();
	ms = api_server_timeout_ms(&srv, t);
	cr_assert(ms > 0 && ms <= 5000, "%d ms", ms);
	api_server_expire(&srv, t + 4 * SEC);
	cr_assert_eq(srv.nr_conns, 1);
	api_server_expire(&srv, t + API_REQUEST_TIMEOUT_NS + SEC / 10);
	cr_assert_eq(srv.nr_conns, 0);
	cr_assert(closed_by_server(fd));
	cr_assert_eq(api_server_timeout_ms(&srv, t), -1);
	close(fd);
}

Test(api, an_idle_connection_is_closed_after_its_timeout)
{
	struct resp r;
	uint64_t t;
	bool eof;
	int fd = client(), ms;

	send_str(fd, "GET / HTTP/1.1\r\n\r\n");
	cr_assert_eq(responses(fd, &r, 1, &eof), 1);
	resp_free(&r, 1);
	t = now();
	ms = api_server_timeout_ms(&srv, t);
	cr_assert(ms > 29000 && ms <= 30000, "%d ms", ms);
	api_server_expire(&srv, t + 10 * SEC);
	cr_assert_eq(srv.nr_conns, 1, "idle is not slow");
	api_server_expire(&srv, t + API_IDLE_TIMEOUT_NS + SEC / 10);
	cr_assert_eq(srv.nr_conns, 0);
	cr_assert(closed_by_server(fd));
	close(fd);
}

Test(api, a_client_that_does_not_read_is_closed_after_the_request_timeout)
{
	static char reqs[API_REQUEST_MAX];
	const char one[] = "GET /big?60 HTTP/1.1\r\n\r\n";
	size_t n = 0;
	uint64_t t;
	int fd = client();

	while (n + sizeof(one) < sizeof(reqs)) {
		memcpy(reqs + n, one, sizeof(one) - 1);
		n += sizeof(one) - 1;
	}
	send_all(fd, reqs, n);
	pump();
	/* The server stops taking requests once its answers back up: far fewer than were sent. */
	cr_assert_lt(handled, n / (sizeof(one) - 1));
	t = now();
	cr_assert_leq(api_server_timeout_ms(&srv, t), 5000);
	api_server_expire(&srv, t + API_REQUEST_TIMEOUT_NS + SEC / 10);
	cr_assert_eq(srv.nr_conns, 0);
	close(fd);
}

Test(api, close_closes_every_connection)
{
	struct resp r;
	bool eof;
	char c;
	int a = client(), b = client();

	pump();
	cr_assert_eq(srv.nr_conns, 2);
	send_str(a, "PUT /actions HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	api_server_close(&srv);
	cr_assert_eq(srv.nr_conns, 0);
	cr_assert_eq(responses(a, &r, 1, &eof), 1);
	cr_assert_eq(r.status, 200);
	resp_free(&r, 1);
	cr_assert_eq(recv(b, &c, 1, MSG_DONTWAIT), 0);
	close(a);
	close(b);
}

/* api_body_string */

static int body_string(const char *body, char *out, size_t size)
{
	struct api_request req = { .method = HTTP_PUT, .body = body, .body_len = strlen(body) };

	return api_body_string(&req, "action_type", out, size);
}

Test(api, body_string_takes_a_string_member)
{
	char out[8];

	cr_assert_eq(body_string(" {\"action_type\": \"Quit\"} \r\n", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "Quit");
	cr_assert_eq(body_string("{\"x\": 1, \"action_type\": \"1234567\"}", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "1234567");
}

Test(api, body_string_refuses_what_is_not_one)
{
	char out[8];

	cr_assert_eq(body_string("", out, sizeof(out)), -EINVAL);
	cr_assert_eq(body_string("{\"action_type\": \"12345678\"}", out, sizeof(out)), -EINVAL, "too long");
	cr_assert_eq(body_string("{\"action_type\": 1}", out, sizeof(out)), -EINVAL);
	cr_assert_eq(body_string("{\"action_type\": null}", out, sizeof(out)), -EINVAL);
	cr_assert_eq(body_string("{\"other\": \"Quit\"}", out, sizeof(out)), -EINVAL);
	cr_assert_eq(body_string("[\"action_type\"]", out, sizeof(out)), -EINVAL);
	cr_assert_eq(body_string("\"action_type\"", out, sizeof(out)), -EINVAL);
	cr_assert_eq(body_string("{\"action_type\": \"Quit\"", out, sizeof(out)), -EINVAL, "unfinished");
	cr_assert_eq(body_string("{\"action_type\": \"Quit\"} x", out, sizeof(out)), -EINVAL, "trailing");
	cr_assert_eq(body_string("{\"action_type\": \"Q\\u0000t\"}", out, sizeof(out)), -EINVAL, "a NUL");
	cr_assert_eq(body_string("{\"action_type\": 'Quit'}", out, sizeof(out)), -EINVAL);
}

Test(api, error_body_has_a_fault_message)
{
	struct json_object *o = api_error("vCPU %d did not stop", 3), *v;

	cr_assert(json_object_object_get_ex(o, "fault_message", &v));
	cr_assert_str_eq(json_object_get_string(v), "vCPU 3 did not stop");
	json_object_put(o);
}
