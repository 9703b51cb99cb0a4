/*
 * blockprof.c -- the block and mutex profiles (Go: mprof.go's blockevent,
 * mutexevent, saveblockevent and the bucket table; runtime/pprof's
 * writeBlock and writeMutex).
 *
 * What they measure.  The block profile answers "where do goroutines
 * wait?": each time a goroutine has waited on a channel, in select, on a
 * gort_mutex or a gort_waitgroup, the wait is an event of some duration,
 * charged to the waiter's stack.  Sleeping is no event (Go leaves
 * time.Sleep out too), nor is a wait that never ends (a nil channel, an
 * empty select), nor an I/O wait.  The mutex profile answers "who makes
 * others wait?": each time an unlock wakes a waiter of a gort_mutex, the
 * time that waiter waited is charged to the unlocker's stack.
 *
 * Where the times come from.  The scheduler takes them (sched/chan.c,
 * select.c, sema.c), as Go's chan.go and sema.go do: the waiter notes when
 * its wait began and marks its sudog releasetime = -1; whoever readies it
 * stamps the sudog with the time; the waiter, awake again, reports
 * releasetime - start through gort_sched_hooks.blockevent.  For the mutex
 * profile the waiter notes acquiretime instead, and the unlocker reports
 * now - acquiretime through .mutexevent.  Go 1.19's accounting of several
 * waiters is kept: when one is woken, the next waiting on the same mutex
 * has its acquiretime moved up to now, so time during which several wait
 * is charged once (the unlocker is charged for "the mutex was wanted",
 * not for each waiter).  While both profiles are off, the scheduler takes
 * no time at all: gort_sched_profflags is 0, one load and one branch on a
 * path that is about to park anyway.
 *
 * Sampling, with Go's semantics.  The block rate is in nanoseconds: an
 * event of duration d >= rate is always recorded; a shorter one with
 * probability d/rate, and then it is recorded as rate/d events of rate ns
 * each (Go's saveblockevent since CL 299991), so that the expected count
 * and the expected delay are both the true ones.  rate 1 records every
 * event.  The mutex fraction f records one event in f, chosen at random,
 * with its true count and delay; the profile is scaled by f when written
 * (Go's scaleMutexProfile), so it too estimates the whole.
 *
 * The table.  One table of stacks (stacktab.c), each entry a (profile,
 * stack) with its count (a double: the sampling weights are fractions)
 * and its delay,
 * under one runtime lock.  Events come only from goroutines -- never from
 * a signal handler -- so the lock and malloc are allowed; and an event is
 * rare by construction: at most one per wait that parked.  Buckets are
 * never freed, as in Go: the profiles are cumulative since the program
 * began.
 *
 * The stack.  A blocking event's stack is its goroutine's, from the
 * public call that waited (gort_chan_recv, gort_select, gort_mutex_lock,
 * gort_waitgroup_wait; Go's leaf is chanrecv1, selectgo, Mutex.Lock,
 * WaitGroup.Wait) to the goroutine's function: the hook's own frame and
 * the scheduler's below it are trimmed off, as are the start-up frames at
 * the root (gofirst, gostart).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "prof/prof.h"
#include "sched/chan.h"
#include "sched/sched.h"

enum { BLOCK, MUTEX };

/* The table (stacktab.c): key BLOCK or MUTEX; v[0].d the events, with
 * their sampling weights; v[1].i their delay, ns.  Under lock. */
static struct rtlock lock;
static struct gort_stacktab table = { .alloc = malloc, .dealloc = free };

/* The rates: written by the API, read by the hooks.  atomic */
static volatile uint64_t blockrate __attribute__((aligned(8)));   /* ns; 0: off */
static volatile uint32_t mutexfrac;                                /* 0: off */

/* --- stacks --------------------------------------------------------------- */

/* The functions the trimming looks for, as address ranges, found once
 * (the symbol table is fixed after start-up): gofirst, gostart, ctxinit
 * (what the walk of a G that never ran finds, its first context having
 * been made there), and gort_sched_chansend.  Racing first callers store
 * the same values; ready is set after them.  atomic */
enum { R_GOFIRST, R_GOSTART, R_CTXINIT, R_CHANSEND, NRANGES };
static volatile uintptr_t range_lo[NRANGES], range_hi[NRANGES];
static volatile uint32_t ranges_ready;

static int in_range(uintptr_t pc, int r)
{
	if (!atomic_loadacq32(&ranges_ready)) {
		void *fns[NRANGES] = { (void *)gort_sched_gofirst, (void *)gort_sched_gostart,
			(void *)gort_sched_ctxinit, (void *)gort_sched_chansend };
		for (int i = 0; i < NRANGES; i++) {
			const struct gort_func *f = gort_runtime_findfunc((uintptr_t)fns[i]);
			atomic_storeuintptr(&range_lo[i], f ? f->entry : 0);
			atomic_storeuintptr(&range_hi[i], f ? f->end : 0);
		}
		atomic_storerel32(&ranges_ready, 1);
	}
	return pc - 1 >= atomic_loaduintptr(&range_lo[r]) && pc - 1 < atomic_loaduintptr(&range_hi[r]);
}

