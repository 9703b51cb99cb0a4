/*
 * signal.c -- the one dispatch point for gort's signals, and the runtime's
 * own handlers (Go: signal_unix.go's sighandler, and its sigtable).
 *
 * gort handles five kinds of signal, for three packages:
 *
 *   SIGPROF           a profiler's sample                prof/sigprof.c
 *   SIGURG            asynchronous preemption            sched/preempt.c
 *   SIGQUIT           the dump of every goroutine        sched/goroutines.c
 *   SIGSEGV, SIGBUS   a stack overflow or a bad address  here
 *   SIGPIPE           EPIPE for gort's own writes        here
 *
 * Every one of them is installed here, with one entry, sighandler(), so
 * that what each handler needs is done once, the same way for all:
 *
 *   - it runs on the M's signal stack (SA_ONSTACK; gort_runtime_minit
 *     gives each M one), so a goroutine with no stack left can still be
 *     reported, and the preemption handler knows the frame it copies;
 *   - it gets the siginfo and the interrupted context (SA_SIGINFO), whose
 *     registers sigctxt.h reads;
 *   - errno is saved and restored around it: the interrupted code never
 *     sees a system call of the handler's;
 *   - a signal that was not its own goes where it would have gone
 *     without gort: to the handler installed before gort's (a
 *     sanitizer's, the program's own), else to the default action -- for
 *     SIGPIPE, dying of it.
 *
 * The table.  The package that owns a signal registers its handler once,
 * with gort_runtime_sigregister, before it makes the signal happen:
 * schedinit for SIGSEGV, SIGBUS, SIGQUIT and SIGURG, the first descriptor
 * gort serves for SIGPIPE, the first gort_prof_start for SIGPROF.  Its
 * slot -- the handler, and what the signal did before -- is filled in
 * before sigaction makes sighandler reachable, and never changes after.  A
 * handler returns 1 if the signal was its own, 0 to hand it back.  So
 * the runtime, the lowest package but one, calls up into sched and prof
 * without knowing them, and the packages depend one way
 * (docs/HACKING.md, "Layers").
 *
 * SIGSEGV and SIGBUS.  A fault in or just below the guard region under
 * the running goroutine's stack is a stack overflow: Go's "fatal error:
 * stack overflow", with the goroutine's traceback, exit status 2 (the
 * scheduler knows the stacks, and answers through a hook).  Any other
 * fault is passed to whoever handled the signal before gort (a sanitizer,
 * a debugger's agent), or, if nobody did, reported as Go reports a nil
 * dereference: "panic: runtime error: invalid memory address or nil
 * pointer dereference" and the traceback.
 *
 * ASYNC-SIGNAL-SAFE.  Everything here but registering and minit runs in a
 * signal handler, at any instruction of the interrupted thread: no
 * malloc, no stdio, no locks.  The table is read without one: it is
 * written before its signal can arrive, and never again.  The handlers
 * read the faulting context, the thread's M (initial-exec TLS, in the
 * hooks), walk stacks within their bounds, and print with write(2).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "atomic/atomic.h"
#include "runtime/runtime.h"
#include "runtime/sigctxt.h"

#define SIGSTACK (64 * 1024)

struct gort_runtime_hooks gort_runtime_hooks;

static struct slot {
	gort_runtime_sigfn *fn;   /* the owner's handler */
	struct sigaction prev;    /* what the signal did before gort */
} slots[NSIG];

static int handled_before(const struct slot *s)
{
	return s->prev.sa_handler != SIG_DFL && s->prev.sa_handler != SIG_IGN;
}

