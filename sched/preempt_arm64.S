/*
 * preempt_arm64.S -- the asynchronous preemption trampoline, aarch64.
 *
 * The SIGURG handler (preempt.c) has copied the kernel's signal frame --
 * every register of the interrupted code, FP/SIMD (and SVE) included --
 * onto the goroutine's stack, set lr to the interrupted pc, as if it had
 * called us, and left the copy's sigreturn sp in x19.  Here: a frame
 * record, the call into the scheduler, and rt_sigreturn on the copy.
 *
 * The frame, for unwinders (runtime/sigctxt.h, "Unwinding through the
 * trampoline").  tsp is the sp at the entry, 16-aligned, below the copy;
 * the handler left the two-word mark there (tsp[0] = x19, the copy's
 * sigreturn sp, tsp[1] = its check):
 *
 *     tsp + 0    the mark (two words), then free space, then the copy
 *     tsp - 8    the interrupted pc (lr, stored here)
 *     tsp - 16   the interrupted x29 (stored here): x29 points here
 *
 *     instruction                  tsp is            layout field
 *     entry (stp)                  sp                entry
 *     .Lframed .. .Loncopy         sp + 16           frame
 *     .Lret (return address)       x29 + 16          frame
 *     .Loncopy ..                  x29 + 16; sp = x19 itself
 *
 * gort_sched_asyncpreempt_layout says so to C, by offsets from the entry.
 */
	.text

	.globl	gort_sched_asyncpreempt
	.hidden	gort_sched_asyncpreempt
	.type	gort_sched_asyncpreempt, %function
gort_sched_asyncpreempt:
	stp	x29, x30, [sp, #-16]!	/* the interrupted fp, and pc as our lr */
.Lframed:
	mov	x29, sp
	bl	gort_sched_asyncpreempt2
.Lret:
	mov	sp, x19			/* the copy: rt_sigreturn restores it all */
.Loncopy:
	mov	x8, #139		/* __NR_rt_sigreturn */
	svc	#0
	brk	#0
.Lend:
	.size	gort_sched_asyncpreempt, .-gort_sched_asyncpreempt

	/* struct sigctxt_tramp_layout (runtime/sigctxt.h) */
	.section .rodata
	.balign	4
	.globl	gort_sched_asyncpreempt_layout
	.hidden	gort_sched_asyncpreempt_layout
	.type	gort_sched_asyncpreempt_layout, %object
gort_sched_asyncpreempt_layout:
	.word	.Lend - gort_sched_asyncpreempt		/* size */
	.word	.Lframed - gort_sched_asyncpreempt	/* framed */
	.word	.Lret - gort_sched_asyncpreempt		/* ret */
	.word	.Loncopy - gort_sched_asyncpreempt	/* oncopy */
	.word	0					/* entry: tsp - sp at the entry */
	.word	16					/* frame: tsp - sp, tsp - x29 */
	.size	gort_sched_asyncpreempt_layout, .-gort_sched_asyncpreempt_layout

	.section .note.GNU-stack,"",%progbits
