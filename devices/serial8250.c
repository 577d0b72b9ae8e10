/* serial8250.c: a 16550A-compatible UART whose line is a pair of file descriptors. */
#include "serial8250.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("serial: eventfd write failed: %s", strerror(errno));
}

static uint8_t iir(const struct serial8250 *s)
{
	uint8_t fifo = (s->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO_ON : 0;

	if ((s->ier & UART_IER_RDI) && s->rx_count)
		return fifo | UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thri_pending)
		return fifo | UART_IIR_THRI;
	return fifo | UART_IIR_NO_INT;
}

/* The line follows the pending state; an edge-triggered IOAPIC pin sees each rising edge. */
static void update_irq(struct serial8250 *s)
{
	bool line = !(iir(s) & UART_IIR_NO_INT) && (s->mcr & UART_MCR_OUT2);

	if (line && !s->irq_line)
		signal_fd(s->irq_fd);
	s->irq_line = line;
}

static void rx_push(struct serial8250 *s, uint8_t c)
{
	s->rx[(s->rx_head + s->rx_count) % SERIAL8250_FIFO] = c;
	s->rx_count++;
	s->rx_bytes++;
}

static void transmit(struct serial8250 *s, uint8_t c)
{
	if (s->mcr & UART_MCR_LOOP) {
		if (s->rx_count < SERIAL8250_FIFO)
			rx_push(s, c);
		return;
	}
	s->tx_bytes++;
	if (s->out_broken || s->out_fd < 0)
		return;
	for (;;) {
		ssize_t n = write(s->out_fd, &c, 1);

		if (n == 1)
			return;
		if (n < 0 && errno == EINTR)
			continue;
		s->out_broken = true;
		log_warn("serial: console output failed (%s): further guest output is dropped",
			 n < 0 ? strerror(errno) : "short write");
		return;
	}
}

/* The FIFO has room again: wake the console thread if it waits for that. */
static void room_freed(struct serial8250 *s)
{
	if (s->want_room) {
		s->want_room = false;
		signal_fd(s->room_fd);
	}
}

static void rx_clear(struct serial8250 *s)
{
	s->rx_head = s->rx_count = 0;
	room_freed(s);
}

static uint8_t rx_pop(struct serial8250 *s)
{
	uint8_t c;

	if (!s->rx_count)
		return 0;
	c = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL8250_FIFO;
	s->rx_count--;
	room_freed(s);
	return c;
}

static uint8_t msr(const struct serial8250 *s)
{
	uint8_t v = 0;

	if (!(s->mcr & UART_MCR_LOOP))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	/* Loopback wires the modem outputs back to the inputs; Linux probes the UART by this. */
	if (s->mcr & UART_MCR_RTS)
		v |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_DTR)
		v |= UART_MSR_DSR;
	if (s->mcr & UART_MCR_OUT1)
		v |= UART_MSR_RI;
	if (s->mcr & UART_MCR_OUT2)
		v |= UART_MSR_DCD;
	return v;
}

/*
 * Whether the guest sees what the receive FIFO holds: console input is for a driver that listens (the
 * receive interrupt on). Linux reads the receive register to discard whatever is there each time it
 * starts the port, with the interrupt off; held input then stays, unseen. In loopback the FIFO holds
 * the guest's own bytes: always seen.
 */
static bool rx_shown(const struct serial8250 *s)
{
	return (s->ier & UART_IER_RDI) || (s->mcr & UART_MCR_LOOP);
}

static uint8_t reg_read(struct serial8250 *s, uint64_t off)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	uint8_t v;

	switch (off) {
	case UART_RBR_THR:
		return dlab ? s->dll : rx_shown(s) ? rx_pop(s) : 0;
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR_FCR:
		v = iir(s);
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if ((v & 0x0f) == UART_IIR_THRI)
			s->thri_pending = false;
		return v;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		/* Transmission is instantaneous: the transmitter is always empty. */
		return UART_LSR_THRE | UART_LSR_TEMT | (rx_shown(s) && s->rx_count ? UART_LSR_DR : 0);
	case UART_MSR:
		return msr(s);
	default:
		return s->scr;
	}
}

