/*
 * test_local.c -- goroutine-local values (sched/local.c): they follow a
 * goroutine from thread to thread, are inherited by the keys that say
 * so, are destroyed once per goroutine, leave nothing in a reused G, and
 * every misuse is an error value or a panic that names it.
 */
#include <pthread.h>
#include <sys/syscall.h>

#include "atomic/atomic.h"
#include "testutil.h"

#include "gort.h"

static int tid(void)
{
	return (int)syscall(SYS_gettid);
}

static void wait_alone(void)
{
	/* done is not dead: the last goroutines may still be on their way out */
	for (int i = 0; gort_numgoroutine() > 1; i++) {
		ck_assert_msg(i < 100000, "goroutines did not exit: %d left", gort_numgoroutine());
		gort_sleep(100000);
	}
}

/* --- a value follows its goroutine to another thread ------------------------
 * Arranged, not hoped for: G notes its thread T and parks on a channel;
 * W, started by G, runs next on G's P -- on T -- and wires itself there
 * (gort_lock_thread), wakes G, then parks wired.  T runs nothing but W
 * while W is wired, so G resumes on another thread, whatever the load.
 * (If W did not land on T, the round is tried again.) */
static int fkey;
static gort_chan *fwake, *frelease;
static volatile int ftid_w;

static void wirer(void *arg)
{
	(void)arg;
	gort_lock_thread();
	ftid_w = tid();
	gort_chan_send(fwake, NULL);
	gort_chan_recv(frelease, NULL);
	gort_unlock_thread();
}

static int follow_main(void *arg)
{
	(void)arg;
	fkey = gort_local_create(NULL);
	ck_assert_int_gt(fkey, 0);
	fwake = gort_chan_make(0, 0);
	frelease = gort_chan_make(0, 0);
	int value = 42, moved = 0;
	ck_assert_int_eq(gort_local_set(fkey, &value), 0);
	for (int round = 0; round < 100 && !moved; round++) {
		int t1 = tid();
		gort_go(wirer, NULL);
		gort_chan_recv(fwake, NULL);
		int t2 = tid();
		ck_assert_ptr_eq(gort_local_get(fkey), &value);
		if (ftid_w == t1) {
			ck_assert_int_ne(t2, t1);   /* T is W's alone */
			moved = 1;
		}
		gort_chan_send(frelease, NULL);
		ck_assert_ptr_eq(gort_local_get(fkey), &value);
	}
	ck_assert_msg(moved, "the wired goroutine never landed on the waiter's thread");
	return 0;
}

START_TEST(local_follows_arranged)
{
	RUN(2, follow_main, NULL);
}
END_TEST

/* And counted over many: goroutines on 4 Ps that yield, sleep and pass a
 * token, checking their value after each; how many moved is printed, and
 * at least one move over all of them is asserted (with the arranged
 * test above as the guarantee that a move is possible at all, this one
 * is about values surviving whatever moves happen). */
#define NMANY 32
#define STEPS (2000 / SCALE)
static int mkey;
static volatile uint32_t moves, checks;
static gort_waitgroup mwg;
static gort_chan *token;

static void many(void *arg)
{
	intptr_t me = (intptr_t)arg;
	ck_assert_int_eq(gort_local_set(mkey, (void *)(me + 1)), 0);
	int t = tid();
	for (int i = 0; i < STEPS; i++) {
		switch (i % 3) {
		case 0: gort_yield(); break;
		case 1: gort_sleep(1000); break;
		default: {
			int v = 0;
			gort_chan_send(token, &v);
			gort_chan_recv(token, &v);
		}
		}
		ck_assert_ptr_eq(gort_local_get(mkey), (void *)(me + 1));
		atomic_add32(&checks, 1);
		int now = tid();
		if (now != t) {
			atomic_add32(&moves, 1);
			t = now;
		}
	}
	gort_waitgroup_done(&mwg);
}

static int many_main(void *arg)
{
	(void)arg;
	mkey = gort_local_create(NULL);
	token = gort_chan_make(sizeof(int), NMANY);
	gort_waitgroup_add(&mwg, NMANY);
	for (intptr_t i = 0; i < NMANY; i++)
		gort_go(many, (void *)i);
	gort_waitgroup_wait(&mwg);
	printf("local_follows_many: %u checks, %u moves between threads\n", checks, moves);
	ck_assert_uint_eq(checks, NMANY * STEPS);
	ck_assert_uint_gt(moves, 0);
	return 0;
}

