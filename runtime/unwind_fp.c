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
 * frame pointer only describes the interrupted function once its prologue
 * has run.  Before that -- at the entry, between the two prologue
 * instructions, or in a leaf compiled without a frame at all -- fp still
 * points at the caller's record, and walking it would skip the caller.
 * So the unwinder reads the function's first instructions (from the
 * symbol table's entry) and, when the frame is not there yet, finds the
 * return address where the call left it: at [sp] on x86-64 (or [sp+8]
 * after `push %rbp`), in the link register on aarch64.
 */
#include "runtime/runtime.h"

#define W sizeof(uintptr_t)

/* For a live frame: if the interrupted function has not set up its frame
 * record (yet), step to the caller and return 1; 0 means walk normally. */
static int step_frameless(struct gort_frame *f, uintptr_t lo, uintptr_t hi)
{
	const struct gort_func *fn = gort_runtime_findfunc(f->pc);
	if (!fn)
		return 0;
	const unsigned char *code = (const unsigned char *)fn->entry;
	uintptr_t off = f->pc - fn->entry, ret = 0, at;
#if defined(__x86_64__)
	/* endbr64; push %rbp; mov %rsp,%rbp */
	uintptr_t k = 0;
	if (code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa)
		k = 4;
	int has_frame = code[k] == 0x55 && code[k + 1] == 0x48 && code[k + 2] == 0x89 && code[k + 3] == 0xe5;
	if (has_frame && off > k + 3)
		return 0;                    /* the frame is set up: walk it */
	at = has_frame && off == k + 1 ? f->sp + W : f->sp;   /* after the push */
	if (at < lo || at > hi - W)
		return 0;
	ret = *(const uintptr_t *)at;
	f->sp = at + W;
#elif defined(__aarch64__)
	/* [paciasp | bti c]; stp x29, x30, [sp, #-N]!; mov x29, sp */
	const uint32_t *ins = (const uint32_t *)code;
	uintptr_t k = ins[0] == 0xd503233f || ins[0] == 0xd503245f ? 1 : 0;
	int has_frame = (ins[k] & 0xffc07fff) == 0xa9807bfd && ins[k + 1] == 0x910003fd;
	if (has_frame && off > 4 * (k + 1))
		return 0;
	ret = f->lr;                     /* x30 still holds the return address */
	(void)lo, (void)hi, (void)at;
#endif
	if (!ret)
		return 0;
	f->pc = ret;
	f->lr = 0;
	f->live = 0;
	return 1;                        /* fp is unchanged: still the caller's */
}

int gort_runtime_unwind_step(struct gort_frame *f, uintptr_t lo, uintptr_t hi)
{
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
