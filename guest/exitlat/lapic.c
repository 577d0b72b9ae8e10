/* lapic.c: the local APIC in xAPIC mode (MMIO at 0xfee00000): enable, EOI, one-shot timer, IPIs. */
#include "lapic.h"
#include "cpu.h"

#define MSR_APIC_BASE	 0x1b
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_BASE_X2APIC (1u << 10)

#define REG_ID	       0x020
#define REG_TPR	       0x080
#define REG_EOI	       0x0b0
#define REG_SVR	       0x0f0
#define REG_ESR	       0x280
#define REG_ICR_LO     0x300
#define REG_ICR_HI     0x310
#define REG_LVT_TIMER  0x320
#define REG_LVT_LINT0  0x350
#define REG_LVT_ERROR  0x370
#define REG_TIMER_INIT 0x380
#define REG_TIMER_DIV  0x3e0

#define SVR_ENABLE  (1u << 8)
#define LVT_MASKED  (1u << 16)
#define ICR_BUSY    (1u << 12) /* delivery status: send pending */
#define ICR_ASSERT  (1u << 14)
#define ICR_FIXED   (0u << 8)
#define ICR_INIT    (5u << 8)
#define ICR_STARTUP (6u << 8)
#define TIMER_DIV_1 0xb

/* A real xAPIC takes well under a microsecond to accept an IPI; KVM never shows it busy. */
#define ICR_WAIT_CYCLES (1ull << 24)

static inline uint32_t reg_read(uint32_t reg)
{
	return *(volatile uint32_t *)(LAPIC_BASE + reg);
}

static inline void reg_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(LAPIC_BASE + reg) = v;
}

void lapic_enable(uint8_t spurious)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);

	/* The firmware normally leaves it enabled at the default base, in xAPIC mode; make sure. */
	if ((base & ~0xfffull) != LAPIC_BASE || !(base & APIC_BASE_ENABLE) || (base & APIC_BASE_X2APIC))
		wrmsr(MSR_APIC_BASE,
		      (base & 0xfff & ~(uint64_t)APIC_BASE_X2APIC) | APIC_BASE_ENABLE | LAPIC_BASE);
	reg_write(REG_TPR, 0);
	/* LINT0 carries the 8259's ExtINT in virtual-wire mode: the guest wants no legacy IRQs. */
	reg_write(REG_LVT_LINT0, LVT_MASKED);
	reg_write(REG_LVT_ERROR, LVT_MASKED);
	reg_write(REG_LVT_TIMER, LVT_MASKED);
	reg_write(REG_SVR, SVR_ENABLE | spurious);
	reg_write(REG_ESR, 0);
}

uint32_t lapic_id(void)
{
	return reg_read(REG_ID) >> 24;
}

void lapic_eoi(void)
{
	reg_write(REG_EOI, 0);
}

void lapic_timer_oneshot(uint8_t vector)
{
	reg_write(REG_TIMER_INIT, 0);
	reg_write(REG_TIMER_DIV, TIMER_DIV_1);
	reg_write(REG_LVT_TIMER, vector); /* mode bits 0: one-shot; unmasked */
}

void lapic_timer_arm(uint32_t ticks)
{
	reg_write(REG_TIMER_INIT, ticks);
}

static void send(uint32_t dest, uint32_t icr)
{
	reg_write(REG_ICR_HI, dest << 24);
	reg_write(REG_ICR_LO, icr); /* this write sends it */
}

/* The SDM asks software to wait for the previous IPI to be accepted; bounded, then send anyway. */
static void wait_idle(void)
{
	uint64_t t0 = rdtsc();

	while ((reg_read(REG_ICR_LO) & ICR_BUSY) && rdtsc() - t0 < ICR_WAIT_CYCLES)
		;
}

/*
 * No wait_idle() here: the ipi row times this, and under KVM the delivery status is never seen
 * pending (the ICR write delivers), while reading ICR would add an exit wherever xAPIC access traps.
 */
void lapic_send_ipi(uint32_t dest, uint8_t vector)
{
	send(dest, ICR_ASSERT | ICR_FIXED | vector);
}

void lapic_send_init(uint32_t dest)
{
	wait_idle();
	send(dest, ICR_ASSERT | ICR_INIT);
}

void lapic_send_sipi(uint32_t dest, uint8_t page)
{
	wait_idle();
	send(dest, ICR_ASSERT | ICR_STARTUP | page);
}
