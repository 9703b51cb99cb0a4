/*
 * programs.c -- whole programs, and Go's own channel benchmarks ported as
 * whole programs; bench/go_src/programs.go is the same program in Go, case
 * for case and, where C allows, line for line, with the same sizes.
 * bench/whole.py runs the two, one case per process, and times the
 * process: wall and CPU time, peak RSS, context switches, system calls.
 *
 *     bench_programs [--quick] CASE      (GORTMAXPROCS sets the Ps)
 *     bench_programs --list              (the cases, one a line)
 *
 * It prints
 *
 *     case=<name> ops=<N>
 *     case=<name> value=<ns> unit=ns/op
 *     case=<name> value=<KiB> unit=peak_rss_kb
 *
 * the second the time inside the process, from the case's start to the
 * end of its check, over N; the third the peak resident memory (see
 * peak_rss_kb, below).  A wrong result is a message on stderr and
 * exit status 1.  --quick: every size a thousandth (at least 1), the
 * results still checked.
 *
 * Whole programs (ops, what N counts):
 *   skynet       1M goroutines: a 10-ary tree of depth 6, each leaf sends
 *                its number up an unbuffered channel, each inner node sums
 *                its 10 children; the sum must be 499999500000 (ops:
 *                goroutines, 1,111,111)
 *   whispers     a chain of 100k goroutines passing one value from the
 *                far end, each adding 1 (ops: goroutines)
 *   prodcons1, prodcons4, prodcons16
 *                N producers and N consumers on one channel of 128, 8M
 *                values in all, summed (ops: values)
 *   mutex        8 goroutines incrementing one counter under one
 *                gort_mutex, 8M increments in all (ops: increments)
 *   psum         the sum of 0 .. 2^27-1, halved into a goroutine per half
 *                down to leaves of 4096, results up buffered channels
 *                (ops: goroutines)
 *   sieve        Go's concurrent prime sieve ($GOROOT/test/chan/sieve1.go)
 *                to the 5,000th prime, 48611 (ops: primes)
 *
 * Go's benchmarks, from $GOROOT/src/runtime/chan_test.go, Benchmark<case>
 * with a fixed b.N (ops: b.N; ns/op is comparable to `go test -bench`'s):
 *   ChanProdCons0, ChanProdCons10, ChanProdCons100, ChanSync,
 *   ChanContended, ChanUncontended, SelectSyncContended,
 *   SelectAsyncContended, SelectUncontended, ChanCreation, ChanSem.
 * b.RunParallel is run_parallel: GOMAXPROCS goroutines taking iterations
 * from one shared counter, a grain at a time, as testing.PB.Next does; the
 * grain is fixed per case (what RunParallel picks on an amd64 box at 1 P:
 * about 100 us of iterations, at most 1e4), the same on both sides.  Each
 * check counts what the benchmark did (iterations, values received,
 * batches): Go's versions send foo == 42 where these send a count.
 *
 * Where C and Go must differ:
 *   - C has no collector: each channel is freed by whoever last uses it,
 *     and a goroutine's arguments live in its parent's frame when the
 *     parent waits for it to have read them (Go copies them to the new
 *     goroutine's stack); what Go's closures share lives in static
 *     storage (one case a process), where it outlives every goroutine.
 *   - psum's leaf loop has an empty asm statement that keeps its sum in a
 *     register: without it gcc turns the loop into a closed formula or
 *     vector code, and Go's compiler does neither.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "gort.h"

static void fail(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void fail(const char *name, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "bench_programs: %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stdout);
	_exit(1);
}

/* --- skynet: 1M goroutines in a 10-ary tree ------------------------------- */

#define SKYNET_LEAVES 1000000
#define SKYNET_DIV 10

struct skynet_arg {
	gort_chan *c;
	int64_t num, size, div;
};

static void skynet(void *arg)
{
	struct skynet_arg *a = arg;
	gort_chan *c = a->c;
	int64_t num = a->num, size = a->size, div = a->div;
	if (size == 1) {
		gort_chan_send(c, &num);
		return;
	}
	gort_chan *rc = gort_chan_make(sizeof(int64_t), 0);
	int64_t sum = 0;
	struct skynet_arg kids[SKYNET_DIV];   /* read before they send: we wait */
	for (int64_t i = 0; i < div; i++) {
		int64_t subNum = num + i * (size / div);
		kids[i] = (struct skynet_arg){ rc, subNum, size / div, div };
		gort_go(skynet, &kids[i]);
	}
	for (int64_t i = 0; i < div; i++) {
		int64_t v;
		gort_chan_recv(rc, &v);
		sum += v;
	}
	gort_chan_free(rc);
	gort_chan_send(c, &sum);
}

