/* serial.c: the registers of kvmini's 16550A at 0x09000000 by MMIO: how the guest's console (common/serial.c) reaches it. */
#include "serial.h"
#include "cpu.h"
#include "dtb.h"

void serial_reg_write(unsigned int reg, uint8_t v)
{
	mmio_write8(ARM64_UART_BASE + reg, v);
}

uint8_t serial_reg_read(unsigned int reg)
{
	return mmio_read8(ARM64_UART_BASE + reg);
}
