/*
 * select.c -- select over any number of channel cases (Go: select.go's
 * selectgo).
 *
 * 1. Shuffle the cases (pollorder) so that when several are ready each is
 *    chosen with equal probability -- the guarantee Go makes.
 * 2. The quick pass (gort's, not Go's): in pollorder, lock one channel at
 *    a time and take its case if it can proceed.  When a case is ready,
 *    as in a busy program it usually is, that costs one lock, not n.
 * 3. Nothing was: sort the cases by channel address (lockorder), so that
 *    two selects over the same channels always lock them in the same order
 *    and cannot deadlock, and lock them all, each once.  Pass 1 again, now
 *    under every lock, so the answer holds for one instant.
 * 4. None, and a default: unlock, return -1.
 * 5. Pass 2: put a sudog for every case on its channel's queue, then park;
 *    the channels are unlocked only once this G is off its stack.
 * 6. A channel operation that completes one of our sudogs first wins
 *    g->selectdone and wakes us with g->param naming that sudog.  Lock
 *    everything again, take our other sudogs off their queues, unlock.
 *
 * With a deadline (gort_select_until and the _until channel calls), the
 * goroutine's own timer, g->sleeptimer, is one more contender for
 * g->selectdone: at the deadline, select_timeout tries the same CAS, and
 * if it wins it readies the G with g->param still NULL -- the timeout.
 * If a channel won first, the CAS fails and the firing does nothing; the
 * woken G stops the timer, which waits out a firing under way, so the
 * timer is idle again before the G can use it for anything else.  The
 * timer is armed in after_selpark, once the G is off its stack (so a
 * firing can only ready a parked G) and before the channels are
 * unlocked (so no channel can win before it is armed, and none can wake
 * the G while the arming is still under way).  That takes the timer's mu
 * under channel locks, against the lock order (sched.h): it cannot
 * deadlock, because this timer's only other user, its firing, takes no
 * channel lock.  Nothing is allocated: a timeout that never comes costs
 * an add and a delete in the P's heap.
 *
 * gort_after's channels (after.c) free themselves once their value is
 * received.  A select that receives it says so when it is done
 * (gort_sched_after_taken); one that leaves such a channel's queue
 * without it may be the last to reference it, and then gives it back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sched/chan.h"

#define MAXCASES 65536
#define STACKCASES 8   /* cases whose bookkeeping lives on the stack */

struct selstate {
	gort_select_case *cases;
	uint16_t *lockorder;
	int n;
};

static void sellock(struct selstate *s)
{
	struct gort_chan *last = NULL;
	for (int i = 0; i < s->n; i++) {
		struct gort_chan *c = s->cases[s->lockorder[i]].c;
		if (c != last)
			spinlock_lock(&c->lock);
		last = c;
	}
}

/* Unlock every channel but `keep` (which may be NULL). */
static void selunlock_except(struct selstate *s, struct gort_chan *keep)
{
	for (int i = s->n - 1; i >= 0; i--) {
		struct gort_chan *c = s->cases[s->lockorder[i]].c;
		if (c == keep || (i > 0 && s->cases[s->lockorder[i - 1]].c == c))
			continue;
		spinlock_unlock(&c->lock);
	}
}

static void selunlock(struct selstate *s)
{
	selunlock_except(s, NULL);
}

struct parkstate {
	struct selstate st;
	struct timer *timer;   /* a deadline's, to arm; or NULL */
};

static void after_selpark(struct m *m, void *arg)
{
	(void)m;
	struct parkstate *ps = arg;
	if (ps->timer)
		gort_sched_addtimer(ps->timer);   /* under the channels' locks: see the top */
	selunlock(&ps->st);
}

/* The deadline passed: win the select, unless a channel has. */
static void select_timeout(struct timer *t, void *arg)
{
	(void)t;
	struct g *gp = arg;
	if (atomic_cas32(&gp->selectdone, 0, 1))
		gort_sched_readyq(gp, 0);   /* param stays NULL */
}

/* Heap sort of the case indices by channel address: no allocation, no
 * recursion, O(n log n) for a select of any size. */
