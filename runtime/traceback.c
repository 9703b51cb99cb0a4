/*
 * traceback.c -- printing a stack, Go style.
 *
 *     panic: unaligned 64-bit atomic operation (add64 at 0x7ffc3c1e0a04)
 *
 *     thread 4242 [running]:
 *     gort_atomic_unaligned()
 *             +0x3c pc=0x55d0c2a1b3fc
 *     gort_atomic_add64()
 *             +0x1d pc=0x55d0c2a1a11d
 *     main()
 *             +0x22 pc=0x55d0c2a1a062
 *
 * Go prints file:line where gort prints the offset into the function and
 * the PC; `addr2line -e prog 0x...` (minus the load bias) gives the line.
 * The walk itself is the architecture's (unwind_<arch>.c); this file only
 * finds the bounds of the stack to walk and names the frames.
 */
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "runtime/sigctxt.h"

/* The main thread's stack, found once at start-up (finding it later may
 * need malloc: glibc reads /proc/self/maps for it). */
static uintptr_t main_lo, main_hi;

static void stack_bounds(uintptr_t sp, uintptr_t *lo, uintptr_t *hi)
{
	if (sp >= main_lo && sp < main_hi) {
		*lo = main_lo;
		*hi = main_hi;
		return;
	}
	/* Another thread: ask glibc.  Only the dying path comes here. */
	pthread_attr_t a;
	void *addr;
	size_t size;
	*lo = sp;
	*hi = sp;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		if (pthread_attr_getstack(&a, &addr, &size) == 0) {
			*lo = (uintptr_t)addr;
			*hi = (uintptr_t)addr + size;
		}
		pthread_attr_destroy(&a);
	}
}

__attribute__((constructor(102)))
static void traceback_init(void)
{
	pthread_attr_t a;
	void *addr;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		if (pthread_attr_getstack(&a, &addr, &size) == 0) {
			main_lo = (uintptr_t)addr;
			main_hi = (uintptr_t)addr + size;
		}
		pthread_attr_destroy(&a);
	}
}

void gort_runtime_printframe(uintptr_t pc, int is_return_address)
{
	/* A return address points after the call; the call itself is one
	 * byte earlier, and that is the PC that lies inside the caller even
	 * when the call was the caller's last instruction. */
	uintptr_t look = is_return_address ? pc - 1 : pc;
	gort_runtime_symtab_pin();
	const struct gort_func *f = gort_runtime_findfunc(look);
	if (f)
		gort_runtime_printf("%s()\n\t+0x%lx pc=%p\n", f->name,
			(unsigned long)(pc - f->entry), (void *)pc);
	else
		gort_runtime_printf("?()\n\tpc=%p\n", (void *)pc);
	gort_runtime_symtab_unpin();
}

/* --- the preemption trampoline ---------------------------------------------
 *
 * A goroutine preempted asynchronously runs sched/preempt_<arch>.S as if
 * the interrupted instruction had called it, with the kernel's signal
 * frame copied onto its stack.  The trampoline's frame record (or, on
 * MIPS, its prologue) names the interrupted pc, but as a return address,
 * and it says nothing of the interrupted function's own state: a leaf's
 * caller is in lr, a function in its prologue has no frame record yet,
 * and once the trampoline has moved sp onto the copy no prologue rule
 * describes it at all.  The copy does: it holds every register the
 * signal interrupted.  So the walk, at a frame in the trampoline -- the
 * interrupted pc itself (a SIGPROF at any of its instructions) or the
 * return address of its call (a SIGPROF in gort_sched_asyncpreempt2 or
 * below) -- finds the copy by the mark the handler left at the
 * trampoline's entry sp (runtime/sigctxt.h), and steps to the interrupted
 * frame as a live one, as the signal saw it.  Go's traceback does the
 * same with the registers asyncPreempt saved.
 *
 * Every word is read inside [lo, hi) and the mark must match; otherwise
 * the walk stops there.  Async-signal-safe.
 *
 * The trampoline is the scheduler's (sched/preempt_<arch>.S): package
 * sched tells the runtime where it is and how it is laid out, once, at
 * start-up and before it can send the first preemption signal (a hook,
 * as docs/HACKING.md's "Layers" has it).  Until then there is none. */
static uintptr_t tramp_entry;
static const struct sigctxt_tramp_layout *tramp_layout;

void gort_runtime_set_asyncpreempt(uintptr_t entry, const struct sigctxt_tramp_layout *layout)
{
	tramp_entry = entry;
	tramp_layout = layout;
}

#define W sizeof(uintptr_t)

/* The copy's ucontext, if tsp holds a mark that leads to one in [lo, hi). */
__attribute__((no_sanitize("address")))
static const ucontext_t *marked_copy(uintptr_t tsp, uintptr_t lo, uintptr_t hi)
{
	if (tsp % 16 != 0 || tsp < lo || hi < 2 * W || tsp > hi - 2 * W)
		return NULL;
	const uintptr_t *mark = (const uintptr_t *)tsp;
	uintptr_t ret = mark[0];
	if (mark[1] != (ret ^ SIGCTXT_MARK) || ret <= tsp || ret - tsp > 256)
		return NULL;   /* preempt.c leaves 64 to 80 bytes between */
	uintptr_t uc = sigctxt_sigreturn_uc(ret);
	if (uc % W != 0 || uc < ret || uc > hi || hi - uc < SIGCTXT_REGS_END)
		return NULL;
	return (const ucontext_t *)uc;
}