static int in_gofirst(uintptr_t pc)
{
	return in_range(pc, R_GOFIRST) || in_range(pc, R_GOSTART) || in_range(pc, R_CTXINIT);
}

static int internal_lookup(uintptr_t pc)
{
	const struct gort_func *f = gort_runtime_findfunc(pc - 1);
	if (!f)
		return 0;
	const char *p = gort_runtime_funcpkg(f);
	return strcmp(p, "sched") == 0 || strcmp(p, "prof") == 0 || strcmp(p, "runtime") == 0 ||
		strcmp(p, "atomic") == 0;
}

/* Is the frame at return address pc gort's own (to be trimmed)?  The same
 * few call sites come back at every event, and the symbol table's search
 * and the package's name cost most of an event (half of it at rate 1):
 * remembered here, pc << 1 | answer in one word, so that a reader racing
 * a writer sees a whole entry or another pc's.  atomic words */
static volatile uintptr_t pccache[512];

static int internal(uintptr_t pc)
{
	volatile uintptr_t *e = &pccache[(pc * 0x9e3779b9u >> 7) & 511];
	uintptr_t v = atomic_loadacquintptr(e);
	if (v && v >> 1 == pc)
		return (int)(v & 1);
	int r = internal_lookup(pc);
	atomic_storereluintptr(e, pc << 1 | (uintptr_t)r);
	return r;
}

/* pcs[0..n) is a walk from a hook's frame: pcs[0] in the hook, pcs[1] in
 * its caller.  Keep from the first frame outside gort's packages to the
 * last before the goroutine's start-up; returns the count kept, moved to
 * the front. */
static int in_chan_send(uintptr_t pc)
{
	const struct gort_func *f = gort_runtime_findfunc(pc - 1);   /* rare: only after a send */
	return f && f->entry == (uintptr_t)gort_chan_send;
}

int gort_prof_trimstack(uintptr_t *pcs, int n, int skip)
{
	int k = skip < n ? skip : n;
	while (k < n && internal(pcs[k]))
		k++;
	/* gort_chan_send tail-calls gort_sched_chansend (a frame of its own
	 * would cost every send a call and a return), so its frame is not on
	 * the stack: put it back, as the leaf Go shows (chansend1). */
	if (k > 0 && k < n && in_range(pcs[k - 1], R_CHANSEND) && internal(pcs[k]) == 0 &&
	    !in_chan_send(pcs[k]))
		pcs[--k] = (uintptr_t)gort_chan_send + 1;
	int end = gort_prof_trimstack_root(pcs, n);
	if (end < k)
		end = k;
	memmove(pcs, pcs + k, (size_t)(end - k) * sizeof *pcs);
	return end - k;
}

int gort_prof_trimstack_root(uintptr_t *pcs, int n)
{
	/* they are the last frames (gofirst, gostart; ctxinit for a G that
	 * never ran): look only at the last few */
	int cut = n;
	for (int i = n - 1; i >= 0 && i >= n - 4; i--)
		if (in_gofirst(pcs[i]))
			cut = i;
	return cut;
}

/* --- the table -------------------------------------------------------------- */

static void add(int which, const uintptr_t *stk, int n, double count, int64_t delay)
{
	gort_sched_lock(&lock);
	struct gort_stackent *e = gort_prof_stacktab_get(&table, (uintptr_t)which, stk, n);
	if (e) {   /* else out of memory: the event is lost, the program goes on */
		e->v[0].d += count;
		e->v[1].i += delay;
	}
	gort_sched_unlock(&lock);
}

static uint64_t rand64(void)
{
	return (uint64_t)gort_sched_fastrand() << 32 | gort_sched_fastrand();
}

/* --- the hooks (sched.h), on the goroutine's own stack ------------------------ */

/* Each walks from its own frame: pcs[0] is in the hook, then the
 * scheduler's frames (gort_sched_blockevent, gort_sched_chanrecv...),
 * trimmed by package, up to the public call. */
/* Go's blocksampled and saveblockevent's weights: is a wait of ns at this
 * rate, given the random draw r, recorded -- and as how many events of
 * what total delay? */
int gort_prof_blocksample(int64_t ns, int64_t rate, uint64_t r, double *count, int64_t *delay)
{
	if (ns <= 0)
		ns = 1;
	if (rate <= 0 || (rate > ns && (int64_t)(r % (uint64_t)rate) > ns))
		return 0;
	if (ns < rate) {   /* kept with probability ns/rate: stands for rate/ns of them */
		*count = (double)rate / (double)ns;
		*delay = rate;
	} else {
		*count = 1;
		*delay = ns;
	}
	return 1;
}

/* The stack of the goroutine in the hook that calls this, trimmed; -1
 * outside a goroutine.  Inlined, so that the walk starts at the hook's
 * own frame, as trimstack's skip of 1 expects. */
