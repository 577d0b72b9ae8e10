/* trap.c: the exception vectors' C half: interrupts (timer, SGIs) and the exceptions that end the run. */
#include "trap.h"
#include "cpu.h"
#include "gic.h"
#include "serial.h"
#include "smp.h"

volatile uint32_t trap_timer_fired, trap_ipi_replied, trap_unexpected;

void trap_irq(void)
{
	uint32_t intid = gic_ack();

	if (intid >= GIC_SPURIOUS)
		return;
	if (intid == GIC_PPI_VTIMER) {
		SYSREG_WRITE("cntv_ctl_el0", 0); /* off: its level-triggered line falls before the EOI */
		isb();
		trap_timer_fired = 1;
	} else if (intid == GIC_SGI_PING && cpu_id() != 0) {
		gic_send_sgi(GIC_SGI_PING, 0); /* the AP answers the ping */
	} else if (intid == GIC_SGI_PING) {
		trap_ipi_replied = 1;
	} else {
		trap_unexpected++;
	}
	gic_eoi(intid);
}

void trap_fault(uint64_t kind, uint64_t esr, uint64_t elr, uint64_t far)
{
	serial_puts("exitlat: exception ");
	serial_put_u64(kind);
	serial_puts(" on vCPU ");
	serial_put_u64(cpu_id());
	serial_puts(": esr ");
	serial_put_hex(esr, 16);
	serial_puts(" elr ");
	serial_put_hex(elr, 16);
	serial_puts(" far ");
	serial_put_hex(far, 16);
	serial_puts(": giving up\n");
	smp_system_off();
}
