/*
 * test_lockthread.c -- gort_lock_thread and gort_unlock_thread (Go's
 * LockOSThread): a wired goroutine runs only on its thread, the thread runs
 * nothing else, calls nest, a goroutine that exits wired ends its thread,
 * and the deadlock check still sees a wired goroutine that waits for ever.
 *
 * Threads are told apart by gettid and by a __thread variable; nothing
 * here depends on timing: loops run a fixed number of rounds, and what
 * they wait for is a state (a thread gone from /proc), bounded by a
 * deadline that only a broken runtime reaches.
 */
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "atomic/atomic.h"
#include "testutil.h"

#include "gort.h"

extern volatile uint32_t gort_sched_preempt_done;

static int tid(void)
{
	return (int)syscall(SYS_gettid);
}

static __thread uintptr_t mine;   /* each thread's own: who set it last */

/* Where this thread's `mine` is, asked anew at each call.  The compiler
 * may compute a thread-local's address once per function -- C says a
 * function runs on one thread -- and `other`, which yields in a loop and
 * moves between threads, would then go on scribbling on the first
 * thread's copy: the wired thread's, if it began there.  The volatile asm
 * keeps each call from being folded into the last. */
static __attribute__((noinline)) uintptr_t *mine_here(void)
{
	uintptr_t *p = &mine;
	__asm__ __volatile__("" : "+r"(p));
	return p;
}

/* --- a wired goroutine stays, and is alone on its thread -------------------- */

#define ROUNDS (400 / SCALE + 20)
static volatile uint32_t wired_tid, wired_on, strangers, others_ran, wired_moved, stop;
static gort_waitgroup wg;

static void other(void *ch)
{
	(void)ch;
	while (!atomic_load32(&stop)) {
		/* the wired thread runs nobody else: if we are on it, it does */
		if (atomic_load32(&wired_on) && (uint32_t)tid() == atomic_load32(&wired_tid))
			atomic_add32(&strangers, 1);
		*mine_here() = (uintptr_t)mine_here();   /* scribble on whichever thread this is */
		atomic_add32(&others_ran, 1);
		if (others_ran % 3)
			gort_yield();
		else
			gort_sleep(50000);
	}
	gort_waitgroup_done(&wg);
}

static void partner(void *ch)
{
	int v;
	while (gort_chan_recv(ch, &v) && v >= 0)
		gort_chan_send(ch, &v);
	gort_waitgroup_done(&wg);
}

static int wired_main(void *arg)
{
	(void)arg;
	gort_chan *ch = gort_chan_make(sizeof(int), 0);
	gort_waitgroup_add(&wg, 9);
	for (int i = 0; i < 8; i++)
		gort_go(other, NULL);
	gort_go(partner, ch);
	gort_lock_thread();
	int me = tid();
	const uintptr_t stamp = 0x5eed;
	*mine_here() = stamp;
	atomic_store32(&wired_tid, (uint32_t)me);
	atomic_store32(&wired_on, 1);
	for (int i = 0; i < ROUNDS; i++) {
		switch (i % 3) {
		case 0: gort_yield(); break;
		case 1: gort_sleep(20000); break;
		default:
			gort_chan_send(ch, &i);
			int v;
			gort_chan_recv(ch, &v);
			ck_assert_int_eq(v, i);
		}
		if (tid() != me || *mine_here() != stamp)
			atomic_store32(&wired_moved, 1);
	}
	atomic_store32(&wired_on, 0);
	gort_unlock_thread();
	int end = -1;
	gort_chan_send(ch, &end);
	atomic_store32(&stop, 1);
	gort_waitgroup_wait(&wg);
	gort_chan_free(ch);
	ck_assert_msg(!wired_moved, "a wired goroutine ran on another thread");
	ck_assert_uint_eq(strangers, 0);
	ck_assert_uint_gt(others_ran, 0);
	return 0;
}

