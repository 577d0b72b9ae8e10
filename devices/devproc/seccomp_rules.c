/* seccomp_rules.c: allowlists as tables of rules, into libseccomp. */
#include "seccomp_rules.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

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
