/*
 * unwind_mips.c -- stack walking on 32-bit MIPS (o32), by reading prologues.
 *
 * MIPS o32 has no frame-record chain: gcc's -fno-omit-frame-pointer only
 * sets $fp ($30, s8) to the function's own $sp; it does not link it to the
 * caller's.  What every non-trivial function does have is a prologue of the
 * same few instructions, scheduled among others:
 *
 *     addiu $sp, $sp, -N        0x27bd____  allocate an N-byte frame
 *     sw    $ra, R($sp)         0xafbf____  save the return address
 *     sw    $fp, F($sp)         0xafbe____  save the caller's $fp
 *     move  $fp, $sp            0x03a0f025  (or 0x03a0f021, addu)
 *
 * So, like Linux's MIPS unwinder (arch/mips/kernel/process.c), gort finds
 * the function holding pc in its symbol table, decodes the instructions
 * from its entry up to pc -- stopping at the first branch, jump or call,
 * where the prologue is over -- and learns N, R and F.  Then
 *
 *     base       = $fp if `move $fp,$sp` ran (survives alloca), else $sp
 *     caller pc  = word at base+R, or $ra if R was never stored (a leaf,
 *                  or pc still inside the prologue: signal frames only)
 *     caller sp  = base + N
 *     caller fp  = word at base+F if $fp was saved, else $fp unchanged
 *
 * An interrupted frame (f->live: every register is live) may also be in
 * its epilogue: past the `lw $fp,F($sp)` that gives the caller back its
 * $fp, the base is $sp (which `move $sp,$fp` made the frame's again); and
 * past the epilogue's `addiu $sp,$sp,N`, if that instruction lies just
 * behind pc, the frame is already gone and $ra already reloaded.  (gcc
 * normally puts that addiu in the delay slot of `jr $ra`, where no signal
 * can land between the two.)
 *
 * Every load is checked against [lo, hi) and the walk must move up the
 * stack, as on the frame-pointer architectures.  Async-signal-safe.
 */
#include "runtime/runtime.h"

#define ADDIU_SP_SP   0x27bd0000u  /* addiu $sp,$sp,imm */
#define SW_RA_SP      0xafbf0000u  /* sw $ra,imm($sp) */
#define SW_FP_SP      0xafbe0000u  /* sw $fp,imm($sp) */
#define LW_FP_SP      0x8fbe0000u  /* lw $fp,imm($sp) */
#define MOVE_FP_SP_OR 0x03a0f025u  /* or $fp,$sp,$zero */
#define MOVE_FP_SP_AD 0x03a0f021u  /* addu $fp,$sp,$zero */
#define MAX_PROLOGUE  128          /* instructions scanned at most */

static int is_control(uint32_t i)
{
	uint32_t op = i >> 26;
	if (op == 0) {                      /* SPECIAL: jr, jalr */
		uint32_t fn = i & 0x3f;
		return fn == 0x08 || fn == 0x09;
	}
	/* REGIMM (bltz...), j, jal, beq, bne, blez, bgtz, and the likely forms */
	return op == 1 || (op >= 2 && op <= 7) || (op >= 20 && op <= 23);
}

struct prologue {
	int32_t frame;   /* N, 0 if no frame was allocated before pc */
	int32_t ra_off;  /* R, -1 if $ra not yet saved */
	int32_t fp_off;  /* F, -1 if $fp not yet saved */
	int fp_set;      /* `move $fp,$sp` ran */
};

/* through: keep going past branches.  A return address (a frame that is
 * not live) proves the path to its call ran the prologue, even when gcc
 * shrink-wrapped it behind an early-exit branch (`if (!c) return 0;`
 * before the frame is made); an interrupted pc proves nothing of the
 * kind, so there the scan stops at the first branch. */
static void scan(uintptr_t entry, uintptr_t pc, struct prologue *p, int through)
{
	*p = (struct prologue){ 0, -1, -1, 0 };
	const uint32_t *ins = (const uint32_t *)entry;
	for (int k = 0; k < MAX_PROLOGUE && entry + 4 * (uintptr_t)k < pc; k++) {
		uint32_t i = ins[k];
		int16_t imm = (int16_t)(i & 0xffff);
		if ((i & 0xffff0000u) == ADDIU_SP_SP && imm < 0) {
			if (!p->frame)
				p->frame = -imm;
		} else if ((i & 0xffff0000u) == SW_RA_SP) {
			if (p->ra_off < 0)
				p->ra_off = imm;
		} else if ((i & 0xffff0000u) == SW_FP_SP) {
			if (p->fp_off < 0)
				p->fp_off = imm;
		} else if (i == MOVE_FP_SP_OR || i == MOVE_FP_SP_AD) {
			p->fp_set = 1;
		} else if (is_control(i) && !through) {
			break;
		}
	}
}

