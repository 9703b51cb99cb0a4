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
 */
#include "runtime/runtime.h"

#define W sizeof(uintptr_t)

int gort_runtime_unwind_step(struct gort_frame *f, uintptr_t lo, uintptr_t hi)
{
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
}
