/*
 * atomic64.c -- what a 64-bit atomic costs on each backend.
 *
 *   uncontended ns/op of add64 and load64, native vs spinlock, and their ratio
 *   throughput of one thread, of two threads on different words (different
 *   cache lines, different locks), and of two threads on the same word, and
 *   the scaling the hashed lock table buys: two words / one thread.
 *
 * Targets (issue 2): spinlock uncontended within 2.5x native; two threads
 * on different words at least 1.6x the one-thread throughput.
 */
#include <pthread.h>
#include <string.h>

#include "atomic/atomic.h"
#include "bench.h"

#define UNCONTENDED_OPS 2000000
#define WINDOW_MS 100

typedef uint64_t (*add_fn)(volatile uint64_t *, int64_t);
typedef uint64_t (*load_fn)(const volatile uint64_t *);

static volatile uint64_t sink;

/* ns per operation, one thread, one word. */
static double uncontended_add(add_fn add, volatile uint64_t *w)
{
	long n = bench_size(UNCONTENDED_OPS);
	uint64_t t0 = bench_now();
	for (long i = 0; i < n; i++)
		add(w, 1);
	return (double)(bench_now() - t0) / (double)n;
}

static double uncontended_load(load_fn load, volatile uint64_t *w)
{
	long n = bench_size(UNCONTENDED_OPS);
	uint64_t t0 = bench_now(), s = 0;
	for (long i = 0; i < n; i++)
		s += load(w);
	sink = s;
	return (double)(bench_now() - t0) / (double)n;
}

/* The start and stop flags of a throughput run, on lines of their own. */
static struct {
	volatile uint32_t ready __attribute__((aligned(64)));
	volatile uint32_t go __attribute__((aligned(64)));
	volatile uint32_t stop __attribute__((aligned(64)));
} flags;

struct worker {
	add_fn add;
	volatile uint64_t *word;
	uint64_t ops;
	pthread_t t;
} __attribute__((aligned(64)));

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t ops = 0;
	atomic_add32(&flags.ready, 1);
	while (!atomic_load32(&flags.go))
		;
	while (!atomic_load32(&flags.stop)) {
		for (int i = 0; i < 256; i++)
			w->add(w->word, 1);
		ops += 256;
	}
	w->ops = ops;
	return NULL;
}

/* Operations per microsecond of `n` threads running together for a fixed
 * window, thread i on words[i].  Both threads are spinning before the
 * window opens, so a slow thread start does not count as a slow lock. */
static double throughput(add_fn add, volatile uint64_t **words, int n)
{
	const uint64_t window = (uint64_t)bench_size(WINDOW_MS * 1000000l);
	struct worker w[2];
	flags.ready = flags.go = flags.stop = 0;
	for (int i = 0; i < n; i++) {
		w[i] = (struct worker){ add, words[i], 0, 0 };
		pthread_create(&w[i].t, NULL, work, &w[i]);
	}
	while (atomic_load32(&flags.ready) != (uint32_t)n)
		;
	uint64_t t0 = bench_now();
	atomic_store32(&flags.go, 1);
	struct timespec ts = { 0, (long)window };
	nanosleep(&ts, NULL);
	atomic_store32(&flags.stop, 1);
	uint64_t t1 = bench_now(), ops = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].t, NULL);
		ops += w[i].ops;
	}
	return (double)ops / ((double)(t1 - t0) / 1000.0);
}

/* 64 cache lines to pick words from. */
static uint64_t area[64 * 8] __attribute__((aligned(64)));

struct backend {
	const char *name;
	add_fn add;
	load_fn load;
};

int main(int argc, char **argv)
{
	if (bench_args(argc, argv) > 1) {
		fprintf(stderr, "usage: bench_atomic64 [--quick]\n");
		return 2;
	}
	const struct backend backends[] = {
#if GORT_ATOMIC64_NATIVE_AVAILABLE
		{ "native", gort_atomic_native_add64, gort_atomic_native_load64 },
#endif
		{ "spinlock", gort_atomic_spin_add64, gort_atomic_spin_load64 },
	};
	const int nb = (int)(sizeof backends / sizeof backends[0]);
	const int runs = bench_runs();

	/* Two words on different cache lines guarded by different locks. */
	volatile uint64_t *a = &area[0], *b = NULL;
	for (int line = 1; line < 64 && !b; line++)
		if (gort_atomic_lockindex(&area[line * 8]) != gort_atomic_lockindex(a) ||
		    GORT_ATOMIC64_LOCKS == 1)
			b = &area[line * 8];

	printf("# atomic64: %d runs per case, medians; %u spinlocks; %s build\n", runs,
		GORT_ATOMIC64_LOCKS, GORT_ATOMIC64_BACKEND);
	double add_ns[2] = { 0 }, v[101];
	for (int k = 0; k < nb; k++) {
		const struct backend *be = &backends[k];
		char name[64];

		for (int r = 0; r < runs; r++)
			v[r] = uncontended_add(be->add, a);
		add_ns[k] = bench_median(v, runs);
		snprintf(name, sizeof name, "add64_%s_uncontended", be->name);
		bench_print(name, add_ns[k], "ns/op");

		for (int r = 0; r < runs; r++)
			v[r] = uncontended_load(be->load, a);
		snprintf(name, sizeof name, "load64_%s_uncontended", be->name);
		bench_print(name, bench_median(v, runs), "ns/op");

		volatile uint64_t *one[1] = { a }, *diff[2] = { a, b }, *same[2] = { a, a };
		for (int r = 0; r < runs; r++)
			v[r] = throughput(be->add, one, 1);
		double t1 = bench_median(v, runs);
		snprintf(name, sizeof name, "add64_%s_1thread", be->name);
		bench_print(name, t1, "ops/us");

		for (int r = 0; r < runs; r++)
			v[r] = throughput(be->add, diff, 2);
		double t2 = bench_median(v, runs);
		snprintf(name, sizeof name, "add64_%s_2threads_2words", be->name);
		bench_print(name, t2, "ops/us");

		for (int r = 0; r < runs; r++)
			v[r] = throughput(be->add, same, 2);
		snprintf(name, sizeof name, "add64_%s_2threads_1word", be->name);
		bench_print(name, bench_median(v, runs), "ops/us");

		snprintf(name, sizeof name, "add64_%s_scaling_2words", be->name);
		bench_print(name, t2 / t1, "x");
	}
	if (nb == 2)
		bench_print("add64_spinlock_vs_native_uncontended", add_ns[1] / add_ns[0], "x");
	return 0;
}
