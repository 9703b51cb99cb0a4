/*
 * goroutineprof.c -- the goroutine profile: every live goroutine's stack,
 * counted by (stack, labels) (Go: runtime/pprof's "goroutine" profile, and
 * goroutineProfileWithLabelsConcurrent in mprof.go, Go 1.19).
 *
 * The problem.  A profile of 100,000 goroutines walks 100,000 stacks --
 * tens of milliseconds -- and each stack must be the one its goroutine had
 * at one moment, T: a goroutine that runs while its stack is walked
 * changes it under the walk.  Go before 1.19 stopped the world for the
 * whole walk.  Go 1.19 stops it only to mark the moment: every G carries
 * a goroutine-profile state, absent, in progress or satisfied; the
 * scheduler, before it runs an absent G, records that G's stack itself;
 * the profiler walks the others while the world runs.  gort does the
 * same without stopping anything at all.
 *
 * The state.  g->profgen is gen << 1 | busy, gen being the number of the
 * profile that recorded the G (gort_sched_goprof_gen is the one being
 * taken, 0 when none is).  For profile e a G is
 *
 *   absent     profgen >> 1 < e      (its stack is still to be taken)
 *   busy       profgen == e << 1 | 1 (someone is walking it: it may not run)
 *   done       profgen == e << 1     (recorded, or made after T: not wanted)
 *
 * Numbering the profiles means no G has to be reset before or after one.
 * Whoever CASes a G from absent to busy owns it: it walks the stack,
 * records it, and stores done; a G made while e is current is done from
 * birth (newproc).
 *
 * Who records whom.
 *   - The profiler, for every G that is parked or runnable: its stack is
 *     the one its saved context gives, and it cannot run while busy.
 *   - The M about to run an absent G (execute, switch_out: GOPROF_RUN),
 *     from the G's saved context, before it switches to it: a G runnable
 *     at T is recorded as it was at T whoever gets there first.
 *   - A G in a system call is walked from its caller's frame, which
 *     gort_syscall_enter left in its M; gort_syscall_exit waits while it
 *     is busy (GOPROF_SYSEXIT), and records the G itself if still absent.
 *   - A G running at T cannot be walked from here: its registers are
 *     another thread's.  It is recorded once it stops -- at its next
 *     park or yield, from the context it then saves (the profiler looks
 *     again until it has) -- or by itself, walking its own stack: as it
 *     exits (GOPROF_EXIT), at a yield that finds nothing else to run, or
 *     when it is preempted (GOPROF_SELF).  That is where Go's
 *     stop-the-world would have caught it too: a running goroutine stops
 *     at its next preemption point.  The profiler asks for that
 *     preemption (as sysmon does after a time slice) while it waits.
 *
 * The races, and why each side sees the other.
 *   T is the store of gort_sched_goprof_gen.  The scheduler stores a G's
 *   status Grunning and only then loads gen (GOPROF_CHECK, with a
 *   compiler barrier between), and the profiler stores gen, then calls
 *   membarrier(2), which makes every thread of the process execute a full
 *   barrier: after it returns, a G whose M read gen == 0 shows Grunning
 *   to the profiler, and every M that reads gen later sees it.  Between
 *   them the claim is a CAS on profgen, after which the profiler reads the
 *   status again: Grunning means not now (the claim is undone, and the M
 *   running it records it, or it is looked at again).  This is Dekker's
 *   pattern with the expensive fence on the rare side only: the
 *   scheduler's hot path gets no fence, just a load and a branch.
 *
 *   A parking G stores Gwaiting before it switches away, so a status that
 *   says parked does not yet mean a saved context.  switch_out clears
 *   g->sp when a G resumes, and the switch that parks it stores the new
 *   one: the profiler walks only a G whose sp is set, and otherwise undoes
 *   its claim and looks again.  (On x86-64 stores are seen in order, so
 *   the saved registers are there once sp is.  On weakly ordered CPUs the
 *   profiler claims a batch of Gs and calls membarrier once more before it
 *   walks them, so that the contexts it reads are the ones saved.)
 *
 * The pause.  Nothing stops.  A G is held back from running only while
 * its own stack is walked (a microsecond), and only if an M wants to run
 * it in that microsecond; the profiler holds one claim at a time (a batch
 * on weakly ordered CPUs), never waits while it holds one, and runs with
 * preemption disabled meanwhile, so no claim is left with a descheduled
 * profiler.  Every millisecond of walking it yields its P, so the
 * goroutines queued behind it wait that long at most, not the whole walk
 * (nor sysmon's 10 ms time slice).  membarrier interrupts each running thread of the process
 * once, for a few microseconds.  docs/prof.md has the figures at 100,000
 * goroutines; bench/profiles.c measures them against Go's.
 *
 * Rejected: stopping the world for the walk (Go 1.18: milliseconds per
 * ten thousand goroutines); a fence on every switch (measurable on every
 * program for a profile most never take); walking Gs unclaimed and
 * checking afterwards whether they ran (a G parking at that moment has
 * no context yet, and nothing shows that afterwards).
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "prof/prof.h"
#include "sched/sched.h"

#if defined(__x86_64__)
#define BATCH 1     /* total store order: a set sp means a saved context */
#else
#define BATCH 64    /* claimed, then one membarrier, then walked */
#endif
/* The profiler yields its P after this long walking (looked at every 32
 * Gs): goroutines queued behind it wait no longer than that.  Shorter
 * costs the profile itself: at one P each yield lets the others run a
 * whole time slice (10 ms at 100 us made a profile of 100,000 goroutines
 * take 10 s, not 0.07). */