static void sortcases(gort_select_case *cases, uint16_t *o, int n)
{
#define KEY(k) ((uintptr_t)cases[o[k]].c)
	for (int start = n / 2 - 1, end = n;; ) {
		int root;
		uint16_t t;
		if (start >= 0) {
			root = start--;
		} else {
			if (--end <= 0)
				break;
			t = o[0], o[0] = o[end], o[end] = t;
			root = 0;
		}
		for (;;) {
			int child = 2 * root + 1;
			if (child >= end)
				break;
			if (child + 1 < end && KEY(child) < KEY(child + 1))
				child++;
			if (KEY(root) >= KEY(child))
				break;
			t = o[root], o[root] = o[child], o[child] = t;
			root = child;
		}
	}
#undef KEY
}

/* Try case i, whose channel is locked (with the others of st, if st).
 * Returns 1 if it proceeded, 2 if it received gort_after's value; every
 * lock is then released. */
static int trycase(gort_select_case *cases, int i, struct selstate *st)
{
	struct gort_chan *c = cases[i].c;
	struct sudog *sg;
	int r = 1;
	if (cases[i].dir == GORT_RECV) {
		if ((sg = gort_sched_dequeue(&c->sendq)) != NULL) {
			cases[i].ok = 1;
			if (st)
				selunlock_except(st, c);
			gort_sched_chan_recvfrom(c, sg, cases[i].elem);   /* unlocks c */
			return 1;
		}
		if (c->qcount > 0) {
			gort_sched_chan_bufget(c, cases[i].elem);
			cases[i].ok = 1;
			r += c->kind == CHAN_AFTER;
		} else if (c->closed) {
			if (cases[i].elem && c->elemsize)
				memset(cases[i].elem, 0, c->elemsize);
		} else {
			return 0;
		}
	} else {
		if (c->closed) {
			if (st)
				selunlock(st);
			else
				spinlock_unlock(&c->lock);
			gort_runtime_panic("send on closed channel");
		}
		if ((sg = gort_sched_dequeue(&c->recvq)) != NULL) {
			if (st)
				selunlock_except(st, c);
			gort_sched_chan_sendto(c, sg, cases[i].elem);     /* unlocks c */
			return 1;
		}
		if (c->qcount < c->dataqsiz)
			gort_sched_chan_bufput(c, cases[i].elem);
		else
			return 0;
	}
	if (st)
		selunlock(st);
	else
		spinlock_unlock(&c->lock);
	return r;
}

/* Might case k proceed?  Read without the lock: a hint.  With many
 * goroutines selecting over the same channels, most cases are empty
 * (or full) most of the time, and locking each just to see so pulls its
 * line away from the goroutine about to use it. */
static int maybe_ready(const gort_select_case *k)
{
	struct gort_chan *c = k->c;
	if (atomic_loadacq32(&c->closed))
		return 1;
	size_t q = atomic_loadacquintptr((const volatile uintptr_t *)&c->qcount);
	struct sudog *const volatile *waiter = k->dir == GORT_RECV ? &c->sendq.first : &c->recvq.first;
	if (*waiter)
		return 1;
	return k->dir == GORT_RECV ? q > 0 : q < c->dataqsiz;
}

/* deadline: 0 for none, else when the goroutine's timer ends the wait
 * (block is then 1).  Returns the case, or -1: nothing ready without
 * blocking, or the deadline passed.  what names the call, whatb its
 * blocking form, for the panics. */
