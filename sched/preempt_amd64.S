/*
 * preempt_amd64.S -- the asynchronous preemption trampoline, x86-64.
 *
 * The SIGURG handler (preempt.c) has copied the kernel's signal frame --
 * every register of the interrupted code, the xsave state included --
 * onto the goroutine's stack, pushed the interrupted pc as if it had
 * called us, and left the copy's sigreturn sp in r12.  Here: a frame
 * record, so that walks go through to the interrupted code; the call into
 * the scheduler; and rt_sigreturn on the copy, which restores everything
 * and resumes at the interrupted instruction.
 *
 * The frame, for unwinders (runtime/sigctxt.h, "Unwinding through the
 * trampoline").  tsp is the sp sigctxt_enter was given, 16-aligned, below
 * the copy; the handler left the two-word mark there (tsp[0] = r12, the
 * copy's sigreturn sp, tsp[1] = its check):
 *
 *     tsp + 0    the mark (two words), then free space, then the copy
 *     tsp - 8    the interrupted pc (pushed by the handler)
 *     tsp - 16   the interrupted rbp (pushed here): rbp points here
 *
 *     instruction                  tsp is            layout field
 *     entry (pushq)                sp + 8            entry
 *     .Lframed .. .Loncopy         sp + 16           frame
 *     .Lret (return address)       rbp + 16          frame
 *     .Loncopy ..                  rbp + 16; sp = r12 itself
 *
 * gort_sched_asyncpreempt_layout says so to C, by offsets from the entry.
 */
	.text

	.globl	gort_sched_asyncpreempt
	.hidden	gort_sched_asyncpreempt
	.type	gort_sched_asyncpreempt, @function
gort_sched_asyncpreempt:
	pushq	%rbp			/* the interrupted rbp: the chain goes on */
.Lframed:
	movq	%rsp, %rbp
	cld				/* the ABI's direction flag, for the C below */
	call	gort_sched_asyncpreempt2
.Lret:
	movq	%r12, %rsp		/* the copy: rt_sigreturn restores it all */
.Loncopy:
	movl	$15, %eax		/* __NR_rt_sigreturn */
	syscall
	ud2
.Lend:
	.size	gort_sched_asyncpreempt, .-gort_sched_asyncpreempt

	/* struct sigctxt_tramp_layout (runtime/sigctxt.h) */
	.section .rodata
	.balign	4
	.globl	gort_sched_asyncpreempt_layout
	.hidden	gort_sched_asyncpreempt_layout
	.type	gort_sched_asyncpreempt_layout, @object
gort_sched_asyncpreempt_layout:
	.long	.Lend - gort_sched_asyncpreempt		/* size */
	.long	.Lframed - gort_sched_asyncpreempt	/* framed */
	.long	.Lret - gort_sched_asyncpreempt		/* ret */
	.long	.Loncopy - gort_sched_asyncpreempt	/* oncopy */
	.long	8					/* entry: tsp - sp at the entry */
	.long	16					/* frame: tsp - sp, tsp - rbp */
	.size	gort_sched_asyncpreempt_layout, .-gort_sched_asyncpreempt_layout

	.section .note.GNU-stack,"",@progbits
