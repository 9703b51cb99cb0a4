/*
 * stack.c -- goroutine stacks (Go: stack.go, but gort's stacks never move).
 *
 * Go starts goroutines on 2 KiB stacks and copies them to bigger ones as
 * they grow; that needs the compiler to check the stack at every function
 * entry and to know every pointer into the stack.  C has neither, so a
 * gort stack is fixed: a range of address space (64 KiB by default, chosen
 * per goroutine), mapped with MAP_NORESERVE so that only the pages a
 * goroutine actually touches cost memory.  A parked goroutine whose frames
 * fit in one page costs that page and its G.
 *
 * The size asked for is what the goroutine may use: whole pages, 16 KiB
 * at least, GORT_STACK_MAX at most.  The guard region comes on top of it,
 * and the G above it or apart (below), so that neither is carved out of
 * the stack -- and so that an overflow, which runs down into whatever
 * lies below, never reaches a G:
 *
 *   stack_base          stack_lo                          stack_hi
 *   | guard region      | <- grows down ...         frames | G |   guarded
 *     PROT_NONE, or marked
 *   | dead zone  |canary| <- grows down ...         frames |   in a slab
 *     never touched  256 bytes, all zero
 *
 * Overflow must never corrupt silently.  Two defences, because of a
 * kernel limit:
 *
 *   - The guard region: PROT_NONE below the stack, so a write past the
 *     end faults, and the SIGSEGV handler (on the M's signal stack) reports
 *     "fatal error: stack overflow".  A frame larger than the guard could
 *     step over it, so gort's code and its users' are compiled with
 *     -fstack-clash-protection (meson.build: gort_cflags, which pkg-config
 *     and the meson dependency carry): the compiler touches every page of a
 *     large frame or alloca as it allocates it, leaving at most a known
 *     distance unprobed, and the guard is at least that deep:
 *
 *       x86-64   4 KiB: gcc and clang probe every 4 KiB, and every call
 *                writes its return address, itself a probe.
 *       aarch64  64 KiB: gcc does not probe frames smaller than the guard
 *                it assumes, 64 KiB by default (its --param
 *                stack-clash-protection-guard-size=16), less the 1 KiB in
 *                which callers keep their outgoing arguments.
 *       mips     8 KiB: gcc has no stack clash protection of its own for
 *                MIPS; given the flag, it emits its -fstack-check probes
 *                without their protected area: each page of a frame or
 *                alloca is touched, but a call is no probe, so an alloca's
 *                last partial page and an unprobed leaf frame below it can
 *                leave two pages untouched.  (-fstack-check proper skips
 *                its first 12 KiB, for its own handler, and would need a
 *                16 KiB guard.)  gcc's test suite does not claim the flag
 *                for MIPS: the depth is read off what gcc 12 emits, not
 *                gcc's promise (tests/test_stack.c checks a large frame
 *                on every target).
 *
 *     How the guard is made depends on the kernel:
 *
 *       guard markers (Linux 6.13 and later: MADV_GUARD_INSTALL).  The
 *                kernel marks the guard's page table entries, not its
 *                mapping, so a reservation of many stacks stays one
 *                mapping however many guards it holds.  Stacks come in
 *                batches: one mmap for STACK_BATCH bytes of slots, and one
 *                process_madvise for every guard in it.  A goroutine that
 *                finds no free G costs no system call, bar one pair per
 *                batch (about 240 stacks), and every stack has a guard:
 *                a million goroutines, a million guards.
 *       mprotect (older kernels, and qemu-user, which has no
 *                process_madvise).  A PROT_NONE guard splits its mapping
 *                in two, and the kernel allows vm.max_map_count mappings
 *                per process (65530 here): a million goroutines cannot all
 *                have one.  So the first max_map_count/4 stacks get a
 *                guard region each, mapped one by one.
 *
 *     Markers are trusted only once seen to work: at the first stack, a
 *     page is marked and process_vm_readv must fail on it (the kernel's
 *     own access path refuses a marked page) and succeed beside it.  An
 *     emulator or a seccomp filter that lets the calls through without
 *     doing them fails that check.  Code built without the flags (a
 *     library, say) can still step over a guard with a large enough
 *     frame; nothing here can see that.
 *
 *   - Beyond that (mprotect guards only), stacks are carved from slabs (one mapping for many).
 *     Each slot is as large as a guarded stack, so an overflow of less
 *     than the guard's depth stays in the slot's own dead zone, and a
 *     canary zone -- CANARY bytes right below the stack that nothing ever
 *     writes -- is checked instead of a guard.  Fresh anonymous memory reads
 *     as zero, so the canary is "all zero" and checking it never commits a
 *     page (a read of an untouched page maps the shared zero page).  Every
 *     context switch away from a goroutine checks its canary and its stack
 *     pointer, and a fault with the goroutine's sp below its stack is
 *     reported as an overflow.  That is best effort, not a guard: a
 *     goroutine that ran past its end is caught at its next switch or
 *     fault only if it is still below, or wrote something other than zero
 *     into the words of the canary that are checked (stack probes write
 *     zeros).  One that overflowed and returned may go unseen, and one
 *     that ran past the dead zone has written into the next stack down
 *     before it is caught.  GORTDEBUG=stackguard=0 gives every stack this
 *     treatment, and stackguard=1 takes the mprotect way even where the
 *     kernel has markers, for testing them.
 *
 * Where the G lives.  A parked goroutine whose frames fit in one page
 * should cost that page, and a G (248 bytes) in a chunk of Gs costs 256
 * bytes more: 4352 bytes per parked goroutine instead of 4096.  So a
 * guarded stack carries its G in the top GSLOT bytes of its slot, above
 * stack_hi, in the page its first frames use anyway: the G is part of
 * the size asked for, 256 bytes of 64 KiB.  (Rounding the slot up by a
 * page instead, to keep the whole size for frames, would leave most of a
 * page of slack: "64 KiB" would then hold a 64 KiB frame, and an
 * overflow of less than that page would go unseen.)  Nothing can
 * overflow into that G: the stack
 * above it in the batch grows away from it, down into its own guard,
 * which lies right on top of this G.  A slab stack has no guard, and the
 * first thing an overflow of the next slot up would reach is the G at
 * the top of ours -- so slab stacks keep their Gs apart, in chunks
 * (galloc), as every stack once did.  A G on a page of its own above the
 * stack would double what a parked goroutine costs.
 *
 * Rejected: --param
 * stack-clash-protection-guard-size=12 on aarch64, for a 4 KiB guard.
 * It is gcc's alone, and code built with the default (a distribution's
 * library) would step over the smaller guard.
 *
 * Stacks are never unmapped: a dead G keeps its stack and waits on a free
 * list (proc.c's gfput/gfget) for the next gort_go of the same size, like
 * Go's gFree lists.  That is the stack cache.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sched/sched.h"

#if GORT_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

#define CANARY 256                 /* bytes under a slab stack that must stay zero */
#define SLAB_BYTES (8u << 20)      /* address space carved per slab */
#define STACK_BATCH (16u << 20)    /* address space per batch of marker-guarded stacks */
#define BATCH_MAX 1024             /* guards per process_madvise: IOV_MAX */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102     /* Linux 6.13 */
#endif
#define GCHUNK (1u << 20)          /* address space per chunk of Gs */
#define MIN_STACK (16u << 10)      /* the smallest stack handed out */
#define BELOW (64u << 10)          /* a fault this far under a stack is its overflow */
#define GSLOT 256u                 /* the top of a guarded slot, where its G lives */
_Static_assert(sizeof(struct g) <= GSLOT, "struct g outgrew its place at the top of its stack");