static inline __attribute__((always_inline)) int selectgo(gort_select_case *cases, int n, int block,
	int64_t deadline, const char *what, const char *whatb)
{
	if (n < 0 || n > MAXCASES)
		gort_runtime_panicf("%s: %d cases (0 to %d allowed)", what, n, MAXCASES);
	gort_sched_notsyscall(what);
	for (int i = 0; i < n; i++) {
		if (cases[i].c)
			CHAN_CHECK(cases[i].c, what);
		if (cases[i].dir != GORT_SEND && cases[i].dir != GORT_RECV)
			gort_runtime_panicf("%s: case %d has direction %d (want GORT_SEND or GORT_RECV)",
				what, i, cases[i].dir);
		if (__builtin_expect(cases[i].dir == GORT_SEND && cases[i].c && cases[i].c->kind, 0))
			gort_sched_recvonly("send on");
		cases[i].ok = 0;
	}
	struct gort_chan *taken = NULL;   /* gort_after's channel whose value we received */

	uint16_t pstack[STACKCASES], lstack[STACKCASES];
	struct sudog sstack[STACKCASES];
	uint16_t *pollorder = pstack, *lockorder = lstack;
	struct sudog *sgs = sstack;
	if (n > STACKCASES) {
		pollorder = malloc((size_t)n * sizeof *pollorder);
		lockorder = malloc((size_t)n * sizeof *lockorder);
		sgs = malloc((size_t)n * sizeof *sgs);
		if (!pollorder || !lockorder || !sgs)
			gort_runtime_throw("out of memory in gort_select");
	}

	/* Fisher-Yates over the non-nil cases; nil channels never proceed. */
	int np = 0;
	for (int i = 0; i < n; i++) {
		if (!cases[i].c)
			continue;
		int j = (int)(gort_sched_fastrand() % (uint32_t)(np + 1));
		pollorder[np] = pollorder[j];
		pollorder[j] = (uint16_t)i;
		np++;
	}
	int chosen = -1;
	if (np == 0)
		goto nothing;

	/* The quick pass: one lock at a time, and none for a case that
	 * cannot proceed by the look of it without the lock (as Go's
	 * non-blocking fast paths look).  The look may be stale either way:
	 * a case skipped here is tried again under every lock below. */
	for (int k = 0; k < np; k++) {
		int i = pollorder[k];
		if (!maybe_ready(&cases[i]))
			continue;
		spinlock_lock(&cases[i].c->lock);
		int r = trycase(cases, i, NULL);
		if (r) {
			chosen = i;
			if (__builtin_expect(r == 2, 0))
				taken = cases[i].c;
			goto done;
		}
		spinlock_unlock(&cases[i].c->lock);
	}

	memcpy(lockorder, pollorder, (size_t)np * sizeof *lockorder);
	sortcases(cases, lockorder, np);
	struct parkstate ps = { { cases, lockorder, np }, NULL };
	struct selstate st = ps.st;
	sellock(&st);

	/* Pass 1, under every lock. */
	for (int k = 0; k < np; k++) {
		int i = pollorder[k];
		int r = trycase(cases, i, &st);
		if (r) {
			chosen = i;
			if (__builtin_expect(r == 2, 0))
				taken = cases[i].c;
			goto done;
		}
	}
	if (!block) {
		selunlock(&st);
		goto done;
	}

	/* Pass 2: wait on every channel. */
	struct g *gp = getg();
	if (!gp) {
		selunlock(&st);
		gort_sched_mustgetg(whatb);
	}
	gp->param = NULL;
	atomic_store32(&gp->selectdone, 0);
	/* The block profile (Go's selectgo: t0, and releasetime -1 on every
	 * sudog; the waker stamps the one it completes). */
	int64_t t0 = 0, rel0 = 0;
	if (__builtin_expect(PROFFLAGS() & PROF_BLOCK, 0)) {
		t0 = gort_sched_nanotime();
		rel0 = -1;
	}
	struct sudog **link = &gp->waiting;
	for (int k = 0; k < np; k++) {
		int i = lockorder[k];
		struct sudog *sg = &sgs[i];
		struct gort_chan *c = cases[i].c;
		*sg = (struct sudog){ .g = gp, .elem = cases[i].elem, .c = c,
			.caseidx = (uint16_t)i, .isselect = 1, .releasetime = rel0,
			.after = c->kind == CHAN_AFTER };
		if (__builtin_expect(sg->after, 0) && c->magic != POOL_CHAN) {
			/* freed after our check: its value was taken while we came */
			uint32_t magic = c->magic;
			*link = NULL;
			for (struct sudog *q = gp->waiting; q; q = q->waitlink) {
				struct gort_chan *qc = q->c;
				gort_sched_dequeue_sudog(cases[q->caseidx].dir == GORT_RECV ?
					&qc->recvq : &qc->sendq, q);
			}
			gp->waiting = NULL;
			selunlock(&st);
			gort_sched_pool_bad(magic, what, "channel");
		}
		*link = sg;
		link = &sg->waitlink;
		gort_sched_enqueue(cases[i].dir == GORT_RECV ? &cases[i].c->recvq : &cases[i].c->sendq, sg);
	}
	*link = NULL;
	if (deadline) {
		gp->sleeptimer.when = deadline;
		gp->sleeptimer.period = 0;
		gp->sleeptimer.f = select_timeout;
		gp->sleeptimer.arg = gp;
		ps.timer = &gp->sleeptimer;
	}
	ps.st = st;
	gort_sched_park_fn(after_selpark, &ps, wrSelect);

	/* Woken: gp->param is the sudog that completed, NULL for the deadline. */
	struct sudog *won = gp->param;
	sellock(&st);
	int nfree = 0;
	for (struct sudog *sg = gp->waiting; sg; sg = sg->waitlink) {
		if (sg == won)
			continue;
		struct gort_chan *c = sg->c;
		int i = sg->caseidx;
		gort_sched_dequeue_sudog(cases[i].dir == GORT_RECV ? &c->recvq : &c->sendq, sg);
		if (__builtin_expect(sg->after, 0) && gort_sched_after_leave(c)) {
			sg->freeit = 1;
			nfree++;
		}
	}
	gp->waiting = NULL;
	selunlock(&st);
	if (deadline)
		gort_sched_deltimer(&gp->sleeptimer);   /* waits out a firing under way */
	for (int k = 0; nfree && k < np; k++)
		if (sgs[lockorder[k]].freeit) {
			gort_sched_after_put(sgs[lockorder[k]].c);
			nfree--;
		}
	if (!won) {
		if (!deadline)
			gort_runtime_throw("selectgo: woken without a case");
		goto done;   /* the deadline passed: chosen is -1 */
	}
	chosen = won->caseidx;
	if (__builtin_expect(won->after, 0) && won->success)
		taken = won->c;
	if (__builtin_expect(won->releasetime > 0, 0))
		gort_sched_blockevent(won->releasetime - t0);
	if (cases[chosen].dir == GORT_SEND && !won->success)
		gort_runtime_panic("send on closed channel");
	cases[chosen].ok = won->success;
	goto done;

nothing:
	if (block) {
		gort_sched_mustgetg(what);
		if (deadline) {
			/* nothing can proceed, ever: only the deadline ends it */
			for (int64_t now; (now = gort_sched_nanotime()) < deadline; )
				gort_sleep(deadline - now);
			goto done;
		}
		gort_sched_park(NULL, n == 0 ? wrSelectNoCases : wrSelect);
		gort_runtime_throw("unreachable: woke from a select that cannot proceed");
	}
done:
	if (n > STACKCASES) {
		free(pollorder);
		free(lockorder);
		free(sgs);
	}
	if (__builtin_expect(taken != NULL, 0))
		gort_sched_after_taken(taken);
	return chosen;
}

int gort_select(gort_select_case *cases, int n, int block)
{
	return selectgo(cases, n, block, 0, "gort_select", "gort_select (blocking)");
}

int gort_sched_selectgo(gort_select_case *cases, int n, int64_t deadline, const char *what)
{
	if (deadline == GORT_FOREVER)
		return selectgo(cases, n, 1, 0, what, what);
	if (deadline < 0)
		gort_runtime_panicf("%s: deadline %lld is neither GORT_FOREVER nor a time", what,
			(long long)deadline);
	int block = deadline > gort_sched_nanotime();
	int r = selectgo(cases, n, block, block ? deadline : 0, what, what);
	return r < 0 ? -ETIMEDOUT : r;
}

int gort_select_until(gort_select_case *cases, int n, int64_t deadline)
{
	return gort_sched_selectgo(cases, n, deadline, "gort_select_until");
}
