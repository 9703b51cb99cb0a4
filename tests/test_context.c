/*
 * test_context.c -- suite 'context': cancellation contexts
 * (sched/context.c, Go's context package) and the weighted semaphore
 * (sched/semaphore.c, golang.org/x/sync/semaphore).
 *
 * Nothing here waits for a time in which something usually happens: a
 * test waits for a state (a channel closed, a count of queued waiters),
 * and every such wait gives up after HANG_NS saying what hung.  Of the
 * clock only "never early" is asserted.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "gort.h"
#include "testutil.h"

/* The runtime's count of goroutines parked in the poller (netpoll.c):
 * the tests link libgort.a, and read it to know a reader waits. */
extern volatile uint32_t gort_sched_netpoll_waiters;

#define MS 1000000LL
/* How long a wait may take before the test says what hung: 60 s, or
 * GORT_TEST_HANG_S (runs against deliberately broken code shorten it). */
static int64_t hang_ns(void)
{
	const char *s = getenv("GORT_TEST_HANG_S");
	int v = s ? atoi(s) : 0;
	return (v > 0 ? v : 60) * 1000 * MS;
}
#define HANG_NS hang_ns()

/* Receive from c, or fail after HANG_NS naming what was awaited. */
static int recv_or_hang(gort_chan *c, void *elem, const char *what)
{
	gort_timer *t = gort_timer_new(HANG_NS);
	int64_t fired;
	gort_select_case cases[] = {
		{ .c = c, .dir = GORT_RECV, .elem = elem },
		{ .c = gort_timer_chan(t), .dir = GORT_RECV, .elem = &fired },
	};
	int which = gort_select(cases, 2, 1);
	gort_timer_free(t);
	ck_assert_msg(which == 0, "hung waiting for %s", what);
	return cases[0].ok;
}

#define WAIT_FOR(cond, what) do { \
	int64_t until_ = gort_now() + HANG_NS; \
	while (!(cond)) { \
		ck_assert_msg(gort_now() < until_, "hung waiting for %s", (what)); \
		gort_sleep(100000); \
	} \
} while (0)

/* Is c closed?  Without blocking: a closed channel's receive proceeds
 * with ok 0; nothing is ever sent on a done channel. */
static int closed(gort_chan *c)
{
	gort_select_case sc = { .c = c, .dir = GORT_RECV };
	int r = gort_select(&sc, 1, 0);
	ck_assert(r == -1 || sc.ok == 0);
	return r == 0;
}

/* --- the done channel and the reasons ------------------------------------------- */

static int done_main(void *a)
{
	(void)a;
	gort_ctx *bg = gort_ctx_background();
	ck_assert_ptr_null(gort_ctx_done(bg));
	ck_assert_int_eq(gort_ctx_err(bg), 0);
	ck_assert_int_eq(gort_ctx_deadline(bg), GORT_FOREVER);
	gort_ctx_free(bg);   /* ignored */

	gort_ctx *c = gort_ctx_with_cancel(bg);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(gort_ctx_done(c));
	ck_assert_int_eq(gort_ctx_deadline(c), GORT_FOREVER);
	for (int i = 0; i < 100; i++) {
		gort_yield();
		ck_assert(!closed(gort_ctx_done(c)));
		ck_assert_int_eq(gort_ctx_err(c), 0);
	}
	gort_ctx_cancel(c);
	ck_assert(closed(gort_ctx_done(c)));
	ck_assert_int_eq(gort_ctx_err(c), -ECANCELED);
	gort_ctx_cancel(c);   /* a second cancel changes nothing */
	ck_assert_int_eq(gort_ctx_err(c), -ECANCELED);
	ck_assert(closed(gort_ctx_done(c)));
	ck_assert_str_eq(gort_strerror(-ECANCELED), "context canceled");
	gort_ctx_free(c);

	/* A deadline already past, or a timeout of 0: -ETIMEDOUT at once. */
	gort_ctx *d = gort_ctx_with_deadline(bg, gort_now() - 1);
	ck_assert_int_eq(gort_ctx_err(d), -ETIMEDOUT);
	ck_assert(closed(gort_ctx_done(d)));
	gort_ctx *t = gort_ctx_with_timeout(bg, 0);
	ck_assert_int_eq(gort_ctx_err(t), -ETIMEDOUT);
	/* GORT_FOREVER as a deadline is none, as for the I/O calls. */
	gort_ctx *f = gort_ctx_with_deadline(bg, GORT_FOREVER);
	ck_assert_int_eq(gort_ctx_err(f), 0);
	ck_assert_int_eq(gort_ctx_deadline(f), GORT_FOREVER);
	gort_ctx_free(f);
	/* A child of a cancelled parent: cancelled at once, with its reason. */
	gort_ctx *dc = gort_ctx_with_cancel(d);
	ck_assert_int_eq(gort_ctx_err(dc), -ETIMEDOUT);
	ck_assert(closed(gort_ctx_done(dc)));
	gort_ctx *p = gort_ctx_with_cancel(bg);
	gort_ctx_cancel(p);
	gort_ctx *pc = gort_ctx_with_timeout(p, 1000 * MS);
	ck_assert_int_eq(gort_ctx_err(pc), -ECANCELED);
	/* A cancel that loses to the deadline keeps the deadline's reason. */
	gort_ctx_cancel(d);
	ck_assert_int_eq(gort_ctx_err(d), -ETIMEDOUT);
	gort_ctx_free(pc);
	gort_ctx_free(p);
	gort_ctx_free(dc);
	gort_ctx_free(t);
	gort_ctx_free(d);
	return 0;
}

