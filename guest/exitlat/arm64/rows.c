/* rows.c: timing each row's operation: (t1 - t0) around exactly one of them, per iteration. */
#include "rows.h"
#include "abi.h"
#include "cpu.h"
#include "gic.h"
#include "smp.h"
#include "trap.h"

#define WFI_TIMER_NS 20000 /* the virtual timer's deadline after it is armed: well after the WFI */
#define AP_CPU	     1

static inline int64_t op_hvc(void)
{
	return hvc_call(EXITLAT_ARM64_HVC_UNKNOWN, 0, 0, 0);
}

/*
 * A row whose operation is a single instruction that cannot stall in the guest: if it exits, the
 * VMM resumes us or the VM is gone. The loop row times nothing, so its cost is the timing's own.
 */
#define SIMPLE_ROW(name, op)                                   \
	static void name(struct rows_run *r)                   \
	{                                                      \
		for (uint32_t i = 0; i < r->iterations; i++) { \
			uint64_t t0 = counter_begin();         \
			op;                                    \
			r->samples[i] = counter_end() - t0;    \
		}                                              \
		r->count = r->iterations;                      \
	}

SIMPLE_ROW(row_loop, (void)0)
SIMPLE_ROW(row_hvc, r->ret = op_hvc())
SIMPLE_ROW(row_mmio_user_read, (void)mmio_read32(EXITLAT_ARM64_MMIO_USER))
SIMPLE_ROW(row_mmio_user_write, mmio_write32(EXITLAT_ARM64_MMIO_USER, 0))
SIMPLE_ROW(row_mmio_ioeventfd, mmio_write32(EXITLAT_ARM64_MMIO_IOEVENTFD, 0))
SIMPLE_ROW(row_mmio_wildcard, mmio_write32(EXITLAT_ARM64_MMIO_WILDCARD, 0))

/*
 * Wait with interrupts masked in WFI, which wakes for a pending interrupt all the same, then open them
 * for the handler: so the timer's interrupt cannot be taken before the WFI. Another wake-up (an
 * unexpected interrupt, or kvmini's watchdog kicking the vCPU out of KVM_RUN) waits again, within
 * the budget.
 */
static int wfi_until_timer(const struct rows_cpu *cpu, uint64_t t0)
{
	while (!trap_timer_fired) {
		__asm__ __volatile__("wfi" : : : "memory");
		irq_unmask();
		irq_mask();
		if (trap_timer_fired)
			break;
		if (counter_end() - t0 > cpu->budget)
			return -1;
	}
	return 0;
}

/*
 * One sample: the virtual timer armed for WFI_TIMER_NS ahead, WFI (an exit: the vCPU blocks in KVM,
 * which sleeps until the deadline), the timer expires, KVM wakes the vCPU and injects PPI 27, the
 * handler runs (ICC_IAR1 and ICC_EOIR1: system registers the GIC's CPU interface serves without an
 * exit on GICv3 hardware), t1. The sample is t1 less the deadline: the wake-up's latency, not the
 * timer's period. Unlike x86's 100 ns, the deadline must come after the WFI: a WFI with an interrupt
 * already pending completes at once, without an exit (the architecture's rule for HCR_EL2.TWI).
 */
static void row_wfi_timer(struct rows_run *r)
{
	uint64_t ahead = r->cpu->hz / (1000000000 / WFI_TIMER_NS);

	for (uint32_t i = 0; i < r->iterations; i++) {
		uint64_t t0, deadline, t1;

		trap_timer_fired = 0;
		t0 = counter_begin();
		deadline = t0 + ahead;
		SYSREG_WRITE("cntv_cval_el0", deadline);
		SYSREG_WRITE("cntv_ctl_el0", 1); /* enabled, not masked */
		isb();
		if (wfi_until_timer(r->cpu, t0) < 0) {
			r->status = EXITLAT_TIMEOUT;
			break;
		}
		t1 = counter_end();
		r->samples[i] = t1 > deadline ? t1 - deadline : 0;
		r->count = i + 1;
	}
	SYSREG_WRITE("cntv_ctl_el0", 0);
}

/* Spin with interrupts open (so the reply can come in) until the AP's reply; no WFE: no exits. */
static int wait_reply(const struct rows_cpu *cpu, uint64_t t0)
{
	int ret = 0;

	irq_unmask();
	while (!trap_ipi_replied) {
		if (counter_end() - t0 > cpu->budget) {
			ret = -1;
			break;
		}
	}
	irq_mask();
	return ret;
}

/* One sample: t0, SGI 0 to the AP (ICC_SGI1R_EL1: trapped, KVM's), the AP's handler sends it back, ours runs, t1. */
static void row_ipi(struct rows_run *r)
{
	static int ap_up;

	if (r->cpu->cpus < 2) {
		r->status = EXITLAT_UNSUPPORTED;
		return;
	}
	if (!ap_up && smp_start_ap(AP_CPU, r->cpu->budget) < 0) {
		r->status = EXITLAT_TIMEOUT;
		return;
	}
	ap_up = 1;
	for (uint32_t i = 0; i < r->iterations; i++) {
		uint64_t t0;

		trap_ipi_replied = 0;
		t0 = counter_begin();
		gic_send_sgi(GIC_SGI_PING, AP_CPU);
		if (wait_reply(r->cpu, t0) < 0) {
			r->status = EXITLAT_TIMEOUT;
			break;
		}
		r->samples[i] = counter_end() - t0;
		r->count = i + 1;
	}
}

void rows_measure(struct rows_run *r)
{
	static void (*const measure[EXITLAT_NR_ROWS])(struct rows_run *) = {
		[EXITLAT_ROW_LOOP] = row_loop,
		[EXITLAT_ROW_HVC] = row_hvc,
		[EXITLAT_ROW_MMIO_USER_READ] = row_mmio_user_read,
		[EXITLAT_ROW_MMIO_USER_WRITE] = row_mmio_user_write,
		[EXITLAT_ROW_MMIO_IOEVENTFD] = row_mmio_ioeventfd,
		[EXITLAT_ROW_MMIO_WILDCARD] = row_mmio_wildcard,
		[EXITLAT_ROW_WFI_TIMER] = row_wfi_timer,
		[EXITLAT_ROW_IPI] = row_ipi,
	};

	r->count = 0;
	r->status = EXITLAT_OK;
	if (r->row < EXITLAT_NR_ROWS && measure[r->row])
		measure[r->row](r);
	else
		r->status = EXITLAT_UNSUPPORTED;
}