static inline __attribute__((always_inline)) int hookstack(uintptr_t *pcs)
{
	struct g *gp = getg();
	if (!gp)
		return -1;
	struct gort_frame f;
	gort_runtime_frame_caller(&f);
	int n = gort_runtime_unwind(f, gp->stack_lo, gp->stack_hi, pcs, PROF_MAXSTACK);
	return gort_prof_trimstack(pcs, n, 1);
}

static __attribute__((noinline)) void blockevent(int64_t ns)
{
	int64_t rate = (int64_t)atomic_load64(&blockrate);
	double count;
	int64_t delay;
	if (rate <= 0 || !gort_prof_blocksample(ns, rate, rand64(), &count, &delay))
		return;
	uintptr_t pcs[PROF_MAXSTACK];
	int n = hookstack(pcs);
	if (n < 0)
		return;
	add(BLOCK, pcs, n, count, delay);
}

static __attribute__((noinline)) void mutexevent(int64_t ns)
{
	uint32_t frac = atomic_load32(&mutexfrac);
	if (ns < 0)
		ns = 0;
	if (frac == 0 || gort_sched_fastrand() % frac != 0)
		return;
	uintptr_t pcs[PROF_MAXSTACK];
	int n = hookstack(pcs);
	if (n < 0)
		return;
	add(MUTEX, pcs, n, 1, ns);
}

__attribute__((constructor))
static void blockprof_hooks(void)
{
	gort_sched_hooks.blockevent = blockevent;
	gort_sched_hooks.mutexevent = mutexevent;
}

/* --- the API ------------------------------------------------------------------ */

int64_t gort_prof_set_block_rate(int64_t ns)
{
	if (ns < 0)
		ns = 0;
	int64_t old = (int64_t)atomic_xchg64(&blockrate, (uint64_t)ns);
	if (ns)
		atomic_or32(&gort_sched_profflags, PROF_BLOCK);
	else
		atomic_and32(&gort_sched_profflags, ~(uint32_t)PROF_BLOCK);
	return old;
}

int gort_prof_set_mutex_fraction(int rate)
{
	if (rate < 0)
		return (int)atomic_load32(&mutexfrac);
	int old = (int)atomic_xchg32(&mutexfrac, (uint32_t)rate);
	if (rate)
		atomic_or32(&gort_sched_profflags, PROF_MUTEX);
	else
		atomic_and32(&gort_sched_profflags, ~(uint32_t)PROF_MUTEX);
	return old;
}

/* --- writing (Go: printCountCycleProfile) ------------------------------------- */

struct cursor {
	int which;
	int64_t scale;
	struct gort_stackcur at;
	int64_t values[2];
};

static int nextsample(void *arg, struct pprof_sample *s)
{
	struct cursor *c = arg;
	struct gort_stackent *e;
	while ((e = gort_prof_stacktab_next(&table, &c->at)) && e->key != (uintptr_t)c->which)
		;
	if (!e)
		return 0;
	/* Go's BlockProfile truncates the weighted count, and never to 0 */
	int64_t count = (int64_t)e->v[0].d;
	if (count == 0)
		count = 1;
	c->values[0] = count * c->scale;
	c->values[1] = e->v[1].i * c->scale;
	s->stk = e->stk;
	s->nstk = e->nstk;
	s->values = c->values;
	return 1;
}

static int write_profile(int which, int fd)
{
	static const struct pprof_valtype types[2] = { { "contentions", "count" }, { "delay", "nanoseconds" } };
	struct pprof_spec spec = {
		.types = types,
		.ntypes = 2,
		.period_type = { "contentions", "count" },
		.period = 1,
	};
	struct cursor c = { .which = which, .scale = 1 };
	if (which == MUTEX) {
		/* Go scales by the fraction in force now, as we do */
		int frac = (int)atomic_load32(&mutexfrac);
		c.scale = frac > 0 ? frac : 1;
	}
	/* The lock is held while writing: events wait for the write to end.
	 * The writer allocates, but never waits on anything an event holds. */
	gort_sched_lock(&lock);
	int err = gort_prof_write(&spec, nextsample, &c, fd);
	gort_sched_unlock(&lock);
	return err;
}

int gort_prof_blockprof_write(int fd)
{
	return write_profile(BLOCK, fd);
}

int gort_prof_mutexprof_write(int fd)
{
	return write_profile(MUTEX, fd);
}

/* For tests: the sum of count and delay over every bucket of one profile
 * whose stack holds a frame in fn (or every bucket, fn NULL). */
void gort_prof_blockprof_sum(int mutex, uintptr_t fn_lo, uintptr_t fn_hi, double *count, int64_t *delay)
{
	*count = 0;
	*delay = 0;
	gort_sched_lock(&lock);
	struct gort_stackcur at = { 0 };
	for (struct gort_stackent *e; (e = gort_prof_stacktab_next(&table, &at));)
		if (e->key == (uintptr_t)(mutex ? MUTEX : BLOCK) && gort_prof_stack_holds(e->stk, e->nstk, fn_lo, fn_hi)) {
			*count += e->v[0].d;
			*delay += e->v[1].i;
		}
	gort_sched_unlock(&lock);
}
