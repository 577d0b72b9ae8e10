/* main.c: kvmini's entry point: parse the command line, build the VM, run it, exit with its status. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../devices/devproc/devproc.h"
#include "api_client.h"
#include "bench.h"
#include "cli.h"
#include "doctor.h"
#include "host.h"
#include "../devices/base/log.h"
#include "vm.h"

#ifndef KVMINI_VERSION
#define KVMINI_VERSION "unknown"
#endif

static uint64_t host_ram(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

int main(int argc, char **argv)
{
	static struct vm vm; /* large; one per process */
	struct cli cli;
	uint64_t start_ns = vm_now_ns();
	int status;

	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "bench") == 0)
		return bench_main(argc - 1, argv + 1, start_ns);
	if (argc > 1 && strcmp(argv[1], "host") == 0)
		return host_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "device") == 0)
		return devproc_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "doctor") == 0)
		return doctor_main(argc - 1, argv + 1);
	if (argc > 1 && api_client_command(argv[1]))
		return api_client_main(argc - 1, argv + 1);
	if (cli_parse(argc, argv, &cli) < 0)
		return VM_EXIT_ERROR;
	if (cli.action == CLI_HELP) {
		fputs(cli_usage(), stdout);
		return 0;
	}
	if (cli.action == CLI_VERSION) {
		printf("kvmini %s\n", KVMINI_VERSION);
		return 0;
	}
	log_set_level(cli.verbosity < 0	   ? LOG_WARN
		      : cli.verbosity == 0 ? LOG_NOTICE
		      : cli.verbosity == 1 ? LOG_INFO
					   : LOG_DEBUG);
	if (cli_check_mem(cli.vm.mem, host_ram()) < 0)
		return VM_EXIT_ERROR;
	cli.vm.start_ns = start_ns;
	if (vm_create(&vm, &cli.vm) < 0)
		status = VM_EXIT_ERROR;
	else
		status = vm_run(&vm);
	vm_destroy(&vm);
	return status;
}
