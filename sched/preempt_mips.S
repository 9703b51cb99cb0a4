/*
 * preempt_mips.S -- the asynchronous preemption trampoline, MIPS o32.
 *
 * The SIGURG handler (preempt.c) has copied the kernel's signal frame --
 * every register of the interrupted code, the FP ones included -- onto
 * the goroutine's stack, set $ra to the interrupted pc, as if it had
 * called us, and left the copy's sigreturn sp in $s0 and the address of
 * gort_sched_asyncpreempt2 in $s1 (reaching another object's function
 * from here would need the GOT, and so $gp).  Here: an ordinary prologue (so that the prologue-reading
 * unwinder walks through to the interrupted code), the call into the
 * scheduler, and rt_sigreturn on the copy.
 */
	.text
	.set	noreorder

	.globl	gort_sched_asyncpreempt
	.hidden	gort_sched_asyncpreempt
	.type	gort_sched_asyncpreempt, @function
	.ent	gort_sched_asyncpreempt
gort_sched_asyncpreempt:
	addiu	$sp, $sp, -32
	sw	$ra, 28($sp)
	sw	$fp, 24($sp)
	move	$fp, $sp
	move	$t9, $s1		/* PIC: a function finds $gp from $t9 */
	jalr	$t9
	nop
	move	$sp, $s0		/* the copy: rt_sigreturn restores it all */
	li	$v0, 4193		/* __NR_rt_sigreturn, o32 */
	syscall
	break
	.end	gort_sched_asyncpreempt
	.size	gort_sched_asyncpreempt, .-gort_sched_asyncpreempt

	.section .note.GNU-stack,"",@progbits
