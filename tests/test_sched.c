/*
 * test_sched.c -- package sched: goroutines, the scheduler, channels,
 * select, timers, sync, system calls, and every way a program dies.
 *
 * gort_main runs once per process, and Check runs each test in a child
 * process of its own, so each test starts a fresh runtime: RUN(procs, fn)
 * sets the number of Ps and runs fn as main.  Tests of dying programs
 * fork once more (run_child) and assert on the exit status and on what
 * the program printed.
 */
#include <pthread.h>
#include <time.h>

#include "atomic/atomic.h"
#include "runtime/runtime.h"
#include "testutil.h"

#include "gort.h"

/* --- spawning ------------------------------------------------------------ */

#define NSPAWN (100000 / SCALE)
static volatile uint32_t spawned;
static gort_waitgroup spawn_wg;

static void spawnee(void *arg)
{
	(void)arg;
	atomic_add32(&spawned, 1);
	gort_waitgroup_done(&spawn_wg);
}

static int spawn_main(void *arg)
{
	(void)arg;
	gort_waitgroup_add(&spawn_wg, NSPAWN);
	for (int i = 0; i < NSPAWN; i++)
		gort_go(spawnee, NULL);
	gort_waitgroup_wait(&spawn_wg);
	ck_assert_uint_eq(atomic_load32(&spawned), NSPAWN);
	/* Done is not dead: the last ones may still be on their way out. */
	for (int i = 0; i < 1000 && gort_numgoroutine() > 1; i++)
		gort_sleep(1000000);
	ck_assert_int_eq(gort_numgoroutine(), 1);
	return 0;
}

START_TEST(spawn_join)
{
	RUN(_i == 0 ? 1 : 4, spawn_main, NULL);
}
END_TEST

static int status_main(void *arg)
{
	ck_assert_uint_eq(gort_id(), 1);
	return (int)(intptr_t)arg;
}

START_TEST(main_status)
{
	ck_assert_int_eq(run_main(2, status_main, (void *)(intptr_t)42), 42);
}
END_TEST

/* --- yield: round-robin with one P ------------------------------------------ */

#define NYIELDERS 3
#define ROUNDS 100
static int order[NYIELDERS * ROUNDS];
static int norder;
static gort_waitgroup yield_wg;

static void yielder(void *arg)
{
	for (int r = 0; r < ROUNDS; r++) {
		order[norder++] = (int)(intptr_t)arg;
		gort_yield();
	}
	gort_waitgroup_done(&yield_wg);
}

static int yield_main(void *arg)
{
	(void)arg;
	gort_waitgroup_add(&yield_wg, NYIELDERS);
	for (int i = 0; i < NYIELDERS; i++)
		gort_go(yielder, (void *)(intptr_t)i);
	gort_waitgroup_wait(&yield_wg);
	ck_assert_int_eq(norder, NYIELDERS * ROUNDS);
	/* The first three are some order of 0, 1, 2; after that, the same
	 * order over and over: each goroutine gets one turn per round. */
	ck_assert_int_ne(order[0], order[1]);
	ck_assert_int_ne(order[1], order[2]);
	ck_assert_int_ne(order[0], order[2]);
	for (int i = NYIELDERS; i < norder; i++)
		ck_assert_msg(order[i] == order[i - NYIELDERS], "turn %d went to %d, not %d", i,
			order[i], order[i - NYIELDERS]);
	return 0;
}

START_TEST(yield_round_robin)
{
	RUN(1, yield_main, NULL);
}
END_TEST

/* A goroutine alone on its P, yielding in a loop, must not keep a sleeper
 * of that P asleep: a yield that finds nobody to switch to still runs due
 * timers.  (Found by the deadlock suite.) */
static volatile uint32_t woke;

static void lone_yielder(void *arg)
{
	(void)arg;
	while (!atomic_load32(&woke))
		gort_yield();
}

static int lone_main(void *arg)
{
	(void)arg;
	gort_go(lone_yielder, NULL);
	gort_sleep(10000000);
	atomic_store32(&woke, 1);
	return 0;
}

START_TEST(yield_runs_timers)
{
	RUN(1, lone_main, NULL);
}
END_TEST

/* --- channels ------------------------------------------------------------------ */

struct pair {
	gort_chan *a, *b;
};

static void echo(void *arg)
{
	struct pair *p = arg;
	long v;
	while (gort_chan_recv(p->a, &v)) {
		v *= 2;
		gort_chan_send(p->b, &v);
	}
	gort_chan_close(p->b);
}

static int rendezvous_main(void *arg)
{
	(void)arg;
	struct pair p = { gort_chan_make(sizeof(long), 0), gort_chan_make(sizeof(long), 0) };
	gort_go(echo, &p);
	for (long i = 1; i <= 1000; i++) {
		gort_chan_send(p.a, &i);
		/* unbuffered: the send returned, so the echo has the value */
		ck_assert_uint_eq(gort_chan_len(p.a), 0);
		long v = 0;
		ck_assert_int_eq(gort_chan_recv(p.b, &v), 1);
		ck_assert_int_eq(v, 2 * i);
	}
	gort_chan_close(p.a);
	long v = 99;
	ck_assert_int_eq(gort_chan_recv(p.b, &v), 0);   /* echo closed b on its way out */
	ck_assert_int_eq(v, 0);
	gort_chan_free(p.a);
	gort_chan_free(p.b);
	return 0;
}

START_TEST(chan_rendezvous)
{
	RUN(_i == 0 ? 1 : 3, rendezvous_main, NULL);
}
END_TEST

static void producer(void *arg)
{
	gort_chan *c = arg;
	for (int i = 0; i < 10000; i++)
		gort_chan_send(c, &i);
	gort_chan_close(c);
}

