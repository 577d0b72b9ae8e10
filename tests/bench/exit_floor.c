/* exit_floor.c: the least a userspace PIO or MMIO exit can cost: raw KVM, no irqchip, no dispatch. */
/*
 * The peer that "kvmini bench exits" is measured against. One VM, one vCPU, no devices. On x86 the
 * guest is 32-bit protected-mode code (flat segments, no paging, interrupts off) written below as
 * bytes; on arm64 it is A64 code at EL1 (MMU off, interrupts masked) written below as words. It
 * times each exit with the timing pair of guest/exitlat (x86: its cpu.h; arm64: arm64/cpu.h), stores
 * the 64-bit delta, and after N exits halts (x86: HLT) or powers off (arm64: PSCI SYSTEM_OFF). The
 * host loop only checks that the exit is the one expected and re-enters: whatever kvmini costs above
 * this is its own exit handling.
 *
 *   exit-floor [--iterations N]      (N exits per row, default 10000)
 *
 * Prints `floor: row=<name> status=ok count=N min=A p50=B p99=C max=D` per row, in the guest's
 * format (x86: TSC cycles; arm64: counter ticks), then `floor: done`. Exit status 0, or 1 with a line on stderr saying why.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "abi.h"
#include "stats.h"

#define DEFAULT_ITERATIONS 10000u
#define MAX_ITERATIONS	   (1u << 24) /* 128 MiB of samples: below 4 GiB and the MMIO target */
#define PAGE_SIZE	   4096u
/* Guest RAM: the code's page, then the samples. x86: from 0; arm64: from kvmini's RAM base. */
#if defined(__x86_64__)
#define RAM_GPA 0x0u
#elif defined(__aarch64__)
#define RAM_GPA 0x40000000u
#else
#error "exit-floor runs on x86-64 and arm64 hosts"
#endif
#define CODE_OFF    0x0u
#define SAMPLES_OFF 0x1000u
#define SAMPLES_GPA (RAM_GPA + SAMPLES_OFF)

struct floor {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	uint8_t *ram;
	size_t ram_size;
	uint32_t iterations;
	int have_rdtscp;
};

static int fail(const char *what)
{
	int err = errno;

	fprintf(stderr, "exit-floor: %s: %s\n", what, strerror(err));
	return -err;
}

static uint8_t *emit(uint8_t *p, const void *bytes, size_t len)
{
	memcpy(p, bytes, len);
	return p + len;
}

#if defined(__x86_64__)
#define CPUID_EXT_RDTSCP (1u << 27) /* CPUID 0x80000001 EDX */
#define END_EXIT	 KVM_EXIT_HLT

/*
 * The timing pair is guest/exitlat/cpu.h's tsc_begin() and tsc_end(): `lfence; rdtsc; lfence` before,
 * `rdtscp; lfence` after (`lfence; rdtsc; lfence` where the CPU has no RDTSCP). EDX is loaded with
 * the target (port or address) after t0 is saved, since rdtsc overwrote it.
 */
static const uint8_t code_begin[] = {
	0x0f, 0xae, 0xe8, /* loop: lfence */
	0x0f, 0x31,	  /* rdtsc */
	0x0f, 0xae, 0xe8, /* lfence */
	0x89, 0xc6,	  /* mov esi, eax        t0 low */
	0x89, 0xd5,	  /* mov ebp, edx        t0 high */
	0xba,		  /* mov edx, imm32      the target follows */
};

static const uint8_t exit_pio_out[] = { 0xef };		 /* out dx, eax */
static const uint8_t exit_mmio_write[] = { 0x89, 0x02 }; /* mov [edx], eax */

static const uint8_t end_rdtscp[] = {
	0x0f, 0x01, 0xf9, /* rdtscp */
	0x0f, 0xae, 0xe8, /* lfence */
};
static const uint8_t end_rdtsc[] = {
	0x0f, 0xae, 0xe8, /* lfence */
	0x0f, 0x31,	  /* rdtsc */
	0x0f, 0xae, 0xe8, /* lfence */
};

