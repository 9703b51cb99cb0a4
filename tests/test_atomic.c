/*
 * test_atomic.c -- package atomic: every operation on every backend this
 * target has, their values at the edges, exact totals under contention,
 * no torn 64-bit reads, the lock table, and the refusal of misaligned
 * words.
 */
#include <pthread.h>

#include "atomic/atomic.h"
#include "testutil.h"

/* --- the backends under test --------------------------------------------- */

struct ops64 {
	const char *name;
	uint64_t (*load)(const volatile uint64_t *);
	void (*store)(volatile uint64_t *, uint64_t);
	uint64_t (*add)(volatile uint64_t *, int64_t);
	int (*cas)(volatile uint64_t *, uint64_t, uint64_t);
	uint64_t (*xchg)(volatile uint64_t *, uint64_t);
	uint64_t (*and_)(volatile uint64_t *, uint64_t);
	uint64_t (*or_)(volatile uint64_t *, uint64_t);
};

static const struct ops64 backends[] = {
	{ "public", gort_atomic_load64, gort_atomic_store64, gort_atomic_add64, gort_atomic_cas64,
	  gort_atomic_xchg64, gort_atomic_and64, gort_atomic_or64 },
	{ "spinlock", gort_atomic_spin_load64, gort_atomic_spin_store64, gort_atomic_spin_add64,
	  gort_atomic_spin_cas64, gort_atomic_spin_xchg64, gort_atomic_spin_and64,
	  gort_atomic_spin_or64 },
#if GORT_ATOMIC64_NATIVE_AVAILABLE
	{ "native", gort_atomic_native_load64, gort_atomic_native_store64, gort_atomic_native_add64,
	  gort_atomic_native_cas64, gort_atomic_native_xchg64, gort_atomic_native_and64,
	  gort_atomic_native_or64 },
#endif
};
#define NBACKENDS ((int)(sizeof backends / sizeof backends[0]))

/* --- values ------------------------------------------------------------- */

START_TEST(values64)
{
	const struct ops64 *o = &backends[_i];
	static volatile uint64_t w __attribute__((aligned(8)));

	o->store(&w, 0x0123456789abcdefull);
	ck_assert_uint_eq(o->load(&w), 0x0123456789abcdefull);

	/* add returns the new value; the carry must cross the 32-bit halves */
	o->store(&w, 0xffffffffull);
	ck_assert_uint_eq(o->add(&w, 1), 0x100000000ull);
	ck_assert_uint_eq(o->add(&w, -2), 0xfffffffeull);
	ck_assert_uint_eq(o->load(&w), 0xfffffffeull);

	/* wrap-around in both directions */
	o->store(&w, UINT64_MAX);
	ck_assert_uint_eq(o->add(&w, 1), 0);
	ck_assert_uint_eq(o->add(&w, -1), UINT64_MAX);
	ck_assert_uint_eq(o->add(&w, INT64_MIN), (uint64_t)INT64_MAX);

	/* cas: success stores, failure leaves memory alone */
	o->store(&w, 7);
	ck_assert_int_eq(o->cas(&w, 7, 0xdeadbeef00000001ull), 1);
	ck_assert_uint_eq(o->load(&w), 0xdeadbeef00000001ull);
	ck_assert_int_eq(o->cas(&w, 0xdeadbeef00000000ull, 5), 0);   /* high half matches only */
	ck_assert_int_eq(o->cas(&w, 0x0000000000000001ull, 5), 0);   /* low half matches only */
	ck_assert_uint_eq(o->load(&w), 0xdeadbeef00000001ull);

	/* xchg, and, or return the old value */
	ck_assert_uint_eq(o->xchg(&w, 0xf0f0f0f0f0f0f0f0ull), 0xdeadbeef00000001ull);
	ck_assert_uint_eq(o->and_(&w, 0xffff0000ffff0000ull), 0xf0f0f0f0f0f0f0f0ull);
	ck_assert_uint_eq(o->load(&w), 0xf0f00000f0f00000ull);
	ck_assert_uint_eq(o->or_(&w, 0x0f0000000000000full), 0xf0f00000f0f00000ull);
	ck_assert_uint_eq(o->load(&w), 0xfff00000f0f0000full);
	ck_assert_uint_eq(o->and_(&w, 0), 0xfff00000f0f0000full);
	ck_assert_uint_eq(o->or_(&w, UINT64_MAX), 0);
	ck_assert_uint_eq(o->load(&w), UINT64_MAX);
}
END_TEST

