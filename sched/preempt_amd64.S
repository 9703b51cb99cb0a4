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
 */
	.text

	.globl	gort_sched_asyncpreempt
	.hidden	gort_sched_asyncpreempt
	.type	gort_sched_asyncpreempt, @function
gort_sched_asyncpreempt:
	pushq	%rbp			/* the interrupted rbp: the chain goes on */
	movq	%rsp, %rbp
	cld				/* the ABI's direction flag, for the C below */
	call	gort_sched_asyncpreempt2
	movq	%r12, %rsp		/* the copy: rt_sigreturn restores it all */
	movl	$15, %eax		/* __NR_rt_sigreturn */
	syscall
	ud2
	.size	gort_sched_asyncpreempt, .-gort_sched_asyncpreempt

	.section .note.GNU-stack,"",@progbits
