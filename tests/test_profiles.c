/*
 * test_profiles.c -- package prof: the goroutine, block, mutex and heap
 * profiles say what the program did.
 *
 * Every count asserted is exact, and every delay is asserted only as at
 * least the time the program made sure was spent (a sleep that began
 * after the waiter was seen queued): no assertion depends on the machine
 * being idle.  The heap profile's ratios are statistical, with enough
 * samples that the tolerance is many standard deviations wide (see
 * heap_truth).
 */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic/atomic.h"
#include "prof/prof.h"
#include "sched/chan.h"
#include "sched/sched.h"
#include "testutil.h"

static char tmpdir[] = "/tmp/gort-profiles-XXXXXX";

static const char *tmpfile_named(const char *name)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	return path;
}

/* The extent of a function, for the profiles' sums. */
static void fnrange(void *fn, uintptr_t *lo, uintptr_t *hi)
{
	const struct gort_func *f = gort_runtime_findfunc((uintptr_t)fn);
	ck_assert_ptr_nonnull(f);
	*lo = f->entry;
	*hi = f->end;
}

static void block_in(void *fn, double *count, int64_t *delay)
{
	uintptr_t lo, hi;
	fnrange(fn, &lo, &hi);
	gort_prof_blockprof_sum(0, lo, hi, count, delay);
}

static void mutex_in(void *fn, double *count, int64_t *delay)
{
	uintptr_t lo, hi;
	fnrange(fn, &lo, &hi);
	gort_prof_blockprof_sum(1, lo, hi, count, delay);
}

#define ROUNDS 10
#define HOLD_NS 2000000

/* --- block: a channel, known waits ----------------------------------------
 * The receiver waits ROUNDS times; each time the sender first sees it
 * queued (its wait has begun, and been timed), then sleeps HOLD_NS, then
 * sends: every wait is at least HOLD_NS, and there are exactly ROUNDS. */

static gort_chan *ch;
static gort_waitgroup wg;

static __attribute__((noinline)) void receiver(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		int v;
		gort_chan_recv(ch, &v);
	}
	gort_waitgroup_done(&wg);
	__asm__ __volatile__("" ::: "memory");
}

/* A receiver is queued on c in a wait that has begun (and been timed).
 * For a select, not a sudog left from its previous select, which it takes
 * off the other queues only after it wakes -- while its selectdone is
 * still 1; a new select sets it to 0 before it queues. */
static void wait_receiver_queued(gort_chan *c)
{
	for (;;) {
		spinlock_lock(&c->lock);
		struct sudog *sg = c->recvq.first;
		int queued = sg && (!sg->isselect || atomic_load32(&sg->g->selectdone) == 0);
		spinlock_unlock(&c->lock);
		if (queued)
			return;
		gort_yield();
	}
}

static __attribute__((noinline)) void sender(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		wait_receiver_queued(ch);
		gort_sleep(HOLD_NS);   /* not a block event: sleeps are left out */
		gort_chan_send(ch, &i);
	}
	gort_waitgroup_done(&wg);
	__asm__ __volatile__("" ::: "memory");
}

/* ROUNDS values from sender to receiver over ch, each receive waiting
 * HOLD_NS for its value; returns when both are done. */
static void exchange(void)
{
	gort_waitgroup_add(&wg, 2);
	gort_go(receiver, NULL);
	gort_go(sender, NULL);
	gort_waitgroup_wait(&wg);
}

static int block_chan_main(void *arg)
{
	(void)arg;
	ck_assert_int_eq(gort_prof_set_block_rate(1), 0);
	ch = gort_chan_make(sizeof(int), 0);
	exchange();
	double n;
	int64_t d;
	block_in(receiver, &n, &d);
	ck_assert_msg(n == ROUNDS, "receiver: %.1f contentions, want %d", n, ROUNDS);
	ck_assert_msg(d >= (int64_t)ROUNDS * HOLD_NS, "receiver waited %lld ns, at least %lld", (long long)d,
		(long long)ROUNDS * HOLD_NS);
	block_in(sender, &n, &d);
	ck_assert_msg(n == 0, "sender (who only sleeps) has %.1f contentions", n);
	/* off: nothing more is recorded */
	ck_assert_int_eq(gort_prof_set_block_rate(0), 1);
	exchange();
	block_in(receiver, &n, &d);
	ck_assert_msg(n == ROUNDS, "with the rate 0, receiver went to %.1f contentions", n);
	return 0;
}