START_TEST(done_closed_on_cancel)
{
	RUN(2, done_main, NULL);
}
END_TEST

/* --- trees ----------------------------------------------------------------------- */

#define NTREE 2000
#define NCHAIN 20000

static gort_ctx *tree[NTREE];
static gort_ctx *chain[NCHAIN];

/* A random tree under root: each node's parent is an earlier node. */
static void build_tree(gort_ctx *root, unsigned seed)
{
	for (int i = 0; i < NTREE; i++) {
		gort_ctx *parent = i == 0 ? root : tree[rand_r(&seed) % (unsigned)i];
		tree[i] = i % 3 == 2 ? gort_ctx_with_timeout(parent, 3600000 * MS)
		                     : gort_ctx_with_cancel(parent);
		ck_assert_ptr_nonnull(tree[i]);
	}
}

static int tree_main(void *a)
{
	(void)a;
	for (int round = 0; round < 2; round++) {
		/* round 0: cancelled; round 1: its deadline passes */
		gort_ctx *root = round == 0 ? gort_ctx_with_cancel(gort_ctx_background())
		                            : gort_ctx_with_timeout(gort_ctx_background(), 20 * MS);
		int want = round == 0 ? -ECANCELED : -ETIMEDOUT;
		build_tree(root, 42 + (unsigned)round);
		/* (Round 1's root may expire while the tree is built: nodes made
		 * after it are born with its reason, which is all we assert.) */
		for (int i = 0; round == 0 && i < NTREE; i++)
			ck_assert_int_eq(gort_ctx_err(tree[i]), 0);
		if (round == 0)
			gort_ctx_cancel(root);
		recv_or_hang(gort_ctx_done(root), NULL, "the root's done");
		for (int i = 0; i < NTREE; i++) {
			ck_assert_msg(closed(gort_ctx_done(tree[i])), "node %d not done", i);
			ck_assert_int_eq(gort_ctx_err(tree[i]), want);
		}
		/* Children first or parents first: either order is allowed. */
		for (int i = 0; i < NTREE; i++)
			gort_ctx_free(tree[round == 0 ? i : NTREE - 1 - i]);
		gort_ctx_free(root);
	}

	/* A chain deeper than any recursion on a 64 KiB stack would go. */
	int n = NCHAIN / SCALE;
	chain[0] = gort_ctx_with_cancel(gort_ctx_background());
	for (int i = 1; i < n; i++)
		chain[i] = gort_ctx_with_cancel(chain[i - 1]);
	gort_ctx_cancel(chain[0]);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(gort_ctx_err(chain[i]), -ECANCELED);
	for (int i = 0; i < n; i++)
		gort_ctx_free(chain[i]);
	return 0;
}

START_TEST(parent_cancels_tree)
{
	RUN(2, tree_main, NULL);
}
END_TEST

static int child_main(void *a)
{
	(void)a;
	gort_ctx *parent = gort_ctx_with_cancel(gort_ctx_background());
	gort_ctx *kid[4], *grand[4];
	for (int i = 0; i < 4; i++) {
		kid[i] = gort_ctx_with_cancel(parent);
		grand[i] = gort_ctx_with_cancel(kid[i]);
	}
	gort_ctx_cancel(kid[1]);
	ck_assert_int_eq(gort_ctx_err(kid[1]), -ECANCELED);
	ck_assert_int_eq(gort_ctx_err(grand[1]), -ECANCELED);
	ck_assert_int_eq(gort_ctx_err(parent), 0);
	ck_assert(!closed(gort_ctx_done(parent)));
	for (int i = 0; i < 4; i++)
		if (i != 1) {
			ck_assert_int_eq(gort_ctx_err(kid[i]), 0);
			ck_assert_int_eq(gort_ctx_err(grand[i]), 0);
		}
	/* Freeing a live child cancels it (and its child) and nothing else. */
	gort_ctx_free(kid[2]);
	ck_assert_int_eq(gort_ctx_err(grand[2]), -ECANCELED);
	ck_assert_int_eq(gort_ctx_err(parent), 0);
	ck_assert_int_eq(gort_ctx_err(kid[0]), 0);
	/* The cancelled and freed ones are detached: the parent's cancel
	 * reaches the others, and never a freed one (ASan would see it, and
	 * a freed context's lock is no longer the parent's to take). */
	gort_ctx_cancel(parent);
	for (int i = 0; i < 4; i++) {
		if (i != 2)
			ck_assert_int_eq(gort_ctx_err(kid[i]), -ECANCELED);
		ck_assert_int_eq(gort_ctx_err(grand[i]), -ECANCELED);
	}
	/* A freed parent leaves its children valid, cancelled, detached. */
	gort_ctx *p2 = gort_ctx_with_cancel(gort_ctx_background());
	gort_ctx *c2 = gort_ctx_with_timeout(p2, 3600000 * MS);
	gort_ctx_free(p2);
	ck_assert_int_eq(gort_ctx_err(c2), -ECANCELED);
	ck_assert(closed(gort_ctx_done(c2)));
	gort_ctx_free(c2);
	for (int i = 0; i < 4; i++) {
		gort_ctx_free(grand[i]);
		if (i != 2)
			gort_ctx_free(kid[i]);
	}
	gort_ctx_free(parent);
	return 0;
}

