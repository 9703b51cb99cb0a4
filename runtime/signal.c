/*
 * signal.c -- the runtime's own signal handlers (Go: signal_unix.go).
 *
 * SIGSEGV and SIGBUS.  A fault in or just below the guard region under the
 * running goroutine's stack is a stack overflow: Go's "fatal error: stack overflow", with the goroutine's
 * traceback, exit status 2.  Any other fault is passed to whoever handled
 * the signal before gort (a sanitizer, a debugger's agent), or, if nobody
 * did, reported as Go reports a nil dereference: "panic: runtime error:
 * invalid memory address or nil pointer dereference" and the traceback.
 *
 * SIGQUIT (^\ at a terminal) prints every goroutine -- id, status, wait
 * reason, minutes waiting, stack -- and exits with status 2, as Go does:
 * the way to ask a hung program what it is waiting for.
 *
 * Every M runs its handlers on its own signal stack (sigaltstack), so a
 * goroutine that overflowed, with no stack left, can still be reported.
 *
 * Async-signal-safe: the handler reads the faulting context and the
 * thread's M (initial-exec TLS), walks the stack within its bounds (an
 * overflowed one from wherever its sp got to: sched/stack.c's
 * gort_sched_stack_overflow), and prints with write(2).  No malloc, no
 * stdio, no locks.
 */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "runtime/sigctxt.h"
#include "sched/sched.h"

#define SIGSTACK (64 * 1024)

static struct sigaction prev_segv, prev_bus;

static void chain(const struct sigaction *prev, int sig, siginfo_t *si, void *ctx)
{
	if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction) {
		prev->sa_sigaction(sig, si, ctx);
		return;
	}
	if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
		prev->sa_handler(sig);
		return;
	}
}

static void fault(int sig, siginfo_t *si, void *ctx)
{
	struct m *m = gort_sched_m;
	struct g *gp = m ? m->curg : NULL;
	uintptr_t addr = (uintptr_t)si->si_addr;
	struct gort_frame f = { sigctxt_pc(ctx), sigctxt_sp(ctx), sigctxt_fp(ctx), sigctxt_lr(ctx), 1 };

	/* A stack overflow: the fault is in the guard region under the
	 * goroutine's stack, or a little below it, or the goroutine's own sp
	 * is already there (a slab stack has no guard: it ran off the end into
	 * whatever lies below).  A sp anywhere else -- this handler's own
	 * signal stack, say -- is no overflow.  The report walks from the
	 * faulting context, below the stack if that is where it is. */
	if (gp && (gort_sched_stack_guardhit(gp, addr) || gort_sched_stack_guardhit(gp, f.sp)))
		gort_sched_stack_overflow(gp, f, addr);

	const struct sigaction *prev = sig == SIGSEGV ? &prev_segv : &prev_bus;
	if (((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction) ||
	    (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN)) {
		chain(prev, sig, si, ctx);
		return;
	}
	gort_runtime_printf("panic: runtime error: invalid memory address or nil pointer dereference\n"
		"[signal %s: %s code=%#x addr=%p pc=%p]\n\n",
		sig == SIGSEGV ? "SIGSEGV" : "SIGBUS",
		sig == SIGSEGV ? "segmentation violation" : "bus error",
		(unsigned)si->si_code, si->si_addr, (void *)f.pc);
	if (gp) {
		gort_sched_printg_header(gp, "running");
		gort_sched_traceback_frame(gp, f, gp->stack_lo);
	} else if (m) {
		gort_runtime_printf("runtime stack (M%lld):\n", (long long)m->id);
		gort_runtime_traceback_frame(f, m->g0_lo, m->g0_hi);
	} else {
		gort_runtime_printframe(f.pc, 0);
	}
	gort_runtime_exit(2);
}

static void quit(int sig, siginfo_t *si, void *ctx)
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

/* SIGPIPE: gort's own writes to pipes must see EPIPE, and everybody
 * else's SIGPIPE must do what it did before gort (sched/fd.c explains).
 * The thread writing for gort raises gort_runtime_in_write around its
 * write(2); the signal is delivered to that thread, synchronously.
 * Async-signal-safe: a TLS read, sigaction and raise. */
__thread volatile sig_atomic_t gort_runtime_in_write __attribute__((tls_model("initial-exec")));
static struct sigaction prev_pipe;
static volatile uint32_t pipe_installed;

static void brokenpipe(int sig, siginfo_t *si, void *ctx)
{
	if (gort_runtime_in_write)
		return;   /* the write returns EPIPE */
	if ((prev_pipe.sa_flags & SA_SIGINFO) && prev_pipe.sa_sigaction) {
		prev_pipe.sa_sigaction(sig, si, ctx);
	} else if (prev_pipe.sa_handler == SIG_DFL) {
		/* die of it, as the program would have: the default back, and
		 * the signal again (pending until this handler returns) */
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	} else if (prev_pipe.sa_handler != SIG_IGN) {
		prev_pipe.sa_handler(sig);
	}
}

/* Every handler of gort's runs on the signal stack, with siginfo. */
static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags, int blockall,
	struct sigaction *prev)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | flags;
	if (blockall)
		sigfillset(&sa.sa_mask);
	else
		sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, prev);
}

void gort_runtime_sigpipe_init(void)
{
	if (atomic_loadacq32(&pipe_installed) || !atomic_cas32(&pipe_installed, 0, 1))
		return;
	install(SIGPIPE, brokenpipe, SA_RESTART, 0, &prev_pipe);
}

void gort_runtime_signals_init(void)
{
	install(SIGSEGV, fault, SA_NODEFER, 0, &prev_segv);
	install(SIGBUS, fault, SA_NODEFER, 0, &prev_bus);
	install(SIGQUIT, quit, 0, 1, NULL);
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
