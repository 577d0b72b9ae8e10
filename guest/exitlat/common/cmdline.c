/* cmdline.c: the guest's command line, however it arrives: space-separated words, iterations=N and cpus=N read. */
#include "cmdline.h"
#include "serial.h"

static int starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

/* A decimal number up to the next space; -1 if it is empty, not decimal or more than 32 bits. */
static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint32_t)(*p - '0');
		if (v > 0xffffffffu)
			return -1;
	}
	if (p == s || (*p && *p != ' '))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static void print_word(const char *s)
{
	for (; *s && *s != ' '; s++)
		serial_putc(*s);
}

/* One key=value word at (s); others (the image path GRUB and QEMU put first, console=ttyS0) are skipped. */
static void parse_arg(const char *s, int echo_word, struct cmdline *c)
{
	static const char *const keys[] = { "iterations=", "cpus=" };
	uint32_t *field[] = { &c->iterations, &c->cpus };

	for (unsigned int i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		uint32_t v;
		const char *val = s;

		if (!starts_with(s, keys[i]))
			continue;
		while (*val++ != '=')
			;
		if (parse_u32(val, &v) == 0 && v > 0) {
			*field[i] = v;
			return;
		}
		serial_puts("exitlat: ignoring ");
		if (echo_word)
			print_word(s);
		else
			serial_puts(keys[i]);
		serial_puts(": want a whole number from 1 to 4294967295\n");
		return;
	}
}

void cmdline_defaults(struct cmdline *c)
{
	c->iterations = CMDLINE_DEFAULT_ITERATIONS;
	c->cpus = CMDLINE_DEFAULT_CPUS;
}

void cmdline_parse(const char *s, uint32_t max, int echo_word, struct cmdline *c)
{
	const char *end = s + max;

	while (s < end && *s) {
		if (*s == ' ') {
			s++;
			continue;
		}
		parse_arg(s, echo_word, c);
		while (s < end && *s && *s != ' ')
			s++;
	}
}

void cmdline_fit(struct cmdline *c, uint64_t room, const char *where)
{
	if (c->iterations <= room)
		return;
	serial_put_kv("exitlat: the samples of iterations=", c->iterations);
	serial_puts(" do not fit ");
	serial_puts(where);
	serial_put_kv(": using iterations=", room);
	serial_puts("\n");
	c->iterations = (uint32_t)room;
}