/* The guard region's depth: at least what the compiler may leave
 * unprobed (see the top of this file); whole pages. */
#if defined(__aarch64__)
#define GUARD_MIN (64u << 10)
#elif defined(__mips__)
#define GUARD_MIN (8u << 10)
#else
#define GUARD_MIN (4u << 10)
#endif

static struct rtlock stacklock;    /* protects everything below, to `-` */
static long guards_left = -1;      /* mprotect: stacks that may still have a guard region */
static int markers = -1;           /* guard markers work here: pidfd (>= 0), or -1 */
static size_t nguarded;
static uintptr_t slab_next, slab_end;
static size_t slab_stack;          /* the slot size the current slab serves */
static uintptr_t batch_next, batch_end;   /* the default size's current batch */
static struct iovec batch_iov[BATCH_MAX]; /* its guards, for process_madvise */
static uintptr_t g_next, g_end;    /* the chunk new Gs are carved from */
/* - */

/* Written once, the same value by whichever thread gets there first;
 * atomic so that the race is harmless. */
static volatile uint32_t page_bytes, guard_bytes;

static void sizes(size_t *page, size_t *guard)
{
	uint32_t g = atomic_load32(&guard_bytes);
	if (!g) {
		uint32_t p = (uint32_t)sysconf(_SC_PAGESIZE);
		atomic_store32(&page_bytes, p);
		g = (GUARD_MIN + p - 1) & ~(p - 1);
		atomic_store32(&guard_bytes, g);
	}
	*page = atomic_load32(&page_bytes);
	*guard = g;
}

