/* test_serial8250.c: the 16550A's registers, FIFO, interrupts and output, through its dev ops. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "serial8250.h"

static struct serial8250 s;
static int out_pipe[2];
static int irq_fd, room_fd;

static void setup(void)
{
	cr_assert_eq(pipe2(out_pipe, O_CLOEXEC), 0);
	cr_assert_eq(fcntl(out_pipe[0], F_SETFL, O_NONBLOCK), 0);
	irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cr_assert_geq(irq_fd, 0);
	cr_assert_geq(room_fd, 0);
	cr_assert_eq(serial8250_init(&s, out_pipe[1], irq_fd, room_fd), 0);
}

static void teardown(void)
{
	serial8250_destroy(&s);
	close(out_pipe[0]);
	if (out_pipe[1] >= 0)
		close(out_pipe[1]);
	close(irq_fd);
	close(room_fd);
}

TestSuite(serial8250, .init = setup, .fini = teardown);

static void wr(uint64_t off, uint8_t v)
{
	s.dev.ops->write(&s.dev, off, &v, 1);
}

static uint8_t rd(uint64_t off)
{
	uint8_t v = 0; /* the bus zero-fills before dispatch */

	s.dev.ops->read(&s.dev, off, &v, 1);
	return v;
}

/* Edges signalled on (fd) since the last call: the eventfd's counter, reset by reading. */
static uint64_t edges(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) < 0) {
		cr_assert_eq(errno, EAGAIN);
		return 0;
	}
	return n;
}

/* What the UART has written to the pipe so far. */
static ssize_t output(char *buf, size_t len)
{
	ssize_t n = read(out_pipe[0], buf, len);

	if (n < 0) {
		cr_assert_eq(errno, EAGAIN);
		return 0;
	}
	return n;
}

static size_t rx(const char *bytes)
{
	return serial8250_rx(&s, (const uint8_t *)bytes, strlen(bytes));
}

Test(serial8250, thr_write_reaches_the_pipe)
{
	char buf[8];

	wr(UART_RBR_THR, 'h');
	wr(UART_RBR_THR, 'i');
	cr_assert_eq(output(buf, sizeof(buf)), 2);
	cr_assert_eq(buf[0], 'h');
	cr_assert_eq(buf[1], 'i');
	cr_assert_eq(s.tx_bytes, 2);
}

