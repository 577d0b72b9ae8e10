/* trap.c: the IDT, interrupt dispatch, and recovery from an exception that a row raises. */
#include "trap.h"
#include "cpu.h"
#include "lapic.h"
#include "segments.h"
#include "serial.h"

#define GATE_INTR	0x8e /* present, DPL 0, 32-bit interrupt gate: IF is cleared on entry */
#define STUB_SIZE	16   /* as in entry.S */
#define DEBUG_EXIT_PORT 0xf4

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t zero;
	uint8_t type;
	uint16_t offset_hi;
} __attribute__((packed));

struct idt_desc {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

extern const char trap_stubs[];
extern const char trap_try_catch[];
extern uint32_t trap_try_esp;
extern char boot_stack_bottom[], boot_stack_top[];
void cpu_halt(void) __attribute__((noreturn));

volatile uint32_t watchdog_fired;
volatile uint32_t trap_timer_fired, trap_ipi_replied;
volatile uint32_t trap_unexpected;
volatile uint32_t trap_caught_eip;

static struct idt_gate idt[256] __attribute__((aligned(8)));

void trap_load(void)
{
	struct idt_desc d = { sizeof(idt) - 1, (uint32_t)idt };

	__asm__ __volatile__("lidt %0" : : "m"(d));
}

/* Remap the 8259s off the exception vectors and mask them: the guest takes no legacy IRQs. */
static void pic_mask_all(void)
{
	static const uint8_t init[2][4] = {
		{ 0x11, TRAP_VEC_PIC, 0x04, 0x01 },	/* master: edge, cascade, slave on IRQ2, 8086 */
		{ 0x11, TRAP_VEC_PIC + 8, 0x02, 0x01 }, /* slave: its cascade identity is 2 */
	};
	static const uint16_t base[2] = { 0x20, 0xa0 };

	for (int i = 0; i < 2; i++) {
		outb(base[i], init[i][0]);
		for (int j = 1; j < 4; j++)
			outb(base[i] + 1, init[i][j]);
		outb(base[i] + 1, 0xff);
	}
}

void trap_init(void)
{
	for (uint32_t v = 0; v < 256; v++) {
		uint32_t a = (uint32_t)trap_stubs + v * STUB_SIZE;

		idt[v] = (struct idt_gate){ a & 0xffff, CODE_SEL, 0, GATE_INTR, a >> 16 };
	}
	trap_load();
	pic_mask_all();
}

/* An exception on the BSP inside trap_try(): resume at trap_try_catch with EAX = 0x100 | vector. */
static int recover(struct trap_frame *f)
{
	uint32_t at = (uint32_t)f;

	/* The AP's frames are on its own stack: only the BSP's faults belong to trap_try(). */
	if (!trap_try_esp || at < (uint32_t)boot_stack_bottom || at >= (uint32_t)boot_stack_top)
		return 0;
	trap_caught_eip = f->eip;
	f->eip = (uint32_t)trap_try_catch;
	f->eax = 0x100 | f->vector;
	return 1;
}

static void fatal_exception(const struct trap_frame *f)
{
	serial_puts("exitlat: exception ");
	serial_put_u64(f->vector);
	serial_puts(" at ");
	serial_put_hex(f->eip, 8);
	serial_puts(" error=");
	serial_put_hex(f->error, 8);
	serial_puts("\n");
	outb(DEBUG_EXIT_PORT, 0x7f);
	cpu_halt();
}

void trap(struct trap_frame *f)
{
	switch (f->vector) {
	case TRAP_VEC_NMI:
		watchdog_fired = 1;
		return;
	case TRAP_VEC_TIMER:
		trap_timer_fired = 1;
		break;
	case TRAP_VEC_REPLY:
		trap_ipi_replied = 1;
		break;
	case TRAP_VEC_PING:
		lapic_send_ipi(0, TRAP_VEC_REPLY);
		break;
	case TRAP_VEC_SPURIOUS:
		return; /* a spurious interrupt sets no ISR bit: no EOI */
	default:
		if (f->vector < 32) {
			if (!recover(f))
				fatal_exception(f);
			return;
		}
		trap_unexpected++;
		break;
	}
	lapic_eoi();
}
