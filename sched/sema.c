/*
 * sema.c -- semaphores for goroutines (Go: sema.go), the sleeping half of
 * gort_mutex and gort_waitgroup.
 *
 * A semaphore is any uint32_t: its value is the count of wake-ups
 * available.  semacquire takes one, or parks until there is one;
 * semrelease adds one and wakes a waiter.  Waiters are kept in a table of
 * SEMTABSZ roots hashed by the semaphore's address, each with a lock, a
 * FIFO list of sudogs and a count of waiters that lets semrelease skip the
 * lock when nobody waits.  (Go keeps a treap per root, to find one address
 * among many quickly; a short list is enough here.)
 */
#include "sched/sched.h"

#define SEMTABSZ 251

static struct semroot {
	struct rtlock lock;
	struct sudog *head, *tail;   /* under lock */
	volatile uint32_t nwait;     /* waiters; atomic */
} __attribute__((aligned(64))) semtable[SEMTABSZ];

static struct semroot *root(volatile uint32_t *addr)
{
	return &semtable[((uintptr_t)addr >> 3) % SEMTABSZ];
}

static int cansemacquire(volatile uint32_t *addr)
{
	for (;;) {
		uint32_t v = atomic_load32(addr);
		if (v == 0)
			return 0;
		if (atomic_cas32(addr, v, v - 1))
			return 1;
	}
}

void gort_sched_semacquire(volatile uint32_t *addr, int profile)
{
	if (cansemacquire(addr))
		return;
	struct g *gp = gort_sched_mustgetg("semacquire");
	struct semroot *r = root(addr);
	struct sudog me = { .g = gp, .c = (void *)addr };
	/* Profiling: the time the wait began, if a profile wants it (Go's
	 * semacquire1).  One load and a branch when both are off. */
	int64_t t0 = 0;
	uint32_t pf = PROFFLAGS() & (uint32_t)profile;
	if (__builtin_expect(pf != 0, 0)) {
		t0 = gort_sched_nanotime();
		if (pf & PROF_BLOCK)
			me.releasetime = -1;
		if (pf & PROF_MUTEX)
			me.acquiretime = t0;
	}
	for (;;) {
		gort_sched_lock(&r->lock);
		atomic_add32(&r->nwait, 1);
		if (cansemacquire(addr)) {
			atomic_add32(&r->nwait, -1);
			gort_sched_unlock(&r->lock);
			break;
		}
		me.next = NULL;
		if (r->tail)
			r->tail->next = &me;
		else
			r->head = &me;
		r->tail = &me;
		gort_sched_park(&r->lock, wrSemacquire);
		if (cansemacquire(addr))
			break;
	}
	/* Woken at least once: the wait lasted until the last wake-up. */
	if (__builtin_expect(me.releasetime > 0, 0))
		gort_sched_blockevent(me.releasetime - t0);
}

void gort_sched_semrelease(volatile uint32_t *addr)
{
	struct semroot *r = root(addr);
	atomic_add32(addr, 1);
	if (atomic_load32(&r->nwait) == 0)
		return;
	gort_sched_lock(&r->lock);
	struct sudog *prev = NULL, *s = r->head;
	while (s && s->c != (void *)addr) {
		prev = s;
		s = s->next;
	}
	if (!s) {
		gort_sched_unlock(&r->lock);
		return;
	}
	if (prev)
		prev->next = s->next;
	else
		r->head = s->next;
	if (r->tail == s)
		r->tail = prev;
	atomic_add32(&r->nwait, -1);
	/* The mutex profile (Go 1.19's semrelease1 and dequeue): the unlocker
	 * is charged with the time s waited; the next waiter on the same
	 * address starts its count now, since the time both waited together
	 * is charged once, to this wake-up. */
	int64_t now = 0, waited = -1;
	if (__builtin_expect(s->acquiretime != 0, 0)) {
		now = gort_sched_nanotime();
		waited = now - s->acquiretime;
		for (struct sudog *t = s->next; t; t = t->next)
			if (t->c == (void *)addr) {
				if (t->acquiretime)
					t->acquiretime = now;
				break;
			}
	}
	if (__builtin_expect(s->releasetime != 0, 0))
		s->releasetime = now ? now : gort_sched_nanotime();
	struct g *wake = s->g;   /* s lives on wake's stack: not after the ready */
	gort_sched_unlock(&r->lock);
	gort_sched_ready(wake);
	if (__builtin_expect(waited >= 0, 0)) {
		gort_sched_mutexevent(waited);
		KEEP_FRAME();
	}
}
