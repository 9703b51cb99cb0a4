/*
 * runq.c -- run queues: each P's lock-free ring, and the global queue
 * (Go: runqput, runqget, runqgrab, runqsteal, globrunqput in proc.go).
 *
 * The local queue is a ring of RUNQ_SIZE G pointers with two counters,
 * head and tail, that only ever grow (they wrap at 2^32, and the ring
 * index is counter % RUNQ_SIZE):
 *
 *              head                  tail
 *               v                     v
 *     ... free | G | G | G | G | G | free ...
 *
 * Exactly one thread puts -- the M that holds the P -- so tail is written
 * by its owner alone, with a release store that publishes the slot written
 * before it.  Several threads take: the owner from head, and thieves (idle
 * Ms stealing work) also from head, each claiming what it read by a CAS on
 * head.  A thief copies up to half the queue first and then claims it; if
 * the CAS fails, somebody else took some of it and the thief starts over.
 * The owner never overwrites a slot until head has moved past it, so a
 * slot that a thief read is still the G it read whenever its CAS succeeds.
 *
 * When the ring is full, the owner moves half of it, plus the new G, to
 * the global queue in one batch: a P that makes Gs faster than it runs
 * them shares them with everyone.
 *
 * runnext is a one-G slot in front of the ring.  A G readied by the
 * running G goes there (newproc, channel wake-ups), so that a pair of
 * goroutines ping-ponging over a channel keep running back to back on one
 * P, in cache, instead of waiting behind the whole queue.  A G kicked out of
 * runnext goes to the ring's tail.
 *
 * Such a pair would also keep everything else on the P waiting for ever,
 * each always readying the other into runnext, so a G run from runnext
 * inherits the time slice (pp->inherit: the schedule does not count as
 * one in schedtick).  The pair then shares one 10 ms slice, and sysmon,
 * seeing schedtick stand still with others waiting, marks the P's slice
 * over (pp->sliceover); its next pick takes the ring and the global queue
 * before runnext (proc.c's pick_local), which breaks the chain.  (Go's
 * inheritTime; Go breaks the chain by preempting the running G to the
 * global queue at its next function call.  The mark is on the P, not on
 * a G: the pair trades places every 100 ns or so, and a request on
 * whichever G ran when sysmon looked is mostly stale by the switch.)
 *
 * The global queue is a plain linked list under sched.lock.
 */
#include <unistd.h>

#include "sched/sched.h"

/* Slots are published by the release store of tail and claimed by the
 * CAS of head; an acquire load and a release store are all they need. */
static inline struct g *slot_load(struct p *pp, uint32_t i)
{
	return atomic_loadacqp((void *const volatile *)&pp->runq[i % RUNQ_SIZE]);
}

static inline void slot_store(struct g **ring, uint32_t i, struct g *gp)
{
	atomic_storerelp((void *volatile *)&ring[i % RUNQ_SIZE], gp);
}

/* Move half the full local queue and gp to the global queue.  Returns 0
 * if a thief took some in the meantime (the caller then retries). */
static int runqputslow(struct p *pp, struct g *gp, uint32_t h, uint32_t t)
{
	struct g *batch[RUNQ_SIZE / 2 + 1];
	uint32_t n = (t - h) / 2;
	if (n != RUNQ_SIZE / 2)
		gort_runtime_throw("runqputslow: queue is not full");
	for (uint32_t i = 0; i < n; i++)
		batch[i] = slot_load(pp, h + i);
	if (!atomic_cas32(&pp->runqhead, h, h + n))
		return 0;
	batch[n] = gp;
	for (uint32_t i = 0; i < n; i++)
		batch[i]->schedlink = batch[i + 1];
	gort_sched_lock(&gort_sched.lock);
	batch[n]->schedlink = NULL;
	if (gort_sched.runqtail)
		gort_sched.runqtail->schedlink = batch[0];
	else
		gort_sched.runqhead = batch[0];
	gort_sched.runqtail = batch[n];
	atomic_add32((volatile uint32_t *)&gort_sched.runqsize, (int32_t)n + 1);
	gort_sched_unlock(&gort_sched.lock);
	return 1;
}

void gort_sched_runqput(struct p *pp, struct g *gp, int next)
{
	if (next) {
		/* Only the owner puts into runnext; thieves only empty it.  So
		 * an empty runnext stays empty until we fill it: a plain store
		 * will do, and the ping-pong case saves an atomic operation. */
		struct g *old = atomic_loadacqp((void *const volatile *)&pp->runnext);
		if (!old) {
			atomic_storerelp((void *volatile *)&pp->runnext, gp);
			return;
		}
		while (!atomic_casp((void *volatile *)&pp->runnext, old, gp))
			old = pp->runnext;
		if (!old)
			return;
		gp = old;   /* the previous runnext goes to the back of the ring */
	}
	for (;;) {
		uint32_t h = atomic_loadacq32(&pp->runqhead);
		uint32_t t = pp->runqtail;
		if (t - h < RUNQ_SIZE) {
			slot_store(pp->runq, t, gp);
			atomic_storerel32(&pp->runqtail, t + 1);
			return;
		}
		if (runqputslow(pp, gp, h, t))
			return;
	}
}

