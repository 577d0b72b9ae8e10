/* serial.c: polled output on kvmini's 16550A at 0x09000000, the guest's only console. */
#include "serial.h"
#include "cpu.h"
#include "dtb.h"

#define REG_DATA   0 /* with LCR.DLAB set: divisor low byte */
#define REG_IER	   1 /* with LCR.DLAB set: divisor high byte */
#define REG_FCR	   2
#define REG_LCR	   3
#define REG_LSR	   5
#define LCR_8N1	   0x03
#define LCR_DLAB   0x80
#define LSR_THRE   0x20
#define FCR_ENABLE 0x07 /* enable and clear both FIFOs */
/* Without a UART THRE may never show: after one bounded wait, stop polling, so printing never hangs. */
#define THRE_POLLS 100000

static int uart_absent;

static void out(unsigned int reg, uint8_t v)
{
	mmio_write8(ARM64_UART_BASE + reg, v);
}

void serial_init(void)
{
	out(REG_IER, 0);
	out(REG_LCR, LCR_DLAB);
	out(REG_DATA, 1); /* 115200 baud at 1.8432 MHz */
	out(REG_IER, 0);
	out(REG_LCR, LCR_8N1);
	out(REG_FCR, FCR_ENABLE);
}

static void put_char(char c)
{
	int i = 0;

	while (!uart_absent && !(mmio_read8(ARM64_UART_BASE + REG_LSR) & LSR_THRE))
		if (++i == THRE_POLLS)
			uart_absent = 1;
	out(REG_DATA, (uint8_t)c);
}

void serial_puts(const char *s)
{
	for (; *s; s++)
		put_char(*s);
}

void serial_put_u64(uint64_t v)
{
	char buf[21];
	int i = sizeof(buf) - 1;

	buf[i] = '\0';
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	serial_puts(&buf[i]);
}

void serial_put_hex64(uint64_t v)
{
	char buf[19] = "0x";

	for (int i = 0; i < 16; i++)
		buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
	buf[18] = '\0';
	serial_puts(buf);
}
