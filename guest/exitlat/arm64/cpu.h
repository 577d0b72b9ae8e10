/* cpu.h: the arm64 instructions the guest uses: system registers, the counter, MMIO, HVC, interrupt masks. */
#ifndef EXITLAT_ARM64_CPU_H
#define EXITLAT_ARM64_CPU_H

#include <stdint.h>

/* GICv3 CPU interface registers by encoding: every assembler takes these. */
#define ICC_PMR_EL1	"S3_0_C4_C6_0"
#define ICC_IAR1_EL1	"S3_0_C12_C12_0"
#define ICC_EOIR1_EL1	"S3_0_C12_C12_1"
#define ICC_BPR1_EL1	"S3_0_C12_C12_3"
#define ICC_SRE_EL1	"S3_0_C12_C12_5"
#define ICC_IGRPEN1_EL1 "S3_0_C12_C12_7"
#define ICC_SGI1R_EL1	"S3_0_C12_C11_5"

#define SYSREG_READ(reg)                                                   \
	({                                                                 \
		uint64_t v_;                                               \
		__asm__ __volatile__("mrs %0, " reg : "=r"(v_)::"memory"); \
		v_;                                                        \
	})
#define SYSREG_WRITE(reg, v) __asm__ __volatile__("msr " reg ", %0" : : "r"((uint64_t)(v)) : "memory")

static inline void isb(void)
{
	__asm__ __volatile__("isb" : : : "memory");
}

/*
 * The timing pair: the virtual counter (CNTVCT_EL0) read after an ISB, so that it cannot be read
 * before what precedes it; t0 has an ISB after too, so that the operation cannot start before it.
 */
static inline uint64_t counter_begin(void)
{
	uint64_t t;

	__asm__ __volatile__("isb; mrs %0, cntvct_el0; isb" : "=r"(t) : : "memory");
	return t;
}

static inline uint64_t counter_end(void)
{
	uint64_t t;

	__asm__ __volatile__("isb; mrs %0, cntvct_el0" : "=r"(t) : : "memory");
	return t;
}

/* counter_hz: the counter's frequency, as firmware (here KVM, from the host) set CNTFRQ_EL0. */
static inline uint64_t counter_hz(void)
{
	return SYSREG_READ("cntfrq_el0");
}

/* This vCPU's number: kvmini and KVM give vCPU n the MPIDR affinity n, Aff0 for the first 16. */
static inline uint32_t cpu_id(void)
{
	return (uint32_t)(SYSREG_READ("mpidr_el1") & 0xff);
}

static inline void irq_unmask(void)
{
	__asm__ __volatile__("msr daifclr, #2; isb" : : : "memory");
}

static inline void irq_mask(void)
{
	__asm__ __volatile__("msr daifset, #2" : : : "memory");
}

/*
 * MMIO by plain single-register loads and stores only: KVM can emulate an access only when the CPU
 * reports it in full (ESR_EL2.ISV), which no writeback or pair form gets.
 */
static inline void mmio_write32(uint64_t gpa, uint32_t v)
{
	__asm__ __volatile__("str %w0, [%1]" : : "r"(v), "r"(gpa) : "memory");
}

static inline uint32_t mmio_read32(uint64_t gpa)
{
	uint32_t v;

	__asm__ __volatile__("ldr %w0, [%1]" : "=r"(v) : "r"(gpa) : "memory");
	return v;
}

static inline void mmio_write8(uint64_t gpa, uint8_t v)
{
	__asm__ __volatile__("strb %w0, [%1]" : : "r"(v), "r"(gpa) : "memory");
}

static inline uint8_t mmio_read8(uint64_t gpa)
{
	uint32_t v;

	__asm__ __volatile__("ldrb %w0, [%1]" : "=r"(v) : "r"(gpa) : "memory");
	return (uint8_t)v;
}

/* An SMCCC call through HVC: function (fn), arguments x1-x3; x0 comes back (SMCCC 1.1 keeps x4-x17). */
static inline int64_t hvc_call(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3)
{
	register uint64_t x0 __asm__("x0") = fn;
	register uint64_t x1 __asm__("x1") = a1;
	register uint64_t x2 __asm__("x2") = a2;
	register uint64_t x3 __asm__("x3") = a3;

	__asm__ __volatile__("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : "memory");
	return (int64_t)x0;
}

#endif
