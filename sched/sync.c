/*
 * sync.c -- gort_mutex, gort_waitgroup, gort_once (Go: package sync).
 *
 * All three are plain words that are valid when zero, like Go's, so they
 * can live in any struct or be declared static without an initialiser.
 *
 * The mutex is the three-state futex mutex of Drepper's "Futexes Are
 * Tricky" with a goroutine semaphore in place of the futex: state 0 is
 * unlocked, 1 locked, 2 locked with waiters that must be woken.  Like
 * Go's sync.Mutex it spins a little before parking; Go's starvation mode
 * it has not: it keeps the fast path (one CAS to lock, one exchange to
 * unlock) and hands fairness to the semaphore's FIFO.
 *
 * The WaitGroup packs its counter and its number of waiters into one
 * 64-bit word, as Go does, so Add and Wait agree on both at once; on
 * 32-bit MIPS that word goes through the atomic package's spinlocks.
 */
#include "sched/sched.h"

void gort_mutex_lock(gort_mutex *mu)
{
	if (atomic_cas32(&mu->state, 0, 1))
		return;
	gort_sched_mustgetg("gort_mutex_lock");
	/* The holder may be running on another CPU and about to unlock:
	 * spin a moment first, as Go's Lock does (4 rounds of 30 pauses).
	 * Parking and being woken costs microseconds; the critical sections
	 * a mutex guards are mostly shorter than that.  8 goroutines
	 * incrementing under one mutex (bench_programs mutex) went from 1.4x
	 * Go's time to 0.46x-0.76x at 8 Ps; at 2 Ps the case is bimodal
	 * (docs/sched.md, section 13). */
	for (int i = 0; i < 4 && gort_sched_canspin(); i++) {
		for (int k = 0; k < 30; k++)
			cpu_relax();
		if (atomic_loadacq32(&mu->state) == 0 && atomic_cas32(&mu->state, 0, 1))
			return;
	}
	while (atomic_xchg32(&mu->state, 2) != 0)
		gort_sched_semacquire(&mu->sema, PROF_BLOCK | PROF_MUTEX);
}

int gort_mutex_trylock(gort_mutex *mu)
{
	return atomic_cas32(&mu->state, 0, 1);
}

void gort_mutex_unlock(gort_mutex *mu)
{
	uint32_t old = atomic_xchg32(&mu->state, 0);
	if (old == 0)
		gort_runtime_throw("sync: unlock of unlocked mutex");
	if (old == 2) {
		gort_sched_semrelease(&mu->sema);
		KEEP_FRAME();   /* the mutex profile's leaf (sched.h) */
	}
}

#define WG_COUNT(s) ((int32_t)((s) >> 32))
#define WG_WAITERS(s) ((uint32_t)(s))

void gort_waitgroup_add(gort_waitgroup *wg, int delta)
{
	uint64_t s = atomic_add64(&wg->state, (int64_t)((uint64_t)(int64_t)delta << 32));
	int32_t v = WG_COUNT(s);
	uint32_t w = WG_WAITERS(s);
	if (v < 0)
		gort_runtime_panic("sync: negative WaitGroup counter");
	if (w != 0 && delta > 0 && v == delta)
		gort_runtime_panic("sync: WaitGroup misuse: Add called concurrently with Wait");
	if (v > 0 || w == 0)
		return;
	/* The counter is zero and there are waiters: nobody may touch the
	 * group now but us, so reset it and wake them all. */
	if (atomic_load64(&wg->state) != s)
		gort_runtime_panic("sync: WaitGroup misuse: Add called concurrently with Wait");
	atomic_store64(&wg->state, 0);
	for (; w != 0; w--)
		gort_sched_semrelease(&wg->sema);
}

void gort_waitgroup_done(gort_waitgroup *wg)
{
	gort_waitgroup_add(wg, -1);
}

void gort_waitgroup_wait(gort_waitgroup *wg)
{
	for (;;) {
		uint64_t s = atomic_load64(&wg->state);
		if (WG_COUNT(s) == 0)
			return;
		if (atomic_cas64(&wg->state, s, s + 1)) {
			gort_sched_mustgetg("gort_waitgroup_wait");
			gort_sched_semacquire(&wg->sema, PROF_BLOCK);
			/* The Add that woke us zeroed the group before waking
			 * anyone; a count already back means it was reused
			 * while we (or another waiter) had not yet returned. */
			if (atomic_load64(&wg->state) != 0)
				gort_runtime_panic("sync: WaitGroup is reused before previous Wait has returned");
			return;
		}
	}
}

void gort_once_do(gort_once *o, void (*fn)(void *), void *arg)
{
	if (atomic_load32(&o->done))
		return;
	gort_mutex_lock(&o->m);
	if (!o->done) {
		fn(arg);
		atomic_store32(&o->done, 1);
	}
	gort_mutex_unlock(&o->m);
}