/* Mark n guards in one call; 0 if every byte of them was marked. */
static int mark_guards(int pidfd, struct iovec *iov, size_t n)
{
	size_t want = 0;
	for (size_t i = 0; i < n; i++)
		want += iov[i].iov_len;
	long r = syscall(SYS_process_madvise, pidfd, iov, n, MADV_GUARD_INSTALL, 0);
	return r == (long)want ? 0 : -1;
}

/* Do guard markers work here?  Returns a pidfd for process_madvise if
 * they do (see the top of this file), else -1. */
static int markers_probe(size_t page)
{
#if GORT_HAVE_VALGRIND
	if (RUNNING_ON_VALGRIND)
		return -1;   /* it knows neither call, and says so on stderr for each */
#endif
#if defined(SYS_process_madvise) && defined(SYS_pidfd_open)
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0)
		return -1;
	char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int ok = 0;
	if (p != MAP_FAILED) {
		p[page] = 1;
		struct iovec g = { p, page };
		char b;
		struct iovec here = { &b, 1 }, marked = { p, 1 }, beside = { p + page, 1 };
		ok = mark_guards(pidfd, &g, 1) == 0 &&
			process_vm_readv(getpid(), &here, 1, &marked, 1, 0) < 0 && errno == EFAULT &&
			process_vm_readv(getpid(), &here, 1, &beside, 1, 0) == 1 && b == 1;
		munmap(p, 2 * page);
	}
	if (!ok) {
		close(pidfd);
		return -1;
	}
	return pidfd;
#else
	(void)page;
	return -1;
#endif
}

static void stack_init(size_t page)
{
	int mode = gort_runtime_debug("stackguard", 2);
	markers = mode >= 2 ? markers_probe(page) : -1;
	long maxmap = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		if (fscanf(f, "%ld", &maxmap) != 1)
			maxmap = 65530;
		fclose(f);
	}
	guards_left = mode ? maxmap / 4 : 0;
}

size_t gort_sched_stack_guards(void)
{
	return nguarded;
}

int gort_sched_stack_markers(void)
{
	return markers >= 0;
}

/* A slot from the current batch of marker-guarded stacks, or a new batch
 * (a slot of its own for a size other than the default, which is rare
 * and would strand a batch's rest).  0 if out of address space -- or if
 * marking failed (out of memory for page tables, say), when markers are
 * switched off for good and the caller takes the mprotect way. */