/* Does the instruction at a (looking back from pc) run on the way to pc?
 * Not if it sits in the delay slot of a jump or branch: then control
 * leaves with it, and pc -- a branch target just behind another path's
 * epilogue, `b switch_out; addiu $sp,$sp,40` -- is reached from elsewhere. */
static int falls_through(uintptr_t entry, uintptr_t a)
{
	return a < entry + 4 || !is_control(*(const uint32_t *)(a - 4));
}

/* Has the epilogue already reloaded $fp?  gcc's epilogue for a frame with
 * $fp is `move $sp,$fp; lw $ra,R($sp); lw $fp,F($sp); ...; jr $ra; addiu
 * $sp,$sp,N`: once the lw of $fp has run, $fp is the caller's again, and
 * the frame's base is in $sp alone.  Look back from pc, through the other
 * reloads, for it. */
static int fp_reloaded(uintptr_t entry, uintptr_t pc)
{
	for (int k = 1; k <= 8 && pc - 4 * (uintptr_t)k >= entry; k++) {
		uintptr_t a = pc - 4 * (uintptr_t)k;
		uint32_t i = *(const uint32_t *)a;
		if ((i & 0xffff0000u) == LW_FP_SP)
			return falls_through(entry, a);
		if (is_control(i) || i == MOVE_FP_SP_OR || i == MOVE_FP_SP_AD)
			return 0;
	}
	return 0;
}

/* Did the epilogue already pop the frame?  Look a few instructions back
 * from pc, through the loads that restore registers, for addiu $sp,+N. */
static int popped(uintptr_t entry, uintptr_t pc)
{
	for (int k = 1; k <= 4 && pc - 4 * (uintptr_t)k >= entry; k++) {
		uintptr_t a = pc - 4 * (uintptr_t)k;
		uint32_t i = *(const uint32_t *)a;
		if ((i & 0xffff0000u) == ADDIU_SP_SP)
			return (int16_t)(i & 0xffff) > 0 && falls_through(entry, a);
		if (is_control(i))
			return 0;
	}
	return 0;
}

/* Where does the function holding pc begin, when the symbol table does
 * not say?  A static function of a stripped library has no symbol, and
 * Debian's MIPS libc has unwind tables for only a quarter of its code
 * (its qsort's merge sort, its _int_malloc have none).  A function with a
 * frame makes it first thing, with the one `addiu $sp,$sp,-N` it has (gcc
 * moves $sp elsewhere only to pop the frame, upward): so the nearest such
 * instruction behind pc is the frame's, if pc's function has a frame --
 * or the function before's, if it has none.  The caller decides which
 * (guessed_frame_holds).  Never behind the start of the object's code. */
static uintptr_t guess_entry(uintptr_t pc)
{
	uintptr_t lo, hi;
	if (!gort_runtime_objcode(pc, &lo, &hi) || pc % 4 != 0)
		return 0;
	for (uintptr_t k = 1; k <= 4096 && pc - lo >= 4 * k; k++) {
		uintptr_t a = pc - 4 * k;
		uint32_t i = *(const uint32_t *)a;
		if ((i & 0xffff0000u) == ADDIU_SP_SP && (int16_t)(i & 0xffff) < 0)
			return a;
	}
	return 0;
}

/* Is ret a return address: just past a call and its delay slot? */
static int after_call(uintptr_t ret)
{
	uintptr_t lo, hi;
	if (ret % 4 != 0 || !gort_runtime_objcode(ret - 8, &lo, &hi) || ret - 8 < lo)
		return 0;
	uint32_t i = *(const uint32_t *)(ret - 8), op = i >> 26;
	return op == 3 ||                              /* jal */
		(op == 0 && (i & 0x3f) == 0x09) ||     /* jalr */
		(op == 1 && ((i >> 16) & 0x1f) == 0x11); /* bal, bgezal */
}

