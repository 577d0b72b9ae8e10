/* serial.c: COM1's registers by port I/O: how the guest's console (common/serial.c) reaches its 16550A. */
#include "serial.h"
#include "cpu.h"

#define COM1 0x3f8

void serial_reg_write(unsigned int reg, uint8_t v)
{
	outb((uint16_t)(COM1 + reg), v);
}

uint8_t serial_reg_read(unsigned int reg)
{
	return inb((uint16_t)(COM1 + reg));
}