static void reg_write(struct serial8250 *s, uint64_t off, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (off) {
	case UART_RBR_THR:
		if (dlab) {
			s->dll = v;
			return;
		}
		transmit(s, v);
		s->thri_pending = true;
		return;
	case UART_IER:
		if (dlab) {
			s->dlm = v;
			return;
		}
		/* Enabling THRI while the transmitter is empty raises it at once (16550A). */
		if ((v & UART_IER_THRI) && !(s->ier & UART_IER_THRI))
			s->thri_pending = true;
		/* A driver now listening: let held-back console input in. */
		if ((v & UART_IER_RDI) && !(s->ier & UART_IER_RDI))
			room_freed(s);
		s->ier = v & 0x0f;
		return;
	case UART_IIR_FCR:
		s->fcr = v & (UART_FCR_ENABLE | 0xc0);
		/*
		 * A clear of the receive FIFO keeps what is in it. On a wire it drops line noise; here the
		 * FIFO only ever holds what the user typed or piped in, and Linux clears it each time the
		 * port starts (the first open, and again after every last close), reading a byte here and
		 * there in between: no rule about the guest's reads tells a start-up from a wish to discard.
		 */
		return;
	case UART_LCR:
		s->lcr = v;
		return;
	case UART_MCR:
		s->mcr = v & 0x1f;
		return;
	case UART_SCR:
		s->scr = v;
		return;
	default:
		return; /* UART_LSR and UART_MSR are read-only */
	}
}

static void serial_read(struct dev *d, uint64_t off, void *data, uint32_t len)
{
	struct serial8250 *s = container_of(d, struct serial8250, dev);
	uint8_t *p = data;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < len && off + i < SERIAL8250_REGS; i++)
		p[i] = reg_read(s, off + i);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_write(struct dev *d, uint64_t off, const void *data, uint32_t len)
{
	struct serial8250 *s = container_of(d, struct serial8250, dev);
	const uint8_t *p = data;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < len && off + i < SERIAL8250_REGS; i++)
		reg_write(s, off + i, p[i]);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void reset_locked(struct serial8250 *s)
{
	s->ier = s->fcr = s->mcr = s->scr = 0;
	s->lcr = 0x03; /* 8N1 */
	s->dll = 0x0c; /* 9600 baud, as a PC BIOS leaves it */
	s->dlm = 0;
	s->thri_pending = false;
	s->irq_line = false;
	rx_clear(s);
}

static void serial_reset(struct dev *d)
{
	struct serial8250 *s = container_of(d, struct serial8250, dev);

	pthread_mutex_lock(&s->lock);
	reset_locked(s);
	pthread_mutex_unlock(&s->lock);
}

static const struct dev_ops serial8250_ops = {
	.name = "serial8250",
	.read = serial_read,
	.write = serial_write,
	.reset = serial_reset,
};

int serial8250_init(struct serial8250 *s, int out_fd, int irq_fd, int room_fd)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->dev.ops = &serial8250_ops;
	s->out_fd = out_fd;
	s->irq_fd = irq_fd;
	s->room_fd = room_fd;
	ret = pthread_mutex_init(&s->lock, NULL);
	if (ret)
		return -ret;
	reset_locked(s);
	return 0;
}

void serial8250_destroy(struct serial8250 *s)
{
	pthread_mutex_destroy(&s->lock);
}

bool serial8250_listening(struct serial8250 *s)
{
	bool on;

	pthread_mutex_lock(&s->lock);
	on = s->ier & UART_IER_RDI;
	pthread_mutex_unlock(&s->lock);
	return on;
}

size_t serial8250_rx(struct serial8250 *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	/*
	 * Input waits until the guest's driver enables the receive interrupt: before that, Linux
	 * clears the FIFO as it starts the port, and what was typed would be lost.
	 */
	while ((s->ier & UART_IER_RDI) && n < len && s->rx_count < SERIAL8250_FIFO)
		rx_push(s, buf[n++]);
	if (n < len)
		s->want_room = true;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}
