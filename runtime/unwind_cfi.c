/*
 * unwind_cfi.c -- one step of a stack walk by the unwind tables cfi.c
 * compiled, the same on every architecture.
 *
 * A row says, for the instruction a frame is at, where its CFA (the
 * caller's sp at the call) is -- sp or fp plus a constant -- and where the
 * return address and the caller's fp are: saved at the CFA plus a
 * constant, or still in their registers.  So a step is: find the row,
 * compute the CFA, load at most two words, and the caller's frame is
 *
 *     pc = the return address,  sp = the CFA,  fp = the saved fp (or fp).
 *
 * Which instruction a frame is at depends on how the walk reached it: a
 * frame a signal interrupted (f->live) is at its pc exactly, and its row
 * is pc's -- even at the first instruction of a function, or in its
 * epilogue; every other frame's pc is a return address, one past its
 * call, and its row is that of pc - 1, the call itself.
 *
 * gort_runtime_cfi_step returns -1 when it has no row, or one whose rule
 * it does not follow: the architecture's own step (frame pointers,
 * prologue reading) takes that frame.  Every load lies inside [lo, hi),
 * is aligned, and the walk moves up the stack; otherwise it stops (0).
 * Async-signal-safe: it reads only the immutable snapshot (symtab.c), in
 * a pin the caller holds.
 */
#include "runtime/runtime.h"

#define W sizeof(uintptr_t)

static int load(uintptr_t at, uintptr_t lo, uintptr_t hi, uintptr_t *v)
{
	if (at < lo || hi < W || at > hi - W || at % W != 0)
		return 0;
	*v = *(const uintptr_t *)at;
	return 1;
}

int gort_runtime_cfi_step(struct gort_frame *f, uintptr_t lo, uintptr_t hi, const struct gort_obj **cache)
{
	uintptr_t base;
	const struct gort_cfirow *r = gort_runtime_findrow(f->live ? f->pc : f->pc - 1, &base, cache);
	if (!r || r->cfa == CFI_UNKNOWN)
		return -1;
	uintptr_t cfa;
	switch (r->cfa) {
	case CFI_SP:
		cfa = f->sp + (uintptr_t)(intptr_t)r->cfa_off;
		break;
	case CFI_FP:
		cfa = f->fp + (uintptr_t)(intptr_t)r->cfa_off;
		break;
	case CFI_PLT:
		cfa = f->sp + (uintptr_t)(intptr_t)r->cfa_off + ((f->pc & 15) >= (uintptr_t)r->ra_off ? 8 : 0);
		break;
	default:
		return -1;
	}
	uintptr_t ra, fp = f->fp;
	switch (r->ra) {
	case CFI_RA_NONE:
		return 0;                        /* the outermost frame: the walk is over */
	case CFI_RA_REG:
		/* Only a frame a signal interrupted has a live link register;
		 * a caller's lr was overwritten by the call that made it one. */
		if (!f->live)
			return -1;
		ra = f->lr;
		if (cfa < f->sp)
			return 0;
		break;
	default: {
		/* x86-64's PLT rows keep their threshold where ra_off would be */
		intptr_t off = r->cfa == CFI_PLT ? -(intptr_t)W : (intptr_t)r->ra_off * 4;
		if (cfa <= f->sp || !load(cfa + (uintptr_t)off, lo, hi, &ra))
			return 0;
		break;
	}
	}
	if (r->cfa != CFI_PLT) {
		if (r->fp == CFI_FP_AT) {
			if (!load(cfa + (uintptr_t)((intptr_t)r->fp_off * 4), lo, hi, &fp))
				return 0;
		} else if (r->fp == CFI_FP_LOST) {
			fp = 0;                      /* a later frame that needs it stops */
		}
	}
#if defined(__aarch64__)
	if (r->flags & CFI_RA_SIGNED)
		ra &= ((uintptr_t)1 << 48) - 1;  /* strip the pointer-authentication code */
#endif
	if (ra == 0 || cfa > hi)
		return 0;
	f->pc = ra;
	f->sp = cfa;
	f->fp = fp;
	f->lr = 0;
	f->live = 0;
	return 1;
}