static int fifo_main(void *arg)
{
	(void)arg;
	gort_chan *c = gort_chan_make(sizeof(int), 16);
	ck_assert_uint_eq(gort_chan_cap(c), 16);
	ck_assert_uint_eq(gort_chan_len(c), 0);
	for (int i = 0; i < 5; i++)
		gort_chan_send(c, &i);
	ck_assert_uint_eq(gort_chan_len(c), 5);
	for (int i = 0; i < 5; i++) {
		int v;
		ck_assert_int_eq(gort_chan_recv(c, &v), 1);
		ck_assert_int_eq(v, i);
	}
	/* through a full buffer and blocked senders, order still holds */
	gort_go(producer, c);
	int v, want = 0;
	while (gort_chan_recv(c, &v)) {
		ck_assert_int_eq(v, want);
		want++;
		if (want % 1000 == 0)
			gort_sleep(100000);   /* let the buffer fill and the producer block */
	}
	ck_assert_int_eq(want, 10000);
	/* closed and drained: zero value, ok false, every time */
	v = 7;
	ck_assert_int_eq(gort_chan_recv(c, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(gort_chan_recv(c, NULL), 0);
	gort_chan_free(c);
	return 0;
}

START_TEST(chan_buffered_fifo)
{
	RUN(_i == 0 ? 1 : 2, fifo_main, NULL);
}
END_TEST

#define NRECV 10
static volatile uint32_t woke_closed;

static void closed_receiver(void *arg)
{
	gort_chan *c = arg;
	int v = 5;
	if (gort_chan_recv(c, &v) == 0 && v == 0)
		atomic_add32(&woke_closed, 1);
}

static int close_main(void *arg)
{
	(void)arg;
	gort_chan *c = gort_chan_make(sizeof(int), 0);
	for (int i = 0; i < NRECV; i++)
		gort_go(closed_receiver, c);
	while (gort_numgoroutine() > 1 && atomic_load32(&woke_closed) == 0) {
		gort_sleep(1000000);
		break;
	}
	gort_chan_close(c);
	for (int i = 0; i < 1000 && gort_numgoroutine() > 1; i++)
		gort_sleep(1000000);
	ck_assert_uint_eq(atomic_load32(&woke_closed), NRECV);
	gort_chan_free(c);
	return 0;
}

START_TEST(chan_close_wakes_all)
{
	RUN(2, close_main, NULL);
}
END_TEST

/* --- select -------------------------------------------------------------------- */

static int select_main(void *arg)
{
	(void)arg;
	gort_chan *a = gort_chan_make(sizeof(int), 1), *b = gort_chan_make(sizeof(int), 1);
	int x = 0, y = 0;
	gort_select_case cs[2] = {
		{ .c = a, .dir = GORT_RECV, .elem = &x },
		{ .c = b, .dir = GORT_RECV, .elem = &y },
	};
	/* nothing ready: default */
	ck_assert_int_eq(gort_select(cs, 2, 0), -1);
	/* only b ready: b, every time */
	int v = 11;
	for (int i = 0; i < 10; i++) {
		gort_chan_send(b, &v);
		ck_assert_int_eq(gort_select(cs, 2, 1), 1);
		ck_assert_int_eq(y, 11);
		ck_assert_int_eq(cs[1].ok, 1);
	}
	/* a send case that can proceed, beside a nil channel */
	int s = 5;
	gort_select_case sc[2] = {
		{ .c = NULL, .dir = GORT_SEND, .elem = &s },
		{ .c = a, .dir = GORT_SEND, .elem = &s },
	};
	ck_assert_int_eq(gort_select(sc, 2, 1), 1);
	ck_assert_int_eq(gort_select(sc, 2, 0), -1);   /* a is full now */
	ck_assert_int_eq(gort_select(cs, 2, 0), 0);
	ck_assert_int_eq(x, 5);
	/* a closed channel is ready, with ok = 0 */
	gort_chan_close(b);
	ck_assert_int_eq(gort_select(cs, 2, 1), 1);
	ck_assert_int_eq(cs[1].ok, 0);
	ck_assert_int_eq(y, 0);
	gort_chan_free(a);
	gort_chan_free(b);
	return 0;
}

START_TEST(select_readiness)
{
	RUN(1, select_main, NULL);
}
END_TEST

#define TRIALS (100000 / SCALE)

static int fairness_main(void *arg)
{
	(void)arg;
	enum { N = 3 };
	gort_chan *c[N];
	gort_select_case cs[N];
	int got[N] = { 0 }, v = 1, sink;
	for (int i = 0; i < N; i++) {
		c[i] = gort_chan_make(sizeof(int), 1);
		gort_chan_send(c[i], &v);
		cs[i] = (gort_select_case){ .c = c[i], .dir = GORT_RECV, .elem = &sink };
	}
	for (int t = 0; t < TRIALS; t++) {
		int i = gort_select(cs, N, 1);
		ck_assert_int_ge(i, 0);
		got[i]++;
		gort_chan_send(c[i], &v);   /* every case stays ready */
	}
	for (int i = 0; i < N; i++) {
		double share = (double)got[i] / TRIALS;
		ck_assert_msg(share > 0.9 / N && share < 1.1 / N, "case %d chosen %d of %d times",
			i, got[i], TRIALS);
		gort_chan_free(c[i]);
	}
	return 0;
}

START_TEST(select_fairness)
{
	RUN(1, fairness_main, NULL);
}
END_TEST

struct selwait {
	gort_chan *a, *b;
	int which;
};

static void select_sender(void *arg)
{
	struct selwait *w = arg;
	gort_sleep(2000000);
	int v = 42;
	gort_chan_send(w->which ? w->b : w->a, &v);
}

static int select_block_main(void *arg)
{
	(void)arg;
	for (int which = 0; which < 2; which++) {
		struct selwait w = { gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), 0), which };
		gort_go(select_sender, &w);
		int x = 0, y = 0;
		gort_select_case cs[2] = {
			{ .c = w.a, .dir = GORT_RECV, .elem = &x },
			{ .c = w.b, .dir = GORT_RECV, .elem = &y },
		};
		ck_assert_int_eq(gort_select(cs, 2, 1), which);
		ck_assert_int_eq(which ? y : x, 42);
		/* the losing case left no sudog behind: freeing would panic */
		gort_chan_free(w.a);
		gort_chan_free(w.b);
	}
	/* a select over many cases that waits, then a timer fires */
	gort_timer *t = gort_timer_new(3000000);
	enum { N = 40 };
	gort_chan *cs[N];
	gort_select_case sc[N + 1];
	int64_t fired = 0;
	for (int i = 0; i < N; i++) {
		cs[i] = gort_chan_make(0, 0);
		sc[i] = (gort_select_case){ .c = cs[i], .dir = i % 2 ? GORT_RECV : GORT_SEND };
	}
	sc[N] = (gort_select_case){ .c = gort_timer_chan(t), .dir = GORT_RECV, .elem = &fired };
	ck_assert_int_eq(gort_select(sc, N + 1, 1), N);
	ck_assert_int_gt(fired, 0);
	for (int i = 0; i < N; i++)
		gort_chan_free(cs[i]);
	gort_timer_free(t);
	return 0;
}

START_TEST(select_blocking)
{
	RUN(_i == 0 ? 1 : 2, select_block_main, NULL);
}
END_TEST

/* --- timers ---------------------------------------------------------------------- */

#define NSLEEPERS 12
static int woke_order[NSLEEPERS];
static volatile uint32_t nwoke;
static volatile uint32_t early;
static gort_waitgroup sleep_wg;

static void sleeper(void *arg)
{
	int ms = (int)(intptr_t)arg;
	int64_t t0 = gort_now();
	gort_sleep((int64_t)ms * 1000000);
	if (gort_now() - t0 < (int64_t)ms * 1000000)
		atomic_add32(&early, 1);
	woke_order[atomic_add32(&nwoke, 1) - 1] = ms;
	gort_waitgroup_done(&sleep_wg);
}

