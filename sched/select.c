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
 */
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

static void after_selpark(struct m *m, void *arg)
{
	(void)m;
	selunlock(arg);
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
 * Returns 1 if it proceeded; every lock is then released. */
static int trycase(gort_select_case *cases, int i, struct selstate *st)
{
	struct gort_chan *c = cases[i].c;
	struct sudog *sg;
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
	return 1;
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

int gort_select(gort_select_case *cases, int n, int block)
{
	if (n < 0 || n > MAXCASES)
		gort_runtime_panicf("gort_select: %d cases (0 to %d allowed)", n, MAXCASES);
	gort_sched_notsyscall("gort_select");
	for (int i = 0; i < n; i++) {
		if (cases[i].c)
			CHAN_CHECK(cases[i].c, "gort_select");
		if (cases[i].dir != GORT_SEND && cases[i].dir != GORT_RECV)
			gort_runtime_panicf("gort_select: case %d has direction %d (want GORT_SEND or GORT_RECV)",
				i, cases[i].dir);
		cases[i].ok = 0;
	}

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
		if (trycase(cases, i, NULL)) {
			chosen = i;
			goto done;
		}
		spinlock_unlock(&cases[i].c->lock);
	}

	memcpy(lockorder, pollorder, (size_t)np * sizeof *lockorder);
	sortcases(cases, lockorder, np);
	struct selstate st = { cases, lockorder, np };
	sellock(&st);

	/* Pass 1, under every lock. */
	for (int k = 0; k < np; k++) {
		int i = pollorder[k];
		if (trycase(cases, i, &st)) {
			chosen = i;
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
		gort_sched_mustgetg("gort_select (blocking)");
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
		*sg = (struct sudog){ .g = gp, .elem = cases[i].elem, .c = cases[i].c,
			.caseidx = (uint16_t)i, .isselect = 1, .releasetime = rel0 };
		*link = sg;
		link = &sg->waitlink;
		gort_sched_enqueue(cases[i].dir == GORT_RECV ? &cases[i].c->recvq : &cases[i].c->sendq, sg);
	}
	*link = NULL;
	gort_sched_park_fn(after_selpark, &st, wrSelect);

	/* Woken: gp->param is the sudog that completed. */
	struct sudog *won = gp->param;
	sellock(&st);
	for (struct sudog *sg = gp->waiting; sg; sg = sg->waitlink) {
		if (sg == won)
			continue;
		struct gort_chan *c = sg->c;
		int i = sg->caseidx;
		gort_sched_dequeue_sudog(cases[i].dir == GORT_RECV ? &c->recvq : &c->sendq, sg);
	}
	gp->waiting = NULL;
	selunlock(&st);
	if (!won)
		gort_runtime_throw("selectgo: woken without a case");
	chosen = won->caseidx;
	if (__builtin_expect(won->releasetime > 0, 0))
		gort_sched_blockevent(won->releasetime - t0);
	if (cases[chosen].dir == GORT_SEND && !won->success)
		gort_runtime_panic("send on closed channel");
	cases[chosen].ok = won->success;
	goto done;

nothing:
	if (block) {
		gort_sched_mustgetg("gort_select");
		gort_sched_park(NULL, n == 0 ? wrSelectNoCases : wrSelect);
		gort_runtime_throw("unreachable: woke from a select that cannot proceed");
	}
done:
	if (n > STACKCASES) {
		free(pollorder);
		free(lockorder);
		free(sgs);
	}
	return chosen;
}
