/* log.c: one-line diagnostics on stderr, prefixed "kvmini:". */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The one process-wide setting: written once by main() before any thread exists. */
static enum log_level max_level = LOG_NOTICE;

void log_set_level(enum log_level level)
{
	max_level = level;
}

int log_enabled(enum log_level level)
{
	return level <= max_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "", "debug: " };
	char line[1024];
	va_list ap;
	int n;

	if (!log_enabled(level))
		return;
	n = snprintf(line, sizeof(line), "kvmini: %s", prefix[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/*
	 * The console may have the terminal in raw mode, where "\n" does not return the
	 * carriage: end lines with "\r\n" only then, so logs in files stay clean.
	 */
	if (isatty(STDERR_FILENO))
		line[n++] = '\r';
	line[n++] = '\n';
	/* One write a line, so lines from vCPU threads never interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
