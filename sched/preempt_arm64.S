/*
 * preempt_arm64.S -- the asynchronous preemption trampoline, aarch64.
 *
 * The SIGURG handler (preempt.c) has copied the kernel's signal frame --
 * every register of the interrupted code, FP/SIMD (and SVE) included --
 * onto the goroutine's stack, set lr to the interrupted pc, as if it had
 * called us, and left the copy's sigreturn sp in x19.  Here: a frame
 * record, the call into the scheduler, and rt_sigreturn on the copy.
 */
	.text

	.globl	gort_sched_asyncpreempt
	.hidden	gort_sched_asyncpreempt
	.type	gort_sched_asyncpreempt, %function
gort_sched_asyncpreempt:
	stp	x29, x30, [sp, #-16]!	/* the interrupted fp, and pc as our lr */
	mov	x29, sp
	bl	gort_sched_asyncpreempt2
	mov	sp, x19			/* the copy: rt_sigreturn restores it all */
	mov	x8, #139		/* __NR_rt_sigreturn */
	svc	#0
	brk	#0
	.size	gort_sched_asyncpreempt, .-gort_sched_asyncpreempt

	.section .note.GNU-stack,"",%progbits
