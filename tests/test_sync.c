/*
 * test_sync.c -- package sync's reader/writer lock and condition variable
 * (sched/rwmutex.c, sched/cond.c): exclusion, concurrent readers, writer
 * preference, the try forms, their waits in the block and mutex profiles;
 * exact wake-up counts and order, no lost wake-up (signals, and a barrier
 * on broadcast), the relock; and every way their misuse kills a program.
 *
 * Nothing here waits for a time in which something usually happens.  A
 * test that needs a goroutine blocked waits until its G says so (status
 * Gwaiting, and the wait reason of the call it is in); AWAIT gives up,
 * saying what it waited for, only after a patience no loaded machine
 * reaches.  Tests of dying programs run them as children (run_child) and
 * assert the exit status and what they printed.
 */
#include <time.h>

#include "atomic/atomic.h"
#include "prof/prof.h"
#include "runtime/runtime.h"
#include "sched/sched.h"
#include "testutil.h"

#include "gort.h"

#ifdef GORT_TEST_EMULATED
#define PATIENCE_NS (120 * 1000000000LL)
#else
#define PATIENCE_NS (30 * 1000000000LL)
#endif

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Poll until cond holds, yielding (then sleeping 100 us between polls,
 * not to hold a CPU of a loaded machine); fail with the message after
 * PATIENCE_NS. */
#define AWAIT(cond, ...) do { \
	int64_t t0_ = now_ns(); \
	for (int n_ = 0; !(cond); n_++) { \
		if (now_ns() - t0_ > PATIENCE_NS) \
			ck_abort_msg("gave up waiting for " __VA_ARGS__); \
		if (n_ < 1000) \
			gort_yield(); \
		else \
			gort_sleep(100000); \
	} \
} while (0)

/* Goroutines that finished, for a main that waits for them with AWAIT
 * (a WaitGroup's wait would hang on broken code without saying what). */
struct tally {
	volatile uint32_t n;   /* atomic */
};
static void tally_done(struct tally *t)
{
	atomic_add32(&t->n, 1);
}
#define TALLY_WAIT(t, want, what) AWAIT(atomic_load32(&(t)->n) >= (uint32_t)(want), \
	"%s: %u of %u goroutines finished", (what), atomic_load32(&(t)->n), (uint32_t)(want))

/* The same in a child of run_child, whose output the test reads: say
 * what hung and exit 3 (a death test wants 2). */
#define AWAIT_CHILD(cond, what) do { \
	int64_t t0_ = now_ns(); \
	while (!(cond)) { \
		if (now_ns() - t0_ > PATIENCE_NS) { \
			printf("AWAIT: %s never happened\n", (what)); \
			fflush(stdout); \
			_exit(3); \
		} \
		gort_yield(); \
	} \
} while (0)

/* A goroutine's G, published by the goroutine itself. */
struct slot {
	struct g *volatile g;
};

static void publish(struct slot *s)
{
	atomic_storep((void *volatile *)&s->g, getg());
}

/* Is the goroutine in s parked, and for this reason? */
static int parked(struct slot *s, enum waitreason why)
{
	struct g *gp = atomic_loadp((void *const volatile *)&s->g);
	return gp && atomic_loadacq32(&gp->status) == Gwaiting && gp->waitreason == why;
}

/* --- RWMutex: exclusion -------------------------------------------------------
 * Writers increment a plain counter with a yield between the load and the
 * store, so that two writers inside at once lose an update; readers read
 * it twice across a yield and see no change.  Both count who is inside:
 * a writer must be alone, a reader among readers only.  Some of each take
 * the lock with the try forms. */

#define NWRITERS 4
#define NREADERS 8
#define XROUNDS (2000 / SCALE)

static gort_rwmutex xrw;
static volatile uint32_t writers_in, readers_in, violations, max_readers_in;
static uint64_t shared_counter;   /* under xrw */
static struct tally xwg;

static void note_max_readers(uint32_t n)
{
	uint32_t m;
	while ((m = atomic_load32(&max_readers_in)) < n && !atomic_cas32(&max_readers_in, m, n))
		;
}

static void xwriter(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < XROUNDS; i++) {
		if ((i + id) % 4 == 0) {
			while (!gort_rwmutex_trylock(&xrw))
				gort_yield();
		} else {
			gort_rwmutex_lock(&xrw);
		}
		if (atomic_add32(&writers_in, 1) != 1 || atomic_load32(&readers_in) != 0)
			atomic_add32(&violations, 1);
		uint64_t v = shared_counter;
		gort_yield();
		shared_counter = v + 1;
		atomic_add32(&writers_in, -1);
		gort_rwmutex_unlock(&xrw);
	}
	tally_done(&xwg);
}

