/*
 * ctx_arm64.S -- the context switch, aarch64 (AAPCS64).
 *
 * Callee-saved: x19-x28, the frame pointer x29, the link register x30, and
 * the low halves of v8-v15 (d8-d15).  ctxswitch stores them in a 160-byte
 * frame on the current stack, saves sp, loads the other stack's sp,
 * reloads its frame and returns through its x30.
 *
 * A fresh stack, as ctxinit leaves it (hi is 16-byte aligned), is such a
 * frame at hi - 160 with x19 = start, x20 = fn, x21 = arg, x29 = 0 (ends
 * the frame-record chain) and x30 = gort_sched_gostart, which calls
 * start(fn, arg) with sp = hi.
 */
	.text

	.globl	gort_sched_ctxswitch
	.hidden	gort_sched_ctxswitch
	.type	gort_sched_ctxswitch, %function
gort_sched_ctxswitch:			/* x0 = &save, x1 = load */
	sub	sp, sp, #160
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mov	x2, sp
	str	x2, [x0]
	mov	sp, x1
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #160
	ret
	.size	gort_sched_ctxswitch, .-gort_sched_ctxswitch

	.globl	gort_sched_ctxinit
	.hidden	gort_sched_ctxinit
	.type	gort_sched_ctxinit, %function
gort_sched_ctxinit:			/* x0 = hi, x1 = start, x2 = fn, x3 = arg */
	sub	x0, x0, #160
	stp	x1, x2, [x0, #0]	/* x19 = start, x20 = fn */
	stp	x3, xzr, [x0, #16]	/* x21 = arg */
	stp	xzr, xzr, [x0, #32]
	stp	xzr, xzr, [x0, #48]
	stp	xzr, xzr, [x0, #64]
	adr	x4, gort_sched_gostart
	stp	xzr, x4, [x0, #80]	/* x29 = 0, x30 = gostart */
	stp	xzr, xzr, [x0, #96]
	stp	xzr, xzr, [x0, #112]
	stp	xzr, xzr, [x0, #128]
	stp	xzr, xzr, [x0, #144]
	ret
	.size	gort_sched_ctxinit, .-gort_sched_ctxinit

	.globl	gort_sched_gostart
	.hidden	gort_sched_gostart
	.type	gort_sched_gostart, %function
gort_sched_gostart:
	mov	x0, x20
	mov	x1, x21
	blr	x19			/* start(fn, arg) never returns */
	brk	#0
	.size	gort_sched_gostart, .-gort_sched_gostart

/* void gort_sched_ctxframe(void *sp, struct gort_frame *f): the frame of a
 * switched-out G, for tracebacks (see ctx_amd64.S). */
	.globl	gort_sched_ctxframe
	.hidden	gort_sched_ctxframe
	.type	gort_sched_ctxframe, %function
gort_sched_ctxframe:
	ldp	x2, x3, [x0, #80]	/* x29, x30 */
	add	x4, x0, #160
	stp	x3, x4, [x1, #0]	/* pc, sp */
	stp	x2, xzr, [x1, #16]	/* fp, lr */
	str	wzr, [x1, #32]		/* live: no, a return address */
	ret
	.size	gort_sched_ctxframe, .-gort_sched_ctxframe

	.section .note.GNU-stack,"",%progbits