static int64_t case_skynet(void)
{
	int64_t n = bench_size(SKYNET_LEAVES);
	gort_chan *c = gort_chan_make(sizeof(int64_t), 0);
	struct skynet_arg root = { c, 0, n, SKYNET_DIV };
	gort_go(skynet, &root);
	int64_t sum;
	gort_chan_recv(c, &sum);
	gort_chan_free(c);
	int64_t want = n * (n - 1) / 2;
	if (sum != want)
		fail("skynet", "sum %" PRId64 ", want %" PRId64, sum, want);
	return (10 * n - 1) / 9;   /* goroutines: the leaves and the inner nodes */
}

/* --- whispers: a chain of 100k goroutines --------------------------------- */

#define WHISPERS_N 100000

struct whisper_arg {
	gort_chan *left, *right;
};

static void whisper(void *arg)
{
	struct whisper_arg *a = arg;
	int64_t v;
	gort_chan_recv(a->right, &v);
	gort_chan_free(a->right);   /* its sender is done with it */
	v = 1 + v;
	gort_chan_send(a->left, &v);
}

static void whisper_first(void *arg)
{
	int64_t one = 1;
	gort_chan_send(arg, &one);
}

static int64_t case_whispers(void)
{
	int64_t n = bench_size(WHISPERS_N);
	struct whisper_arg *args = malloc((size_t)n * sizeof *args);
	if (!args)
		fail("whispers", "out of memory");
	gort_chan *leftmost = gort_chan_make(sizeof(int64_t), 0);
	gort_chan *right = leftmost;
	gort_chan *left = leftmost;
	for (int64_t i = 0; i < n; i++) {
		right = gort_chan_make(sizeof(int64_t), 0);
		args[i] = (struct whisper_arg){ left, right };
		gort_go(whisper, &args[i]);
		left = right;
	}
	gort_go(whisper_first, right);
	int64_t v;
	gort_chan_recv(leftmost, &v);
	if (v != n + 1)
		fail("whispers", "%" PRId64 ", want %" PRId64, v, n + 1);
	gort_chan_free(leftmost);
	free(args);
	return n;
}

/* --- prodcons: N producers, N consumers, one channel of 128 ---------------- */

#define PRODCONS_VALUES 8000000

struct prodcons {
	gort_chan *c, *sums;
	gort_waitgroup producers;
};

struct producer_arg {
	struct prodcons *pc;
	int64_t lo, hi;
};

static void producer(void *arg)
{
	struct producer_arg *a = arg;
	for (int64_t i = a->lo; i < a->hi; i++)
		gort_chan_send(a->pc->c, &i);
	gort_waitgroup_done(&a->pc->producers);
}

static void consumer(void *arg)
{
	struct prodcons *pc = arg;
	int64_t sum = 0, v;
	while (gort_chan_recv(pc->c, &v))
		sum += v;
	gort_chan_send(pc->sums, &sum);
}

static int64_t prodcons(const char *name, int np)
{
	int64_t n = bench_size(PRODCONS_VALUES);
	static struct prodcons pc;
	static struct producer_arg args[16];
	pc.c = gort_chan_make(sizeof(int64_t), 128);
	pc.sums = gort_chan_make(sizeof(int64_t), (size_t)np);
	gort_waitgroup_add(&pc.producers, np);
	for (int p = 0; p < np; p++) {
		args[p] = (struct producer_arg){ &pc, n * p / np, n * (p + 1) / np };
		gort_go(producer, &args[p]);
	}
	for (int q = 0; q < np; q++)
		gort_go(consumer, &pc);
	gort_waitgroup_wait(&pc.producers);
	gort_chan_close(pc.c);
	int64_t sum = 0;
	for (int q = 0; q < np; q++) {
		int64_t s;
		gort_chan_recv(pc.sums, &s);
		sum += s;
	}
	int64_t want = n * (n - 1) / 2;
	if (sum != want)
		fail(name, "sum %" PRId64 ", want %" PRId64, sum, want);
	gort_chan_free(pc.c);
	gort_chan_free(pc.sums);
	return n;
}

