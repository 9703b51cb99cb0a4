/*
 * heapprof.c -- the heap profile: sampled allocations of the whole
 * program, through malloc and its family (Go: mprof.go's mProf_Malloc and
 * mProf_Free, malloc.go's nextSample, runtime/pprof's protomem.go); and
 * the malloc trap (malloctrap.c turns it on).
 *
 * Seeing every allocation.  libgort defines malloc, calloc, realloc,
 * free, posix_memalign, aligned_alloc, memalign, valloc and pvalloc (as
 * glibc's manual allows: "Replacing malloc"), each forwarding to glibc's
 * own allocator under its other name (__libc_malloc, ...).  A program
 * linked with libgort.a has them in its executable; one linked with
 * libgort.so finds them there before libc -- libc's own calls included --
 * so no LD_PRELOAD is needed and nothing about the program changes.
 * Blocks keep glibc's layout (no header of ours), so malloc_usable_size,
 * blocks allocated before libgort was loaded, and blocks freed by code
 * that never saw our malloc are all still glibc's business.  In a
 * sanitizer build (GORT_INTERPOSE_MALLOC 0) the sanitizer owns malloc and
 * the heap profile is -ENOSYS.  (LD_PRELOAD was rejected: a profile that
 * needs the program to be started differently is one nobody takes.)
 *
 * Sampling by bytes (Go's MemProfileRate).  Each thread counts down the
 * bytes it allocates; the allocation that takes the count below zero is
 * sampled, and a new count is drawn from an exponential distribution of
 * mean `rate` bytes.  The draw is memoryless, so an allocation of s bytes
 * is sampled with probability 1 - exp(-s/rate) whatever came before it,
 * and the writer scales each sample up by the inverse of that (Go's
 * scaleHeapSample): the profile estimates every allocation, not only the
 * sampled ones.  An unsampled malloc costs the forward to glibc, one
 * subtraction and one branch on a thread-local word.
 *
 * Off (rate 0, the default) is the same branch: the count is reset to
 * 64 KiB each time it runs out, so a rate set later is seen by each
 * thread within 64 KiB of its allocations (the first count after a
 * change is drawn afresh, not sampled: it belonged to the old rate).
 *
 * Frees.  free must know whether its block was sampled, cheaply, for the
 * great majority that were not.  Sampled blocks live in a hash table by
 * address, under a lock; in front of it, a filter of 8192 counters,
 * each counting the live sampled blocks whose address hashes to it.  A
 * free whose counter is 0 -- nearly all of them: at 512 KiB a 100 MB heap
 * has about 200 sampled blocks, so 2.5% of counters are set -- costs one
 * load; the others take the lock and look.  (The counters are 32-bit:
 * the atomic package has nothing narrower.)
 *
 * What must never happen inside: a call to malloc (the table and the
 * buckets come from __libc_malloc, the stack walk allocates nothing), a
 * lock that a signal handler or fork could leave held (the one lock is
 * taken by pthread_atfork's prepare and released on both sides), or
 * state that needs gort to be running (the per-thread words start at
 * zero; a thread gort never made is profiled like any other).  A
 * recursion guard keeps anything the slow path calls from sampling.
 *
 * Stacks.  On a goroutine the walk stays within its stack; on an M's own
 * stack within that; on the process's first thread within
 * __libc_stack_end and the stack's limit.  Other threads' bounds are unknown (finding them
 * would allocate and take locks inside malloc), so their samples have
 * the allocating call and its caller only.
 *
 * Not Go's: Go's heap profile shows the heap as of the last garbage
 * collection; gort has none, so inuse_* is what is live now, among the
 * sampled blocks.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prof/prof.h"
#include "sched/sched.h"

#ifndef GORT_INTERPOSE_MALLOC
#define GORT_INTERPOSE_MALLOC 1
#endif

volatile uint32_t gort_prof_malloctrap_on;   /* malloctrap.c; written by a constructor */

#if GORT_INTERPOSE_MALLOC

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void *__libc_valloc(size_t n);
void *__libc_pvalloc(size_t n);
void __libc_free(void *p);

#define OFF_CHUNK (64 << 10)   /* bytes between looks at the rate while off */
#define FILTER 8192

