/*
 * after.c -- one-call timeouts: gort_after and gort_tick (Go: time.After
 * in time/sleep.go, time.Tick in time/tick.go).
 *
 * Go's time.After(d) is a timer nobody stops: the collector reclaims it
 * once it has fired and nobody can reach its channel (since Go 1.23,
 * even before it fires).  C has no collector, so gort needs a rule for
 * who frees a timeout, and the rule is: whoever receives its value.
 * gort_after's channel and its timer are one pool object (struct after,
 * chan.h), marked CHAN_AFTER, receive-only; its timer sends once, into
 * the one-slot buffer or straight to a waiting receiver, and whoever
 * receives that value -- gort_chan_recv, a gort_select case, the _until
 * forms -- calls gort_sched_after_taken when its operation is over.
 *
 * Freeing it then is safe only if nobody else still refers to it, and
 * the references the runtime can see are the waiters: sudogs on its
 * queues.  A plain receiver waits only for the value (nobody may close
 * the channel), so the other waiters are selects that may yet leave by
 * another case.  (Which is why the firing leaves on the queue the
 * sudogs of selects another case has won, where a channel's dequeue
 * drops them: each stays until its G, leaving, takes it off under the
 * lock, so an empty queue means nobody is still on the way.)  So:
 *
 *   taken   (no lock held) first wait out the firing: a receiver woken
 *           by it can run before the firing M has let go of the timer's
 *           mu (deltimer takes mu, so it returns once the firing is
 *           over).  Then, under the channel's lock, set c->taken; with
 *           no waiter left, mark it freed and give it back.
 *   leave   (a select leaving by another case, or by its deadline, has
 *           just taken its sudog off c's queue, c locked) if c->taken
 *           and nobody else waits: mark it freed now, under the lock,
 *           and give it back once every lock is released.
 *
 * The mark is made under c->lock, as gort_chan_free makes it, so whoever
 * locks c next sees it; select looks for it when it enqueues on such a
 * channel, so a select that reaches a timeout just freed under it (its
 * value taken by another goroutine meanwhile) is "fatal error:
 * gort_select of a freed channel", not a wait on freed memory.  That is
 * the one misuse of a shared timeout: a goroutine that starts waiting
 * on it after its value was received.  In Go it would wait for ever (or
 * until another case); here it is reported.  A timeout used by one
 * goroutine, as `select { ... case <-time.After(d): }` is, never meets it.
 *
 * What is not freed: a timeout whose value nobody receives.  Once it has
 * fired, the value sits in its buffer, and a program may still receive
 * it (gort_after, then work, then a receive), so the runtime cannot
 * tell a forgotten timeout from a late one.  The program frees it with
 * gort_chan_free (which stops the timer: Go's Stop), or uses the
 * deadline forms (select.c), which wait on the goroutine's own timer and
 * allocate nothing.  A loop that does neither keeps one pool object
 * (192 bytes on 64-bit targets) per iteration, for good; while pending,
 * each also holds a slot in a P's timer heap.
 *
 * gort_tick's channel is the same object with a period, CHAN_TICK, and
 * is never freed by a receive: it ticks until gort_chan_free stops and
 * frees it, for the life of the program if nobody does (Go's Tick).
 *
 * Rejected: a reference count in every channel, taken by every
 * operation in flight, which would make sharing a timeout among
 * goroutines entering select at any moment safe -- at the price of two
 * atomic operations on every channel operation of every program.
 */
#include <stddef.h>

#include "sched/chan.h"

static struct pool afterpool = {
	.local = POOL_LOCAL_AFTER,
	.size = sizeof(struct after),
	.magic_off = offsetof(struct after, c.magic),
	.link_off = offsetof(struct after, c.buf),
};

/* The timer fired: send the time, without blocking (a tick that finds
 * the last unreceived is dropped, as Go's is).  Runs with t->mu held. */
static void fire(struct timer *t, void *arg)
{
	(void)t;
	struct gort_chan *c = &((struct after *)arg)->c;
	int64_t now = gort_sched_nanotime();
	spinlock_lock(&c->lock);
	/* Not gort_sched_dequeue, which drops the sudogs of selects another
	 * case has won: here they must stay queued until their Gs take them
	 * off, or the receiver could free the channel under one of them --
	 * a G still on its way to lock c, to leave.  The queue is what says
	 * who still refers to c (see the top of this file). */
	for (struct sudog *sg = c->recvq.first; sg; sg = sg->next) {
		if (sg->isselect && !atomic_cas32((volatile uint32_t *)&sg->g->selectdone, 0, 1))
			continue;
		gort_sched_dequeue_sudog(&c->recvq, sg);
		gort_sched_chan_sendto(c, sg, &now);   /* unlocks c */
		return;
	}
	if (c->qcount < c->dataqsiz)
		gort_sched_chan_bufput(c, &now);
	spinlock_unlock(&c->lock);
}

static struct gort_chan *make(uint16_t kind, int64_t ns, int64_t period)
{
	struct after *a = gort_sched_pool_get(&afterpool);
	if (!a)
		return NULL;
	int64_t now = gort_sched_nanotime();
	a->c.elemsize = sizeof(int64_t);
	a->c.dataqsiz = 1;
	a->c.buf = a->c.inl;
	a->c.kind = kind;
	a->t.when = ns <= 0 ? now : ns > INT64_MAX - now ? INT64_MAX : now + ns;
	a->t.period = period;
	a->t.f = fire;
	a->t.arg = a;
	atomic_store32(&a->c.magic, POOL_CHAN);
	gort_sched_addtimer(&a->t);
	return &a->c;
}

gort_chan *gort_after(int64_t ns)
{
	return make(CHAN_AFTER, ns, 0);
}

gort_chan *gort_tick(int64_t period)
{
	return period > 0 ? make(CHAN_TICK, period, period) : NULL;
}

void gort_sched_after_taken(struct gort_chan *c)
{
	struct after *a = (struct after *)c;
	gort_sched_deltimer(&a->t);   /* the firing, if still under way, is over */
	spinlock_lock(&c->lock);
	if (c->magic != POOL_CHAN) {
		/* gort_chan_free'd while we received: the program's race, and
		 * the free has given it back already */
		spinlock_unlock(&c->lock);
		return;
	}
	c->taken = 1;
	int last = !c->recvq.first && !c->sendq.first;
	if (last)
		atomic_store32(&c->magic, POOL_FREED);
	spinlock_unlock(&c->lock);
	if (last)
		gort_sched_pool_put(&afterpool, a);
}

int gort_sched_after_leave(struct gort_chan *c)
{
	if (c->magic != POOL_CHAN || !c->taken || c->recvq.first || c->sendq.first)
		return 0;
	atomic_store32(&c->magic, POOL_FREED);
	return 1;
}

void gort_sched_after_put(struct gort_chan *c)
{
	gort_sched_pool_put(&afterpool, (struct after *)c);
}

void gort_sched_after_free(struct gort_chan *c)
{
	struct after *a = (struct after *)c;
	CHAN_CHECK(c, "gort_chan_free");
	gort_sched_deltimer(&a->t);   /* stopped, and a firing under way is over */
	gort_sched_chan_retire(c);
	gort_sched_pool_put(&afterpool, a);
}

void gort_sched_recvonly(const char *what)
{
	gort_runtime_panicf("%s receive-only channel (gort_after's or gort_tick's)", what);
}
