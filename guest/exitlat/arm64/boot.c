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

int boot_parse(uint64_t dtb, struct boot_config *cfg)
{
	const char *s = find_bootargs((const uint8_t *)(uintptr_t)dtb);

	cmdline_defaults(&cfg->cmd);
	if (!s) {
		serial_puts("exitlat: no bootargs in the device tree at x0: using the defaults\n");
		return -1;
	}
	cmdline_parse(s, CMDLINE_MAX, 0, &cfg->cmd);
	return 0;
}