/* Per thread: bytes until the next sample, the rate generation it was
 * drawn for, the random state, and the recursion guard.  The thread's own. */
static __thread int64_t left __attribute__((tls_model("initial-exec")));
static __thread uint32_t tgen __attribute__((tls_model("initial-exec")));
static __thread uint64_t trand __attribute__((tls_model("initial-exec")));
static __thread int inhook __attribute__((tls_model("initial-exec")));

static volatile uint64_t heaprate __attribute__((aligned(8)));   /* bytes; atomic */
static volatile uint32_t rategen;                               /* bumped at each change; atomic */
static volatile uint32_t filter[FILTER];   /* live sampled blocks per hash of their address; atomic */

/* The buckets, (stack, size), and the live sampled blocks: under lock. */
/* A bucket is stacktab.c's entry: key the size, v[0] the sampled
 * allocations, v[1] their frees (unscaled). */
#define B_SIZE(b) ((size_t)(b)->key)
#define B_ALLOCS(b) ((b)->v[0].i)
#define B_FREES(b) ((b)->v[1].i)
struct live {
	uintptr_t addr;               /* 0: empty; 1: deleted */
	struct gort_stackent *b;
};
static struct rtlock lock;
static struct gort_stacktab btab = { .alloc = __libc_malloc, .dealloc = __libc_free };
static struct live *ltab;
static size_t nltab, nlive, nused;   /* slots, live entries, live + deleted */
static uintptr_t main_lo, main_hi;   /* the first thread's stack; written once at start-up */

static inline size_t fslot(uintptr_t a)
{
	return (size_t)(((uint64_t)(a >> 4) * 0x9e3779b97f4a7c15ull) >> 51) & (FILTER - 1);
}

static inline void trap(const char *what)
{
	if (__builtin_expect(atomic_loadacq32(&gort_prof_malloctrap_on) != 0, 0)) {
		struct m *m = gort_sched_m;
		if (m && m->in_sighandler)
			gort_runtime_throwf("%s called in a signal handler", what);
	}
}

/* --- drawing the next sample (Go: nextSample, fastexprand) ---------------------- */

static uint64_t rnd(void)
{
	if (!trand) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		trand = ((uint64_t)(uintptr_t)&trand * 0x9e3779b97f4a7c15ull) ^ (uint64_t)ts.tv_nsec ^
			((uint64_t)ts.tv_sec << 32) ^ 1;
	}
	trand ^= trand << 13;   /* xorshift64 */
	trand ^= trand >> 7;
	trand ^= trand << 17;
	return trand;
}

/* Natural log and exp, for the draw and the writer's scaling: not libm's,
 * whose symbols gort's symbol table would read and sort at every start
 * of every program, for two functions.  Both to about 1e-12, far finer
 * than sampling noise.
 *   ln(x) = e ln 2 + 2 atanh((m - 1) / (m + 1)), x = m 2^e, m in [1, 2)
 *   exp(x) = 2^k exp(r), k = round(x / ln 2), |r| <= ln 2 / 2, Taylor */
#define LN2 0.69314718055994530942
static double ln(double x)
{
	int e = 0;
	while (x >= 2) {
		x /= 2;
		e++;
	}
	while (x < 1) {
		x *= 2;
		e--;
	}
	double z = (x - 1) / (x + 1), z2 = z * z, t = z, sum = 0;
	for (int k = 1; k < 40; k += 2) {
		sum += t / k;
		t *= z2;
	}
	return e * LN2 + 2 * sum;
}

static double expo(double x)
{
	if (x < -700)
		return 0;
	double kf = x / LN2;
	int k = (int)(kf < 0 ? kf - 0.5 : kf + 0.5);
	double r = x - k * LN2, term = 1, sum = 1;
	for (int i = 1; i < 20; i++) {
		term *= r / i;
		sum += term;
	}
	for (; k > 0; k--)
		sum *= 2;
	for (; k < 0; k++)
		sum /= 2;
	return sum;
}

