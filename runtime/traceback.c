/*
 * traceback.c -- printing a stack, Go style.
 *
 *     panic: unaligned 64-bit atomic operation (add64 at 0x7ffc3c1e0a04)
 *
 *     thread 4242 [running]:
 *     gort_atomic_unaligned()
 *             +0x3c pc=0x55d0c2a1b3fc
 *     gort_atomic_add64()
 *             +0x1d pc=0x55d0c2a1a11d
 *     main()
 *             +0x22 pc=0x55d0c2a1a062
 *
 * Go prints file:line where gort prints the offset into the function and
 * the PC; `addr2line -e prog 0x...` (minus the load bias) gives the line.
 * The walk itself is the architecture's (unwind_<arch>.c); this file only
 * finds the bounds of the stack to walk and names the frames.
 */
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/runtime.h"

/* The main thread's stack, found once at start-up (finding it later may
 * need malloc: glibc reads /proc/self/maps for it). */
static uintptr_t main_lo, main_hi;

static void stack_bounds(uintptr_t sp, uintptr_t *lo, uintptr_t *hi)
{
	if (sp >= main_lo && sp < main_hi) {
		*lo = main_lo;
		*hi = main_hi;
		return;
	}
	/* Another thread: ask glibc.  Only the dying path comes here. */
	pthread_attr_t a;
	void *addr;
	size_t size;
	*lo = sp;
	*hi = sp;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		if (pthread_attr_getstack(&a, &addr, &size) == 0) {
			*lo = (uintptr_t)addr;
			*hi = (uintptr_t)addr + size;
		}
		pthread_attr_destroy(&a);
	}
}

__attribute__((constructor(102)))
static void traceback_init(void)
{
	pthread_attr_t a;
	void *addr;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		if (pthread_attr_getstack(&a, &addr, &size) == 0) {
			main_lo = (uintptr_t)addr;
			main_hi = (uintptr_t)addr + size;
		}
		pthread_attr_destroy(&a);
	}
}

void gort_runtime_printframe(uintptr_t pc, int is_return_address)
{
	/* A return address points after the call; the call itself is one
	 * byte earlier, and that is the PC that lies inside the caller even
	 * when the call was the caller's last instruction. */
	uintptr_t look = is_return_address ? pc - 1 : pc;
	const struct gort_func *f = gort_runtime_findfunc(look);
	if (f)
		gort_runtime_printf("%s()\n\t+0x%lx pc=%p\n", f->name,
			(unsigned long)(pc - f->entry), (void *)pc);
	else
		gort_runtime_printf("?()\n\tpc=%p\n", (void *)pc);
}

int gort_runtime_unwind(struct gort_frame f, uintptr_t lo, uintptr_t hi, uintptr_t *pcs, int max)
{
	int n = 0;
	if (max <= 0)
		return 0;
	pcs[n++] = f.pc;
	while (n < max && gort_runtime_unwind_step(&f, lo, hi))
		pcs[n++] = f.pc;
	return n;
}

__attribute__((noinline)) void gort_runtime_traceback_self(int skip)
{
	struct gort_frame f;
	uintptr_t lo, hi, pcs[64];
	gort_runtime_frame_caller(&f);   /* our own frame */
	stack_bounds(f.sp, &lo, &hi);
	int n = gort_runtime_unwind(f, lo, hi, pcs, 64);
	gort_runtime_printf("thread %ld [running]:\n", (long)syscall(SYS_gettid));
	/* pcs[0] is this function; skip it and the caller's `skip` frames. */
	for (int i = 1 + skip; i < n; i++)
		gort_runtime_printframe(pcs[i], 1);
	if (n == 64)
		gort_runtime_printf("...additional frames elided...\n");
}

void gort_runtime_traceback_frame(struct gort_frame f, uintptr_t lo, uintptr_t hi)
{
	uintptr_t pcs[64];
	int n = gort_runtime_unwind(f, lo, hi, pcs, 64);
	for (int i = 0; i < n; i++)
		gort_runtime_printframe(pcs[i], i > 0);
	if (n == 64)
		gort_runtime_printf("...additional frames elided...\n");
}
