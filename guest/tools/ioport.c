/* ioport.c: read or write one x86 I/O port from a test guest's shell (ioport outb 0xf4 1). */
#define _DEFAULT_SOURCE /* pread, pwrite, sigsetjmp */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <unistd.h>

/*
 * Two ways to reach a port.  Byte accesses go through /dev/port first: the
 * kernel does them, so no I/O permission bitmap is consulted.  That matters
 * under QEMU's TCG with nested SVM (scripts/kvm-env without /dev/kvm), where
 * a user-mode in/out raises #GP despite ioperm() (TCG accepts only an
 * available TSS, type 9, in the check, and a VMM's guest has a busy one).
 * Word and long accesses, which /dev/port would split into bytes, use
 * ioperm() and in/out here, and a #GP is reported rather than crashing.
 */

#define EXIT_USAGE  2
#define EXIT_FAILED 1
#define PORT_MAX    0xffffUL

/* Where on_fault() resumes: a signal handler has no other way to reach main's frame. */
static sigjmp_buf fault_jmp;

enum dir {
	DIR_IN,
	DIR_OUT
};

struct op {
	enum dir dir;
	unsigned int bytes; /* 1, 2 or 4 */
	unsigned long port;
	unsigned long value; /* DIR_OUT only */
	unsigned long count; /* DIR_OUT: writes, one after the other (a known number of VM exits) */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ioport outb|outw|outl PORT VALUE [COUNT]\n"
		   "       ioport inb|inw|inl PORT\n"
		   "PORT and VALUE are C numbers (123, 0x7b, 0173); in* prints the value read in hex;\n"
		   "COUNT writes the value that many times (default 1).\n");
}

/* parse_op_name: "outb" etc. into (o)->dir and (o)->bytes. Returns 0 or -EINVAL. */
static int parse_op_name(const char *name, struct op *o)
{
	size_t len = strlen(name);
	char w;

	if (len == 3 && strncmp(name, "in", 2) == 0)
		o->dir = DIR_IN;
	else if (len == 4 && strncmp(name, "out", 3) == 0)
		o->dir = DIR_OUT;
	else
		return -EINVAL;
	w = name[len - 1];
	o->bytes = w == 'b' ? 1 : w == 'w' ? 2 : w == 'l' ? 4 : 0;
	return o->bytes ? 0 : -EINVAL;
}

/* parse_num: the whole of (s) as a number in [0, max] into (*out). Returns 0 or -EINVAL. */
static int parse_num(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s == '\0' || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* parse_args: the command line into (o). Returns 0, or -EINVAL after saying what is wrong. */
static int parse_args(int argc, char **argv, struct op *o)
{
	unsigned long max_value;

	if (argc < 2 || parse_op_name(argv[1], o)) {
		fprintf(stderr, "ioport: want inb, inw, inl, outb, outw or outl\n");
		return -EINVAL;
	}
	o->count = 1;
	if (o->dir == DIR_OUT ? argc != 4 && argc != 5 : argc != 3) {
		fprintf(stderr, "ioport: %s takes %s\n", argv[1],
			o->dir == DIR_OUT ? "PORT VALUE [COUNT]" : "PORT");
		return -EINVAL;
	}
	if (argc == 5 && (parse_num(argv[4], 100000000UL, &o->count) || !o->count)) {
		fprintf(stderr, "ioport: bad count '%s' (1 to 100000000)\n", argv[4]);
		return -EINVAL;
	}
	if (parse_num(argv[2], PORT_MAX + 1 - o->bytes, &o->port)) {
		fprintf(stderr, "ioport: bad port '%s' for %s (0 to 0x%lx)\n", argv[2], argv[1],
			PORT_MAX + 1 - o->bytes);
		return -EINVAL;
	}
	max_value = o->bytes == 4 ? 0xffffffffUL : (1UL << (8 * o->bytes)) - 1;
	if (o->dir == DIR_OUT && parse_num(argv[3], max_value, &o->value)) {
		fprintf(stderr, "ioport: bad value '%s' for %s (0 to 0x%lx)\n", argv[3], argv[1], max_value);
		return -EINVAL;
	}
	return 0;
}

/* devport: do the byte access (o) through /dev/port into (*val). Returns 0 or -errno. */
static int devport(const struct op *o, unsigned long *val)
{
	unsigned char b = (unsigned char)o->value;
	ssize_t n;
	int fd;

	fd = open("/dev/port", o->dir == DIR_OUT ? O_WRONLY : O_RDONLY);
	if (fd < 0)
		return -errno;
	if (o->dir == DIR_OUT)
		n = pwrite(fd, &b, 1, (off_t)o->port);
	else
		n = pread(fd, &b, 1, (off_t)o->port);
	if (n != 1) {
		int err = n < 0 ? errno : EIO;

		close(fd);
		return -err;
	}
	close(fd);
	*val = b;
	return 0;
}

/* grant: let this process use ports [port, port + bytes). Returns 0 or -errno. */
static int grant(unsigned long port, unsigned int bytes)
{
	/* ioperm() covers all 65536 ports since Linux 2.6.8; iopl() for older or odd kernels. */
	if (ioperm(port, bytes, 1) == 0 || iopl(3) == 0)
		return 0;
	return -errno;
}

static void on_fault(int sig)
{
	siglongjmp(fault_jmp, sig);
}

/* port_io: do the access (o) with in/out instructions into (*val). Returns 0, or -EFAULT on #GP. */
static int port_io(const struct op *o, unsigned long *val)
{
	unsigned short p = (unsigned short)o->port;
	struct sigaction sa = { .sa_handler = on_fault };

	sigaction(SIGSEGV, &sa, NULL);
	if (sigsetjmp(fault_jmp, 1))
		return -EFAULT;
	if (o->dir == DIR_IN)
		*val = o->bytes == 1 ? inb(p) : o->bytes == 2 ? inw(p) : inl(p);
	else if (o->bytes == 1)
		outb((unsigned char)o->value, p);
	else if (o->bytes == 2)
		outw((unsigned short)o->value, p);
	else
		outl((unsigned int)o->value, p);
	return 0;
}

/* run: the access (o), by /dev/port or ioperm, into (*val). Returns 0, or -errno after saying why. */
static int run(const struct op *o, unsigned long *val)
{
	int ret;

	if (o->bytes == 1 && devport(o, val) == 0)
		return 0;
	ret = grant(o->port, o->bytes);
	if (ret) {
		fprintf(stderr, "ioport: no access to port 0x%lx: %s%s\n", o->port, strerror(-ret),
			ret == -EPERM ? " (needs root: CAP_SYS_RAWIO)" : "");
		return ret;
	}
	ret = port_io(o, val);
	if (ret) {
		fprintf(stderr,
			"ioport: the CPU refused access to port 0x%lx (#GP) despite ioperm(); "
			"QEMU TCG with nested SVM does this to user-mode in/out\n",
			o->port);
		return ret;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct op o;
	unsigned long val = 0;
	int ret;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (parse_args(argc, argv, &o)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (unsigned long i = 0; i < o.count; i++) {
		ret = run(&o, &val);
		if (ret)
			return EXIT_FAILED;
	}
	if (o.dir == DIR_IN)
		printf("0x%0*lx\n", (int)(2 * o.bytes), val);
	return 0;
}
