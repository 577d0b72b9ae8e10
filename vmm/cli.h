/* cli.h: the command line: subcommands, options, sizes. */
#ifndef KVMINI_CLI_H
#define KVMINI_CLI_H

#include <stdint.h>

#include "vm.h"

#define CLI_DEFAULT_CPUS 1
#define CLI_DEFAULT_MEM	 (256ULL << 20)
#define CLI_MIN_MEM	 (16ULL << 20)

enum cli_action {
	CLI_RUN,
	CLI_HELP, /* usage printed; exit 0 */
	CLI_VERSION,
};

struct cli {
	enum cli_action action;
	struct vm_config vm;
	int verbosity; /* -1 quiet, 0 default, 1 verbose, 2 debug */
};

/*
 * cli_parse_size: (s) as a size in bytes: a number with an optional K, M, G or T suffix (powers
 * of 1024, optionally followed by "iB" or "B"); a bare number means MiB, as in QEMU's -m.
 * Returns 0, -EINVAL for malformed text, -ERANGE for overflow.
 */
int cli_parse_size(const char *s, uint64_t *out);
/* cli_parse_uint: (s) as a decimal integer in [min, max]. Returns 0, -EINVAL or -ERANGE. */
int cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* cli_check_mem: whether (mem) bytes of guest RAM can be given on a host with (host_ram) bytes; logs why not. */
int cli_check_mem(uint64_t mem, uint64_t host_ram);
/*
 * cli_parse_disk: one --disk value into (d): PATH[,ro][,serial=ID], or vhost-user=SOCKET. Returns 0 or
 * -EINVAL (logged, naming the option and what to write instead).
 */
int cli_parse_disk(struct vm_disk_config *d, const char *arg);
/* cli_parse_mac: the (len) characters at (s) as a MAC "XX:XX:XX:XX:XX:XX" into (mac). Returns 0 or -EINVAL. */
int cli_parse_mac(const char *s, size_t len, uint8_t mac[6]);
/* cli_parse: (argc, argv) into (c); errors are logged as one line. Returns 0 or -EINVAL. */
int cli_parse(int argc, char **argv, struct cli *c);
/* cli_usage: the help text. */
const char *cli_usage(void);

#endif
