/*
 * unwind_fp.c -- stack walking by frame pointers, for x86-64 and aarch64.
 *
 * With -fno-omit-frame-pointer every function on these two architectures
 * starts by pushing a two-word frame record and pointing the frame
 * pointer (rbp, x29) at it:
 *
 *          higher addresses
 *        +------------------+
 *        | caller's frame   |
 *        +------------------+
 *        | return address   |  fp + 8
 *  fp -> | caller's fp      |  fp + 0
 *        +------------------+
 *        | locals ...       |
 *          lower addresses
 *
 * so the records form a linked list from the innermost frame outward, and
 * the return address in each record is a PC in the caller.  (x86-64 pushes
 * the return address by `call` and the fp by the prologue; aarch64 stores
 * both with one stp; the layout in memory is the same.)
 *
 * Every read is checked first: the record must lie inside [lo, hi) and be
 * aligned, and the next record must be strictly higher.  A corrupt stack
 * ends the walk; it never leads the walker astray.  Async-signal-safe.
 *
 * The first frame of a signal (f->live) needs one more look, because the
 * frame pointer only describes the interrupted function while its frame
 * record is made: before that -- at the entry, between the two prologue
 * instructions, in a leaf compiled without a frame at all, on the early
 * exit gcc shrink-wraps ahead of the prologue -- and again once the
 * epilogue has popped it, fp still (or again) points at the caller's
 * record, and walking it would skip the caller.  So for a live frame the
 * unwinder finds the return address where it is at that instant:
 *
 *   x86-64   by the code: the function's `push %rbp` and `mov %rsp,%rbp`
 *            are found in its first bytes (gcc may schedule other
 *            instructions before and between them); before the push the
 *            return address is at [sp], after it at [sp+8], and at a
 *            `ret`, or a tail `jmp` right after `pop %rbp` or `leave`,
 *            at [sp] again.  (A cold path that gcc placed after the
 *            prologue but entered without it is not told apart: a
 *            sample there loses its caller);
 *   aarch64  by the registers, which need no decoding: the return
 *            address is in the link register unless the function has
 *            called something since its entry -- then lr points into the
 *            function itself, and the frame record holds it.  Whether fp
 *            is the function's own record or still the caller's, the
 *            record says: the function's own saved the very lr it holds.
 *
 * The interrupted frame above the preemption trampoline is live too (the
 * walk takes it from the signal context the trampoline will resume:
 * traceback.c), and gets the same look.
 */
#include "runtime/runtime.h"

#define W sizeof(uintptr_t)

#if defined(__x86_64__)
/* Where the prologue is: the offsets of `push %rbp` (0x55) and of the
 * `mov %rsp,%rbp` (48 89 e5) after it, in the function's first bytes.
 * 0 if there are none there: a function without a frame. */
#define PROLOGUE_BYTES 128
static int find_prologue(const unsigned char *code, uintptr_t size, uintptr_t *push, uintptr_t *mov)
{
	uintptr_t n = size < PROLOGUE_BYTES ? size : PROLOGUE_BYTES;
	for (uintptr_t m = 1; m + 3 <= n; m++) {
		if (code[m] != 0x48 || code[m + 1] != 0x89 || code[m + 2] != 0xe5)
			continue;
		for (uintptr_t p = m; p-- > 0 && m - p <= 16;)
			if (code[p] == 0x55) {
				*push = p;
				*mov = m;
				return 1;
			}
	}
	return 0;
}

/* Has the epilogue at pc already popped the frame record?  At a `ret`,
 * always; at a tail jump right after `pop %rbp` or `leave`, too. */
static int popped(const unsigned char *code, uintptr_t off, uintptr_t size)
{
	const unsigned char *pc = code + off;
	int two = off + 1 < size;            /* pc[1] is still the function's */
	if (pc[0] == 0xc3 || pc[0] == 0xc2 || (two && pc[0] == 0xf3 && pc[1] == 0xc3))
		return 1;
	int jmp = pc[0] == 0xe9 || pc[0] == 0xeb || (two && pc[0] == 0xff && ((pc[1] >> 3) & 7) == 4);
	return jmp && off > 0 && (pc[-1] == 0x5d || pc[-1] == 0xc9);
}
#endif

