/* uart.h: the console's UART on arm64: kvmini's 16550A, or QEMU virt's PL011 behind the 16550A's registers. */
#ifndef EXITLAT_ARM64_UART_H
#define EXITLAT_ARM64_UART_H

#include <stdint.h>

/*
 * uart_select: drive the UART at (base): a PL011 when (pl011) is set (and enable its transmitter),
 * else a 16550A (the default, at kvmini's ARM64_UART_BASE). Before serial_init().
 */
void uart_select(uint64_t base, int pl011);

#endif
