/* test_api_client.c: the API client: its HTTP exchange against a fake server, stat's rates, the reports. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api_client.h"

/* ---- A fake API server: a thread that answers each connection with the next canned response ---- */

#define FAKE_MAX_CONN 4
#define NS_1S	      1000000000ULL

struct fake_answer {
	const char *parts[4]; /* written in turn, 20 ms apart; NULL ends */
	int hold_ms;	      /* then the connection stays open this long (or until the client leaves) */
	const char *big;      /* instead of parts: this head, then big_len bytes of 'x' */
	size_t big_len;
};

struct fake {
	char dir[64], path[108];
	int lfd;
	bool started; /* a thread serves: fake_stop() joins it */
	pthread_t thread;
	struct fake_answer answers[FAKE_MAX_CONN];
	int n_answers;
	char request[FAKE_MAX_CONN][4096]; /* what each connection sent: head and body */
};

static struct fake fake;

static void msleep(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read one request: its head, then as many body bytes as Content-Length says. */
static void read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	char *end = NULL;

	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		const char *cl;

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		end = end ? end : strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		cl = strstr(buf, "Content-Length: ");
		if (!cl || len >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10))
			break;
	}
}

static void answer(int fd, const struct fake_answer *a)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (a->big) {
		char *body = malloc(a->big_len);

		memset(body, 'x', a->big_len);
		send(fd, a->big, strlen(a->big), MSG_NOSIGNAL);
		send(fd, body, a->big_len, MSG_NOSIGNAL);
		free(body);
	}
	for (int i = 0; i < 4 && a->parts[i]; i++) {
		if (i)
			msleep(20);
		send(fd, a->parts[i], strlen(a->parts[i]), MSG_NOSIGNAL);
	}
	if (a->hold_ms)
		poll(&p, 1, a->hold_ms); /* the client's close ends it early */
}

static void *fake_serve(void *arg)
{
	(void)arg;
	for (int i = 0; i < fake.n_answers; i++) {
		int fd = accept(fake.lfd, NULL, NULL);

		if (fd < 0)
			break;
		read_request(fd, fake.request[i], sizeof(fake.request[i]));
		answer(fd, &fake.answers[i]);
		close(fd);
	}
	/* Done: the socket file stays, stale, as a kvmini that has ended leaves it. */
	close(fake.lfd);
	return NULL;
}

static void fake_setup(void)
{
	memset(&fake, 0, sizeof(fake));
	fake.lfd = -1;
	strcpy(fake.dir, "/tmp/kvmini-api-test.XXXXXX");
	cr_assert_not_null(mkdtemp(fake.dir));
	snprintf(fake.path, sizeof(fake.path), "%s/api.sock", fake.dir);
}

/* Listen at fake.path and answer (n) connections with fake.answers. */
static void fake_start(int n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(sa.sun_path, fake.path);
	fake.n_answers = n;
	fake.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(fake.lfd, 0);
	cr_assert_eq(bind(fake.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s: %s", fake.path,
		     strerror(errno));
	cr_assert_eq(listen(fake.lfd, 4), 0);
	cr_assert_eq(pthread_create(&fake.thread, NULL, fake_serve, NULL), 0);
	fake.started = true;
}

/* One connection answered with (parts) (NULL-ended, up to 4). */
static void fake_answers(const char *p0, const char *p1, const char *p2)
{
	fake.answers[0] = (struct fake_answer){ .parts = { p0, p1, p2, NULL } };
	fake_start(1);
}

/* Wait until the server has answered all it was to answer; fake.request[] is then complete. */
static void fake_stop(void)
{
	if (fake.started)
		pthread_join(fake.thread, NULL);
	fake.started = false;
}

static void fake_teardown(void)
{
	fake_stop();
	unlink(fake.path);
	rmdir(fake.dir);
}

static struct api_client client(void)
{
	struct api_client c;

	api_client_init(&c, fake.path);
	c.timeout_ms = 2000;
	return c;
}

#define JSON_200(body) \
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " #body "\r\n\r\n"

TestSuite(exchange, .init = fake_setup, .fini = fake_teardown);

Test(exchange, get_returns_the_status_and_the_body)
{
	struct api_client c = client();
	struct api_client_response r;

	fake_answers("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n"
		     "{\"state\": \"Paused\"}",
		     NULL, NULL);
	cr_assert_eq(api_client_request(&c, "GET", "/", NULL, &r), 0, "%s", c.err);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "{\"state\": \"Paused\"}");
	cr_assert_eq(r.body_len, 19);
	api_client_response_free(&r);
	fake_stop();
	cr_assert(strncmp(fake.request[0], "GET / HTTP/1.1\r\n", 16) == 0, "request: %s", fake.request[0]);
	cr_assert_not_null(strstr(fake.request[0], "\r\nHost: localhost\r\n"));
	cr_assert_null(strstr(fake.request[0], "Content-Length"), "a GET has no body");
}

Test(exchange, patch_sends_its_json_body_and_takes_204_without_one)
{
	struct api_client c = client();
	struct api_client_response r;

	fake_answers("HTTP/1.1 204 No Content\r\n\r\n", NULL, NULL);
	cr_assert_eq(api_client_request(&c, "PATCH", "/vm", "{\"state\": \"Paused\"}", &r), 0, "%s", c.err);
	cr_assert_eq(r.status, 204);
	cr_assert_str_eq(r.body, "");
	api_client_response_free(&r);
	fake_stop();
	cr_assert(strncmp(fake.request[0], "PATCH /vm HTTP/1.1\r\n", 20) == 0, "request: %s",
		  fake.request[0]);
	cr_assert_not_null(
		strstr(fake.request[0], "\r\nContent-Type: application/json\r\nContent-Length: 19\r\n"));
	cr_assert_not_null(strstr(fake.request[0], "\r\n\r\n{\"state\": \"Paused\"}"));
}

Test(exchange, put_without_a_body_says_content_length_0)
{
	struct api_client c = client();
	struct api_client_response r;

	fake_answers("HTTP/1.1 204 No Content\r\n\r\n", NULL, NULL);
	cr_assert_eq(api_client_request(&c, "PUT", "/actions", NULL, &r), 0, "%s", c.err);
	api_client_response_free(&r);
	fake_stop();
	cr_assert_not_null(strstr(fake.request[0], "\r\nContent-Length: 0\r\n\r\n"), "request: %s",
			   fake.request[0]);
}

Test(exchange, a_response_in_pieces_is_read_whole)
{
	struct api_client c = client();
	struct api_client_response r;

	fake_answers("HTTP/1.1 200 OK\r\nContent-Le", "ngth: 12\r\n\r\n{\"a\":", " 12345}");
	cr_assert_eq(api_client_request(&c, "GET", "/", NULL, &r), 0, "%s", c.err);
	cr_assert_str_eq(r.body, "{\"a\": 12345}");
	api_client_response_free(&r);
}

