/* trampoline.S: where the AP starts after INIT-SIPI-SIPI: real mode below 1 MiB, then protected mode. */

#include "segments.h"

	/*
	 * Position-independent real-mode code: smp.c copies [trampoline_start, trampoline_end) to a
	 * page below 1 MiB and the SIPI starts the AP there with CS = page >> 4, IP = 0.
	 */
	.text
	.code16
	.globl trampoline_start
trampoline_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl (tramp_gdt_desc - trampoline_start)
	movl %cr0, %eax
	orl $1, %eax			/* PE; paging stays off, as on the BSP */
	movl %eax, %cr0
	ljmpl $CODE_SEL, $ap_entry32	/* linked absolute: leaves the copy for the image */
	.balign 4
	.word 0
tramp_gdt_desc:				/* the BSP's GDT, at its address in the image */
	.word GDT_LIMIT
	.long gdt
	.globl trampoline_end
trampoline_end:

	.code32
ap_entry32:
	movw $DATA_SEL, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movl smp_ap_stack_top, %esp
	call ap_main
1:	cli
	hlt
	jmp 1b
