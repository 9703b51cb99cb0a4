/*
 * malloctrap.c -- a debug trap: any allocation made inside gort's SIGPROF
 * handler is a fatal error (Go: the m.mallocing check in mallocgc, which
 * sigprof sets to catch exactly this).
 *
 * The handler must not allocate: malloc takes locks, and the signal may
 * have interrupted malloc itself.  libgort defines malloc and its family
 * already, for the heap profile (heapprof.c); linking this file
 * (libgort_malloctrap.a, built beside libgort; the test suites link it)
 * turns on the check those definitions make: the calling M's
 * in_sighandler flag, which sigprof sets for as long as it runs.  Then
 *
 *     fatal error: malloc called in a signal handler
 *
 * with the traceback of the allocation.  Without it the check is one
 * load of a word that says "off".  (Not for sanitizer builds: they own
 * malloc, and libgort does not define it there.)
 */
#include "prof/prof.h"

__attribute__((constructor))
static void malloctrap_on(void)
{
	gort_prof_malloctrap_on = 1;
}
