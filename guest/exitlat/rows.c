/* rows.c: timing each row's operation: (t1 - t0) around exactly one of them, per iteration. */
#include "rows.h"
#include "abi.h"
#include "cpu.h"
#include "lapic.h"
#include "smp.h"
#include "trap.h"

#define HYPERCALL_UNKNOWN 0xffff /* KVM answers -KVM_ENOSYS without leaving the kernel */
#define HLT_TIMER_TICKS	  100	 /* bus clocks: with KVM's and QEMU's 1 GHz bus, 100 ns */
#define AP_APIC_ID	  1

static inline void op_cpuid(void)
{
	uint32_t r[4];

	cpuid(0, r);
}

static inline void op_vmcall(void)
{
	uint32_t ret;

	__asm__ __volatile__("vmcall" : "=a"(ret) : "a"(HYPERCALL_UNKNOWN) : "memory");
}

static inline void op_vmmcall(void)
{
	uint32_t ret;

	__asm__ __volatile__("vmmcall" : "=a"(ret) : "a"(HYPERCALL_UNKNOWN) : "memory");
}

static inline void mmio_write(uint32_t gpa)
{
	*(volatile uint32_t *)gpa = 0;
}

static inline void mmio_read(uint32_t gpa)
{
	(void)*(volatile uint32_t *)gpa;
}

/*
 * A row whose operation is a single instruction that cannot stall in the guest: if it exits, the
 * VMM resumes us or the VM is gone. The loop row times nothing, so its cost is the timing's own.
 */
#define SIMPLE_ROW(name, setup, op)                                                  \
	static void name(struct rows_run *r)                                         \
	{                                                                            \
		const int rdtscp = r->cpu->rdtscp; /* in a register, not reloaded */ \
		setup;                                                               \
		for (uint32_t i = 0; i < r->iterations; i++) {                       \
			uint64_t t0 = tsc_begin();                                   \
			op;                                                          \
			r->samples[i] = tsc_end(rdtscp) - t0;                        \
		}                                                                    \
		r->count = r->iterations;                                            \
	}

SIMPLE_ROW(row_loop, , (void)0)
SIMPLE_ROW(row_cpuid, , op_cpuid())
SIMPLE_ROW(row_vmcall, , op_vmcall())
SIMPLE_ROW(row_vmmcall, , op_vmmcall())
SIMPLE_ROW(row_rdmsr, (void)rdmsr(EXITLAT_MSR), (void)rdmsr(EXITLAT_MSR))
SIMPLE_ROW(row_wrmsr, uint64_t msr = rdmsr(EXITLAT_MSR), wrmsr(EXITLAT_MSR, msr))
SIMPLE_ROW(row_pio_kernel, , (void)inb(EXITLAT_PORT_KERNEL))
SIMPLE_ROW(row_pio_user_in, , (void)inl(EXITLAT_PORT_USER))
SIMPLE_ROW(row_pio_user_out, , outl(EXITLAT_PORT_USER, 0))
SIMPLE_ROW(row_pio_ioeventfd, , outl(EXITLAT_PORT_IOEVENTFD, 0))
SIMPLE_ROW(row_mmio_user_read, , mmio_read(EXITLAT_MMIO_USER))
SIMPLE_ROW(row_mmio_user_write, , mmio_write(EXITLAT_MMIO_USER))
SIMPLE_ROW(row_mmio_ioeventfd, , mmio_write(EXITLAT_MMIO_IOEVENTFD))
SIMPLE_ROW(row_mmio_wildcard, , mmio_write(EXITLAT_MMIO_WILDCARD))

/*
 * Halt until the timer's interrupt has been taken. Interrupts are off until the STI, so it cannot
 * have been taken before, and STI's shadow covers HLT: it cannot slip in between the two. Another
 * wake-up (an unexpected interrupt) halts again, within the budget; an NMI (kvmini's watchdog, sent
 * when a wake-up never comes) ends the wait.
 */
static int hlt_until_timer(uint64_t t0)
{
	while (!trap_timer_fired) {
		__asm__ __volatile__("sti; hlt; cli" : : : "memory");
		if (trap_timer_fired)
			break;
		if (watchdog_fired || rdtsc() - t0 > ROWS_BUDGET)
			return -1;
	}
	return 0;
}

/*
 * One sample: t0, HLT (an exit: the vCPU would block), the one-shot timer armed just before t0
 * expires, its interrupt is injected, the handler runs and EOIs (an APIC write), IRET, CLI, t1.
 * Under virtualisation the HLT exit alone outlasts the 100 ns timer, so the interrupt is usually
 * pending by the time the vCPU would block: the row times a halt and its wake-up by a timer
 * interrupt, not the timer's period (which only shows where halting costs less than it).
 */
