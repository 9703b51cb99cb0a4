/*
 * cond.c -- gort_cond, the condition variable (Go: sync/cond.go over
 * runtime/sema.go's notifyList).
 *
 * The problem.  Wait must give up the mutex and go to sleep, and a signal
 * that comes after the mutex was given up must wake it -- even when it
 * comes before the waiter has had time to park.  A waiter that unlocked
 * and then put itself on a list could miss a signal in between: the
 * signaller, finding the list empty, would do nothing, and the waiter
 * would sleep through the change it was waiting for.
 *
 * Tickets.  So a waiter first takes a ticket -- `wait`, incremented
 * atomically -- while it still holds the mutex, and only then unlocks.
 * `notify` is the first ticket not yet woken.  A signal claims ticket
 * `notify` and moves it on by one; a broadcast moves it to `wait`,
 * claiming every ticket handed out.  Whatever the order in which the
 * waiter and the signaller reach the Cond's lock, the ticket decides:
 *
 *   - the signaller first: the waiter's ticket was claimed while the
 *     waiter was on its way.  Signal looked for the ticket on the list,
 *     did not find it, and left it at that; the waiter, taking the lock,
 *     finds its ticket below `notify` and returns without parking.
 *   - the waiter first: it is on the list, parked, and the signaller finds
 *     it by its ticket, unlinks it and readies it.
 *
 * Either way one signal ends exactly one wait.  And a signal or broadcast
 * with no ticket outstanding (wait == notify) does nothing and is not
 * remembered: a goroutine that starts to wait later takes a new ticket,
 * which only a later signal claims.  That is Go's contract.
 *
 * Signal wakes the oldest ticket outstanding.  Waiters join the list in
 * about ticket order (one that took its ticket first may reach the lock
 * second), so the search almost always stops at the head.
 *
 * Tickets are 32 bits and wrap around; they are compared by their signed
 * difference, right while fewer than 2^31 goroutines wait on one Cond.
 * `notify` is written only under the lock but read without it by the fast
 * path of signal and broadcast, which return at once when wait == notify.
 * That check needs no lock: a waiter takes its ticket holding the mutex,
 * so a signaller that changed the condition under the same mutex either
 * sees that ticket or comes before it -- and then the waiter, taking the
 * mutex after, sees the changed condition and does not wait.
 *
 * The lock is a runtime lock (struct rtlock, sched/lock.c) kept in the
 * Cond's own word, so a zero Cond is ready.  It guards the list and the
 * writes of `notify`, never a wait: a waiter parks holding it and it is
 * released only once the waiter is off its stack (gort_sched_park), so a
 * signaller that holds it sees each waiter on the list either parked or
 * not yet there.  Nothing is taken under it; the waiters found are readied
 * after it is released.  Each waiter is a sudog on its own stack, as for
 * a semaphore; it is gone once its G is readied, so a waker reads what it
 * needs from it first.
 *
 * The copy check (Go's copyChecker): `self` holds the Cond's address from
 * its first call on.  A copy carries the original's address, which is not
 * its own; the copy's next call panics "sync.Cond is copied" rather than
 * losing the waiters that sit on the original's list.  One load on every
 * call, a CAS on the first.
 *
 * Profiles: a Cond wait is a block event, timed from parking to the
 * wake-up (Go's notifyListWait); the relock that follows is the mutex's
 * own wait.  A signal is not in the mutex profile: it frees no lock.
 *
 * Designs not taken: a semaphore per Cond, signal as a release -- a
 * release with nobody waiting would be kept and given to a goroutine that
 * starts to wait later, and a broadcast, as so many releases, could not
 * tell how many were waiting; a generation counter bumped by broadcast --
 * enough for broadcast, but a signal must end exactly one wait.
 */
#include <stddef.h>

#include "sched/sched.h"

_Static_assert(sizeof(struct rtlock) == sizeof(uint32_t) && offsetof(struct rtlock, key) == 0,
	"gort_cond's lock word is an rtlock");

static struct rtlock *condlock(gort_cond *c)
{
	return (struct rtlock *)(void *)&c->lock;
}