static int64_t case_prodcons1(void) { return prodcons("prodcons1", 1); }
static int64_t case_prodcons4(void) { return prodcons("prodcons4", 4); }
static int64_t case_prodcons16(void) { return prodcons("prodcons16", 16); }

/* --- mutex: 8 goroutines, one counter, one gort_mutex ---------------------- */

#define MUTEX_INCREMENTS 8000000
#define MUTEX_G 8

static gort_mutex mu;
static int64_t counter;
static gort_waitgroup mutex_wg;

static void incrementer(void *arg)
{
	int64_t k = *(int64_t *)arg;
	for (int64_t i = 0; i < k; i++) {
		gort_mutex_lock(&mu);
		counter++;
		gort_mutex_unlock(&mu);
	}
	gort_waitgroup_done(&mutex_wg);
}

static int64_t case_mutex(void)
{
	int64_t n = bench_size(MUTEX_INCREMENTS);
	static int64_t ks[MUTEX_G];
	gort_waitgroup_add(&mutex_wg, MUTEX_G);
	for (int g = 0; g < MUTEX_G; g++) {
		ks[g] = n * (g + 1) / MUTEX_G - n * g / MUTEX_G;
		gort_go(incrementer, &ks[g]);
	}
	gort_waitgroup_wait(&mutex_wg);
	if (counter != n)
		fail("mutex", "counter %" PRId64 ", want %" PRId64, counter, n);
	return n;
}

/* --- psum: divide and conquer, a goroutine per half ------------------------ */

#define PSUM_N ((int64_t)1 << 27)
#define PSUM_LEAF 4096

struct psum_arg {
	int64_t lo, hi;
	gort_chan *out;
};

static void psum(void *arg)
{
	struct psum_arg *a = arg;
	int64_t lo = a->lo, hi = a->hi;
	gort_chan *out = a->out;
	if (hi - lo <= PSUM_LEAF) {
		int64_t s = 0;
		for (int64_t i = lo; i < hi; i++) {
			s += i;
			__asm__("" : "+r"(s));   /* a plain loop, as Go compiles it */
		}
		gort_chan_send(out, &s);
		return;
	}
	int64_t mid = lo + (hi - lo) / 2;
	gort_chan *c = gort_chan_make(sizeof(int64_t), 2);
	struct psum_arg kids[2] = { { lo, mid, c }, { mid, hi, c } };   /* we wait */
	gort_go(psum, &kids[0]);
	gort_go(psum, &kids[1]);
	int64_t x, y;
	gort_chan_recv(c, &x);
	gort_chan_recv(c, &y);
	gort_chan_free(c);
	int64_t s = x + y;
	gort_chan_send(out, &s);
}

/* The goroutines psum(lo, hi) starts, itself included. */
static int64_t psum_nodes(int64_t lo, int64_t hi)
{
	if (hi - lo <= PSUM_LEAF)
		return 1;
	int64_t mid = lo + (hi - lo) / 2;
	return 1 + psum_nodes(lo, mid) + psum_nodes(mid, hi);
}

static int64_t case_psum(void)
{
	int64_t n = bench_size(PSUM_N);
	gort_chan *out = gort_chan_make(sizeof(int64_t), 1);
	struct psum_arg root = { 0, n, out };
	gort_go(psum, &root);
	int64_t sum, want = n * (n - 1) / 2;
	gort_chan_recv(out, &sum);
	if (sum != want)
		fail("psum", "sum %" PRId64 ", want %" PRId64, sum, want);
	gort_chan_free(out);
	return psum_nodes(0, n);
}

/* --- sieve: test/chan/sieve1.go to the 5,000th prime ----------------------- */

#define SIEVE_PRIMES 5000

/* Send the sequence 2, 3, 4, ... to channel 'ch'. */
static void generate(void *arg)
{
	gort_chan *ch = arg;
	for (int64_t i = 2;; i++)
		gort_chan_send(ch, &i);   /* Send 'i' to channel 'ch'. */
}

struct filter_arg {
	gort_chan *in, *out;
	int64_t prime;
};

/* Copy the values from channel 'in' to channel 'out',
 * removing those divisible by 'prime'. */
