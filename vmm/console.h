/* console.h: the user's terminal as the guest's serial line: raw mode and the Ctrl-A escapes. */
#ifndef KVMINI_CONSOLE_H
#define KVMINI_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A, as in QEMU */

enum console_action {
	CONSOLE_NONE,
	CONSOLE_QUIT, /* Ctrl-A x */
	CONSOLE_HELP, /* Ctrl-A h */
};

struct console {
	int in_fd;
	bool tty;    /* escapes and raw mode apply only to a terminal */
	bool raw;    /* saved holds the settings to restore */
	bool escape; /* the last byte was Ctrl-A */
	struct termios saved;
};

/* console_open: use (in_fd) as the console's input; a terminal is put in raw mode. Returns 0 or -errno. */
int console_open(struct console *c, int in_fd);
/* console_close: restore the terminal as it was. Safe to call twice. */
void console_close(struct console *c);
/*
 * console_filter: take the escapes out of the (n) bytes at (buf), in place. Returns how many bytes
 * are left for the guest; (*action) says what an escape asked for. Bytes after a quit are dropped.
 */
size_t console_filter(struct console *c, uint8_t *buf, size_t n, enum console_action *action);
/* console_help: the text Ctrl-A h prints. */
const char *console_help(void);

#endif
