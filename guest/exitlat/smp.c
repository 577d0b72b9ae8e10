/* smp.c: starting the second vCPU (the AP) with INIT-SIPI-SIPI, and what it runs. */
#include "smp.h"
#include "cpu.h"
#include "lapic.h"
#include "runtime.h"
#include "trap.h"

/*
 * The SDM's waits are 10 ms after INIT and 200 us after each SIPI. The TSC rate is unknown here,
 * so assume at most 4 GHz: these only ever make the waits longer. (KVM needs none of them.)
 */
#define INIT_WAIT_CYCLES 40000000ull
#define SIPI_WAIT_CYCLES 800000ull
#define AP_STACK_SIZE	 4096

extern const char trampoline_start[], trampoline_end[];

uint32_t smp_ap_stack_top; /* read by trampoline.S */
static uint8_t ap_stack[AP_STACK_SIZE] __attribute__((aligned(16)));
static volatile uint32_t ap_ready;

static void delay(uint64_t cycles)
{
	uint64_t t0 = rdtsc();

	while (rdtsc() - t0 < cycles)
		;
}

int smp_start_ap(uint32_t apic_id, uint64_t budget)
{
	uint64_t t0;

	memcpy((void *)SMP_TRAMPOLINE, trampoline_start, (size_t)(trampoline_end - trampoline_start));
	smp_ap_stack_top = (uint32_t)&ap_stack[AP_STACK_SIZE];
	lapic_send_init(apic_id);
	delay(INIT_WAIT_CYCLES);
	/* Two SIPIs, as the SDM says: the second is for a CPU that missed the first. */
	for (int i = 0; i < 2 && !ap_ready; i++) {
		lapic_send_sipi(apic_id, SMP_TRAMPOLINE >> 12);
		delay(SIPI_WAIT_CYCLES);
	}
	t0 = rdtsc();
	while (!ap_ready)
		if (watchdog_fired || rdtsc() - t0 > budget)
			return -1;
	return 0;
}

void ap_main(void)
{
	trap_load();
	lapic_enable(TRAP_VEC_SPURIOUS);
	ap_ready = 1;
	/* The ping handler (trap.c) does the work; STI's one-instruction shadow makes sti; hlt race-free. */
	for (;;)
		__asm__ __volatile__("sti; hlt" : : : "memory");
}