static void filter(void *arg)
{
	struct filter_arg *f = arg;
	int64_t i;
	while (gort_chan_recv(f->in, &i))   /* Loop over values received from 'in'. */
		if (i % f->prime != 0)
			gort_chan_send(f->out, &i);   /* Send 'i' to channel 'out'. */
}

/* The prime sieve: Daisy-chain Filter processes together. */
static void sieve(void *arg)
{
	gort_chan *primes = arg;
	gort_chan *ch = gort_chan_make(sizeof(int64_t), 0);   /* Create a new channel. */
	gort_go(generate, ch);   /* Start Generate() as a subprocess. */
	for (;;) {
		/* Note that ch is different on each iteration. */
		int64_t prime;
		gort_chan_recv(ch, &prime);
		gort_chan_send(primes, &prime);
		gort_chan *ch1 = gort_chan_make(sizeof(int64_t), 0);
		struct filter_arg *f = malloc(sizeof *f);
		if (!f)
			fail("sieve", "out of memory");
		*f = (struct filter_arg){ ch, ch1, prime };
		gort_go(filter, f);
		ch = ch1;
	}
}

/* The nth prime by trial division: what the sieve must find. */
static int64_t nth_prime(int64_t n)
{
	int64_t p = 1;
	for (int64_t k = 0; k < n;) {
		p++;
		int prime = 1;
		for (int64_t d = 2; d * d <= p; d++) {
			if (p % d == 0) {
				prime = 0;
				break;
			}
		}
		if (prime)
			k++;
	}
	return p;
}

static int64_t case_sieve(void)
{
	int64_t n = bench_size(SIEVE_PRIMES);
	gort_chan *primes = gort_chan_make(sizeof(int64_t), 0);
	gort_go(sieve, primes);
	int64_t x = 0;
	for (int64_t i = 0; i < n; i++)
		gort_chan_recv(primes, &x);
	int64_t want = nth_prime(n);
	if (n == SIEVE_PRIMES && want != 48611)
		fail("sieve", "trial division says the %" PRId64 "th prime is %" PRId64 ", not 48611", n, want);
	if (x != want)
		fail("sieve", "the %" PRId64 "th prime is %" PRId64 ", want %" PRId64, n, x, want);
	return n;
	/* The sieve's goroutines block for ever now; gort_main's return ends them. */
}

/* --- Go's channel benchmarks: $GOROOT/src/runtime/chan_test.go -------------- */

/* testing.PB, and b.RunParallel (see the top of the file). */
struct pb {
	volatile uint64_t *globalN;   /* shared between all worker goroutines iteration counter */
	uint64_t grain;               /* acquire that many iterations from globalN at once */
	uint64_t cache;               /* local cache of acquired iterations */
	uint64_t bN;                  /* total number of iterations to execute (b.N) */
	uint64_t ran;                 /* iterations this PB handed out (for the check) */
};

/* Next reports whether there are more iterations to execute. */
static int pb_next(struct pb *pb)
{
	if (pb->cache == 0) {
		uint64_t n = gort_atomic_add64(pb->globalN, (int64_t)pb->grain);
		if (n <= pb->bN)
			pb->cache = pb->grain;
		else if (n < pb->bN + pb->grain)
			pb->cache = pb->bN + pb->grain - n;
		else
			return 0;
	}
	pb->cache--;
	pb->ran++;
	return 1;
}

struct parallel {
	void (*body)(struct pb *pb, void *ctx);
	void *ctx;
	uint64_t grain, bN;
	volatile uint64_t n __attribute__((aligned(8)));     /* atomic */
	volatile uint64_t ran __attribute__((aligned(8)));   /* atomic */
	gort_waitgroup wg;
};

static void parallel_worker(void *arg)
{
	struct parallel *rp = arg;
	struct pb pb = {
		.globalN = &rp->n,
		.grain = rp->grain,
		.bN = rp->bN,
	};
	rp->body(&pb, rp->ctx);
	gort_atomic_add64(&rp->ran, (int64_t)pb.ran);
	gort_waitgroup_done(&rp->wg);
}

