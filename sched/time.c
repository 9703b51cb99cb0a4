/*
 * time.c -- timers, sleep, and the timer API (Go: time.go, sleep.go).
 *
 * Each P keeps its timers in a 4-ary min-heap ordered by `when`, under the
 * P's timerslock; p->timer0when mirrors the root so that the scheduler can
 * see "nothing due" with one load and no lock.  A timer knows its heap
 * (t->pp) while it is in one.
 *
 * One timer, many hands.  Go lets any number of goroutines Stop and
 * Reset one Timer at once, while the runtime may be firing it on some
 * other thread, or moving it to another P's heap.  A heap lock alone
 * cannot make that safe: a reset is "delete, write when, add", and two
 * resets interleaved at their three steps add the timer twice.  So each
 * timer carries a lock of its own, t->mu, and every operation on the
 * timer -- arm, stop, reset, fire -- holds it from start to end:
 *
 *   stop    lock mu; if in a heap, lock that heap, delete; unlock
 *   reset   lock mu; delete as stop does; write when; add to this P's
 *           heap; unlock
 *   fire    (runtimers, holding the heap's lock) trylock mu; delete (or
 *           re-add a ticker at its next period); release the heap; call
 *           f; unlock mu
 *
 * The lock order is t->mu before p->timerslock (and before whatever f
 * takes: a channel's lock, sched.lock).  The firing path meets them the
 * other way round -- it finds the timer by holding the heap -- which is
 * why it only tries mu: on failure it lets go of the heap for a moment
 * and looks again, so the stop or reset holding mu can take the heap and
 * finish.  No thread ever holds mu while it could run timers itself
 * (nothing done under mu switches goroutines), so the retry always ends.
 *
 * Holding mu across f gives Go's guarantees for free: a Stop that returns
 * 1 removed the arming before it fired, so that arming never fires; a
 * Stop or Reset that meets a firing in progress waits for it to finish,
 * so when Stop returns 0 the value is already in the channel (the
 * `if (!stop) <-c` idiom cannot block); each arming fires at most once,
 * and never before its `when`.  Moving a retiring P's timers
 * (movetimers) holds both heaps' locks but not mu: a stop that finds its
 * timer gone to another heap under it simply follows it there.
 *
 * Timers run where the scheduler already is: after every context switch
 * (after_switch), in findrunnable, and, for the Ps of other Ms, when an
 * idle M goes looking for work.  A timer's function runs with no heap
 * lock held and must not block: it readies a goroutine (sleep), sends on
 * a buffered channel (gort_timer), or starts a goroutine
 * (gort_afterfunc).  An M going idle while a timer is pending becomes the
 * "timer sleeper" if there is none yet or its deadline is earlier, and
 * sleeps only until that timer is due (proc.c's stopm); adding an earlier
 * timer wakes it.
 *
 * Why a 4-ary heap: it is shallower than a binary one, and the four
 * children of a node share a cache line or two.  Go made the same choice.
 */
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>

#include "sched/sched.h"

void gort_sched_timers_init(struct p *pp)
{
	pp->timers = NULL;
	pp->ntimers = pp->captimers = 0;
	pp->timer0when = 0;
}

static void siftup(struct timer **h, int i)
{
	struct timer *t = h[i];
	while (i > 0) {
		int parent = (i - 1) / 4;
		if (h[parent]->when <= t->when)
			break;
		h[i] = h[parent];
		h[i]->idx = i;
		i = parent;
	}
	h[i] = t;
	t->idx = i;
}

static void siftdown(struct timer **h, int n, int i)
{
	struct timer *t = h[i];
	for (;;) {
		int c = 4 * i + 1;
		if (c >= n)
			break;
		int best = c;
		for (int k = c + 1; k < c + 4 && k < n; k++)
			if (h[k]->when < h[best]->when)
				best = k;
		if (h[best]->when >= t->when)
			break;
		h[i] = h[best];
		h[i]->idx = i;
		i = best;
	}
	h[i] = t;
	t->idx = i;
}

static void update0(struct p *pp)
{
	pp->timer0when = pp->ntimers ? (uint64_t)pp->timers[0]->when : 0;
}

/* pp->timerslock held. */
static void heap_add(struct p *pp, struct timer *t)
{
	if (pp->ntimers == pp->captimers) {
		int cap = pp->captimers ? 2 * pp->captimers : 16;
		struct timer **h = realloc(pp->timers, (size_t)cap * sizeof *h);
		if (!h)
			gort_runtime_throw("out of memory growing a timer heap");
		pp->timers = h;
		pp->captimers = cap;
	}
	pp->timers[pp->ntimers] = t;
	siftup(pp->timers, pp->ntimers++);
	atomic_storep((void *volatile *)&t->pp, pp);
	atomic_add32((volatile uint32_t *)&gort_sched.ntimers, 1);
	update0(pp);
}

