/*
 * errno_probe.c -- the errno hazard gort.h describes, measured.  Built
 * twice (tests/meson.build): with -DGORT_KEEP_ERRNO, so that errno is
 * glibc's (*__errno_location()), a function declared const, and without,
 * so that it is gort.h's (*gort_errno_location()).
 *
 * Each iteration sleeps (a scheduling point: the goroutine may resume on
 * another thread), then makes a failing system call and reads errno, as
 * any C code does.  When the thread changed, it records whether errno's
 * address was still the old thread's, and whether the value read was
 * not the EBADF this thread's read(-1) just set.
 */
#include <sys/syscall.h>
#include <unistd.h>

#include "gort.h"
#include "errno_probe.h"

#ifdef GORT_KEEP_ERRNO
#define PROBE errno_probe_glibc
#else
#define PROBE errno_probe_gort
#endif

void PROBE(struct errno_probe *p, int iters)
{
	for (int i = 0; i < iters; i++) {
		long t0 = syscall(SYS_gettid);
		int *a0 = &errno;
		gort_sleep(100000);
		long t1 = syscall(SYS_gettid);
		int *a1 = &errno;
		ssize_t r = read(-1, NULL, 0);   /* this thread's errno: EBADF */
		int e = errno;
		p->reads++;
		if (r < 0 && t1 != t0) {
			p->migrations++;
			p->stale_address += a1 == a0;
			p->stale_value += e != EBADF;
		}
		errno = 0;
	}
}