/* a < b, for tickets that wrap around */
static int before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static void checkcopy(gort_cond *c)
{
	void *self = atomic_loadp(&c->self);
	if (__builtin_expect(self == c, 1))
		return;
	if (self == NULL && atomic_casp(&c->self, NULL, c))
		return;
	if (atomic_loadp(&c->self) != c)   /* another first call may have won */
		gort_runtime_panic("sync.Cond is copied");
}

/* Park until ticket t is claimed, unless it already is. */
static void waitticket(gort_cond *c, uint32_t t, struct g *gp)
{
	struct rtlock *l = condlock(c);
	gort_sched_lock(l);
	if (before(t, c->notify)) {
		gort_sched_unlock(l);
		return;
	}
	struct sudog me = { .g = gp, .c = c, .ticket = t };
	int64_t t0 = 0;
	if (__builtin_expect(PROFFLAGS() & PROF_BLOCK, 0)) {
		t0 = gort_sched_nanotime();
		me.releasetime = -1;
	}
	if (c->tail)
		((struct sudog *)c->tail)->next = &me;
	else
		c->head = &me;
	c->tail = &me;
	gort_sched_park(l, wrSyncCondWait);
	/* Only a signal or broadcast readies a G parked here, and it unlinked
	 * us first: the wait is over. */
	if (__builtin_expect(me.releasetime > 0, 0))
		gort_sched_blockevent(me.releasetime - t0);
}

void gort_cond_wait(gort_cond *c, gort_mutex *mu)
{
	checkcopy(c);
	struct g *gp = gort_sched_mustgetg("gort_cond_wait");
	gort_sched_notsyscall("gort_cond_wait");
	/* The ticket first, the mutex still held: a signal after the unlock
	 * below is one this ticket sees. */
	uint32_t t = atomic_add32(&c->wait, 1) - 1;
	gort_mutex_unlock(mu);   /* throws if mu was not locked */
	waitticket(c, t, gp);
	gort_mutex_lock(mu);
}

void gort_cond_signal(gort_cond *c)
{
	checkcopy(c);
	if (atomic_load32(&c->wait) == atomic_load32(&c->notify))
		return;
	struct rtlock *l = condlock(c);
	gort_sched_lock(l);
	uint32_t t = c->notify;
	if (t == atomic_load32(&c->wait)) {   /* another signal or a broadcast was first */
		gort_sched_unlock(l);
		return;
	}
	atomic_store32(&c->notify, t + 1);
	/* The owner of ticket t is parked on the list, or on its way to the
	 * lock, where it will see that t is claimed. */
	struct g *wake = NULL;
	for (struct sudog *prev = NULL, *s = c->head; s; prev = s, s = s->next) {
		if (s->ticket != t)
			continue;
		if (prev)
			prev->next = s->next;
		else
			c->head = s->next;
		if (c->tail == s)
			c->tail = prev;
		if (__builtin_expect(s->releasetime != 0, 0))
			s->releasetime = gort_sched_nanotime();
		wake = s->g;   /* s lives on wake's stack: not after the ready */
		break;
	}
	gort_sched_unlock(l);
	if (wake)
		gort_sched_ready(wake);
}

void gort_cond_broadcast(gort_cond *c)
{
	checkcopy(c);
	if (atomic_load32(&c->wait) == atomic_load32(&c->notify))
		return;
	struct rtlock *l = condlock(c);
	gort_sched_lock(l);
	struct sudog *s = c->head;
	c->head = c->tail = NULL;
	/* Every ticket handed out is claimed: its owner is in the list taken
	 * here, or will see the claim when it reaches the lock. */
	atomic_store32(&c->notify, atomic_load32(&c->wait));
	gort_sched_unlock(l);
	/* Off the list, the waiters are still parked: theirs until readied. */
	int64_t now = 0;
	while (s) {
		struct sudog *next = s->next;
		struct g *wake = s->g;
		if (__builtin_expect(s->releasetime != 0, 0))
			s->releasetime = now ? now : (now = gort_sched_nanotime());
		gort_sched_ready(wake);
		s = next;
	}
}