/* pp->timerslock held; t is in pp's heap. */
static void heap_del(struct p *pp, struct timer *t)
{
	int i = t->idx, last = --pp->ntimers;
	if (i != last) {
		pp->timers[i] = pp->timers[last];
		pp->timers[i]->idx = i;
		siftdown(pp->timers, pp->ntimers, i);
		siftup(pp->timers, pp->timers[i]->idx);
	}
	atomic_storep((void *volatile *)&t->pp, NULL);
	atomic_add32((volatile uint32_t *)&gort_sched.ntimers, -1);
	update0(pp);
}

/* t->mu held, t in no heap: add it to the current P's heap. */
static void add_locked(struct timer *t)
{
	struct m *m = gort_sched_m;
	struct p *pp = m && m->p ? m->p : gort_sched.allp[0];
	gort_sched_lock(&pp->timerslock);
	heap_add(pp, t);
	int first = pp->timers[0] == t;
	gort_sched_unlock(&pp->timerslock);
	if (first)
		gort_sched_timerwake(t->when);
}

/* t->mu held: take t out of whatever heap it is in.  Returns 1 if it was
 * in one.  The heap is only a claim until its lock is held: movetimers
 * may carry t to another P meanwhile, and then we follow. */
static int del_locked(struct timer *t)
{
	for (;;) {
		struct p *pp = atomic_loadp((void *const volatile *)&t->pp);
		if (!pp)
			return 0;
		gort_sched_lock(&pp->timerslock);
		if (t->pp == pp) {
			heap_del(pp, t);
			gort_sched_unlock(&pp->timerslock);
			return 1;
		}
		gort_sched_unlock(&pp->timerslock);
	}
}

void gort_sched_addtimer(struct timer *t)
{
	spinlock_lock(&t->mu);
	if (!atomic_loadp((void *const volatile *)&t->pp))
		add_locked(t);
	spinlock_unlock(&t->mu);
}

int gort_sched_deltimer(struct timer *t)
{
	spinlock_lock(&t->mu);
	int was = del_locked(t);
	spinlock_unlock(&t->mu);
	return was;
}

int gort_sched_modtimer(struct timer *t, int64_t when)
{
	spinlock_lock(&t->mu);
	int was = del_locked(t);
	t->when = when;
	add_locked(t);
	spinlock_unlock(&t->mu);
	return was;
}

/* Run pp's timers that are due at `now`.  Returns the next when, 0 if none. */
int64_t gort_sched_runtimers(struct p *pp, int64_t now)
{
	gort_sched_lock(&pp->timerslock);
	while (pp->ntimers > 0 && pp->timers[0]->when <= now) {
		struct timer *t = pp->timers[0];
		if (!atomic_cas32(&t->mu.key, 0, 1)) {
			/* A stop or reset holds t and waits for this heap: give
			 * it the heap, then look at the root again. */
			gort_sched_unlock(&pp->timerslock);
			sched_yield();
			gort_sched_lock(&pp->timerslock);
			continue;
		}
		heap_del(pp, t);
		if (t->period > 0) {
			/* Catch up without firing a burst for every missed period. */
			t->when += t->period * (1 + (now - t->when) / t->period);
			heap_add(pp, t);
		}
		gort_sched_unlock(&pp->timerslock);
		t->f(t, t->arg);
		spinlock_unlock(&t->mu);
		gort_sched_lock(&pp->timerslock);
	}
	int64_t next = pp->ntimers ? pp->timers[0]->when : 0;
	gort_sched_unlock(&pp->timerslock);
	return next;
}

/* Move every timer of `from` (a P being retired) to `to`. */
void gort_sched_movetimers(struct p *from, struct p *to)
{
	if (from == to)
		return;
	gort_sched_lock(&from->timerslock);
	gort_sched_lock(&to->timerslock);
	while (from->ntimers > 0) {
		struct timer *t = from->timers[from->ntimers - 1];
		heap_del(from, t);
		heap_add(to, t);
	}
	gort_sched_unlock(&to->timerslock);
	gort_sched_unlock(&from->timerslock);
}

/* --- sleep (Go: timeSleep) ------------------------------------------------- */

/* Sleepers go to the back of the run queue, not to runnext: when several
 * timers fire in one pass they then run in the order they fired. */
static void sleep_fire(struct timer *t, void *arg)
{
	(void)t;
	gort_sched_readyq(arg, 0);
}

/* Arm the sleep timer only once the G is parked, so that an early firing
 * cannot ready a G that is still running. */
static void after_sleep(struct m *m, void *arg)
{
	(void)m;
	struct g *gp = arg;
	gort_sched_addtimer(&gp->sleeptimer);
}