static uintptr_t map_marked(size_t size, size_t guard)
{
	if (size == gort_sched.default_stack && batch_end - batch_next >= size) {
		uintptr_t base = batch_next;
		batch_next += size;
		return base;
	}
	size_t n = size == gort_sched.default_stack && size <= STACK_BATCH / 2 ? STACK_BATCH / size : 1;
	if (n > BATCH_MAX)
		n = BATCH_MAX;
	void *p = mmap(NULL, n * size, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	for (size_t i = 0; i < n; i++)
		batch_iov[i] = (struct iovec){ (char *)p + i * size, guard };
	if (mark_guards(markers, batch_iov, n) != 0) {
		munmap(p, n * size);
		close(markers);
		markers = -1;
		return 0;
	}
	uintptr_t base = (uintptr_t)p;
	if (n > 1) {
		batch_next = base + size;
		batch_end = base + n * size;
	}
	return base;
}

/* Returns the base of a `size`-byte slot, and whether its bottom `guard`
 * bytes are a guard region (else they are a slab's dead zone). */
static uintptr_t map_stack(size_t size, size_t guard, int *guarded)
{
	if (markers >= 0) {
		uintptr_t base = map_marked(size, guard);
		if (base) {
			nguarded++;
			*guarded = 1;
			return base;
		}
		if (markers >= 0)
			return 0;   /* out of address space */
		/* else markers stopped working: the mprotect way, below */
	}
	if (guards_left > 0) {
		void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
		if (p != MAP_FAILED) {
			if (mprotect(p, guard, PROT_NONE) == 0) {
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

/* A G for a new stack, from a chunk of Gs: never freed, since a G is
 * reused with its stack.  64-byte aligned, so that two Gs, touched by
 * different Ms, never share a cache line. */
static struct g *galloc(void)
{
	size_t size = (sizeof(struct g) + 63) & ~(size_t)63;
	if (g_end - g_next < size) {
		void *p = mmap(NULL, GCHUNK, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		g_next = (uintptr_t)p;
		g_end = g_next + GCHUNK;
	}
	struct g *gp = (struct g *)g_next;
	g_next += size;
	return gp;
}

/* The slot, in bytes of address space, that gives `size` bytes of stack:
 * whole pages, MIN_STACK at least (a guarded stack's G takes the top
 * GSLOT of them), and the guard region under them.  This
 * is also the size class of the free lists.  gort_go_opts refuses sizes
 * over GORT_STACK_MAX, so none gets here, and the sum cannot wrap. */
size_t gort_sched_stackround(size_t size)
{
	size_t page, guard;
	sizes(&page, &guard);
	if (size > GORT_STACK_MAX)
		gort_runtime_throwf("stackround: %zu bytes of stack, more than GORT_STACK_MAX", size);
	if (size < MIN_STACK)
		size = MIN_STACK;
	return ((size + page - 1) & ~(page - 1)) + guard;
}

/* A fresh G on a fresh stack of `size` bytes, from gort_sched_stackround. */
struct g *gort_sched_stackalloc(size_t size)
{
	size_t page, guard;
	sizes(&page, &guard);
	gort_sched_lock(&stacklock);
	if (guards_left < 0)
		stack_init(page);
	int guarded;
	uintptr_t base = map_stack(size, guard, &guarded);
	struct g *gp = !base ? NULL : guarded ? (struct g *)(base + size - GSLOT) : galloc();
	gort_sched_unlock(&stacklock);
	if (!gp)
		return NULL;

	*gp = (struct g){ 0 };
	gp->stack_base = base;
	gp->stack_size = size;
	gp->guarded = (uint8_t)guarded;
	gp->stack_lo = base + guard;
	gp->stack_hi = base + size - (guarded ? GSLOT : 0);
	gp->status = Gidle;
#if GORT_HAVE_VALGRIND
	gp->valgrind_id = VALGRIND_STACK_REGISTER(guarded ? gp->stack_lo : base, gp->stack_hi);
#endif
	return gp;
}

/* Only one overflow report is printed: that of the first thread to get
 * here, by its thread id.  Atomic. */
static volatile uint32_t reporter;

/* Go's report of an overflow, then exit status 2: from the fault handler
 * with the faulting context and address, or from stackcheck with its own
 * frame (addr 0).  The frames that led past the end are the ones worth
 * reading, so the walk starts from the context, wherever its sp got to,
 * and may read as low as this:
 *
 *   - a guarded stack: stack_lo.  Every frame record lies above the guard
 *     (a push into it faults), even when sp does not (an alloca moves sp
 *     a page down before probing it); code that stepped over the guard,
 *     built without the probes, left nothing below worth the risk.
 *   - a slab stack: its sp, since the frames run on below the stack,
 *     through memory written on the way down -- but never through the
 *     page that faulted, nor below it.
 *
 * If a corrupt frame record still leads the walk into unmapped memory,
 * the fault comes back here and the report is cut short.
 * Async-signal-safe. */
void gort_sched_stack_overflow(struct g *gp, struct gort_frame f, uintptr_t addr)
{
	uint32_t me = (uint32_t)syscall(SYS_gettid);
	if (!atomic_cas32(&reporter, 0, me)) {
		if (atomic_load32(&reporter) == me) {
			gort_runtime_printf("\n...traceback cut short: the walk itself faulted\n");
			gort_runtime_exit(2);
		}
		for (;;)
			sched_yield();   /* another thread is printing its own */
	}
	uintptr_t lo = gp->stack_lo;
	if (!gp->guarded) {
		size_t page, guard;
		sizes(&page, &guard);
		lo = f.sp < gp->stack_base ? f.sp & ~(uintptr_t)15 : gp->stack_base;
		if (addr >= lo && addr < gp->stack_hi)
			lo = (addr | (page - 1)) + 1;
	}
	gort_runtime_printf("runtime: goroutine stack exceeds %zu-byte limit\n",
		(size_t)(gp->stack_hi - gp->stack_lo));
	gort_runtime_printf("runtime: sp=%p stack=[%p, %p]\n", (void *)f.sp,
		(void *)gp->stack_lo, (void *)gp->stack_hi);
	gort_runtime_printf("fatal error: stack overflow\n\n");
	gort_sched_printg_header(gp, "running");
	gort_sched_traceback_frame(gp, f, lo);
	gort_runtime_exit(2);
}

/* Called at every switch away from gp, on its stack.  sp says where it is
 * now; the canary says where it has been. */
void gort_sched_stackcheck(struct g *gp, uintptr_t sp)
{
	int bad = sp < gp->stack_lo || sp > gp->stack_hi;
	/* Only with sp back in range: below it, the canary lies inside live
	 * frames, whose redzones ASan has poisoned. */
	if (!bad && !gp->guarded) {
		const volatile uint64_t *c = (const volatile uint64_t *)(gp->stack_lo - CANARY);
		bad = c[0] != 0 || c[CANARY / 16] != 0 || c[CANARY / 8 - 1] != 0;
	}
	if (bad) {
		struct gort_frame f;
		gort_runtime_frame_caller(&f);   /* this function's frame */
		gort_sched_stack_overflow(gp, f, 0);
	}
}

/* Is addr in gp's guard region (or a slab stack's dead zone), or not far
 * under it?  The first is an overflow by construction.  The second is one
 * by likelihood, given that the fault came from this goroutine: a frame
 * built without -fstack-clash-protection can step over the guard, and a
 * slab stack has no guard to stop it.  Async-signal-safe. */
int gort_sched_stack_guardhit(struct g *gp, uintptr_t addr)
{
	uintptr_t floor = gp->stack_base > BELOW ? gp->stack_base - BELOW : 0;
	return addr < gp->stack_lo && addr >= floor;
}