struct g *gort_sched_runqget(struct p *pp)
{
	struct g *next = pp->runnext;
	/* Only a thief can race for runnext, so a failed CAS means it is gone.
	 * A G from runnext inherits the time slice of the G that readied it
	 * (Go: runqget's inheritTime): see the top of this file. */
	if (next && atomic_casp((void *volatile *)&pp->runnext, next, NULL)) {
		pp->inherit = 1;
		return next;
	}
	return gort_sched_runqget_ring(pp);
}

struct g *gort_sched_runqget_ring(struct p *pp)
{
	for (;;) {
		uint32_t h = atomic_loadacq32(&pp->runqhead);
		uint32_t t = pp->runqtail;
		if (t == h)
			return NULL;
		struct g *gp = slot_load(pp, h);
		if (atomic_cas32(&pp->runqhead, h, h + 1))
			return gp;
	}
}

int gort_sched_runqempty(struct p *pp)
{
	/* head, tail, runnext must be read consistently: a concurrent
	 * runqput may move a G from runnext to the ring between our reads. */
	for (;;) {
		uint32_t h = atomic_loadacq32(&pp->runqhead);
		uint32_t t = atomic_loadacq32(&pp->runqtail);
		struct g *next = atomic_loadacqp((void *const volatile *)&pp->runnext);
		if (t == atomic_loadacq32(&pp->runqtail))
			return h == t && next == NULL;
	}
}

/* Copy up to half of victim's queue into ring[start...], and claim it. */
static uint32_t runqgrab(struct p *victim, struct g **ring, uint32_t start, int stealnext)
{
	for (;;) {
		uint32_t h = atomic_loadacq32(&victim->runqhead);
		uint32_t t = atomic_loadacq32(&victim->runqtail);
		uint32_t n = t - h;
		n -= n / 2;
		if (n == 0) {
			if (!stealnext)
				return 0;
			struct g *next = victim->runnext;
			if (!next)
				return 0;
			if (atomic_load32(&victim->status) == Prunning) {
				/* The victim is running, and most likely just readied
				 * next and is about to block and run it itself (a
				 * channel hand-off, a gort_go before a receive).  Give
				 * it the few microseconds that takes before taking
				 * next away, as Go does: stolen now, next would only
				 * move to this M while the victim went idle.  The
				 * thief sleeps still counted as spinning, so nobody
				 * wakes another M meanwhile, and the victim's queue
				 * fills up for one steal of many Gs instead of many
				 * steals, wake-ups and sleeps of one. */
				usleep(3);
				if (victim->runnext != next)
					continue;
			}
			if (!atomic_casp((void *volatile *)&victim->runnext, next, NULL))
				return 0;
			slot_store(ring, start, next);
			return 1;
		}
		if (n > RUNQ_SIZE / 2)
			continue;   /* h and t read at different times: inconsistent */
		for (uint32_t i = 0; i < n; i++)
			slot_store(ring, start + i, slot_load(victim, h + i));
		if (atomic_cas32(&victim->runqhead, h, h + n))
			return n;
	}
}

struct g *gort_sched_runqsteal(struct p *pp, struct p *victim, int stealnext)
{
	uint32_t t = pp->runqtail;
	uint32_t n = runqgrab(victim, pp->runq, t, stealnext);
	if (n == 0)
		return NULL;
	n--;
	struct g *gp = slot_load(pp, t + n);
	if (n == 0)
		return gp;
	uint32_t h = atomic_loadacq32(&pp->runqhead);
	if (t - h + n >= RUNQ_SIZE)
		gort_runtime_throw("runqsteal: runq overflow");
	atomic_storerel32(&pp->runqtail, t + n);
	return gp;
}

void gort_sched_globrunqput(struct g *gp)
{
	gp->schedlink = NULL;
	if (gort_sched.runqtail)
		gort_sched.runqtail->schedlink = gp;
	else
		gort_sched.runqhead = gp;
	gort_sched.runqtail = gp;
	atomic_add32((volatile uint32_t *)&gort_sched.runqsize, 1);
}

/* Take a fair share of the global queue: one G to return, and up to
 * max - 1 more (0: no limit but half a ring) onto pp's local queue. */
struct g *gort_sched_globrunqget(struct p *pp, int max)
{
	int32_t size = gort_sched.runqsize;
	if (size == 0)
		return NULL;
	int32_t n = size / (int32_t)atomic_loadacq32(&gort_sched.gomaxprocs) + 1;
	if (n > size)
		n = size;
	if (max > 0 && n > max)
		n = max;
	if (n > RUNQ_SIZE / 2)
		n = RUNQ_SIZE / 2;
	atomic_add32((volatile uint32_t *)&gort_sched.runqsize, -n);
	struct g *gp = gort_sched.runqhead;
	gort_sched.runqhead = gp->schedlink;
	for (int32_t i = 1; i < n; i++) {
		struct g *g1 = gort_sched.runqhead;
		gort_sched.runqhead = g1->schedlink;
		gort_sched_runqput(pp, g1, 0);
	}
	if (!gort_sched.runqhead)
		gort_sched.runqtail = NULL;
	return gp;
}
