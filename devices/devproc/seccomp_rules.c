/* seccomp_rules.c: allowlists as tables of rules, into libseccomp. */
#include "seccomp_rules.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "../base/log.h"

scmp_filter_ctx seccomp_rules_context(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);

	if (ctx && seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP) < 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

int seccomp_rules_add(scmp_filter_ctx ctx, const struct rule *r, size_t n)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < n; i++)
		if (r[i].nr >= 0) /* else not a syscall of this architecture */
			ret = seccomp_rule_add_array(
				ctx, r[i].err ? SCMP_ACT_ERRNO((uint32_t)r[i].err) : SCMP_ACT_ALLOW, r[i].nr,
				r[i].nargs, r[i].args);
	return ret;
}

int seccomp_rules_own_signal(scmp_filter_ctx ctx, int sig)
{
	const struct scmp_arg_cmp own[] = { ARG_EQ(0, (scmp_datum_t)getpid()), ARG_EQ(2, (scmp_datum_t)sig) };

	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2, own);
}

int seccomp_rules_load(scmp_filter_ctx ctx)
{
	int ret = seccomp_rules_own_signal(ctx, SIGABRT);

	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

/* append: (s) at (*pos) in (buf) of (len) bytes, as far as it fits; (*pos) counts what would be written. */
static void append(char *buf, size_t len, size_t *pos, const char *s)
{
	for (; *s; s++, (*pos)++)
		if (*pos + 1 < len)
			buf[*pos] = *s;
}

/* append_num: (v) in base (base), 10 or 16, without a prefix. */
static void append_num(char *buf, size_t len, size_t *pos, long long v, unsigned int base)
{
	char digits[24];
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
	int n = (int)sizeof(digits) - 1;

	digits[n] = '\0';
	do
		digits[--n] = "0123456789abcdef"[u % base];
	while ((u /= base) && n > 1);
	if (v < 0)
		digits[--n] = '-';
	append(buf, len, pos, digits + n);
}

size_t seccomp_rules_refusal(const char *who, const char *name, int nr, uint32_t arch, bool foreign,
			     char *buf, size_t len)
{
	size_t pos = 0;

	append(buf, len, &pos, layer_name(LAYER_SANDBOX));
	append(buf, len, &pos, ": ");
	append(buf, len, &pos, who);
	append(buf, len, &pos, " was stopped by its syscall filter: it called ");
	append(buf, len, &pos, name ? name : "an unknown syscall");
	append(buf, len, &pos, " (");
	append_num(buf, len, &pos, nr, 10);
	append(buf, len, &pos, ")");
	if (foreign) {
		append(buf, len, &pos, " of a foreign ABI (audit arch 0x");
		append_num(buf, len, &pos, arch, 16);
		append(buf, len, &pos, ")");
	}
	append(buf, len, &pos,
	       ", which its policy does not allow; this is a bug in kvmini: please report it with this line");
	if (len)
		buf[pos < len ? pos : len - 1] = '\0';
	return pos;
}
