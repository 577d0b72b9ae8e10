/* bench.h: "kvmini bench exits": what each kind of VM exit costs, measured by a bare-metal guest. */
#ifndef KVMINI_BENCH_H
#define KVMINI_BENCH_H

#include <stdint.h>

#include "../guest/exitlat/abi.h"
#include "../devices/base/mem.h"

#define BENCH_DEFAULT_ITERATIONS 10000
#define BENCH_MAX_ITERATIONS	 10000000

/*
 * What the benchmark does differently on each architecture: one of these, picked by ARCH_NAME, and no
 * other test of the architecture in bench.c. Addresses and rows are abi.h's.
 */
struct bench_arch {
	const char *name;    /* ARCH_NAME: "x86_64" or "arm64" */
	const char *guest;   /* the guest image's file name, in guest/ beside kvmini */
	const uint8_t *rows; /* the rows its guest runs and kvmini reports, in order */
	unsigned int nr_rows;
	int result_pio;	   /* the result register (4-byte write) is a port (x86), else MMIO (arm64) */
	uint64_t result;   /* its port or address */
	uint64_t pio_user; /* ports: 0 where there are none (arm64) */
	uint64_t pio_ioeventfd;
	uint64_t mmio_user; /* MMIO targets */
	uint64_t mmio_ioeventfd;
	uint64_t mmio_wildcard;
	int done_status; /* vm_run's status once the guest ends: debug-exit 0 (x86), PSCI SYSTEM_OFF (arm64) */
	int nmi;	 /* a stuck row gets an NMI (x86); else only a kick, which ends a WFI (arm64) */
	const char *clock;   /* what the guest times with: "TSC" or "counter" (CNTVCT_EL0) */
	const char *unit;    /* what its samples count: "cycles" or "ticks" */
	const char *khz_key; /* the JSON key of the clock's rate: "tsc_khz" or "counter_khz" */
};

/* bench_arch_of: the description for architecture (name), "x86_64" or "arm64"; NULL for another. */
const struct bench_arch *bench_arch_of(const char *name);
/* bench_arch_has_row: whether (a)'s guest runs (row): 1 or 0. */
int bench_arch_has_row(const struct bench_arch *a, uint32_t row);

/*
 * bench_decode: read the result record the guest put at (gpa) in (m): once, into (r), then check
 * it. (*samples) points at its r->count samples in guest RAM (copy them before the guest runs on).
 * Returns 1 for the final record, 0 for a row, -EINVAL with (*why) for anything malformed: bad
 * magic, row or status out of range, more than (max_count) samples, any byte outside RAM.
 */
int bench_decode(const struct gmem *m, uint64_t gpa, uint32_t max_count, struct exitlat_result *r,
		 const uint64_t **samples, const char **why);
/* bench_main: "kvmini bench exits ..." from (argc, argv) at "bench". Returns the exit status. */
int bench_main(int argc, char **argv, uint64_t start_ns);

#endif
