/* log.c: one-line diagnostics on stderr, prefixed "kvmini:" (a device process: "kvmini[vda]:"). */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The process-wide settings: written once by main() before any thread exists. */
static enum log_level max_level = LOG_NOTICE;
static char who[40] = "kvmini";

void log_set_level(enum log_level level)
{
	max_level = level;
}

static void ask_tty(void);
static pthread_once_t tty_once = PTHREAD_ONCE_INIT;

void log_set_name(const char *name)
{
	snprintf(who, sizeof(who), "%s", name);
	/* Asked now: a sandboxed process may no longer ask the terminal once its filter holds. */
	pthread_once(&tty_once, ask_tty);
}

int log_enabled(enum log_level level)
{
	return level <= max_level;
}

/* Whether stderr is a terminal, asked once: isatty() sets errno (ENOTTY) on every file and pipe. */
static int stderr_tty;

static void ask_tty(void)
{
	stderr_tty = isatty(STDERR_FILENO);
}

static const char *const layer_names[] = {
	[LAYER_HARDWARE] = "L-0 hardware",
	[LAYER_VCPU] = "L-1 vCPUs",
	[LAYER_PVIO] = "L-2 paravirtual I/O",
	[LAYER_SANDBOX] = "L-3 sandbox",
};

const char *layer_name(enum layer l)
{
	return l <= LAYER_SANDBOX ? layer_names[l] : "L-? unknown layer";
}

const char *layer_tag(enum layer l)
{
	static const char *const tags[] = { "L-0", "L-1", "L-2", "L-3" };

	return l <= LAYER_SANDBOX ? tags[l] : "L-?";
}

static void log_vmsg(enum log_level level, const char *layer, const char *fmt, va_list ap)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "", "debug: " };
	int saved_errno = errno; /* callers log, then return -errno: logging must not change it */
	char line[1024];
	int n;

	if (!log_enabled(level))
		return;
	pthread_once(&tty_once, ask_tty);
	n = snprintf(line, sizeof(line), "%s: %s%s%s", who, prefix[level], layer ? layer : "",
		     layer ? ": " : "");
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/*
	 * The console may have the terminal in raw mode, where "\n" does not return the
	 * carriage: end lines with "\r\n" only then, so logs in files stay clean.
	 */
	if (stderr_tty)
		line[n++] = '\r';
	line[n++] = '\n';
	/* One write a line, so lines from vCPU threads never interleave; a failed write has nowhere to go. */
	ssize_t written = write(STDERR_FILENO, line, (size_t)n);

	(void)written;
	errno = saved_errno;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, NULL, fmt, ap);
	va_end(ap);
}

void log_layer(enum log_level level, enum layer l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, layer_name(l), fmt, ap);
	va_end(ap);
}