static void xreader(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < XROUNDS; i++) {
		if ((i + id) % 3 == 0) {
			while (!gort_rwmutex_tryrlock(&xrw))
				gort_yield();
		} else {
			gort_rwmutex_rlock(&xrw);
		}
		note_max_readers(atomic_add32(&readers_in, 1));
		if (atomic_load32(&writers_in) != 0)
			atomic_add32(&violations, 1);
		uint64_t v = *(volatile uint64_t *)&shared_counter;
		gort_yield();
		if (*(volatile uint64_t *)&shared_counter != v)
			atomic_add32(&violations, 1);
		atomic_add32(&readers_in, -1);
		gort_rwmutex_runlock(&xrw);
	}
	tally_done(&xwg);
}

static int exclusion_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < NREADERS; i++) {
		gort_go(xreader, (void *)(intptr_t)i);
		if (i < NWRITERS)
			gort_go(xwriter, (void *)(intptr_t)i);
	}
	AWAIT(atomic_load32(&xwg.n) == NWRITERS + NREADERS, "readers and writers: %u of %d finished "
		"(writers inside %u, readers inside %u, %u exclusions broken so far)", atomic_load32(&xwg.n),
		NWRITERS + NREADERS, atomic_load32(&writers_in), atomic_load32(&readers_in),
		atomic_load32(&violations));
	ck_assert_uint_eq(atomic_load32(&violations), 0);
	ck_assert_uint_eq(shared_counter, (uint64_t)NWRITERS * XROUNDS);
	ck_assert_uint_eq(atomic_load32(&writers_in), 0);
	ck_assert_uint_eq(atomic_load32(&readers_in), 0);
	/* left unlocked: both try forms succeed */
	ck_assert_int_eq(gort_rwmutex_trylock(&xrw), 1);
	gort_rwmutex_unlock(&xrw);
	ck_assert_int_eq(gort_rwmutex_tryrlock(&xrw), 1);
	gort_rwmutex_runlock(&xrw);
	return 0;
}

START_TEST(rw_exclusion)
{
	RUN(_i == 0 ? 2 : 4, exclusion_main, NULL);
}
END_TEST

/* --- RWMutex: readers share it ---------------------------------------------------
 * NCONC readers take the read lock and stay inside until all NCONC are:
 * the count reaching NCONC proves they held it at once.  Meanwhile a
 * further reader gets in at once (tryrlock) and a writer does not. */

#define NCONC 8
static gort_rwmutex crw;
static volatile uint32_t conc_in, conc_release;
static struct tally cwg;

static void concreader(void *arg)
{
	(void)arg;
	gort_rwmutex_rlock(&crw);
	atomic_add32(&conc_in, 1);
	AWAIT(atomic_load32(&conc_release), "the release of the readers");
	atomic_add32(&conc_in, -1);
	gort_rwmutex_runlock(&crw);
	tally_done(&cwg);
}

static int concurrent_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < NCONC; i++)
		gort_go(concreader, NULL);
	AWAIT(atomic_load32(&conc_in) == NCONC, "all %d readers inside at once (%u are)", NCONC,
		atomic_load32(&conc_in));
	ck_assert_int_eq(gort_rwmutex_tryrlock(&crw), 1);
	gort_rwmutex_runlock(&crw);
	ck_assert_int_eq(gort_rwmutex_trylock(&crw), 0);
	atomic_store32(&conc_release, 1);
	TALLY_WAIT(&cwg, NCONC, "the readers, released");
	ck_assert_uint_eq(atomic_load32(&conc_in), 0);
	ck_assert_int_eq(gort_rwmutex_trylock(&crw), 1);
	gort_rwmutex_unlock(&crw);
	return 0;
}

START_TEST(rw_readers_concurrent)
{
	RUN(_i == 0 ? 1 : 2, concurrent_main, NULL);
}
END_TEST

/* --- RWMutex: a waiting writer goes before later readers ----------------------------
 * main holds a read lock.  A writer comes and waits (parked in
 * gort_rwmutex_lock); then a second reader comes, and must wait too,
 * though only readers hold the lock.  When main's read lock goes, the
 * writer has its turn first, and the reader gets in only after the
 * writer's unlock: the log says "WwR" (writer in, writer out, reader in). */

