/* serial8250.h: a 16550A-compatible UART whose line is a pair of file descriptors. */
#ifndef KVMINI_SERIAL8250_H
#define KVMINI_SERIAL8250_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev.h"

/* The 16550A's registers (offsets from the base port) and bits, as drivers and tests name them. */
#define UART_RBR_THR 0
#define UART_IER     1 /* DLM with DLAB */
#define UART_IIR_FCR 2
#define UART_LCR     3
#define UART_MCR     4
#define UART_LSR     5
#define UART_MSR     6
#define UART_SCR     7

#define UART_IER_RDI	  0x01
#define UART_IER_THRI	  0x02
#define UART_IIR_NO_INT	  0x01
#define UART_IIR_THRI	  0x02
#define UART_IIR_RDI	  0x04
#define UART_IIR_FIFO_ON  0xc0
#define UART_FCR_ENABLE	  0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_LCR_DLAB	  0x80
#define UART_LSR_DR	  0x01
#define UART_LSR_THRE	  0x20
#define UART_LSR_TEMT	  0x40
#define UART_MCR_DTR	  0x01
#define UART_MCR_RTS	  0x02
#define UART_MCR_OUT1	  0x04
#define UART_MCR_OUT2	  0x08 /* gates the interrupt onto the bus, as on a PC */
#define UART_MCR_LOOP	  0x10
#define UART_MSR_CTS	  0x10
#define UART_MSR_DSR	  0x20
#define UART_MSR_RI	  0x40
#define UART_MSR_DCD	  0x80

#define SERIAL8250_FIFO 16
#define SERIAL8250_REGS 8 /* I/O ports the UART decodes */

struct serial8250 {
	struct dev dev;
	int out_fd;  /* transmitted bytes go here, blocking: a slow reader slows the guest */
	int irq_fd;  /* eventfd bound to the UART's IRQ by KVM_IRQFD: a write is an edge */
	int room_fd; /* eventfd written when RX space frees after serial8250_rx() fell short */

	pthread_mutex_t lock; /* guards every field below; vCPU threads and the console thread */
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thri_pending; /* a THR-empty interrupt is owed to the guest */
	bool irq_line;	   /* the level last signalled, to send edges only */
	bool want_room;	   /* the console thread waits for RX space */
	bool out_broken;   /* out_fd failed; output is dropped (logged once) */
	uint8_t rx[SERIAL8250_FIFO];
	unsigned int rx_head, rx_count;
	uint64_t tx_bytes, rx_bytes;
};

/*
 * serial8250_init: a UART in its reset state, sending to (out_fd), signalling its interrupt on
 * (irq_fd) and RX room on (room_fd); either eventfd may be -1 (unit tests). Returns 0 or -errno.
 */
int serial8250_init(struct serial8250 *s, int out_fd, int irq_fd, int room_fd);
/* serial8250_destroy: release (s)'s lock; the descriptors belong to the caller. */
void serial8250_destroy(struct serial8250 *s);
/*
 * serial8250_rx: receive up to (len) bytes of (buf) on the line. Returns how many fit in the RX
 * FIFO, none while the guest has the receive interrupt disabled; when that is fewer than (len),
 * room_fd is written once the guest has read some or enabled the interrupt.
 */
size_t serial8250_rx(struct serial8250 *s, const uint8_t *buf, size_t len);
/* serial8250_listening: whether the guest's driver has the receive interrupt on (a program opened the port). */
bool serial8250_listening(struct serial8250 *s);

#endif
