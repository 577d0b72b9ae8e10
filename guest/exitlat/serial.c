/* serial.c: polled output on COM1, the guest's only console. */
#include "serial.h"
#include "cpu.h"

#define COM1	   0x3f8
#define REG_DATA   0 /* with LCR.DLAB set: divisor low byte */
#define REG_IER	   1 /* with LCR.DLAB set: divisor high byte */
#define REG_FCR	   2
#define REG_LCR	   3
#define REG_LSR	   5
#define LCR_8N1	   0x03
#define LCR_DLAB   0x80
#define LSR_THRE   0x20
#define FCR_ENABLE 0x07 /* enable and clear both FIFOs */

/*
 * Without a UART the port reads 0 or 0xff, and THRE might never show: poll a bounded number of
 * times, and after one such timeout stop polling, so that printing never hangs the run.
 */
#define THRE_POLLS 100000
static int uart_absent;

void serial_init(void)
{
	outb(COM1 + REG_IER, 0);
	outb(COM1 + REG_LCR, LCR_DLAB);
	outb(COM1 + REG_DATA, 1); /* 115200 baud */
	outb(COM1 + REG_IER, 0);
	outb(COM1 + REG_LCR, LCR_8N1);
	outb(COM1 + REG_FCR, FCR_ENABLE);
}

static void put_char(char c)
{
	int i = 0;

	while (!uart_absent && !(inb(COM1 + REG_LSR) & LSR_THRE))
		if (++i == THRE_POLLS)
			uart_absent = 1;
	outb(COM1 + REG_DATA, (uint8_t)c);
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

void serial_put_hex32(uint32_t v)
{
	char buf[11] = "0x";

	for (int i = 0; i < 8; i++)
		buf[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xf];
	buf[10] = '\0';
	serial_puts(buf);
}
