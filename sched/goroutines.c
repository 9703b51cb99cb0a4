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
 */
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
		int ret = i > 0 || first_is_return;
		const struct gort_func *f = gort_runtime_findfunc(pcs[i] - (ret ? 1 : 0));
		if (f && (f == first || f == start))
			break;
		gort_runtime_printframe(pcs[i], ret);
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

/* Every goroutine that is waiting: the body of the deadlock report. */
void gort_sched_dump_blocked(void)
{
	for (struct g *gp = gort_sched.allgs; gp; gp = gp->alllink) {
		if (atomic_load32(&gp->status) != Gwaiting)
			continue;
		gort_runtime_printf("\n");
		gort_sched_printg_header(gp, NULL);
		gort_sched_traceback_g(gp);
	}
}

/* A goroutine interrupted by a signal: walk from the live frame f. */
void gort_sched_traceback_frame(struct g *gp, struct gort_frame f, uintptr_t lo)
{
	uintptr_t pcs[64];
	int n = gort_runtime_unwind(f, lo, gp->stack_hi, pcs, 64);
	printpcs(gp, pcs, n, 0);
}

/* Every goroutine but `skip` (printed already) and the dead: SIGQUIT's
 * dump.  One running on another thread cannot be walked from here (its
 * registers are that thread's), as in Go. */
void gort_sched_dump_all(struct g *skip)
{
	for (struct g *gp = gort_sched.allgs; gp; gp = gp->alllink) {
		uint32_t s = atomic_load32(&gp->status);
		if (gp == skip || s == Gdead || s == Gidle)
			continue;
		gort_runtime_printf("\n");
		gort_sched_printg_header(gp, NULL);
		if (s == Grunning || s == Gsyscall)
			gort_runtime_printf("\tgoroutine running on other thread; stack unavailable\n");
		else
			gort_sched_traceback_g(gp);
	}
}