static gort_rwmutex prw;
static struct slot pwriter_slot, preader_slot;
static gort_mutex logmu;
static char plog[8];   /* under logmu */
static int nplog;
static volatile uint32_t preader_in;
static struct tally pwg;

static void logc(char ch)
{
	gort_mutex_lock(&logmu);
	if (nplog < (int)sizeof plog - 1)
		plog[nplog++] = ch;
	gort_mutex_unlock(&logmu);
}

static void pwriter(void *arg)
{
	(void)arg;
	publish(&pwriter_slot);
	gort_rwmutex_lock(&prw);
	logc('W');
	/* a few chances for a reader that got in wrongly to show itself */
	for (int i = 0; i < 10; i++)
		gort_yield();
	logc('w');
	gort_rwmutex_unlock(&prw);
	tally_done(&pwg);
}

static void preader(void *arg)
{
	(void)arg;
	publish(&preader_slot);
	gort_rwmutex_rlock(&prw);
	atomic_store32(&preader_in, 1);
	logc('R');
	gort_rwmutex_runlock(&prw);
	tally_done(&pwg);
}

static int preference_main(void *arg)
{
	(void)arg;
	gort_rwmutex_rlock(&prw);
	gort_go(pwriter, NULL);
	AWAIT(parked(&pwriter_slot, wrSemacquire), "the writer parked in gort_rwmutex_lock");
	/* the writer waits: nobody else gets in, not even with try */
	ck_assert_int_eq(gort_rwmutex_tryrlock(&prw), 0);
	ck_assert_int_eq(gort_rwmutex_trylock(&prw), 0);
	gort_go(preader, NULL);
	AWAIT(parked(&preader_slot, wrSemacquire) || atomic_load32(&preader_in),
		"the new reader parked in gort_rwmutex_rlock");
	ck_assert_msg(!atomic_load32(&preader_in),
		"a new reader got in while a writer waited");
	ck_assert_int_eq(nplog, 0);
	gort_rwmutex_runlock(&prw);
	TALLY_WAIT(&pwg, 2, "the writer, then the reader, after main's runlock");
	plog[nplog] = '\0';
	ck_assert_str_eq(plog, "WwR");
	return 0;
}

START_TEST(rw_writer_preference)
{
	RUN(_i == 0 ? 1 : 2, preference_main, NULL);
}
END_TEST

/* --- RWMutex: the try forms, and unlocking in another goroutine ------------------- */

static gort_rwmutex trw;
static struct tally twg;

static void unlock_elsewhere(void *arg)
{
	(void)arg;
	gort_rwmutex_unlock(&trw);
	tally_done(&twg);
}

static void runlock_elsewhere(void *arg)
{
	(void)arg;
	gort_rwmutex_runlock(&trw);
	tally_done(&twg);
}

static int try_main(void *arg)
{
	(void)arg;
	/* readers: any number, no writer */
	ck_assert_int_eq(gort_rwmutex_tryrlock(&trw), 1);
	ck_assert_int_eq(gort_rwmutex_tryrlock(&trw), 1);
	ck_assert_int_eq(gort_rwmutex_trylock(&trw), 0);
	gort_rwmutex_runlock(&trw);
	ck_assert_int_eq(gort_rwmutex_trylock(&trw), 0);
	gort_rwmutex_runlock(&trw);
	/* a writer: nobody else */
	ck_assert_int_eq(gort_rwmutex_trylock(&trw), 1);
	ck_assert_int_eq(gort_rwmutex_trylock(&trw), 0);
	ck_assert_int_eq(gort_rwmutex_tryrlock(&trw), 0);
	gort_rwmutex_unlock(&trw);
	/* a failed trylock left nothing held: the blocking forms go through */
	gort_rwmutex_rlock(&trw);
	ck_assert_int_eq(gort_rwmutex_trylock(&trw), 0);
	gort_rwmutex_runlock(&trw);
	gort_rwmutex_lock(&trw);
	gort_rwmutex_unlock(&trw);
	ck_assert_uint_eq(atomic_load32(&trw.readers), 0);
	ck_assert_uint_eq(atomic_load32(&trw.w.state), 0);
	/* no owner: locked here, unlocked by another goroutine */
	gort_rwmutex_lock(&trw);
	gort_go(unlock_elsewhere, NULL);
	TALLY_WAIT(&twg, 1, "an unlock in another goroutine");
	ck_assert_int_eq(gort_rwmutex_tryrlock(&trw), 1);
	gort_go(runlock_elsewhere, NULL);
	TALLY_WAIT(&twg, 2, "a runlock in another goroutine");
	ck_assert_int_eq(gort_rwmutex_trylock(&trw), 1);
	gort_rwmutex_unlock(&trw);
	return 0;
}

