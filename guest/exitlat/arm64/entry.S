/*
 * entry.S: the arm64 Image header, vCPU 0's and the AP's entries, and the exception vectors.
 *
 * The loader (kvmini, or any that follows Documentation/arch/arm64/booting.rst; QEMU: see start) places the Image
 * text_offset (0) above a 2 MiB boundary at the start of RAM (0x40000000, where link.ld puts it) and
 * enters it at EL1 with the MMU off, interrupts masked and x0 the device tree's address.
 */
	.section .head, "ax"
	.globl	_start
_start:
	b	start			/* code0 */
	.long	0			/* code1 */
	.quad	0			/* text_offset */
	.quad	exitlat_image_size	/* image_size: from _start to the end of .bss (link.ld) */
	.quad	0x2			/* flags: little-endian, 4 KiB pages, base near the start of RAM */
	.quad	0, 0, 0			/* res2, res3, res4 */
	.ascii	"ARM\x64"		/* magic */
	.long	0			/* res5: no PE/COFF header */

	.text
start:
	mov	x19, x0
	/*
	 * QEMU's virt board loads an Image whose text_offset is below 4 KiB 2 MiB higher (its boot stub
	 * sits at the bottom of RAM): the code is not position-independent (function tables, literals),
	 * so move it down to where link.ld put it, then go on from there. kvmini loads it in place.
	 * A forward copy is safe: the destination is below the source. The MMU is off: aligned words.
	 */
	adr	x1, _start
	ldr	x2, =_start
	cmp	x1, x2
	b.eq	linked
	ldr	x3, =__bss_start
1:	cmp	x2, x3
	b.hs	2f
	ldr	x4, [x1], #8
	str	x4, [x2], #8
	b	1b
2:	dsb	sy
	ic	iallu
	dsb	sy
	isb
	ldr	x1, =linked
	br	x1
	.ltorg
linked:
	adrp	x1, boot_stack_top
	add	x1, x1, :lo12:boot_stack_top
	mov	sp, x1
	adrp	x1, vectors
	add	x1, x1, :lo12:vectors
	msr	vbar_el1, x1
	isb
	/* .bss is not in the Image: zero it (8-byte aligned, link.ld), before any C runs. */
	adrp	x1, __bss_start
	add	x1, x1, :lo12:__bss_start
	adrp	x2, __bss_end
	add	x2, x2, :lo12:__bss_end
1:	cmp	x1, x2
	b.hs	2f
	str	xzr, [x1], #8
	b	1b
2:	mov	x0, x19
	bl	main
3:	wfi
	b	3b

/* The AP, from PSCI CPU_ON: x0 (the context ID) is its stack's top; the MMU is off. */
	.globl	ap_entry
ap_entry:
	mov	sp, x0
	adrp	x1, vectors
	add	x1, x1, :lo12:vectors
	msr	vbar_el1, x1
	isb
	bl	ap_main
1:	wfi
	b	1b

/* IRQ: the caller-saved registers around trap_irq (the C code uses no FP/SIMD registers). */
irq_entry:
	sub	sp, sp, #160
	stp	x0, x1, [sp, #0]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x30, [sp, #144]
	bl	trap_irq
	ldp	x0, x1, [sp, #0]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldp	x8, x9, [sp, #64]
	ldp	x10, x11, [sp, #80]
	ldp	x12, x13, [sp, #96]
	ldp	x14, x15, [sp, #112]
	ldp	x16, x17, [sp, #128]
	ldp	x18, x30, [sp, #144]
	add	sp, sp, #160
	eret

/* Anything else ends the run: trap_fault(kind, esr, elr, far) prints it and powers off. */
.macro	fault kind
	.balign	128
	mov	x0, #\kind
	mrs	x1, esr_el1
	mrs	x2, elr_el1
	mrs	x3, far_el1
	bl	trap_fault
.endm

	.balign	2048
vectors:
	fault	0	/* current EL with SP_EL0: sync */
	fault	1	/* IRQ */
	fault	2	/* FIQ */
	fault	3	/* SError */
	fault	4	/* current EL with SP_ELx (ours): sync */
	.balign	128
	b	irq_entry	/* IRQ */
	fault	6	/* FIQ */
	fault	7	/* SError */
	fault	8	/* lower EL, AArch64 */
	fault	9
	fault	10
	fault	11
	fault	12	/* lower EL, AArch32 */
	fault	13
	fault	14
	fault	15

	.bss
	.balign	16
boot_stack:
	.skip	16384
boot_stack_top:
