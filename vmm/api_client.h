/* api_client.h: "kvmini stat|inspect|pause|resume|quit": the commands that talk to a running kvmini's API socket. */
#ifndef KVMINI_API_CLIENT_H
#define KVMINI_API_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_object;

#define API_CLIENT_TIMEOUT_MS	5000	    /* the longest wait for a whole response */
#define API_CLIENT_MAX_RESPONSE (16u << 20) /* a larger response is refused (-EMSGSIZE) */
#define API_CLIENT_ERR_LEN	512

/* One API socket and what went wrong last. */
struct api_client {
	const char *sock_path;
	int timeout_ms; /* for the whole exchange, connect to the end of the response */
	int cancel_fd;	/* -1, or a descriptor (a signalfd) whose readability ends a wait with -EINTR */
	char err[API_CLIENT_ERR_LEN]; /* the last failure, one line naming the socket and what to do */
};

/* One HTTP response. */
struct api_client_response {
	unsigned int status; /* 200, 204, 404, ... */
	char *body;	     /* NUL-terminated, malloc'd; "" when there is none */
	size_t body_len;
};

/* api_client_command: whether (name) is one of this file's commands (stat, inspect, pause, resume, quit). */
bool api_client_command(const char *name);
/*
 * api_client_main: "kvmini stat|inspect|pause|resume|quit ..." from (argc, argv), argv[0] the command.
 * Returns the exit status: 0 done, 1 the API failed or refused, 2 a usage error.
 */
int api_client_main(int argc, char **argv);

/* api_client_init: (c) for the API at (sock_path), with the default timeout and no cancel descriptor. */
void api_client_init(struct api_client *c, const char *sock_path);
/*
 * api_client_request: send (method) (target) with the JSON (body) (NULL: none) on a new connection to
 * (c), and read the whole response into (resp) (free it with api_client_response_free()). Returns 0 for any
 * complete HTTP response, whatever its status, or -errno with c->err saying what was wrong: -ENOENT no
 * socket there, -ECONNREFUSED a stale socket (or not a socket), -EACCES/-EPERM not allowed,
 * -ENAMETOOLONG a path too long for a socket, -ECONNRESET closed before any byte of a response
 * (kvmini ended), -ETIMEDOUT no whole response within c->timeout_ms, -EPROTO malformed or truncated,
 * -EMSGSIZE over API_CLIENT_MAX_RESPONSE, -EINTR c->cancel_fd became readable.
 */
int api_client_request(struct api_client *c, const char *method, const char *target, const char *body,
		       struct api_client_response *resp);
/* api_client_response_free: release (resp)'s body; (resp) may then be reused. */
void api_client_response_free(struct api_client_response *resp);
/*
 * api_client_check: 0 when (resp) to (what) ("GET /stats") has a 2xx status; otherwise -EREMOTEIO with
 * c->err giving the status and the server's fault_message (or what the body was instead).
 */
int api_client_check(struct api_client *c, const char *what, const struct api_client_response *resp);
/*
 * api_client_parse_object: (resp)'s body as one JSON object into (*out) (json_object_put it).
 * Returns 0, or -EPROTO with c->err naming (what) and what was wrong: not JSON, truncated, trailing
 * bytes, not an object.
 */
int api_client_parse_object(struct api_client *c, const char *what, const struct api_client_response *resp,
			    struct json_object **out);
/* api_client_get: GET (target) from (c) and its 2xx JSON object into (*out). Returns 0 or -errno (above). */
int api_client_get(struct api_client *c, const char *target, struct json_object **out);
/*
 * api_client_vm_command: "pause", "resume" or "quit" (cmd) through (c): one confirmation line on (out)
 * on a 2xx answer. Returns 0, -EINVAL for another (cmd), or -errno with c->err (-EREMOTEIO: refused).
 */
int api_client_vm_command(struct api_client *c, const char *cmd, FILE *out);

/*
 * api_client_stat_rates: the rates between two GET /stats answers, (before) and then (after), which the
 * client's clock saw (client_ns) apart, as the object that "stat --json" prints: "interval_ns" (from the
 * servers's uptime_ns when it grew, else client_ns), "interval_source" ("uptime_ns" | "client"),
 * "state", "uptime_ns", "rates" (each counter K of /stats as K_per_s, guest_ns and vmm_ns as
 * guest_percent and vmm_percent of the interval; null where either sample lacks it or it went back;
 * totals over what is known), "before" and "after" (the answers, unchanged). NULL when out of memory.
 */
struct json_object *api_client_stat_rates(struct json_object *before, struct json_object *after,
					  uint64_t client_ns);
/* api_client_stat_print: the table of (rates) (from api_client_stat_rates()) on (out). */
void api_client_stat_print(FILE *out, struct json_object *rates);
/*
 * api_client_inspect_print: GET /inspect's answer (inspect) as a report on (out), layer by layer (those present,
 * L-0 to L-3); keys it does not know are left out, fields it misses are shown as "-".
 */
void api_client_inspect_print(FILE *out, struct json_object *inspect);

#endif