START_TEST(child_cancel_spares_parent_and_siblings)
{
	RUN(2, child_main, NULL);
}
END_TEST

/* --- deadlines ------------------------------------------------------------------- */

static int deadline_main(void *a)
{
	(void)a;
	gort_ctx *bg = gort_ctx_background();
	for (int i = 0; i < 8; i++) {
		int64_t before = gort_now();
		gort_ctx *c = i % 2 ? gort_ctx_with_timeout(bg, (i + 1) * 3 * MS)
		                    : gort_ctx_with_deadline(bg, before + (i + 1) * 3 * MS);
		int64_t d = gort_ctx_deadline(c);
		ck_assert_int_ge(d, before + (i + 1) * 3 * MS);
		recv_or_hang(gort_ctx_done(c), NULL, "a deadline");
		int64_t now = gort_now();
		ck_assert_msg(now >= d, "done %lld ns before the deadline", (long long)(d - now));
		ck_assert_int_eq(gort_ctx_err(c), -ETIMEDOUT);
		gort_ctx_free(c);
	}

	/* A child's deadline is the earlier of its own and its parent's. */
	int64_t now = gort_now();
	gort_ctx *p = gort_ctx_with_deadline(bg, now + 30 * MS);
	gort_ctx *later = gort_ctx_with_deadline(p, now + 3600000 * MS);
	gort_ctx *earlier = gort_ctx_with_deadline(p, now + 10 * MS);
	gort_ctx *plain = gort_ctx_with_cancel(p);
	gort_ctx *gchild = gort_ctx_with_timeout(earlier, 3600000 * MS);
	ck_assert_int_eq(gort_ctx_deadline(p), now + 30 * MS);
	ck_assert_int_eq(gort_ctx_deadline(later), now + 30 * MS);
	ck_assert_int_eq(gort_ctx_deadline(earlier), now + 10 * MS);
	ck_assert_int_eq(gort_ctx_deadline(plain), now + 30 * MS);
	ck_assert_int_eq(gort_ctx_deadline(gchild), now + 10 * MS);
	recv_or_hang(gort_ctx_done(gchild), NULL, "the inherited deadline");
	ck_assert_int_ge(gort_now(), now + 10 * MS);
	ck_assert_int_eq(gort_ctx_err(gchild), -ETIMEDOUT);
	ck_assert_int_eq(gort_ctx_err(earlier), -ETIMEDOUT);
	recv_or_hang(gort_ctx_done(later), NULL, "the parent's deadline, through a child");
	ck_assert_int_ge(gort_now(), now + 30 * MS);
	ck_assert_int_eq(gort_ctx_err(later), -ETIMEDOUT);
	ck_assert_int_eq(gort_ctx_err(plain), -ETIMEDOUT);
	ck_assert_int_eq(gort_ctx_err(p), -ETIMEDOUT);
	gort_ctx_free(gchild);
	gort_ctx_free(earlier);
	gort_ctx_free(later);
	gort_ctx_free(plain);
	gort_ctx_free(p);
	return 0;
}

START_TEST(deadline_fires_never_early)
{
	RUN(2, deadline_main, NULL);
}
END_TEST

/* A context freed or cancelled before its deadline stops its timer: the
 * firing of a freed one would throw (context.c checks), and the pending
 * count would stay. */
static int stop_main(void *a)
{
	(void)a;
	enum { N = 1000 };
	static gort_ctx *cs[N];
	int64_t last = 0;
	for (int i = 0; i < N; i++) {
		cs[i] = gort_ctx_with_timeout(gort_ctx_background(), (1 + i % 5) * MS);
		if (gort_ctx_deadline(cs[i]) > last)
			last = gort_ctx_deadline(cs[i]);
		if (i % 2)
			gort_ctx_cancel(cs[i]);
	}
	for (int i = 0; i < N; i++)
		gort_ctx_free(cs[i]);
	/* Past every deadline: a timer left armed would fire now. */
	while (gort_now() <= last + 5 * MS)
		gort_sleep(5 * MS);
	gort_ctx *c = gort_ctx_with_timeout(gort_ctx_background(), MS);
	recv_or_hang(gort_ctx_done(c), NULL, "a deadline after the frees");
	gort_ctx_free(c);
	return 0;
}

START_TEST(freed_before_deadline_never_fires)
{
	RUN(2, stop_main, NULL);
}
END_TEST