static void run_parallel(const char *name, int64_t bN, uint64_t grain,
	void (*body)(struct pb *pb, void *ctx), void *ctx)
{
	static struct parallel rp;
	rp.body = body;
	rp.ctx = ctx;
	rp.grain = grain;
	rp.bN = (uint64_t)bN;
	int numProcs = gort_gomaxprocs(0);
	gort_waitgroup_add(&rp.wg, numProcs);
	for (int p = 0; p < numProcs; p++)
		gort_go(parallel_worker, &rp);
	gort_waitgroup_wait(&rp.wg);
	if (rp.n <= (uint64_t)bN)
		fail(name, "RunParallel: body exited without pb.Next() == false");
	if (rp.ran != (uint64_t)bN)
		fail(name, "RunParallel ran %" PRIu64 " iterations, want %" PRId64, rp.ran, bN);
}

static volatile int always_false;
static int64_t work_sink;

static void local_work(int w)
{
	int64_t foo = 0;
	for (int i = 0; i < w; i++)
		foo /= (foo + 1);
	if (always_false)
		work_sink += foo;
}

/* benchmarkChanProdCons; c carries each goroutine's count (a consumer's
 * values received) instead of foo == 42, for the check. */
#define CALLS_PER_SCHED 1000

struct prodcons_bench {
	volatile uint32_t N;   /* atomic; Go's int32 */
	int localWork;
	gort_chan *c, *myc;
};

static void pc_producer(void *arg)
{
	struct prodcons_bench *b = arg;
	int64_t foo = 0, one = 1, zero = 0;
	while ((int32_t)gort_atomic_add32(&b->N, -1) >= 0) {
		for (int g = 0; g < CALLS_PER_SCHED; g++) {
			for (int i = 0; i < b->localWork; i++) {
				foo *= 2;
				foo /= 2;
			}
			gort_chan_send(b->myc, &one);
		}
	}
	gort_chan_send(b->myc, &zero);
	gort_chan_send(b->c, &foo);
}

static void pc_consumer(void *arg)
{
	struct prodcons_bench *b = arg;
	int64_t foo = 0, got = 0;
	for (;;) {
		int64_t v;
		gort_chan_recv(b->myc, &v);
		if (v == 0)
			break;
		got++;
		for (int i = 0; i < b->localWork; i++) {
			foo *= 2;
			foo /= 2;
		}
	}
	int64_t r = foo + got;
	gort_chan_send(b->c, &r);
}

static int64_t chan_prodcons(const char *name, int64_t bN, int chanSize, int localWork)
{
	int procs = gort_gomaxprocs(0);
	static struct prodcons_bench b;
	b.N = (uint32_t)(int32_t)(bN / CALLS_PER_SCHED);
	b.localWork = localWork;
	b.c = gort_chan_make(sizeof(int64_t), (size_t)(2 * procs));
	b.myc = gort_chan_make(sizeof(int64_t), (size_t)chanSize);
	int64_t want = (int64_t)(int32_t)b.N * CALLS_PER_SCHED;
	for (int p = 0; p < procs; p++) {
		gort_go(pc_producer, &b);
		gort_go(pc_consumer, &b);
	}
	int64_t got = 0;
	for (int p = 0; p < procs; p++) {
		int64_t v;
		gort_chan_recv(b.c, &v);
		got += v;
		gort_chan_recv(b.c, &v);
		got += v;
	}
	if (got != want)
		fail(name, "consumers received %" PRId64 " values, want %" PRId64, got, want);
	gort_chan_free(b.c);
	gort_chan_free(b.myc);
	return bN;
}

#define N_CHAN_PRODCONS0 3000000
#define N_CHAN_PRODCONS10 6000000
#define N_CHAN_PRODCONS100 10000000

static int64_t case_chan_prodcons0(void)
{
	return chan_prodcons("ChanProdCons0", bench_size(N_CHAN_PRODCONS0), 0, 0);
}

static int64_t case_chan_prodcons10(void)
{
	return chan_prodcons("ChanProdCons10", bench_size(N_CHAN_PRODCONS10), 10, 0);
}

static int64_t case_chan_prodcons100(void)
{
	return chan_prodcons("ChanProdCons100", bench_size(N_CHAN_PRODCONS100), 100, 0);
}

/* benchmarkChanSync; c carries each goroutine's batches done. */
struct sync_bench {
	volatile uint32_t N;   /* atomic; Go's int32 */
	int work;
	gort_chan *c, *myc;
};