void gort_sleep(int64_t ns)
{
	struct g *gp = gort_sched_mustgetg("gort_sleep");
	gort_sched_notsyscall("gort_sleep");
	if (ns <= 0)
		return;
	int64_t now = gort_sched_nanotime();
	gp->sleeptimer.when = ns > INT64_MAX - now ? INT64_MAX : now + ns;
	gp->sleeptimer.period = 0;
	gp->sleeptimer.f = sleep_fire;
	gp->sleeptimer.arg = gp;
	gort_sched_park_fn(after_sleep, gp, wrSleep);
}

/* --- gort_timer: Go's time.Timer and time.AfterFunc ------------------------ */

struct gort_timer {
	struct timer t;
	volatile uint32_t magic;      /* POOL_TIMER, POOL_FREED once freed (pool.c) */
	gort_chan *c;                 /* NULL for an AfterFunc timer */
	void (*fn)(void *);
	void *arg;
};

static struct pool timerpool = {
	.local = POOL_LOCAL_TIMER,
	.size = sizeof(struct gort_timer),
	.magic_off = offsetof(struct gort_timer, magic),
	.link_off = offsetof(struct gort_timer, arg),
};

#define TIMER_CHECK(gt, what) POOL_CHECK((gt), POOL_TIMER, (what), "timer")

static void timer_send(struct timer *t, void *arg)
{
	(void)t;
	struct gort_timer *gt = arg;
	int64_t now = gort_sched_nanotime();
	gort_select_case c = { .c = gt->c, .dir = GORT_SEND, .elem = &now };
	gort_select(&c, 1, 0);        /* a full channel drops the tick, as Go's does */
}

static void timer_go(struct timer *t, void *arg)
{
	(void)t;
	struct gort_timer *gt = arg;
	gort_sched_newproc(gt->fn, gt->arg, 0, (uintptr_t)gort_afterfunc + 1);   /* "created by gort_afterfunc" */
}

static int64_t deadline(int64_t ns)
{
	int64_t now = gort_sched_nanotime();
	return ns <= 0 ? now : ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

static struct gort_timer *timer_new(int64_t ns, int64_t period)
{
	struct gort_timer *gt = gort_sched_pool_get(&timerpool);
	if (!gt)
		return NULL;
	gt->t.when = deadline(ns);
	gt->t.period = period;
	gt->t.arg = gt;
	atomic_store32(&gt->magic, POOL_TIMER);
	return gt;
}

/* A timer that sends on its own one-slot channel: Timer and Ticker. */
static struct gort_timer *chan_timer(int64_t ns, int64_t period)
{
	struct gort_timer *gt = timer_new(ns, period);
	if (!gt)
		return NULL;
	gt->c = gort_chan_make(sizeof(int64_t), 1);
	if (!gt->c) {
		gort_sched_pool_put(&timerpool, gt);
		return NULL;
	}
	gt->t.f = timer_send;
	gort_sched_addtimer(&gt->t);
	return gt;
}

gort_timer *gort_timer_new(int64_t ns)
{
	return chan_timer(ns, 0);
}

gort_timer *gort_ticker_new(int64_t period)
{
	if (period <= 0)
		gort_runtime_panic("non-positive interval for gort_ticker_new");
	return chan_timer(period, period);
}

gort_timer *gort_afterfunc(int64_t ns, void (*fn)(void *), void *arg)
{
	if (!fn)
		gort_runtime_panic("gort_afterfunc of nil func value");
	struct gort_timer *gt = timer_new(ns, 0);
	if (!gt)
		return NULL;
	gt->fn = fn;
	gt->arg = arg;
	gt->t.f = timer_go;
	gort_sched_addtimer(&gt->t);
	return gt;
}

gort_chan *gort_timer_chan(gort_timer *gt)
{
	TIMER_CHECK(gt, "gort_timer_chan");
	return gt->c;
}

int gort_timer_stop(gort_timer *gt)
{
	TIMER_CHECK(gt, "gort_timer_stop");
	return gort_sched_deltimer(&gt->t);
}

int gort_timer_reset(gort_timer *gt, int64_t ns)
{
	TIMER_CHECK(gt, "gort_timer_reset");
	return gort_sched_modtimer(&gt->t, deadline(ns));
}

void gort_timer_free(gort_timer *gt)
{
	if (!gt)
		return;
	/* Under mu: a second free racing this one, or a firing in progress
	 * (which holds mu until its f returns), is over before we decide. */
	spinlock_lock(&gt->t.mu);
	uint32_t magic = gt->magic;
	if (magic != POOL_TIMER) {
		spinlock_unlock(&gt->t.mu);
		gort_sched_pool_bad(magic, "gort_timer_free", "timer");
	}
	del_locked(&gt->t);
	atomic_store32(&gt->magic, POOL_FREED);
	spinlock_unlock(&gt->t.mu);
	if (gt->c)
		gort_chan_free(gt->c);
	gort_sched_pool_put(&timerpool, gt);
}
