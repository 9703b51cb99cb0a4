/*
 * sigprof.c -- the SIGPROF handler (Go: sigprof in proc.go, and
 * sighandler in signal_unix.go).
 *
 * ASYNC-SIGNAL-SAFE.  Everything here runs inside a signal handler, on the
 * M's signal stack, at any instruction of the interrupted thread -- inside
 * malloc, inside a scheduler lock, inside the atomic package with an
 * atomic64 spinlock held.  So: no malloc, no stdio, no locks except the
 * atomic package's; thread-local state is initial-exec TLS (gort_sched_m);
 * the symbol table and the unwinder only read immutable data.  In test
 * builds an interposed malloc throws if it is called while
 * m->in_sighandler is set (Go's mallocing trap).
 *
 * The #20146 fix.  With 64-bit atomics emulated by spinlocks, the handler
 * must not touch a 64-bit atomic -- and writing a sample into the profile
 * buffer does -- if the interrupted code holds an atomic64 lock.  Only the
 * atomic package's locking functions can hold one, and they live in their
 * own linker section, so: if the interrupted PC is in that section, count
 * the signal in this M's lost-in-atomic64 counter and return.  The next
 * signal on this M that lands elsewhere writes the count first, as one
 * sample of that weight whose stack is _LostSIGPROFDuringAtomic64 above
 * _System; whatever is left at stop is flushed by the profiler.  Go keeps
 * one racily updated global counter and can lose counts; gort's are per M
 * and exact: signals handled = samples written + lost in atomic64 + lost
 * to a full buffer.
 */
#include <time.h>

#include "atomic/atomic.h"
#include "prof/prof.h"
#include "runtime/sigctxt.h"
#include "sched/sched.h"

/* The pseudo-functions.  Their symbols carry Go's names (the C names are
 * ours: a leading underscore and a capital are reserved in C). */
void prof_system(void) __asm__("_System");
void prof_external(void) __asm__("_ExternalCode");
void prof_lostatomic(void) __asm__("_LostSIGPROFDuringAtomic64");
void prof_lostevent(void) __asm__("_LostProfileEvent");
__attribute__((noinline, used)) void prof_system(void) { __asm__ __volatile__("nop"); }
__attribute__((noinline, used)) void prof_external(void) { __asm__ __volatile__("nop"); }
__attribute__((noinline, used)) void prof_lostatomic(void) { __asm__ __volatile__("nop"); }
__attribute__((noinline, used)) void prof_lostevent(void) { __asm__ __volatile__("nop"); }

/* A PC inside each: entry + 1, so that a caller frame's "return address
 * - 1" lands on the entry and still names the function. */
uintptr_t gort_prof_pc(enum profpc which)
{
	switch (which) {
	case PC_SYSTEM: return (uintptr_t)prof_system + 1;
	case PC_EXTERNAL: return (uintptr_t)prof_external + 1;
	case PC_LOSTATOMIC: return (uintptr_t)prof_lostatomic + 1;
	case PC_LOSTEVENT: return (uintptr_t)prof_lostevent + 1;
	}
	return 0;
}

