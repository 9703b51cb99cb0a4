/*
 * goroutines.c -- printing goroutines, Go style (Go: traceback.go's
 * goroutineheader and tracebackothers).
 *
 *     goroutine 7 [chan receive, 2 minutes]:
 *     switch_out()
 *             +0xaf pc=0x55d0c2a1b3fc
 *     gort_chan_recv()
 *             +0xe pc=0x55d0c2a1a82e
 *     worker()
 *             +0x3c pc=0x55d0c2a1a109
 *     created by main
 *             +0x4e pc=0x55d0c2a1a1f0
 *
 * A parked goroutine's stack starts at the frame its context switch saved
 * (gort_sched_ctxframe); the running one's at the caller.  Either way the
 * walk stays inside the goroutine's own stack bounds.  Async-signal-safe,
 * like everything the dying paths call.
 *
 * Package runtime prints panics and fatal signals but knows no goroutine:
 * it stands below this package.  gort_sched_signals_init, at the end of
 * this file, hands it the hooks that print them, and installs SIGQUIT,
 * whose dump is every goroutine.
 */
#include <signal.h>
#include <sys/mman.h>

#include "runtime/sigctxt.h"
#include "sched/sched.h"

static const char *statusname(struct g *gp)
{
	switch (atomic_load32(&gp->status)) {
	case Gidle: return "idle";
	case Grunnable: return "runnable";
	case Grunning: return "running";
	case Gsyscall: return "syscall";
	case Gwaiting: return gp->waitreason < wrCount ? gort_sched_waitreasons[gp->waitreason] : "waiting";
	case Gdead: return "dead";
	}
	return "???";
}

void gort_sched_printg_header(struct g *gp, const char *status)
{
	if (!status)
		status = statusname(gp);
	uint32_t mins = 0;
	if (atomic_load32(&gp->status) == Gwaiting && gp->waitsince)
		mins = (gort_sched_coarse_seconds() - gp->waitsince) / 60;
	if (mins)
		gort_runtime_printf("goroutine %llu [%s, %u minutes]:\n", (unsigned long long)gp->goid,
			status, mins);
	else
		gort_runtime_printf("goroutine %llu [%s]:\n", (unsigned long long)gp->goid, status);
}

/* Print the frames down to the goroutine's entry; the runtime's own
 * start-up frames below it (gofirst, gostart) are left out, and a
 * "created by" line names where gort_go was called, as in Go. */
static void printpcs(struct g *gp, const uintptr_t *pcs, int n, int first_is_return)
{
	const struct gort_func *first = gort_runtime_findfunc((uintptr_t)gort_sched_gofirst);
	const struct gort_func *start = gort_runtime_findfunc((uintptr_t)gort_sched_gostart);
	int i;
	for (i = 0; i < n; i++) {
		/* above the preemption trampoline is the interrupted pc itself,
		 * not a return address: the walk stored it + 1 */
		int exact = gort_runtime_pc_exact(pcs, i, first_is_return);
		uintptr_t pc = exact && i > 0 ? pcs[i] - 1 : pcs[i];
		const struct gort_func *f = gort_runtime_findfunc(exact ? pc : pc - 1);
		if (f && (f == first || f == start))
			break;
		gort_runtime_printframe(pc, !exact);
	}
	if (i == 64)
		gort_runtime_printf("...additional frames elided...\n");
	if (gp && gp->gopc) {
		const struct gort_func *f = gort_runtime_findfunc(gp->gopc - 1);
		gort_runtime_printf("created by %s\n\t+0x%lx pc=%p\n", f ? f->name : "?",
			f ? (unsigned long)(gp->gopc - f->entry) : 0ul, (void *)gp->gopc);
	}
}

/* A goroutine that is not running: walk from its saved context. */
void gort_sched_traceback_g(struct g *gp)
{
	struct gort_frame f;
	uintptr_t pcs[64];
	gort_sched_ctxframe(gp->sp, &f);
	int n = gort_runtime_unwind(f, gp->stack_lo, gp->stack_hi, pcs, 64);
	printpcs(gp, pcs, n, 1);
}

/* The goroutine running on this thread (or, outside one, the thread),
 * from the caller's caller up, skipping `skip` more frames. */
__attribute__((noinline)) void gort_sched_traceback_current(int skip)
{
	struct g *gp = getg();
	if (!gp) {
		gort_runtime_traceback_self(skip + 1);
		return;
	}
	struct gort_frame f;
	uintptr_t pcs[64];
	gort_runtime_frame_caller(&f);
	int n = gort_runtime_unwind(f, gp->stack_lo, gp->stack_hi, pcs, 64);
	gort_sched_printg_header(gp, "running");
	if (n > 1 + skip)
		printpcs(gp, pcs + 1 + skip, n - 1 - skip, 1);
}

/* Visit the goroutines in id order, goroutine 1 (main) first, as Go
 * prints them.  allgs is newest first, and a reused G keeps its place
 * under a new id, so the list must be sorted: into an array from mmap,
 * which, unlike malloc, is safe on the dying paths and in a signal
 * handler.  Heap sort: no recursion, no allocation.  If even mmap fails,
 * the list order will do. */