/* A signal that was not gort's: what it would have done without gort. */
static void forward(const struct slot *s, int sig, siginfo_t *si, void *ctx)
{
	if (handled_before(s)) {
		if (s->prev.sa_flags & SA_SIGINFO)
			s->prev.sa_sigaction(sig, si, ctx);
		else
			s->prev.sa_handler(sig);
		return;
	}
	if (s->prev.sa_handler == SIG_IGN)
		return;
	switch (sig) {
	case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
		return;   /* their default action is to do nothing */
	}
	/* Die of it, as the program would have: the default action back,
	 * and the signal again, pending until this handler returns. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	raise(sig);
}

/* The one entry of every signal gort handles. */
static void sighandler(int sig, siginfo_t *si, void *ctx)
{
	int saved = errno;
	const struct slot *s = &slots[sig];
	if (!s->fn || !s->fn(sig, si, ctx))
		forward(s, sig, si, ctx);
	errno = saved;
}

void gort_runtime_sigregister(int sig, gort_runtime_sigfn *fn, unsigned flags)
{
	if (sig <= 0 || sig >= NSIG)
		gort_runtime_throwf("gort_runtime_sigregister: no signal %d", sig);
	struct slot *s = &slots[sig];
	if (s->fn == fn)
		return;
	if (s->fn)
		gort_runtime_throwf("signal %d has a handler already", sig);
	/* The slot first, complete; then the signal may come (sigaction, a
	 * system call, orders the stores before any delivery). */
	sigaction(sig, NULL, &s->prev);
	s->fn = fn;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = sighandler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	if (flags & GORT_SIG_NODEFER)
		sa.sa_flags |= SA_NODEFER;
	if (flags & GORT_SIG_RESTART)
		sa.sa_flags |= SA_RESTART;
	if (flags & GORT_SIG_BLOCKALL)
		sigfillset(&sa.sa_mask);
	else
		sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* SIGSEGV and SIGBUS (see the top). */
static int fault(int sig, siginfo_t *si, void *ctx)
{
	struct gort_frame f = { sigctxt_pc(ctx), sigctxt_sp(ctx), sigctxt_fp(ctx), sigctxt_lr(ctx), 1 };
	if (gort_runtime_hooks.overflow)
		gort_runtime_hooks.overflow((uintptr_t)si->si_addr, f);   /* returns if it is none */
	if (handled_before(&slots[sig]))
		return 0;   /* theirs */
	gort_runtime_printf("panic: runtime error: invalid memory address or nil pointer dereference\n"
		"[signal %s: %s code=%#x addr=%p pc=%p]\n\n",
		sig == SIGSEGV ? "SIGSEGV" : "SIGBUS",
		sig == SIGSEGV ? "segmentation violation" : "bus error",
		(unsigned)si->si_code, si->si_addr, (void *)f.pc);
	if (!gort_runtime_hooks.traceback_signal || !gort_runtime_hooks.traceback_signal(f))
		gort_runtime_printframe(f.pc, 0);
	gort_runtime_exit(2);
}

/* SIGPIPE: gort's own writes to pipes must see EPIPE, and everybody
 * else's SIGPIPE must do what it did before gort (sched/fd.c explains).
 * The thread writing for gort raises gort_runtime_in_write around its
 * write(2); the signal is delivered to that thread, synchronously.  Not
 * ours: sighandler forwards it. */
__thread volatile sig_atomic_t gort_runtime_in_write __attribute__((tls_model("initial-exec")));
static volatile uint32_t pipe_installed;

static int brokenpipe(int sig, siginfo_t *si, void *ctx)
{
	(void)sig, (void)si, (void)ctx;
	return gort_runtime_in_write != 0;   /* ours: the write returns EPIPE */
}

void gort_runtime_sigpipe_init(void)
{
	if (atomic_loadacq32(&pipe_installed) || !atomic_cas32(&pipe_installed, 0, 1))
		return;
	gort_runtime_sigregister(SIGPIPE, brokenpipe, GORT_SIG_RESTART);
}

void gort_runtime_signals_init(void)
{
	gort_runtime_sigregister(SIGSEGV, fault, GORT_SIG_NODEFER);
	gort_runtime_sigregister(SIGBUS, fault, GORT_SIG_NODEFER);
}

void gort_runtime_minit(void **sigstack, size_t *size)
{
	void *p = mmap(NULL, SIGSTACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		gort_runtime_throw("cannot allocate a signal stack");
	stack_t ss = { .ss_sp = p, .ss_size = SIGSTACK, .ss_flags = 0 };
	if (sigaltstack(&ss, NULL) != 0)
		gort_runtime_throw("sigaltstack failed");
	*sigstack = p;
	*size = SIGSTACK;
	sigset_t none;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
}
