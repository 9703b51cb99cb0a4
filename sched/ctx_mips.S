/*
 * ctx_mips.S -- the context switch, 32-bit MIPS o32, either endianness.
 *
 * Callee-saved: s0-s7 ($16-$23), the frame pointer ($30), and the even
 * floating-point registers $f20-$f30 when the ABI has hardware floats
 * (Debian builds for the FPXX mode, where sdc1 on an even register is
 * right in both FR modes).  $gp is saved too: in PIC code a function may
 * rely on it holding its own module's value.  ctxswitch stores them and
 * $ra in a 96-byte frame on the current stack, saves $sp, loads the other
 * stack's $sp, reloads its frame and returns through its $ra.
 *
 *     0..28  s0..s7     32  fp     36  gp     40  ra     48..88  f20..f30
 *
 * The frame begins with `addiu $sp,$sp,-96` and `sw $ra,40($sp)`, the two
 * instructions runtime/unwind_mips.c looks for, so the profiler can walk
 * through a goroutine that is switching.
 *
 * A fresh stack, as ctxinit leaves it, is such a frame at hi - 96 with
 * s0 = start, s1 = fn, s2 = arg, fp = 0, gp = ours, ra = gostart, which
 * calls start(fn, arg) with the 16-byte argument area o32 requires.
 */
	.text
	.set	noreorder
	.set	nomacro

	.globl	gort_sched_ctxswitch
	.hidden	gort_sched_ctxswitch
	.type	gort_sched_ctxswitch, @function
	.ent	gort_sched_ctxswitch
gort_sched_ctxswitch:			/* a0 = &save, a1 = load */
	addiu	$sp, $sp, -96
	sw	$31, 40($sp)
	sw	$16, 0($sp)
	sw	$17, 4($sp)
	sw	$18, 8($sp)
	sw	$19, 12($sp)
	sw	$20, 16($sp)
	sw	$21, 20($sp)
	sw	$22, 24($sp)
	sw	$23, 28($sp)
	sw	$30, 32($sp)
	sw	$28, 36($sp)
#ifndef __mips_soft_float
	sdc1	$f20, 48($sp)
	sdc1	$f22, 56($sp)
	sdc1	$f24, 64($sp)
	sdc1	$f26, 72($sp)
	sdc1	$f28, 80($sp)
	sdc1	$f30, 88($sp)
#endif
	sw	$sp, 0($4)
	move	$sp, $5
	lw	$16, 0($sp)
	lw	$17, 4($sp)
	lw	$18, 8($sp)
	lw	$19, 12($sp)
	lw	$20, 16($sp)
	lw	$21, 20($sp)
	lw	$22, 24($sp)
	lw	$23, 28($sp)
	lw	$30, 32($sp)
	lw	$28, 36($sp)
	lw	$31, 40($sp)
#ifndef __mips_soft_float
	ldc1	$f20, 48($sp)
	ldc1	$f22, 56($sp)
	ldc1	$f24, 64($sp)
	ldc1	$f26, 72($sp)
	ldc1	$f28, 80($sp)
	ldc1	$f30, 88($sp)
#endif
	jr	$31
	addiu	$sp, $sp, 96		/* delay slot */
	.end	gort_sched_ctxswitch
	.size	gort_sched_ctxswitch, .-gort_sched_ctxswitch

	.globl	gort_sched_ctxinit
	.hidden	gort_sched_ctxinit
	.type	gort_sched_ctxinit, @function
	.ent	gort_sched_ctxinit
gort_sched_ctxinit:			/* a0 = hi, a1 = start, a2 = fn, a3 = arg */
	addiu	$2, $4, -96		/* v0: the frame, returned */
	move	$9, $31			/* find gostart PC-relatively: no GOT */
	bal	1f
	nop
1:	addiu	$8, $31, gort_sched_gostart - 1b
	move	$31, $9
	sw	$5, 0($2)		/* s0 = start */
	sw	$6, 4($2)		/* s1 = fn */
	sw	$7, 8($2)		/* s2 = arg */
	sw	$0, 32($2)		/* fp = 0 */
	sw	$28, 36($2)		/* gp = ours (start lives in our module) */
	sw	$8, 40($2)		/* ra = gostart */
	jr	$31
	nop
	.end	gort_sched_ctxinit
	.size	gort_sched_ctxinit, .-gort_sched_ctxinit

	.globl	gort_sched_gostart
	.hidden	gort_sched_gostart
	.type	gort_sched_gostart, @function
	.ent	gort_sched_gostart
gort_sched_gostart:
	addiu	$sp, $sp, -24		/* o32 argument area, 8-byte aligned */
	move	$4, $17			/* a0 = fn */
	move	$5, $18			/* a1 = arg */
	move	$25, $16		/* t9 = start: PIC callees compute gp from it */
	jalr	$25
	nop
	break
	.end	gort_sched_gostart
	.size	gort_sched_gostart, .-gort_sched_gostart

/* void gort_sched_ctxframe(void *sp, struct gort_frame *f): the frame of a
 * switched-out G, for tracebacks (see ctx_amd64.S). */
	.globl	gort_sched_ctxframe
	.hidden	gort_sched_ctxframe
	.type	gort_sched_ctxframe, @function
	.ent	gort_sched_ctxframe
gort_sched_ctxframe:
	lw	$8, 40($4)		/* ra */
	sw	$8, 0($5)		/* pc */
	addiu	$8, $4, 96
	sw	$8, 4($5)		/* sp */
	lw	$8, 32($4)		/* fp */
	sw	$8, 8($5)
	sw	$0, 12($5)		/* lr */
	jr	$31
	sw	$0, 16($5)		/* live: no, a return address */
	.end	gort_sched_ctxframe
	.size	gort_sched_ctxframe, .-gort_sched_ctxframe

	.section .note.GNU-stack,"",@progbits