Test(exchange, a_chunked_body_is_joined)
{
	struct api_client c = client();
	struct api_client_response r;

	fake_answers("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n",
		     "3\r\n 1}\r\n0\r\n\r\n", NULL);
	cr_assert_eq(api_client_request(&c, "GET", "/", NULL, &r), 0, "%s", c.err);
	cr_assert_str_eq(r.body, "{\"a\": 1}");
	api_client_response_free(&r);
}

Test(exchange, a_body_without_length_ends_with_the_connection)
{
	struct api_client c = client();
	struct api_client_response r;

	fake_answers("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"a\": 2}", NULL, NULL);
	cr_assert_eq(api_client_request(&c, "GET", "/", NULL, &r), 0, "%s", c.err);
	cr_assert_str_eq(r.body, "{\"a\": 2}");
	api_client_response_free(&r);
}

Test(exchange, bytes_after_the_response_are_left_alone)
{
	struct api_client c = client();
	struct api_client_response r;

	fake_answers(JSON_200(2) "{}HTTP/1.1 500 Oops\r\n\r\n", NULL, NULL);
	cr_assert_eq(api_client_request(&c, "GET", "/", NULL, &r), 0, "%s", c.err);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "{}");
	api_client_response_free(&r);
}

Test(exchange, a_404_gives_the_fault_message)
{
	struct api_client c = client();
	struct json_object *o = (struct json_object *)1;

	fake_answers(
		"HTTP/1.1 404 Not Found\r\nContent-Length: 40\r\n\r\n{\"fault_message\": \"no such path: /nope\"}",
		NULL, NULL);
	cr_assert_eq(api_client_get(&c, "/nope", &o), -EREMOTEIO);
	cr_assert_null(o);
	cr_assert_str_eq(c.err, "GET /nope: no such path: /nope (HTTP 404 Not Found)");
}

Test(exchange, an_error_without_fault_message_shows_the_body)
{
	struct api_client c = client();
	struct json_object *o;

	fake_answers("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy\n", NULL, NULL);
	cr_assert_eq(api_client_get(&c, "/stats", &o), -EREMOTEIO);
	cr_assert_str_eq(
		c.err,
		"GET /stats: HTTP 503 Service Unavailable, with no fault_message in its body (\"busy?\")");
}

Test(exchange, a_truncated_body_says_how_much_came)
{
	struct api_client c = client();
	struct api_client_response r;

	fake_answers("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"state\"", NULL, NULL);
	cr_assert_eq(api_client_request(&c, "GET", "/stats", NULL, &r), -EPROTO);
	cr_assert_null(r.body);
	cr_assert_not_null(strstr(c.err, "truncated response from "), "%s", c.err);
	cr_assert_not_null(strstr(c.err, "after 8 of the 100 body bytes"), "%s", c.err);
}

Test(exchange, a_truncated_head_is_named)
{
	struct api_client c = client();
	struct api_client_response r;

	fake_answers("HTTP/1.1 200 OK\r\nContent-Le", NULL, NULL);
	cr_assert_eq(api_client_request(&c, "GET", "/", NULL, &r), -EPROTO);
	cr_assert_not_null(strstr(c.err, "closed in the HTTP head, after 27 bytes"), "%s", c.err);
}

Test(exchange, a_truncated_chunked_body_is_named)
{
	struct api_client c = client();
	struct api_client_response r;

	fake_answers("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n", NULL, NULL);
	cr_assert_eq(api_client_request(&c, "GET", "/", NULL, &r), -EPROTO);
	cr_assert_not_null(strstr(c.err, "closed in a chunked body, after 5 bytes"), "%s", c.err);
}

Test(exchange, a_close_with_no_response_is_connreset)
{
	struct api_client c = client();
	struct api_client_response r;

	fake_answers(NULL, NULL, NULL);
	cr_assert_eq(api_client_request(&c, "GET", "/", NULL, &r), -ECONNRESET);
	cr_assert_not_null(strstr(c.err, "closed the connection with no response"), "%s", c.err);
}

Test(exchange, garbage_is_a_malformed_response)
{
	struct api_client c = client();
	struct api_client_response r;

	fake_answers("SSH-2.0-OpenSSH_9.2\r\n", NULL, NULL);
	cr_assert_eq(api_client_request(&c, "GET", "/", NULL, &r), -EPROTO);
	cr_assert_not_null(strstr(c.err, "malformed HTTP response from "), "%s", c.err);
	cr_assert_not_null(strstr(c.err, "HPE_"), "%s", c.err);
}

Test(exchange, no_response_times_out)
{
	struct api_client c = client();
	struct api_client_response r;
	uint64_t start;

	fake.answers[0] = (struct fake_answer){ .parts = { "HTTP/1.1 200 OK\r\n" }, .hold_ms = 5000 };
	fake_start(1);
	c.timeout_ms = 200;
	start = ms_now();
	cr_assert_eq(api_client_request(&c, "GET", "/stats", NULL, &r), -ETIMEDOUT);
	cr_assert_geq(ms_now() - start, 190);
	cr_assert_lt(ms_now() - start, 1500);
	cr_assert_not_null(strstr(c.err, "no whole response from the kvmini API at "), "%s", c.err);
	cr_assert_not_null(strstr(c.err, "within 200 ms (17 bytes came)"), "%s", c.err);
}

Test(exchange, a_readable_cancel_fd_interrupts_the_wait)
{
	struct api_client c = client();
	struct api_client_response r;
	int p[2];

	fake.answers[0] = (struct fake_answer){ .hold_ms = 5000 };
	fake_start(1);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(write(p[1], "x", 1), 1);
	c.cancel_fd = p[0];
	cr_assert_eq(api_client_request(&c, "GET", "/stats", NULL, &r), -EINTR);
	close(p[0]);
	close(p[1]);
}

Test(exchange, a_response_over_the_limit_is_refused)
{
	struct api_client c = client();
	struct api_client_response r;
	char head[128];

	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n",
		 API_CLIENT_MAX_RESPONSE + 1);
	fake.answers[0] = (struct fake_answer){ .big = head, .big_len = API_CLIENT_MAX_RESPONSE + 1 };
	fake_start(1);
	cr_assert_eq(api_client_request(&c, "GET", "/inspect", NULL, &r), -EMSGSIZE);
	cr_assert_not_null(strstr(c.err, "larger than 16 MiB"), "%s", c.err);
}

