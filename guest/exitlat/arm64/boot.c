/* boot.c: what kvmini's device tree tells the guest: its command line (/chosen/bootargs). */
#include "boot.h"
#include "serial.h"

#include <stddef.h>

#define FDT_MAGIC      0xd00dfeedu
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE   2
#define FDT_PROP       3
#define FDT_NOP	       4
#define FDT_END	       9
#define FDT_MAX	       0x200000u /* kvmini's DTB_MAX */
#define CMDLINE_MAX    2048

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* The first "bootargs" property in the tree, a NUL-terminated string inside it, or NULL. */
static const char *find_bootargs(const uint8_t *fdt)
{
	uint32_t total, off, size, strings, strings_size;
	const uint8_t *p, *end;

	if (be32(fdt) != FDT_MAGIC || (total = be32(fdt + 4)) > FDT_MAX)
		return NULL;
	off = be32(fdt + 8), strings = be32(fdt + 12), strings_size = be32(fdt + 32), size = be32(fdt + 36);
	if (off > total || size > total - off || strings > total || strings_size > total - strings)
		return NULL;
	for (p = fdt + off, end = p + size; p + 4 <= end;) {
		uint32_t tok = be32(p), len, name;

		p += 4;
		if (tok == FDT_BEGIN_NODE) {
			while (p < end && *p)
				p++;
			p = fdt + ((p + 1 - fdt + 3) & ~(size_t)3);
		} else if (tok == FDT_PROP && p + 8 <= end) {
			len = be32(p), name = be32(p + 4);
			p += 8;
			if (len > (size_t)(end - p) || name >= strings_size)
				return NULL;
			if (len && p[len - 1] == '\0' &&
			    streq((const char *)fdt + strings + name, "bootargs"))
				return (const char *)p;
			p += (len + 3) & ~3u;
		} else if (tok != FDT_END_NODE && tok != FDT_NOP) {
			return NULL; /* FDT_END, or something malformed */
		}
	}
	return NULL;
}

static int starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

static int parse_u32(const char *s, uint32_t *v)
{
	uint64_t n = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		if ((n = n * 10 + (uint64_t)(*s - '0')) > 0xffffffffu)
			return -1;
	if (*s && *s != ' ')
		return -1;
	*v = (uint32_t)n;
	return 0;
}

/* One key=value word at (s); the others, such as kvmini's console=ttyS0, are skipped. */
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
		serial_puts(keys[i]);
		serial_puts(": want a whole number from 1 to 4294967295\n");
		return;
	}
}

int boot_parse(uint64_t dtb, struct boot_config *cfg)
{
	const char *s = find_bootargs((const uint8_t *)(uintptr_t)dtb);
	const char *end = s + CMDLINE_MAX;

	cfg->iterations = BOOT_DEFAULT_ITERATIONS;
	cfg->cpus = BOOT_DEFAULT_CPUS;
	if (!s) {
		serial_puts("exitlat: no bootargs in the device tree at x0: using the defaults\n");
		return -1;
	}
	while (s < end && *s) {
		if (*s == ' ') {
			s++;
			continue;
		}
		parse_arg(s, cfg);
		while (s < end && *s && *s != ' ')
			s++;
	}
	return 0;
}