START_TEST(values32)
{
	volatile uint32_t w = 0;
	gort_atomic_store32(&w, 0xfffffffeu);
	ck_assert_uint_eq(gort_atomic_load32(&w), 0xfffffffeu);
	ck_assert_uint_eq(gort_atomic_add32(&w, 1), 0xffffffffu);
	ck_assert_uint_eq(gort_atomic_add32(&w, 1), 0);
	ck_assert_uint_eq(gort_atomic_add32(&w, -1), 0xffffffffu);
	ck_assert_int_eq(gort_atomic_cas32(&w, 0xffffffffu, 3), 1);
	ck_assert_int_eq(gort_atomic_cas32(&w, 4, 9), 0);
	ck_assert_uint_eq(w, 3);
	ck_assert_uint_eq(gort_atomic_xchg32(&w, 0xf0f0f0f0u), 3);
	ck_assert_uint_eq(gort_atomic_and32(&w, 0xffff0000u), 0xf0f0f0f0u);
	ck_assert_uint_eq(gort_atomic_or32(&w, 0x0000000fu), 0xf0f00000u);
	ck_assert_uint_eq(gort_atomic_load32(&w), 0xf0f0000fu);
}
END_TEST

START_TEST(values_uintptr)
{
	volatile uintptr_t w = 0;
	gort_atomic_storeuintptr(&w, UINTPTR_MAX);
	ck_assert_uint_eq(gort_atomic_adduintptr(&w, 1), 0);
	ck_assert_uint_eq(gort_atomic_adduintptr(&w, -1), UINTPTR_MAX);
	ck_assert_int_eq(gort_atomic_casuintptr(&w, UINTPTR_MAX, 42), 1);
	ck_assert_int_eq(gort_atomic_casuintptr(&w, 41, 0), 0);
	ck_assert_uint_eq(gort_atomic_loaduintptr(&w), 42);
	ck_assert_uint_eq(gort_atomic_xchguintptr(&w, 0xff), 42);
	ck_assert_uint_eq(gort_atomic_anduintptr(&w, 0x0f), 0xff);
	ck_assert_uint_eq(gort_atomic_oruintptr(&w, 0x30), 0x0f);
	ck_assert_uint_eq(w, 0x3f);

	int a, b;
	void *volatile p = NULL;
	gort_atomic_storep(&p, &a);
	ck_assert_ptr_eq(gort_atomic_loadp(&p), &a);
	ck_assert_int_eq(gort_atomic_casp(&p, &b, NULL), 0);
	ck_assert_int_eq(gort_atomic_casp(&p, &a, &b), 1);
	ck_assert_ptr_eq(gort_atomic_xchgp(&p, NULL), &b);
	ck_assert_ptr_null(p);
}
END_TEST

/* --- contention ---------------------------------------------------------- */

#define NTHREADS 4
#define NITER (200000 / SCALE)

static volatile uint64_t counter __attribute__((aligned(64)));
static volatile uint64_t cascounter __attribute__((aligned(64)));
static volatile uint32_t counter32 __attribute__((aligned(64)));

static void *hammer(void *arg)
{
	const struct ops64 *o = arg;
	for (int i = 0; i < NITER; i++) {
		o->add(&counter, 3);
		uint64_t v;
		do
			v = o->load(&cascounter);
		while (!o->cas(&cascounter, v, v + 0x100000001ull));  /* touch both halves */
		gort_atomic_add32(&counter32, 1);
	}
	return NULL;
}

START_TEST(contention)
{
	const struct ops64 *o = &backends[_i];
	pthread_t t[NTHREADS];
	counter = cascounter = 0;
	counter32 = 0;
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, (void *)o), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(o->load(&counter), 3ull * NTHREADS * NITER);
	ck_assert_uint_eq(o->load(&cascounter), 0x100000001ull * NTHREADS * NITER);
	ck_assert_uint_eq(gort_atomic_load32(&counter32), (uint32_t)NTHREADS * NITER);
}
END_TEST

