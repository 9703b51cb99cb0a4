/*
 * panic.c -- panics and fatal errors.
 *
 * Go distinguishes a panic (the program misused something: send on a
 * closed channel, an unaligned 64-bit atomic) from a throw (the runtime
 * cannot go on: "fatal error: all goroutines are asleep - deadlock!").  A
 * Go panic can be recovered; C has no unwinding to recover with, so in gort
 * both end the process, but they keep Go's words and Go's exit status 2 so
 * that a Go programmer reads the output as they would Go's.
 *
 * Everything here is async-signal-safe: a panic may start inside a signal
 * handler or while malloc's lock is held.  Only one thread gets to print;
 * a second one to panic at the same time waits for the first to exit,
 * so two tracebacks never interleave.
 */
#include <sched.h>
#include <stdarg.h>
#include <unistd.h>

#include "atomic/atomic.h"
#include "runtime/runtime.h"

static volatile uint32_t dying;

/* What other packages need done on the way out: the profiler removes the
 * temporary its profile was being written to.  Registered by constructors,
 * before any thread can die; read-only after. */
#define MAXATDIE 4
static void (*atdie[MAXATDIE])(void);
static int natdie;

void gort_runtime_atdie(void (*fn)(void))
{
	if (natdie == MAXATDIE)
		gort_runtime_throw("too many gort_runtime_atdie hooks");
	atdie[natdie++] = fn;
}

/* Every caller runs the hooks, even when another thread is already dying:
 * whichever thread calls _exit first ends them all, so none may leave the
 * hooks to another -- and so a hook may run twice, and must not mind. */
void gort_runtime_exit(int status)
{
	for (int i = 0; i < natdie; i++)
		atdie[i]();
	_exit(status);
}

static __attribute__((noreturn, noinline)) void die(const char *prefix, const char *msg)
{
	if (!atomic_cas32(&dying, 0, 1))
		for (;;)
			sched_yield();   /* another thread is printing its death */
	gort_runtime_printf("%s%s\n\n", prefix, msg);
	/* Skip die() and the panic/throw entry point: start at their caller. */
	if (gort_runtime_hooks.traceback)
		gort_runtime_hooks.traceback(2);   /* the goroutine's (sched) */
	else
		gort_runtime_traceback_self(2);
	gort_runtime_exit(2);
}

void gort_runtime_throw(const char *msg)
{
	die("fatal error: ", msg);
}

void gort_runtime_panic(const char *msg)
{
	die("panic: ", msg);
}

void gort_runtime_throwf(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	gort_runtime_vfmt(msg, sizeof msg, fmt, ap);
	va_end(ap);
	die("fatal error: ", msg);
}

void gort_runtime_panicf(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	gort_runtime_vfmt(msg, sizeof msg, fmt, ap);
	va_end(ap);
	die("panic: ", msg);
}

/* Package atomic, below this one, dies through these (atomic.h). */
__attribute__((constructor(101)))
static void atomic_dies_here(void)
{
	gort_atomic_panicf = gort_runtime_panicf;
	gort_atomic_throwf = gort_runtime_throwf;
}
