/* canary.c: the canary guest, a few bytes that go from real mode to long mode and run ring-0 code. */
#include "canary.h"

#include <string.h>

#include "layout.h"
#include "pagetable.h"

#define B16(v) (uint8_t)(v), (uint8_t)((v) >> 8)
#define B32(v) B16(v), (uint8_t)((v) >> 16), (uint8_t)((v) >> 24)

/* Offsets of the jump targets and the GDT pointer within the code (checked by canary_build). */
#define OFF_PM32 0x1f
#define OFF_LM64 0x5a
#define OFF_GDTP 0x70

#define CR0_PE	 0x1u
#define CR0_PG	 0x80000000u
#define CR4_PAE	 0x20u
#define MSR_EFER 0xc0000080u
#define EFER_LME 0x100u

size_t canary_build(uint8_t code[CANARY_CODE_MAX], uint32_t iterations)
{
	const uint32_t turns = iterations ? iterations : 1; /* 0 would mean 2^32 turns */
	/* One instruction a line, its assembly beside it. */
	/* clang-format off */
	const uint8_t bytes[] = {
		/* 16-bit real mode, at CANARY_CODE_ADDR */
		0xba, B16(CANARY_PORT),					/* mov dx, CANARY_PORT */
		0xb0, CANARY_REAL_MODE,					/* mov al, CANARY_REAL_MODE */
		0xee,							/* out dx, al */
		0xfa,							/* cli */
		0x66, 0x0f, 0x01, 0x16, B16(CANARY_CODE_ADDR + OFF_GDTP), /* lgdtl [gdtp] */
		0x0f, 0x20, 0xc0,					/* mov eax, cr0 */
		0x66, 0x83, 0xc8, CR0_PE,				/* or eax, CR0_PE */
		0x0f, 0x22, 0xc0,					/* mov cr0, eax */
		0x66, 0xea, B32(CANARY_CODE_ADDR + OFF_PM32), B16(GDT_SEL_CODE32), /* ljmpl 0x08:pm32 */
		/* pm32: 32-bit protected mode, paging off */
		0x66, 0xb8, B16(GDT_SEL_DATA),				/* mov ax, GDT_SEL_DATA */
		0x8e, 0xd8,						/* mov ds, ax */
		0x8e, 0xc0,						/* mov es, ax */
		0x8e, 0xd0,						/* mov ss, ax */
		0x0f, 0x20, 0xe0,					/* mov eax, cr4 */
		0x83, 0xc8, CR4_PAE,					/* or eax, CR4_PAE */
		0x0f, 0x22, 0xe0,					/* mov cr4, eax */
		0xb8, B32((uint32_t)GUEST_PML4_ADDR),			/* mov eax, GUEST_PML4_ADDR */
		0x0f, 0x22, 0xd8,					/* mov cr3, eax */
		0xb9, B32(MSR_EFER),					/* mov ecx, MSR_EFER */
		0x0f, 0x32,						/* rdmsr */
		0x0d, B32(EFER_LME),					/* or eax, EFER_LME */
		0x0f, 0x30,						/* wrmsr */
		0x0f, 0x20, 0xc0,					/* mov eax, cr0 */
		0x0d, B32(CR0_PG),					/* or eax, CR0_PG */
		0x0f, 0x22, 0xc0,					/* mov cr0, eax: long mode is active */
		0xea, B32(CANARY_CODE_ADDR + OFF_LM64), B16(GDT_SEL_CODE64), /* ljmp 0x10:lm64 */
		/* lm64: 64-bit mode */
		0x66, 0xba, B16(CANARY_PORT),				/* mov dx, CANARY_PORT (rdmsr took edx) */
		0xb0, CANARY_LONG_MODE,					/* mov al, CANARY_LONG_MODE */
		0xee,							/* out dx, al */
		0xb9, B32(turns),					/* mov ecx, iterations */
		0xff, 0xc9,						/* loop: dec ecx */
		0x75, 0xfc,						/* jnz loop */
		0xb0, CANARY_LOOP_DONE,					/* mov al, CANARY_LOOP_DONE */
		0xee,							/* out dx, al */
		0xf4,							/* 1: hlt */
		0xeb, 0xfd,						/* jmp 1b */
		/* gdtp: the operand of lgdt */
		B16(GDT_ENTRIES * 8 - 1), B32((uint32_t)GUEST_GDT_ADDR),
	};
	/* clang-format on */
	_Static_assert(sizeof(bytes) <= CANARY_CODE_MAX, "the canary outgrew its room");
	_Static_assert(sizeof(bytes) == OFF_GDTP + 6, "a jump target moved: recompute the OFF_ offsets");

	memcpy(code, bytes, sizeof(bytes));
	return sizeof(bytes);
}
