/*
 * uart.c: the registers of the console's UART by MMIO, as common/serial.c drives a 16550A: kvmini's
 * 16550A at 0x09000000, or QEMU virt's PL011 there, to which the few 16550A registers the console
 * uses are translated.
 */
#include "uart.h"
#include "cpu.h"
#include "dtb.h"
#include "serial.h"

/* The 16550A registers common/serial.c uses. */
#define REG_DATA 0
#define REG_LCR	 3
#define REG_LSR	 5
#define LCR_DLAB 0x80
#define LSR_THRE 0x20
/* The PL011's: 32-bit registers. */
#define PL011_DR	0x00
#define PL011_FR	0x18
#define PL011_CR	0x30
#define PL011_FR_TXFF	(1u << 5)
#define PL011_CR_UARTEN (1u << 0)
#define PL011_CR_TXE	(1u << 8)

static uint64_t uart_base = ARM64_UART_BASE;
static int uart_pl011;
static uint8_t uart_lcr; /* PL011: the 16550A's LCR as last written: DLAB set, REG_DATA is the divisor */

void uart_select(uint64_t base, int pl011)
{
	uart_base = base;
	uart_pl011 = pl011;
	if (pl011)
		mmio_write32(base + PL011_CR, PL011_CR_UARTEN | PL011_CR_TXE);
}

void serial_reg_write(unsigned int reg, uint8_t v)
{
	if (!uart_pl011)
		mmio_write8(uart_base + reg, v);
	else if (reg == REG_LCR)
		uart_lcr = v;
	else if (reg == REG_DATA && !(uart_lcr & LCR_DLAB))
		mmio_write32(uart_base + PL011_DR, v);
}

uint8_t serial_reg_read(unsigned int reg)
{
	if (!uart_pl011)
		return mmio_read8(uart_base + reg);
	if (reg == REG_LSR)
		return mmio_read32(uart_base + PL011_FR) & PL011_FR_TXFF ? 0 : LSR_THRE;
	return 0;
}
