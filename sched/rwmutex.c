/*
 * rwmutex.c -- gort_rwmutex, the reader/writer lock (Go: sync/rwmutex.go).
 *
 * Readers pay one atomic add to get in and one to get out, as long as no
 * writer is about; a writer takes a mutex and then waits for the readers
 * inside to leave.  Four words and a mutex, all 32 bits wide, so that no
 * target needs the atomic package's 64-bit spinlocks for them.
 *
 * The count that goes negative.  `readers` counts the readers inside and
 * those waiting to get in.  A writer subtracts MAXREADERS (2^30) from it,
 * and that one add does two things at once: from then on every rlock's
 * own add returns a negative number, which tells that reader to wait, and
 * the value the writer's add returns, plus MAXREADERS, is exactly the
 * number of readers that were inside at that instant -- the ones it must
 * wait for.  The count itself is never lost: readers arriving later still
 * add their one, so readers + MAXREADERS stays the number of readers in
 * or waiting.  With fewer than 2^30 readers the word stays within int32.
 *
 * Counting the readers out.  The readers inside when the writer came see
 * a negative result from their runlock's add too, and so know that a
 * writer waits for them: each takes one from `departing`.  The writer adds
 * the number it saw to `departing`.  The two happen in either order --
 * readers may leave before the writer gets to its add, and `departing`
 * goes below zero meanwhile -- and whoever brings it to exactly zero is
 * the last: the writer's add (every reader has already gone: it does not
 * wait) or the last reader's subtraction (it releases writersem, where the
 * writer waits or is about to).  Only the readers who were inside are
 * counted: one that arrived after the writer never got in.
 *
 * Letting the waiting readers in.  The writer's unlock adds MAXREADERS
 * back.  What its add returns is the number of readers that arrived while
 * it held the lock: each has counted itself and waits on readersem, or is
 * about to.  The unlock releases readersem that many times.  A semaphore
 * counts, so a release that comes before its reader has parked is kept
 * for it, not lost.
 *
 * Writers among themselves take turns on the mutex w, held from lock to
 * unlock: only one writer at a time ever moves `readers` by MAXREADERS.
 * A writer waiting for readers keeps new readers out (it has already
 * subtracted), so a stream of readers cannot starve it; and an unlocking
 * writer releases the readers that queued behind it before it unlocks w,
 * so the next writer's subtraction counts them as inside and waits for
 * them.  Under contention readers and writers alternate, and neither side
 * starves.  The price is the hazard gort.h warns of: a reader that takes
 * its read lock again while a writer waits is counted as a new reader,
 * and waits behind the writer that waits for it.
 *
 * Misuse is seen in the same adds.  A runlock whose add returns -1 found
 * the word at 0 (nobody held it), and one that returns -MAXREADERS-1 found
 * a writer and no reader: both throw, as Go's do (sync.fatal).  An unlock
 * whose add returns MAXREADERS or more found no writer's subtraction.
 * Misuse that leaves the count plausible (a runlock for a reader that
 * never was, while others read) is not seen, in Go either.
 *
 * The waits are gort_sched_semacquire's, with PROF_BLOCK | PROF_MUTEX, as
 * Go's RWMutex waits with runtime_SemacquireMutex: the block profile
 * charges a waiting reader or writer, and the mutex profile the runlock
 * or unlock that let it go.
 *
 * Designs not taken: a mutex and a plain count of readers under it
 * (every rlock would take the mutex, and readers would queue on each
 * other); readers first, letting a reader in whenever no writer holds the
 * lock (simpler, and no recursion hazard, but writers starve behind a
 * steady stream of readers); one 64-bit word for readers, waiting readers
 * and writer (a spinlock per access on 32-bit MIPS).
 */
#include "sched/sched.h"

#define MAXREADERS (1 << 30)

void gort_rwmutex_rlock(gort_rwmutex *rw)
{
	if ((int32_t)atomic_add32(&rw->readers, 1) < 0) {
		/* A writer holds the lock or waits for it: wait for its unlock. */
		gort_sched_mustgetg("gort_rwmutex_rlock");
		gort_sched_semacquire(&rw->readersem, PROF_BLOCK | PROF_MUTEX);
		KEEP_FRAME();   /* the block profile's leaf (sched.h) */
	}
}

int gort_rwmutex_tryrlock(gort_rwmutex *rw)
{
	for (;;) {
		uint32_t c = atomic_load32(&rw->readers);
		if ((int32_t)c < 0)
			return 0;
		if (atomic_cas32(&rw->readers, c, c + 1))
			return 1;
	}
}

static __attribute__((noinline)) void runlock_slow(gort_rwmutex *rw, int32_t r)
{
	if (r + 1 == 0 || r + 1 == -MAXREADERS)
		gort_runtime_throw("sync: RUnlock of unlocked RWMutex");
	/* A writer waits: the last of the readers it counted lets it in. */
	if (atomic_add32(&rw->departing, -1) == 0) {
		gort_sched_semrelease(&rw->writersem);
		KEEP_FRAME();   /* the mutex profile's leaf */
	}
}

void gort_rwmutex_runlock(gort_rwmutex *rw)
{
	int32_t r = (int32_t)atomic_add32(&rw->readers, -1);
	if (r < 0) {
		runlock_slow(rw, r);
		KEEP_FRAME();
	}
}

void gort_rwmutex_lock(gort_rwmutex *rw)
{
	gort_mutex_lock(&rw->w);
	/* Close the door to new readers, and learn how many are inside. */
	int32_t r = (int32_t)atomic_add32(&rw->readers, -MAXREADERS) + MAXREADERS;
	if (r != 0 && atomic_add32(&rw->departing, r) != 0) {
		gort_sched_mustgetg("gort_rwmutex_lock");
		gort_sched_semacquire(&rw->writersem, PROF_BLOCK | PROF_MUTEX);
		KEEP_FRAME();
	}
}

int gort_rwmutex_trylock(gort_rwmutex *rw)
{
	if (!gort_mutex_trylock(&rw->w))
		return 0;
	if (!atomic_cas32(&rw->readers, 0, (uint32_t)-MAXREADERS)) {
		gort_mutex_unlock(&rw->w);
		return 0;
	}
	return 1;
}

void gort_rwmutex_unlock(gort_rwmutex *rw)
{
	int32_t r = (int32_t)atomic_add32(&rw->readers, MAXREADERS);
	if (r >= MAXREADERS)
		gort_runtime_throw("sync: Unlock of unlocked RWMutex");
	/* r readers came while the writer held the lock: let them all in
	 * before the next writer may count them. */
	for (int32_t i = 0; i < r; i++)
		gort_sched_semrelease(&rw->readersem);
	gort_mutex_unlock(&rw->w);
	KEEP_FRAME();
}