Test(serial8250, lsr_shows_transmitter_empty_and_no_data)
{
	cr_assert_eq(rd(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	wr(UART_RBR_THR, 'x');
	cr_assert_eq(rd(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
}

Test(serial8250, reset_state_is_8n1_at_9600_baud)
{
	cr_assert_eq(rd(UART_LCR), 0x03);
	wr(UART_LCR, 0x83);
	cr_assert_eq(rd(UART_RBR_THR), 0x0c);
	cr_assert_eq(rd(UART_IER), 0x00);
}

Test(serial8250, dlab_selects_the_divisor_latch)
{
	char buf[4];

	wr(UART_LCR, 0x80 | 0x03);
	wr(UART_RBR_THR, 0x01); /* DLL: 115200 baud */
	wr(UART_IER, 0x02);	/* DLM */
	cr_assert_eq(rd(UART_RBR_THR), 0x01);
	cr_assert_eq(rd(UART_IER), 0x02);
	cr_assert_eq(output(buf, sizeof(buf)), 0, "a DLL write was transmitted");
	wr(UART_LCR, 0x03);
	cr_assert_eq(rd(UART_IER), 0x00, "a DLM write reached UART_IER");
	wr(UART_LCR, 0x83);
	cr_assert_eq(rd(UART_RBR_THR), 0x01, "DLL lost when DLAB was cleared");
}

Test(serial8250, scratch_register_keeps_what_was_written)
{
	wr(UART_SCR, 0x5a);
	cr_assert_eq(rd(UART_SCR), 0x5a);
	wr(UART_SCR, 0xa5);
	cr_assert_eq(rd(UART_SCR), 0xa5);
}

Test(serial8250, iir_without_fifo_and_interrupt_is_0x01)
{
	cr_assert_eq(rd(UART_IIR_FCR), UART_IIR_NO_INT);
}

Test(serial8250, fifo_enable_shows_0xc0_in_iir)
{
	wr(UART_IIR_FCR, 0x07);
	cr_assert_eq(rd(UART_IIR_FCR), 0xc0 | UART_IIR_NO_INT);
	wr(UART_IIR_FCR, 0x00);
	cr_assert_eq(rd(UART_IIR_FCR), UART_IIR_NO_INT);
}

Test(serial8250, msr_without_loopback_reports_carrier_dsr_and_cts)
{
	cr_assert_eq(rd(UART_MSR), 0xb0);
}

Test(serial8250, loopback_mcr_0x1a_gives_msr_0x90_as_linux_probes)
{
	wr(UART_MCR, 0x1a); /* LOOP | OUT2 | RTS */
	cr_assert_eq(rd(UART_MSR), 0x90);
	cr_assert_eq(rd(UART_MCR), 0x1a);
}

Test(serial8250, loopback_mcr_0x1f_gives_msr_0xf0)
{
	wr(UART_MCR, 0x1f);
	cr_assert_eq(rd(UART_MSR), 0xf0);
}

Test(serial8250, loopback_sends_tx_to_rx_not_to_the_pipe)
{
	char buf[4];

	wr(UART_MCR, UART_MCR_LOOP);
	wr(UART_RBR_THR, 'L');
	cr_assert_eq(output(buf, sizeof(buf)), 0);
	cr_assert(rd(UART_LSR) & UART_LSR_DR);
	cr_assert_eq(rd(UART_RBR_THR), 'L');
	cr_assert_not(rd(UART_LSR) & UART_LSR_DR);
}

Test(serial8250, rx_fills_at_most_the_16_byte_fifo)
{
	wr(UART_IER, UART_IER_RDI);
	cr_assert_eq(rx("0123456789abcdefXYZ"), 16);
	cr_assert_eq(rx("more"), 0);
}

Test(serial8250, rx_sets_lsr_dr)
{
	wr(UART_IER, UART_IER_RDI);
	cr_assert_eq(rx("a"), 1);
	cr_assert_eq(rd(UART_LSR), UART_LSR_DR | UART_LSR_THRE | UART_LSR_TEMT);
}

Test(serial8250, rx_shows_rdi_in_iir_when_ier_enables_it)
{
	wr(UART_IER, UART_IER_RDI);
	cr_assert_eq(rd(UART_IIR_FCR), UART_IIR_NO_INT);
	rx("a");
	cr_assert_eq(rd(UART_IIR_FCR), UART_IIR_RDI);
}

Test(serial8250, rx_takes_nothing_while_ier_disables_rdi)
{
	cr_assert_eq(rx("abc"), 0);
	cr_assert_not(rd(UART_LSR) & UART_LSR_DR);
}

Test(serial8250, enabling_rdi_after_a_refused_rx_writes_room_fd)
{
	cr_assert_eq(rx("abc"), 0);
	cr_assert_eq(edges(room_fd), 0);
	wr(UART_IER, UART_IER_RDI);
	cr_assert_eq(edges(room_fd), 1);
	cr_assert_eq(rx("abc"), 3);
}

Test(serial8250, enabling_rdi_without_a_refused_rx_does_not_write_room_fd)
{
	wr(UART_IER, UART_IER_RDI);
	cr_assert_eq(edges(room_fd), 0);
}

Test(serial8250, data_without_rdi_enabled_shows_no_interrupt_in_iir)
{
	wr(UART_MCR, UART_MCR_LOOP);
	wr(UART_RBR_THR, 'L');
	cr_assert(rd(UART_LSR) & UART_LSR_DR);
	cr_assert_eq(rd(UART_IIR_FCR), UART_IIR_NO_INT);
}

Test(serial8250, rdi_takes_priority_over_thri)
{
	wr(UART_IER, UART_IER_RDI | UART_IER_THRI);
	rx("a");
	cr_assert_eq(rd(UART_IIR_FCR), UART_IIR_RDI);
	rd(UART_RBR_THR);
	cr_assert_eq(rd(UART_IIR_FCR), UART_IIR_THRI, "THRI lost while RDI was shown");
}

Test(serial8250, reading_rbr_drains_the_fifo_in_order)
{
	const char *in = "0123456789abcdef";

	wr(UART_IER, UART_IER_RDI);
	cr_assert_eq(rx(in), 16);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(rd(UART_RBR_THR), (uint8_t)in[i], "byte %d", i);
	cr_assert_not(rd(UART_LSR) & UART_LSR_DR);
	cr_assert_eq(rd(UART_RBR_THR), 0, "an empty FIFO read as nonzero");
}

Test(serial8250, fifo_wraps_around_in_order)
{
	wr(UART_IER, UART_IER_RDI);
	rx("0123456789ab");
	for (int i = 0; i < 10; i++)
		rd(UART_RBR_THR);
	cr_assert_eq(rx("cdefghijklmnopqrs"), 14);
	cr_assert_eq(rd(UART_RBR_THR), 'a');
	cr_assert_eq(rd(UART_RBR_THR), 'b');
	for (char c = 'c'; c <= 'p'; c++)
		cr_assert_eq(rd(UART_RBR_THR), (uint8_t)c);
	cr_assert_not(rd(UART_LSR) & UART_LSR_DR);
}

Test(serial8250, irq_not_signalled_without_out2)
{
	wr(UART_IER, UART_IER_RDI);
	rx("a");
	cr_assert_eq(edges(irq_fd), 0);
}

Test(serial8250, irq_signalled_when_out2_is_set_with_an_interrupt_pending)
{
	wr(UART_IER, UART_IER_RDI);
	rx("a");
	wr(UART_MCR, UART_MCR_OUT2);
	cr_assert_eq(edges(irq_fd), 1);
}

Test(serial8250, irq_signalled_once_per_rising_edge)
{
	wr(UART_MCR, UART_MCR_OUT2);
	wr(UART_IER, UART_IER_RDI);
	cr_assert_eq(edges(irq_fd), 0);
	rx("a");
	cr_assert_eq(edges(irq_fd), 1);
	rx("b");
	cr_assert_eq(edges(irq_fd), 0, "no edge while the line stays high");
	rd(UART_RBR_THR);
	rd(UART_RBR_THR);
	cr_assert_eq(edges(irq_fd), 0, "the line falling is not an edge");
	rx("c");
	cr_assert_eq(edges(irq_fd), 1);
}

Test(serial8250, enabling_thri_raises_it_at_once)
{
	wr(UART_MCR, UART_MCR_OUT2);
	wr(UART_IER, UART_IER_THRI);
	cr_assert_eq(rd(UART_IIR_FCR), UART_IIR_THRI);
	cr_assert_eq(edges(irq_fd), 1);
}

Test(serial8250, reading_iir_acknowledges_thri)
{
	wr(UART_IER, UART_IER_THRI);
	cr_assert_eq(rd(UART_IIR_FCR), UART_IIR_THRI);
	cr_assert_eq(rd(UART_IIR_FCR), UART_IIR_NO_INT);
}

Test(serial8250, thr_write_raises_thri_again)
{
	wr(UART_MCR, UART_MCR_OUT2);
	wr(UART_IER, UART_IER_THRI);
	rd(UART_IIR_FCR);
	edges(irq_fd);
	wr(UART_RBR_THR, 'x');
	cr_assert_eq(edges(irq_fd), 1);
	cr_assert_eq(rd(UART_IIR_FCR), UART_IIR_THRI);
}

Test(serial8250, thri_not_shown_when_ier_disables_it)
{
	wr(UART_RBR_THR, 'x');
	cr_assert_eq(rd(UART_IIR_FCR), UART_IIR_NO_INT);
}

Test(serial8250, room_fd_written_after_a_short_rx_once_the_guest_reads)
{
	wr(UART_IER, UART_IER_RDI);
	cr_assert_eq(rx("0123456789abcdefXYZ"), 16);
	cr_assert_eq(edges(room_fd), 0, "room signalled before the guest read anything");
	rd(UART_RBR_THR);
	cr_assert_eq(edges(room_fd), 1);
	rd(UART_RBR_THR);
	cr_assert_eq(edges(room_fd), 0, "room signalled twice for one short rx");
}

Test(serial8250, room_fd_not_written_when_rx_took_everything)
{
	wr(UART_IER, UART_IER_RDI);
	cr_assert_eq(rx("abc"), 3);
	rd(UART_RBR_THR);
	cr_assert_eq(edges(room_fd), 0);
}

/*
 * Regression: a reset after serial8250_rx() fell short must write room_fd, or the console loop (which
 * then waits only on room_fd) would stop passing input for good.
 */
Test(serial8250, reset_after_a_short_rx_writes_room_fd)
{
	wr(UART_IER, UART_IER_RDI);
	cr_assert_eq(rx("0123456789abcdefXYZ"), 16);
	cr_assert_eq(rd(UART_RBR_THR), '0');
	cr_assert_eq(edges(room_fd), 1);
	cr_assert_eq(rx("XYZ"), 1); /* short again: the console waits for room */
	s.dev.ops->reset(&s.dev);
	cr_assert_not(rd(UART_LSR) & UART_LSR_DR);
	cr_assert_eq(edges(room_fd), 1, "the console waits for room that is never signalled");
}

Test(serial8250, closed_pipe_does_not_crash_and_later_output_is_dropped)
{
	int fresh[2];
	char buf[4];

	signal(SIGPIPE, SIG_IGN);
	close(out_pipe[0]);
	wr(UART_RBR_THR, 'a'); /* EPIPE */
	cr_assert(s.out_broken);
	cr_assert_eq(rd(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);

	/* Put a working pipe behind the same descriptor: the UART must not write to it any more. */
	cr_assert_eq(pipe2(fresh, O_CLOEXEC | O_NONBLOCK), 0);
	cr_assert_eq(dup2(fresh[1], out_pipe[1]), out_pipe[1]);
	close(fresh[1]);
	out_pipe[0] = fresh[0];
	wr(UART_RBR_THR, 'b');
	cr_assert_eq(output(buf, sizeof(buf)), 0, "output was written after the line broke");
	cr_assert_eq(s.tx_bytes, 2, "dropped bytes still count as transmitted");
}

Test(serial8250, unit_test_mode_without_eventfds_works)
{
	struct serial8250 q;
	uint8_t v = UART_IER_RDI | UART_IER_THRI;
	uint8_t c = 0;

	cr_assert_eq(serial8250_init(&q, -1, -1, -1), 0);
	q.dev.ops->write(&q.dev, UART_MCR, &(uint8_t){ UART_MCR_OUT2 }, 1);
	q.dev.ops->write(&q.dev, UART_IER, &v, 1);
	q.dev.ops->write(&q.dev, UART_RBR_THR, &v, 1);
	cr_assert_eq(serial8250_rx(&q, (const uint8_t *)"0123456789abcdefg", 17), 16);
	q.dev.ops->read(&q.dev, UART_RBR_THR, &c, 1);
	cr_assert_eq(c, '0');
	serial8250_destroy(&q);
}

Test(serial8250, reset_op_returns_to_the_reset_state)
{
	wr(UART_LCR, 0x1b);
	wr(UART_SCR, 0x77);
	wr(UART_IER, UART_IER_RDI);
	rx("abc");
	s.dev.ops->reset(&s.dev);
	cr_assert_eq(rd(UART_LCR), 0x03);
	cr_assert_eq(rd(UART_SCR), 0x00);
	cr_assert_eq(rd(UART_IER), 0x00);
	cr_assert_eq(rd(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
}

Test(serial8250, input_is_kept_through_fifo_clears)
{
	wr(UART_IER, UART_IER_RDI); /* as Linux's probe does, for a moment */
	cr_assert_eq(rx("hi!"), 3);
	wr(UART_IIR_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX); /* the port's start-up */
	cr_assert(rd(UART_LSR) & UART_LSR_DR, "held console input was dropped by the start-up's FIFO clear");
	cr_assert_eq(rd(UART_RBR_THR), 'h'); /* start-up reads the receive register... */
	wr(UART_IIR_FCR, 0x07);		     /* ...then starts again */
	cr_assert_eq(rd(UART_RBR_THR), 'i', "console input was dropped by a second FIFO clear");
	cr_assert_eq(rd(UART_RBR_THR), '!');
	cr_assert_not(rd(UART_LSR) & UART_LSR_DR);
}

Test(serial8250, input_waits_while_the_receive_interrupt_is_off)
{
	wr(UART_IER, UART_IER_RDI);
	cr_assert_eq(rx("ok"), 2);
	wr(UART_IER, 0); /* the port shut down, or starting again: Linux reads the register to discard */
	cr_assert_not(rd(UART_LSR) & UART_LSR_DR, "input shown to a driver that does not listen");
	cr_assert_eq(rd(UART_RBR_THR), 0);
	wr(UART_IER, UART_IER_RDI);
	cr_assert(rd(UART_LSR) & UART_LSR_DR);
	cr_assert_eq(rd(UART_RBR_THR), 'o', "input was lost to a read with the receive interrupt off");
	cr_assert_eq(rd(UART_RBR_THR), 'k');
}