static int64_t draw(uint64_t rate)
{
	if (rate <= 1)
		return 0;   /* every allocation */
	double u = ((double)(rnd() >> 11) + 1.0) / 9007199254740992.0;   /* (0, 1] */
	double v = -ln(u) * (double)rate;
	return v > 4e18 ? (int64_t)4e18 : (int64_t)v;
}

/* --- the tables -------------------------------------------------------------- */

static size_t lhash(uintptr_t a, size_t n)
{
	return (size_t)(((uint64_t)a * 0x9e3779b97f4a7c15ull) >> 17) & (n - 1);
}

static int live_grow(void)   /* lock held */
{
	size_t nn = nltab ? (nlive * 4 >= nltab ? nltab * 2 : nltab) : 1024;
	struct live *t = __libc_calloc(nn, sizeof *t);
	if (!t)
		return -1;
	for (size_t i = 0; i < nltab; i++) {
		if (ltab[i].addr <= 1)
			continue;
		size_t k = lhash(ltab[i].addr, nn);
		while (t[k].addr)
			k = (k + 1) & (nn - 1);
		t[k] = ltab[i];
	}
	__libc_free(ltab);
	ltab = t;
	nltab = nn;
	nused = nlive;
	return 0;
}

static void live_put(uintptr_t a, struct gort_stackent *b)   /* lock held */
{
	if ((nused + 1) * 2 > nltab && live_grow() != 0)
		return;
	size_t k = lhash(a, nltab);
	while (ltab[k].addr > 1)
		k = (k + 1) & (nltab - 1);
	if (ltab[k].addr == 0)
		nused++;
	ltab[k] = (struct live){ a, b };
	nlive++;
	atomic_add32(&filter[fslot(a)], 1);
}

/* The sampled block at a, taken out of the table; NULL if a is none. */
static struct gort_stackent *live_take(uintptr_t a)   /* lock held */
{
	if (!nltab)
		return NULL;
	size_t k = lhash(a, nltab);
	for (; ltab[k].addr; k = (k + 1) & (nltab - 1)) {
		if (ltab[k].addr != a)
			continue;
		struct gort_stackent *b = ltab[k].b;
		ltab[k].addr = 1;   /* deleted: the probe goes past it */
		nlive--;
		atomic_add32(&filter[fslot(a)], -1);
		return b;
	}
	return NULL;
}

/* --- the hooks ------------------------------------------------------------------ */

/* The stack of the calling thread from the slow path's frame: pcs[0] in
 * sample(), pcs[1] in the allocating call (malloc...), then its callers. */
static int walk(struct gort_frame f, uintptr_t *pcs)
{
	struct m *m = gort_sched_m;
	struct g *gp = m ? m->curg : NULL;
	uintptr_t sp = f.sp, lo = 0, hi = 0;
	if (gp && sp >= gp->stack_lo && sp < gp->stack_hi)
		lo = gp->stack_lo, hi = gp->stack_hi;
	else if (m && sp >= m->g0_lo && sp < m->g0_hi)
		lo = m->g0_lo, hi = m->g0_hi;
	else if (sp >= main_lo && sp < main_hi)
		lo = main_lo, hi = main_hi;
	if (hi) {
		int n = gort_runtime_unwind(f, lo, hi, pcs, PROF_MAXSTACK);
		n = gort_prof_trimstack_root(pcs, n);
		if (n > 1) {
			memmove(pcs, pcs + 1, (size_t)(n - 1) * sizeof *pcs);
			return n - 1;
		}
		return 0;
	}
	/* a thread of unknown bounds: the allocating call and its caller,
	 * read from the frame records no further than the first */
	pcs[0] = f.pc;
	return 1;
}

/* The count ran out at allocation p of n bytes: sample it (or, off or
 * just changed, draw a new count). */
