/*
 * stack.c -- goroutine stacks (Go: stack.go, but gort's stacks never move).
 *
 * Go starts goroutines on 2 KiB stacks and copies them to bigger ones as
 * they grow; that needs the compiler to check the stack at every function
 * entry and to know every pointer into the stack.  C has neither, so a
 * gort stack is fixed: a range of address space (64 KiB by default, chosen
 * per goroutine), mapped with MAP_NORESERVE so that only the pages a
 * goroutine actually touches cost memory.  A parked goroutine whose frames
 * fit in one page costs one page.
 *
 * The G itself lives at the top of its stack:
 *
 *   base                                                      base+size
 *   | guard page | canary zone | <- grows down ...  frames | struct g |
 *   ^ PROT_NONE   ^ never written                           ^ stack_hi
 *                               ^ stack_lo
 *
 * Overflow must never corrupt silently.  Two defences, because of a
 * kernel limit:
 *
 *   - A guard page: PROT_NONE below the stack, so the first write past the
 *     end faults, and the SIGSEGV handler (on the M's signal stack) reports
 *     "fatal error: stack overflow".  But a guard page splits the mapping
 *     in two, and the kernel allows vm.max_map_count mappings per process
 *     (65530 here).  A million goroutines cannot all have one.  So the first
 *     max_map_count/4 stacks get a guard page each, mapped one by one.
 *
 *   - Beyond that, stacks are carved from slabs (one mapping for many) and
 *     get a canary zone instead: CANARY bytes at the bottom that nothing
 *     ever writes.  Fresh anonymous memory reads as zero, so the canary is
 *     "all zero" and checking it never commits a page (a read of an
 *     untouched page maps the shared zero page).  Every context switch away
 *     from a goroutine checks its canary and its stack pointer, and a fault
 *     with the goroutine's sp below its stack is reported as an overflow:
 *     a goroutine that ran past its end is caught at its next switch or
 *     fault, and the runtime throws.  This is best effort, not a guard: in
 *     a slab the next stack down begins with its struct g, and a frame
 *     that jumps the canary without writing it can damage that G first.
 *
 * Stacks are never unmapped: a dead G keeps its stack and waits on a free
 * list (proc.c's gfput/gfget) for the next gort_go of the same size, like
 * Go's gFree lists.  That is the stack cache.
 */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sched/sched.h"

#if GORT_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

#define CANARY 256                 /* bytes at the bottom that must stay zero */
#define SLAB_BYTES (8u << 20)      /* address space carved per slab */

static struct rtlock stacklock;    /* protects everything below */
static size_t pagesize;
static long guards_left = -1;      /* stacks that may still have a guard page */
static size_t nguarded;
static uintptr_t slab_next, slab_end;
static size_t slab_stack;          /* the stack size the current slab serves */

static void stack_init(void)
{
	pagesize = (size_t)sysconf(_SC_PAGESIZE);
	long maxmap = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		if (fscanf(f, "%ld", &maxmap) != 1)
			maxmap = 65530;
		fclose(f);
	}
	guards_left = gort_runtime_debug("stackguard", 1) ? maxmap / 4 : 0;
}

size_t gort_sched_stack_guards(void)
{
	return nguarded;
}

/* Returns the base of `size` bytes of stack, and whether it has a guard
 * page at its bottom (included in size). */
static uintptr_t map_stack(size_t size, int *guarded)
{
	if (guards_left > 0) {
		void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
		if (p != MAP_FAILED) {
			if (mprotect(p, pagesize, PROT_NONE) == 0) {
				guards_left--;
				nguarded++;
				*guarded = 1;
				return (uintptr_t)p;
			}
			munmap(p, size);
		}
		guards_left = 0;   /* out of mappings: slabs from now on */
	}
	*guarded = 0;
	if (slab_stack != size || slab_end - slab_next < size) {
		size_t bytes = size > SLAB_BYTES / 4 ? size : SLAB_BYTES / size * size;
		void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
		if (p == MAP_FAILED)
			return 0;
		slab_next = (uintptr_t)p;
		slab_end = slab_next + bytes;
		slab_stack = size;
	}
	uintptr_t base = slab_next;
	slab_next += size;
	return base;
}

/* Stack sizes are whole pages, four at least. */
size_t gort_sched_stackround(size_t size)
{
	static size_t page;
	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);   /* racy, idempotent */
	size = (size + page - 1) & ~(page - 1);
	return size < 4 * page ? 4 * page : size;
}

struct g *gort_sched_stackalloc(size_t size)
{
	gort_sched_lock(&stacklock);
	if (guards_left < 0)
		stack_init();
	int guarded;
	uintptr_t base = map_stack(size, &guarded);
	gort_sched_unlock(&stacklock);
	if (!base)
		return NULL;

	uintptr_t top = base + size;
	struct g *gp = (struct g *)((top - sizeof(struct g)) & ~(uintptr_t)63);
	*gp = (struct g){ 0 };
	gp->stack_base = base;
	gp->stack_size = size;
	gp->guarded = (uint8_t)guarded;
	gp->stack_lo = base + (guarded ? pagesize : 0) + CANARY;
	gp->stack_hi = (uintptr_t)gp & ~(uintptr_t)15;
	gp->status = Gidle;
#if GORT_HAVE_VALGRIND
	gp->valgrind_id = VALGRIND_STACK_REGISTER(gp->stack_lo - CANARY, gp->stack_hi);
#endif
	return gp;
}

/* Called at every switch away from gp, on its stack.  sp says where it is
 * now; the canary says where it has been. */
void gort_sched_stackcheck(struct g *gp, uintptr_t sp)
{
	int bad = sp < gp->stack_lo || sp > gp->stack_hi;
	if (!gp->guarded) {
		const volatile uint64_t *c = (const volatile uint64_t *)(gp->stack_lo - CANARY);
		bad |= c[0] != 0 || c[CANARY / 16] != 0 || c[CANARY / 8 - 1] != 0;
	}
	if (bad) {
		gort_runtime_printf("runtime: goroutine %llu stack overflow: sp=%p stack=[%p, %p]\n",
			(unsigned long long)gp->goid, (void *)sp, (void *)gp->stack_lo,
			(void *)gp->stack_hi);
		gort_runtime_throw("stack overflow");
	}
}

/* Is addr in gp's guard page, or just below its stack?  (A frame larger
 * than a page can skip the guard; anything within 64 KiB under the stack
 * is an overflow too, given that the fault came from this goroutine.) */
int gort_sched_stack_guardhit(struct g *gp, uintptr_t addr)
{
	uintptr_t lo = gp->stack_lo - CANARY;
	return addr < lo && addr + 65536 >= lo;
}