START_TEST(block_channel)
{
	RUN(_i == 0 ? 1 : 2, block_chan_main, NULL);
}
END_TEST

/* --- block: select, and a WaitGroup ------------------------------------------ */

static gort_chan *sa, *sb;

static __attribute__((noinline)) void selecter(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		int v;
		gort_select_case cs[2] = { { sa, GORT_RECV, &v, 0 }, { sb, GORT_RECV, &v, 0 } };
		gort_select(cs, 2, 1);
	}
	gort_waitgroup_done(&wg);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) int block_select_main(void *arg)
{
	(void)arg;
	gort_prof_set_block_rate(1);
	sa = gort_chan_make(sizeof(int), 0);
	sb = gort_chan_make(sizeof(int), 0);
	gort_waitgroup_add(&wg, 1);
	gort_go(selecter, NULL);
	for (int i = 0; i < ROUNDS; i++) {
		wait_receiver_queued(i % 2 ? sa : sb);
		gort_sleep(HOLD_NS);
		gort_chan_send(i % 2 ? sa : sb, &i);
	}
	gort_waitgroup_wait(&wg);   /* may or may not block: not counted below */
	double n;
	int64_t d;
	block_in(selecter, &n, &d);
	ck_assert_msg(n == ROUNDS, "selecter: %.1f contentions, want %d", n, ROUNDS);
	ck_assert_int_ge(d, (int64_t)ROUNDS * HOLD_NS);
	/* a WaitGroup whose worker is known to be running when we wait */
	gort_waitgroup_add(&wg, 1);
	gort_go((void (*)(void *))gort_waitgroup_done, &wg);
	double before;
	block_in(block_select_main, &before, &d);
	gort_waitgroup_wait(&wg);
	double after;
	block_in(block_select_main, &after, &d);
	ck_assert_msg(after - before <= 1, "one wait, %.1f events", after - before);
	return 0;
}

START_TEST(block_select_waitgroup)
{
	RUN(1, block_select_main, NULL);
}
END_TEST

/* --- mutex: the unlocker is charged ---------------------------------------------
 * The waiter blocks on a mutex the holder holds; the holder sees it parked
 * on the semaphore, sleeps HOLD_NS, unlocks.  Exactly ROUNDS contentions:
 * in the block profile at the waiter's gort_mutex_lock, in the mutex
 * profile at the holder's gort_mutex_unlock, each at least HOLD_NS. */

static gort_mutex mu;
static struct g *volatile waiter_g;
static volatile uint32_t round_go, round_done;

