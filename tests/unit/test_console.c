/* test_console.c: the Ctrl-A escapes that console_filter() takes out of terminal input. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "console.h"

static struct console tty;
static uint8_t buf[64];
static enum console_action action;

static void setup(void)
{
	tty = (struct console){ .in_fd = -1, .tty = true };
	memset(buf, 0, sizeof(buf));
	action = CONSOLE_NONE;
}

TestSuite(console, .init = setup);

/* Filters (n) bytes of (in) as read from (c); returns how many are left, in buf. */
static size_t filter(struct console *c, const char *in, size_t n)
{
	cr_assert_leq(n, sizeof(buf));
	memcpy(buf, in, n);
	action = (enum console_action)42; /* not an action: shows whether one was set */
	return console_filter(c, buf, n, &action);
}

Test(console, plain_bytes_pass_through)
{
	cr_assert_eq(filter(&tty, "ls -l\r", 6), 6);
	cr_assert_eq(memcmp(buf, "ls -l\r", 6), 0);
	cr_assert_eq(action, CONSOLE_NONE);
}

Test(console, control_characters_other_than_ctrl_a_pass_through)
{
	cr_assert_eq(filter(&tty, "\x03\x04\x1b[A", 5), 5);
	cr_assert_eq(memcmp(buf, "\x03\x04\x1b[A", 5), 0);
	cr_assert_eq(action, CONSOLE_NONE);
}

Test(console, ctrl_a_x_quits_and_drops_the_rest)
{
	cr_assert_eq(filter(&tty, "ab\x01xcd", 6), 2);
	cr_assert_eq(memcmp(buf, "ab", 2), 0);
	cr_assert_eq(action, CONSOLE_QUIT);
}

Test(console, ctrl_a_capital_x_quits)
{
	cr_assert_eq(filter(&tty, "\x01X", 2), 0);
	cr_assert_eq(action, CONSOLE_QUIT);
}

Test(console, ctrl_a_a_sends_one_ctrl_a)
{
	cr_assert_eq(filter(&tty, "p\001aq", 4), 3);
	cr_assert_eq(memcmp(buf, "p\x01q", 3), 0);
	cr_assert_eq(action, CONSOLE_NONE);
}

Test(console, ctrl_a_ctrl_a_sends_one_ctrl_a)
{
	cr_assert_eq(filter(&tty, "\x01\x01", 2), 1);
	cr_assert_eq(buf[0], 0x01);
	cr_assert_eq(action, CONSOLE_NONE);
}

Test(console, ctrl_a_h_asks_for_help_and_keeps_the_other_bytes)
{
	cr_assert_eq(filter(&tty, "a\x01hb", 4), 2);
	cr_assert_eq(memcmp(buf, "ab", 2), 0);
	cr_assert_eq(action, CONSOLE_HELP);
}

Test(console, ctrl_a_question_mark_asks_for_help)
{
	cr_assert_eq(filter(&tty, "\x01?", 2), 0);
	cr_assert_eq(action, CONSOLE_HELP);
}

Test(console, ctrl_a_then_another_key_swallows_both)
{
	cr_assert_eq(filter(&tty, "a\x01zb", 4), 2);
	cr_assert_eq(memcmp(buf, "ab", 2), 0);
	cr_assert_eq(action, CONSOLE_NONE);
}

Test(console, escape_split_across_two_reads_quits)
{
	cr_assert_eq(filter(&tty, "ab\x01", 3), 2);
	cr_assert_eq(memcmp(buf, "ab", 2), 0);
	cr_assert_eq(action, CONSOLE_NONE);
	cr_assert_eq(filter(&tty, "xyz", 3), 0);
	cr_assert_eq(action, CONSOLE_QUIT);
}

Test(console, escape_split_across_two_reads_sends_ctrl_a)
{
	cr_assert_eq(filter(&tty, "\x01", 1), 0);
	cr_assert_eq(filter(&tty, "a!", 2), 2);
	cr_assert_eq(memcmp(buf, "\x01!", 2), 0);
}

Test(console, escape_is_forgotten_once_used)
{
	cr_assert_eq(filter(&tty, "\001a", 2), 1);
	cr_assert_eq(filter(&tty, "x", 1), 1, "a used escape quit on the next read");
	cr_assert_eq(buf[0], 'x');
	cr_assert_eq(action, CONSOLE_NONE);
}

Test(console, not_a_tty_passes_ctrl_a_x_through_untouched)
{
	struct console pipe_in = { .in_fd = -1, .tty = false };

	cr_assert_eq(filter(&pipe_in, "a\x01xb\x01", 5), 5);
	cr_assert_eq(memcmp(buf, "a\x01xb\x01", 5), 0);
	cr_assert_eq(action, CONSOLE_NONE);
	cr_assert_not(pipe_in.escape);
}

Test(console, empty_read_does_nothing)
{
	cr_assert_eq(filter(&tty, "", 0), 0);
	cr_assert_eq(action, CONSOLE_NONE);
}

Test(console, open_on_a_pipe_is_not_a_tty_and_close_is_safe_twice)
{
	struct console c;
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(console_open(&c, p[0]), 0);
	cr_assert_not(c.tty);
	cr_assert_not(c.raw);
	console_close(&c);
	console_close(&c);
	close(p[0]);
	close(p[1]);
}

Test(console, help_names_the_quit_key)
{
	cr_assert_not_null(strstr(console_help(), "Ctrl-A x"));
}
