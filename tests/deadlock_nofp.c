/*
 * deadlock_nofp.c -- a shared object for the deadlock suite's
 * loader.index: loaded with dlopen while the profiler runs, and built
 * without frame pointers, as Debian's libc is, so that only its unwind
 * table (.eh_frame, compiled by runtime/cfi.c once the object has joined
 * the symbol table) can carry a walk through its frames.
 */
#define NOFP_API __attribute__((visibility("default")))

/* Recurse depth times, then call cb(arg).  The addition after the call
 * keeps each level's frame (no tail call). */
NOFP_API __attribute__((noinline)) long nofp_deep(int depth, long (*cb)(void *), void *arg)
{
	if (depth == 0)
		return cb(arg);
	long r = nofp_deep(depth - 1, cb, arg);
	__asm__ __volatile__("" : "+r"(r) : : "memory");
	return r + 1;
}