static void each_g_by_id(void (*fn)(struct g *gp, void *arg), void *arg)
{
	size_t n = 0;
	for (struct g *gp = gort_sched.allgs; gp; gp = gp->alllink)
		n++;
	size_t bytes = (n ? n : 1) * sizeof(struct g *);
	struct g **v = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v == MAP_FAILED) {
		for (struct g *gp = gort_sched.allgs; gp; gp = gp->alllink)
			fn(gp, arg);
		return;
	}
	size_t k = 0;
	for (struct g *gp = gort_sched.allgs; gp && k < n; gp = gp->alllink)
		v[k++] = gp;
	n = k;
	for (size_t start = n / 2, end = n;;) {
		size_t root;
		if (start > 0) {
			root = --start;
		} else {
			if (end <= 1)
				break;
			struct g *t = v[0];
			v[0] = v[--end];
			v[end] = t;
			root = 0;
		}
		for (;;) {
			size_t c = 2 * root + 1;
			if (c >= end)
				break;
			if (c + 1 < end && v[c]->goid < v[c + 1]->goid)
				c++;
			if (v[root]->goid >= v[c]->goid)
				break;
			struct g *t = v[root];
			v[root] = v[c];
			v[c] = t;
			root = c;
		}
	}
	for (size_t i = 0; i < n; i++)
		fn(v[i], arg);
	munmap(v, bytes);
}

static void print_blocked(struct g *gp, void *arg)
{
	(void)arg;
	if (atomic_load32(&gp->status) != Gwaiting)
		return;
	gort_runtime_printf("\n");
	gort_sched_printg_header(gp, NULL);
	gort_sched_traceback_g(gp);
}

/* Every goroutine that is waiting: the body of the deadlock report. */
void gort_sched_dump_blocked(void)
{
	each_g_by_id(print_blocked, NULL);
}

/* A goroutine interrupted by a signal: walk from the live frame f. */
void gort_sched_traceback_frame(struct g *gp, struct gort_frame f, uintptr_t lo)
{
	uintptr_t pcs[64];
	int n = gort_runtime_unwind(f, lo, gp->stack_hi, pcs, 64);
	printpcs(gp, pcs, n, 0);
}

static void print_other(struct g *gp, void *skip)
{
	uint32_t s = atomic_load32(&gp->status);
	if (gp == skip || s == Gdead || s == Gidle)
		return;
	gort_runtime_printf("\n");
	gort_sched_printg_header(gp, NULL);
	if (s == Grunning || s == Gsyscall)
		gort_runtime_printf("\tgoroutine running on other thread; stack unavailable\n");
	else
		gort_sched_traceback_g(gp);
}

/* Every goroutine but `skip` (printed already) and the dead, in id order:
 * SIGQUIT's dump.  One running on another thread cannot be walked from
 * here (its registers are that thread's), as in Go. */
void gort_sched_dump_all(struct g *skip)
{
	each_g_by_id(print_other, skip);
}

/* --- what the runtime asks, and SIGQUIT -------------------------------------- */

/* A fault (runtime/signal.c): a stack overflow if the fault is in the guard
 * region under the goroutine's stack, or a little below it, or the
 * goroutine's own sp is already there (a slab stack has no guard: it ran
 * off the end into whatever lies below).  A sp anywhere else -- the
 * handler's own signal stack, say -- is no overflow.  The report walks
 * from the faulting context, below the stack if that is where it is. */
static void overflow(uintptr_t addr, struct gort_frame f)
{
	struct m *m = gort_sched_m;
	struct g *gp = m ? m->curg : NULL;
	if (gp && (gort_sched_stack_guardhit(gp, addr) || gort_sched_stack_guardhit(gp, f.sp)))
		gort_sched_stack_overflow(gp, f, addr);
}

/* A fatal signal's report: what this thread ran when interrupted at f. */
static int traceback_signal(struct gort_frame f)
{
	struct m *m = gort_sched_m;
	struct g *gp = m ? m->curg : NULL;
	if (gp) {
		gort_sched_printg_header(gp, "running");
		gort_sched_traceback_frame(gp, f, gp->stack_lo);
	} else if (m) {
		gort_runtime_printf("runtime stack (M%lld):\n", (long long)m->id);
		gort_runtime_traceback_frame(f, m->g0_lo, m->g0_hi);
	}
	return m != NULL;
}

/* SIGQUIT (^\ at a terminal) prints every goroutine -- id, status, wait
 * reason, minutes waiting, stack -- and exits with status 2, as Go does:
 * the way to ask a hung program what it is waiting for. */
static int quit(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	struct m *m = gort_sched_m;
	struct g *gp = m ? m->curg : NULL;
	struct gort_frame f = { sigctxt_pc(ctx), sigctxt_sp(ctx), sigctxt_fp(ctx), sigctxt_lr(ctx), 1 };
	gort_runtime_printf("SIGQUIT: quit\nPC=%p m=%lld sigcode=%d\n", (void *)f.pc,
		m ? (long long)m->id : -1LL, si->si_code);
	if (gp) {
		gort_runtime_printf("\n");
		gort_sched_printg_header(gp, "running");
		gort_sched_traceback_frame(gp, f, gp->stack_lo);
	}
	gort_sched_dump_all(gp);
	gort_runtime_exit(2);
}

/* schedinit: the runtime's hooks first, then the signals that use them. */
void gort_sched_signals_init(void)
{
	gort_runtime_hooks = (struct gort_runtime_hooks){
		.traceback = gort_sched_traceback_current,
		.overflow = overflow,
		.traceback_signal = traceback_signal,
	};
	gort_runtime_signals_init();   /* SIGSEGV, SIGBUS */
	gort_runtime_sigregister(SIGQUIT, quit, GORT_SIG_BLOCKALL);
}
