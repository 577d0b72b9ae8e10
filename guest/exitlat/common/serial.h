/* serial.h: the guest's only console, a polled 16550A: each architecture's serial.c reaches its registers. */
#ifndef EXITLAT_SERIAL_H
#define EXITLAT_SERIAL_H

#include <stdint.h>

/* serial_reg_write: write (v) to the UART's register (reg) (the architecture's serial.c: x86 port I/O, arm64 MMIO). */
void serial_reg_write(unsigned int reg, uint8_t v);
/* serial_reg_read: the UART's register (reg) (the architecture's serial.c). */
uint8_t serial_reg_read(unsigned int reg);

/* serial_init: 115200 8N1, FIFOs on, no interrupts. */
void serial_init(void);
/* serial_putc: write (c) once the UART has room; without a UART, after one bounded wait, at once. */
void serial_putc(char c);
/* serial_puts: write the NUL-terminated (s) as it is ("\n" alone ends a line: hosts parse these lines). */
void serial_puts(const char *s);
/* serial_put_u64: write (v) in decimal. */
void serial_put_u64(uint64_t v);
/* serial_put_kv: write (key) and then (v) in decimal, e.g. " count=" 300. */
void serial_put_kv(const char *key, uint64_t v);
/* serial_put_hex: write (v) as 0x and its low (digits) hex digits, leading zeros kept (digits: 1 to 16). */
void serial_put_hex(uint64_t v, unsigned int digits);

#endif