START_TEST(local_follows_many)
{
	RUN(4, many_main, NULL);
}
END_TEST

/* --- inheritance, per key ----------------------------------------------------- */
static int kpriv, kshare, kcopy;
static volatile uint32_t ncopies;
static gort_chan *idone;

static void *copier(void *v)
{
	atomic_add32(&ncopies, 1);
	return (char *)v + 1;   /* a different pointer: the child's own */
}

struct seen {
	void *priv, *share, *copy;
};

static void grandchild(void *arg)
{
	struct seen *s = arg;
	s->priv = gort_local_get(kpriv);
	s->share = gort_local_get(kshare);
	s->copy = gort_local_get(kcopy);
	gort_chan_send(idone, NULL);
}

static void child(void *arg)
{
	struct seen *s = arg;
	s[0].priv = gort_local_get(kpriv);
	s[0].share = gort_local_get(kshare);
	s[0].copy = gort_local_get(kcopy);
	gort_local_set(kpriv, (void *)0x77);   /* its own, not given on */
	gort_go(grandchild, &s[1]);
}

static void *foreign_spawn(void *arg)
{
	gort_foreign_attach();      /* main waits meanwhile: not a deadlock */
	gort_go(grandchild, arg);   /* no parent goroutine: nothing to inherit */
	gort_foreign_detach();
	return NULL;
}

static void afterfunc_child(void *arg)
{
	grandchild(arg);
}

static int inherit_main(void *arg)
{
	(void)arg;
	static char base[8];
	kpriv = gort_local_create(NULL);
	kshare = gort_local_create_inherited(NULL, NULL);
	kcopy = gort_local_create_inherited(NULL, copier);
	ck_assert(kpriv > 0 && kshare > 0 && kcopy > 0);
	idone = gort_chan_make(0, 0);
	gort_local_set(kpriv, &base[0]);
	gort_local_set(kshare, &base[1]);
	gort_local_set(kcopy, &base[2]);

	struct seen s[2];
	memset(s, 0xff, sizeof s);
	gort_go(child, s);
	gort_chan_recv(idone, NULL);
	ck_assert_ptr_null(s[0].priv);
	ck_assert_ptr_eq(s[0].share, &base[1]);
	ck_assert_ptr_eq(s[0].copy, &base[3]);   /* copy(&base[2]) */
	ck_assert_ptr_null(s[1].priv);           /* the child's private value stays its own */
	ck_assert_ptr_eq(s[1].share, &base[1]);
	ck_assert_ptr_eq(s[1].copy, &base[4]);   /* copy of the child's copy */
	ck_assert_uint_eq(ncopies, 2);
	/* the parent's values are untouched */
	ck_assert_ptr_eq(gort_local_get(kpriv), &base[0]);
	ck_assert_ptr_eq(gort_local_get(kcopy), &base[2]);

	/* A NULL value is not inherited, nor copied. */
	gort_local_set(kcopy, NULL);
	memset(s, 0xff, sizeof s);
	gort_go(grandchild, &s[0]);
	gort_chan_recv(idone, NULL);
	ck_assert_ptr_null(s[0].copy);
	ck_assert_uint_eq(ncopies, 2);

	/* gort_afterfunc's goroutines and a foreign thread's inherit nothing. */
	memset(s, 0xff, sizeof s);
	gort_timer *t = gort_afterfunc(0, afterfunc_child, &s[0]);
	gort_chan_recv(idone, NULL);
	ck_assert_ptr_null(s[0].share);
	gort_timer_free(t);
	memset(s, 0xff, sizeof s);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, foreign_spawn, &s[0]), 0);
	gort_syscall_enter();   /* the child exists once the thread is gone */
	pthread_join(th, NULL);
	gort_syscall_exit();
	gort_chan_recv(idone, NULL);
	ck_assert_ptr_null(s[0].share);
	ck_assert_ptr_null(s[0].priv);
	return 0;
}

START_TEST(local_inherit)
{
	RUN(2, inherit_main, NULL);
}
END_TEST

/* --- destructors: once per goroutine with a non-NULL value ------------------- */
#define NDTOR 200
static int dkey, dkey2;
static volatile uint32_t dcalls[NDTOR + 1], dother;
static gort_waitgroup dwg;

static void dtor(void *v)
{
	intptr_t i = (intptr_t)v;
	ck_assert(i >= 1 && i <= NDTOR);
	atomic_add32(&dcalls[i], 1);
	if (i % 7 == 0) {
		/* set again from a destructor: looked at again */
		gort_local_set(dkey2, (void *)i);
	}
	gort_yield();   /* destructors run on the goroutine, and may block */
}