Test(exchange, a_body_that_is_not_json_is_named)
{
	struct api_client c = client();
	struct json_object *o;

	fake_answers("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n<html>hi<", NULL, NULL);
	cr_assert_eq(api_client_get(&c, "/stats", &o), -EPROTO);
	cr_assert_not_null(strstr(c.err, "the answer to GET /stats is not JSON: "), "%s", c.err);
	cr_assert_not_null(strstr(c.err, "(\"<html>hi<\")"), "%s", c.err);
}

Test(exchange, truncated_json_is_named)
{
	struct api_client c = client();
	struct json_object *o;

	fake_answers("HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"state\": \"Ru", NULL, NULL);
	cr_assert_eq(api_client_get(&c, "/stats", &o), -EPROTO);
	cr_assert_str_eq(c.err, "the answer to GET /stats is truncated JSON: it ends after 13 bytes");
}

Test(exchange, json_that_is_no_object_is_refused)
{
	struct api_client c = client();
	struct json_object *o;

	fake_answers(JSON_200(6) "[1, 2]", NULL, NULL);
	cr_assert_eq(api_client_get(&c, "/stats", &o), -EPROTO);
	cr_assert_str_eq(c.err, "the answer to GET /stats is not one JSON object: another kind of value");
}

Test(exchange, bytes_after_the_json_object_are_refused)
{
	struct api_client c = client();
	struct json_object *o;

	fake_answers(JSON_200(7) "{} {}\r\n", NULL, NULL);
	cr_assert_eq(api_client_get(&c, "/stats", &o), -EPROTO);
	cr_assert_str_eq(c.err, "the answer to GET /stats is not one JSON object: bytes follow it");
}

Test(exchange, a_json_object_is_returned)
{
	struct api_client c = client();
	struct json_object *o, *f;

	fake_answers(JSON_200(31) "{\"uptime_ns\": 18446744073709551615}", NULL, NULL);
	cr_assert_eq(api_client_get(&c, "/stats", &o), -EPROTO, "Content-Length 31 cuts the JSON short");
	fake_teardown();
	fake_setup();
	c = client();
	fake_answers(JSON_200(35) "{\"uptime_ns\": 18446744073709551615}", NULL, NULL);
	cr_assert_eq(api_client_get(&c, "/stats", &o), 0, "%s", c.err);
	cr_assert(json_object_object_get_ex(o, "uptime_ns", &f));
	cr_assert_eq(json_object_get_uint64(f), UINT64_MAX);
	json_object_put(o);
}

/* ---- Connection errors ---- */

TestSuite(connect, .init = fake_setup, .fini = fake_teardown);

Test(connect, a_missing_socket_says_how_to_start_one)
{
	struct api_client c = client();
	struct api_client_response r;
	char want[512];

	cr_assert_eq(api_client_request(&c, "GET", "/", NULL, &r), -ENOENT);
	snprintf(want, sizeof(want), "no kvmini API at %s: start one with kvmini run --api-sock %s",
		 fake.path, fake.path);
	cr_assert_str_eq(c.err, want);
}