/* --- torn reads: the property the 32-bit emulation exists for ------------ */

static volatile uint64_t torn_word __attribute__((aligned(8)));
static volatile uint32_t torn_stop;

static void *torn_reader(void *arg)
{
	const struct ops64 *o = arg;
	uintptr_t torn = 0;
	while (!gort_atomic_load32(&torn_stop)) {
		uint64_t v = o->load(&torn_word);
		if (v != 0 && v != UINT64_MAX)
			torn++;
	}
	return (void *)torn;
}

START_TEST(torn_reads)
{
	const struct ops64 *o = &backends[_i];
	pthread_t r[2];
	torn_stop = 0;
	o->store(&torn_word, 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&r[i], NULL, torn_reader, (void *)o), 0);
	for (int i = 0; i < 400000 / SCALE; i++) {
		o->store(&torn_word, UINT64_MAX);
		o->store(&torn_word, 0);
		o->xchg(&torn_word, UINT64_MAX);
		o->cas(&torn_word, UINT64_MAX, 0);
	}
	gort_atomic_store32(&torn_stop, 1);
	for (int i = 0; i < 2; i++) {
		void *torn;
		pthread_join(r[i], &torn);
		ck_assert_msg(torn == NULL, "%s: reader %d saw %lu torn values", o->name, i,
			(unsigned long)(uintptr_t)torn);
	}
}
END_TEST

/* --- the lock table -------------------------------------------------------- */

START_TEST(lock_table)
{
	ck_assert_str_eq(gort_atomic64_backend(), GORT_ATOMIC64_BACKEND);
	ck_assert_uint_eq(gort_atomic64_locks(), GORT_ATOMIC64_SPINLOCK ? GORT_ATOMIC64_LOCKS : 0);

	/* Only addresses are hashed, so no memory is needed behind them. */
	static char anchor __attribute__((aligned(64)));
	uintptr_t area = (uintptr_t)&anchor;
	const size_t lines = 16 * GORT_ATOMIC64_LOCKS;
	static unsigned seen[GORT_ATOMIC64_LOCKS];
	unsigned distinct = 0;
	for (size_t off = 0; off < lines * 64; off += 64) {
		unsigned k = gort_atomic_lockindex((const void *)(area + off));
		ck_assert_uint_lt(k, GORT_ATOMIC64_LOCKS);
		/* every word of one cache line shares the line's lock */
		for (size_t w = 8; w < 64; w += 8)
			ck_assert_uint_eq(gort_atomic_lockindex((const void *)(area + off + w)), k);
		if (!seen[k]++)
			distinct++;
	}
	/* consecutive lines spread over every lock of the table */
	ck_assert_uint_eq(distinct, GORT_ATOMIC64_LOCKS);
}
END_TEST

/* --- misaligned words ---------------------------------------------------- */

static volatile uint64_t misaligned_sink;

static __attribute__((noinline)) void misaligned_add(void *arg)
{
	const struct ops64 *o = arg;
	static uint64_t buf[2];
	/* using the result keeps the call from becoming a tail jump, which
	 * would take this frame off the stack before the panic */
	misaligned_sink = o->add((volatile uint64_t *)((char *)buf + 4), 1);
}

START_TEST(misaligned)
{
	struct child c;
	run_child(misaligned_add, (void *)&backends[_i], &c, 20);
	ck_assert_exit_status(&c, 2);
	ck_assert_output_has(&c, "panic: unaligned 64-bit atomic operation (add64 at 0x");
	ck_assert_output_has(&c, "[running]:\n");
	/* the traceback reaches the function that made the bad call */
	ck_assert_output_has(&c, "misaligned_add()\n");
}
END_TEST

static Suite *atomic_suite(void)
{
	Suite *s = suite_create("atomic");
	TCase *tc = tcase_create("values");
	tcase_add_loop_test(tc, values64, 0, NBACKENDS);
	tcase_add_test(tc, values32);
	tcase_add_test(tc, values_uintptr);
	tcase_add_test(tc, lock_table);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, contention, 0, NBACKENDS);
	tcase_add_loop_test(tc, torn_reads, 0, NBACKENDS);
	suite_add_tcase(s, tc);

	tc = tcase_create("misuse");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, misaligned, 0, NBACKENDS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(atomic_suite());
}