static __attribute__((noinline, cold)) void sample(void *p, size_t n, uintptr_t caller, void *fn)
{
	uint64_t rate = atomic_load64(&heaprate);
	uint32_t g = atomic_load32(&rategen);
	if (inhook || tgen != g || rate == 0) {
		tgen = g;
		left = rate ? draw(rate) : OFF_CHUNK;
		return;
	}
	left = draw(rate);
	if (!p)
		return;
	inhook = 1;
	struct gort_frame f;
	uintptr_t pcs[PROF_MAXSTACK];
	gort_runtime_frame_caller(&f);
	int k = walk(f, pcs);
	/* the leaf is the allocating call itself, named by its entry (malloc's
	 * own sample is taken in malloc_slow, reached by a jump) */
	if (k > 0)
		pcs[0] = (uintptr_t)fn + 1;
	/* pcs[0] is the allocating call (malloc...), pcs[1] should be its
	 * caller; a caller without a frame record (glibc's strdup, say) is
	 * missed by the walk, but malloc knows its own return address. */
	if (k == 0) {
		pcs[k++] = caller;
	} else if (caller && (k < 2 || pcs[1] != caller) && k < PROF_MAXSTACK) {
		memmove(pcs + 2, pcs + 1, (size_t)(k - 1) * sizeof *pcs);
		pcs[1] = caller;
		k++;
	}
	gort_sched_lock(&lock);
	struct gort_stackent *b = gort_prof_stacktab_get(&btab, n, pcs, k);
	if (b) {
		B_ALLOCS(b)++;
		live_put((uintptr_t)p, b);
	}
	gort_sched_unlock(&lock);
	inhook = 0;
}

static inline void account(void *p, size_t n, uintptr_t caller, void *fn)
{
	if (__builtin_expect((left -= (int64_t)n) < 0, 0))
		sample(p, n, caller, fn);
}

static __attribute__((noinline, cold)) void unsample(void *p)
{
	gort_sched_lock(&lock);
	struct gort_stackent *b = live_take((uintptr_t)p);
	if (b)
		B_FREES(b)++;
	gort_sched_unlock(&lock);
}

/* The filter is read with an acquire load, not a full one (a locked
 * instruction on x86, on every free): the block was sampled, and its
 * counter raised, before malloc returned it, and whatever brought the
 * pointer to this thread ordered that before us. */
static inline void forget(void *p)
{
	if (__builtin_expect(p && atomic_loadacq32(&filter[fslot((uintptr_t)p)]) != 0, 0))
		unsample(p);
}

#define CALLER ((uintptr_t)__builtin_return_address(0))

/* malloc and free are the hot ones: their fast paths make tail calls
 * only, so that they need no frame of their own (the trap and a sample
 * are cold functions, reached by a jump).  A sample taken there has the
 * cold function's return address -- malloc's caller -- as its caller. */
static __attribute__((noinline, cold)) void *malloc_slow(size_t n)
{
	trap("malloc");
	void *p = __libc_malloc(n);
	if (left < 0)
		sample(p, n, CALLER, (void *)malloc);
	return p;
}

GORT_API void *malloc(size_t n)
{
	int64_t l = left -= (int64_t)n;
	if (__builtin_expect(atomic_loadacq32(&gort_prof_malloctrap_on) != 0, 0) || __builtin_expect(l < 0, 0))
		return malloc_slow(n);
	return __libc_malloc(n);
}

GORT_API void *calloc(size_t n, size_t size)
{
	trap("calloc");
	void *p = __libc_calloc(n, size);
	size_t total;
	if (p && !__builtin_mul_overflow(n, size, &total))
		account(p, total, CALLER, (void *)calloc);
	return p;
}

GORT_API void *realloc(void *old, size_t n)
{
	trap("realloc");
	if (!old) {
		void *p = __libc_malloc(n);
		account(p, n, CALLER, (void *)realloc);
		return p;
	}
	if (n == 0) {   /* glibc frees, and returns NULL */
		forget(old);
		return __libc_realloc(old, 0);
	}
	/* Out of the table first: once glibc has the block back, another
	 * thread may be given -- and sample -- the same address. */
	struct gort_stackent *was = NULL;
	if (atomic_loadacq32(&filter[fslot((uintptr_t)old)]) != 0) {
		gort_sched_lock(&lock);
		was = live_take((uintptr_t)old);
		gort_sched_unlock(&lock);
	}
	void *p = __libc_realloc(old, n);
	gort_sched_lock(&lock);
	if (was && !p)
		live_put((uintptr_t)old, was);   /* it failed: old is still the live block */
	else if (was)
		B_FREES(was)++;
	gort_sched_unlock(&lock);
	if (p)
		account(p, n, CALLER, (void *)realloc);   /* the new block is an allocation of n bytes */
	return p;
}