START_TEST(wired_stays_alone)
{
	RUN(_i == 0 ? 1 : 2, wired_main, NULL);
}
END_TEST

/* --- nesting, and an unwired thread is shared again ----------------------------- */

static volatile uint32_t child_tid;

static void record(void *arg)
{
	(void)arg;
	atomic_store32(&child_tid, (uint32_t)tid());
	gort_waitgroup_done(&wg);
}

/* At one P a goroutine spawned and yielded to runs on this very thread --
 * unless this thread is wired. */
static int child_runs_here(void)
{
	atomic_store32(&child_tid, 0);
	gort_waitgroup_add(&wg, 1);
	gort_go(record, NULL);
	gort_yield();
	gort_waitgroup_wait(&wg);
	return atomic_load32(&child_tid) == (uint32_t)tid();
}

static int nest_main(void *arg)
{
	(void)arg;
	gort_unlock_thread();   /* with no lock: nothing */
	ck_assert_int_eq(child_runs_here(), 1);
	gort_lock_thread();
	gort_lock_thread();
	int me = tid();
	ck_assert_int_eq(child_runs_here(), 0);
	gort_unlock_thread();   /* one of two: still wired */
	for (int i = 0; i < 20; i++) {
		gort_sleep(10000);
		ck_assert_int_eq(tid(), me);
	}
	ck_assert_int_eq(child_runs_here(), 0);
	gort_unlock_thread();
	ck_assert_int_eq(child_runs_here(), 1);
	return 0;
}

START_TEST(wired_nests)
{
	RUN(1, nest_main, NULL);
}
END_TEST

/* --- exiting wired ends the thread ------------------------------------------------ */

static void exit_wired(void *ch)
{
	gort_lock_thread();
	int t = tid();
	gort_chan_send(ch, &t);
	/* returns wired */
}

static int thread_alive(int t)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof path, "/proc/self/task/%d", t);
	return stat(path, &st) == 0;
}

static int exit_main(void *arg)
{
	(void)arg;
	gort_chan *ch = gort_chan_make(sizeof(int), 0);
	int t[3];
	for (int i = 0; i < 3; i++) {
		gort_go(exit_wired, ch);
		gort_chan_recv(ch, &t[i]);
	}
	for (int i = 0; i < 3; i++) {
		int64_t deadline = gort_now() + 30 * 1000000000LL;
		while (thread_alive(t[i]) && gort_now() < deadline)
			gort_sleep(1000000);
		ck_assert_msg(!thread_alive(t[i]), "thread %d of a goroutine that exited wired lives on",
			t[i]);
	}
	/* and the program goes on, on the threads that are left */
	gort_waitgroup_add(&wg, 1);
	gort_go(record, NULL);
	gort_waitgroup_wait(&wg);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_ne(child_tid, (uint32_t)t[i]);
	gort_chan_free(ch);
	return 0;
}

START_TEST(wired_exit_ends_thread)
{
	RUN(_i == 0 ? 1 : 2, exit_main, NULL);
}
END_TEST

/* --- the deadlock check sees a wired goroutine that waits for ever --------------- */

static int wired_deadlock(void *arg)
{
	(void)arg;
	gort_lock_thread();
	gort_chan *ch = gort_chan_make(sizeof(int), 0);
	int v;
	gort_chan_recv(ch, &v);
	return 0;
}

START_TEST(wired_deadlock_detected)
{
	struct child c;
	static const char *const want[] = { "fatal error: all goroutines are asleep - deadlock!",
		"goroutine 1 [chan receive]:", NULL };
	expect_death_in(wired_deadlock, NULL, 1, &c, want);
}
END_TEST

/* --- preempted wired, and wiring beside goroutines pinned by preemption ---------- */

static volatile uint32_t hog_tid, hog_moved;

static __attribute__((noinline)) uint64_t spin(uint64_t n)
{
	uint64_t x = 1;
	for (uint64_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ull + i;
		__asm__ __volatile__("" : "+r"(x));
	}
	return x;
}