#define YIELD_NS 1000000
/* How long the profiler waits for a goroutine running at T to stop. */
#define STRAGGLE_NS 1000000000

/* One profile at a time (Go's goroutineProfile.sema); gen_last, the
 * table's contents and gort_prof_goprof_last under it.  A goroutine's
 * mutex: the profiler yields its P now and then, and a second profiler
 * must park, not hold a thread (and a P) in a futex meanwhile. */
static gort_mutex onelock;
static uint32_t gen_last;

static void one_lock(void)
{
	if (getg()) {
		gort_mutex_lock(&onelock);
		return;
	}
	/* the end of gort_main, on its own thread: no G to park */
	while (!gort_mutex_trylock(&onelock)) {
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
}

/* The records of the profile being taken, under tablock: filled by the
 * profiler and by any M that records a G before running it. */
static struct rtlock tablock;
/* stacktab.c's: key the labels, v[0].i the goroutines at that stack */
static struct gort_stacktab tab = { .alloc = malloc, .dealloc = free };
static int64_t total;                 /* goroutines recorded */
static int oom;                       /* a record could not be stored */

void (*gort_prof_goprof_at_T)(void);

/* How the last profile went (tests, bench): under onelock. */
struct goprof_stats gort_prof_goprof_last;
static volatile uint64_t maxhold;     /* the longest a G was busy, ns; atomic */
static volatile uint32_t holdhist[64]; /* holds by log2 of their ns; atomic */
static volatile uint32_t by_sched;    /* recorded by a scheduler, not the profiler; atomic */

static void record(const struct gort_labels *l, const uintptr_t *stk, int n)
{
	gort_sched_lock(&tablock);
	total++;
	struct gort_stackent *e = gort_prof_stacktab_get(&tab, (uintptr_t)l, stk, n);
	if (e)
		e->v[0].i++;
	else
		oom = 1;
	gort_sched_unlock(&tablock);
}

/* --- claiming ------------------------------------------------------------------ */

/* Claim gp for profile e: 1 and *old set if it was absent and is now
 * busy; 0 if done.  Waits while someone else has it busy -- a walk, so a
 * microsecond (the thread that has it may be descheduled: yield). */
static int claim(struct g *gp, uint32_t e, uint32_t *old)
{
	for (;;) {
		uint32_t v = atomic_load32(&gp->profgen);
		if (v >> 1 == e) {
			if (!(v & 1))
				return 0;
			sched_yield();
			continue;
		}
		if (atomic_cas32(&gp->profgen, v, e << 1 | 1)) {
			*old = v;
			return 1;
		}
	}
}

static void release(struct g *gp, uint32_t e, int64_t since)
{
	atomic_storerel32(&gp->profgen, e << 1);
	int64_t held = gort_sched_nanotime() - since;
	atomic_add32(&holdhist[held > 0 ? 64 - __builtin_clzll((uint64_t)held) : 0], 1);
	uint64_t m;
	while ((m = atomic_load64(&maxhold)) < (uint64_t)held && !atomic_cas64(&maxhold, m, (uint64_t)held))
		;
}

/* --- walking ---------------------------------------------------------------- */

/* A parked G's stack, from its saved context sp; an unstarted one's is
 * its function, as Go shows one. */
static int walk_parked(struct g *gp, void *sp, uintptr_t *pcs)
{
	struct gort_frame f;
	gort_sched_ctxframe(sp, &f);
	int n = gort_runtime_unwind(f, gp->stack_lo, gp->stack_hi, pcs, PROF_MAXSTACK);
	n = gort_prof_trimstack_root(pcs, n);
	if (n == 0 && gp->fn) {
		pcs[0] = (uintptr_t)gp->fn + 1;   /* a "return address" into fn's entry */
		n = 1;
	}
	return n;
}

static int walk_syscall(struct g *gp, uintptr_t *pcs)
{
	struct m *m = gp->m;
	if (!m || !m->syscallframe.pc)
		return 0;
	int n = gort_runtime_unwind(m->syscallframe, gp->stack_lo, gp->stack_hi, pcs, PROF_MAXSTACK);
	return gort_prof_trimstack_root(pcs, n);
}

static int membarrier_ok = -1;   /* under onelock */

static int barrier(void)
{
	if (membarrier_ok < 0) {
		membarrier_ok = syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 ? 1
			: syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0 ? 2 : 0;
	}
	if (membarrier_ok == 1)
		return syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0 ? 0 : -errno;
	if (membarrier_ok == 2)
		return syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0 ? 0 : -errno;
	return -ENOSYS;
}

/* --- the scheduler's hook (GOPROF_CHECK) ------------------------------------------ */

static __attribute__((noinline)) void goprof_hook(struct g *gp, int how)
{
	uint32_t e = atomic_load32(&gort_sched_goprof_gen);
	if (!e)
		return;
	uint32_t old;
	if (!claim(gp, e, &old))
		return;
	int64_t t0 = gort_sched_nanotime();
	uintptr_t pcs[PROF_MAXSTACK];
	int n;
	if (how == GOPROF_RUN) {
		n = walk_parked(gp, gp->sp, pcs);   /* off its stack until we return */
	} else {
		/* gp is this goroutine: its own stack, from the hook's caller */
		struct gort_frame f;
		gort_runtime_frame_caller(&f);
		n = gort_runtime_unwind(f, gp->stack_lo, gp->stack_hi, pcs, PROF_MAXSTACK);
		n = gort_prof_trimstack_root(pcs, n);
		if (n > 1) {
			memmove(pcs, pcs + 1, (size_t)(n - 1) * sizeof *pcs);
			n--;
		}
	}
	const struct gort_labels *l = gp->labels;
	release(gp, e, t0);
	atomic_add32(&by_sched, 1);
	record(l, pcs, n);
}

__attribute__((constructor))
static void goprof_hooks(void)
{
	gort_sched_hooks.goroutine = goprof_hook;
}

/* --- the profiler ------------------------------------------------------------- */

struct pending {
	struct g **v;
	size_t n, cap;
};

struct claimed {
	struct g *gp;
	uint32_t old;
	int sys;
	void *sp;
};

/* Look at gp once: recorded (or not wanted), or left for later. */
static int visit(struct g *gp, uint32_t e, struct claimed *batch, int *nb)
{
	uint32_t s = atomic_load32(&gp->status);
	if (s == Gdead || s == Gidle)
		return 1;
	uint32_t old;
	if (!claim(gp, e, &old))
		return 1;
	s = atomic_load32(&gp->status);   /* again, now that it cannot start */
	void *sp = atomic_loadacqp((void *const volatile *)&gp->sp);
	if (s == Gdead || s == Gidle) {
		atomic_storerel32(&gp->profgen, e << 1);   /* ended before we looked */
		return 1;
	}
	if (s == Gsyscall || ((s == Gwaiting || s == Grunnable) && sp)) {
		batch[(*nb)++] = (struct claimed){ gp, old, s == Gsyscall, sp };
		return 1;
	}
	atomic_storerel32(&gp->profgen, old);   /* running, or not yet off its stack */
	return 0;
}

static void walk_batch(struct claimed *batch, int nb, uint32_t e)
{
	if (nb == 0)
		return;
	if (BATCH > 1)
		barrier();   /* the contexts they saved are visible to us now */
	for (int i = 0; i < nb; i++) {
		int64_t t0 = gort_sched_nanotime();
		struct g *gp = batch[i].gp;
		uintptr_t pcs[PROF_MAXSTACK];
		int n = batch[i].sys ? walk_syscall(gp, pcs) : walk_parked(gp, batch[i].sp, pcs);
		const struct gort_labels *l = gp->labels;
		release(gp, e, t0);
		record(l, pcs, n);
	}
}

/* Between looks at the Gs that were running: let them run (with no claim
 * held, a park is harmless; onelock is a goroutine's mutex). */
static void pause_a_moment(struct g *self)
{
	if (self) {
		gort_preempt_enable();
		gort_sleep(50000);
		gort_preempt_disable();
		return;
	}
	struct timespec ts = { 0, 50000 };
	nanosleep(&ts, NULL);
}

static void clear_table(void)
{
	gort_prof_stacktab_clear(&tab);
	total = 0;
	oom = 0;
}

/* The q-quantile of the holds, to a power of two (the upper end of its
 * histogram bucket). */
static int64_t holdq(double q)
{
	uint64_t n = 0, k = 0;
	for (int i = 0; i < 64; i++)
		n += atomic_load32(&holdhist[i]);
	for (int i = 0; i < 64; i++) {
		k += atomic_load32(&holdhist[i]);
		if (n && (double)k >= q * (double)n)
			return i ? (int64_t)1 << i : 1;
	}
	return 0;
}

/* Take the profile into tab.  onelock held. */
static __attribute__((noinline)) int take(void)
{
	int64_t start = gort_sched_nanotime();
	uint32_t e = ++gen_last;
	if (e >= (1u << 31))
		e = gen_last = 1;   /* after 2^31 profiles: a stale done could be taken for this one */
	struct g *self = getg();
	atomic_store64(&maxhold, 0);
	atomic_store32(&by_sched, 0);
	for (int i = 0; i < 64; i++)
		atomic_store32(&holdhist[i], 0);
	if (self) {
		/* Ourselves, as of this call (Go records its caller the same way). */
		struct gort_frame f;
		uintptr_t pcs[PROF_MAXSTACK];
		gort_runtime_frame_caller(&f);
		int n = gort_runtime_unwind(f, self->stack_lo, self->stack_hi, pcs, PROF_MAXSTACK);
		n = gort_prof_trimstack_root(pcs, n);
		atomic_store32(&self->profgen, e << 1);
		record(self->labels, pcs, n);
	}

	/* T. */
	atomic_store32(&gort_sched_goprof_gen, e);
	int64_t b0 = gort_sched_nanotime();
	int err = barrier();
	int64_t barrier_ns = gort_sched_nanotime() - b0;
	if (err) {
		atomic_store32(&gort_sched_goprof_gen, 0);
		return err;
	}
	if (gort_prof_goprof_at_T)
		gort_prof_goprof_at_T();   /* tests: goroutines made now are not in it */
	gort_sched_lock(&gort_sched.allglock);
	struct g *head = gort_sched.allgs;
	gort_sched_unlock(&gort_sched.allglock);

	struct pending pend = { 0 };
	struct claimed batch[BATCH];
	int nb = 0;
	size_t visited = 0;
	/* Claims are held with preemption off (no claim may wait on a
	 * descheduled profiler), a batch at a time; between batches, now and
	 * then, the profiler lets its P run the others. */
	if (self)
		gort_preempt_disable();
	int64_t lastyield = gort_sched_nanotime();
	for (struct g *gp = head; gp; gp = gp->alllink) {
		visited++;
		if (gp == self)
			continue;
		if (!visit(gp, e, batch, &nb)) {
			if (gort_runtime_grow(&pend.v, &pend.cap, pend.n + 1, sizeof *pend.v) == 0)
				pend.v[pend.n++] = gp;
		}
		if (nb == BATCH) {
			walk_batch(batch, nb, e);
			nb = 0;
		}
		if (self && nb == 0 && visited % 32 == 0 && gort_sched_nanotime() - lastyield > YIELD_NS) {
			gort_preempt_enable();
			gort_yield();
			gort_preempt_disable();
			lastyield = gort_sched_nanotime();
		}
	}
	walk_batch(batch, nb, e);
	nb = 0;
	/* The ones that were running: until each has stopped somewhere --
	 * or, after STRAGGLE_NS, not: a goroutine in a blocking call gort
	 * knows nothing of (a read(2) not wrapped in gort_syscall_enter) is
	 * Grunning for as long as the call lasts, and cannot be preempted.
	 * Those are counted under their start function, and the profile is
	 * not held up. */
	uint32_t rounds = 0, stragglers = 0;
	int64_t pend_start = gort_sched_nanotime();
	while (pend.n > 0 && gort_sched_nanotime() - pend_start < STRAGGLE_NS) {
		pause_a_moment(self);
		rounds++;
		size_t k = 0;
		for (size_t i = 0; i < pend.n; i++) {
			/* Now and then, ask it to stop, as sysmon would after its
			 * time slice: it records itself as it is preempted. */
			struct g *gp = pend.v[i];
			struct m *m = gp->m;
			if (rounds % 20 == 1 && m && atomic_load32(&gp->status) == Grunning)
				gort_sched_preemptone(m, gp);
			if (!visit(gp, e, batch, &nb))
				pend.v[k++] = pend.v[i];
			if (nb == BATCH) {
				walk_batch(batch, nb, e);
				nb = 0;
			}
		}
		walk_batch(batch, nb, e);
		nb = 0;
		pend.n = k;
	}
	for (size_t i = 0; i < pend.n; i++) {
		struct g *gp = pend.v[i];
		uint32_t v = atomic_load32(&gp->profgen);
		/* done, unless it is recording itself right now */
		if (v >> 1 != e && atomic_cas32(&gp->profgen, v, e << 1)) {
			uintptr_t pc = (uintptr_t)gp->fn + 1;
			record(gp->labels, &pc, 1);
			stragglers++;
		}
	}
	free(pend.v);
	atomic_store32(&gort_sched_goprof_gen, 0);
	if (self)
		gort_preempt_enable();

	gort_sched_lock(&tablock);
	gort_prof_goprof_last = (struct goprof_stats){
		.goroutines = total,
		.visited = (int64_t)visited,
		.by_sched = atomic_load32(&by_sched),
		.rounds = rounds,
		.stragglers = stragglers,
		.maxhold_ns = (int64_t)atomic_load64(&maxhold),
		.hold_p50_ns = holdq(0.5),
		.hold_p999_ns = holdq(0.999),
		.barrier_ns = barrier_ns,
		.total_ns = gort_sched_nanotime() - start,
	};
	gort_sched_unlock(&tablock);
	return oom ? -ENOMEM : 0;
}

/* --- writing (Go: writeGoroutine, printCountProfile) ---------------------------- */

struct cursor {
	struct gort_stackcur at;
	int64_t value;
};

static int nextsample(void *arg, struct pprof_sample *s)
{
	struct cursor *c = arg;
	struct gort_stackent *e = gort_prof_stacktab_next(&tab, &c->at);
	if (!e)
		return 0;
	c->value = e->v[0].i;
	s->stk = e->stk;
	s->nstk = e->nstk;
	s->values = &c->value;
	s->labels = (const struct gort_labels *)e->key;
	return 1;
}

int gort_prof_goroutineprof_take(void)
{
	one_lock();
	clear_table();
	int err = take();
	gort_mutex_unlock(&onelock);
	return err;
}

/* Tests: the count recorded for stacks holding a frame in [lo, hi), with
 * label key=value if key is not NULL, in the profile last taken. */
int64_t gort_prof_goroutineprof_count(uintptr_t lo, uintptr_t hi, const char *key, const char *value)
{
	int64_t sum = 0;
	one_lock();
	struct gort_stackcur at = { 0 };
	for (struct gort_stackent *e; (e = gort_prof_stacktab_next(&tab, &at));) {
		if (key) {
			const char *v = gort_labels_value((const struct gort_labels *)e->key, key);
			if (!v || strcmp(v, value) != 0)
				continue;
		}
		if (gort_prof_stack_holds(e->stk, e->nstk, lo, hi))
			sum += e->v[0].i;
	}
	gort_mutex_unlock(&onelock);
	return sum;
}

int gort_prof_goroutineprof_write(int fd)
{
	static const struct pprof_valtype type = { "goroutine", "count" };
	one_lock();
	clear_table();
	int err = take();
	if (!err) {
		struct pprof_spec spec = {
			.types = &type,
			.ntypes = 1,
			.period_type = type,
			.period = 1,
		};
		struct cursor c = { 0 };
		err = gort_prof_write(&spec, nextsample, &c, fd);
	}
	gort_mutex_unlock(&onelock);
	return err;
}