static int pipe_main(void *a)
{
	(void)a;
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	gort_ctx *c = gort_ctx_with_timeout(gort_ctx_background(), 20 * MS);
	char buf[8];
	ck_assert_int_ne(gort_ctx_deadline(c), GORT_FOREVER);   /* else the read waits for ever */
	ssize_t r = gort_read(p[0], buf, sizeof buf, gort_ctx_deadline(c));
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_assert_int_ge(gort_now(), gort_ctx_deadline(c));
	/* The context's own reason agrees, once its timer has fired. */
	recv_or_hang(gort_ctx_done(c), NULL, "the read's context");
	ck_assert_int_eq(gort_ctx_err(c), -ETIMEDOUT);
	gort_ctx_free(c);
	/* The background context's deadline is GORT_FOREVER: data arrives. */
	ck_assert_int_eq(gort_write(p[1], "x", 1, GORT_FOREVER), 1);
	ck_assert_int_eq(gort_read(p[0], buf, 1, gort_ctx_deadline(gort_ctx_background())), 1);
	gort_close(p[0]);
	gort_close(p[1]);
	return 0;
}

START_TEST(read_takes_context_deadline)
{
	RUN(2, pipe_main, NULL);
}
END_TEST

/* --- the idioms ------------------------------------------------------------------- */

struct waitarg {
	gort_ctx *ctx;
	gort_chan *work, *result;
};

/* The cancellable wait: the done channel as one more case. */
static void cancellable_waiter(void *a)
{
	struct waitarg *w = a;
	int got = 0, res;
	gort_select_case cases[] = {
		{ .c = w->work, .dir = GORT_RECV, .elem = &got },
		{ .c = gort_ctx_done(w->ctx), .dir = GORT_RECV },
	};
	if (gort_select(cases, 2, 1) == 0)
		res = got;
	else
		res = gort_ctx_err(w->ctx);
	gort_chan_send(w->result, &res);
}

static int wait_main(void *a)
{
	(void)a;
	struct waitarg w = {
		.work = gort_chan_make(sizeof(int), 0),
		.result = gort_chan_make(sizeof(int), 1),
	};
	int res;
	/* Work that comes wins... */
	w.ctx = gort_ctx_with_cancel(gort_ctx_background());
	gort_go(cancellable_waiter, &w);
	int v = 7;
	gort_chan_send(w.work, &v);
	recv_or_hang(w.result, &res, "the waiter's value");
	ck_assert_int_eq(res, 7);
	gort_ctx_free(w.ctx);
	/* ... and a cancel ends the wait with the reason. */
	w.ctx = gort_ctx_with_cancel(gort_ctx_background());
	gort_go(cancellable_waiter, &w);
	gort_ctx_cancel(w.ctx);
	recv_or_hang(w.result, &res, "the cancelled waiter");
	ck_assert_int_eq(res, -ECANCELED);
	gort_ctx_free(w.ctx);
	/* ... and so does a deadline. */
	w.ctx = gort_ctx_with_timeout(gort_ctx_background(), 5 * MS);
	gort_go(cancellable_waiter, &w);
	recv_or_hang(w.result, &res, "the waiter past its deadline");
	ck_assert_int_eq(res, -ETIMEDOUT);
	gort_ctx_free(w.ctx);
	gort_chan_free(w.work);
	gort_chan_free(w.result);
	return 0;
}

START_TEST(cancellable_wait_idiom)
{
	RUN(2, wait_main, NULL);
}
END_TEST

/* Cancelling a blocked read: a watcher waits on done, then gort_close
 * wakes the reader with -GORT_ECLOSED. */
struct readarg {
	gort_ctx *ctx;
	int fd;
	gort_chan *stop;      /* the read ended: the watcher may go */
	gort_chan *result;
	volatile uint32_t reading;
};

static void watcher(void *a)
{
	struct readarg *r = a;
	gort_select_case cases[] = {
		{ .c = gort_ctx_done(r->ctx), .dir = GORT_RECV },
		{ .c = r->stop, .dir = GORT_RECV },
	};
	if (gort_select(cases, 2, 1) == 0)
		gort_close(r->fd);
}

static void reader(void *a)
{
	struct readarg *r = a;
	char c;
	gort_atomic_store32(&r->reading, 1);
	ssize_t n = gort_read(r->fd, &c, 1, GORT_FOREVER);
	gort_chan_close(r->stop);
	int err = gort_ctx_err(r->ctx);
	long res[2] = { (long)n, err };
	gort_chan_send(r->result, res);
}

static int read_cancel_main(void *a)
{
	(void)a;
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	struct readarg r = {
		.ctx = gort_ctx_with_cancel(gort_ctx_background()),
		.fd = p[0],
		.stop = gort_chan_make(0, 0),
		.result = gort_chan_make(2 * sizeof(long), 1),
	};
	gort_go(watcher, &r);
	gort_go(reader, &r);
	/* In the poller: the close must wake a reader that waits, not find
	 * one yet to begin (which would get -EBADF, its number being free). */
	WAIT_FOR(gort_atomic_load32(&r.reading) && gort_atomic_load32(&gort_sched_netpoll_waiters) == 1,
		"the reader to wait in the poller");
	/* Nothing will ever be written: only the cancel can end the read. */
	gort_ctx_cancel(r.ctx);
	long res[2];
	recv_or_hang(r.result, res, "the read to be cancelled");
	ck_assert_int_eq(res[0], -GORT_ECLOSED);
	ck_assert_int_eq(res[1], -ECANCELED);
	gort_ctx_free(r.ctx);
	gort_chan_free(r.stop);
	gort_chan_free(r.result);
	close(p[1]);
	return 0;
}

