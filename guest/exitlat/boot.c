/* boot.c: what the Multiboot v1 loader tells the guest: its command line and how much memory there is. */
#include "boot.h"
#include "serial.h"

#define MB_LOADER_MAGIC 0x2badb002
#define MB_INFO_MEMORY	(1u << 0) /* mem_lower, mem_upper are valid */
#define MB_INFO_CMDLINE (1u << 2) /* cmdline is valid */
#define CMDLINE_MAX	4096	  /* a bound on a string we did not write */

/* The fields of the Multiboot v1 information structure that we read. */
struct mb_info {
	uint32_t flags;
	uint32_t mem_lower; /* KiB from 0 */
	uint32_t mem_upper; /* KiB from 1 MiB, up to the first hole */
	uint32_t boot_device;
	uint32_t cmdline; /* physical address of a NUL-terminated string */
};

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
	char c[2] = { 0, 0 };

	for (; *s && *s != ' '; s++) {
		c[0] = *s;
		serial_puts(c);
	}
}

/* One key=value word at (s); others, such as the image path that GRUB and QEMU put first, are skipped. */
static void parse_arg(const char *s, struct boot_config *cfg)
{
	static const char *const keys[] = { "iterations=", "cpus=" };
	uint32_t *field[] = { &cfg->iterations, &cfg->cpus };

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
		print_word(s);
		serial_puts(": want a whole number from 1 to 4294967295\n");
		return;
	}
}

static void parse_cmdline(const char *s, struct boot_config *cfg)
{
	const char *end = s + CMDLINE_MAX;

	while (s < end && *s) {
		if (*s == ' ') {
			s++;
			continue;
		}
		parse_arg(s, cfg);
		while (s < end && *s && *s != ' ')
			s++;
	}
}

int boot_parse(uint32_t magic, uint32_t mbi, struct boot_config *cfg)
{
	const struct mb_info *info = (const struct mb_info *)mbi;

	cfg->iterations = BOOT_DEFAULT_ITERATIONS;
	cfg->cpus = BOOT_DEFAULT_CPUS;
	cfg->mem_top = 0;
	if (magic != MB_LOADER_MAGIC) {
		serial_puts("exitlat: not started by a Multiboot v1 loader (EAX ");
		serial_put_hex32(magic);
		serial_puts("): using the defaults\n");
		return -1;
	}
	if (info->flags & MB_INFO_CMDLINE)
		parse_cmdline((const char *)info->cmdline, cfg);
	if (info->flags & MB_INFO_MEMORY)
		cfg->mem_top = 0x100000ull + (uint64_t)info->mem_upper * 1024;
	return 0;
}
