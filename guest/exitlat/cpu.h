/* cpu.h: the few x86 instructions the guest needs, as inline functions (no libc, no compiler builtins). */
#ifndef EXITLAT_CPU_H
#define EXITLAT_CPU_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ __volatile__("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
	return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ __volatile__("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

/* rdtsc: an unordered read, for deadlines only; samples use tsc_begin() and tsc_end(). */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

/*
 * Serialised TSC reads around one measured operation. CPUID would order them fully, but under
 * virtualisation CPUID is itself an exit (one of the rows we time) and clobbers four registers.
 * Instead: LFENCE waits until every earlier instruction has completed locally, so t0 is not read
 * before the previous iteration is done, and the LFENCE after RDTSC keeps the operation from starting
 * before t0 is read. At the end RDTSCP waits until the operation has executed before it reads, and
 * the LFENCE after it keeps the next instructions (the sample's store, the next t0) from starting
 * early. Where RDTSCP is missing, LFENCE; RDTSC; LFENCE gives the same ordering. (On AMD, LFENCE is
 * dispatch-serialising when the host sets DE_CFG[1], as Linux does; a VM exit serialises anyway.)
 */
static inline uint64_t tsc_begin(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

static inline uint64_t tsc_end(int have_rdtscp)
{
	uint32_t lo, hi;

	if (have_rdtscp)
		__asm__ __volatile__("rdtscp; lfence" : "=a"(lo), "=d"(hi) : : "ecx", "memory");
	else
		__asm__ __volatile__("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

#endif