START_TEST(blocked_read_cancel_idiom)
{
	RUN(2, read_cancel_main, NULL);
}
END_TEST

/* --- concurrency ------------------------------------------------------------------ */

#define NRACE 64
static gort_ctx *race_root;
static gort_ctx *race_kid[NRACE];
static gort_waitgroup race_wg;

static void race_worker(void *a)
{
	intptr_t i = (intptr_t)a;
	/* Each makes and frees grandchildren while the root is cancelled
	 * under it, and cancels its own child: every order of every pair. */
	for (int k = 0; k < 50; k++) {
		gort_ctx *g = gort_ctx_with_timeout(race_kid[i], (k % 3) * MS);
		if (k % 2)
			gort_ctx_cancel(g);
		gort_yield();
		gort_ctx_free(g);
	}
	if (i % 2)
		gort_ctx_cancel(race_kid[i]);
	gort_waitgroup_done(&race_wg);
}

static void race_canceller(void *a)
{
	(void)a;
	gort_yield();
	gort_ctx_cancel(race_root);
	gort_waitgroup_done(&race_wg);
}

static int race_main(void *a)
{
	(void)a;
	for (int round = 0; round < 20 / SCALE + 1; round++) {
		race_root = gort_ctx_with_cancel(gort_ctx_background());
		for (int i = 0; i < NRACE; i++)
			race_kid[i] = gort_ctx_with_cancel(race_root);
		gort_waitgroup_add(&race_wg, NRACE + 1);
		for (intptr_t i = 0; i < NRACE; i++)
			gort_go(race_worker, (void *)i);
		gort_go(race_canceller, NULL);
		gort_waitgroup_wait(&race_wg);
		for (int i = 0; i < NRACE; i++) {
			int e = gort_ctx_err(race_kid[i]);
			ck_assert(e == -ECANCELED);
			ck_assert(closed(gort_ctx_done(race_kid[i])));
		}
		/* free the root first: its children outlive it */
		gort_ctx_free(race_root);
		for (int i = 0; i < NRACE; i++)
			gort_ctx_free(race_kid[i]);
	}
	return 0;
}

START_TEST(concurrent_cancel_and_free)
{
	RUN(4, race_main, NULL);
}
END_TEST

/* A thread gort did not start may cancel too. */
static void *foreign_cancel(void *a)
{
	gort_ctx_cancel(a);
	return NULL;
}

static int foreign_main(void *a)
{
	(void)a;
	gort_ctx *c = gort_ctx_with_cancel(gort_ctx_background());
	gort_ctx *kid = gort_ctx_with_cancel(c);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, foreign_cancel, c), 0);
	recv_or_hang(gort_ctx_done(kid), NULL, "a cancel from a foreign thread");
	pthread_join(t, NULL);
	ck_assert_int_eq(gort_ctx_err(kid), -ECANCELED);
	gort_ctx_free(kid);
	gort_ctx_free(c);
	return 0;
}

START_TEST(foreign_thread_cancels)
{
	RUN(2, foreign_main, NULL);
}
END_TEST

/* --- memory ----------------------------------------------------------------------- */

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	ck_assert_ptr_nonnull(f);
	long size, resident;
	ck_assert_int_eq(fscanf(f, "%ld %ld", &size, &resident), 2);
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

static void churn(int n)
{
	gort_ctx *parent = gort_ctx_with_cancel(gort_ctx_background());
	for (int i = 0; i < n; i++) {
		gort_ctx *c = gort_ctx_with_timeout(i % 2 ? parent : gort_ctx_background(),
			3600000 * MS);
		if (i % 3)
			gort_ctx_cancel(c);
		gort_ctx_free(c);
	}
	gort_ctx_free(parent);
}

static int memory_main(void *a)
{
	(void)a;
	int n = 100000 / SCALE;
	churn(2000);   /* the pools' quarantines, the timer heap's array */
	long before = rss_bytes();
	churn(n);
	long after = rss_bytes();
	/* 100,000 contexts kept would be tens of MiB (a context, a channel
	 * and a heap slot each); reuse keeps it to noise. */
	ck_assert_msg(after - before < 4L << 20, "RSS grew by %ld KiB over %d contexts",
		(after - before) >> 10, n);
	return 0;
}

START_TEST(churn_does_not_grow_rss)
{
	RUN(2, memory_main, NULL);
}
END_TEST

/* --- misuse ----------------------------------------------------------------------- */

static int freed_err_main(void *a)
{
	(void)a;
	gort_ctx *c = gort_ctx_with_cancel(gort_ctx_background());
	gort_ctx_free(c);
	gort_ctx_err(c);
	return 0;
}

static int freed_free_main(void *a)
{
	(void)a;
	gort_ctx *c = gort_ctx_with_timeout(gort_ctx_background(), 1000 * MS);
	gort_ctx_free(c);
	gort_ctx_free(c);
	return 0;
}

static int freed_parent_main(void *a)
{
	(void)a;
	gort_ctx *c = gort_ctx_with_cancel(gort_ctx_background());
	gort_ctx_free(c);
	gort_ctx_with_cancel(c);
	return 0;
}

static int cancel_bg_main(void *a)
{
	(void)a;
	gort_ctx_cancel(gort_ctx_background());
	return 0;
}

