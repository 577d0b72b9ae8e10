/* smp.c: PSCI through HVC: starting the second vCPU (the AP) with CPU_ON, and what it runs; SYSTEM_OFF. */
#include "smp.h"
#include "cpu.h"
#include "dtb.h"
#include "gic.h"
#include "mmu.h"
#include "serial.h"

#define PSCI_CPU_ON_64	0xc4000003u
#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_ALREADY_ON (-4)
#define AP_STACK_SIZE	4096

extern char ap_entry[]; /* entry.S: x0 is the stack's top, the MMU off */

static uint8_t ap_stack[AP_STACK_SIZE] __attribute__((aligned(16)));
static volatile uint32_t ap_ready;

int smp_start_ap(uint32_t cpu, uint64_t budget)
{
	int64_t ret = hvc_call(PSCI_CPU_ON_64, dtb_cpu_affinity(cpu), (uint64_t)(uintptr_t)ap_entry,
			       (uint64_t)(uintptr_t)&ap_stack[AP_STACK_SIZE]);
	uint64_t t0 = counter_end();

	if (ret != 0 && ret != PSCI_ALREADY_ON) {
		serial_puts("exitlat: PSCI CPU_ON refused\n");
		return -1;
	}
	while (!ap_ready)
		if (counter_end() - t0 > budget)
			return -1;
	return 0;
}

void ap_main(void)
{
	mmu_enable(); /* the same tables as vCPU 0's, so that the flags are coherent between the two */
	gic_init_cpu(cpu_id());
	ap_ready = 1;
	irq_unmask();
	for (;;)
		__asm__ __volatile__("wfi" : : : "memory");
}

void smp_system_off(void)
{
	hvc_call(PSCI_SYSTEM_OFF, 0, 0, 0);
	for (;;)
		__asm__ __volatile__("wfi" : : : "memory");
}