static int timers_main(void *arg)
{
	(void)arg;
	/* started in a scrambled order, they must wake in the order due */
	static const int ms[NSLEEPERS] = { 17, 5, 29, 11, 2, 23, 8, 14, 26, 20, 32, 35 };
	gort_waitgroup_add(&sleep_wg, NSLEEPERS);
	for (int i = 0; i < NSLEEPERS; i++)
		gort_go(sleeper, (void *)(intptr_t)(ms[i] * SCALE));
	gort_waitgroup_wait(&sleep_wg);
	ck_assert_uint_eq(atomic_load32(&early), 0);
	for (int i = 1; i < NSLEEPERS; i++)
		ck_assert_msg(woke_order[i - 1] < woke_order[i], "woke %d ms before %d ms",
			woke_order[i], woke_order[i - 1]);

	/* timer, ticker, afterfunc, stop and reset */
	gort_timer *t = gort_timer_new(1000000);
	int64_t when = 0, now = gort_now();
	ck_assert_int_eq(gort_chan_recv(gort_timer_chan(t), &when), 1);
	ck_assert_int_ge(when, now);
	ck_assert_int_eq(gort_timer_stop(t), 0);          /* already fired */
	ck_assert_int_eq(gort_timer_reset(t, 1000000000), 0);
	ck_assert_int_eq(gort_timer_stop(t), 1);          /* was pending */
	gort_timer_free(t);

	gort_timer *tk = gort_ticker_new(1000000);
	int64_t last = 0;
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(gort_chan_recv(gort_timer_chan(tk), &when), 1);
		ck_assert_int_gt(when, last);
		last = when;
	}
	gort_timer_free(tk);
	return 0;
}

START_TEST(timers_in_order)
{
	RUN(1, timers_main, NULL);
}
END_TEST

static gort_chan *af_chan;
static void afterfunc_fn(void *arg)
{
	gort_chan_send(af_chan, &arg);
}

static int afterfunc_main(void *arg)
{
	(void)arg;
	af_chan = gort_chan_make(sizeof(void *), 0);
	int64_t t0 = gort_now();
	gort_timer *t = gort_afterfunc(2000000, afterfunc_fn, (void *)af_chan);
	void *got = NULL;
	ck_assert_int_eq(gort_chan_recv(af_chan, &got), 1);
	ck_assert_ptr_eq(got, af_chan);
	ck_assert_int_ge(gort_now() - t0, 2000000);
	gort_timer_free(t);
	return 0;
}

START_TEST(timers_afterfunc)
{
	RUN(2, afterfunc_main, NULL);
}
END_TEST

/* --- sync under contention ------------------------------------------------------- */

#define NLOCKERS 16
#define NLOCKS (20000 / SCALE)
static gort_mutex mu;
static long guarded;
static gort_waitgroup lock_wg;
static gort_once once;
static volatile uint32_t once_calls;

static void once_fn(void *arg)
{
	(void)arg;
	atomic_add32(&once_calls, 1);
}

static void locker(void *arg)
{
	(void)arg;
	for (int i = 0; i < NLOCKS; i++) {
		gort_once_do(&once, once_fn, NULL);
		gort_mutex_lock(&mu);
		long v = guarded;
		if (i % 64 == 0)
			gort_yield();   /* hold the lock across a switch */
		guarded = v + 1;
		gort_mutex_unlock(&mu);
	}
	gort_waitgroup_done(&lock_wg);
}

static int mutex_main(void *arg)
{
	(void)arg;
	gort_waitgroup_add(&lock_wg, NLOCKERS);
	for (int i = 0; i < NLOCKERS; i++)
		gort_go(locker, NULL);
	gort_waitgroup_wait(&lock_wg);
	ck_assert_int_eq(guarded, (long)NLOCKERS * NLOCKS);
	ck_assert_uint_eq(once_calls, 1);
	ck_assert_int_eq(gort_mutex_trylock(&mu), 1);
	ck_assert_int_eq(gort_mutex_trylock(&mu), 0);
	gort_mutex_unlock(&mu);
	return 0;
}

START_TEST(mutex_waitgroup_contention)
{
	RUN(4, mutex_main, NULL);
}
END_TEST

/* --- system calls ---------------------------------------------------------------- */

static volatile uint32_t others_done, in_syscall;

static void busy_other(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++)
		gort_yield();
	if (atomic_load32(&in_syscall))
		atomic_store32(&others_done, 1);
}

static int syscall_main(void *arg)
{
	(void)arg;
	gort_go(busy_other, NULL);
	gort_syscall_enter();
	atomic_store32(&in_syscall, 1);
	/* a blocking call that knows nothing of gort */
	struct timespec ts = { 0, 300000000 };
	nanosleep(&ts, NULL);
	uint32_t done = atomic_load32(&others_done);
	atomic_store32(&in_syscall, 0);
	gort_syscall_exit();
	ck_assert_msg(done, "the other goroutine did not run while main was in a system call");
	return 0;
}

START_TEST(syscall_hands_off_p)
{
	RUN(1, syscall_main, NULL);   /* one P: without a hand-off, nothing else could run */
}
END_TEST

/* A system call's P in sysmon's hands is nobody's for a moment: neither
 * held nor idle.  The goroutine coming back meanwhile finds no P, queues
 * itself and its M goes idle -- with every M idle, a deadlock check that
 * does not count sysmon as running then throws "checkdead: goroutine 1
 * is 1 with every M idle" (seen under qemu in 4 of 10 runs).  The debug
 * runtime's retakedelay holds the moment open so that it happens every
 * time. */
static int retake_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++) {
		gort_syscall_enter();
		/* long enough for sysmon to take its P, shorter than the
		 * delay: it comes back while the P is in sysmon's hands */
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
		gort_syscall_exit();
	}
	return 0;
}

static void retake_child(void *arg)
{
	(void)arg;
	putenv("GORTDEBUG=retakedelay=50000");
	gort_runtime_debug_init();
	gort_gomaxprocs(1);
	exit(gort_main(retake_main, NULL));
}

START_TEST(syscall_retake_window)
{
	if (!GORT_DEBUG_RUNTIME)
		return;   /* the delay is the debug runtime's */
	struct child c;
	run_child(retake_child, NULL, &c, 60);
	ck_assert_exit_status(&c, 0);
}
END_TEST

/* A goroutine in a blocking call gort does not know of (a raw read(2))
 * keeps its P, and preempt.c never stops it in libc.  What is queued on
 * that P must not wait with it while the other P idles: main, yielding
 * to it, is requeued behind it, after the M sent for the new goroutine
 * has looked for work, found none and gone to sleep.  Under qemu that
 * happened in 5 of 30 runs (the goroutine profile's straggler test hung);
 * natively the window is under a microsecond, and the debug runtime's
 * requeuedelay holds it open.  Sysmon must wake an idle P to steal. */
static int stranded_pipe[2];
static volatile uint32_t stranded_in;

static void stranded_reader(void *arg)
{
	(void)arg;
	char b;
	atomic_add32(&stranded_in, 1);
	if (read(stranded_pipe[0], &b, 1) != 1)   /* holds its thread and its P */
		abort();
	atomic_add32(&stranded_in, 1);
}

static int stranded_main(void *arg)
{
	(void)arg;
	gort_go(stranded_reader, NULL);
	while (atomic_load32(&stranded_in) < 1)
		gort_yield();
	ck_assert_int_eq(write(stranded_pipe[1], "x", 1), 1);
	while (atomic_load32(&stranded_in) < 2)
		gort_yield();
	return 0;
}

static void stranded_child(void *arg)
{
	(void)arg;
	putenv("GORTDEBUG=requeuedelay=2000");
	gort_runtime_debug_init();
	gort_gomaxprocs(2);
	if (pipe(stranded_pipe) != 0)
		abort();
	exit(gort_main(stranded_main, NULL));
}

START_TEST(stranded_behind_raw_call)
{
	struct child c;
	for (int i = 0; i < 10; i++) {
		/* a hang: main, queued behind the reader, never ran again */
		run_child(stranded_child, NULL, &c, 20);
		ck_assert_exit_status(&c, 0);
	}
}
END_TEST

/* --- gomaxprocs at run time ------------------------------------------------------- */

static int procs_main(void *arg)
{
	(void)arg;
	ck_assert_int_eq(gort_gomaxprocs(0), 2);
	/* grow and shrink while goroutines run: none may be stranded on a
	 * retired P (the deadlock check would catch it) */
	for (int round = 1; round <= 20; round++) {
		ck_assert_int_eq(gort_gomaxprocs(4), round == 1 ? 2 : 1);
		ck_assert_int_eq(gort_gomaxprocs(0), 4);
		gort_waitgroup_add(&spawn_wg, 1000);
		for (int i = 0; i < 1000; i++)
			gort_go(spawnee, NULL);
		ck_assert_int_eq(gort_gomaxprocs(1), 4);
		gort_waitgroup_wait(&spawn_wg);
		ck_assert_uint_eq(atomic_load32(&spawned), 1000u * (unsigned)round);
	}
	gort_sleep(1000000);
	return 0;
}

START_TEST(gomaxprocs_resize)
{
	RUN(2, procs_main, NULL);
}
END_TEST

/* --- how programs die ------------------------------------------------------------ */

static void expect_death(int (*main)(void *), const char *env, const char *const *want)
{
	struct child c;
	expect_death_in(main, env, 2, &c, want);
}

static int send_closed(void *a)
{
	(void)a;
	gort_chan *c = gort_chan_make(1, 1);
	gort_chan_close(c);
	gort_chan_send(c, "x");
	return 0;
}

static int close_closed(void *a)
{
	(void)a;
	gort_chan *c = gort_chan_make(1, 0);
	gort_chan_close(c);
	gort_chan_close(c);
	return 0;
}

static int close_nil(void *a)
{
	(void)a;
	gort_chan_close(NULL);
	return 0;
}

static int negative_wg(void *a)
{
	(void)a;
	gort_waitgroup wg = { 0 };
	gort_waitgroup_add(&wg, 1);
	gort_waitgroup_done(&wg);
	gort_waitgroup_done(&wg);
	return 0;
}

static int unlock_unlocked(void *a)
{
	(void)a;
	gort_mutex m = { 0 };
	gort_mutex_unlock(&m);
	return 0;
}

static gort_chan *never;

static void blocked_forever(void *a)
{
	(void)a;
	int v;
	gort_chan_recv(never, &v);
}

static int deadlock(void *a)
{
	(void)a;
	never = gort_chan_make(sizeof(int), 0);
	gort_go(blocked_forever, NULL);
	gort_waitgroup wg = { 0 };
	gort_waitgroup_add(&wg, 1);
	gort_waitgroup_wait(&wg);
	return 0;
}

static void quick(void *a)
{
	(void)a;
	gort_sleep(1000000);
}

static int main_goexit(void *a)
{
	(void)a;
	gort_go(quick, NULL);
	gort_exit();
}

/* Recurse until the frames reach `depth` bytes below the first one (0:
 * forever), then park: frame sizes vary with the compiler and the
 * sanitizers, so the depth is measured, not counted. */
static __attribute__((noinline)) int recurse(uintptr_t top, uintptr_t depth)
{
	volatile char frame[256];
	frame[0] = 1;
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	if (depth && top - here > depth) {
		gort_sleep(1000);   /* park: the switch checks the stack */
		return frame[0];
	}
	return recurse(top, depth) + frame[0];
}

static void overflow_fn(void *a)
{
	recurse((uintptr_t)__builtin_frame_address(0), (uintptr_t)a);
}

static int overflow(void *a)
{
	(void)a;
	gort_go(overflow_fn, (void *)(uintptr_t)(80 * 1024));   /* a 64 KiB stack */
	gort_sleep(5000000000);
	return 0;
}

static int infinite_recursion(void *a)
{
	(void)a;
	gort_go(overflow_fn, NULL);
	gort_sleep(5000000000);
	return 0;
}

START_TEST(dies_send_on_closed)
{
	expect_death(send_closed, NULL, (const char *const[]){ "panic: send on closed channel\n",
		"goroutine 1 [running]:\n", "send_closed()", NULL });
}
END_TEST

START_TEST(dies_close_of_closed)
{
	expect_death(close_closed, NULL, (const char *const[]){ "panic: close of closed channel\n",
		"close_closed()", NULL });
}
END_TEST

START_TEST(dies_close_of_nil)
{
	expect_death(close_nil, NULL, (const char *const[]){ "panic: close of nil channel\n",
		"close_nil()", NULL });
}
END_TEST

START_TEST(dies_negative_waitgroup)
{
	expect_death(negative_wg, NULL, (const char *const[]){
		"panic: sync: negative WaitGroup counter\n", "negative_wg()", NULL });
}
END_TEST

START_TEST(dies_unlock_of_unlocked)
{
	/* Go throws here (sync.fatal), it does not panic */
	expect_death(unlock_unlocked, NULL, (const char *const[]){
		"fatal error: sync: unlock of unlocked mutex\n", "unlock_unlocked()", NULL });
}
END_TEST

START_TEST(dies_deadlock)
{
	expect_death(deadlock, NULL, (const char *const[]){
		"fatal error: all goroutines are asleep - deadlock!\n",
		"goroutine 1 [semacquire]:\n", "deadlock()",
		"goroutine 2 [chan receive]:\n", "blocked_forever()", "created by deadlock\n", NULL });
}
END_TEST

START_TEST(dies_main_goexit)
{
	expect_death(main_goexit, NULL, (const char *const[]){
		"fatal error: no goroutines (main called gort_exit) - deadlock!\n", NULL });
}
END_TEST

START_TEST(dies_stack_overflow_guard)
{
	expect_death(infinite_recursion, NULL, (const char *const[]){
		"fatal error: stack overflow\n", "goroutine 2 [running]:\n", "recurse", NULL });
}
END_TEST

START_TEST(dies_stack_overflow_canary)
{
	SKIP_UNDER_VALGRIND("the overflow is an invalid write to memcheck");
	/* No guard pages: the canary check at the next switch catches it. */
	expect_death(overflow, "GORTDEBUG=stackguard=0", (const char *const[]){
		"fatal error: stack overflow\n", "goroutine 2", NULL });
}
END_TEST

static void quit_waiter(void *a)
{
	(void)a;
	int v;
	gort_chan_recv(never, &v);
}

static void *quit_sender(void *arg)
{
	usleep(20000);
	pthread_kill(*(pthread_t *)arg, SIGQUIT);
	return NULL;
}

static __attribute__((noinline)) void quit_spin(void)
{
	for (;;)
		__asm__ __volatile__("" ::: "memory");
}

static int quit_main(void *a)
{
	(void)a;
	never = gort_chan_make(sizeof(int), 0);
	gort_go(quit_waiter, NULL);
	gort_go(quit_waiter, NULL);
	gort_sleep(10000000);   /* let them block */
	/* ^\ arrives while main spins in a known function on this thread */
	static pthread_t me;
	me = pthread_self();
	pthread_t t;
	pthread_create(&t, NULL, quit_sender, &me);
	quit_spin();
	return 0;
}

START_TEST(sigquit_dumps_goroutines)
{
	expect_death(quit_main, NULL, (const char *const[]){ "SIGQUIT: quit\n",
		"goroutine 1 [running]:\n", "quit_spin()\n", "quit_main()", "goroutine 2 [chan receive]:\n",
		"goroutine 3 [chan receive]:\n", "quit_waiter()", "created by quit_main\n", NULL });
}
END_TEST

static int64_t traced_t0;   /* before gort_main, and so before sysmon */

static int traced_main(void *a)
{
	(void)a;
	never = gort_chan_make(sizeof(int), 0);
	gort_go(quit_waiter, NULL);   /* one goroutine to see in the detail */
	gort_sleep(120000000);
	/* for the test's bound: a busy machine stretches the run */
	gort_runtime_printf("elapsed=%lld\n", (long long)((gort_now() - traced_t0) / 1000000));
	return 0;
}

static void traced_child(void *arg)
{
	setenv("GORTDEBUG", arg, 1);
	gort_runtime_debug_init();
	gort_gomaxprocs(2);
	traced_t0 = gort_now();
	exit(gort_main(traced_main, NULL));
}

START_TEST(schedtrace_lines)
{
	struct child c;
	run_child(traced_child, "schedtrace=20,scheddetail=1", &c, 30);
	ck_assert_exit_status(&c, 0);
	ck_assert_output_has(&c, "SCHED ");
	ck_assert_output_has(&c, "ms: gomaxprocs=2 idleprocs=");
	ck_assert_output_has(&c, " runqueue=0 [");
	ck_assert_output_has(&c, "  P0: status=");
	ck_assert_output_has(&c, "  P1: status=");
	ck_assert_output_has(&c, "  M0: p=");
	ck_assert_output_has(&c, "  G1: status=4(sleep)");
	ck_assert_output_has(&c, "(chan receive)");
	/* about one line per 20 ms, over however long the sleep took: never
	 * many more (one per sysmon wake-up would be hundreds) */
	int lines = 0;
	for (const char *p = c.out; (p = strstr(p, "SCHED ")) != NULL; p++)
		lines++;
	const char *e = strstr(c.out, "elapsed=");
	ck_assert_ptr_nonnull(e);
	long ms = atol(e + 8);
	ck_assert_msg(lines >= 1 && lines <= ms / 20 + 3, "%d SCHED lines in %ld ms at 20 ms", lines, ms);
}
END_TEST

static int bad_env_main(void *a)
{
	(void)a;
	return gort_gomaxprocs(0) > 0 ? 0 : 1;
}

static void bad_env_child(void *arg)
{
	(void)arg;
	putenv("GORTMAXPROCS=lots");
	exit(gort_main(bad_env_main, NULL));
}

START_TEST(bad_gomaxprocs_env)
{
	struct child c;
	run_child(bad_env_child, NULL, &c, 30);
	ck_assert_exit_status(&c, 0);
	ck_assert_output_has(&c, "gort: ignoring GORTMAXPROCS=lots: not a positive integer\n");
}
END_TEST

/* --- timers under concurrent stop and reset --------------------------------------
 * Go lets any goroutine stop and reset a timer while others do the same
 * and while it fires.  Every arming ends exactly one way: it fires, or a
 * stop or reset that returned 1 cancelled it.  So after the hammer and a
 * final stop of every timer, armings == firings + cancellations, exactly
 * -- a timer added twice, or one lost from the heap, breaks the count if
 * it does not crash first. */

#define NHTIMERS 4
#define NHAMMERS 8
#define HAMMER_OPS (20000 / SCALE)
static gort_timer *htimers[NHTIMERS];
static volatile uint64_t h_armings, h_cancels, h_fires;
static gort_waitgroup h_wg;

static void h_fire(void *arg)
{
	(void)arg;
	atomic_add64(&h_fires, 1);
}

static void h_hammer(void *arg)
{
	uint32_t x = (uint32_t)(uintptr_t)arg * 2654435761u | 1;
	for (int i = 0; i < HAMMER_OPS; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		gort_timer *t = htimers[x % NHTIMERS];
		if (x & 0x100) {
			atomic_add64(&h_cancels, (uint64_t)gort_timer_stop(t));
		} else {
			/* 0 to 63 us: many fire while others reset them */
			atomic_add64(&h_cancels, (uint64_t)gort_timer_reset(t, (int64_t)(x >> 26) * 1000));
			atomic_add64(&h_armings, 1);
		}
		if (i % 16 == 0)
			gort_yield();
	}
	gort_waitgroup_done(&h_wg);
}

static int timer_hammer_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < NHTIMERS; i++)
		htimers[i] = gort_afterfunc(1000, h_fire, NULL);
	h_armings = NHTIMERS;
	gort_waitgroup_add(&h_wg, NHAMMERS);
	for (uintptr_t i = 0; i < NHAMMERS; i++)
		gort_go(h_hammer, (void *)(i + 1));
	gort_waitgroup_wait(&h_wg);
	for (int i = 0; i < NHTIMERS; i++)
		atomic_add64(&h_cancels, (uint64_t)gort_timer_stop(htimers[i]));
	/* Firings already under way have started their goroutine: let them
	 * finish (bounded: a count that never settles fails, not hangs). */
	for (int i = 0; i < 10000 && gort_numgoroutine() > 1; i++)
		gort_sleep(1000000);
	ck_assert_int_eq(gort_numgoroutine(), 1);
	ck_assert_uint_eq(h_fires + h_cancels, h_armings);
	for (int i = 0; i < NHTIMERS; i++)
		gort_timer_free(htimers[i]);
	return 0;
}

START_TEST(timer_concurrent_reset)
{
	RUN(_i == 0 ? 2 : 8, timer_hammer_main, NULL);
}
END_TEST

/* A stop that returns 0 on an armed channel timer means it has fired:
 * the value is in the channel, so Go's `if !t.Stop() { <-t.C }` cannot
 * block, even when the stop meets the firing half-way. */
static int stop_drain_main(void *arg)
{
	(void)arg;
	gort_timer *t = gort_timer_new(1000);
	for (int i = 0; i < 2000 / SCALE; i++) {
		if (!gort_timer_stop(t)) {
			int64_t when;
			gort_select_case c = { .c = gort_timer_chan(t), .dir = GORT_RECV, .elem = &when };
			ck_assert_msg(gort_select(&c, 1, 0) == 0, "stop returned 0 but the channel is empty");
		}
		gort_timer_reset(t, (int64_t)(i % 7) * 1000);
		if (i % 3 == 0)
			gort_sleep(2000);
	}
	gort_timer_free(t);
	return 0;
}

START_TEST(timer_stop_then_drain)
{
	RUN(2, stop_drain_main, NULL);
}
END_TEST

/* --- channels: zero values and zero sizes ---------------------------------------- */

static gort_chan *znull;
static void null_sender(void *arg)
{
	(void)arg;
	long v = 42;
	gort_chan_send(znull, &v);
	gort_chan_send(znull, NULL);   /* the zero value */
}

static int send_null_main(void *arg)
{
	(void)arg;
	for (size_t cap = 0; cap < 2; cap++) {
		znull = gort_chan_make(sizeof(long), cap);
		gort_go(null_sender, NULL);
		long a = -1, b = -1;
		ck_assert_int_eq(gort_chan_recv(znull, &a), 1);
		ck_assert_int_eq(gort_chan_recv(znull, &b), 1);
		ck_assert_int_eq(a, 42);
		ck_assert_int_eq(b, 0);
		gort_chan_free(znull);
	}
	return 0;
}

START_TEST(chan_send_null_is_zero)
{
	RUN(1, send_null_main, NULL);
}
END_TEST

/* chan struct{} with a buffer: no buffer memory at all (UBSan once caught
 * its slot arithmetic on NULL). */
static int zero_size_main(void *arg)
{
	(void)arg;
	gort_chan *c = gort_chan_make(0, 3);
	for (int i = 0; i < 3; i++)
		gort_chan_send(c, NULL);
	ck_assert_uint_eq(gort_chan_len(c), 3);
	gort_select_case sc = { .c = c, .dir = GORT_SEND };
	ck_assert_int_eq(gort_select(&sc, 1, 0), -1);   /* full */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(gort_chan_recv(c, NULL), 1);
	gort_select_case rc = { .c = c, .dir = GORT_RECV };
	ck_assert_int_eq(gort_select(&rc, 1, 0), -1);   /* empty */
	ck_assert_int_eq(gort_select(&sc, 1, 0), 0);
	ck_assert_int_eq(gort_select(&rc, 1, 0), 0);
	gort_chan_close(c);
	ck_assert_int_eq(gort_chan_recv(c, NULL), 0);
	gort_chan_free(c);
	return 0;
}

START_TEST(chan_zero_size_buffered)
{
	RUN(1, zero_size_main, NULL);
}
END_TEST

/* --- freed channels and timers --------------------------------------------------- */

static __attribute__((noinline)) int freed_timer(void *a)
{
	gort_timer *t = gort_timer_new(1000000000);
	gort_timer_free(t);
	switch ((int)(uintptr_t)a) {
	case 0: gort_timer_stop(t); break;
	case 1: gort_timer_reset(t, 1000); break;
	case 2: gort_timer_free(t); break;
	case 3: gort_timer_chan(t); break;
	}
	__asm__ __volatile__("" ::: "memory");   /* no tail calls: keep this frame */
	return 0;
}

static __attribute__((noinline)) int freed_chan(void *a)
{
	gort_chan *c = gort_chan_make(sizeof(int), 1);
	gort_chan_free(c);
	int v = 1;
	gort_select_case sc = { .c = c, .dir = GORT_RECV, .elem = &v };
	switch ((int)(uintptr_t)a) {
	case 0: gort_select(&sc, 1, 0); break;
	case 1: gort_chan_send(c, &v); break;
	case 2: gort_chan_recv(c, &v); break;
	case 3: gort_chan_close(c); break;
	case 4: gort_chan_free(c); break;
	case 5: gort_chan_len(c); break;
	}
	__asm__ __volatile__("" ::: "memory");
	return 0;
}

static int freed_case;
static int freed_timer_main(void *a) { (void)a; return freed_timer((void *)(uintptr_t)freed_case); }
static int freed_chan_main(void *a) { (void)a; return freed_chan((void *)(uintptr_t)freed_case); }

START_TEST(dies_freed_timer)
{
	static const char *const msgs[] = {
		"fatal error: gort_timer_stop of a freed timer\n",
		"fatal error: gort_timer_reset of a freed timer\n",
		"fatal error: gort_timer_free of a freed timer\n",
		"fatal error: gort_timer_chan of a freed timer\n",
	};
	freed_case = _i;
	expect_death(freed_timer_main, NULL, (const char *const[]){ msgs[_i],
		"goroutine 1 [running]:\n", "freed_timer()", NULL });
}
END_TEST

START_TEST(dies_freed_chan)
{
	static const char *const msgs[] = {
		"fatal error: gort_select of a freed channel\n",
		"fatal error: gort_chan_send of a freed channel\n",
		"fatal error: gort_chan_recv of a freed channel\n",
		"fatal error: gort_chan_close of a freed channel\n",
		"fatal error: gort_chan_free of a freed channel\n",
		"fatal error: gort_chan_len of a freed channel\n",
	};
	freed_case = _i;
	expect_death(freed_chan_main, NULL, (const char *const[]){ msgs[_i],
		"goroutine 1 [running]:\n", "freed_chan()", NULL });
}
END_TEST

/* --- threads gort did not start -------------------------------------------------- */

static gort_chan *fchan;

static void foreign_gift(void *arg)
{
	long v = (long)(intptr_t)arg;
	gort_chan_send(fchan, &v);
}

/* 200 ms after start (by then main waits, however loaded the machine:
 * the outcome is the same either way), a thread gort did not start
 * calls gort_go, or sends straight to the waiting main. */
static volatile uint32_t fattached;

static void *foreign_thread(void *arg)
{
	int how = (int)(intptr_t)arg;
	gort_foreign_attach();
	atomic_store32(&fattached, 1);
	struct timespec ts = { 0, 200000000 };
	nanosleep(&ts, NULL);
	if (how == 0) {
		gort_go(foreign_gift, (void *)(intptr_t)7);
	} else if (how == 1) {
		long v = 7;
		gort_select_case c = { .c = fchan, .dir = GORT_SEND, .elem = &v };
		while (gort_select(&c, 1, 0) != 0)   /* main may not be waiting yet */
			nanosleep(&ts, NULL);
	}
	gort_foreign_detach();
	return NULL;
}

static int foreign_how;

static int foreign_main(void *arg)
{
	(void)arg;
	fchan = gort_chan_make(sizeof(long), 0);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, foreign_thread, (void *)(intptr_t)foreign_how), 0);
	while (!atomic_load32(&fattached))   /* a sleeper is no deadlock */
		gort_sleep(1000000);
	long v = 0;
	ck_assert_int_eq(gort_chan_recv(fchan, &v), 1);   /* how 2 never sends: deadlock */
	ck_assert_int_eq(v, 7);
	pthread_join(t, NULL);
	return 0;
}

START_TEST(foreign_thread_calls_in)
{
	foreign_how = _i;
	RUN(2, foreign_main, NULL);
}
END_TEST

static int foreign_main_gives_up(void *a)
{
	foreign_how = 2;
	return foreign_main(a);
}

/* With every participant gone the real report still comes. */
START_TEST(dies_deadlock_after_detach)
{
	expect_death(foreign_main_gives_up, NULL, (const char *const[]){
		"fatal error: all goroutines are asleep - deadlock!\n",
		"goroutine 1 [chan receive]:\n", NULL });
}
END_TEST

/* Goroutines run on threads gort started: attaching one is a mistake. */
static int attach_on_gort_thread(void *a)
{
	(void)a;
	gort_foreign_attach();
	return 0;
}

START_TEST(dies_attach_on_gort_thread)
{
	expect_death(attach_on_gort_thread, NULL, (const char *const[]){
		"panic: gort_foreign_attach called on a thread gort started", NULL });
}
END_TEST

static int detach_unattached(void *a)
{
	(void)a;
	gort_foreign_detach();
	return 0;
}

START_TEST(dies_detach_without_attach)
{
	expect_death(detach_unattached, NULL, (const char *const[]){
		"panic: gort_foreign_detach without gort_foreign_attach on this thread", NULL });
}
END_TEST

/* --- misuse Go catches ----------------------------------------------------------- */

static gort_waitgroup reuse_wg;
static volatile uint32_t reuse_returned;
static void reuse_waiter(void *a)
{
	(void)a;
	gort_waitgroup_wait(&reuse_wg);
	atomic_store32(&reuse_returned, 1);   /* no tail call: keep this frame */
}

/* At GORTMAXPROCS=1 the woken waiter cannot run before main re-adds. */
static int wg_reuse(void *a)
{
	(void)a;
	gort_gomaxprocs(1);
	gort_waitgroup_add(&reuse_wg, 1);
	gort_go(reuse_waiter, NULL);
	gort_yield();                      /* the waiter parks */
	gort_waitgroup_done(&reuse_wg);    /* wakes it: runnable, not running */
	gort_waitgroup_add(&reuse_wg, 1);  /* reused before its Wait returned */
	gort_yield();
	gort_sleep(1000000);
	return 0;
}

START_TEST(dies_waitgroup_reuse)
{
	expect_death(wg_reuse, NULL, (const char *const[]){
		"panic: sync: WaitGroup is reused before previous Wait has returned\n",
		"reuse_waiter()", NULL });
}
END_TEST

static gort_waitgroup misuse_wg;

static void enter_and_return(void *a)
{
	(void)a;
	gort_waitgroup_done(&misuse_wg);
	gort_syscall_enter();
}

static int syscall_misuse(void *a)
{
	(void)a;
	gort_chan *c = gort_chan_make(sizeof(int), 1);
	int v = 1;
	if (freed_case == 7) {
		/* Another goroutine ends in a system call: its P was left in
		 * Psyscall for good, and the next goroutine on its thread was
		 * blamed, or checkdead threw. */
		gort_waitgroup_add(&misuse_wg, 1);
		gort_go(enter_and_return, NULL);
		gort_waitgroup_wait(&misuse_wg);
		gort_sleep(100000000);
		return 0;
	}
	gort_syscall_enter();
	switch (freed_case) {
	case 0: gort_syscall_enter(); break;
	case 1: gort_chan_send(c, &v); break;
	case 2: gort_yield(); break;
	case 3: gort_sleep(1000); break;
	case 4: gort_chan_recv(c, &v); break;
	case 5: gort_lock_thread(); break;
	case 6: gort_exit(); break;
	}
	gort_syscall_exit();
	return 0;
}

START_TEST(dies_syscall_misuse)
{
	static const char *const msgs[] = {
		"panic: gort_syscall_enter called twice without gort_syscall_exit\n",
		"panic: gort_chan_send between gort_syscall_enter and gort_syscall_exit",
		"panic: gort_yield between gort_syscall_enter and gort_syscall_exit",
		"panic: gort_sleep between gort_syscall_enter and gort_syscall_exit",
		"panic: gort_chan_recv between gort_syscall_enter and gort_syscall_exit",
		"panic: gort_lock_thread between gort_syscall_enter and gort_syscall_exit",
		"panic: a goroutine's end (a return from its function, or gort_exit) between "
			"gort_syscall_enter and gort_syscall_exit",
		"panic: a goroutine's end (a return from its function, or gort_exit) between "
			"gort_syscall_enter and gort_syscall_exit",
	};
	freed_case = _i;
	expect_death(syscall_misuse, NULL, (const char *const[]){ msgs[_i],
		_i == 7 ? "goroutine 2 [running]:\n" : "syscall_misuse()", NULL });
}
END_TEST

/* Dumps list goroutine 1 first, then by id, as Go's do. */
static void ordered_blocker(void *a)
{
	(void)a;
	gort_chan_recv(never, NULL);
}

static int ordered_deadlock(void *a)
{
	(void)a;
	never = gort_chan_make(sizeof(int), 0);
	for (int i = 0; i < 5; i++)
		gort_go(ordered_blocker, NULL);
	gort_chan_recv(never, NULL);
	return 0;
}

START_TEST(dump_in_id_order)
{
	struct death d = { ordered_deadlock, NULL, 2 };
	struct child c;
	run_child(die_child, &d, &c, 30);
	ck_assert_exit_status(&c, 2);
	const char *p = c.out;
	long last = 0;
	int n = 0;
	while ((p = strstr(p, "\ngoroutine ")) != NULL) {
		long id = strtol(p + 11, NULL, 10);
		ck_assert_msg(id > last, "goroutine %ld listed after %ld:\n%s", id, last, c.out);
		last = id;
		n++;
		p++;
	}
	ck_assert_int_eq(n, 6);
	ck_assert_ptr_nonnull(strstr(c.out, "\ngoroutine 1 [chan receive]:\n"));
}
END_TEST

/* Two goroutines ping-ponging over unbuffered channels ready each other
 * into runnext for ever; on one P nothing else ran again -- not a
 * goroutine in the ring, not main woken by its timer -- before time
 * slices were inherited (runq.c).  The pair now shares one slice, and the
 * others run within a slice or two of their turn. */
static gort_chan *pp_a, *pp_b;
static volatile uint32_t pp_third;

static void pp_ping(void *x)
{
	(void)x;
	int v = 0;
	for (;;) {
		gort_chan_send(pp_a, &v);
		gort_chan_recv(pp_b, &v);
	}
}

static void pp_pong(void *x)
{
	(void)x;
	int v;
	for (;;) {
		gort_chan_recv(pp_a, &v);
		gort_chan_send(pp_b, &v);
	}
}

static void pp_other(void *x)
{
	(void)x;
	atomic_store32(&pp_third, 1);
}

static int pingpong_main(void *x)
{
	(void)x;
	pp_a = gort_chan_make(sizeof(int), 0);
	pp_b = gort_chan_make(sizeof(int), 0);
	gort_go(pp_ping, NULL);
	gort_go(pp_pong, NULL);
	gort_yield();            /* the pair is under way */
	gort_go(pp_other, NULL); /* queued behind it */
	gort_sleep(50000000);    /* due while the pair runs */
	printf("woke; the other goroutine ran: %u\n", atomic_load32(&pp_third));
	return 0;                /* ends the program, pair and all */
}

START_TEST(pingpong_does_not_starve)
{
	struct child c;
	run_child(die_child, &(struct death){ pingpong_main, NULL, 1 }, &c, 20);
	ck_assert_exit_status(&c, 0);
	ck_assert_output_has(&c, "woke; the other goroutine ran: 1\n");
}
END_TEST

/* An idle program uses no CPU: with every goroutine asleep, no thread
 * wakes until the timer is due.  (sysmon's 10 ms ticks went on before:
 * about 100 wake-ups a second, 40 in this window.)  A plain thread, not
 * a goroutine, counts the voluntary context switches of every thread
 * but its own over 400 ms of main's 800 ms sleep.  Voluntary switches
 * are sleeps, not the kernel's preemptions, so a busy machine does not
 * change the count. */
#include <dirent.h>
#include <sys/syscall.h>

static long idle_switches(pid_t self)
{
	DIR *d = opendir("/proc/self/task");
	ck_assert_ptr_nonnull(d);
	long sum = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || atol(e->d_name) == self)
			continue;
		char path[300], line[128];
		snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;   /* the thread ended */
		while (fgets(line, sizeof line, f))
			if (strncmp(line, "voluntary_ctxt_switches:", 24) == 0)
				sum += atol(line + 24);
		fclose(f);
	}
	closedir(d);
	return sum;
}

static long idle_seen = -1;

static void *idle_watch(void *arg)
{
	(void)arg;
	pid_t self = (pid_t)syscall(SYS_gettid);
	struct timespec settle = { 0, 200000000 }, window = { 0, 400000000 };
	nanosleep(&settle, NULL);
	long before = idle_switches(self);
	nanosleep(&window, NULL);
	idle_seen = idle_switches(self) - before;
	return NULL;
}

static int idle_main(void *arg)
{
	(void)arg;
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, idle_watch, NULL), 0);
	gort_sleep(800000000);
	pthread_join(t, NULL);
	return 0;
}

START_TEST(idle_program_sleeps)
{
#ifdef GORT_TEST_EMULATED
	return;   /* qemu-user's own threads wake as they please */
#endif
	RUN(2, idle_main, NULL);
	ck_assert_msg(idle_seen >= 0 && idle_seen <= 4,
		"%ld wake-ups in 400 ms of an idle program", idle_seen);
}
END_TEST

static Suite *sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("scheduler");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, spawn_join, 0, 2);
	tcase_add_test(tc, main_status);
	tcase_add_test(tc, yield_round_robin);
	tcase_add_test(tc, yield_runs_timers);
	tcase_add_test(tc, syscall_hands_off_p);
	tcase_add_test(tc, syscall_retake_window);
	tcase_add_test(tc, stranded_behind_raw_call);
	tcase_add_test(tc, gomaxprocs_resize);
	tcase_add_test(tc, idle_program_sleeps);
	tcase_add_test(tc, pingpong_does_not_starve);
	suite_add_tcase(s, tc);

	tc = tcase_create("channels");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, chan_rendezvous, 0, 2);
	tcase_add_loop_test(tc, chan_buffered_fifo, 0, 2);
	tcase_add_test(tc, chan_close_wakes_all);
	tcase_add_test(tc, select_readiness);
	tcase_add_test(tc, select_fairness);
	tcase_add_loop_test(tc, select_blocking, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("timers_sync");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, timers_in_order);
	tcase_add_test(tc, timers_afterfunc);
	tcase_add_test(tc, mutex_waitgroup_contention);
	suite_add_tcase(s, tc);

	tc = tcase_create("deaths");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dies_send_on_closed);
	tcase_add_test(tc, dies_close_of_closed);
	tcase_add_test(tc, dies_close_of_nil);
	tcase_add_test(tc, dies_negative_waitgroup);
	tcase_add_test(tc, dies_unlock_of_unlocked);
	tcase_add_test(tc, dies_deadlock);
	tcase_add_test(tc, dies_main_goexit);
	tcase_add_test(tc, dies_stack_overflow_guard);
	tcase_add_test(tc, dies_stack_overflow_canary);
	tcase_add_test(tc, bad_gomaxprocs_env);
	tcase_add_test(tc, sigquit_dumps_goroutines);
	tcase_add_test(tc, schedtrace_lines);
	suite_add_tcase(s, tc);

	/* Regressions from trying gort as a user and as an adversary would. */
	tc = tcase_create("reliability");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, timer_concurrent_reset, 0, 2);
	tcase_add_test(tc, timer_stop_then_drain);
	tcase_add_test(tc, chan_send_null_is_zero);
	tcase_add_test(tc, chan_zero_size_buffered);
	tcase_add_loop_test(tc, dies_freed_timer, 0, 4);
	tcase_add_loop_test(tc, dies_freed_chan, 0, 6);
	tcase_add_loop_test(tc, foreign_thread_calls_in, 0, 2);
	tcase_add_test(tc, dies_deadlock_after_detach);
	tcase_add_test(tc, dies_attach_on_gort_thread);
	tcase_add_test(tc, dies_detach_without_attach);
	tcase_add_test(tc, dies_waitgroup_reuse);
	tcase_add_loop_test(tc, dies_syscall_misuse, 0, 8);
	tcase_add_test(tc, dump_in_id_order);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(sched_suite());
}
