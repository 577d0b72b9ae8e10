/* arm64/probe.c: the canary guest, which kvmini has only as x86 code so far. */
#include "../probe.h"

#include <errno.h>
#include <string.h>

int probe_canary(const char *path, uint32_t iterations, unsigned int limit_ms, struct probe_result *r)
{
	(void)path;
	(void)limit_ms;
	memset(r, 0, sizeof(*r));
	r->iterations = iterations;
	return -ENOTSUP;
}