static int64_t thread_cputime(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Is pc inside the context switch, where sp belongs to neither stack? */
static int in_ctxswitch(uintptr_t pc)
{
	static const struct gort_func *f;   /* racy, idempotent */
	if (!f)
		f = gort_runtime_findfunc((uintptr_t)gort_sched_ctxswitch);
	return f && pc >= f->entry && pc < f->end;
}

/* Walk the interrupted stack: within the running goroutine's stack, the
 * M's own (g0) stack, or its signal stack, whichever holds sp.  Anything
 * else -- or a PC in the context switch -- gives the two-frame sample
 * {pc, _System}: never a wild read. */
static int unwind(struct m *mp, struct g *gp, struct gort_frame f, uintptr_t *stk)
{
	uintptr_t lo = 0, hi = 0, sp = f.sp;
	if (in_ctxswitch(f.pc))
		goto short_sample;
	if (gp && sp >= gp->stack_lo - 256 && sp < gp->stack_hi) {
		lo = gp->stack_lo - 256;
		hi = gp->stack_hi;
	} else if (sp >= mp->g0_lo && sp < mp->g0_hi) {
		lo = mp->g0_lo;
		hi = mp->g0_hi;
	} else if (sp >= (uintptr_t)mp->sigstack && sp < (uintptr_t)mp->sigstack + mp->sigstack_size) {
		lo = (uintptr_t)mp->sigstack;
		hi = lo + mp->sigstack_size;
	} else {
		goto short_sample;
	}
	return gort_runtime_unwind(f, lo, hi, stk, PROF_MAXSTACK);
short_sample:
	stk[0] = f.pc;
	stk[1] = gort_prof_pc(PC_SYSTEM);
	return 2;
}

/* The CPU time this signal stands for.  A POSIX timer's signal says how
 * many expirations it stands for: itself plus si_overrun, those the kernel
 * folded into it because it checks CPU timers only on its tick -- so no
 * system call is needed.  Any other SIGPROF (setitimer's, or one sent by
 * hand) reads this thread's CPU clock and takes the difference. */
static uint64_t cputime_of(const siginfo_t *si, struct m *mp)
{
	if (si->si_code == SI_TIMER)
		return (uint64_t)gort_prof_period * (1 + (uint64_t)(si->si_overrun > 0 ? si->si_overrun : 0));
	int64_t now = thread_cputime();
	uint64_t cpu = (uint64_t)(mp->prof_lastcpu && now > mp->prof_lastcpu ?
		now - mp->prof_lastcpu : gort_prof_period);
	mp->prof_lastcpu = now;
	return cpu;
}

/* Go's sigprof(pc, sp, lr, gp, mp). */
static void sigprof(struct gort_frame f, struct g *gp, struct m *mp, uint64_t cpu)
{
	mp->prof_signals++;

	/* The fix for golang/go#20146: in the atomic package, only count. */
	if (GORT_ATOMIC64_SPINLOCK && gort_prof_fix && gort_runtime_pc_in_atomic(f.pc)) {
		mp->prof_lostatomic++;
		mp->prof_pending++;
		mp->prof_pending_cpu += cpu;
		if (TRACING())
			gort_trace_sigevent(mp, TRACE_LOSTATOMIC, gp ? gp->goid : 0);
		return;
	}

	struct profbuf *b = atomic_loadp((void *const volatile *)&mp->profbuf);
	if (mp->prof_pending && b) {
		uintptr_t lost[2] = { gort_prof_pc(PC_LOSTATOMIC), gort_prof_pc(PC_SYSTEM) };
		if (gort_prof_buf_write(b, NULL, mp->prof_pending, mp->prof_pending_cpu, lost, 2)) {
			mp->prof_pending = 0;
			mp->prof_pending_cpu = 0;
		}
	}

	uintptr_t stk[PROF_MAXSTACK];
	int n = unwind(mp, gp, f, stk);
	if (TRACING())
		gort_trace_sigevent(mp, TRACE_SAMPLE, gp ? gp->goid : 0);
	if (b && gort_prof_buf_write(b, gp ? gp->labels : NULL, 1, cpu, stk, n)) {
		mp->prof_written++;
	} else {
		mp->prof_lostfull++;
		mp->prof_lostfull_cpu += cpu;
	}
}

/* Registered with the runtime's dispatch point (runtime/signal.c), which
 * runs it on the M's signal stack with errno saved.  Every SIGPROF is the
 * profiler's: it returns 1. */
int gort_prof_handler(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	struct m *mp = gort_sched_m;
	if (!mp) {
		/* A thread gort did not make (setitimer's signals go anywhere). */
		if (atomic_loadacq32(&gort_prof_state) == PROF_ON)
			atomic_add32(&gort_prof_external, 1);
		return 1;
	}
	/* Say we are here before looking at the state: the profiler stops by
	 * setting the state, then waiting for every prof_inhandler to drop
	 * to zero (both sides use sequentially consistent operations). */
	atomic_add32(&mp->prof_inhandler, 1);
	if (atomic_load32(&gort_prof_state) == PROF_ON) {
		mp->in_sighandler = 1;
		struct gort_frame f = { sigctxt_pc(ctx), sigctxt_sp(ctx), sigctxt_fp(ctx), sigctxt_lr(ctx), 1 };
		mp->prof_sigframe = f;
		gort_runtime_symtab_pin();
		sigprof(f, mp->curg, mp, cputime_of(si, mp));
		gort_runtime_symtab_unpin();
		mp->in_sighandler = 0;
	}
	atomic_add32(&mp->prof_inhandler, -1);
	return 1;
}

#if GORT_DEBUG_RUNTIME
/* Called by the atomic package, in a debug runtime, when this thread wants
 * an atomic64 lock it already holds.  In the SIGPROF handler that is
 * golang/go#20146 about to hang: say so, precisely, and stop. */
static void selfdeadlock(unsigned lockindex)
{
	struct m *mp = gort_sched_m;
	if (!mp || !mp->in_sighandler)
		return;   /* not ours to explain: the atomic package throws */
	struct gort_frame f = mp->prof_sigframe;
	const struct gort_func *fn = gort_runtime_findfunc(f.pc);
	gort_runtime_printf("deadlock: SIGPROF handler on M%lld wants atomic64 lock %u held by the "
		"interrupted %s+%#lx\n\n", (long long)mp->id, lockindex, fn ? fn->name : "?",
		(unsigned long)(fn ? f.pc - fn->entry : f.pc));
	struct g *gp = mp->curg;
	if (gp && f.sp >= gp->stack_lo - 256 && f.sp < gp->stack_hi) {
		gort_sched_printg_header(gp, "running, interrupted by SIGPROF");
		gort_sched_traceback_frame(gp, f, gp->stack_lo - 256);
	} else {
		gort_runtime_printf("M%lld (interrupted outside a goroutine):\n", (long long)mp->id);
		gort_runtime_traceback_frame(f, mp->g0_lo, mp->g0_hi);
	}
	gort_runtime_printf("\nthe SIGPROF handler, on M%lld's signal stack:\n", (long long)mp->id);
	struct gort_frame h;
	uintptr_t pcs[32];
	gort_runtime_frame_caller(&h);
	uintptr_t lo = (uintptr_t)mp->sigstack;
	int n = gort_runtime_unwind(h, lo, lo + mp->sigstack_size, pcs, 32);
	for (int i = 0; i < n; i++)
		gort_runtime_printframe(pcs[i], 1);
	gort_runtime_exit(2);
}

__attribute__((constructor))
static void install_selfdeadlock(void)
{
	gort_atomic_selfdeadlock_hook = selfdeadlock;
}
#endif
