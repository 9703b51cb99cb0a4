/*
 * lock.c -- the runtime's mutex and notes, on Linux futexes
 * (Go: lock_futex.go).
 *
 * struct rtlock blocks the thread, not the goroutine.  It guards a few
 * instructions of scheduler or channel state at a time, so an uncontended
 * lock is one CAS, and a contended one spins briefly (the holder is
 * running on another CPU and will be done in a moment) before sleeping in
 * the kernel.  The key has three states, as in Drepper's "Futexes Are
 * Tricky": 0 unlocked, 1 locked, 2 locked and someone may be asleep; an
 * unlock that finds 2 must wake a sleeper.
 *
 * struct spinlock (sched.h) is the channels' lock: the same CAS to take,
 * but a plain store to release, and sched_yield instead of a futex.
 *
 * A note is a one-time event for one sleeping M: notesleep waits until
 * notewakeup, notetsleep gives up after a timeout.  stopm parks an idle M
 * on its note; startm wakes it.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sched/sched.h"

static long futex(volatile uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, 0);
}

void gort_sched_lock(struct rtlock *l)
{
	if (atomic_cas32(&l->key, 0, 1))
		return;
	/* Spin a little: the holder is most likely running. */
	for (int i = 0; i < 100; i++) {
		if (atomic_load32(&l->key) == 0 && atomic_cas32(&l->key, 0, 1))
			return;
		cpu_relax();
	}
	/* Sleep.  Taking the lock with 2, not 1, is what keeps a waiter that
	 * is still asleep from being forgotten by the next unlock. */
	while (atomic_xchg32(&l->key, 2) != 0)
		futex(&l->key, FUTEX_WAIT, 2, NULL);
}

void gort_sched_unlock(struct rtlock *l)
{
	uint32_t v = atomic_xchg32(&l->key, 0);
	if (v == 0)
		gort_runtime_throw("unlock of unlocked lock");
	if (v == 2)
		futex(&l->key, FUTEX_WAKE, 1, NULL);
}

void gort_sched_notesleep(struct note *n)
{
	while (atomic_load32(&n->key) == 0)
		futex(&n->key, FUTEX_WAIT, 0, NULL);
}

int gort_sched_notetsleep(struct note *n, int64_t ns)
{
	int64_t deadline = gort_sched_nanotime() + ns;
	while (atomic_load32(&n->key) == 0) {
		int64_t left = deadline - gort_sched_nanotime();
		if (left <= 0)
			return 0;
		struct timespec ts = { (time_t)(left / 1000000000), (long)(left % 1000000000) };
		futex(&n->key, FUTEX_WAIT, 0, &ts);
	}
	return 1;
}

void gort_sched_notewakeup(struct note *n)
{
	if (atomic_xchg32(&n->key, 1) != 0)
		gort_runtime_throw("notewakeup - double wakeup");
	futex(&n->key, FUTEX_WAKE, 1, NULL);
}

int gort_sched_notetrywakeup(struct note *n)
{
	if (!atomic_cas32(&n->key, 0, 1))
		return 0;
	futex(&n->key, FUTEX_WAKE, 1, NULL);
	return 1;
}

void gort_sched_spinlock_slow(struct spinlock *l)
{
	/* Exponential backoff: every waiter that retries at once pulls the
	 * lock's line away from the holder, who needs it to unlock.  Backing
	 * off lets the holder finish (and often take the lock again, while
	 * its line is still in its cache).  Go's chan_test ChanProdCons10 at
	 * two Ps (producers and consumers on a 10-slot channel) spent 29% of
	 * its time here and ran at 1.56x Go's time without it, 0.52x with. */
	unsigned delay = 1;
	for (;;) {
		if (atomic_loadacq32(&l->key) == 0 && atomic_cas32(&l->key, 0, 1))
			return;
		if (delay <= 128) {
			for (unsigned i = 0; i < delay; i++)
				cpu_relax();
			delay <<= 1;
		} else {
			/* About 250 pauses without the lock: its holder is
			 * probably not running (more threads than CPUs), and
			 * spinning on would only keep it off a CPU. */
			sched_yield();
		}
	}
}