static void sync_worker(void *arg)
{
	struct sync_bench *b = arg;
	int64_t done = 0, zero = 0, v;
	for (;;) {
		int32_t i = (int32_t)gort_atomic_add32(&b->N, -1);
		if (i < 0)
			break;
		for (int g = 0; g < CALLS_PER_SCHED; g++) {
			if (i % 2 == 0) {
				gort_chan_recv(b->myc, &v);
				local_work(b->work);
				gort_chan_send(b->myc, &zero);
				local_work(b->work);
			} else {
				gort_chan_send(b->myc, &zero);
				local_work(b->work);
				gort_chan_recv(b->myc, &v);
				local_work(b->work);
			}
		}
		done++;
	}
	gort_chan_send(b->c, &done);
}

static int64_t chan_sync(const char *name, int64_t bN, int work)
{
	int procs = 2;
	static struct sync_bench b;
	b.N = (uint32_t)(int32_t)(bN / CALLS_PER_SCHED / procs * procs);
	b.work = work;
	b.c = gort_chan_make(sizeof(int64_t), (size_t)procs);
	b.myc = gort_chan_make(sizeof(int64_t), 0);
	int64_t want = (int32_t)b.N;
	for (int p = 0; p < procs; p++)
		gort_go(sync_worker, &b);
	int64_t done = 0;
	for (int p = 0; p < procs; p++) {
		int64_t v;
		gort_chan_recv(b.c, &v);
		done += v;
	}
	if (done != want)
		fail(name, "%" PRId64 " batches done, want %" PRId64, done, want);
	gort_chan_free(b.c);
	gort_chan_free(b.myc);
	return bN;
}

#define N_CHAN_SYNC 3000000

static int64_t case_chan_sync(void) { return chan_sync("ChanSync", bench_size(N_CHAN_SYNC), 0); }

#define N_CHAN_CONTENDED 100000
#define G_CHAN_CONTENDED 17
#define C_CHAN 100

static void chan_contended(struct pb *pb, void *ctx)
{
	gort_chan *myc = ctx;
	int64_t zero = 0, v;
	while (pb_next(pb)) {
		for (int i = 0; i < C_CHAN; i++)
			gort_chan_send(myc, &zero);
		for (int i = 0; i < C_CHAN; i++)
			gort_chan_recv(myc, &v);
	}
}

static int64_t case_chan_contended(void)
{
	int64_t bN = bench_size(N_CHAN_CONTENDED);
	gort_chan *myc = gort_chan_make(sizeof(int64_t), (size_t)(C_CHAN * gort_gomaxprocs(0)));
	run_parallel("ChanContended", bN, G_CHAN_CONTENDED, chan_contended, myc);
	if (gort_chan_len(myc) != 0)
		fail("ChanContended", "%zu values left in the channel", gort_chan_len(myc));
	gort_chan_free(myc);
	return bN;
}

#define N_CHAN_UNCONTENDED 100000
#define G_CHAN_UNCONTENDED 18

static void chan_uncontended(struct pb *pb, void *ctx)
{
	(void)ctx;
	gort_chan *myc = gort_chan_make(sizeof(int64_t), C_CHAN);
	int64_t zero = 0, v;
	while (pb_next(pb)) {
		for (int i = 0; i < C_CHAN; i++)
			gort_chan_send(myc, &zero);
		for (int i = 0; i < C_CHAN; i++)
			gort_chan_recv(myc, &v);
	}
	if (gort_chan_len(myc) != 0)
		fail("ChanUncontended", "%zu values left in a channel", gort_chan_len(myc));
	gort_chan_free(myc);
}

static int64_t case_chan_uncontended(void)
{
	int64_t bN = bench_size(N_CHAN_UNCONTENDED);
	run_parallel("ChanUncontended", bN, G_CHAN_UNCONTENDED, chan_uncontended, NULL);
	return bN;
}

#define N_SELECT_UNCONTENDED 5000000
#define G_SELECT_UNCONTENDED 750