static int null_parent_main(void *a)
{
	(void)a;
	gort_ctx_with_timeout(NULL, MS);
	return 0;
}

START_TEST(freed_context_is_fatal)
{
	struct child c;
	expect_death_in(freed_err_main, NULL, 1, &c,
		(const char *[]){ "fatal error: gort_ctx_err of a freed context", NULL });
	expect_death_in(freed_free_main, NULL, 1, &c,
		(const char *[]){ "fatal error: gort_ctx_free of a freed context", NULL });
	expect_death_in(freed_parent_main, NULL, 1, &c,
		(const char *[]){ "fatal error: gort_ctx_with_cancel of a freed context", NULL });
	expect_death_in(cancel_bg_main, NULL, 1, &c,
		(const char *[]){ "panic: gort_ctx_cancel of the background context", NULL });
	expect_death_in(null_parent_main, NULL, 1, &c,
		(const char *[]){ "panic: gort_ctx_with_timeout: cannot create context from NULL parent",
		                  NULL });
}
END_TEST

/* --- the weighted semaphore -------------------------------------------------------- */

#define NBOUND 64
#define WEIGHT 4
static gort_semaphore *bsem;
static volatile uint32_t inflight, maxflight;
static gort_chan *gate;
static gort_waitgroup bwg;
static gort_mutex bmu;

static void bound_worker(void *a)
{
	int64_t w = (int64_t)(intptr_t)a;
	ck_assert_int_eq(gort_semaphore_acquire(bsem, w, NULL), 0);
	gort_mutex_lock(&bmu);
	inflight += (uint32_t)w;
	if (inflight > maxflight)
		maxflight = inflight;
	gort_mutex_unlock(&bmu);
	gort_chan_recv(gate, NULL);   /* closed once the bound was reached */
	gort_yield();
	gort_mutex_lock(&bmu);
	inflight -= (uint32_t)w;
	gort_mutex_unlock(&bmu);
	gort_semaphore_release(bsem, w);
	gort_waitgroup_done(&bwg);
}

static uint32_t load_inflight(void)
{
	gort_mutex_lock(&bmu);
	uint32_t v = inflight;
	gort_mutex_unlock(&bmu);
	return v;
}

static int bound_main(void *a)
{
	(void)a;
	for (int round = 0; round < 2; round++) {
		/* round 0: weight 1 each; round 1: weights 1 to 3 */
		bsem = gort_semaphore_new(WEIGHT);
		gate = gort_chan_make(0, 0);
		inflight = maxflight = 0;
		gort_waitgroup_add(&bwg, NBOUND);
		for (int i = 0; i < NBOUND; i++)
			gort_go(bound_worker, (void *)(intptr_t)(round == 0 ? 1 : 1 + i % 3));
		if (round == 0)
			WAIT_FOR(load_inflight() >= WEIGHT, "the semaphore to fill");
		else
			WAIT_FOR(load_inflight() >= WEIGHT - 2, "the semaphore to fill");
		gort_mutex_lock(&bmu);
		ck_assert_msg(maxflight <= WEIGHT, "%u units held at once, of %d", maxflight, WEIGHT);
		gort_mutex_unlock(&bmu);
		WAIT_FOR(gort_semaphore_waiters(bsem) > 0, "the others to queue");
		gort_chan_close(gate);
		gort_waitgroup_wait(&bwg);
		ck_assert_uint_le(maxflight, WEIGHT);
		if (round == 0)
			ck_assert_uint_eq(maxflight, WEIGHT);
		ck_assert_int_eq(gort_semaphore_waiters(bsem), 0);
		ck_assert(gort_semaphore_tryacquire(bsem, WEIGHT));   /* all released */
		gort_semaphore_release(bsem, WEIGHT);
		gort_semaphore_free(bsem);
		gort_chan_free(gate);
	}
	return 0;
}

START_TEST(semaphore_bounds_concurrency)
{
	RUN(4, bound_main, NULL);
}
END_TEST

#define NFIFO 8
static int fifo_order[NFIFO];
static volatile uint32_t fifo_n;
static gort_semaphore *fsem;
static gort_waitgroup fwg;

struct fifoarg { int id; int64_t n; };

static void fifo_worker(void *a)
{
	struct fifoarg *f = a;
	ck_assert_int_eq(gort_semaphore_acquire(fsem, f->n, NULL), 0);
	fifo_order[gort_atomic_add32(&fifo_n, 1) - 1] = f->id;
	gort_semaphore_release(fsem, f->n);
	gort_waitgroup_done(&fwg);
}

static int fifo_main(void *a)
{
	(void)a;
	static struct fifoarg args[NFIFO];
	fsem = gort_semaphore_new(10);
	ck_assert(gort_semaphore_tryacquire(fsem, 10));
	gort_waitgroup_add(&fwg, NFIFO);
	for (int i = 0; i < NFIFO; i++) {
		/* mixed weights: a large one must not be overtaken by small ones */
		args[i] = (struct fifoarg){ .id = i, .n = i == 2 ? 10 : 6 };
		gort_go(fifo_worker, &args[i]);
		WAIT_FOR(gort_semaphore_waiters(fsem) == i + 1, "a waiter to queue");
	}
	/* Weights of 6 (and one of 10) are served one at a time, so the
	 * order they are served in is the order they record.  Nine units
	 * free: the two ahead of the weight-10 waiter go, one after the
	 * other, and nobody behind it, though 9 would fit a 6. */
	gort_semaphore_release(fsem, 9);
	WAIT_FOR(gort_atomic_load32(&fifo_n) == 2, "the two waiters ahead of the large one");
	ck_assert_int_eq(gort_semaphore_waiters(fsem), NFIFO - 2);
	gort_semaphore_release(fsem, 1);
	gort_waitgroup_wait(&fwg);
	for (int i = 0; i < NFIFO; i++)
		ck_assert_msg(fifo_order[i] == i, "served %d at %d", fifo_order[i], i);
	gort_semaphore_free(fsem);
	return 0;
}

