/*
 * debug.c -- GORTDEBUG, the runtime's debugging knobs (Go: GODEBUG).
 *
 *     GORTDEBUG=name=value,name=value
 *
 * Read once, at start-up, into a small table, so that asking is a lookup
 * without getenv (which is not async-signal-safe).  Unknown names are
 * reported once on stderr and otherwise ignored, as Go does.
 *
 *   stackguard=0     no guard pages below goroutine stacks: every stack
 *                    relies on the canary check (for tests of that path);
 *                    stackguard=1: mprotect guards even where the kernel
 *                    has guard markers (sched/stack.c)
 *   lostatomic64=0   switch off the profiler's fix for golang/go#20146:
 *                    SIGPROF in atomic64 code writes its sample anyway,
 *                    and with spinlock-emulated atomics can deadlock
 *   profbuf=N        words in each M's profile buffer (default 65536)
 *   schedtrace=N     every N ms, one line of scheduler state on stderr
 *   scheddetail=1    with schedtrace: every P, M and G as well
 *   asyncpreemptoff=1  no asynchronous preemption (sched/preempt.c): a
 *                    goroutine yields only where it calls gort, as in Go
 *   retakedelay=N    (debug runtime) sysmon waits N us between taking a
 *                    system call's P and handing it on (sched/proc.c)
 *   requeuedelay=N   (debug runtime) a yielding goroutine goes back on its
 *                    P's queue N us late (sched/proc.c)
 *   cfi=0            no unwind tables: every walk follows frame pointers
 *                    only, as gort did before runtime/cfi.c
 *   symtabgrace=0    a refresh of the symbol table frees what it replaced
 *                    at once, without waiting for readers to leave it:
 *                    the fault the deadlock suite's loader.index shows
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

static const char *const known[] = { "stackguard", "lostatomic64", "profbuf", "schedtrace", "scheddetail",
	"asyncpreemptoff", "retakedelay", "requeuedelay", "cfi", "symtabgrace" };
#define NKNOWN (sizeof known / sizeof known[0])
static int values[NKNOWN];
static int set[NKNOWN];

__attribute__((constructor(103)))
void gort_runtime_debug_init(void)
{
	memset(set, 0, sizeof set);
	const char *s = getenv("GORTDEBUG");
	while (s && *s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		const char *eq = memchr(s, '=', len);
		size_t i = 0;
		if (eq) {
			for (; i < NKNOWN; i++)
				if (strlen(known[i]) == (size_t)(eq - s) && strncmp(s, known[i], (size_t)(eq - s)) == 0)
					break;
		}
		if (!eq || i == NKNOWN) {
			char item[64];
			size_t n = len < sizeof item - 1 ? len : sizeof item - 1;
			memcpy(item, s, n);
			item[n] = '\0';
			gort_runtime_printf("gort: GORTDEBUG: unknown setting %s\n", item);
		}
		else {
			values[i] = atoi(eq + 1);
			set[i] = 1;
		}
		s = end ? end + 1 : NULL;
	}
}

int gort_runtime_debug(const char *name, int dflt)
{
	for (size_t i = 0; i < NKNOWN; i++)
		if (strcmp(known[i], name) == 0)
			return set[i] ? values[i] : dflt;
	return dflt;
}