START_TEST(rw_try)
{
	RUN(1, try_main, NULL);
}
END_TEST

/* --- RWMutex: its waits in the block and mutex profiles ----------------------------
 * A reader waits behind a writer, then a writer waits for a reader: each
 * wait is a block event of the goroutine that waited (in the function
 * that called gort_rwmutex_rlock or _lock) and a mutex event of the one
 * that let it go (in the function that called _unlock or _runlock), as
 * Go's RWMutex waits are. */

static gort_rwmutex frw;
static struct slot fwaiter_slot;
static struct tally fwg;

static __attribute__((noinline)) void fblocked_reader(void *arg)
{
	(void)arg;
	publish(&fwaiter_slot);
	gort_rwmutex_rlock(&frw);
	gort_rwmutex_runlock(&frw);
	tally_done(&fwg);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void fblocked_writer(void *arg)
{
	(void)arg;
	publish(&fwaiter_slot);
	gort_rwmutex_lock(&frw);
	gort_rwmutex_unlock(&frw);
	tally_done(&fwg);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void fwriter_releases(void)
{
	gort_rwmutex_lock(&frw);
	gort_go(fblocked_reader, NULL);
	AWAIT(parked(&fwaiter_slot, wrSemacquire), "the reader parked behind the writer");
	gort_sleep(1000000);
	gort_rwmutex_unlock(&frw);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void freader_releases(void)
{
	gort_rwmutex_rlock(&frw);
	gort_go(fblocked_writer, NULL);
	AWAIT(parked(&fwaiter_slot, wrSemacquire), "the writer parked behind the reader");
	gort_sleep(1000000);
	gort_rwmutex_runlock(&frw);
	__asm__ __volatile__("" ::: "memory");
}

static void profsum(int mutex, void *fn, double *n, int64_t *d)
{
	const struct gort_func *f = gort_runtime_findfunc((uintptr_t)fn);
	ck_assert_ptr_nonnull(f);
	gort_prof_blockprof_sum(mutex, f->entry, f->end, n, d);
}

static int profiles_main(void *arg)
{
	(void)arg;
	gort_prof_set_block_rate(1);
	gort_prof_set_mutex_fraction(1);
	fwriter_releases();
	TALLY_WAIT(&fwg, 1, "the reader behind the writer");
	atomic_storep((void *volatile *)&fwaiter_slot.g, NULL);
	freader_releases();
	TALLY_WAIT(&fwg, 2, "the writer behind the reader");
	double n;
	int64_t d;
	profsum(0, fblocked_reader, &n, &d);
	ck_assert_msg(n == 1, "block profile: the reader behind the writer has %.1f waits", n);
	ck_assert_int_ge(d, 1000000);
	profsum(0, fblocked_writer, &n, &d);
	ck_assert_msg(n == 1, "block profile: the writer behind the reader has %.1f waits", n);
	ck_assert_int_ge(d, 1000000);
	profsum(1, fwriter_releases, &n, &d);
	ck_assert_msg(n == 1, "mutex profile: the writer's unlock has %.1f contentions", n);
	ck_assert_int_ge(d, 1000000);
	profsum(1, freader_releases, &n, &d);
	ck_assert_msg(n == 1, "mutex profile: the reader's runlock has %.1f contentions", n);
	ck_assert_int_ge(d, 1000000);
	return 0;
}

START_TEST(rw_in_profiles)
{
	RUN(1, profiles_main, NULL);
}
END_TEST

/* --- RWMutex: misuse and the recursion hazard ------------------------------------------ */

static int misuse_case;

static int rw_misuse(void *arg)
{
	(void)arg;
	gort_rwmutex rw = { 0 };
	switch (misuse_case) {
	case 0: gort_rwmutex_runlock(&rw); break;                          /* never locked */
	case 1: gort_rwmutex_lock(&rw); gort_rwmutex_runlock(&rw); break;  /* write-locked */
	case 2: gort_rwmutex_unlock(&rw); break;                           /* never locked */
	case 3: gort_rwmutex_rlock(&rw); gort_rwmutex_unlock(&rw); break;  /* read-locked */
	}
	return 0;
}

START_TEST(dies_rwmutex_misuse)
{
	static const char *const msgs[] = {
		"fatal error: sync: RUnlock of unlocked RWMutex\n",
		"fatal error: sync: RUnlock of unlocked RWMutex\n",
		"fatal error: sync: Unlock of unlocked RWMutex\n",
		"fatal error: sync: Unlock of unlocked RWMutex\n",
	};
	misuse_case = _i;
	struct child c;
	expect_death_in(rw_misuse, NULL, 1, &c, (const char *const[]){ msgs[_i],
		"goroutine 1 [running]:\n", "rw_misuse()", NULL });
}
END_TEST

/* main read-locks, a writer waits for it, main read-locks again: the
 * second rlock waits for the writer, which waits for the first. */
static gort_rwmutex rrw;
static struct slot rwriter_slot;

static void rwriter(void *arg)
{
	(void)arg;
	publish(&rwriter_slot);
	gort_rwmutex_lock(&rrw);
	gort_rwmutex_unlock(&rrw);
}

static int recursive_rlock(void *arg)
{
	(void)arg;
	gort_rwmutex_rlock(&rrw);
	gort_go(rwriter, NULL);
	AWAIT_CHILD(parked(&rwriter_slot, wrSemacquire), "the writer parked in gort_rwmutex_lock");
	printf("writer waits; read-locking again\n");
	fflush(stdout);
	gort_rwmutex_rlock(&rrw);
	printf("the second rlock returned\n");
	return 0;
}

START_TEST(dies_recursive_rlock)
{
	struct child c;
	expect_death_in(recursive_rlock, NULL, _i == 0 ? 1 : 2, &c, (const char *const[]){
		"writer waits; read-locking again\n",
		"fatal error: all goroutines are asleep - deadlock!\n",
		"goroutine 1 [semacquire]:\n", "gort_rwmutex_rlock", "recursive_rlock()",
		"goroutine 2 [semacquire]:\n", "gort_rwmutex_lock", "rwriter()", NULL });
	ck_assert_msg(!strstr(c.out, "the second rlock returned"), "%s", c.out);
}
END_TEST

/* --- Cond: exact wake-up counts ------------------------------------------------------
 * NCW goroutines wait, each once, with no condition to loop on (a gort
 * Cond has no spurious wake-ups): each one woken counts itself and ends.
 * Signals and broadcasts before anyone waits are not kept.  Then one
 * signal wakes exactly one, k signals exactly k (each the goroutine that
 * has waited longest), and a broadcast all of the rest; goroutines that
 * wait after it stay parked until the next. */

#define NCW 8
#define NLATE 3
static gort_cond cc;
static gort_mutex cmu;
static struct slot cw_slots[NCW + NLATE];
static volatile uint32_t cwoken;
static struct tally ccwg;
/* who began to wait in which order (a ticket is taken under cmu), and
 * who was woken in which order; under cmu */
static int arrival[NCW + NLATE], narrival, wakeorder[NCW + NLATE], nwakeorder;

static void cwaiter(void *arg)
{
	struct slot *s = arg;
	gort_mutex_lock(&cmu);
	publish(s);
	arrival[narrival++] = (int)(s - cw_slots);
	gort_cond_wait(&cc, &cmu);
	wakeorder[nwakeorder++] = (int)(s - cw_slots);
	atomic_add32(&cwoken, 1);
	gort_mutex_unlock(&cmu);
	tally_done(&ccwg);
}

static int nparked(int from, int to)
{
	int n = 0;
	for (int i = from; i < to; i++)
		n += parked(&cw_slots[i], wrSyncCondWait);
	return n;
}

/* Wait for `woken` wake-ups, then check that exactly `left` still wait. */
static void expect_woken(uint32_t woken, int left, const char *after)
{
	AWAIT(atomic_load32(&cwoken) >= woken, "%u wake-ups after %s (%u so far)", woken, after,
		atomic_load32(&cwoken));
	/* those woken end; any woken more would no longer be parked */
	ck_assert_msg(atomic_load32(&cwoken) == woken, "%u woken after %s, want %u",
		atomic_load32(&cwoken), after, woken);
	ck_assert_msg(nparked(0, NCW) == left, "%d still waiting after %s, want %d",
		nparked(0, NCW), after, left);
}

static int counts_main(void *arg)
{
	(void)arg;
	/* nobody waits: nothing is kept for later */
	gort_cond_signal(&cc);
	gort_cond_signal(&cc);
	gort_cond_broadcast(&cc);
	for (int i = 0; i < NCW; i++)
		gort_go(cwaiter, &cw_slots[i]);
	AWAIT(nparked(0, NCW) == NCW, "all %d waiters parked in gort_cond_wait (%d are)", NCW,
		nparked(0, NCW));
	ck_assert_uint_eq(atomic_load32(&cwoken), 0);

	gort_cond_signal(&cc);
	expect_woken(1, NCW - 1, "one signal");
	for (int k = 0; k < 3; k++)
		gort_cond_signal(&cc);
	expect_woken(4, NCW - 4, "three more signals");
	/* the signaller may hold the mutex, or not */
	gort_mutex_lock(&cmu);
	gort_cond_signal(&cc);
	gort_mutex_unlock(&cmu);
	expect_woken(5, NCW - 5, "a signal under the mutex");
	/* Each signal woke the goroutine that had waited longest.  (Those
	 * woken together relock in any order: the burst's are compared as a
	 * set.) */
	gort_mutex_lock(&cmu);
	ck_assert_msg(wakeorder[0] == arrival[0], "the first signal woke waiter %d, want %d (the first "
		"to wait)", wakeorder[0], arrival[0]);
	for (int i = 1; i < 4; i++) {
		int found = 0;
		for (int j = 1; j < 4; j++)
			found += wakeorder[j] == arrival[i];
		ck_assert_msg(found == 1, "the three signals did not wake waiter %d, the %d%s to wait",
			arrival[i], i + 1, i == 1 ? "nd" : i == 2 ? "rd" : "th");
	}
	ck_assert_msg(wakeorder[4] == arrival[4], "the fifth signal woke waiter %d, want %d (the fifth "
		"to wait)", wakeorder[4], arrival[4]);
	gort_mutex_unlock(&cmu);
	gort_cond_broadcast(&cc);
	expect_woken(NCW, 0, "the broadcast");

	/* late comers: the broadcast before them does not wake them */
	for (int i = NCW; i < NCW + NLATE; i++)
		gort_go(cwaiter, &cw_slots[i]);
	AWAIT(nparked(NCW, NCW + NLATE) == NLATE, "the %d late waiters parked", NLATE);
	ck_assert_uint_eq(atomic_load32(&cwoken), NCW);
	gort_cond_broadcast(&cc);
	TALLY_WAIT(&ccwg, NCW + NLATE, "every waiter, after the second broadcast");
	ck_assert_uint_eq(atomic_load32(&cwoken), NCW + NLATE);
	/* every ticket claimed: nothing waits, and a signal finds nobody */
	ck_assert_uint_eq(atomic_load32(&cc.wait), atomic_load32(&cc.notify));
	ck_assert_ptr_null(cc.head);
	return 0;
}

START_TEST(cond_wake_counts)
{
	RUN(_i == 0 ? 1 : 2, counts_main, NULL);
}
END_TEST

/* --- Cond: no lost wake-up ------------------------------------------------------------
 * Producers and consumers through a one-slot buffer guarded by a mutex,
 * with a Cond for each direction and only signals: a signal lost between
 * a waiter's unlock and its park leaves both sides waiting for good,
 * which the main goroutine reports (it polls the progress rather than
 * waiting itself).  Every value is delivered exactly once. */

#define NPROD 3
#define NCONS 3
#define MAXPER 20000
#define PER ((uint32_t)(MAXPER / SCALE))
static gort_mutex qmu;
static gort_cond notempty, notfull;
static int qfull;                   /* under qmu */
static uint32_t qval;               /* under qmu */
static volatile uint32_t consumed;
static volatile uint64_t consumed_sum __attribute__((aligned(8)));
static uint32_t seen[NPROD * MAXPER];   /* under qmu */
static volatile uint32_t pc_done;

/* Wait until `ndone` goroutines are done, polling *progress: a lost
 * wake-up stops it for good, and that is reported. */
static void await_progress(volatile uint32_t *progress, uint32_t total, volatile uint32_t *done,
	uint32_t ndone, const char *what)
{
	uint32_t last = 0;
	int64_t since = now_ns();
	while (atomic_load32(done) < ndone) {
		uint32_t c = atomic_load32(progress);
		if (c != last) {
			last = c;
			since = now_ns();
		} else if (now_ns() - since > PATIENCE_NS) {
			ck_abort_msg("no progress at %u of %u %s (%u of %u goroutines done): a lost wake-up",
				c, total, what, atomic_load32(done), ndone);
		}
		gort_sleep(1000000);
	}
}

static void producer(void *arg)
{
	uint32_t base = (uint32_t)(uintptr_t)arg * PER;
	for (uint32_t i = 0; i < PER; i++) {
		gort_mutex_lock(&qmu);
		while (qfull)
			gort_cond_wait(&notfull, &qmu);
		qval = base + i;
		qfull = 1;
		gort_cond_signal(&notempty);
		gort_mutex_unlock(&qmu);
	}
	atomic_add32(&pc_done, 1);
}

static void consumer(void *arg)
{
	uint32_t n = (uint32_t)(uintptr_t)arg;
	for (uint32_t i = 0; i < n; i++) {
		gort_mutex_lock(&qmu);
		while (!qfull)
			gort_cond_wait(&notempty, &qmu);
		uint32_t v = qval;
		qfull = 0;
		seen[v]++;
		gort_mutex_unlock(&qmu);
		/* outside the mutex: the signal may come from anywhere */
		gort_cond_signal(&notfull);
		atomic_add32(&consumed, 1);
		atomic_add64(&consumed_sum, v);
	}
	atomic_add32(&pc_done, 1);
}

static int lost_main(void *arg)
{
	(void)arg;
	const uint32_t total = NPROD * PER;
	for (int i = 0; i < NCONS; i++)
		gort_go(consumer, (void *)(uintptr_t)(total / NCONS + (i == 0 ? total % NCONS : 0)));
	for (int i = 0; i < NPROD; i++)
		gort_go(producer, (void *)(uintptr_t)i);
	await_progress(&consumed, total, &pc_done, NPROD + NCONS, "values consumed");
	ck_assert_uint_eq(atomic_load32(&consumed), total);
	ck_assert_uint_eq(atomic_load64(&consumed_sum), (uint64_t)total * (total - 1) / 2);
	for (uint32_t v = 0; v < total; v++)
		ck_assert_msg(seen[v] == 1, "value %u consumed %u times", v, seen[v]);
	return 0;
}

START_TEST(cond_no_lost_wakeup)
{
	RUN(_i == 0 ? 2 : 4, lost_main, NULL);
}
END_TEST

/* --- Cond: a barrier on broadcast ---------------------------------------------------------
 * NBAR goroutines meet BROUNDS times: the last to arrive starts the next
 * generation and broadcasts, the others wait for the generation to move.
 * A waiter that has its ticket but has not reached the list when the
 * broadcast comes must still see it, or the barrier stops for good. */

#define NBAR 4
#define BROUNDS (5000 / SCALE)
static gort_mutex bmu;
static gort_cond bcond;
static uint32_t barrived, bgen;      /* under bmu */
static volatile uint32_t bpassed, bdone;

static void barrier_member(void *arg)
{
	(void)arg;
	for (int r = 0; r < BROUNDS; r++) {
		gort_mutex_lock(&bmu);
		uint32_t gen = bgen;
		if (++barrived == NBAR) {
			barrived = 0;
			bgen++;
			gort_cond_broadcast(&bcond);
		} else {
			while (bgen == gen)
				gort_cond_wait(&bcond, &bmu);
		}
		gort_mutex_unlock(&bmu);
		atomic_add32(&bpassed, 1);
	}
	atomic_add32(&bdone, 1);
}

static int barrier_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < NBAR; i++)
		gort_go(barrier_member, NULL);
	await_progress(&bpassed, NBAR * BROUNDS, &bdone, NBAR, "passages of the barrier");
	ck_assert_uint_eq(atomic_load32(&bpassed), NBAR * BROUNDS);
	gort_mutex_lock(&bmu);
	ck_assert_uint_eq(bgen, BROUNDS);
	ck_assert_uint_eq(barrived, 0);
	gort_mutex_unlock(&bmu);
	return 0;
}

START_TEST(cond_broadcast_barrier)
{
	RUN(_i == 0 ? 2 : 4, barrier_main, NULL);
}
END_TEST

/* --- Cond: Wait returns with the mutex held -----------------------------------------------
 * main signals while it holds the mutex and keeps holding it: the woken
 * waiter must now wait for the mutex (parked on its semaphore, not
 * returned), and returns only after main's unlock, holding it. */

static gort_cond rc;
static gort_mutex rmu;
static int rflag;                       /* under rmu */
static volatile uint32_t main_unlocked, rreturned, rheld;
static struct slot rwaiter_slot;
static struct tally rwg;

static void rwaiter(void *arg)
{
	(void)arg;
	publish(&rwaiter_slot);
	gort_mutex_lock(&rmu);
	while (!rflag)
		gort_cond_wait(&rc, &rmu);
	atomic_store32(&rreturned, 1 + atomic_load32(&main_unlocked));
	atomic_store32(&rheld, gort_mutex_trylock(&rmu) == 0 && atomic_load32(&rmu.state) != 0);
	gort_mutex_unlock(&rmu);
	tally_done(&rwg);
}

static int relock_main(void *arg)
{
	(void)arg;
	gort_go(rwaiter, NULL);
	AWAIT(parked(&rwaiter_slot, wrSyncCondWait), "the waiter parked in gort_cond_wait");
	gort_mutex_lock(&rmu);
	rflag = 1;
	gort_cond_signal(&rc);
	AWAIT(parked(&rwaiter_slot, wrSemacquire) || atomic_load32(&rreturned),
		"the woken waiter parked for the mutex");
	ck_assert_msg(!atomic_load32(&rreturned), "gort_cond_wait returned while main held the mutex");
	atomic_store32(&main_unlocked, 1);
	gort_mutex_unlock(&rmu);
	TALLY_WAIT(&rwg, 1, "the waiter, after main's unlock");
	ck_assert_uint_eq(atomic_load32(&rreturned), 2);   /* returned after the unlock */
	ck_assert_uint_eq(atomic_load32(&rheld), 1);       /* ... holding the mutex */
	ck_assert_uint_eq(atomic_load32(&rmu.state), 0);
	return 0;
}

START_TEST(cond_wait_relocks)
{
	RUN(_i == 0 ? 1 : 2, relock_main, NULL);
}
END_TEST

/* --- Cond: misuse ------------------------------------------------------------------- */

static int cond_unlocked(void *arg)
{
	(void)arg;
	gort_cond c = { 0 };
	gort_mutex mu = { 0 };
	gort_cond_wait(&c, &mu);
	printf("gort_cond_wait returned\n");
	return 0;
}

START_TEST(dies_cond_wait_unlocked)
{
	struct child c;
	expect_death_in(cond_unlocked, NULL, 1, &c, (const char *const[]){
		"fatal error: sync: unlock of unlocked mutex\n", "gort_cond_wait", "cond_unlocked()", NULL });
	ck_assert_msg(!strstr(c.out, "returned"), "%s", c.out);
}
END_TEST

static int cond_copied(void *arg)
{
	(void)arg;
	gort_cond a = { 0 }, b, fresh = { 0 }, fresh_copy;
	/* a copy before the first use is a Cond of its own */
	memcpy(&fresh_copy, &fresh, sizeof fresh);
	gort_cond_signal(&fresh);
	gort_cond_broadcast(&fresh_copy);
	gort_cond_signal(&a);   /* first use */
	gort_cond_signal(&a);
	printf("uses before the copy are fine\n");
	fflush(stdout);
	memcpy(&b, &a, sizeof a);
	gort_cond_signal(&b);
	printf("the copy was used\n");
	return 0;
}

START_TEST(dies_cond_copied)
{
	struct child c;
	expect_death_in(cond_copied, NULL, 1, &c, (const char *const[]){
		"uses before the copy are fine\n", "panic: sync.Cond is copied\n", "cond_copied()", NULL });
	ck_assert_msg(!strstr(c.out, "the copy was used"), "%s", c.out);
}
END_TEST

static Suite *sync_suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tcase_create("rwmutex");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, rw_exclusion, 0, 2);
	tcase_add_loop_test(tc, rw_readers_concurrent, 0, 2);
	tcase_add_loop_test(tc, rw_writer_preference, 0, 2);
	tcase_add_test(tc, rw_try);
	tcase_add_test(tc, rw_in_profiles);
	tcase_add_loop_test(tc, dies_rwmutex_misuse, 0, 4);
	tcase_add_loop_test(tc, dies_recursive_rlock, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("cond");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, cond_wake_counts, 0, 2);
	tcase_add_loop_test(tc, cond_no_lost_wakeup, 0, 2);
	tcase_add_loop_test(tc, cond_broadcast_barrier, 0, 2);
	tcase_add_loop_test(tc, cond_wait_relocks, 0, 2);
	tcase_add_test(tc, dies_cond_wait_unlocked);
	tcase_add_test(tc, dies_cond_copied);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(sync_suite());
}
