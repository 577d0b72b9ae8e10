/* entry.S: multiboot header, 32-bit entry, GDT, interrupt stubs and trap_try's fault recovery. */
#include "segments.h"

#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00000003	/* bit 0: page-align modules; bit 1: fill mem_lower/mem_upper */
#define STUB_SIZE	16		/* trap.c finds vector v's stub at trap_stubs + v * STUB_SIZE */
#define BOOT_STACK_SIZE	16384

	/* An ELF image: the loader takes addresses from the program headers, so no address fields. */
	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl _start
_start:
	/* Multiboot leaves GDTR and ESP undefined: keep EAX (magic) and EBX (info) while we set both. */
	cli
	cld
	movl %eax, %esi
	movl %ebx, %ebp
	lgdt gdt_desc
	ljmp $CODE_SEL, $1f
1:	movw $DATA_SEL, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	/* The loader should have zeroed .bss; do it anyway, since the flags below live there. */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb
	movl $boot_stack_top, %esp
	subl $8, %esp			/* 16-byte alignment at the call, as the i386 ABI expects */
	pushl %ebp
	pushl %esi
	call main
	.globl cpu_halt
cpu_halt:
	cli
	hlt
	jmp cpu_halt

	/*
	 * Interrupt stubs, one per vector, STUB_SIZE bytes apart. Each makes the frame uniform (a zero
	 * where the CPU pushes no error code), pushes its vector and enters trap_common.
	 */
	.balign STUB_SIZE
	.globl trap_stubs
trap_stubs:
	.set .Lvec, 0
	.rept 256
	.balign STUB_SIZE
	/* The CPU pushes an error code for #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP, #VC, #SX. */
	.set .Lerr, (.Lvec == 8) || (.Lvec >= 10 && .Lvec <= 14) || (.Lvec == 17)
	.if .Lerr || (.Lvec == 21) || (.Lvec == 29) || (.Lvec == 30)
	.else
	pushl $0
	.endif
	pushl $.Lvec
	jmp trap_common
	.set .Lvec, .Lvec + 1
	.endr

	/* Builds struct trap_frame (trap.h) and hands it to trap(); trap() may rewrite EIP and EAX. */
trap_common:
	pushal
	cld
	pushl %esp
	call trap
	addl $4, %esp
	popal
	addl $8, %esp			/* vector and error code */
	iret

	/*
	 * uint32_t trap_try(void (*fn)(void *), void *arg): runs fn(arg) on the BSP and returns 0, or,
	 * when fn raises an exception, abandons fn and returns 0x100 | vector (see trap.c).
	 */
	.globl trap_try
trap_try:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl 20(%esp), %eax
	movl 24(%esp), %ecx
	movl %esp, trap_try_esp		/* armed: trap() sends a fault to trap_try_catch */
	subl $8, %esp			/* 16-byte alignment at the call */
	pushl %ecx
	call *%eax
	addl $12, %esp
	xorl %eax, %eax
	jmp 1f
	.globl trap_try_catch
trap_try_catch:
	/* Entered by IRET with EAX = 0x100 | vector; fn's stack frames are simply dropped. */
	cli
	movl trap_try_esp, %esp
1:	movl $0, trap_try_esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

	.data
	.balign 8
	.globl gdt
gdt:
	.quad 0
	.quad 0x00cf9b000000ffff	/* CODE_SEL: flat 4 GiB, 32-bit, ring 0, execute/read */
	.quad 0x00cf93000000ffff	/* DATA_SEL: flat 4 GiB, read/write */
	.balign 4
	.word 0				/* puts the 32-bit base below on a 4-byte boundary */
gdt_desc:
	.word GDT_LIMIT
	.long gdt

	.globl trap_try_esp
trap_try_esp:
	.long 0

	.bss
	.balign 16
	.globl boot_stack_bottom
boot_stack_bottom:
	.skip BOOT_STACK_SIZE
	.globl boot_stack_top
boot_stack_top:
