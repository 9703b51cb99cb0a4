/*
 * test_preempt.c -- preemption (sched/preempt.c): goroutines that make no
 * gort call are preempted, their registers survive it, they resume on
 * their own thread, and the safe-point rule's clauses hold.
 *
 * Nothing here depends on how fast the machine is: a hog runs until it is
 * told to stop (or, so that a broken runtime fails instead of hanging,
 * for 60 s of wall time), and tests assert orders and counts -- "main
 * woke while the hogs still ran" -- never durations.
 */
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "atomic/atomic.h"
#include "testutil.h"

#include "gort.h"

extern volatile uint32_t gort_sched_preempt_why[5];
extern volatile uint32_t gort_sched_preempt_asked, gort_sched_preempt_sent, gort_sched_preempt_done,
	gort_sched_preempt_refused;

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- a timer beside loops that never call gort ---------------------------------- */

static volatile uint32_t stop, hogs_done, woke_before_stop;
static gort_waitgroup hog_wg;

/* Integer, floating-point and vector state live across the whole loop;
 * the result is checked against the same computation with preemption
 * disabled.  Any register a preemption failed to restore shows. */
typedef double v2d __attribute__((vector_size(16)));

struct work { uint64_t a, b, c, d; double x; v2d v; };

/* Consumes w, as far as the compiler knows, so that work whose result
 * nobody reads is not optimised away (and, noinline, is a real call). */
static __attribute__((noinline)) void step(struct work *w, uint64_t i)
{
	__asm__ __volatile__("" : : "r"(w), "r"(i) : "memory");
}

static void compute(struct work *w, uint64_t n)
{
	uint64_t a = w->a, b = w->b, c = w->c, d = w->d;
	double x = w->x;
	v2d v = w->v;
	for (uint64_t i = 0; i < n; i++) {
		a = a * 6364136223846793005u + 1442695040888963407u;
		b ^= a >> 7;
		c += b * 3 + (a & 15);
		d = (d << 1 | d >> 63) ^ c;
		x = x * 0.9999999 + (double)(a & 1023) * 1e-3;
		v = v * (v2d){ 0.999999, 1.000001 } + (v2d){ x * 1e-9, (double)(b & 7) };
	}
	w->a = a, w->b = b, w->c = c, w->d = d, w->x = x, w->v = v;
}

#define CHUNK 1000000ull

static volatile uint32_t bad_registers;
static struct work expect_work;
static uint64_t expect_chunks;

static void hog(void *arg)
{
	(void)arg;
	double t0 = wall();
	struct work w = { 1, 2, 3, 4, 0.5, { 1.0, 2.0 } };
	uint64_t chunks = 0;
	while (!atomic_load32(&stop) && wall() - t0 < 60) {
		compute(&w, CHUNK);
		chunks++;
		if (chunks == expect_chunks &&
		    (w.a != expect_work.a || w.b != expect_work.b || w.c != expect_work.c ||
		     w.d != expect_work.d || w.x != expect_work.x || w.v[0] != expect_work.v[0] ||
		     w.v[1] != expect_work.v[1]))
			atomic_store32(&bad_registers, 1);
	}
	step(&w, chunks);
	atomic_add32(&hogs_done, 1);
	gort_waitgroup_done(&hog_wg);
}

static int timer_main(void *arg)
{
	(void)arg;
	/* the reference: 20 chunks, never preempted */
	gort_preempt_disable();
	expect_work = (struct work){ 1, 2, 3, 4, 0.5, { 1.0, 2.0 } };
	expect_chunks = 20;
	for (uint64_t i = 0; i < expect_chunks; i++)
		compute(&expect_work, CHUNK);
	gort_preempt_enable();

	int n = gort_gomaxprocs(0);
	gort_waitgroup_add(&hog_wg, n);
	for (int i = 0; i < n; i++)
		gort_go(hog, NULL);
	for (int k = 0; k < 5; k++) {
		int64_t t0 = gort_now();
		gort_sleep(20000000);
		ck_assert_int_ge(gort_now() - t0, 20000000);
	}
	woke_before_stop = atomic_load32(&hogs_done) == 0;
	atomic_store32(&stop, 1);
	gort_waitgroup_wait(&hog_wg);
	ck_assert_msg(woke_before_stop, "main slept until the hogs gave up");
	ck_assert_msg(!bad_registers, "a preempted goroutine's registers changed");
	ck_assert_uint_gt(gort_sched_preempt_done, 0);
	return 0;
}

START_TEST(timer_fires_beside_hogs)
{
	SKIP_UNDER_VALGRIND("no asynchronous preemption there");
	RUN(_i == 0 ? 1 : 2, timer_main, NULL);
}
END_TEST

/* --- the thread rule: resumed where interrupted ----------------------------------- */

static volatile uint32_t moved, pin_checks;

static void pinned_hog(void *arg)
{
	(void)arg;
	double t0 = wall();
	while (!atomic_load32(&stop) && wall() - t0 < 60) {
		/* from here to the second gettid nothing calls gort: a
		 * preemption in between must resume on this thread */
		long t = syscall(SYS_gettid);
		struct work w = { 5, 6, 7, 8, 0.25, { 3.0, 4.0 } };
		/* few system calls: a signal that meets one is taken in libc,
		 * and refused (clause 2) */
		compute(&w, 4 * CHUNK);
		step(&w, 0);
		if (syscall(SYS_gettid) != t)
			atomic_store32(&moved, 1);
		atomic_add32(&pin_checks, 1);
	}
	gort_waitgroup_done(&hog_wg);
}

static void yielder(void *arg)
{
	(void)arg;
	while (!atomic_load32(&stop))
		gort_sleep(1000000);   /* keeps other Ms busy and stealing */
	gort_waitgroup_done(&hog_wg);
}

static int pin_main(void *arg)
{
	(void)arg;
	gort_waitgroup_add(&hog_wg, 8);
	for (int i = 0; i < 4; i++) {
		gort_go(pinned_hog, NULL);
		gort_go(yielder, NULL);
	}
	/* enough preemptions to have meant something: fewer under qemu,
	 * whose signals often land in its emulated system calls */
	uint32_t want = SCALE > 1 ? 2 : 20;
	uint32_t before = gort_sched_preempt_done;
	for (int i = 0; i < 6000 && gort_sched_preempt_done - before < want; i++)
		gort_sleep(10000000);
	atomic_store32(&stop, 1);
	gort_waitgroup_wait(&hog_wg);
	ck_assert_msg(gort_sched_preempt_done - before >= want,
		"%u preemptions in 60 s, want %u: %u asked, %u signalled, %u refused (by clause: "
		"%u %u %u %u %u), %u checks", gort_sched_preempt_done - before, want,
		gort_sched_preempt_asked, gort_sched_preempt_sent, gort_sched_preempt_refused,
		gort_sched_preempt_why[0], gort_sched_preempt_why[1], gort_sched_preempt_why[2],
		gort_sched_preempt_why[3], gort_sched_preempt_why[4], pin_checks);
	ck_assert_msg(!moved, "a goroutine preempted mid-loop resumed on another thread");
	return 0;
}

START_TEST(resumes_on_its_thread)
{
	SKIP_UNDER_VALGRIND("no asynchronous preemption there");
	RUN(4, pin_main, NULL);
}
END_TEST

/* --- a goroutine pinned by a preemption is not starved by the next one ------------ */

/* One P, two loops that never call gort, and main blocked on a wait
 * group (no timer, no queue): once one loop is preempted and pinned to
 * its M, the other runs there with nothing queued anywhere.  The pinned
 * one must still get turns -- each loop goes on until both have seen the
 * other run three times, so a starved one keeps the other spinning (until
 * 60 s of wall time, when it gives up and the test fails). */
static volatile uint32_t rounds[2], turns[2];

static void taker(void *arg)
{
	int me = (int)(intptr_t)arg;
	struct work w = { 1, 2, 3, 4, 0.5, { 1.0, 2.0 } };
	double t0 = wall();
	uint32_t seen = atomic_load32(&rounds[1 - me]);
	while ((atomic_load32(&turns[0]) < 3 || atomic_load32(&turns[1]) < 3) && wall() - t0 < 60) {
		compute(&w, CHUNK / 10);
		step(&w, 0);
		atomic_add32(&rounds[me], 1);
		/* the other ran since my last round: at one P, a turn */
		uint32_t o = atomic_load32(&rounds[1 - me]);
		if (o != seen) {
			seen = o;
			atomic_add32(&turns[me], 1);
		}
	}
	gort_waitgroup_done(&hog_wg);
}

static int taking_turns_main(void *arg)
{
	(void)arg;
	gort_waitgroup_add(&hog_wg, 2);
	gort_go(taker, (void *)0);
	gort_go(taker, (void *)1);
	gort_waitgroup_wait(&hog_wg);
	ck_assert_msg(turns[0] >= 3 && turns[1] >= 3,
		"a loop starved: %u and %u turns (%u and %u rounds) in 60 s, %u preemptions", turns[0],
		turns[1], rounds[0], rounds[1], gort_sched_preempt_done);
	return 0;
}

START_TEST(pinned_is_not_starved)
{
	SKIP_UNDER_VALGRIND("no asynchronous preemption there");
	RUN(1, taking_turns_main, NULL);
}
END_TEST

/* And across Ms.  Still one P: taker A is preempted and pinned to M0,
 * and B, running on M0, starts C and enters a system call.  Its P goes to
 * M1, which runs C; B comes back without a P and queues itself; C is
 * preempted for it, pinned to M1, and B and C take turns on M1 -- while A
 * can run only on M0, which has no P.  M0 must get one in turn. */
static volatile uint32_t mrounds[3], mturns[3];
static uint32_t mseen[3][3];   /* each taker's own row */

static int all_turned(void)
{
	for (int i = 0; i < 3; i++)
		if (atomic_load32(&mturns[i]) < 3)
			return 0;
	return 1;
}

static void mtaker(void *arg)
{
	int me = (int)(intptr_t)arg;
	struct work w = { 1, 2, 3, 4, 0.5, { 1.0, 2.0 } };
	double t0 = wall();
	for (int i = 0; i < 3; i++)
		mseen[me][i] = atomic_load32(&mrounds[i]);
	while (!all_turned() && wall() - t0 < 60) {
		compute(&w, CHUNK / 10);
		step(&w, 0);
		atomic_add32(&mrounds[me], 1);
		int turned = 0;
		for (int i = 0; i < 3; i++) {
			uint32_t o = atomic_load32(&mrounds[i]);
			if (i != me && o != mseen[me][i]) {
				mseen[me][i] = o;
				turned = 1;
			}
		}
		if (turned)
			atomic_add32(&mturns[me], 1);
		if (me == 1 && mrounds[0] > 0 && mrounds[2] == 0) {
			/* A ran and was preempted, or we would not run: now */
			gort_go(mtaker, (void *)2);
			gort_syscall_enter();
			struct timespec ts = { 0, 20000000 };
			nanosleep(&ts, NULL);
			gort_syscall_exit();
		}
	}
	gort_waitgroup_done(&hog_wg);
}

static int cross_m_main(void *arg)
{
	(void)arg;
	gort_waitgroup_add(&hog_wg, 3);
	gort_go(mtaker, (void *)1);
	gort_go(mtaker, (void *)0);   /* runs first (runnext) */
	gort_waitgroup_wait(&hog_wg);
	ck_assert_msg(all_turned(), "a loop starved: %u, %u and %u turns (%u, %u, %u rounds) in 60 s, "
		"%u preemptions", mturns[0], mturns[1], mturns[2], mrounds[0], mrounds[1], mrounds[2],
		gort_sched_preempt_done);
	return 0;
}

START_TEST(pinned_elsewhere_is_not_starved)
{
	SKIP_UNDER_VALGRIND("no asynchronous preemption there");
	RUN(1, cross_m_main, NULL);
}
END_TEST

/* --- Go's TestPreemption: a spinner waiting for a goroutine it starves -------- */

static volatile uint32_t flag_b;

static void spinner(void *arg)
{
	(void)arg;
	double t0 = wall();
	while (!atomic_load32(&flag_b) && wall() - t0 < 60)
		;
	gort_waitgroup_done(&hog_wg);
}

static void setter(void *arg)
{
	(void)arg;
	atomic_store32(&flag_b, 1);
	gort_waitgroup_done(&hog_wg);
}

static int spin_main(void *arg)
{
	(void)arg;
	gort_waitgroup_add(&hog_wg, 2);
	gort_go(spinner, NULL);
	gort_yield();               /* the spinner now holds the only P */
	gort_go(setter, NULL);      /* runs only if the spinner is preempted */
	double t0 = wall();
	gort_waitgroup_wait(&hog_wg);
	ck_assert_msg(wall() - t0 < 59, "the spinner was never preempted");
	return 0;
}

START_TEST(spinner_is_preempted)
{
	SKIP_UNDER_VALGRIND("no asynchronous preemption there");
	RUN(1, spin_main, NULL);
}
END_TEST

/* --- a million goroutines from one loop, at one P ------------------------------- */

static void quick(void *arg)
{
	(void)arg;
}

static int spawn_main(void *arg)
{
	(void)arg;
	int n = 1000000 / SCALE;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long base_kb = ru.ru_maxrss;   /* the program (and, emulated, qemu) before any */
	for (int i = 0; i < n; i++)
		gort_go(quick, NULL);
	getrusage(RUSAGE_SELF, &ru);
	/* Without preemption all of them are alive at once: about 4.3 KiB
	 * each, 4 GiB for a million.  Preempted at gort_go, the spawner lets
	 * them run: a quarter of that is already far off (natively the
	 * peak is a twentieth). */
	long limit_kb = base_kb + (long)n * 11 / 10;
	printf("INFO: %d goroutines spawned in a loop: peak RSS %ld KiB\n", n, ru.ru_maxrss);
	ck_assert_int_lt(ru.ru_maxrss, limit_kb);
	return 0;
}

START_TEST(spawn_loop_memory)
{
	SKIP_UNDER_VALGRIND("valgrind's own memory is in the RSS");
	RUN(1, spawn_main, NULL);
}
END_TEST

/* --- gort_preempt_disable: clause 4 --------------------------------------------- */

static volatile uint32_t region_done;
static uint32_t done_before, done_after;

static void disabled_hog(void *arg)
{
	(void)arg;
	gort_preempt_disable();
	done_before = gort_sched_preempt_done;
	double t0 = wall();
	struct work w = { 1, 2, 3, 4, 0.5, { 1.0, 2.0 } };
	/* long enough for sysmon to ask many times */
	uint32_t asked0 = gort_sched_preempt_asked;
	while (gort_sched_preempt_asked - asked0 < 5 && wall() - t0 < 60)
		compute(&w, CHUNK / 10);
	ck_assert_uint_ge(gort_sched_preempt_asked - asked0, 5);
	done_after = gort_sched_preempt_done;
	gort_preempt_enable();
	step(&w, 0);
	atomic_store32(&region_done, 1);
	gort_waitgroup_done(&hog_wg);
}

/* Somebody for the hog to make wait: sysmon preempts only for others. */
static void competitor(void *arg)
{
	(void)arg;
	while (!atomic_load32(&region_done))
		gort_yield();
	gort_waitgroup_done(&hog_wg);
}

static int disable_main(void *arg)
{
	(void)arg;
	gort_waitgroup_add(&hog_wg, 2);
	gort_go(disabled_hog, NULL);
	gort_go(competitor, NULL);
	gort_waitgroup_wait(&hog_wg);
	ck_assert_uint_eq(done_after, done_before);
	return 0;
}

START_TEST(disable_holds_off_preemption)
{
	SKIP_UNDER_VALGRIND("no asynchronous preemption there");
	RUN(1, disable_main, NULL);
}
END_TEST

static int enable_unbalanced(void *a)
{
	(void)a;
	gort_preempt_enable();
	return 0;
}

START_TEST(dies_enable_without_disable)
{
	struct child c;
	expect_death_in(enable_unbalanced, NULL, 1, &c, (const char *const[]){
		"panic: gort_preempt_enable without gort_preempt_disable", NULL });
}
END_TEST

/* --- GORTDEBUG=asyncpreemptoff=1 -------------------------------------------------- */

static volatile uint32_t off_hog_done;
static uint64_t off_chunks;

/* A hog with no system call in its loop: a thread in the kernel takes a
 * signal on the way out, in libc, where preemption is refused (clause 2)
 * -- and on a busy machine, where sysmon and the hog share a CPU, that is
 * where it is interrupted nearly every time. */
static void bounded_hog(void *arg)
{
	(void)arg;
	struct work w = { 1, 2, 3, 4, 0.5, { 1.0, 2.0 } };
	for (uint64_t i = 0; i < off_chunks; i++)
		compute(&w, CHUNK / 10);
	step(&w, 0);
	atomic_store32(&off_hog_done, 1);
}

static int off_main(void *a)
{
	(void)a;
	/* about 1 s of work, timed here, unpreempted */
	gort_preempt_disable();
	struct work w = { 1, 2, 3, 4, 0.5, { 1.0, 2.0 } };
	int64_t t0 = gort_now();
	for (int i = 0; i < 20; i++)
		compute(&w, CHUNK / 10);
	step(&w, 0);
	int64_t per = (gort_now() - t0) / 20;
	gort_preempt_enable();
	off_chunks = (uint64_t)(1000000000 / (per > 0 ? per : 1));
	gort_go(bounded_hog, NULL);
	gort_yield();
	gort_sleep(1000000);
	/* without the signal, the hog kept the only P to its end */
	printf("%s\n", atomic_load32(&off_hog_done) ? "hog finished first" : "main woke first");
	printf("preemptions: %u asked, %u done, %u refused (%u %u %u %u %u)\n", gort_sched_preempt_sent,
		gort_sched_preempt_done, gort_sched_preempt_refused, gort_sched_preempt_why[0],
		gort_sched_preempt_why[1], gort_sched_preempt_why[2], gort_sched_preempt_why[3],
		gort_sched_preempt_why[4]);
	return 0;
}

static void off_child(void *env)
{
	if (env)
		putenv(env);
	gort_runtime_debug_init();
	exit(run_main(1, off_main, NULL));
}

START_TEST(asyncpreemptoff_knob)
{
	SKIP_UNDER_VALGRIND("no asynchronous preemption there to switch off");
	struct child c;
	run_child(off_child, "GORTDEBUG=asyncpreemptoff=1", &c, 60);
	ck_assert_exit_status(&c, 0);
	ck_assert_output_has(&c, "hog finished first\n");
	run_child(off_child, NULL, &c, 60);
	ck_assert_exit_status(&c, 0);
	ck_assert_output_has(&c, "main woke first\n");
}
END_TEST

/* --- the SIGQUIT dump shows where a preempted goroutine was ---------------------- */

static __attribute__((noinline)) uint64_t interrupted_here(void)
{
	struct work w = { 1, 2, 3, 4, 0.5, { 1.0, 2.0 } };
	for (uint64_t i = 0;; i++) {
		compute(&w, CHUNK);
		step(&w, i);   /* a call: this function keeps a frame */
		if (w.a == 0)
			return w.b;
	}
}

static void dump_hog(void *a)
{
	(void)a;
	uint64_t r = interrupted_here();
	step(NULL, r);   /* no tail call: dump_hog keeps its frame */
}

static int dump_main(void *a)
{
	(void)a;
	gort_go(dump_hog, NULL);
	uint32_t before = gort_sched_preempt_done;
	while (gort_sched_preempt_done == before)
		gort_sleep(1000000);
	/* the hog is preempted at least once: it is runnable, not running,
	 * now and then; dump while it is */
	raise(SIGQUIT);   /* to this thread, now: main runs, the hog waits, preempted */
	for (;;)
		gort_sleep(1000000);
	return 0;
}

START_TEST(dump_shows_interrupted_frame)
{
	SKIP_UNDER_VALGRIND("no asynchronous preemption there");
	struct child c;
	/* one P: when main runs, the hog is preempted -- and its frames are
	 * on its stack for the dump */
	expect_death_in(dump_main, NULL, 1, &c, (const char *const[]){ "SIGQUIT: quit",
		"goroutine 2 [runnable]:\n", "gort_sched_asyncpreempt()", "interrupted_here", NULL });
}
END_TEST

static Suite *preempt_suite(void)
{
	Suite *s = suite_create("preempt");
	TCase *tc = tcase_create("preempt");
	tcase_set_timeout(tc, 180);
	tcase_add_loop_test(tc, timer_fires_beside_hogs, 0, 2);
	tcase_add_test(tc, resumes_on_its_thread);
	tcase_add_test(tc, pinned_is_not_starved);
	tcase_add_test(tc, pinned_elsewhere_is_not_starved);
	tcase_add_test(tc, spinner_is_preempted);
	tcase_add_test(tc, spawn_loop_memory);
	tcase_add_test(tc, disable_holds_off_preemption);
	tcase_add_test(tc, dies_enable_without_disable);
	tcase_add_test(tc, asyncpreemptoff_knob);
	tcase_add_test(tc, dump_shows_interrupted_frame);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(preempt_suite());
}