static void dtor2(void *v)
{
	(void)v;
	atomic_add32(&dother, 1);
}

static void dworker(void *arg)
{
	intptr_t i = (intptr_t)arg;
	switch (i % 4) {
	case 0: break;                                         /* never sets */
	case 1: gort_local_set(dkey, (void *)i); break;        /* a value */
	case 2: gort_local_set(dkey, (void *)i);               /* set, then cleared */
		gort_local_set(dkey, NULL); break;
	default: gort_local_set(dkey, (void *)i);              /* a value, and gort_exit */
		gort_waitgroup_done(&dwg);
		gort_exit();
	}
	gort_waitgroup_done(&dwg);
}

static int dtor_main(void *arg)
{
	(void)arg;
	dkey = gort_local_create(dtor);
	dkey2 = gort_local_create(dtor2);
	gort_waitgroup_add(&dwg, NDTOR);
	for (intptr_t i = 1; i <= NDTOR; i++)
		gort_go(dworker, (void *)i);
	gort_waitgroup_wait(&dwg);
	wait_alone();
	uint32_t want_other = 0;
	for (int i = 1; i <= NDTOR; i++) {
		uint32_t want = i % 4 == 1 || i % 4 == 3;
		ck_assert_msg(dcalls[i] == want, "goroutine %d: destructor called %u times, want %u",
			i, dcalls[i], want);
		want_other += want && i % 7 == 0;
	}
	ck_assert_uint_eq(dother, want_other);
	return 0;
}

START_TEST(local_destructor_once)
{
	RUN(_i == 0 ? 1 : 4, dtor_main, NULL);
}
END_TEST

/* --- a reused G starts empty ------------------------------------------------------
 * On one P a dead G goes to the P's free list and the next gort_go takes
 * it back (LIFO): the second goroutine runs on the first one's stack,
 * which the test checks by the address of a local, before asserting it
 * sees none of the first one's values -- nor, for a deleted key whose
 * index a new key took, the old value under the new key. */
static int rkeys[3];
static uintptr_t rstack[2];
static void *rgot[2][3];
static gort_chan *rdone;

static void rfirst(void *arg)
{
	(void)arg;
	int here;
	rstack[0] = (uintptr_t)&here;
	for (int k = 0; k < 3; k++)
		gort_local_set(rkeys[k], (void *)(uintptr_t)(0x100 + k));
	gort_chan_send(rdone, NULL);
}

static void rsecond(void *arg)
{
	(void)arg;
	int here;
	rstack[1] = (uintptr_t)&here;
	for (int k = 0; k < 3; k++)
		rgot[1][k] = gort_local_get(rkeys[k]);
	gort_chan_send(rdone, NULL);
}

static int reuse_main(void *arg)
{
	(void)arg;
	rkeys[0] = gort_local_create(NULL);
	rkeys[1] = gort_local_create_inherited(NULL, NULL);
	rkeys[2] = gort_local_create(NULL);
	rdone = gort_chan_make(0, 0);
	int reused = 0;
	for (int round = 0; round < 10 && !reused; round++) {
		gort_go(rfirst, NULL);
		gort_chan_recv(rdone, NULL);
		wait_alone();
		gort_go(rsecond, NULL);
		gort_chan_recv(rdone, NULL);
		wait_alone();
		reused = rstack[0] - rstack[1] + 4096 < 8192;
		for (int k = 0; k < 3; k++)
			ck_assert_ptr_null(rgot[1][k]);
	}
	ck_assert_msg(reused, "the second goroutine never got the first one's G");

	/* A deleted key's value, left in a slot whose index a new key takes,
	 * is not the new key's. */
	int old = gort_local_create(NULL);
	ck_assert_int_eq(gort_local_set(old, (void *)0x55), 0);
	gort_local_delete(old);
	int fresh = gort_local_create(NULL);
	ck_assert_int_ne(fresh, old);
	ck_assert_int_eq(fresh & (GORT_LOCAL_MAX - 1), old & (GORT_LOCAL_MAX - 1));   /* the same index */
	ck_assert_ptr_null(gort_local_get(fresh));
	ck_assert_int_eq(gort_local_set(fresh, (void *)0x66), 0);
	ck_assert_ptr_eq(gort_local_get(fresh), (void *)0x66);
	return 0;
}

START_TEST(local_reused_g_is_clean)
{
	RUN(1, reuse_main, NULL);
}
END_TEST