static __attribute__((noinline, cold)) void free_slow(void *p)
{
	trap("free");
	forget(p);
	__libc_free(p);
}

GORT_API void free(void *p)
{
	if (__builtin_expect(atomic_loadacq32(&gort_prof_malloctrap_on) != 0, 0) ||
	    __builtin_expect(p && atomic_loadacq32(&filter[fslot((uintptr_t)p)]) != 0, 0)) {
		free_slow(p);
		return;
	}
	__libc_free(p);
}

GORT_API void *memalign(size_t align, size_t n)
{
	trap("memalign");
	void *p = __libc_memalign(align, n);
	account(p, n, CALLER, (void *)memalign);
	return p;
}

GORT_API void *aligned_alloc(size_t align, size_t n)
{
	trap("aligned_alloc");
	if (align == 0 || (align & (align - 1))) {   /* C11: not a valid alignment */
		errno = EINVAL;
		return NULL;
	}
	void *p = __libc_memalign(align, n);
	account(p, n, CALLER, (void *)aligned_alloc);
	return p;
}

GORT_API int posix_memalign(void **out, size_t align, size_t n)
{
	trap("posix_memalign");
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	account(p, n, CALLER, (void *)posix_memalign);
	*out = p;
	return 0;
}

GORT_API void *valloc(size_t n)
{
	trap("valloc");
	void *p = __libc_valloc(n);
	account(p, n, CALLER, (void *)valloc);
	return p;
}

GORT_API void *pvalloc(size_t n)
{
	trap("pvalloc");
	void *p = __libc_pvalloc(n);
	account(p, n, CALLER, (void *)pvalloc);
	return p;
}

/* --- fork, and the first thread's stack --------------------------------------------- */

static void atfork_prepare(void) { gort_sched_lock(&lock); }
static void atfork_parent(void) { gort_sched_unlock(&lock); }
static void atfork_child(void) { lock.key = 0; }   /* only this thread is left */

/* The first thread's stack: from glibc's __libc_stack_end down by the
 * stack's limit.  Not pthread_getattr_np, which reads /proc/self/maps
 * (a million and a half instructions at every start-up, and stdio).  A
 * limit beyond what is mapped does no harm: the walk only follows frame
 * records upwards from where it stands, all of them mapped. */
extern void *__libc_stack_end;

__attribute__((constructor))
static void heapprof_init(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	struct rlimit rl;
	uintptr_t hi = (uintptr_t)__libc_stack_end;
	size_t lim = getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		rl.rlim_cur < ((size_t)1 << 30) ? (size_t)rl.rlim_cur : (size_t)8 << 20;
	/* __libc_stack_end is near the top; the arguments and environment
	 * above it are mapped too, a page or so of them is enough */
	main_lo = hi > lim ? hi - lim : 0;
	main_hi = hi + 4096;
}

/* --- the API and the writer ------------------------------------------------------ */

int64_t gort_prof_set_heap_rate(int64_t bytes)
{
	if (bytes < 0)
		return (int64_t)atomic_load64(&heaprate);
	int64_t old = (int64_t)atomic_xchg64(&heaprate, (uint64_t)bytes);
	/* This thread takes the new rate at once; the others at their next
	 * look (within 64 KiB of allocation). */
	tgen = atomic_add32(&rategen, 1);
	left = bytes ? draw((uint64_t)bytes) : OFF_CHUNK;
	return old;
}

struct cursor {
	struct gort_stackent **v;           /* copies of the buckets */
	size_t i, n;
	int64_t rate;
	int64_t values[4];
};

/* Go's scaleHeapSample: each sample stood for 1 / (1 - exp(-size/rate))
 * allocations of its size. */
static void scale(int64_t count, size_t size, int64_t rate, int64_t *objs, int64_t *bytes)
{
	if (count == 0 || size == 0) {
		*objs = *bytes = 0;
		return;
	}
	if (rate <= 1) {
		*objs = count;
		*bytes = count * (int64_t)size;
		return;
	}
	double sc = 1 / (1 - expo(-(double)size / (double)rate));
	*objs = (int64_t)((double)count * sc);
	*bytes = (int64_t)((double)count * (double)size * sc);
}