int gort_runtime_in_asyncpreempt(uintptr_t pc)
{
	return tramp_layout && pc - tramp_entry < tramp_layout->size;
}

__attribute__((no_sanitize("address")))
int gort_runtime_unwind_asyncpreempt(struct gort_frame *f, uintptr_t lo, uintptr_t hi)
{
	const struct sigctxt_tramp_layout *L = tramp_layout;
	uintptr_t entry = tramp_entry;
	if (!L)
		return 0;
	uintptr_t off = f->pc - entry;
	const ucontext_t *uc;
	if (f->live) {
		if (off >= L->size)
			return 0;
		if (off < L->framed)
			uc = marked_copy(f->sp + L->entry, lo, hi);
		else if (off < L->oncopy)
			uc = marked_copy(f->sp + L->frame, lo, hi);
		else if ((uc = marked_copy(f->fp + L->frame, lo, hi)) != NULL &&
			 sigctxt_sigreturn_uc(f->sp) != (uintptr_t)uc)
			uc = NULL;   /* sp is on the copy: it must be this one */
	} else {
		if (off - 1 >= L->size)
			return 0;
		if (off != L->ret)
			return -1;   /* no other return address is in it */
		/* fp is the trampoline's own, restored by its callee's frame;
		 * on MIPS sp is exact too */
		uc = marked_copy(f->fp + L->frame, lo, hi);
		if (!uc)
			uc = marked_copy(f->sp + L->frame, lo, hi);
	}
	if (!uc)
		return -1;
	struct gort_frame in = { sigctxt_pc(uc), sigctxt_sp(uc), sigctxt_fp(uc), sigctxt_lr(uc), 1 };
	/* the interrupted sp is above the copy, and the walk goes up */
	if (in.pc == 0 || in.sp < (uintptr_t)uc + SIGCTXT_REGS_END || in.sp > hi || in.sp <= f->sp)
		return -1;
	*f = in;
	return 1;
}

/* A frame that the walk took from a signal context -- the interrupted one,
 * above the trampoline -- has an exact pc; every other frame but the
 * first has a return address, and whoever symbolises a stack looks up
 * return address - 1, the call.  So such a pc is stored + 1 (as Go's
 * tracebackPCs does), and every consumer's "- 1" lands on it exactly:
 * a goroutine interrupted at a function's first instruction is credited
 * to that function, not to the one before it in memory. */
int gort_runtime_unwind(struct gort_frame f, uintptr_t lo, uintptr_t hi, uintptr_t *pcs, int max)
{
	int n = 0;
	if (max <= 0)
		return 0;
	pcs[n++] = f.pc;
	gort_runtime_symtab_pin();
	const struct gort_obj *cache = NULL;
	while (n < max && gort_runtime_unwind_step(&f, lo, hi, &cache))
		pcs[n++] = f.live ? f.pc + 1 : f.pc;
	gort_runtime_symtab_unpin();
	return n;
}

int gort_runtime_pc_exact(const uintptr_t *pcs, int i, int first_is_return)
{
	if (i == 0)
		return !first_is_return;
	uintptr_t prev = i == 1 && !first_is_return ? pcs[0] : pcs[i - 1] - 1;
	return gort_runtime_in_asyncpreempt(prev);
}

/* Print pcs[i] of a walk (gort_runtime_unwind), an exact pc as such. */
static void printpc(const uintptr_t *pcs, int i, int first_is_return)
{
	if (i > 0 && gort_runtime_pc_exact(pcs, i, first_is_return))
		gort_runtime_printframe(pcs[i] - 1, 0);
	else
		gort_runtime_printframe(pcs[i], i > 0 || first_is_return);
}

__attribute__((noinline)) void gort_runtime_traceback_self(int skip)
{
	struct gort_frame f;
	uintptr_t lo, hi, pcs[64];
	gort_runtime_frame_caller(&f);   /* our own frame */
	stack_bounds(f.sp, &lo, &hi);
	int n = gort_runtime_unwind(f, lo, hi, pcs, 64);
	gort_runtime_printf("thread %ld [running]:\n", (long)syscall(SYS_gettid));
	/* pcs[0] is this function; skip it and the caller's `skip` frames. */
	for (int i = 1 + skip; i < n; i++)
		printpc(pcs, i, 1);
	if (n == 64)
		gort_runtime_printf("...additional frames elided...\n");
}

void gort_runtime_traceback_frame(struct gort_frame f, uintptr_t lo, uintptr_t hi)
{
	uintptr_t pcs[64];
	int n = gort_runtime_unwind(f, lo, hi, pcs, 64);
	for (int i = 0; i < n; i++)
		printpc(pcs, i, 0);
	if (n == 64)
		gort_runtime_printf("...additional frames elided...\n");
}