static void select_uncontended(struct pb *pb, void *ctx)
{
	(void)ctx;
	gort_chan *myc1 = gort_chan_make(sizeof(int64_t), 1);
	gort_chan *myc2 = gort_chan_make(sizeof(int64_t), 1);
	int64_t zero = 0, v;
	gort_chan_send(myc1, &zero);
	gort_select_case cases[2] = {
		{ .c = myc1, .dir = GORT_RECV, .elem = &v },
		{ .c = myc2, .dir = GORT_RECV, .elem = &v },
	};
	while (pb_next(pb)) {
		switch (gort_select(cases, 2, 1)) {
		case 0:
			gort_chan_send(myc2, &zero);
			break;
		case 1:
			gort_chan_send(myc1, &zero);
			break;
		}
	}
	size_t left = gort_chan_len(myc1) + gort_chan_len(myc2);
	if (left != 1)
		fail("SelectUncontended", "%zu values in a worker's two channels, want 1", left);
	gort_chan_free(myc1);
	gort_chan_free(myc2);
}

static int64_t case_select_uncontended(void)
{
	int64_t bN = bench_size(N_SELECT_UNCONTENDED);
	run_parallel("SelectUncontended", bN, G_SELECT_UNCONTENDED, select_uncontended, NULL);
	return bN;
}

#define N_SELECT_SYNC_CONTENDED 1000000
#define G_SELECT_SYNC_CONTENDED 130

struct select_sync {
	gort_chan *myc1, *myc2, *myc3, *done;
};

static void select_sync_sender(void *arg)
{
	struct select_sync *s = arg;
	int64_t zero = 0;
	gort_select_case cases[4] = {
		{ .c = s->myc1, .dir = GORT_SEND, .elem = &zero },
		{ .c = s->myc2, .dir = GORT_SEND, .elem = &zero },
		{ .c = s->myc3, .dir = GORT_SEND, .elem = &zero },
		{ .c = s->done, .dir = GORT_RECV, .elem = NULL },
	};
	for (;;) {
		if (gort_select(cases, 4, 1) == 3)
			return;
	}
}

static void select_sync_contended(struct pb *pb, void *ctx)
{
	struct select_sync *s = ctx;
	gort_go(select_sync_sender, s);
	int64_t v;
	gort_select_case cases[3] = {
		{ .c = s->myc1, .dir = GORT_RECV, .elem = &v },
		{ .c = s->myc2, .dir = GORT_RECV, .elem = &v },
		{ .c = s->myc3, .dir = GORT_RECV, .elem = &v },
	};
	while (pb_next(pb))
		gort_select(cases, 3, 1);
}

static int64_t case_select_sync_contended(void)
{
	int64_t bN = bench_size(N_SELECT_SYNC_CONTENDED);
	/* static: a sender may start after this returns */
	static struct select_sync s;
	s.myc1 = gort_chan_make(sizeof(int64_t), 0);
	s.myc2 = gort_chan_make(sizeof(int64_t), 0);
	s.myc3 = gort_chan_make(sizeof(int64_t), 0);
	s.done = gort_chan_make(sizeof(int64_t), 0);
	run_parallel("SelectSyncContended", bN, G_SELECT_SYNC_CONTENDED, select_sync_contended, &s);
	gort_chan_close(s.done);
	/* The senders may still be leaving their selects, or not yet have
	 * started: the end of the program frees the channels, as Go's
	 * collector would. */
	return bN;
}

#define N_SELECT_ASYNC_CONTENDED 5000000
#define G_SELECT_ASYNC_CONTENDED 780

struct select_async {
	gort_chan *myc1, *myc2;
};

static void select_async_contended(struct pb *pb, void *ctx)
{
	struct select_async *s = ctx;
	int64_t zero = 0, v;
	gort_chan_send(s->myc1, &zero);
	gort_select_case cases[2] = {
		{ .c = s->myc1, .dir = GORT_RECV, .elem = &v },
		{ .c = s->myc2, .dir = GORT_RECV, .elem = &v },
	};
	while (pb_next(pb)) {
		switch (gort_select(cases, 2, 1)) {
		case 0:
			gort_chan_send(s->myc2, &zero);
			break;
		case 1:
			gort_chan_send(s->myc1, &zero);
			break;
		}
	}
}

static int64_t case_select_async_contended(void)
{
	int64_t bN = bench_size(N_SELECT_ASYNC_CONTENDED);
	int procs = gort_gomaxprocs(0);
	static struct select_async s;
	s.myc1 = gort_chan_make(sizeof(int64_t), (size_t)procs);
	s.myc2 = gort_chan_make(sizeof(int64_t), (size_t)procs);
	run_parallel("SelectAsyncContended", bN, G_SELECT_ASYNC_CONTENDED, select_async_contended, &s);
	size_t left = gort_chan_len(s.myc1) + gort_chan_len(s.myc2);
	if (left != (size_t)procs)
		fail("SelectAsyncContended", "%zu values in the two channels, want %d", left, procs);
	gort_chan_free(s.myc1);
	gort_chan_free(s.myc2);
	return bN;
}