static __attribute__((noinline)) void waiter(void *arg)
{
	(void)arg;
	waiter_g = getg();
	for (uint32_t i = 1; i <= ROUNDS; i++) {
		while (atomic_load32(&round_go) != i)
			gort_yield();
		gort_mutex_lock(&mu);
		gort_mutex_unlock(&mu);
		atomic_store32(&round_done, i);
	}
	gort_waitgroup_done(&wg);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void holder(void *arg)
{
	(void)arg;
	while (!waiter_g)
		gort_yield();
	for (uint32_t i = 1; i <= ROUNDS; i++) {
		gort_mutex_lock(&mu);
		atomic_store32(&round_go, i);
		struct g *w = waiter_g;
		while (!(atomic_load32(&w->status) == Gwaiting && w->waitreason == wrSemacquire))
			gort_yield();
		gort_sleep(HOLD_NS);
		gort_mutex_unlock(&mu);
		while (atomic_load32(&round_done) != i)
			gort_yield();
	}
	gort_waitgroup_done(&wg);
	__asm__ __volatile__("" ::: "memory");
}

static int mutex_main(void *arg)
{
	(void)arg;
	gort_prof_set_block_rate(1);
	ck_assert_int_eq(gort_prof_set_mutex_fraction(1), 0);
	ck_assert_int_eq(gort_prof_set_mutex_fraction(-1), 1);
	gort_waitgroup_add(&wg, 2);
	gort_go(waiter, NULL);
	gort_go(holder, NULL);
	gort_waitgroup_wait(&wg);
	double n;
	int64_t d;
	mutex_in(holder, &n, &d);
	ck_assert_msg(n == ROUNDS, "mutex profile: holder has %.1f contentions, want %d", n, ROUNDS);
	ck_assert_int_ge(d, (int64_t)ROUNDS * HOLD_NS);
	mutex_in(waiter, &n, &d);
	ck_assert_msg(n == 0, "mutex profile: the waiter, who never made anyone wait, has %.1f", n);
	block_in(waiter, &n, &d);
	ck_assert_msg(n == ROUNDS, "block profile: waiter has %.1f contentions, want %d", n, ROUNDS);
	ck_assert_int_ge(d, (int64_t)ROUNDS * HOLD_NS);
	return 0;
}

START_TEST(mutex_charged_to_unlocker)
{
	RUN(_i == 0 ? 1 : 2, mutex_main, NULL);
}
END_TEST

/* --- block sampling: Go's rate semantics --------------------------------------
 * Waits of at least HOLD_NS at a rate below that are all recorded with
 * weight one; at a rate far above, each is recorded with probability
 * d/rate and weight rate/d: whatever happens, a recorded wait adds rate
 * to the delay, never less. */

static int rate_main(void *arg)
{
	(void)arg;
	gort_prof_set_block_rate(HOLD_NS / 2);
	ch = gort_chan_make(sizeof(int), 0);
	exchange();
	double n;
	int64_t d;
	block_in(receiver, &n, &d);
	ck_assert_msg(n == ROUNDS, "waits above the rate: %.1f recorded, want %d", n, ROUNDS);
	int64_t big = (int64_t)1 << 40;   /* 18 minutes: each 2 ms wait is kept with p < 1e-5 */
	gort_prof_set_block_rate(big);
	exchange();
	double n2;
	int64_t d2;
	block_in(receiver, &n2, &d2);
	ck_assert_msg((d2 - d) % big == 0, "a sampled wait adds the rate to the delay: %lld",
		(long long)(d2 - d));
	return 0;
}

START_TEST(block_rate_semantics)
{
	RUN(1, rate_main, NULL);
}
END_TEST

/* The sampling decision itself, with a fixed sequence of draws: a wait of
 * 1 ms at a rate of 4 ms is kept one time in four, as 4 events of 4 ms;
 * over a million waits the estimate is a million events of 1 ms each.
 * The draws are a fixed LCG, so this is exact arithmetic, not chance: a
 * true sampler is within 0.9% (five standard deviations of its estimate);
 * one that forgot the weights would be off by 4x. */
START_TEST(block_sampling_unbiased)
{
	double c, total = 0;
	int64_t d, delay = 0;
	uint64_t x = 88172645463325252ull;
	int kept = 0;
	for (int i = 0; i < 1000000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		if (gort_prof_blocksample(1000000, 4000000, x >> 11, &c, &d)) {
			kept++;
			total += c;
			delay += d;
			ck_assert_msg(c == 4 && d == 4000000, "kept as %.2f events of %lld ns", c, (long long)d);
		}
	}
	ck_assert_msg(total > 1e6 * 0.991 && total < 1e6 * 1.009, "%.0f events estimated (%d kept), want 1e6",
		total, kept);
	ck_assert_msg(delay > 1e12 * 0.991 && delay < 1e12 * 1.009, "%lld ns estimated, want 1e12", (long long)delay);
	/* at or above the rate: always, as itself */
	ck_assert_int_eq(gort_prof_blocksample(5000000, 4000000, 3999999, &c, &d), 1);
	ck_assert(c == 1 && d == 5000000);
	ck_assert_int_eq(gort_prof_blocksample(5, 0, 0, &c, &d), 0);
}
END_TEST

/* --- the goroutine profile ------------------------------------------------------
 * Known goroutines in known places: NPARK parked on a channel with a
 * label, NSEL in a select, one in a system call, one yielding in a loop on
 * another P (running when the profile begins), and main.  The profile
 * must count each exactly, and add up to gort_numgoroutine. */

#define NPARK 300
#define NSEL 50
static gort_chan *never;
static int pipefd[2];
static volatile uint32_t spin_stop, nstarted;

static __attribute__((noinline)) void parked(void *arg)
{
	(void)arg;
	atomic_add32(&nstarted, 1);
	gort_chan_recv(never, NULL);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void selecting(void *arg)
{
	(void)arg;
	atomic_add32(&nstarted, 1);
	gort_select_case cs[2] = { { never, GORT_RECV, NULL, 0 }, { NULL, GORT_SEND, NULL, 0 } };
	gort_select(cs, 2, 1);
	__asm__ __volatile__("" ::: "memory");
}

/* Two frames, so that the profile shows the walk went on past the frame
 * gort_syscall_enter recorded (syscall_leaf's) to the one above it. */
static __attribute__((noinline)) void syscall_leaf(void)
{
	char b;
	gort_syscall_enter();
	ssize_t r = read(pipefd[0], &b, 1);
	gort_syscall_exit();
	(void)r;
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void in_syscall(void *arg)
{
	(void)arg;
	atomic_add32(&nstarted, 1);
	syscall_leaf();
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void spinner(void *arg)
{
	(void)arg;
	atomic_add32(&nstarted, 1);
	while (!atomic_load32(&spin_stop))
		gort_yield();
	__asm__ __volatile__("" ::: "memory");
}

static int64_t goroutines_in(void *fn, const char *key, const char *value)
{
	uintptr_t lo, hi;
	fnrange(fn, &lo, &hi);
	return gort_prof_goroutineprof_count(lo, hi, key, value);
}

static __attribute__((noinline)) int goroutine_main(void *arg)
{
	(void)arg;
	never = gort_chan_make(1, 0);
	ck_assert_int_eq(pipe(pipefd), 0);
	const gort_labels *l = gort_labels_with(NULL, "kind", "parked");
	gort_labels_set(l);
	for (int i = 0; i < NPARK; i++)
		gort_go(parked, NULL);
	gort_labels_set(NULL);
	for (int i = 0; i < NSEL; i++)
		gort_go(selecting, NULL);
	gort_go(in_syscall, NULL);
	gort_go(spinner, NULL);
	while (atomic_load32(&nstarted) < NPARK + NSEL + 2)
		gort_yield();
	gort_sleep(1000000);   /* let them reach their waits; the counts below do not depend on it */
	int live = gort_numgoroutine();
	ck_assert_int_eq(gort_prof_goroutineprof_take(), 0);
	ck_assert_int_eq(goroutines_in(parked, NULL, NULL), NPARK);
	ck_assert_int_eq(goroutines_in(parked, "kind", "parked"), NPARK);
	ck_assert_int_eq(goroutines_in(selecting, NULL, NULL), NSEL);
	ck_assert_int_eq(goroutines_in(selecting, "kind", "parked"), 0);
	ck_assert_int_eq(goroutines_in(syscall_leaf, NULL, NULL), 1);
	ck_assert_int_eq(goroutines_in(in_syscall, NULL, NULL), 1);
	ck_assert_int_eq(goroutines_in(spinner, NULL, NULL), 1);
	ck_assert_int_eq(goroutines_in(goroutine_main, NULL, NULL), 1);
	ck_assert_int_eq(gort_prof_goprof_last.goroutines, live);
	/* the file too */
	int fd = open(tmpfile_named("goroutine.prof"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_eq(gort_prof_lookup_write("goroutine", fd), 0);
	close(fd);
	atomic_store32(&spin_stop, 1);
	ck_assert_int_eq(write(pipefd[1], "x", 1), 1);
	return 0;
}

/* 0: one P; 1: two; 2: two, without asynchronous preemption (valgrind's
 * case), where the spinner, alone on its P, never switches at all and
 * must record itself at its yield. */
START_TEST(goroutine_profile_counts)
{
	if (_i == 2) {
		setenv("GORTDEBUG", "asyncpreemptoff=1", 1);
		gort_runtime_debug_init();
	}
	RUN(_i == 0 ? 1 : 2, goroutine_main, NULL);
}
END_TEST

/* Goroutines coming and going while profiles are taken, over and over:
 * every profile's total is what was live at some moment of it, nothing is
 * walked twice or not at all (the counts of the steady ones stay exact). */
static volatile uint32_t churn_stop;

static void shortlived(void *arg)
{
	(void)arg;
	gort_yield();
}

static void churner(void *arg)
{
	(void)arg;
	while (!atomic_load32(&churn_stop)) {
		for (int i = 0; i < 20; i++)
			gort_go(shortlived, NULL);
		gort_yield();
	}
	gort_waitgroup_done(&wg);
}

static int churn_main(void *arg)
{
	(void)arg;
	never = gort_chan_make(1, 0);
	for (int i = 0; i < NPARK; i++)
		gort_go(parked, NULL);
	while (atomic_load32(&nstarted) < NPARK)
		gort_yield();
	gort_waitgroup_add(&wg, 2);
	gort_go(churner, NULL);
	gort_go(churner, NULL);
	for (int i = 0; i < 50; i++) {
		ck_assert_int_eq(gort_prof_goroutineprof_take(), 0);
		ck_assert_int_eq(goroutines_in(parked, NULL, NULL), NPARK);
		ck_assert_int_eq(goroutines_in(churner, NULL, NULL), 2);
	}
	atomic_store32(&churn_stop, 1);
	gort_waitgroup_wait(&wg);
	return 0;
}

/* A goroutine in a blocking call gort does not know of (no
 * gort_syscall_enter) stays Grunning and cannot be stopped: the profile
 * does not wait for it for ever, and counts it under its function. */
static int rawpipe[2];

static __attribute__((noinline)) void raw_reader(void *arg)
{
	(void)arg;
	char b;
	atomic_add32(&nstarted, 1);
	ssize_t r = read(rawpipe[0], &b, 1);   /* holds its thread and its P */
	(void)r;
	__asm__ __volatile__("" ::: "memory");
}

static int straggler_main(void *arg)
{
	(void)arg;
	ck_assert_int_eq(pipe(rawpipe), 0);
	gort_go(raw_reader, NULL);
	while (atomic_load32(&nstarted) < 1)
		gort_yield();
	ck_assert_int_eq(gort_prof_goroutineprof_take(), 0);
	ck_assert_int_eq(gort_prof_goprof_last.stragglers, 1);
	ck_assert_int_eq(goroutines_in(raw_reader, NULL, NULL), 1);
	ck_assert_int_eq(write(rawpipe[1], "x", 1), 1);
	return 0;
}

START_TEST(goroutine_profile_does_not_wait_for_ever)
{
	RUN(2, straggler_main, NULL);
}
END_TEST

/* Goroutines made after T -- here, by the profiler itself, at T -- are
 * not in the profile, even those reusing a G that was there before. */
static void make_late(void)
{
	gort_labels_set(gort_labels_with(NULL, "kind", "late"));
	for (int i = 0; i < 100; i++)
		gort_go(parked, NULL);
	gort_labels_set(NULL);
}

static void exit_at_once(void *arg)
{
	(void)arg;
}

static int late_main(void *arg)
{
	(void)arg;
	never = gort_chan_make(1, 0);
	for (int i = 0; i < 200; i++)   /* dead Gs to be reused */
		gort_go(exit_at_once, NULL);
	gort_sleep(1000000);
	gort_prof_goprof_at_T = make_late;
	ck_assert_int_eq(gort_prof_goroutineprof_take(), 0);
	gort_prof_goprof_at_T = NULL;
	ck_assert_int_eq(goroutines_in(parked, "kind", "late"), 0);
	while (atomic_load32(&nstarted) < 100)
		gort_yield();
	ck_assert_int_eq(gort_prof_goroutineprof_take(), 0);
	ck_assert_int_eq(goroutines_in(parked, "kind", "late"), 100);
	return 0;
}

START_TEST(goroutine_profile_leaves_out_later_ones)
{
	RUN(_i == 0 ? 1 : 2, late_main, NULL);
}
END_TEST

START_TEST(goroutine_profile_under_churn)
{
	RUN(_i == 0 ? 1 : 2, churn_main, NULL);
}
END_TEST

/* --- the heap profile ---------------------------------------------------------------
 * heap_truth: two sites allocate 3000 and 1000 bytes, the same number of
 * times: 3:1 in bytes.  At a rate of 4096 bytes each allocation of s bytes
 * is sampled with probability 1 - exp(-s/4096): 0.52 and 0.22, so
 * N = 100,000 allocations per site give about 52,000 and 22,000 samples;
 * the estimate of each site's bytes is off by about 1/sqrt(samples) (0.4%
 * and 0.7%), the ratio by 0.8%.  The test allows 5%: six standard
 * deviations, a chance of failing under one in a hundred million. */

#if GORT_INTERPOSE_MALLOC
#define NALLOC 100000

static __attribute__((noinline)) void *site_a(size_t n)
{
	void *p = malloc(n);
	__asm__ __volatile__("" ::: "memory");
	return p;
}

static __attribute__((noinline)) void *site_b(size_t n)
{
	void *p = malloc(n);
	__asm__ __volatile__("" ::: "memory");
	return p;
}

static void heap_in(void *fn, int64_t *samples, int64_t *live, int64_t *alloc, int64_t *inuse)
{
	uintptr_t lo, hi;
	fnrange(fn, &lo, &hi);
	gort_prof_heapprof_sum(lo, hi, samples, live, alloc, inuse);
}

static void *kept[1000];

static int heap_main(void *arg)
{
	(void)arg;
	ck_assert_int_eq(gort_prof_set_heap_rate(4096), 0);
	for (int i = 0; i < NALLOC; i++) {
		void *a = site_a(3000), *b = site_b(1000);
		if (i < 1000)
			kept[i] = a;
		else
			free(a);
		free(b);
	}
	int64_t sa, la, aa, ia, sb, lb, ab, ib;
	heap_in(site_a, &sa, &la, &aa, &ia);
	heap_in(site_b, &sb, &lb, &ab, &ib);
	ck_assert_msg(sa > 40000 && sb > 15000, "samples: %lld and %lld", (long long)sa, (long long)sb);
	double r = (double)aa / (double)ab;
	ck_assert_msg(r > 3 * 0.95 && r < 3 * 1.05, "alloc_space a:b = %.3f (%lld / %lld), want 3 +- 5%%", r,
		(long long)aa, (long long)ab);
	double want = 3000.0 * NALLOC;
	ck_assert_msg(aa > want * 0.95 && aa < want * 1.05, "site a: %lld bytes estimated, %.0f allocated",
		(long long)aa, want);
	/* in use: 1000 blocks of site a, about 520 samples (error 4.4%) */
	ck_assert_int_eq(lb, 0);
	ck_assert_int_eq(ib, 0);
	ck_assert_msg(ia > 3000000 * 0.75 && ia < 3000000 * 1.25, "inuse_space a = %lld, want 3000000 +- 25%%",
		(long long)ia);
	for (int i = 0; i < 1000; i++)
		free(kept[i]);
	heap_in(site_a, &sa, &la, &aa, &ia);
	ck_assert_int_eq(la, 0);   /* every sampled block freed is known to be */
	ck_assert_int_eq(ia, 0);
	return 0;
}

START_TEST(heap_truth)
{
	RUN(2, heap_main, NULL);
}
END_TEST

/* Every allocation call is seen, at rate 1 (every allocation sampled):
 * exact counts, and in use back to zero once each block is freed.  No
 * assertion inside: Check allocates as it records where an assertion
 * is, and where frame records run through its library (aarch64) those
 * allocations would be family's too. */
static void *fam[8];
static int fam_ok, fam_bad;

static __attribute__((noinline)) void family(void)
{
	void **v = fam;
	v[0] = malloc(10);
	v[1] = calloc(3, 10);
	v[2] = realloc(NULL, 10);
	v[2] = realloc(v[2], 100000);    /* moves or not: a free and an allocation */
	fam_ok = posix_memalign(&v[3], 64, 10);
	v[4] = aligned_alloc(64, 64);
	v[5] = memalign(4096, 10);
	v[6] = valloc(10);
	v[7] = strdup("profiled");
	void *untouched = NULL;
	fam_bad = posix_memalign(&untouched, 3, 10);   /* not a power of two */
	for (int i = 0; i < 8; i++)
		free(v[i]);
	__asm__ __volatile__("" ::: "memory");
}

static void *thread_alloc(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++)
		free(malloc(64));
	return NULL;
}

static int family_main(void *arg)
{
	(void)arg;
	int64_t s, l, a, in;
	/* on this thread, which then counts from now on (another thread
	 * takes a new rate within 64 KiB of its allocations) */
	ck_assert_int_eq(gort_prof_set_heap_rate(1), 1);
	family();
	ck_assert_int_eq(fam_ok, 0);
	ck_assert_int_eq(fam_bad, EINVAL);
	for (int i = 0; i < 8; i++)
		ck_assert_ptr_nonnull(fam[i]);
	heap_in(family, &s, &l, &a, &in);
	/* 7 blocks and the realloc's first; strdup's malloc is seen too, but
	 * on x86-64 glibc keeps no frame pointers, so the walk from it goes
	 * from strdup to family's caller: family's own frame is not on it
	 * (on aarch64 glibc's frame records are there, and it is) */
	ck_assert_msg(s == 8 || s == 9, "%lld samples in family", (long long)s);   /* 9 where it sees through */
	ck_assert_int_eq(l, 0);
	ck_assert_int_eq(in, 0);
	heap_in((void *)strdup, &s, &l, &a, &in);
	ck_assert_int_ge(s, 1);   /* (other callers of libc's strdup may be sampled too) */
	/* a thread gort did not make, and fork with the profile on */
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, thread_alloc, NULL), 0);
	pthread_join(t, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		free(malloc(100));
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	int fd = open(tmpfile_named("heap.prof"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_eq(gort_prof_lookup_write("heap", fd), 0);
	close(fd);
	return 0;
}

START_TEST(heap_every_call)
{
	/* before gort_main too: the hook needs nothing of gort's */
	ck_assert_int_eq(gort_prof_set_heap_rate(1), 0);
	free(malloc(1));
	RUN(2, family_main, NULL);
}
END_TEST
#endif

/* --- names, descriptors, the environment ---------------------------------------------- */

static int bad_main(void *arg)
{
	(void)arg;
	int fd = open(tmpfile_named("x.prof"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_eq(gort_prof_lookup_write("nope", fd), -EINVAL);
	ck_assert_int_eq(gort_prof_lookup_write(NULL, fd), -EINVAL);
	ck_assert_int_eq(gort_prof_lookup_write("block", -1), -EBADF);
	close(fd);
	fd = open(tmpfile_named("x.prof"), O_RDONLY);
	ck_assert_int_eq(gort_prof_lookup_write("mutex", fd), -EBADF);
	close(fd);
	ck_assert_int_eq(gort_prof_lookup_write_file("block", "/no/such/dir/b.prof"), -ENOENT);
	ck_assert_int_eq(gort_prof_lookup_write_file("block", ""), -EINVAL);
	return 0;
}

START_TEST(bad_arguments)
{
	RUN(1, bad_main, NULL);
}
END_TEST

static int env_main(void *arg)
{
	(void)arg;
	ch = gort_chan_make(sizeof(int), 0);
	exchange();
	gort_mutex_lock(&mu);
	gort_mutex_unlock(&mu);
	free(malloc(1000));
	return 0;
}

static void env_child(void *arg)
{
	(void)arg;
	char b[512];
	snprintf(b, sizeof b, "%s/env-block.prof", tmpdir);
	setenv("GORTPROF_BLOCK", b, 1);
	snprintf(b, sizeof b, "%s/env-mutex.prof:1", tmpdir);
	setenv("GORTPROF_MUTEX", b, 1);
	snprintf(b, sizeof b, "%s/env-heap.prof:abc", tmpdir);
	setenv("GORTPROF_HEAP", b, 1);   /* a bad rate: said, and left off */
	snprintf(b, sizeof b, "%s/env-goroutine.prof", tmpdir);
	setenv("GORTPROF_GOROUTINE", b, 1);
	exit(gort_main(env_main, NULL));
}

static off_t filesize(const char *name)
{
	struct stat sb;
	return stat(tmpfile_named(name), &sb) == 0 ? sb.st_size : -1;
}

START_TEST(environment)
{
	struct child c;
	run_child(env_child, NULL, &c, 60);
	ck_assert_exit_status(&c, 0);
	ck_assert_output_has(&c, "env-heap.prof:abc: the rate (bytes) must be 1 to");
	ck_assert_int_gt(filesize("env-block.prof"), 0);
	ck_assert_int_gt(filesize("env-mutex.prof"), 0);
	ck_assert_int_gt(filesize("env-goroutine.prof"), 0);
	ck_assert_int_eq(filesize("env-heap.prof"), -1);
}
END_TEST

/* go tool pprof reads each, and sees what it should (skipped without Go). */
static int pprof_main(void *arg)
{
	(void)arg;
	gort_prof_set_block_rate(1);
	gort_prof_set_mutex_fraction(1);
	gort_waitgroup_add(&wg, 2);
	gort_go(waiter, NULL);
	gort_go(holder, NULL);
	gort_waitgroup_wait(&wg);
	never = gort_chan_make(1, 0);
	for (int i = 0; i < 10; i++)
		gort_go(parked, NULL);
	while (atomic_load32(&nstarted) < 10)
		gort_yield();
	const char *names[] = { "block", "mutex", "goroutine", "heap", "allocs" };
	for (int i = 0; i < 5; i++) {
		char f[64];
		snprintf(f, sizeof f, "%s.prof", names[i]);
		int err = gort_prof_lookup_write_file(names[i], tmpfile_named(f));
		ck_assert_msg(err == 0 || (i >= 3 && err == -ENOSYS), "%s: %d", names[i], err);
	}
	return 0;
}

static void pprof_says(const char *file, const char *const *want)
{
	char args[512];
	snprintf(args, sizeof args, "-raw %s", tmpfile_named(file));
	const char *out = go_pprof(args);
	for (; *want; want++)
		ck_assert_msg(strstr(out, *want), "pprof -raw %s lacks \"%s\":\n%s", file, *want, out);
}

START_TEST(go_pprof_reads_them)
{
	RUN(2, pprof_main, NULL);
	if (!have_go("go_pprof_reads_them"))
		return;
	pprof_says("block.prof", (const char *const[]){ "contentions/count delay/nanoseconds", "gort_mutex_lock",
		"waiter", NULL });
	pprof_says("mutex.prof", (const char *const[]){ "contentions/count delay/nanoseconds",
		"gort_mutex_unlock", "holder", NULL });
	pprof_says("goroutine.prof", (const char *const[]){ "goroutine/count", "parked", "gort_chan_recv", NULL });
#if GORT_INTERPOSE_MALLOC
	pprof_says("heap.prof", (const char *const[]){
		"alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes", NULL });
#endif
}
END_TEST

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	Suite *s = suite_create("profiles");
	TCase *tc = tcase_create("block");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, block_channel, 0, 2);
	tcase_add_test(tc, block_select_waitgroup);
	tcase_add_loop_test(tc, mutex_charged_to_unlocker, 0, 2);
	tcase_add_test(tc, block_rate_semantics);
	tcase_add_test(tc, block_sampling_unbiased);
	suite_add_tcase(s, tc);

	tc = tcase_create("goroutine");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, goroutine_profile_counts, 0, 3);
	tcase_add_loop_test(tc, goroutine_profile_under_churn, 0, 2);
	tcase_add_loop_test(tc, goroutine_profile_leaves_out_later_ones, 0, 2);
	tcase_add_test(tc, goroutine_profile_does_not_wait_for_ever);
	suite_add_tcase(s, tc);

#if GORT_INTERPOSE_MALLOC
	tc = tcase_create("heap");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, heap_truth);
	tcase_add_test(tc, heap_every_call);
	suite_add_tcase(s, tc);
#endif

	tc = tcase_create("api");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, environment);
	tcase_add_test(tc, go_pprof_reads_them);
	suite_add_tcase(s, tc);
	int failed = run_suite(s);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return failed;
}
