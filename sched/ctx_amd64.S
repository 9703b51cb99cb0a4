/*
 * ctx_amd64.S -- the context switch, x86-64 (System V ABI).
 *
 * A goroutine's whole context is its stack pointer: ctxswitch pushes the
 * six callee-saved registers on the current stack, saves rsp, loads the
 * other stack's rsp and pops that stack's registers.  The caller-saved
 * registers need no saving: ctxswitch is an ordinary call, so the
 * compiler already assumes they are clobbered.  (The x87 control word and
 * MXCSR are callee-saved too; gort, like libdill, assumes no goroutine
 * changes rounding modes.)
 *
 * A fresh stack, as ctxinit leaves it (hi is 16-byte aligned):
 *
 *     hi -  8  gort_sched_gostart     <- `ret` goes here
 *     hi - 16  rbp = 0                   (ends the frame-pointer chain)
 *     hi - 24  rbx = start
 *     hi - 32  r12 = fn
 *     hi - 40  r13 = arg
 *     hi - 48  r14 = 0
 *     hi - 56  r15 = 0                <- saved sp
 *
 * and gostart calls start(fn, arg) with rsp = hi, aligned as a call needs.
 */
	.text

	.globl	gort_sched_ctxswitch
	.hidden	gort_sched_ctxswitch
	.type	gort_sched_ctxswitch, @function
gort_sched_ctxswitch:			/* rdi = &save, rsi = load */
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.size	gort_sched_ctxswitch, .-gort_sched_ctxswitch

	.globl	gort_sched_ctxinit
	.hidden	gort_sched_ctxinit
	.type	gort_sched_ctxinit, @function
gort_sched_ctxinit:			/* rdi = hi, rsi = start, rdx = fn, rcx = arg */
	leaq	gort_sched_gostart(%rip), %rax
	movq	%rax, -8(%rdi)
	movq	$0, -16(%rdi)
	movq	%rsi, -24(%rdi)
	movq	%rdx, -32(%rdi)
	movq	%rcx, -40(%rdi)
	movq	$0, -48(%rdi)
	movq	$0, -56(%rdi)
	leaq	-56(%rdi), %rax
	ret
	.size	gort_sched_ctxinit, .-gort_sched_ctxinit

	.globl	gort_sched_gostart
	.hidden	gort_sched_gostart
	.type	gort_sched_gostart, @function
gort_sched_gostart:
	movq	%r12, %rdi
	movq	%r13, %rsi
	call	*%rbx			/* start(fn, arg) never returns */
	ud2
	.size	gort_sched_gostart, .-gort_sched_gostart

/* void gort_sched_ctxframe(void *sp, struct gort_frame *f): the frame of a
 * switched-out G, for tracebacks: the return address into its caller of
 * ctxswitch, the stack pointer after that return, and its saved rbp. */
	.globl	gort_sched_ctxframe
	.hidden	gort_sched_ctxframe
	.type	gort_sched_ctxframe, @function
gort_sched_ctxframe:
	movq	48(%rdi), %rax
	movq	%rax, 0(%rsi)		/* pc */
	leaq	56(%rdi), %rax
	movq	%rax, 8(%rsi)		/* sp */
	movq	40(%rdi), %rax
	movq	%rax, 16(%rsi)		/* fp */
	movq	$0, 24(%rsi)		/* lr */
	movl	$0, 32(%rsi)		/* live: no, a return address */
	ret
	.size	gort_sched_ctxframe, .-gort_sched_ctxframe

	.section .note.GNU-stack,"",@progbits