static void row_hlt_timer(struct rows_run *r)
{
	lapic_timer_oneshot(TRAP_VEC_TIMER);
	for (uint32_t i = 0; i < r->iterations; i++) {
		uint64_t t0;

		trap_timer_fired = 0;
		lapic_timer_arm(HLT_TIMER_TICKS);
		t0 = tsc_begin();
		if (hlt_until_timer(t0) < 0) {
			r->status = EXITLAT_TIMEOUT;
			break;
		}
		r->samples[i] = tsc_end(r->cpu->rdtscp) - t0;
		r->count = i + 1;
	}
	lapic_timer_arm(0);
}

/* Spin (interrupts on, so the reply can come in) until the AP's reply; no PAUSE: no pause-loop exits. */
static int wait_reply(uint64_t t0)
{
	int ret = 0;

	__asm__ __volatile__("sti" : : : "memory");
	while (!trap_ipi_replied) {
		if (watchdog_fired || rdtsc() - t0 > ROWS_BUDGET) {
			ret = -1;
			break;
		}
	}
	__asm__ __volatile__("cli" : : : "memory");
	return ret;
}

/* One sample: t0, ping the AP (ICR writes), its handler sends the reply back, our handler runs, t1. */
static void row_ipi(struct rows_run *r)
{
	static int ap_up;

	if (r->cpu->cpus < 2) {
		r->status = EXITLAT_UNSUPPORTED;
		return;
	}
	if (!ap_up && smp_start_ap(AP_APIC_ID, ROWS_BUDGET) < 0) {
		r->status = EXITLAT_TIMEOUT;
		return;
	}
	ap_up = 1;
	for (uint32_t i = 0; i < r->iterations; i++) {
		uint64_t t0;

		trap_ipi_replied = 0;
		t0 = tsc_begin();
		lapic_send_ipi(AP_APIC_ID, TRAP_VEC_PING);
		if (wait_reply(t0) < 0) {
			r->status = EXITLAT_TIMEOUT;
			break;
		}
		r->samples[i] = tsc_end(r->cpu->rdtscp) - t0;
		r->count = i + 1;
	}
}

void rows_measure(void *run)
{
	static void (*const measure[EXITLAT_NR_ROWS])(struct rows_run *) = {
		[EXITLAT_ROW_LOOP] = row_loop,
		[EXITLAT_ROW_CPUID] = row_cpuid,
		[EXITLAT_ROW_VMCALL] = row_vmcall,
		[EXITLAT_ROW_RDMSR] = row_rdmsr,
		[EXITLAT_ROW_WRMSR] = row_wrmsr,
		[EXITLAT_ROW_PIO_KERNEL] = row_pio_kernel,
		[EXITLAT_ROW_PIO_USER_IN] = row_pio_user_in,
		[EXITLAT_ROW_PIO_USER_OUT] = row_pio_user_out,
		[EXITLAT_ROW_PIO_IOEVENTFD] = row_pio_ioeventfd,
		[EXITLAT_ROW_MMIO_USER_READ] = row_mmio_user_read,
		[EXITLAT_ROW_MMIO_USER_WRITE] = row_mmio_user_write,
		[EXITLAT_ROW_MMIO_IOEVENTFD] = row_mmio_ioeventfd,
		[EXITLAT_ROW_MMIO_WILDCARD] = row_mmio_wildcard,
		[EXITLAT_ROW_HLT_TIMER] = row_hlt_timer,
		[EXITLAT_ROW_IPI] = row_ipi,
	};
	struct rows_run *r = run;

	r->count = 0;
	r->status = EXITLAT_OK;
	if (r->row == EXITLAT_ROW_VMCALL && r->cpu->amd)
		row_vmmcall(r);
	else if (r->row < EXITLAT_NR_ROWS)
		measure[r->row](r);
}

void rows_probe_cpu(struct rows_cpu *cpu, uint32_t cpus)
{
	uint32_t r[4];

	cpuid(0, r);
	/* The vendor string is EBX, EDX, ECX: "Auth" "enti" "cAMD", "Hygo" "nGen" "uine". */
	cpu->amd = (r[1] == 0x68747541 && r[3] == 0x69746e65 && r[2] == 0x444d4163) ||
		   (r[1] == 0x6f677948 && r[3] == 0x6e65476e && r[2] == 0x656e6975);
	cpuid(0x80000000, r);
	cpu->rdtscp = 0;
	if (r[0] >= 0x80000001) {
		cpuid(0x80000001, r);
		cpu->rdtscp = (r[3] >> 27) & 1;
	}
	cpu->cpus = cpus;
}
