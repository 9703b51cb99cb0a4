/*
 * preempt_mips.S -- the asynchronous preemption trampoline, MIPS o32.
 *
 * The SIGURG handler (preempt.c) has copied the kernel's signal frame --
 * every register of the interrupted code, the FP ones included -- onto
 * the goroutine's stack, set $ra to the interrupted pc, as if it had
 * called us, and left the copy's sigreturn sp in $s0 and the address of
 * gort_sched_asyncpreempt2 in $s1 (reaching another object's function
 * from here would need the GOT, and so $gp).  Here: an ordinary prologue
 * (so that prologue-reading unwinders, gdb's among them, walk through to
 * the interrupted code), the call into the scheduler, and rt_sigreturn
 * on the copy.
 *
 * The frame, for unwinders (runtime/sigctxt.h, "Unwinding through the
 * trampoline").  tsp is the sp at the entry, 16-aligned, below the copy;
 * the handler left the two-word mark there (tsp[0] = $s0, the copy's
 * sigreturn sp, tsp[1] = its check):
 *
 *     tsp + 0    the mark (two words), then free space, then the copy
 *     tsp - 4    the interrupted pc ($ra, stored at 28($sp))
 *     tsp - 8    the interrupted $fp (stored at 24($sp))
 *     tsp - 32   sp and $fp; 16 bytes of argument area for the callee
 *
 *     instruction                  tsp is            layout field
 *     entry (addiu)                sp                entry
 *     .Lframed .. .Loncopy         sp + 32           frame
 *     .Lret (return address)       $fp + 32          frame
 *     .Loncopy ..                  $fp + 32; sp = $s0 itself
 *
 * gort_sched_asyncpreempt_layout says so to C, by offsets from the entry.
 */
	.text
	.set	noreorder

	.globl	gort_sched_asyncpreempt
	.hidden	gort_sched_asyncpreempt
	.type	gort_sched_asyncpreempt, @function
	.ent	gort_sched_asyncpreempt
gort_sched_asyncpreempt:
	addiu	$sp, $sp, -32
.Lframed:
	sw	$ra, 28($sp)
	sw	$fp, 24($sp)
	move	$fp, $sp
	move	$t9, $s1		/* PIC: a function finds $gp from $t9 */
	jalr	$t9
	nop
.Lret:
	move	$sp, $s0		/* the copy: rt_sigreturn restores it all */
.Loncopy:
	li	$v0, 4193		/* __NR_rt_sigreturn, o32 */
	syscall
	break
.Lend:
	.end	gort_sched_asyncpreempt
	.size	gort_sched_asyncpreempt, .-gort_sched_asyncpreempt

	/* struct sigctxt_tramp_layout (runtime/sigctxt.h) */
	.section .rodata
	.balign	4
	.globl	gort_sched_asyncpreempt_layout
	.hidden	gort_sched_asyncpreempt_layout
	.type	gort_sched_asyncpreempt_layout, @object
gort_sched_asyncpreempt_layout:
	.word	.Lend - gort_sched_asyncpreempt		/* size */
	.word	.Lframed - gort_sched_asyncpreempt	/* framed */
	.word	.Lret - gort_sched_asyncpreempt		/* ret */
	.word	.Loncopy - gort_sched_asyncpreempt	/* oncopy */
	.word	0					/* entry: tsp - sp at the entry */
	.word	32					/* frame: tsp - sp, tsp - $fp */
	.size	gort_sched_asyncpreempt_layout, .-gort_sched_asyncpreempt_layout

	.section .note.GNU-stack,"",@progbits
