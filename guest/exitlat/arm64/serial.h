/* serial.h: polled output on kvmini's 16550A at 0x09000000, the guest's only console. */
#ifndef EXITLAT_ARM64_SERIAL_H
#define EXITLAT_ARM64_SERIAL_H

#include <stdint.h>

/* serial_init: 115200 8N1, FIFOs on, no interrupts. */
void serial_init(void);
/* serial_puts: write the NUL-terminated (s) as it is ("\n" alone ends a line: hosts parse these lines). */
void serial_puts(const char *s);
/* serial_put_u64: write (v) in decimal. */
void serial_put_u64(uint64_t v);
/* serial_put_hex64: write (v) as 0x and sixteen hex digits. */
void serial_put_hex64(uint64_t v);

#endif