Test(connect, a_stale_socket_is_refused)
{
	struct api_client c = client();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct api_client_response r;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	/* Bound but never listening, as a socket left by a kvmini that has ended. */
	strcpy(sa.sun_path, fake.path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	cr_assert_eq(api_client_request(&c, "GET", "/", NULL, &r), -ECONNREFUSED);
	cr_assert_not_null(strstr(c.err, "(connection refused): the socket is stale"), "%s", c.err);
}

Test(connect, a_file_that_is_no_socket_is_named)
{
	struct api_client c = client();
	struct api_client_response r;
	FILE *f = fopen(fake.path, "w");

	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(api_client_request(&c, "GET", "/", NULL, &r), -ECONNREFUSED);
	cr_assert_not_null(strstr(c.err, " is not a socket: "), "%s", c.err);
}

Test(connect, another_users_socket_is_permission_denied)
{
	struct api_client c = client();
	struct api_client_response r;

	int ret;

	fake_start(0);
	fake_stop();
	cr_assert_eq(chmod(fake.path, 0), 0);
	if (geteuid() == 0) /* root passes any mode: be someone else for the connect */
		cr_assert_eq(seteuid(65534), 0);
	ret = api_client_request(&c, "GET", "/", NULL, &r);
	if (getuid() == 0)
		cr_assert_eq(seteuid(0), 0);
	cr_assert_eq(ret, -EACCES);
	cr_assert_not_null(strstr(c.err, ": permission denied: the API socket is its owner's alone"), "%s",
			   c.err);
}

Test(connect, a_path_too_long_for_a_socket_is_named)
{
	char path[200];
	struct api_client c;
	struct api_client_response r;

	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	api_client_init(&c, path);
	cr_assert_eq(api_client_request(&c, "GET", "/", NULL, &r), -ENAMETOOLONG);
	cr_assert_not_null(strstr(c.err, "is longer than a socket's 107 bytes"), "%s", c.err);
}

/* ---- pause, resume, quit ---- */

TestSuite(vm_command, .init = fake_setup, .fini = fake_teardown);

static char *run_vm_command(const char *cmd, int want)
{
	struct api_client c = client();
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cr_assert_eq(api_client_vm_command(&c, cmd, out), want, "%s", c.err);
	fclose(out);
	if (want)
		strcpy(text = realloc(text, sizeof(c.err)), c.err);
	return text;
}

Test(vm_command, pause_patches_the_state_and_confirms)
{
	char *text;

	fake_answers("HTTP/1.1 204 No Content\r\n\r\n", NULL, NULL);
	text = run_vm_command("pause", 0);
	cr_assert_str_eq(text, "paused: every vCPU has stopped\n");
	free(text);
	fake_stop();
	cr_assert(strncmp(fake.request[0], "PATCH /vm HTTP/1.1\r\n", 20) == 0);
	cr_assert_not_null(strstr(fake.request[0], "\r\n\r\n{\"state\": \"Paused\"}"));
}

Test(vm_command, resume_patches_the_state)
{
	char *text;

	fake_answers("HTTP/1.1 204 No Content\r\n\r\n", NULL, NULL);
	text = run_vm_command("resume", 0);
	cr_assert_str_eq(text, "resumed: the vCPUs run again\n");
	free(text);
	fake_stop();
	cr_assert_not_null(strstr(fake.request[0], "\r\n\r\n{\"state\": \"Resumed\"}"));
}

Test(vm_command, quit_puts_the_action)
{
	char *text;

	fake_answers("HTTP/1.1 204 No Content\r\n\r\n", NULL, NULL);
	text = run_vm_command("quit", 0);
	cr_assert_str_eq(text, "quit: kvmini is ending, with exit status 10 (quit)\n");
	free(text);
	fake_stop();
	cr_assert(strncmp(fake.request[0], "PUT /actions HTTP/1.1\r\n", 23) == 0);
	cr_assert_not_null(strstr(fake.request[0], "\r\n\r\n{\"action_type\": \"Quit\"}"));
}

Test(vm_command, a_refusal_gives_the_fault_message)
{
	char *text;

	fake_answers("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 62\r\n\r\n"
		     "{\"fault_message\": \"L-1 vCPUs: vCPU 1 did not stop within 2 s\"}",
		     NULL, NULL);
	text = run_vm_command("pause", -EREMOTEIO);
	cr_assert_str_eq(
		text,
		"PATCH /vm: L-1 vCPUs: vCPU 1 did not stop within 2 s (HTTP 500 Internal Server Error)");
	free(text);
}

Test(vm_command, another_name_is_einval)
{
	struct api_client c = client();

	cr_assert_eq(api_client_vm_command(&c, "reboot", stdout), -EINVAL);
}

/* ---- api_client_main: options and exit statuses ---- */

TestSuite(main, .init = fake_setup, .fini = fake_teardown);

static int run_main(const char *a0, const char *a1, const char *a2, const char *a3, const char *a4)
{
	char *argv[] = { (char *)a0, (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL };
	int argc = 0;

	while (argv[argc])
		argc++;
	return api_client_main(argc, argv);
}

Test(main, the_commands_are_known)
{
	cr_assert(api_client_command("stat"));
	cr_assert(api_client_command("inspect"));
	cr_assert(api_client_command("pause"));
	cr_assert(api_client_command("resume"));
	cr_assert(api_client_command("quit"));
	cr_assert_not(api_client_command("run"));
	cr_assert_not(api_client_command("stats"));
}

Test(main, usage_errors_are_status_2)
{
	cr_assert_eq(run_main("pause", NULL, NULL, NULL, NULL), 2, "no --api-sock");
	cr_assert_eq(run_main("stat", "--api-sock", "/x", "--layer", "L-0"), 2, "stat has no --layer");
	cr_assert_eq(run_main("inspect", "--api-sock", "/x", "--layer", "L-4"), 2);
	cr_assert_eq(run_main("inspect", "--api-sock", "/x", "--once", NULL), 2);
	cr_assert_eq(run_main("stat", "--api-sock", "/x", "--interval", "0.01"), 2);
	cr_assert_eq(run_main("stat", "--api-sock", "/x", "--interval", "1s"), 2);
	cr_assert_eq(run_main("quit", "--api-sock", "/x", "now", NULL), 2);
	cr_assert_eq(run_main("quit", "--api-sock", NULL, NULL, NULL), 2, "--api-sock without its value");
}

Test(main, help_is_status_0, .init = cr_redirect_stdout)
{
	fake_setup();
	cr_assert_eq(run_main("stat", "--help", NULL, NULL, NULL), 0);
	fflush(stdout);
	cr_assert_stdout_neq_str("");
}

Test(main, pause_is_0_on_204_and_1_on_a_refusal, .init = cr_redirect_stdout)
{
	fake_setup();
	fake.answers[0] = (struct fake_answer){ .parts = { "HTTP/1.1 204 No Content\r\n\r\n" } };
	fake.answers[1] = (struct fake_answer){
		.parts = { "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}" }
	};
	fake_start(2);
	cr_assert_eq(run_main("pause", "--api-sock", fake.path, NULL, NULL), 0);
	cr_assert_eq(run_main("resume", "--api-sock", fake.path, NULL, NULL), 1);
}

Test(main, no_api_is_status_1)
{
	cr_assert_eq(run_main("inspect", "--api-sock", fake.path, NULL, NULL), 1);
	cr_assert_eq(run_main("stat", "--api-sock", fake.path, "--once", NULL), 1);
}

Test(main, inspect_asks_for_the_layer_and_dirty_pages, .init = cr_redirect_stdout)
{
	fake_setup();
	fake.answers[0] = (struct fake_answer){ .parts = { JSON_200(2) "{}" } };
	fake.answers[1] = (struct fake_answer){ .parts = { JSON_200(2) "{}" } };
	fake_start(2);
	cr_assert_eq(run_main("inspect", "--api-sock", fake.path, "--layer=l-2", "--dirty"), 0);
	cr_assert_eq(run_main("inspect", "--api-sock", fake.path, "--dirty", "--json"), 0);
	fake_stop();
	cr_assert(strncmp(fake.request[0], "GET /inspect?layer=L-2&dirty=1 HTTP/1.1\r\n", 41) == 0, "%s",
		  fake.request[0]);
	cr_assert(strncmp(fake.request[1], "GET /inspect?dirty=1 HTTP/1.1\r\n", 31) == 0, "%s",
		  fake.request[1]);
}

#define STATS_0                                                                                                        \
	"{\"state\": \"Running\", \"uptime_ns\": 1000000000, \"vcpus\": [{\"id\": 0, \"tid\": 7, \"exits_total\": 10," \
	" \"exits\": {\"io\": 10}, \"guest_ns\": 0, \"vmm_ns\": 0, \"irq_injections\": null}], \"devices\": []}"
#define STATS_1                                                                                                        \
	"{\"state\": \"Running\", \"uptime_ns\": 1100000000, \"vcpus\": [{\"id\": 0, \"tid\": 7, \"exits_total\": 20," \
	" \"exits\": {\"io\": 20}, \"guest_ns\": 50000000, \"vmm_ns\": 0, \"irq_injections\": null}], \"devices\": []}"

Test(main, stat_once_takes_two_samples, .init = cr_redirect_stdout)
{
	char h0[512], h1[512];

	fake_setup();
	snprintf(h0, sizeof(h0), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n" STATS_0, strlen(STATS_0));
	snprintf(h1, sizeof(h1), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", strlen(STATS_1));
	fake.answers[0] = (struct fake_answer){ .parts = { h0 } };
	fake.answers[1] = (struct fake_answer){ .parts = { h1, STATS_1 } };
	fake_start(2);
	cr_assert_eq(run_main("stat", "--api-sock", fake.path, "--once", "--interval=0.1"), 0);
	fflush(stdout);
	cr_assert_stdout_eq_str("kvmini stat: Running, up 1.1 s; per second over the last 0.10 s\n"
				"vCPU  TID            exits/s  guest %  kvmini %    irqs/s\n"
				"0     7                  100     50.0       0.0         -\n"
				"  io                     100\n"
				"all                      100                            -\n"
				"\n"
				"devices: none\n");
}

Test(main, stat_once_ends_with_1_when_the_vm_goes)
{
	char h0[512];

	snprintf(h0, sizeof(h0), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n" STATS_0, strlen(STATS_0));
	fake.answers[0] = (struct fake_answer){ .parts = { h0 } };
	fake_start(1);
	/* The listener is closed after one answer: the second sample finds a stale socket. */
	cr_assert_eq(run_main("stat", "--api-sock", fake.path, "--once", "--interval=0.1"), 1);
}

Test(main, stat_watching_ends_with_0_when_the_vm_goes, .init = cr_redirect_stdout)
{
	char h0[512], h1[512];

	fake_setup();
	snprintf(h0, sizeof(h0), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n" STATS_0, strlen(STATS_0));
	snprintf(h1, sizeof(h1), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n" STATS_1, strlen(STATS_1));
	fake.answers[0] = (struct fake_answer){ .parts = { h0 } };
	fake.answers[1] = (struct fake_answer){ .parts = { h1 } };
	fake.answers[2] = (struct fake_answer){ 0 }; /* closed with no response: kvmini ended mid-request */
	fake_start(3);
	cr_assert_eq(run_main("stat", "--api-sock", fake.path, "--interval=0.1", "--json"), 0);
	fflush(stdout);
	cr_assert_stdout_neq_str("");
}

/* ---- stat's rates, from two canned GET /stats answers ---- */

/* Two samples 2 s apart by uptime_ns (the contract's shape): vCPU 1 sees its first hlt, net0 has two queues. */
static const char stats_before[] =
	"{\"state\": \"Running\", \"uptime_ns\": 5000000000, \"vcpus\": ["
	" {\"id\": 0, \"tid\": 4242, \"exits_total\": 1234, \"exits\": {\"io\": 1000, \"mmio\": 200, \"hlt\": 34},"
	"  \"guest_ns\": 5000000, \"vmm_ns\": 100000, \"irq_injections\": 77},"
	" {\"id\": 1, \"tid\": 4243, \"exits_total\": 10, \"exits\": {\"io\": 10},"
	"  \"guest_ns\": 4000000000, \"vmm_ns\": 0, \"irq_injections\": null}],"
	" \"devices\": ["
	" {\"name\": \"vda\", \"type\": \"virtio-blk\", \"served_by\": \"process\", \"pid\": 4300,"
	"  \"queues\": [{\"index\": 0, \"kicks\": 10, \"signals\": 9, \"chains\": 10}]},"
	" {\"name\": \"net0\", \"type\": \"virtio-net\", \"served_by\": \"in-process\", \"pid\": null,"
	"  \"queues\": [{\"index\": 0, \"kicks\": 0, \"signals\": 5, \"chains\": 5},"
	"              {\"index\": 1, \"kicks\": 100, \"signals\": 50, \"chains\": 100}]}]}";
static const char stats_after[] =
	"{\"state\": \"Running\", \"uptime_ns\": 7000000000, \"vcpus\": ["
	" {\"id\": 0, \"tid\": 4242, \"exits_total\": 3434, \"exits\": {\"io\": 3000, \"mmio\": 400, \"hlt\": 34},"
	"  \"guest_ns\": 1905000000, \"vmm_ns\": 40100000, \"irq_injections\": 177},"
	" {\"id\": 1, \"tid\": 4243, \"exits_total\": 11, \"exits\": {\"io\": 10, \"hlt\": 1},"
	"  \"guest_ns\": 6000000000, \"vmm_ns\": 0, \"irq_injections\": null}],"
	" \"devices\": ["
	" {\"name\": \"vda\", \"type\": \"virtio-blk\", \"served_by\": \"process\", \"pid\": 4300,"
	"  \"queues\": [{\"index\": 0, \"kicks\": 30, \"signals\": 29, \"chains\": 30}]},"
	" {\"name\": \"net0\", \"type\": \"virtio-net\", \"served_by\": \"in-process\", \"pid\": null,"
	"  \"queues\": [{\"index\": 0, \"kicks\": 0, \"signals\": 25, \"chains\": 25},"
	"              {\"index\": 1, \"kicks\": 300, \"signals\": 150, \"chains\": 300}]}]}";

static struct json_object *parse(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	cr_assert_not_null(o, "canned JSON does not parse: %s", text);
	return o;
}

/* The rates of two canned samples, the client's clock saying (client_ns). */
static struct json_object *rates_of_text(const char *before, const char *after, uint64_t client_ns)
{
	struct json_object *b = parse(before), *a = parse(after);
	struct json_object *r = api_client_stat_rates(b, a, client_ns);

	json_object_put(b);
	json_object_put(a);
	cr_assert_not_null(r);
	return r;
}

/* The member at (path) ("rates.vcpus.0.exits_per_s.io": array indexes as numbers), NULL when absent. */
static struct json_object *at(struct json_object *o, const char *path)
{
	char buf[256], *save, *tok;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); o && tok; tok = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, strtoul(tok, NULL, 10));
		else if (!json_object_object_get_ex(o, tok, &o))
			return NULL;
	}
	return o;
}

static void assert_rate(struct json_object *r, const char *path, double want)
{
	struct json_object *f = at(r, path);

	cr_assert_not_null(f, "%s is missing", path);
	cr_assert(json_object_is_type(f, json_type_double), "%s is %s, not a number", path,
		  json_object_to_json_string(f));
	cr_assert_float_eq(json_object_get_double(f), want, 1e-9, "%s", path);
}

/* (path) is there, as JSON null: unknown, not left out. */
static void assert_null(struct json_object *r, const char *path)
{
	char parent[256], *dot;
	struct json_object *p;

	snprintf(parent, sizeof(parent), "%s", path);
	dot = strrchr(parent, '.');
	cr_assert_not_null(dot);
	*dot = '\0';
	p = at(r, parent);
	cr_assert(json_object_object_get_ex(p, dot + 1, NULL), "%s is missing", path);
	cr_assert_null(at(r, path), "%s should be null, is %s", path,
		       json_object_to_json_string(at(r, path)));
}

TestSuite(stat_rates);

Test(stat_rates, rates_are_per_second_over_the_servers_interval)
{
	struct json_object *r = rates_of_text(stats_before, stats_after, 2500000000ULL);

	cr_assert_eq(json_object_get_uint64(at(r, "interval_ns")), 2000000000ULL,
		     "uptime_ns, not the client's 2.5 s");
	cr_assert_str_eq(json_object_get_string(at(r, "interval_source")), "uptime_ns");
	cr_assert_str_eq(json_object_get_string(at(r, "state")), "Running");
	assert_rate(r, "rates.vcpus.0.exits_total_per_s", 1100);
	assert_rate(r, "rates.vcpus.0.exits_per_s.io", 1000);
	assert_rate(r, "rates.vcpus.0.exits_per_s.mmio", 100);
	assert_rate(r, "rates.vcpus.0.exits_per_s.hlt", 0);
	assert_rate(r, "rates.vcpus.0.guest_percent", 95);
	assert_rate(r, "rates.vcpus.0.vmm_percent", 2);
	assert_rate(r, "rates.vcpus.0.irq_injections_per_s", 50);
	assert_rate(r, "rates.vcpus.1.exits_total_per_s", 0.5);
	assert_rate(r, "rates.vcpus.1.guest_percent", 100);
	assert_rate(r, "rates.devices.0.queues.0.kicks_per_s", 10);
	assert_rate(r, "rates.devices.0.queues.0.signals_per_s", 10);
	assert_rate(r, "rates.devices.1.queues.1.kicks_per_s", 100);
	assert_rate(r, "rates.devices.1.queues.1.chains_per_s", 100);
	assert_rate(r, "rates.devices.1.kicks_per_s", 100);
	assert_rate(r, "rates.devices.1.signals_per_s", 60);
	assert_rate(r, "rates.exits_total_per_s", 1100.5);
	assert_rate(r, "rates.kicks_per_s", 110);
	assert_rate(r, "rates.signals_per_s", 70);
	json_object_put(r);
}

Test(stat_rates, a_reason_seen_first_counts_from_zero)
{
	struct json_object *r = rates_of_text(stats_before, stats_after, 1);

	assert_rate(r, "rates.vcpus.1.exits_per_s.hlt", 0.5);
	json_object_put(r);
}

Test(stat_rates, null_irq_injections_stay_null_and_out_of_the_total)
{
	struct json_object *r = rates_of_text(stats_before, stats_after, 1);

	assert_null(r, "rates.vcpus.1.irq_injections_per_s");
	assert_rate(r, "rates.irq_injections_per_s", 50);
	json_object_put(r);
}

Test(stat_rates, no_known_irq_count_makes_a_null_total)
{
	struct json_object *r = rates_of_text("{\"vcpus\": [{\"id\": 0, \"irq_injections\": null}]}",
					      "{\"vcpus\": [{\"id\": 0, \"irq_injections\": null}]}", NS_1S);

	assert_null(r, "rates.irq_injections_per_s");
	assert_null(r, "rates.exits_total_per_s");
	assert_null(r, "rates.kicks_per_s");
	json_object_put(r);
}

Test(stat_rates, the_clients_clock_when_uptime_is_missing_or_goes_back)
{
	struct json_object *r = rates_of_text("{\"vcpus\": [{\"id\": 0, \"exits_total\": 0}]}",
					      "{\"vcpus\": [{\"id\": 0, \"exits_total\": 30}]}", 3 * NS_1S);

	cr_assert_eq(json_object_get_uint64(at(r, "interval_ns")), 3 * NS_1S);
	cr_assert_str_eq(json_object_get_string(at(r, "interval_source")), "client");
	assert_rate(r, "rates.vcpus.0.exits_total_per_s", 10);
	json_object_put(r);
	r = rates_of_text("{\"uptime_ns\": 9, \"vcpus\": []}", "{\"uptime_ns\": 5, \"vcpus\": []}", NS_1S);
	cr_assert_str_eq(json_object_get_string(at(r, "interval_source")), "client");
	json_object_put(r);
}

Test(stat_rates, a_counter_that_goes_back_is_unknown)
{
	struct json_object *r =
		rates_of_text("{\"vcpus\": [{\"id\": 0, \"exits_total\": 50, \"guest_ns\": 9}]}",
			      "{\"vcpus\": [{\"id\": 0, \"exits_total\": 20, \"guest_ns\": 3}]}", NS_1S);

	assert_null(r, "rates.vcpus.0.exits_total_per_s");
	assert_null(r, "rates.vcpus.0.guest_percent");
	json_object_put(r);
}

Test(stat_rates, what_the_first_sample_lacks_is_unknown)
{
	struct json_object *r = rates_of_text(
		"{\"vcpus\": [{\"id\": 0, \"exits_total\": 1}], \"devices\": [{\"name\": \"vda\", \"queues\": []}]}",
		"{\"vcpus\": [{\"id\": 0, \"exits_total\": 2}, {\"id\": 1, \"exits_total\": 5}],"
		" \"devices\": [{\"name\": \"vda\", \"queues\": [{\"index\": 0, \"kicks\": 4}]},"
		" {\"name\": \"vdb\", \"queues\": [{\"index\": 0, \"kicks\": 4}]}]}",
		NS_1S);

	assert_rate(r, "rates.vcpus.0.exits_total_per_s", 1);
	assert_null(r, "rates.vcpus.1.exits_total_per_s");
	cr_assert_eq(json_object_get_uint64(at(r, "rates.vcpus.1.id")), 1);
	assert_null(r, "rates.devices.0.queues.0.kicks_per_s");
	assert_null(r, "rates.devices.1.queues.0.kicks_per_s");
	assert_null(r, "rates.kicks_per_s");
	json_object_put(r);
}

Test(stat_rates, odd_fields_are_unknown)
{
	struct json_object *r = rates_of_text(
		"{\"vcpus\": [{\"id\": 0, \"exits_total\": \"7\", \"guest_ns\": -5, \"vmm_ns\": 1.5,"
		" \"exits\": [1, 2]}, \"junk\", {\"id\": \"x\"}], \"devices\": {\"vda\": 1}}",
		"{\"vcpus\": [{\"id\": 0, \"exits_total\": 9, \"guest_ns\": 5, \"vmm_ns\": 3, \"exits\": {\"io\": true}},"
		" \"junk\", {\"id\": \"x\"}], \"devices\": {\"vda\": 1}, \"extra\": [1]}",
		NS_1S);

	assert_null(r, "rates.vcpus.0.exits_total_per_s");
	assert_null(r, "rates.vcpus.0.guest_percent");
	assert_null(r, "rates.vcpus.0.vmm_percent");
	assert_null(r, "rates.vcpus.0.exits_per_s.io");
	cr_assert_eq(json_object_array_length(at(r, "rates.vcpus")), 3);
	cr_assert_eq(json_object_array_length(at(r, "rates.devices")), 0);
	json_object_put(r);
}

Test(stat_rates, counters_beyond_2_to_the_53_are_exact)
{
	struct json_object *r =
		rates_of_text("{\"vcpus\": [{\"id\": 0, \"exits_total\": 18446744073709551000}]}",
			      "{\"vcpus\": [{\"id\": 0, \"exits_total\": 18446744073709551615}]}", NS_1S);

	/* As doubles both would be 2^64 and the rate 0. */
	assert_rate(r, "rates.vcpus.0.exits_total_per_s", 615);
	cr_assert_eq(json_object_get_uint64(at(r, "after.vcpus.0.exits_total")), UINT64_MAX);
	json_object_put(r);
}

Test(stat_rates, no_interval_makes_every_rate_unknown)
{
	struct json_object *r = rates_of_text("{\"vcpus\": [{\"id\": 0, \"exits_total\": 1}]}",
					      "{\"vcpus\": [{\"id\": 0, \"exits_total\": 2}]}", 0);

	assert_null(r, "rates.vcpus.0.exits_total_per_s");
	json_object_put(r);
}

Test(stat_rates, the_samples_come_back_unchanged_and_counters_print_as_integers)
{
	struct json_object *b = parse(stats_before), *a = parse(stats_after);
	struct json_object *r = api_client_stat_rates(b, a, 1);
	const char *text = json_object_to_json_string_ext(r, JSON_C_TO_STRING_SPACED);

	cr_assert(json_object_equal(at(r, "before"), b));
	cr_assert(json_object_equal(at(r, "after"), a));
	cr_assert_not_null(strstr(text, "\"exits_total\": 3434,"), "%s", text);
	cr_assert_not_null(strstr(text, "\"interval_ns\": 2000000000,"), "%s", text);
	cr_assert_not_null(strstr(text, "\"exits_total_per_s\": 1100.5,"), "%s", text);
	json_object_put(r);
	json_object_put(b);
	json_object_put(a);
}

/* (print) of (o) as text. */
static char *render(void (*print)(FILE *, struct json_object *), struct json_object *o)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	print(f, o);
	fclose(f);
	return text;
}

Test(stat_rates, the_table)
{
	struct json_object *r = rates_of_text(stats_before, stats_after, 1);
	char *text = render(api_client_stat_print, r);

	cr_assert_str_eq(text, "kvmini stat: Running, up 7.0 s; per second over the last 2.00 s\n"
			       "vCPU  TID            exits/s  guest %  kvmini %    irqs/s\n"
			       "0     4242              1100     95.0       2.0        50\n"
			       "  io                    1000\n"
			       "  mmio                   100\n"
			       "1     4243               0.5    100.0       0.0         -\n"
			       "  hlt                    0.5\n"
			       "all                     1100                           50\n"
			       "\n"
			       "device     type          served by   PID      queue    kicks/s  signals/s\n"
			       "vda        virtio-blk    process     4300         0         10         10\n"
			       "net0       virtio-net    in-process  -            0          0         10\n"
			       "                                                  1        100         50\n"
			       "                                                all        100         60\n"
			       "all devices                                                110         70\n");
	free(text);
	json_object_put(r);
}

Test(stat_rates, a_table_of_nothing_shows_dashes)
{
	struct json_object *r = rates_of_text("{}", "{\"vcpus\": [{\"id\": 3}]}", NS_1S);
	char *text = render(api_client_stat_print, r);

	cr_assert_str_eq(text, "kvmini stat: -, up - s; per second over the last 1.00 s\n"
			       "vCPU  TID            exits/s  guest %  kvmini %    irqs/s\n"
			       "3     -                    -        -         -         -\n"
			       "all                        -                            -\n"
			       "\n"
			       "devices: none\n");
	free(text);
	json_object_put(r);
}

/* ---- inspect's report ---- */

/* The contract's example, with a second memory slot and a few more registers. */
static const char inspect_all[] =
	"{\"L-0\": {\"kvm\": {\"kind\": \"nested\", \"module\": \"kvm_amd\", \"api_version\": 12},"
	"  \"memory\": [{\"slot\": 0, \"guest_phys\": 0, \"size\": 268435456, \"host_addr\": 140000000000,"
	"    \"backing\": \"memfd:kvmini-guest-ram\", \"flags\": [], \"dirty_pages\": null},"
	"   {\"slot\": 1, \"guest_phys\": 4294967296, \"size\": 1073741824, \"host_addr\": 140268435456,"
	"    \"backing\": \"memfd:kvmini-guest-ram\", \"flags\": [\"log-dirty\", \"readonly\"], \"dirty_pages\": 12}],"
	"  \"pci_hole\": {\"start\": 3221225472, \"size\": 1073741824}},"
	" \"L-1\": {\"vcpus\": [{\"id\": 0, \"tid\": 4242, \"host_cpu\": 1, \"state\": \"running\", \"last_exit\": \"io\","
	"  \"regs\": {\"rip\": 18446744071562067968, \"rsp\": 0, \"rflags\": 2, \"rax\": 0, \"rbx\": 1},"
	"  \"sregs\": {\"cr0\": 2147483697, \"cr2\": 0, \"cr3\": 4096, \"cr4\": 32, \"efer\": 3328,"
	"   \"cs\": {\"selector\": 16, \"base\": 0, \"limit\": 4294967295},"
	"   \"ss\": {\"selector\": 24, \"base\": 0, \"limit\": 4294967295}}}]},"
	" \"L-2\": {\"ioeventfds\": [{\"addr\": 4261412864, \"len\": 0, \"device\": \"vda\", \"queue\": 0, \"kicks\": 10}],"
	"  \"irqfds\": [{\"gsi\": 24, \"msi_addr\": 4276092928, \"msi_data\": 16417, \"device\": \"vda\", \"vector\": 1,"
	"   \"signals\": 9}],"
	"  \"queues\": [{\"device\": \"vda\", \"index\": 0, \"size\": 256, \"avail_idx\": 10, \"used_idx\": 10}],"
	"  \"shared_memory\": [{\"what\": \"guest RAM\", \"with\": \"vda\", \"pid\": 4300, \"size\": 268435456}]},"
	" \"L-3\": {\"kvmini\": {\"pid\": 4200, \"cgroup\": \"/kvmini/vm1\", \"main_thread_syscalls\": 36,"
	"   \"vcpu_syscalls\": 23},"
	"  \"device_processes\": [{\"device\": \"vda\", \"pid\": 4300, \"seccomp\": \"filter\", \"syscalls_allowed\": 40,"
	"   \"namespaces\": [\"user\", \"mnt\", \"pid\", \"net\", \"ipc\", \"uts\"], \"landlock_abi\": 3,"
	"   \"cgroup\": \"/kvmini/vm1\"}]}}";

static char *inspect_text(const char *json)
{
	struct json_object *o = parse(json);
	char *text = render(api_client_inspect_print, o);

	json_object_put(o);
	return text;
}

TestSuite(inspect);

Test(inspect, the_contracts_example_reads_by_layer)
{
	char *text = inspect_text(inspect_all);

	cr_assert_str_eq(
		text,
		"L-0 hardware\n"
		"  KVM: nested, module kvm_amd, API version 12\n"
		"  memory slots (2):\n"
		"    slot  guest range                            size       host mapping        backing                   flags       dirty pages\n"
		"       0  0x0000000000000000-0x000000000fffffff  256 MiB    0x0000002098a67800  memfd:kvmini-guest-ram    -           -\n"
		"       1  0x0000000100000000-0x000000013fffffff  1 GiB      0x00000020a8a67800  memfd:kvmini-guest-ram    log-dirty,readonly  12\n"
		"  PCI hole: 0x00000000c0000000-0x00000000ffffffff (1 GiB)\n"
		"\n"
		"L-1 vCPUs\n"
		"  vCPUs (1):\n"
		"  vCPU 0: TID 4242, host CPU 1, state running, last exit io\n"
		"    rip    0xffffffff80000000  rsp    0x0000000000000000  rflags 0x0000000000000002  rax    0x0000000000000000\n"
		"    rbx    0x0000000000000001\n"
		"    cr0    0x0000000080000031  cr2    0x0000000000000000  cr3    0x0000000000001000  cr4    0x0000000000000020\n"
		"    efer   0x0000000000000d00\n"
		"    cs   selector 0x10, base 0x0, limit 0xffffffff\n"
		"    ss   selector 0x18, base 0x0, limit 0xffffffff\n"
		"\n"
		"L-2 paravirtual I/O\n"
		"  ioeventfds (1):\n"
		"    address             len  device      queue       kicks\n"
		"    0x00000000fe000000    0  vda             0          10\n"
		"  irqfds (1):\n"
		"     GSI  MSI address         MSI data    device      vector     signals\n"
		"      24  0x00000000fee00000  0x00004021  vda              1           9\n"
		"  queues (1):\n"
		"    device      index   size  avail_idx  used_idx\n"
		"    vda             0    256         10        10\n"
		"  shared memory (1):\n"
		"    what              with        PID       size\n"
		"    guest RAM         vda         4300      256 MiB\n"
		"\n"
		"L-3 sandbox\n"
		"  kvmini: PID 4200, cgroup /kvmini/vm1, syscalls allowed: main thread 36, vCPU threads 23\n"
		"  device processes (1):\n"
		"    device      PID       seccomp   syscalls  Landlock  cgroup            namespaces of its own\n"
		"    vda         4300      filter          40         3  /kvmini/vm1       user,mnt,pid,net,ipc,uts\n");
	free(text);
}

Test(inspect, missing_fields_are_dashes)
{
	char *text = inspect_text("{\"L-1\": {\"vcpus\": [{\"id\": 0, \"tid\": null, \"state\": 7}]},"
				  " \"L-0\": {\"memory\": [{\"slot\": 2, \"size\": 4096}]}}");

	cr_assert_str_eq(
		text,
		"L-0 hardware\n"
		"  KVM: -, module -, API version -\n"
		"  memory slots (1):\n"
		"    slot  guest range                            size       host mapping        backing                   flags       dirty pages\n"
		"       2  -                                      4 KiB      -                   -                         -           -\n"
		"  PCI hole: - (-)\n"
		"\n"
		"L-1 vCPUs\n"
		"  vCPUs (1):\n"
		"  vCPU 0: TID -, host CPU -, state -, last exit -\n"
		"    registers: -\n"
		"    segment and control registers: -\n");
	free(text);
}

Test(inspect, unknown_keys_are_left_out_and_absent_lists_told_from_empty_ones)
{
	char *text = inspect_text(
		"{\"L-9\": {\"x\": 1}, \"version\": 2,"
		" \"L-2\": {\"ioeventfds\": [], \"irqfds\": null, \"extra\": [1, 2], \"queues\": []}}");

	cr_assert_str_eq(text, "L-2 paravirtual I/O\n"
			       "  ioeventfds: none\n"
			       "  irqfds: -\n"
			       "  queues: none\n"
			       "  shared memory: -\n");
	free(text);
}

Test(inspect, a_layer_that_is_no_object_is_shown_as_it_is)
{
	char *text =
		inspect_text("{\"L-3\": \"no sandbox: kvmini runs without device processes\", \"L-0\": 5}");

	cr_assert_str_eq(text, "L-0 hardware\n"
			       "  -\n"
			       "\n"
			       "L-3 sandbox\n"
			       "  no sandbox: kvmini runs without device processes\n");
	free(text);
}

Test(inspect, an_answer_with_no_layer_says_so)
{
	char *text = inspect_text("{\"fault\": 1}");

	cr_assert_str_eq(text, "no layer in the answer (expected L-0 to L-3)\n");
	free(text);
}

Test(inspect, odd_sizes_and_a_wrapping_range)
{
	char *text = inspect_text(
		"{\"L-0\": {\"kvm\": {\"kind\": \"PVM\"}, \"memory\": [{\"slot\": 0,"
		" \"guest_phys\": 18446744073709547520, \"size\": 8192, \"flags\": [\"log-dirty\"]},"
		" {\"slot\": 1, \"guest_phys\": 4096, \"size\": 0}],"
		" \"pci_hole\": {\"start\": 3221225472, \"size\": 1000}}}");

	cr_assert_not_null(strstr(text, "       0  -                                      8 KiB "), "%s",
			   text);
	cr_assert_not_null(strstr(text, "       1  0x0000000000001000 (empty)             0 B "), "%s", text);
	cr_assert_not_null(strstr(text, "  PCI hole: 0x00000000c0000000-0x00000000c00003e7 (1000 B)\n"), "%s",
			   text);
	free(text);
}

Test(inspect, an_arm64_server_sends_its_device_regions_instead_of_a_pci_hole)
{
	char *text = inspect_text("{\"L-0\": {\"kvm\": {\"kind\": \"hardware\"}, \"memory\": [],"
				  " \"devices\": {\"uart\": {\"start\": 150994944, \"size\": 4096},"
				  " \"pci_ecam\": {\"start\": 268435456, \"size\": 1048576}}}}");

	cr_assert_null(strstr(text, "PCI hole"), "%s", text);
	cr_assert_not_null(strstr(text, "  device regions:\n"), "%s", text);
	cr_assert_not_null(
		strstr(text, "    uart                 0x0000000009000000-0x0000000009000fff (4 KiB)\n"),
		"%s", text);
	cr_assert_not_null(
		strstr(text, "    pci_ecam             0x0000000010000000-0x00000000100fffff (1 MiB)\n"),
		"%s", text);
	free(text);
}