static int nextsample(void *arg, struct pprof_sample *s)
{
	struct cursor *c = arg;
	if (c->i >= c->n)
		return 0;
	struct gort_stackent *b = c->v[c->i++];
	scale(B_ALLOCS(b), B_SIZE(b), c->rate, &c->values[0], &c->values[1]);
	scale(B_ALLOCS(b) - B_FREES(b), B_SIZE(b), c->rate, &c->values[2], &c->values[3]);
	s->stk = b->stk;
	s->nstk = b->nstk;
	s->values = c->values;
	if (B_SIZE(b)) {
		s->numkey = "bytes";
		s->num = (int64_t)B_SIZE(b);
	}
	return 1;
}

int gort_prof_heapprof_write(int fd, int allocs)
{
	static const struct pprof_valtype types[4] = {
		{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
		{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
	};
	int64_t rate = (int64_t)atomic_load64(&heaprate);
	struct pprof_spec spec = {
		.types = types,
		.ntypes = 4,
		.period_type = { "space", "bytes" },
		.period = rate,
		.default_type = allocs ? "alloc_space" : NULL,
	};
	/* The buckets are copied out first: the writer allocates, and an
	 * allocation of its own that is sampled takes the lock. */
	gort_sched_lock(&lock);
	struct cursor c = { .rate = rate };
	c.v = __libc_malloc((btab.n ? btab.n : 1) * sizeof *c.v);
	struct gort_stackcur at = { 0 };
	for (struct gort_stackent *b; c.v && (b = gort_prof_stacktab_next(&btab, &at));) {
		size_t sz = sizeof *b + (size_t)b->nstk * sizeof b->stk[0];
		struct gort_stackent *cp = __libc_malloc(sz);
		if (!cp)
			continue;
		memcpy(cp, b, sz);
		c.v[c.n++] = cp;
	}
	gort_sched_unlock(&lock);
	if (!c.v)
		return -ENOMEM;
	int err = gort_prof_write(&spec, nextsample, &c, fd);
	for (size_t i = 0; i < c.n; i++)
		__libc_free(c.v[i]);
	__libc_free(c.v);
	return err;
}

/* Tests: the sampled allocations (unscaled) and the scaled estimate of
 * bytes allocated, over the buckets with a frame in [lo, hi). */
void gort_prof_heapprof_sum(uintptr_t lo, uintptr_t hi, int64_t *samples, int64_t *live,
	int64_t *alloc_bytes, int64_t *inuse_bytes)
{
	*samples = *live = *alloc_bytes = *inuse_bytes = 0;
	int64_t rate = (int64_t)atomic_load64(&heaprate);
	gort_sched_lock(&lock);
	struct gort_stackcur at = { 0 };
	for (struct gort_stackent *b; (b = gort_prof_stacktab_next(&btab, &at));) {
		if (!gort_prof_stack_holds(b->stk, b->nstk, lo, hi))
			continue;
		int64_t o, by;
		*samples += B_ALLOCS(b);
		*live += B_ALLOCS(b) - B_FREES(b);
		scale(B_ALLOCS(b), B_SIZE(b), rate, &o, &by);
		*alloc_bytes += by;
		scale(B_ALLOCS(b) - B_FREES(b), B_SIZE(b), rate, &o, &by);
		*inuse_bytes += by;
	}
	gort_sched_unlock(&lock);
}

#else /* !GORT_INTERPOSE_MALLOC: the sanitizer's allocator, not ours */

int64_t gort_prof_set_heap_rate(int64_t bytes)
{
	(void)bytes;
	return -ENOSYS;
}

int gort_prof_heapprof_write(int fd, int allocs)
{
	(void)fd, (void)allocs;
	return -ENOSYS;
}

void gort_prof_heapprof_sum(uintptr_t lo, uintptr_t hi, int64_t *samples, int64_t *live,
	int64_t *alloc_bytes, int64_t *inuse_bytes)
{
	(void)lo, (void)hi;
	*samples = *live = *alloc_bytes = *inuse_bytes = 0;
}

#endif