static const uint8_t code_store[] = {
	0x29, 0xf0,	  /* sub eax, esi */
	0x19, 0xea,	  /* sbb edx, ebp */
	0x89, 0x07,	  /* mov [edi], eax */
	0x89, 0x57, 0x04, /* mov [edi + 4], edx */
	0x83, 0xc7, 0x08, /* add edi, 8 */
	0x39, 0xdf,	  /* cmp edi, ebx        ebx = end of the samples */
	0x72,		  /* jb loop             the displacement follows */
};

struct row {
	const char *name;
	uint32_t target;
	const uint8_t *exit_insn;
	size_t exit_len;
	uint32_t exit_reason; /* what KVM_RUN returns for each timed exit */
};

static const struct row rows[] = {
	{ "pio_user_out", EXITLAT_PORT_USER, exit_pio_out, sizeof(exit_pio_out), KVM_EXIT_IO },
	{ "mmio_user_write", EXITLAT_MMIO_USER, exit_mmio_write, sizeof(exit_mmio_write), KVM_EXIT_MMIO },
};

/* Gives the vCPU what KVM supports, and notes whether that includes RDTSCP (else it would fault). */
static int setup_cpuid(struct floor *f)
{
	unsigned int nent = 256;
	struct kvm_cpuid2 *c = NULL;
	int ret = 0;

	for (;;) {
		free(c);
		c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			return fail("allocating the CPUID table");
		c->nent = nent;
		if (ioctl(f->kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		if (errno != E2BIG || nent >= 4096) {
			ret = fail("KVM_GET_SUPPORTED_CPUID");
			goto out;
		}
		nent *= 2;
	}
	for (unsigned int i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0x80000001u && (c->entries[i].edx & CPUID_EXT_RDTSCP))
			f->have_rdtscp = 1;
	if (ioctl(f->vcpu, KVM_SET_CPUID2, c) < 0)
		ret = fail("KVM_SET_CPUID2");
out:
	free(c);
	return ret;
}

/* Flat 4 GiB segments, CR0.PE only: the cached descriptors are all KVM needs, no GDT in memory. */
static int setup_sregs(struct floor *f)
{
	struct kvm_sregs s;
	const struct kvm_segment code = { .base = 0,
					  .limit = 0xffffffffu,
					  .selector = 0x8,
					  .type = 0xb,
					  .present = 1,
					  .db = 1,
					  .s = 1,
					  .g = 1 };
	struct kvm_segment data = code;

	if (ioctl(f->vcpu, KVM_GET_SREGS, &s) < 0)
		return fail("KVM_GET_SREGS");
	data.selector = 0x10;
	data.type = 0x3;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.cr0 = 0x11; /* PE, ET */
	s.cr4 = 0;
	s.efer = 0;
	if (ioctl(f->vcpu, KVM_SET_SREGS, &s) < 0)
		return fail("KVM_SET_SREGS");
	return 0;
}

static int setup_vcpu(struct floor *f)
{
	return setup_cpuid(f) || setup_sregs(f) ? -EIO : 0;
}

/* Writes the row's loop at the start of RAM and points the vCPU at it: EDI the first sample, EBX the end. */
static int load_row(struct floor *f, const struct row *r)
{
	uint8_t *const start = f->ram + CODE_OFF;
	uint8_t *p = start;
	int8_t disp;
	struct kvm_regs regs = { 0 };

	p = emit(p, code_begin, sizeof(code_begin));
	p = emit(p, &r->target, sizeof(r->target));
	p = emit(p, r->exit_insn, r->exit_len);
	if (f->have_rdtscp)
		p = emit(p, end_rdtscp, sizeof(end_rdtscp));
	else
		p = emit(p, end_rdtsc, sizeof(end_rdtsc));
	p = emit(p, code_store, sizeof(code_store));
	disp = (int8_t) - (p + 1 - start); /* jb back to the start, from the end of the jb */
	p = emit(p, &disp, 1);
	*p = 0xf4; /* hlt */
	memset(f->ram + SAMPLES_OFF, 0, (size_t)f->iterations * 8);
	regs.rip = RAM_GPA + CODE_OFF;
	regs.rflags = 0x2;
	regs.rdi = SAMPLES_GPA;
	regs.rbx = SAMPLES_GPA + (uint64_t)f->iterations * 8;
	if (ioctl(f->vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");
	return 0;
}

#elif defined(__aarch64__)
#define END_EXIT      KVM_EXIT_SYSTEM_EVENT /* PSCI SYSTEM_OFF */

/*
 * The timing pair is guest/exitlat/arm64/cpu.h's counter_begin() and counter_end(): `isb; mrs
 * cntvct_el0; isb` before, `isb; mrs cntvct_el0` after. x0 is the next sample, x1 the target, x4 the
 * end of the samples, w5 the value written.
 */
static const uint32_t code_mmio_write[] = {
	0xd5033fdf, /* loop: isb */
	0xd53be042, /* mrs x2, cntvct_el0     t0 */
	0xd5033fdf, /* isb */
	0xb9000025, /* str w5, [x1]           the exit */
	0xd5033fdf, /* isb */
	0xd53be043, /* mrs x3, cntvct_el0     t1 */
	0xcb020063, /* sub x3, x3, x2 */
	0xf8008403, /* str x3, [x0], #8 */
	0xeb04001f, /* cmp x0, x4 */
	0x54fffee3, /* b.lo loop */
	0xd2800100, /* mov x0, #0x8 */
	0xf2b08000, /* movk x0, #0x8400, lsl #16   PSCI SYSTEM_OFF, 0x84000008 */
	0xd4000002, /* hvc #0 */
	0x14000000, /* b . */
};

struct row {
	const char *name;
	uint32_t target;
	const uint32_t *code;
	size_t code_len;
	uint32_t exit_reason; /* what KVM_RUN returns for each timed exit */
};

static const struct row rows[] = {
	{ "mmio_user_write", EXITLAT_ARM64_MMIO_USER, code_mmio_write, sizeof(code_mmio_write),
	  KVM_EXIT_MMIO },
};

/* A core register's ID (KVM_REG_ARM_CORE): its offset in struct kvm_regs, in 32-bit words. */
#define CORE_REG(off) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | ((off) / sizeof(uint32_t)))
#define REG_X(n)      CORE_REG(offsetof(struct kvm_regs, regs.regs) + (n) * sizeof(uint64_t))
#define REG_PC	      CORE_REG(offsetof(struct kvm_regs, regs.pc))

static int set_reg(struct floor *f, uint64_t id, uint64_t v)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&v };

	return ioctl(f->vcpu, KVM_SET_ONE_REG, &r) < 0 ? fail("KVM_SET_ONE_REG") : 0;
}

/* KVM's preferred CPU with PSCI 0.2 (SYSTEM_OFF ends a row); it starts at EL1, MMU off, DAIF masked. */
static int setup_vcpu(struct floor *f)
{
	struct kvm_vcpu_init init;

	if (ioctl(f->vm, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		return fail("KVM_ARM_PREFERRED_TARGET");
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (ioctl(f->vcpu, KVM_ARM_VCPU_INIT, &init) < 0)
		return fail("KVM_ARM_VCPU_INIT");
	return 0;
}

/* Writes the row's loop at the start of RAM and points the vCPU at it; KVM_ARM_VCPU_INIT resets it. */
static int load_row(struct floor *f, const struct row *r)
{
	uint64_t end = SAMPLES_GPA + (uint64_t)f->iterations * 8;
	int ret = setup_vcpu(f);

	emit(f->ram + CODE_OFF, r->code, r->code_len);
	memset(f->ram + SAMPLES_OFF, 0, (size_t)f->iterations * 8);
	if (!ret)
		ret = set_reg(f, REG_PC, RAM_GPA + CODE_OFF);
	if (!ret)
		ret = set_reg(f, REG_X(0), SAMPLES_GPA);
	if (!ret)
		ret = set_reg(f, REG_X(1), r->target);
	if (!ret)
		ret = set_reg(f, REG_X(4), end);
	if (!ret)
		ret = set_reg(f, REG_X(5), 0);
	return ret;
}
#endif

static int setup(struct floor *f)
{
	struct kvm_userspace_memory_region mem;
	int mmap_size;

	f->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (f->kvm < 0)
		return fail("opening /dev/kvm (is KVM loaded? try scripts/kvm-env)");
	if (ioctl(f->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		fprintf(stderr, "exit-floor: KVM API version is not %d\n", KVM_API_VERSION);
		return -ENOTSUP;
	}
	f->vm = ioctl(f->kvm, KVM_CREATE_VM, 0);
	if (f->vm < 0)
		return fail("KVM_CREATE_VM");
	f->ram_size = SAMPLES_OFF + ((size_t)f->iterations * 8 + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
	f->ram = mmap(NULL, f->ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f->ram == MAP_FAILED)
		return fail("allocating guest RAM");
	mem = (struct kvm_userspace_memory_region){ .slot = 0,
						    .guest_phys_addr = RAM_GPA,
						    .memory_size = f->ram_size,
						    .userspace_addr = (uintptr_t)f->ram };
	if (ioctl(f->vm, KVM_SET_USER_MEMORY_REGION, &mem) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");
	f->vcpu = ioctl(f->vm, KVM_CREATE_VCPU, 0);
	if (f->vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	mmap_size = ioctl(f->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(*f->run))
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	f->run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, f->vcpu, 0);
	if (f->run == MAP_FAILED)
		return fail("mapping the vCPU's run page");
	return setup_vcpu(f);
}

/* The floor itself: re-enter on each expected exit, stop at hlt. */
static int run_row(struct floor *f, const struct row *r)
{
	uint64_t exits = 0;

	for (;;) {
		if (ioctl(f->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return fail("KVM_RUN");
		}
		if (f->run->exit_reason == r->exit_reason) {
			exits++;
			continue;
		}
		if (f->run->exit_reason == END_EXIT)
			break;
		fprintf(stderr, "exit-floor: row %s: unexpected exit reason %u after %" PRIu64 " exits\n",
			r->name, f->run->exit_reason, exits);
		return -EIO;
	}
	if (exits != f->iterations) {
		fprintf(stderr, "exit-floor: row %s: %" PRIu64 " exits, expected %u\n", r->name, exits,
			f->iterations);
		return -EIO;
	}
	return 0;
}

static int measure(struct floor *f, const struct row *r)
{
	uint64_t *samples = (uint64_t *)(void *)(f->ram + SAMPLES_OFF);
	struct stats_summary s;
	int ret = load_row(f, r);

	if (ret == 0)
		ret = run_row(f, r);
	if (ret)
		return ret;
	stats_summarize(samples, f->iterations, &s);
	printf("floor: row=%s status=ok count=%" PRIu64 " min=%" PRIu64 " p50=%" PRIu64 " p99=%" PRIu64
	       " max=%" PRIu64 "\n",
	       r->name, s.count, s.min, s.median, s.p99, s.max);
	fflush(stdout);
	return 0;
}

/* Returns 0 to go on, 1 after --help, -EINVAL on a mistake (said on stderr). */
static int parse_args(int argc, char **argv, uint32_t *iterations)
{
	for (int i = 1; i < argc; i++) {
		char *end;
		unsigned long n;

		if (strcmp(argv[i], "--iterations") != 0 || i + 1 >= argc) {
			int help = strcmp(argv[i], "--help") == 0;

			fprintf(help ? stdout : stderr,
				"usage: exit-floor [--iterations N]   (1 <= N <= %u, default %u)\n",
				MAX_ITERATIONS, DEFAULT_ITERATIONS);
			return help ? 1 : -EINVAL;
		}
		errno = 0;
		n = strtoul(argv[++i], &end, 10);
		if (errno || *end || end == argv[i] || n < 1 || n > MAX_ITERATIONS) {
			fprintf(stderr, "exit-floor: --iterations %s: give a number from 1 to %u\n", argv[i],
				MAX_ITERATIONS);
			return -EINVAL;
		}
		*iterations = (uint32_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct floor f = { .kvm = -1, .vm = -1, .vcpu = -1, .iterations = DEFAULT_ITERATIONS };
	int ret = parse_args(argc, argv, &f.iterations);

	if (ret)
		return ret > 0 ? 0 : 1;
	if (setup(&f))
		return 1;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (measure(&f, &rows[i]))
			return 1;
	printf("floor: done\n");
	return 0;
}
