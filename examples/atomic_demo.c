/*
 * atomic_demo.c -- gort's first demo: the atomic package on both 64-bit
 * backends.
 *
 * Four threads each add to a shared 64-bit counter and bump a second one
 * with a CAS loop that touches both 32-bit halves, while two readers watch
 * a word that flips between 0 and all-ones for a torn value.  Each backend
 * must end with exact totals and no torn read; the demo prints what it
 * measured and exits 1 if anything is off.  (The scheduler and the
 * profiler will replace this with a concurrent program.)
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "atomic/atomic.h"

#define THREADS 4
#define OPS 250000

struct backend {
	const char *name;
	uint64_t (*load)(const volatile uint64_t *);
	void (*store)(volatile uint64_t *, uint64_t);
	uint64_t (*add)(volatile uint64_t *, int64_t);
	int (*cas)(volatile uint64_t *, uint64_t, uint64_t);
};

static const struct backend *be;
static volatile uint64_t total __attribute__((aligned(64)));
static volatile uint64_t both_halves __attribute__((aligned(64)));
static volatile uint64_t flipper __attribute__((aligned(64)));
static volatile uint32_t stop, torn;

static void *adder(void *arg)
{
	(void)arg;
	for (int i = 0; i < OPS; i++) {
		be->add(&total, 1);
		uint64_t v;
		do
			v = be->load(&both_halves);
		while (!be->cas(&both_halves, v, v + 0x100000001ull));
	}
	return NULL;
}

static void *watcher(void *arg)
{
	(void)arg;
	while (!atomic_load32(&stop)) {
		uint64_t v = be->load(&flipper);
		if (v != 0 && v != UINT64_MAX)
			atomic_add32(&torn, 1);
	}
	return NULL;
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const struct backend *b)
{
	pthread_t t[THREADS], w[2];
	be = b;
	total = both_halves = flipper = 0;
	stop = torn = 0;

	double t0 = seconds();
	for (int i = 0; i < 2; i++)
		pthread_create(&w[i], NULL, watcher, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, adder, NULL);
	for (int i = 0; i < OPS; i++)
		be->store(&flipper, i & 1 ? 0 : UINT64_MAX);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store32(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	double dt = seconds() - t0;

	uint64_t want = (uint64_t)THREADS * OPS;
	int ok = be->load(&total) == want && be->load(&both_halves) == want * 0x100000001ull &&
		torn == 0;
	printf("%-9s counter=%llu (want %llu)  both-halves=%#llx  torn reads=%u  %.1f ns per add+cas  %s\n",
		b->name, (unsigned long long)be->load(&total), (unsigned long long)want,
		(unsigned long long)be->load(&both_halves), torn,
		dt * 1e9 / (double)want, ok ? "ok" : "WRONG");
	return ok;
}

int main(void)
{
	static const struct backend backends[] = {
#if GORT_ATOMIC64_NATIVE_AVAILABLE
		{ "native", gort_atomic_native_load64, gort_atomic_native_store64,
		  gort_atomic_native_add64, gort_atomic_native_cas64 },
#endif
		{ "spinlock", gort_atomic_spin_load64, gort_atomic_spin_store64,
		  gort_atomic_spin_add64, gort_atomic_spin_cas64 },
	};
	printf("gort atomic demo on %s: this build's 64-bit atomics are %s", GORT_ARCH,
		gort_atomic64_backend());
	if (gort_atomic64_locks())
		printf(" (%u address-hashed spinlocks)", gort_atomic64_locks());
	printf("\n%d threads x %d increments, 2 readers hunting torn values\n", THREADS, OPS);
	int ok = 1;
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
		ok &= run(&backends[i]);
	printf("%s\n", ok ? "all totals exact, no torn reads" : "FAILED");
	return ok ? 0 : 1;
}
