/* rows.h: timing each row's operation: (t1 - t0) around exactly one of them, per iteration. */
#ifndef EXITLAT_ROWS_H
#define EXITLAT_ROWS_H

#include <stdint.h>

#include "run.h"

/*
 * A wait longer than this many TSC cycles (about 2 to 4 s on today's hosts) marks its row
 * EXITLAT_TIMEOUT: a sample that slow is a stall, not a latency.
 */
#define ROWS_BUDGET (1ull << 33)

struct rows_cpu {
	int rdtscp;    /* end samples with RDTSCP rather than LFENCE; RDTSC */
	int amd;       /* hypercalls are VMMCALL (AMD, Hygon), not VMCALL */
	uint32_t cpus; /* vCPUs there are: the ipi row needs 2 */
};

/* rows_probe_cpu: fill (cpu) from CPUID; (cpus) comes from the command line. */
void rows_probe_cpu(struct rows_cpu *cpu, uint32_t cpus);
/*
 * rows_measure: take the samples of the row that (run), a struct rows_run, names and set its count
 * and status. Meant for trap_try(): an operation that faults (VMCALL's #UD without a hypervisor,
 * RDMSR's #GP) abandons the row there.
 */
void rows_measure(void *run);

#endif
