/* gic.c: the GICv3 as the guest uses it: the distributor, each vCPU's redistributor, the ICC registers. */
#include "gic.h"
#include "cpu.h"
#include "dtb.h"

#define GICD_CTLR	    0x0000
#define GICD_CTLR_ENABLE_G1 (1u << 1) /* with one security state (KVM's): EnableGrp1 */
#define GICD_CTLR_ARE	    (1u << 4) /* affinity routing: KVM's GICv3 has it on whatever is written */
#define GICR_WAKER	    0x0014
#define GICR_WAKER_SLEEP    (1u << 1) /* ProcessorSleep */
#define GICR_WAKER_CHILDREN (1u << 2) /* ChildrenAsleep */
#define GICR_SGI_BASE	    0x10000   /* the second 64 KiB frame: SGIs and PPIs */
#define GICR_IGROUPR0	    (GICR_SGI_BASE + 0x0080)
#define GICR_ISENABLER0	    (GICR_SGI_BASE + 0x0100)
#define GICR_IPRIORITYR(n)  (GICR_SGI_BASE + 0x0400 + 4 * (n)) /* four INTIDs a word */
#define PRIORITY	    0x80808080u
#define WAKER_POLLS	    1000000

/* Set once by vCPU 0 before the AP starts: kvmini's addresses until then. */
static uint64_t gicd_base = ARM64_GICD_BASE, gicr_base = ARM64_GICR_BASE;

void gic_init_dist(uint64_t gicd, uint64_t gicr)
{
	gicd_base = gicd;
	gicr_base = gicr;
	mmio_write32(gicd_base + GICD_CTLR, GICD_CTLR_ENABLE_G1 | GICD_CTLR_ARE);
}

void gic_init_cpu(uint32_t cpu)
{
	/* KVM places redistributors in vCPU order from the base, one 128 KiB pair of frames each. */
	uint64_t rd = gicr_base + (uint64_t)cpu * ARM64_GICR_CPU_SIZE;
	uint32_t waker = mmio_read32(rd + GICR_WAKER);

	mmio_write32(rd + GICR_WAKER, waker & ~GICR_WAKER_SLEEP);
	for (int i = 0; i < WAKER_POLLS && (mmio_read32(rd + GICR_WAKER) & GICR_WAKER_CHILDREN); i++)
		;
	mmio_write32(rd + GICR_IGROUPR0, 0xffffffffu);
	for (int n = 0; n < 8; n++)
		mmio_write32(rd + GICR_IPRIORITYR(n), PRIORITY);
	mmio_write32(rd + GICR_ISENABLER0, 1u << GIC_SGI_PING | 1u << GIC_PPI_VTIMER);
	SYSREG_WRITE(ICC_SRE_EL1, SYSREG_READ(ICC_SRE_EL1) | 1); /* system-register access (KVM: always) */
	isb();
	SYSREG_WRITE(ICC_PMR_EL1, 0xff); /* every priority gets through */
	SYSREG_WRITE(ICC_BPR1_EL1, 0);
	SYSREG_WRITE(ICC_IGRPEN1_EL1, 1);
	isb();
}

uint32_t gic_ack(void)
{
	uint32_t intid = (uint32_t)SYSREG_READ(ICC_IAR1_EL1) & 0xffffff;

	__asm__ __volatile__("dsb sy" : : : "memory");
	return intid;
}

void gic_eoi(uint32_t intid)
{
	SYSREG_WRITE(ICC_EOIR1_EL1, intid);
	isb();
}

void gic_send_sgi(uint32_t intid, uint32_t cpu)
{
	/* Aff3.Aff2.Aff1 = 0; the target list names Aff0. */
	SYSREG_WRITE(ICC_SGI1R_EL1, (uint64_t)(intid & 0xf) << 24 | 1u << (cpu & 0xf));
	isb();
}