/* For a live frame: if the interrupted function's frame record is not
 * (or no longer) where fp points, step to the caller and return 1; 0
 * means walk the record normally. */
static int step_frameless(struct gort_frame *f, uintptr_t lo, uintptr_t hi)
{
	const struct gort_func *fn = gort_runtime_findfunc(f->pc);
	if (!fn) {
#if defined(__aarch64__)
		/* Code no symbol and no unwind table covers: on aarch64 that
		 * is mostly the linker's PLT stubs, which touch neither sp nor
		 * x29 nor x30 (they jump through x16/x17).  Whatever it is, an
		 * interrupted leaf's caller is in the link register. */
		if (f->lr && f->lr != f->pc) {
			f->pc = f->lr;
			f->lr = 0;
			f->live = 0;
			return 1;
		}
#endif
		return 0;
	}
	uintptr_t off = f->pc - fn->entry, ret = 0, at;
#if defined(__x86_64__)
	const unsigned char *code = (const unsigned char *)fn->entry;
	uintptr_t push, mov;
	if (!find_prologue(code, fn->end - fn->entry, &push, &mov))
		at = f->sp;                      /* no frame: the return address is on top */
	else if (off <= push)
		at = f->sp;                      /* before the push */
	else if (off <= mov)
		at = f->sp + W;                  /* after the push, before the mov */
	else if (popped(code, off, fn->end - fn->entry))
		at = f->sp;                      /* the epilogue has popped the record */
	else
		return 0;                        /* the frame is set up: walk it */
	if (at < lo || hi < W || at > hi - W || at % W != 0)
		return 0;
	ret = *(const uintptr_t *)at;
	f->sp = at + W;
#elif defined(__aarch64__)
	(void)off;
	uintptr_t lr = f->lr;
	if (lr - 4 >= fn->entry && lr - 4 < fn->end)
		return 0;                        /* it has called since its entry: the record holds lr */
	ret = lr;                            /* x30 still (or again) holds the return address */
	at = f->fp;
	if (at >= lo && hi >= 2 * W && at <= hi - 2 * W && at % W == 0 && at >= f->sp) {
		const uintptr_t *rec = (const uintptr_t *)at;
		if (rec[1] == lr && (rec[0] == 0 || rec[0] > at)) {
			/* fp is the function's own record, made before any call:
			 * the caller's fp is in it */
			f->fp = rec[0];
			f->sp = at + 2 * W;
		}
	}
#endif
	if (!ret)
		return 0;
	f->pc = ret;
	f->lr = 0;
	f->live = 0;
	return 1;
}

int gort_runtime_unwind_step(struct gort_frame *f, uintptr_t lo, uintptr_t hi, const struct gort_obj **cache)
{
	int t = gort_runtime_unwind_asyncpreempt(f, lo, hi);
	if (t)
		return t > 0;
	if ((t = gort_runtime_cfi_step(f, lo, hi, cache)) >= 0)
		return t;
	if (f->live && step_frameless(f, lo, hi))
		return 1;
	f->live = 0;
	uintptr_t fp = f->fp;
	if (fp < lo || hi < 2 * W || fp > hi - 2 * W || fp % W != 0)
		return 0;
	const uintptr_t *rec = (const uintptr_t *)fp;
	uintptr_t next = rec[0], ret = rec[1];
	if (ret == 0 || (next != 0 && next <= fp))
		return 0;
	f->pc = ret;
	f->sp = fp + 2 * W;
	f->fp = next;
	f->lr = 0;
	f->live = 0;
	return 1;
}

__attribute__((noinline))
void gort_runtime_frame_caller(struct gort_frame *f)
{
	const uintptr_t *rec = __builtin_frame_address(0);
	f->pc = rec[1];
	f->sp = (uintptr_t)rec + 2 * W;
	f->fp = rec[0];
	f->lr = 0;
	f->live = 0;
}
