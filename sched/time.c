/*
 * time.c -- timers, sleep, and the timer API (Go: time.go, sleep.go).
 *
 * Each P keeps its timers in a 4-ary min-heap ordered by `when`, under the
 * P's timerslock; p->timer0when mirrors the root so that the scheduler can
 * see "nothing due" with one load and no lock.  A timer knows its heap
 * (t->pp) while it is in one.  To delete or re-arm a timer, lock the heap
 * it claims to be in and check the claim again: the timer may have fired,
 * or moved, in between.
 *
 * Timers run where the scheduler already is: after every context switch
 * (after_switch), in findrunnable, and, for the Ps of other Ms, when an
 * idle M goes looking for work.  A timer's function runs with no lock
 * held and must not block: it readies a goroutine (sleep), sends on a
 * buffered channel (gort_timer), or starts a goroutine (gort_afterfunc).
 * An M going idle while a timer is pending becomes the "timer sleeper"
 * if there is none yet or its deadline is earlier, and sleeps only until
 * that timer is due (proc.c's stopm); adding an earlier timer wakes it.
 *
 * Why a 4-ary heap: it is shallower than a binary one, and the four
 * children of a node share a cache line or two.  Go made the same choice.
 */
#include <sched.h>
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

void gort_sched_addtimer(struct timer *t)
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

/* Remove t from its heap.  Returns 1 if it was pending. */
int gort_sched_deltimer(struct timer *t)
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

/* Run pp's timers that are due at `now`.  Returns the next when, 0 if none. */
int64_t gort_sched_runtimers(struct p *pp, int64_t now)
{
	gort_sched_lock(&pp->timerslock);
	while (pp->ntimers > 0 && pp->timers[0]->when <= now) {
		struct timer *t = pp->timers[0];
		heap_del(pp, t);
		if (t->period > 0) {
			/* Catch up without firing a burst for every missed period. */
			t->when += t->period * (1 + (now - t->when) / t->period);
			heap_add(pp, t);
		}
		void (*f)(struct timer *, void *) = t->f;
		void *arg = t->arg;
		atomic_store32(&t->running, 1);
		gort_sched_unlock(&pp->timerslock);
		f(t, arg);
		atomic_store32(&t->running, 0);
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
	gort_chan *c;                 /* NULL for an AfterFunc timer */
	void (*fn)(void *);
	void *arg;
};

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

static struct gort_timer *timer_new(int64_t ns, int64_t period)
{
	struct gort_timer *gt = calloc(1, sizeof *gt);
	if (!gt)
		return NULL;
	int64_t now = gort_sched_nanotime();
	gt->t.when = ns <= 0 ? now : ns > INT64_MAX - now ? INT64_MAX : now + ns;
	gt->t.period = period;
	gt->t.arg = gt;
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
		free(gt);
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
	return gt->c;
}

int gort_timer_stop(gort_timer *gt)
{
	return gort_sched_deltimer(&gt->t);
}

int gort_timer_reset(gort_timer *gt, int64_t ns)
{
	int was = gort_sched_deltimer(&gt->t);
	int64_t now = gort_sched_nanotime();
	gt->t.when = ns <= 0 ? now : ns > INT64_MAX - now ? INT64_MAX : now + ns;
	gort_sched_addtimer(&gt->t);
	return was;
}

void gort_timer_free(gort_timer *gt)
{
	if (!gt)
		return;
	gort_sched_deltimer(&gt->t);
	/* A firing that already began is still using gt: wait for it. */
	while (atomic_load32(&gt->t.running)) {
		if (getg())
			gort_yield();
		else
			sched_yield();
	}
	if (gt->c)
		gort_chan_free(gt->c);
	free(gt);
}