static void hog(void *wire)
{
	if (wire)
		gort_lock_thread();
	int me = tid();
	atomic_store32(&hog_tid, (uint32_t)me);
	int64_t t0 = gort_now();
	while (!atomic_load32(&stop) && gort_now() - t0 < 60 * 1000000000LL) {
		/* no gort call from here to the check: a preemption in
		 * between resumes here, on this thread */
		int t = (int)syscall(SYS_gettid);
		spin(200000);
		if ((int)syscall(SYS_gettid) != t || t != me)
			atomic_store32(&hog_moved, 1);
	}
	gort_waitgroup_done(&wg);
}

/* One P: main can run only when the hog, which never calls gort, is
 * preempted. */
static int preempted_main(void *wire)
{
	uint32_t before = gort_sched_preempt_done;
	gort_waitgroup_add(&wg, 1);
	gort_go(hog, wire);
	for (int i = 0; i < 5; i++)
		gort_sleep(2000000);
	atomic_store32(&stop, 1);
	gort_waitgroup_wait(&wg);
	ck_assert_uint_gt(gort_sched_preempt_done - before, 0);
	ck_assert_msg(!hog_moved, "a preempted goroutine moved thread");
	return 0;
}

START_TEST(wired_hog_preempted)
{
	SKIP_UNDER_VALGRIND("no asynchronous preemption there");
	RUN(1, preempted_main, (void *)1);
}
END_TEST

static int pinned_main(void *arg)
{
	(void)arg;
	uint32_t before = gort_sched_preempt_done;
	gort_waitgroup_add(&wg, 1);
	gort_go(hog, NULL);
	gort_yield();   /* the hog runs; main again only once it is preempted, pinned here */
	ck_assert_uint_gt(gort_sched_preempt_done - before, 0);
	int was = tid();
	gort_lock_thread();   /* this thread must resume the hog: main gets another */
	int me = tid();
	ck_assert_int_ne(me, was);
	ck_assert_uint_ne((uint32_t)me, atomic_load32(&hog_tid));
	for (int i = 0; i < 5; i++) {
		gort_sleep(2000000);
		ck_assert_int_eq(tid(), me);
	}
	gort_unlock_thread();
	atomic_store32(&stop, 1);
	gort_waitgroup_wait(&wg);
	ck_assert_msg(!hog_moved, "a preempted goroutine moved thread");
	return 0;
}

START_TEST(wiring_beside_pinned)
{
	SKIP_UNDER_VALGRIND("no asynchronous preemption there");
	RUN(1, pinned_main, NULL);
}
END_TEST

/* --- misuse --------------------------------------------------------------------- */

static void outside_child(void *which)
{
	if (which)
		gort_unlock_thread();
	else
		gort_lock_thread();
	exit(0);
}

START_TEST(dies_outside_a_goroutine)
{
	static const char *const want[] = {
		"panic: gort_lock_thread called outside a goroutine",
		"panic: gort_unlock_thread called outside a goroutine",
	};
	struct child c;
	run_child(outside_child, _i ? (void *)1 : NULL, &c, 30);
	ck_assert_exit_status(&c, 2);
	ck_assert_output_has(&c, want[_i]);
}
END_TEST

static Suite *lockthread_suite(void)
{
	Suite *s = suite_create("lockthread");
	TCase *tc = tcase_create("lockthread");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, wired_stays_alone, 0, 2);
	tcase_add_test(tc, wired_nests);
	tcase_add_loop_test(tc, wired_exit_ends_thread, 0, 2);
	tcase_add_test(tc, wired_deadlock_detected);
	tcase_add_test(tc, wired_hog_preempted);
	tcase_add_test(tc, wiring_beside_pinned);
	tcase_add_loop_test(tc, dies_outside_a_goroutine, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(lockthread_suite());
}