/* --- every key, and the limit -------------------------------------------------- */
static int limit_main(void *arg)
{
	(void)arg;
	static int k[GORT_LOCAL_MAX];
	for (int i = 0; i < GORT_LOCAL_MAX; i++) {
		k[i] = gort_local_create(NULL);
		ck_assert_msg(k[i] > 0, "key %d: %d", i, k[i]);
	}
	ck_assert_int_eq(gort_local_create(NULL), -EAGAIN);
	ck_assert_int_eq(gort_local_create_inherited(NULL, NULL), -EAGAIN);
	/* a value under every one (the G's array grows from 4 slots to all) */
	for (int i = 0; i < GORT_LOCAL_MAX; i++)
		ck_assert_int_eq(gort_local_set(k[i], (void *)(intptr_t)(i + 1)), 0);
	for (int i = 0; i < GORT_LOCAL_MAX; i++)
		ck_assert_ptr_eq(gort_local_get(k[i]), (void *)(intptr_t)(i + 1));
	gort_local_delete(k[77]);
	int again = gort_local_create(NULL);
	ck_assert_int_gt(again, 0);
	ck_assert_int_ne(again, k[77]);
	ck_assert_ptr_null(gort_local_get(again));
	ck_assert_int_eq(gort_local_create(NULL), -EAGAIN);
	return 0;
}

START_TEST(local_limit)
{
	RUN(1, limit_main, NULL);
}
END_TEST

/* Outside a goroutine (here: before gort_main, and a plain thread):
 * nothing to hold a value. */
static void *plain_thread(void *arg)
{
	int key = (int)(intptr_t)arg;
	ck_assert_int_eq(gort_local_set(key, (void *)1), -ESRCH);
	ck_assert_ptr_null(gort_local_get(key));
	return NULL;
}

START_TEST(local_outside_goroutine)
{
	int key = gort_local_create(NULL);
	ck_assert_int_gt(key, 0);
	ck_assert_int_eq(gort_local_set(key, (void *)1), -ESRCH);
	ck_assert_ptr_null(gort_local_get(key));
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, plain_thread, (void *)(intptr_t)key), 0);
	pthread_join(th, NULL);
	gort_local_delete(key);
}
END_TEST

/* --- misuse: keys that are not live ------------------------------------------------ */
static int misuse_case;

static int misuse_main(void *arg)
{
	(void)arg;
	int k = gort_local_create(NULL);
	switch (misuse_case) {
	case 0: gort_local_delete(k); gort_local_get(k); break;
	case 1: gort_local_delete(k); gort_local_set(k, (void *)1); break;
	case 2: gort_local_delete(k); gort_local_delete(k); break;
	case 3: gort_local_get(0); break;
	case 4: gort_local_set(k + GORT_LOCAL_MAX * 1000, NULL); break;   /* a generation never made */
	case 5: gort_local_get(-3); break;
	default: gort_local_get(5); break;   /* generation 0: no key ever has it */
	}
	return 0;
}

START_TEST(dies_local_bad_key)
{
	static const char *const msgs[] = {
		"panic: gort_local_get: key %d was deleted\n",
		"panic: gort_local_set: key %d was deleted\n",
		"panic: gort_local_delete: key %d was deleted\n",
		"panic: gort_local_get: key 0 was never created",
		"panic: gort_local_set: key %d was never created",
		"panic: gort_local_get: key -3 was never created",
		"panic: gort_local_get: key 5 was never created",
	};
	/* The first key a fresh process makes: index 0, generation 1. */
	int first = 1 << 7;
	char want[128];
	snprintf(want, sizeof want, msgs[_i], _i == 4 ? first + GORT_LOCAL_MAX * 1000 : first);
	misuse_case = _i;
	struct child c;
	expect_death_in(misuse_main, NULL, 1, &c, (const char *const[]){ want,
		"goroutine 1 [running]:\n", "misuse_main(", NULL });
}
END_TEST

static Suite *local_suite(void)
{
	Suite *s = suite_create("local");
	TCase *tc = tcase_create("values");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, local_follows_arranged);
	tcase_add_test(tc, local_follows_many);
	tcase_add_test(tc, local_inherit);
	tcase_add_loop_test(tc, local_destructor_once, 0, 2);
	tcase_add_test(tc, local_reused_g_is_clean);
	tcase_add_test(tc, local_limit);
	tcase_add_test(tc, local_outside_goroutine);
	tcase_add_loop_test(tc, dies_local_bad_key, 0, 7);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(local_suite());
}