/* A guessed frame (guess_entry) whose $ra slot holds saved: is it pc's
 * own?  The slot must hold a return address.  A return address (not
 * live) is then enough: its function called, so it has a frame.  An
 * interrupted pc may be a leaf, and the frame the function before's: it
 * is pc's own if the slot holds the very $ra the registers hold (saved,
 * and nothing called since), or if $ra points into the function itself
 * (it has called since: the slot is where the caller's went). */
static int guessed_frame_holds(const struct gort_frame *f, uintptr_t entry, uintptr_t saved)
{
	if (!after_call(saved))
		return 0;
	return !f->live || saved == f->lr || (f->lr > entry && f->lr <= f->pc + 8);
}

static int load(uintptr_t a, uintptr_t lo, uintptr_t hi, uintptr_t *v)
{
	if (a < lo || a > hi - 4 || a % 4 != 0)
		return 0;
	*v = *(const uintptr_t *)a;
	return 1;
}

int gort_runtime_unwind_step(struct gort_frame *f, uintptr_t lo, uintptr_t hi, const struct gort_obj **cache)
{
	int t = gort_runtime_unwind_asyncpreempt(f, lo, hi);
	if (t)
		return t > 0;
	if ((t = gort_runtime_cfi_step(f, lo, hi, cache)) >= 0)
		return t;
	int live = f->live;
	const struct gort_func *fn = gort_runtime_findfunc(f->pc - (live ? 0 : 1));
	uintptr_t ret, sp, fp = f->fp, entry = fn ? fn->entry : guess_entry(f->pc - (live ? 0 : 4));

	if (!entry) {
		/* Unknown code.  With live registers $ra still names the caller
		 * (this is the two-frame sample of an unknown leaf); without,
		 * there is nothing safe to read. */
		if (!live)
			return 0;
		*f = (struct gort_frame){ f->lr, f->sp, f->fp, 0, 0 };
		return 1;
	}
	if (live && popped(entry, f->pc)) {
		*f = (struct gort_frame){ f->lr, f->sp, f->fp, 0, 0 };
		return 1;
	}

	struct prologue p;
	scan(entry, f->pc, &p, !live);
	uintptr_t base = p.fp_set && !(live && fp_reloaded(entry, f->pc)) ? f->fp : f->sp;
	if (!fn) {
		uintptr_t saved;
		if (!(p.frame > 0 && p.ra_off >= 0 && load(base + (uintptr_t)p.ra_off, lo, hi, &saved) &&
		      guessed_frame_holds(f, entry, saved))) {
			if (!live)
				return 0;
			/* a leaf that made no frame: $ra names the caller */
			*f = (struct gort_frame){ f->lr, f->sp, f->fp, 0, 0 };
			return 1;
		}
	}
	if (p.ra_off >= 0) {
		if (!load(base + (uintptr_t)p.ra_off, lo, hi, &ret))
			return 0;
	} else if (live) {
		ret = f->lr;     /* a leaf, or pc before the save */
	} else {
		return 0;        /* a caller that never saved $ra cannot be */
	}
	if (p.fp_off >= 0 && !load(base + (uintptr_t)p.fp_off, lo, hi, &fp))
		return 0;
	sp = base + (uintptr_t)p.frame;
	if (ret == 0 || sp > hi || sp < f->sp || (sp == f->sp && !live))
		return 0;
	*f = (struct gort_frame){ ret, sp, fp, 0, 0 };
	return 1;
}

/* The caller's frame: its pc is our return address, its sp is ours (this
 * function allocates no frame), its $fp is still in $fp.  Written in
 * assembly so that no prologue can change any of the three. */
__asm__(
	".text\n"
	".globl gort_runtime_frame_caller\n"
	".hidden gort_runtime_frame_caller\n"
	".type gort_runtime_frame_caller, @function\n"
	".ent gort_runtime_frame_caller\n"
	"gort_runtime_frame_caller:\n"
	".set push\n"
	".set noreorder\n"
	"	sw $ra, 0($a0)\n"
	"	sw $sp, 4($a0)\n"
	"	sw $fp, 8($a0)\n"
	"	sw $zero, 12($a0)\n"
	"	jr $ra\n"
	"	sw $zero, 16($a0)\n"
	".set pop\n"
	".end gort_runtime_frame_caller\n"
	".size gort_runtime_frame_caller, .-gort_runtime_frame_caller\n");
