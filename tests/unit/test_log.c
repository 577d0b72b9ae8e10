/* test_log.c: one-line diagnostics, and the errno their callers return after logging. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* stderr into a pipe (not a terminal: isatty() sets ENOTTY there), read back after (fn) logs. */
static void capture(void (*fn)(void), char *out, size_t len)
{
	int fds[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	cr_assert_eq(pipe(fds), 0);
	dup2(fds[1], STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	n = read(fds[0], out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fds[0]);
}

static int errno_after;

static void log_with_ebadf(void)
{
	errno = EBADF;
	log_err("disk %s: %s", "x.img", strerror(errno));
	errno_after = errno;
}

Test(log, logging_keeps_the_callers_errno)
{
	char out[256];

	log_set_level(LOG_NOTICE);
	capture(log_with_ebadf, out, sizeof(out));
	cr_assert_eq(errno_after, EBADF, "errno %d (%s) after log_err", errno_after, strerror(errno_after));
	cr_assert_str_eq(out, "kvmini: error: disk x.img: Bad file descriptor\n");
}

static void log_filtered(void)
{
	errno = EIO;
	log_debug("not shown");
	errno_after = errno;
}

Test(log, a_filtered_message_writes_nothing_and_keeps_errno)
{
	char out[64];

	log_set_level(LOG_NOTICE);
	capture(log_filtered, out, sizeof(out));
	cr_assert_eq(errno_after, EIO);
	cr_assert_str_eq(out, "");
}

static void log_in_layer(void)
{
	log_layer(LOG_WARN, LAYER_PVIO, "cannot signal an eventfd: %s", "Bad file descriptor");
}

Test(log, a_layered_message_starts_with_its_layer)
{
	char out[256];

	log_set_level(LOG_NOTICE);
	capture(log_in_layer, out, sizeof(out));
	cr_assert_str_eq(
		out, "kvmini: warning: L-2 paravirtual I/O: cannot signal an eventfd: Bad file descriptor\n");
}

Test(log, layers_are_named_as_the_readme_defines_them)
{
	cr_assert_str_eq(layer_name(LAYER_HARDWARE), "L-0 hardware");
	cr_assert_str_eq(layer_name(LAYER_VCPU), "L-1 vCPUs");
	cr_assert_str_eq(layer_name(LAYER_PVIO), "L-2 paravirtual I/O");
	cr_assert_str_eq(layer_name(LAYER_SANDBOX), "L-3 sandbox");
	cr_assert_str_eq(layer_tag(LAYER_VCPU), "L-1");
	cr_assert_str_eq(layer_name((enum layer)7), "L-? unknown layer");
}