START_TEST(semaphore_fifo)
{
	RUN(4, fifo_main, NULL);
}
END_TEST

struct acqarg {
	gort_semaphore *s;
	int64_t n;
	gort_ctx *ctx;
	gort_chan *result;
};

static void acquirer(void *a)
{
	struct acqarg *q = a;
	int r = gort_semaphore_acquire(q->s, q->n, q->ctx);
	gort_chan_send(q->result, &r);
}

static int try_main(void *a)
{
	(void)a;
	gort_semaphore *s = gort_semaphore_new(10);
	ck_assert(gort_semaphore_tryacquire(s, 9));
	ck_assert(!gort_semaphore_tryacquire(s, 2));
	struct acqarg q = { s, 5, gort_ctx_with_cancel(gort_ctx_background()),
	                    gort_chan_make(sizeof(int), 1) };
	gort_go(acquirer, &q);
	WAIT_FOR(gort_semaphore_waiters(s) == 1, "the waiter to queue");
	/* One unit is free, but someone waits: TryAcquire fails, even for 0. */
	ck_assert(!gort_semaphore_tryacquire(s, 1));
	ck_assert(!gort_semaphore_tryacquire(s, 0));
	gort_ctx_cancel(q.ctx);
	int r;
	recv_or_hang(q.result, &r, "the cancelled acquire");
	ck_assert_int_eq(r, -ECANCELED);
	ck_assert_int_eq(gort_semaphore_waiters(s), 0);
	ck_assert(gort_semaphore_tryacquire(s, 1));   /* nothing taken by the waiter */
	ck_assert(!gort_semaphore_tryacquire(s, 1));
	gort_semaphore_release(s, 10);
	gort_ctx_free(q.ctx);
	gort_chan_free(q.result);
	gort_semaphore_free(s);
	return 0;
}

START_TEST(semaphore_tryacquire_fails_with_waiters)
{
	RUN(2, try_main, NULL);
}
END_TEST

static int done_ctx_main(void *a)
{
	(void)a;
	gort_semaphore *s = gort_semaphore_new(2);
	gort_ctx *c = gort_ctx_with_cancel(gort_ctx_background());
	gort_ctx_cancel(c);
	ck_assert_int_eq(gort_semaphore_acquire(s, 1, c), -ECANCELED);
	gort_ctx *e = gort_ctx_with_timeout(gort_ctx_background(), 0);
	ck_assert_int_eq(gort_semaphore_acquire(s, 1, e), -ETIMEDOUT);
	ck_assert(gort_semaphore_tryacquire(s, 2));   /* nothing was taken */
	/* A wait that its deadline ends: the reason, never early, nothing held. */
	gort_ctx *d = gort_ctx_with_timeout(gort_ctx_background(), 10 * MS);
	ck_assert_int_eq(gort_semaphore_acquire(s, 1, d), -ETIMEDOUT);
	ck_assert_int_ge(gort_now(), gort_ctx_deadline(d));
	ck_assert_int_eq(gort_semaphore_waiters(s), 0);
	gort_semaphore_release(s, 2);
	/* More than the size: waits for the context, and blocks nobody. */
	gort_ctx *big = gort_ctx_with_timeout(gort_ctx_background(), 10 * MS);
	struct acqarg q = { s, 3, big, gort_chan_make(sizeof(int), 1) };
	gort_go(acquirer, &q);
	ck_assert_int_eq(gort_semaphore_acquire(s, 2, NULL), 0);
	int r;
	recv_or_hang(q.result, &r, "the acquire larger than the size");
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_assert_int_ge(gort_now(), gort_ctx_deadline(big));
	gort_semaphore_release(s, 2);
	gort_chan_free(q.result);
	gort_ctx_free(big);
	gort_ctx_free(d);
	gort_ctx_free(e);
	gort_ctx_free(c);
	gort_semaphore_free(s);
	return 0;
}

START_TEST(semaphore_done_context_takes_nothing)
{
	RUN(2, done_ctx_main, NULL);
}
END_TEST