#define N_CHAN_CREATION 6000000
#define G_CHAN_CREATION 1100

static void chan_creation(struct pb *pb, void *ctx)
{
	(void)ctx;
	int64_t zero = 0, v;
	while (pb_next(pb)) {
		gort_chan *myc = gort_chan_make(sizeof(int64_t), 1);
		gort_chan_send(myc, &zero);
		gort_chan_recv(myc, &v);
		gort_chan_free(myc);   /* Go: the collector */
	}
}

static int64_t case_chan_creation(void)
{
	int64_t bN = bench_size(N_CHAN_CREATION);
	run_parallel("ChanCreation", bN, G_CHAN_CREATION, chan_creation, NULL);
	return bN;
}

#define N_CHAN_SEM 20000000
#define G_CHAN_SEM 3000

static void chan_sem(struct pb *pb, void *ctx)
{
	gort_chan *myc = ctx;
	while (pb_next(pb)) {
		gort_chan_send(myc, NULL);   /* Empty{} */
		gort_chan_recv(myc, NULL);
	}
}

static int64_t case_chan_sem(void)
{
	int64_t bN = bench_size(N_CHAN_SEM);
	gort_chan *myc = gort_chan_make(0, (size_t)gort_gomaxprocs(0));   /* chan Empty */
	run_parallel("ChanSem", bN, G_CHAN_SEM, chan_sem, myc);
	if (gort_chan_len(myc) != 0)
		fail("ChanSem", "%zu values left in the channel", gort_chan_len(myc));
	gort_chan_free(myc);
	return bN;
}

/* --- main ------------------------------------------------------------------ */

/* The peak resident set, KiB: VmHWM of /proc/self/status, the high-water
 * mark ru_maxrss reports -- but of this program's memory alone: a child's
 * ru_maxrss starts at its parent's (exec takes the old memory's mark), so
 * whole.py, a Python process, could not see a program smaller than itself. */
static long peak_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static const struct program {
	const char *name;
	int64_t (*fn)(void);
} programs[] = {
	{ "skynet", case_skynet },
	{ "whispers", case_whispers },
	{ "prodcons1", case_prodcons1 },
	{ "prodcons4", case_prodcons4 },
	{ "prodcons16", case_prodcons16 },
	{ "mutex", case_mutex },
	{ "psum", case_psum },
	{ "sieve", case_sieve },
	{ "ChanProdCons0", case_chan_prodcons0 },
	{ "ChanProdCons10", case_chan_prodcons10 },
	{ "ChanProdCons100", case_chan_prodcons100 },
	{ "ChanSync", case_chan_sync },
	{ "ChanContended", case_chan_contended },
	{ "ChanUncontended", case_chan_uncontended },
	{ "SelectSyncContended", case_select_sync_contended },
	{ "SelectAsyncContended", case_select_async_contended },
	{ "SelectUncontended", case_select_uncontended },
	{ "ChanCreation", case_chan_creation },
	{ "ChanSem", case_chan_sem },
};

static int run(void *arg)
{
	const struct program *p = arg;
	int64_t t0 = gort_now();
	int64_t ops = p->fn();
	int64_t ns = gort_now() - t0;
	printf("case=%s ops=%" PRId64 "\n", p->name, ops);
	printf("case=%s value=%.4g unit=ns/op\n", p->name, (double)ns / (double)ops);
	long kb = peak_rss_kb();
	if (kb >= 0)
		printf("case=%s value=%ld unit=peak_rss_kb\n", p->name, kb);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	argc = bench_args(argc, argv);
	if (argc != 2) {
		fprintf(stderr, "usage: bench_programs [--quick] CASE | --list\n");
		return 2;
	}
	size_t n = sizeof programs / sizeof programs[0];
	if (strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", programs[i].name);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(argv[1], programs[i].name) == 0)
			return gort_main(run, (void *)&programs[i]);
	fprintf(stderr, "bench_programs: no case \"%s\" (--list names them)\n", argv[1]);
	return 2;
}
