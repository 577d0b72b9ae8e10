/* gic.h: the GICv3 as the guest uses it: the distributor, each vCPU's redistributor, the ICC registers. */
#ifndef EXITLAT_ARM64_GIC_H
#define EXITLAT_ARM64_GIC_H

#include <stdint.h>

#define GIC_SGI_PING   0    /* SGI, vCPU 0 to vCPU 1: vCPU 1 answers with the same SGI back */
#define GIC_PPI_VTIMER 27   /* the EL1 virtual timer's PPI (INTID 16 + 11), KVM's default */
#define GIC_SPURIOUS   1020 /* INTIDs from here on are special: no EOI */

/*
 * gic_init_dist: use the distributor at (gicd) and the redistributors from (gicr) (the device tree's),
 * and enable Group 1 interrupts at the distributor (once, vCPU 0, before the AP starts).
 */
void gic_init_dist(uint64_t gicd, uint64_t gicr);
/*
 * gic_init_cpu: wake this vCPU's (cpu) redistributor, make SGI 0 and the virtual timer's PPI Group 1
 * and enabled, and open the CPU interface through the ICC system registers. Interrupts stay masked.
 */
void gic_init_cpu(uint32_t cpu);
/* gic_ack: acknowledge the highest-priority pending interrupt: its INTID (GIC_SPURIOUS or above: none). */
uint32_t gic_ack(void);
/* gic_eoi: drop the priority of, and deactivate, (intid). */
void gic_eoi(uint32_t intid);
/* gic_send_sgi: SGI (intid) to vCPU (cpu), one of the first 16. */
void gic_send_sgi(uint32_t intid, uint32_t cpu);

#endif
