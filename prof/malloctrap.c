/*
 * malloctrap.c -- a debug trap: any allocation made inside gort's SIGPROF
 * handler is a fatal error (Go: the m.mallocing check in mallocgc, which
 * sigprof sets to catch exactly this).
 *
 * The handler must not allocate: malloc takes locks, and the signal may
 * have interrupted malloc itself.  Linking this file (libgort_malloctrap.a,
 * built beside libgort; the test suites link it) interposes malloc and
 * friends: each checks the calling M's in_sighandler flag, which sigprof
 * sets for as long as it runs, and throws
 *
 *     fatal error: malloc called in a signal handler
 *
 * with the traceback of the allocation.  Outside a handler it is one load
 * of a thread-local word, then glibc's own allocator.  (Not for sanitizer
 * builds: they interpose malloc themselves.)  It reads the scheduler's M
 * for the profiler's flag, so it belongs to package prof, above both.
 */
#include <stddef.h>

#include "sched/sched.h"

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void __libc_free(void *p);

static inline void trap(const char *what)
{
	struct m *m = gort_sched_m;
	if (m && m->in_sighandler)
		gort_runtime_throwf("%s called in a signal handler", what);
}

void *malloc(size_t n)
{
	trap("malloc");
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	trap("calloc");
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	trap("realloc");
	return __libc_realloc(p, n);
}

void free(void *p)
{
	trap("free");
	__libc_free(p);
}

void *aligned_alloc(size_t align, size_t n)
{
	trap("aligned_alloc");
	return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
	trap("memalign");
	return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	trap("posix_memalign");
	void *p = __libc_memalign(align, n);
	if (!p)
		return 12;   /* ENOMEM */
	*out = p;
	return 0;
}
