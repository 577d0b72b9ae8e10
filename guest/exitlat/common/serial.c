/* serial.c: the guest's console on a polled 16550A; serial_reg_read() and serial_reg_write() reach it. */
#include "serial.h"

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
 * Without a UART the register reads 0 or 0xff, and THRE might never show: poll a bounded number of
 * times, and after one such timeout stop polling, so that printing never hangs the run.
 */
#define THRE_POLLS 100000
static int uart_absent;

void serial_init(void)
{
	serial_reg_write(REG_IER, 0);
	serial_reg_write(REG_LCR, LCR_DLAB);
	serial_reg_write(REG_DATA, 1); /* 115200 baud at 1.8432 MHz */
	serial_reg_write(REG_IER, 0);
	serial_reg_write(REG_LCR, LCR_8N1);
	serial_reg_write(REG_FCR, FCR_ENABLE);
}

void serial_putc(char c)
{
	int i = 0;

	while (!uart_absent && !(serial_reg_read(REG_LSR) & LSR_THRE))
		if (++i == THRE_POLLS)
			uart_absent = 1;
	serial_reg_write(REG_DATA, (uint8_t)c);
}

void serial_puts(const char *s)
{
	for (; *s; s++)
		serial_putc(*s);
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

void serial_put_kv(const char *key, uint64_t v)
{
	serial_puts(key);
	serial_put_u64(v);
}

void serial_put_hex(uint64_t v, unsigned int digits)
{
	char buf[19] = "0x";

	if (digits < 1 || digits > 16)
		digits = 16;
	for (unsigned int i = 0; i < digits; i++)
		buf[2 + i] = "0123456789abcdef"[(v >> (4 * (digits - 1 - i))) & 0xf];
	buf[2 + digits] = '\0';
	serial_puts(buf);
}