static int giveup_main(void *a)
{
	(void)a;
	gort_semaphore *s = gort_semaphore_new(10);
	ck_assert(gort_semaphore_tryacquire(s, 5));
	struct acqarg bigq = { s, 10, gort_ctx_with_cancel(gort_ctx_background()),
	                       gort_chan_make(sizeof(int), 1) };
	struct acqarg small = { s, 3, NULL, gort_chan_make(sizeof(int), 1) };
	gort_go(acquirer, &bigq);
	WAIT_FOR(gort_semaphore_waiters(s) == 1, "the large waiter to queue");
	gort_go(acquirer, &small);
	WAIT_FOR(gort_semaphore_waiters(s) == 2, "the small waiter to queue");
	/* 5 units are free, enough for the small one, but it waits its turn. */
	gort_select_case sc = { .c = small.result, .dir = GORT_RECV };
	ck_assert_int_eq(gort_select(&sc, 1, 0), -1);
	gort_ctx_cancel(bigq.ctx);
	int r;
	recv_or_hang(bigq.result, &r, "the large waiter giving up");
	ck_assert_int_eq(r, -ECANCELED);
	recv_or_hang(small.result, &r, "the small waiter, once the large one gave up");
	ck_assert_int_eq(r, 0);
	ck_assert(gort_semaphore_tryacquire(s, 2));
	ck_assert(!gort_semaphore_tryacquire(s, 1));
	gort_semaphore_release(s, 10);
	gort_ctx_free(bigq.ctx);
	gort_chan_free(bigq.result);
	gort_chan_free(small.result);
	gort_semaphore_free(s);
	return 0;
}

START_TEST(semaphore_giving_up_serves_those_behind)
{
	RUN(2, giveup_main, NULL);
}
END_TEST

static int overrelease_main(void *a)
{
	(void)a;
	gort_semaphore *s = gort_semaphore_new(3);
	ck_assert(gort_semaphore_tryacquire(s, 2));
	gort_semaphore_release(s, 3);
	return 0;
}

static int freed_sem_main(void *a)
{
	(void)a;
	gort_semaphore *s = gort_semaphore_new(3);
	gort_semaphore_free(s);
	gort_semaphore_acquire(s, 1, NULL);
	return 0;
}

static int negative_main(void *a)
{
	(void)a;
	gort_semaphore *s = gort_semaphore_new(3);
	gort_semaphore_acquire(s, -1, NULL);
	return 0;
}

static void sem_holder(void *a)
{
	gort_semaphore_acquire(a, 1, NULL);
}

static int busy_free_main(void *a)
{
	(void)a;
	gort_semaphore *s = gort_semaphore_new(1);
	ck_assert(gort_semaphore_tryacquire(s, 1));
	gort_go(sem_holder, s);
	while (gort_semaphore_waiters(s) == 0)
		gort_yield();
	gort_semaphore_free(s);
	return 0;
}

/* The same with a wait for more than the size, which is not queued but
 * waits on the semaphore all the same: counted, and a free panics. */
static void sem_oversize(void *a)
{
	gort_semaphore_acquire(a, 5, NULL);
}

static int busy_free_oversize_main(void *a)
{
	(void)a;
	gort_semaphore *s = gort_semaphore_new(4);
	gort_go(sem_oversize, s);
	while (gort_semaphore_waiters(s) == 0)
		gort_yield();
	ck_assert(gort_semaphore_tryacquire(s, 4));   /* it blocks nobody */
	gort_semaphore_free(s);
	return 0;
}

START_TEST(semaphore_misuse_dies)
{
	struct child c;
	expect_death_in(overrelease_main, NULL, 1, &c,
		(const char *[]){ "panic: semaphore: released more than held", NULL });
	expect_death_in(freed_sem_main, NULL, 1, &c,
		(const char *[]){ "fatal error: gort_semaphore_acquire of a freed semaphore", NULL });
	expect_death_in(negative_main, NULL, 1, &c,
		(const char *[]){ "panic: semaphore: gort_semaphore_acquire of a negative weight", NULL });
	expect_death_in(busy_free_main, NULL, 2, &c,
		(const char *[]){ "panic: gort_semaphore_free of a semaphore with goroutines waiting", NULL });
	expect_death_in(busy_free_oversize_main, NULL, 2, &c,
		(const char *[]){ "panic: gort_semaphore_free of a semaphore with goroutines waiting", NULL });
}
END_TEST

static Suite *context_suite(void)
{
	Suite *s = suite_create("context");
	TCase *tc = tcase_create("context");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, done_closed_on_cancel);
	tcase_add_test(tc, parent_cancels_tree);
	tcase_add_test(tc, child_cancel_spares_parent_and_siblings);
	tcase_add_test(tc, deadline_fires_never_early);
	tcase_add_test(tc, freed_before_deadline_never_fires);
	tcase_add_test(tc, read_takes_context_deadline);
	tcase_add_test(tc, cancellable_wait_idiom);
	tcase_add_test(tc, blocked_read_cancel_idiom);
	tcase_add_test(tc, concurrent_cancel_and_free);
	tcase_add_test(tc, foreign_thread_cancels);
	tcase_add_test(tc, churn_does_not_grow_rss);
	tcase_add_test(tc, freed_context_is_fatal);
	suite_add_tcase(s, tc);
	tc = tcase_create("semaphore");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, semaphore_bounds_concurrency);
	tcase_add_test(tc, semaphore_fifo);
	tcase_add_test(tc, semaphore_tryacquire_fails_with_waiters);
	tcase_add_test(tc, semaphore_done_context_takes_nothing);
	tcase_add_test(tc, semaphore_giving_up_serves_those_behind);
	tcase_add_test(tc, semaphore_misuse_dies);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(context_suite());
}
