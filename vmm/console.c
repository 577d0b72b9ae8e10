/* console.c: the user's terminal as the guest's serial line: raw mode and the Ctrl-A escapes. */
#include "console.h"

#include <errno.h>
#include <unistd.h>

int console_open(struct console *c, int in_fd)
{
	struct termios raw;

	*c = (struct console){ .in_fd = in_fd, .tty = isatty(in_fd) };
	if (!c->tty)
		return 0;
	if (tcgetattr(in_fd, &c->saved) < 0)
		return -errno;
	raw = c->saved;
	/* Every key reaches the guest, Ctrl-C included; output is the guest's own, unprocessed. */
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR; /* keep kvmini's own messages readable */
	/* TCSANOW, not TCSAFLUSH: keys typed before kvmini started are the user's, not noise. */
	if (tcsetattr(in_fd, TCSANOW, &raw) < 0)
		return -errno;
	c->raw = true;
	return 0;
}

void console_close(struct console *c)
{
	/* After our output has drained; what the user typed meanwhile stays for the shell. */
	if (c->raw)
		tcsetattr(c->in_fd, TCSADRAIN, &c->saved);
	c->raw = false;
}

size_t console_filter(struct console *c, uint8_t *buf, size_t n, enum console_action *action)
{
	size_t out = 0;

	*action = CONSOLE_NONE;
	if (!c->tty)
		return n; /* a pipe or file is data: passed through untouched */
	for (size_t i = 0; i < n; i++) {
		uint8_t b = buf[i];

		if (!c->escape) {
			if (b == CONSOLE_ESCAPE)
				c->escape = true;
			else
				buf[out++] = b;
			continue;
		}
		c->escape = false;
		if (b == 'x' || b == 'X') {
			*action = CONSOLE_QUIT;
			return out;
		}
		if (b == 'h' || b == 'H' || b == '?')
			*action = CONSOLE_HELP;
		else if (b == CONSOLE_ESCAPE || b == 'a')
			buf[out++] = CONSOLE_ESCAPE;
		/* Any other key after Ctrl-A is swallowed, as in QEMU. */
	}
	return out;
}

const char *console_help(void)
{
	return "Ctrl-A x  quit kvmini (exit status 10)\r\n"
	       "Ctrl-A a  send Ctrl-A to the guest\r\n"
	       "Ctrl-A h  this help\r\n";
}
