/*
 * stress.c -- the seeded stress suite: many goroutines doing random things
 * to channels, select, timers, the scheduler and package sync, each case
 * checked by exact conservation, never by how long anything took.
 *
 *   chan_fifo      producers and consumers over unbuffered and buffered
 *                  channels; every message carries (producer, sequence):
 *                  each is delivered exactly once, and every consumer sees
 *                  each producer's sequence numbers strictly increase
 *   select_fuzz    random selects (send, receive, nil, closed, default)
 *                  over several channels from many goroutines: the values
 *                  sent are the values received, channel by channel
 *   select_close   goroutines blocked in select (and in receive) on
 *                  channels that are then closed: every one returns, on a
 *                  closed channel, with ok 0 and a zeroed element
 *   timers         AfterFunc and channel timers with random deadlines,
 *                  stopped and reset from several goroutines each (one at
 *                  a time per timer): every arming is accounted for as
 *                  cancelled (a stop or reset that returned 1) or fired
 *                  exactly once, and no firing is earlier than its arming
 *   timers_race    the same with no serialisation: several goroutines
 *                  stop and reset one timer at the same moment; firings ==
 *                  armings - successful stops and resets, and none early
 *   spawn_storm    a million goroutines in batches, bursts and trees: each
 *                  runs exactly once, and all of them exit
 *   park_unpark    100k goroutines parked on one channel, released one by
 *                  one, by close, and by both
 *   mutex_wg       counters under contended Mutexes, WaitGroups with many
 *                  waiters and nested Adds, Once
 *   preempt        loops that never call gort, of random lengths, between
 *                  random scheduling points (yield, sleep, a channel, a
 *                  pthread mutex inside gort_preempt_disable, a wired
 *                  stretch under gort_lock_thread): every loop's integer,
 *                  floating-point and vector result equals the same work
 *                  done unpreemptible, no loop changed thread, no wired
 *                  stretch changed thread, and every goroutine finished
 *   net            loopback TCP: connections dialled, used and closed at
 *                  random (echo, transform, request and reply with a
 *                  half-close, aborts with and without a reset, a close
 *                  under a waiting write): a whole connection conserves
 *                  count, sum and hash of its bytes each way, an aborted
 *                  one delivers a prefix, every descriptor ends closed
 *
 * Each case runs in a child process at GORTMAXPROCS 1, 2 and 8, once with
 * the profiler off and once with it on at 1000 Hz; the two runs must print
 * the same RESULT line, and the profiled one a non-empty profile whose
 * ledger balances.  A child that does not finish in time reports what it
 * was doing, then SIGQUIT makes the runtime print every goroutine.
 *
 * Seeded: the seed is GORT_STRESS_SEED, or the clock's.  Every random
 * choice comes from a PRNG of its own goroutine (a producer, a driver of
 * a timer, ...), derived from the seed, the case and the goroutine's
 * place in the case, so the workload -- though not the schedule -- is
 * replayed exactly by the line every failure prints:
 *
 *   GORT_STRESS_SEED=S GORTMAXPROCS=P GORT_STRESS_PROF=0|1 CK_RUN_CASE=case test_stress
 *
 * GORTMAXPROCS (any value) and GORT_STRESS_PROF, when set, pick the runs;
 * CK_RUN_CASE is Check's own filter.  GORT_STRESS_VERBOSE=1 shows every
 * child's output.  A failed run's whole output is kept in stress-logs/
 * (in the directory the suite runs in).  Counts are divided by SCALE under
 * emulation (and by 4 more under AddressSanitizer); GORT_TEST_SCALE sets
 * the divisor; GORT_STRESS_TIMEOUT, the seconds a child may run.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "testutil.h"

#include "gort.h"

#if defined(__SANITIZE_ADDRESS__)
#define STRESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRESS_ASAN 1
#endif
#endif
#ifndef STRESS_ASAN
#define STRESS_ASAN 0
#endif

#ifdef GORT_TEST_EMULATED
#define STRESS_EMULATED 1
#else
#define STRESS_EMULATED 0
#endif

typedef unsigned long long ull;

/* --- the workload's randomness ------------------------------------------------ */

static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct rng {
	uint64_t s;
};

static inline uint64_t rnext(struct rng *r)   /* splitmix64 */
{
	return mix64(r->s += 0x9e3779b97f4a7c15ull);
}

static inline uint32_t rbelow(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rnext(r) >> 32) * (uint64_t)n) >> 32);
}

/* --- the child's context: what every message must say ------------------------- */

static struct {
	const char *name;      /* the case */
	uint64_t seed;         /* the suite's seed */
	uint64_t case_seed;    /* derived from it and the case's name */
	int procs;
	int prof;
	int div;               /* counts are divided by this */
	int timeout;           /* seconds before the watchdog reports a hang */
} ctx;

/* What the case is doing, for the hang report. */
static const char *volatile phase = "starting";
static volatile uint64_t progress[3] __attribute__((aligned(8)));

#define PHASE(s) gort_atomic_storep((void *volatile *)&phase, (void *)(s))
#define PROGRESS(i, d) gort_atomic_add64(&progress[i], (int64_t)(d))

/* A generator of its own for goroutine `index` of role `stream`. */
static struct rng rng_for(uint32_t stream, uint64_t index)
{
	struct rng r = { ctx.case_seed ^ mix64(((uint64_t)stream << 40) ^ index ^ 0x5eed5eedull) };
	rnext(&r);
	return r;
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void outf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void outf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	write_all(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void failf(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
static void failf(const char *file, int line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	outf("STRESS FAIL: case=%s seed=%llu GORTMAXPROCS=%d prof=%s: %s:%d: %s\n",
		ctx.name, (ull)ctx.seed, ctx.procs, ctx.prof ? "on" : "off", file, line, msg);
	_exit(1);
}

#define FAIL(...) failf(__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond, ...) do { if (!(cond)) FAIL("check failed: " #cond ": " __VA_ARGS__); } while (0)

/* Counts, scaled: never below `min`. */
static uint32_t scaled(uint32_t n, uint32_t min)
{
	uint32_t v = n / (uint32_t)ctx.div;
	return v < min ? min : v;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		FAIL("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

static gort_chan *xchan(size_t elemsize, size_t cap)
{
	gort_chan *c = gort_chan_make(elemsize, cap);
	if (!c)
		FAIL("gort_chan_make(%zu, %zu) failed", elemsize, cap);
	return c;
}

/* Wait for every goroutine but `base` to be gone.  Done is not dead: the
 * last ones may still be on their way out.  No deadline: a goroutine that
 * never exits is a hang, and the watchdog says so. */
static void wait_goroutines(int base)
{
	int64_t since = gort_now();
	int said = 0;
	while (gort_numgoroutine() > base) {
		gort_sleep(1000000);
		if (!said && gort_now() - since > 5000000000ll) {
			outf("stress: %s: still %d goroutines 5 s after all were done (want %d)\n",
				ctx.name, gort_numgoroutine(), base);
			said = 1;
		}
	}
}

/* ==== chan_fifo ================================================================ */

#define FIFO_NCH 6

struct fifo_msg {
	uint32_t pid, seq;
	uint64_t check;
};

struct fifo_ch {
	gort_chan *c;
	uint32_t cap;
	uint32_t p0, np;          /* its producers: pids p0 .. p0+np-1 */
	gort_waitgroup prod_wg;
};

struct fifo_prod {
	uint32_t ch, n, base;     /* base: its first slot in delivered[] */
};

static struct {
	struct fifo_ch ch[FIFO_NCH];
	struct fifo_prod *prod;
	uint32_t nprod, ncons;
	uint32_t *delivered;      /* per message: times received */
	uint64_t total;
	volatile uint64_t received __attribute__((aligned(8)));
	gort_waitgroup wg;        /* consumers and closers */
} F;

static inline uint64_t fifo_check(uint32_t pid, uint32_t seq)
{
	return mix64(((uint64_t)pid << 32 | seq) ^ 0xf1f0f1f0ull);
}

static void fifo_producer(void *arg)
{
	uint32_t pid = (uint32_t)(uintptr_t)arg;
	struct fifo_prod *p = &F.prod[pid];
	struct fifo_ch *ch = &F.ch[p->ch];
	struct rng r = rng_for(1, pid);
	for (uint32_t seq = 0; seq < p->n; seq++) {
		struct fifo_msg m = { pid, seq, fifo_check(pid, seq) };
		uint32_t how = rbelow(&r, 16);
		if (how == 0) {
			gort_yield();
			gort_chan_send(ch->c, &m);
		} else if (how <= 2) {
			int dummy = 0;
			gort_select_case sc[3] = {
				{ .c = NULL, .dir = GORT_SEND, .elem = &dummy },
				{ .c = ch->c, .dir = GORT_SEND, .elem = &m },
				{ .c = NULL, .dir = GORT_RECV, .elem = &dummy },
			};
			int k = gort_select(sc, 3, 1);
			CHECK(k == 1, "producer %u: blocking select chose case %d (only 1 can proceed)", pid, k);
		} else if (how == 3) {
			gort_select_case sc = { .c = ch->c, .dir = GORT_SEND, .elem = &m };
			int k = gort_select(&sc, 1, 0);
			CHECK(k == -1 || k == 0, "producer %u: non-blocking select returned %d", pid, k);
			if (k < 0)
				gort_chan_send(ch->c, &m);
		} else {
			gort_chan_send(ch->c, &m);
		}
	}
	gort_waitgroup_done(&ch->prod_wg);
}

static void fifo_closer(void *arg)
{
	struct fifo_ch *ch = arg;
	gort_waitgroup_wait(&ch->prod_wg);
	gort_chan_close(ch->c);
	gort_waitgroup_done(&F.wg);
}

struct fifo_cons_arg {
	uint32_t id, ch;
};

static void fifo_consumer(void *arg)
{
	struct fifo_cons_arg *a = arg;
	struct fifo_ch *ch = &F.ch[a->ch];
	struct rng r = rng_for(2, a->id);
	int64_t *last = xcalloc(ch->np, sizeof *last);
	for (uint32_t i = 0; i < ch->np; i++)
		last[i] = -1;
	uint64_t got = 0;
	for (;;) {
		struct fifo_msg m;
		memset(&m, 0xa5, sizeof m);
		int ok;
		uint32_t how = rbelow(&r, 16);
		if (how <= 1) {
			int dummy = 0;
			gort_select_case sc[3] = {
				{ .c = NULL, .dir = GORT_RECV, .elem = &dummy },
				{ .c = NULL, .dir = GORT_SEND, .elem = &dummy },
				{ .c = ch->c, .dir = GORT_RECV, .elem = &m },
			};
			int k = gort_select(sc, 3, 1);
			CHECK(k == 2, "consumer %u: blocking select chose case %d (only 2 can proceed)", a->id, k);
			ok = sc[2].ok;
		} else if (how == 2) {
			gort_select_case sc = { .c = ch->c, .dir = GORT_RECV, .elem = &m };
			int k = gort_select(&sc, 1, 0);
			CHECK(k == -1 || k == 0, "consumer %u: non-blocking select returned %d", a->id, k);
			ok = k == 0 ? sc.ok : gort_chan_recv(ch->c, &m);
		} else {
			ok = gort_chan_recv(ch->c, &m);
		}
		if (!ok) {
			static const struct fifo_msg zero;
			CHECK(memcmp(&m, &zero, sizeof m) == 0,
				"consumer %u: receive on closed channel %u left a non-zero element", a->id, a->ch);
			break;
		}
		CHECK(m.check == fifo_check(m.pid, m.seq),
			"consumer %u on channel %u: corrupt message (pid %u seq %u check %016llx)",
			a->id, a->ch, m.pid, m.seq, (ull)m.check);
		CHECK(m.pid >= ch->p0 && m.pid < ch->p0 + ch->np,
			"consumer %u on channel %u: message of producer %u, who sends on another channel",
			a->id, a->ch, m.pid);
		CHECK(m.seq < F.prod[m.pid].n, "producer %u never sent seq %u", m.pid, m.seq);
		int64_t *l = &last[m.pid - ch->p0];
		CHECK((int64_t)m.seq > *l,
			"consumer %u on channel %u (cap %u): producer %u's seq %u after seq %lld: not FIFO",
			a->id, a->ch, ch->cap, m.pid, m.seq, (long long)*l);
		*l = m.seq;
		uint32_t d = gort_atomic_add32(&F.delivered[F.prod[m.pid].base + m.seq], 1);
		CHECK(d == 1, "producer %u seq %u delivered %u times (channel %u, cap %u)",
			m.pid, m.seq, d, a->ch, ch->cap);
		if ((++got & 1023) == 0)
			PROGRESS(0, 1024);
		if (rbelow(&r, 64) == 0)
			gort_yield();
	}
	free(last);
	gort_atomic_add64(&F.received, (int64_t)got);
	gort_waitgroup_done(&F.wg);
}

static void case_chan_fifo(char *digest, size_t dn)
{
	static const uint32_t caps[] = { 1, 2, 3, 8, 32, 128 };
	struct rng r = rng_for(0, 0);
	uint32_t target = scaled(3000000, 20000);
	uint32_t nprod = 0, ncons = 0;
	uint32_t np[FIFO_NCH], nc[FIFO_NCH];
	for (int k = 0; k < FIFO_NCH; k++) {
		F.ch[k].cap = k % 3 == 0 ? 0 : caps[rbelow(&r, 6)];   /* two unbuffered */
		np[k] = 1 + rbelow(&r, 6);
		nc[k] = 1 + rbelow(&r, 6);
		nprod += np[k];
		ncons += nc[k];
	}
	F.prod = xcalloc(nprod, sizeof *F.prod);
	F.nprod = nprod;
	F.ncons = ncons;
	uint32_t avg = target / nprod, pid = 0;
	F.total = 0;
	for (uint32_t k = 0; k < FIFO_NCH; k++) {
		F.ch[k].c = xchan(sizeof(struct fifo_msg), F.ch[k].cap);
		F.ch[k].p0 = pid;
		F.ch[k].np = np[k];
		for (uint32_t i = 0; i < np[k]; i++, pid++) {
			F.prod[pid].ch = k;
			F.prod[pid].n = avg / 2 + rbelow(&r, avg + 1);
			F.prod[pid].base = (uint32_t)F.total;
			F.total += F.prod[pid].n;
		}
	}
	F.delivered = xcalloc((size_t)F.total, sizeof *F.delivered);
	struct fifo_cons_arg *ca = xcalloc(ncons, sizeof *ca);

	PHASE("chan_fifo: producers and consumers running");
	gort_waitgroup_add(&F.wg, (int)(ncons + FIFO_NCH));
	uint32_t cid = 0;
	for (uint32_t k = 0; k < FIFO_NCH; k++) {
		gort_waitgroup_add(&F.ch[k].prod_wg, (int)np[k]);
		gort_go(fifo_closer, &F.ch[k]);
		for (uint32_t i = 0; i < nc[k]; i++, cid++) {
			ca[cid] = (struct fifo_cons_arg){ cid, k };
			gort_go(fifo_consumer, &ca[cid]);
		}
	}
	for (uint32_t p = 0; p < nprod; p++)
		gort_go(fifo_producer, (void *)(uintptr_t)p);
	gort_waitgroup_wait(&F.wg);

	PHASE("chan_fifo: checking");
	for (uint32_t p = 0; p < nprod; p++)
		for (uint32_t s = 0; s < F.prod[p].n; s++)
			CHECK(F.delivered[F.prod[p].base + s] == 1,
				"producer %u seq %u (channel %u, cap %u) delivered %u times",
				p, s, F.prod[p].ch, F.ch[F.prod[p].ch].cap, F.delivered[F.prod[p].base + s]);
	CHECK(gort_atomic_load64(&F.received) == F.total, "%llu messages received, %llu sent",
		(ull)gort_atomic_load64(&F.received), (ull)F.total);
	for (int k = 0; k < FIFO_NCH; k++) {
		struct fifo_msg m;
		CHECK(gort_chan_len(F.ch[k].c) == 0, "channel %d: %zu left after close", k,
			gort_chan_len(F.ch[k].c));
		CHECK(gort_chan_recv(F.ch[k].c, &m) == 0, "channel %d: a value after close and drain", k);
		gort_chan_free(F.ch[k].c);
	}
	snprintf(digest, dn, "channels=%d producers=%u consumers=%u messages=%llu",
		FIFO_NCH, nprod, ncons, (ull)F.total);
	free(ca);
	free(F.delivered);
	free(F.prod);
}

/* ==== select_fuzz ============================================================= */

#define SF_K 6              /* fuzz channels; then late, then feed */
#define SF_LATE SF_K
#define SF_FEED (SF_K + 1)
#define SF_NACCT (SF_K + 2)
#define SF_MAXC 20

enum { SF_SEND, SF_RECV, SF_NILSEND, SF_NILRECV, SF_CLOSED, SF_LATERECV, SF_FEEDRECV };

struct sf_val {
	uint64_t v, check;
};

struct sf_acct {
	uint64_t sent_n[SF_NACCT], sent_sum[SF_NACCT], recv_n[SF_NACCT], recv_sum[SF_NACCT];
	uint64_t closed_n, late_closed_n, defaults, selects, cases;
};

static struct {
	gort_chan *ch[SF_K], *closed, *late, *feed, *stop;
	uint32_t cap[SF_K];
	volatile uint32_t late_closed;
	uint32_t nfuzz, nselects, nlate;
	gort_mutex mu;
	struct sf_acct total;
	gort_waitgroup fuzz_wg, side_wg;
} S;

static inline uint64_t sf_check(uint64_t v)
{
	return mix64(v ^ 0x5e1ec7ull);
}

static void sf_account(const struct sf_acct *a)
{
	gort_mutex_lock(&S.mu);
	for (int i = 0; i < SF_NACCT; i++) {
		S.total.sent_n[i] += a->sent_n[i];
		S.total.sent_sum[i] += a->sent_sum[i];
		S.total.recv_n[i] += a->recv_n[i];
		S.total.recv_sum[i] += a->recv_sum[i];
	}
	S.total.closed_n += a->closed_n;
	S.total.late_closed_n += a->late_closed_n;
	S.total.defaults += a->defaults;
	S.total.selects += a->selects;
	S.total.cases += a->cases;
	gort_mutex_unlock(&S.mu);
}

static void sf_recvd(struct sf_acct *a, int which, const struct sf_val *v, uint32_t who)
{
	CHECK(v->check == sf_check(v->v), "goroutine %u: corrupt value %016llx/%016llx from channel %d",
		who, (ull)v->v, (ull)v->check, which);
	a->recv_n[which]++;
	a->recv_sum[which] += mix64(v->v);
}

/* Feeders: every blocking select has a receive on feed, so it always can
 * proceed: nobody is ever stuck when the others are done. */
static void sf_sender(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;   /* nfuzz+1..: feeders; the last: late */
	int late = id == S.nfuzz + 3;
	struct sf_acct a;
	memset(&a, 0, sizeof a);
	gort_chan *c = late ? S.late : S.feed;
	int which = late ? SF_LATE : SF_FEED;
	for (uint64_t seq = 0; !late || seq < S.nlate; seq++) {
		struct sf_val v = { (uint64_t)id << 40 | seq, 0 };
		v.check = sf_check(v.v);
		gort_select_case sc[2] = {
			{ .c = c, .dir = GORT_SEND, .elem = &v },
			{ .c = S.stop, .dir = GORT_RECV, .elem = NULL },
		};
		int k = gort_select(sc, 2, 1);
		if (k == 1) {
			CHECK(sc[1].ok == 0, "sender %u: a value on the stop channel", id);
			break;
		}
		CHECK(k == 0, "sender %u: select returned %d", id, k);
		a.sent_n[which]++;
		a.sent_sum[which] += mix64(v.v);
	}
	if (late) {
		gort_atomic_store32(&S.late_closed, 1);
		gort_chan_close(S.late);
	}
	sf_account(&a);
	gort_waitgroup_done(&S.side_wg);
}

static void sf_fuzzer(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	struct rng r = rng_for(10, id);
	struct sf_acct a;
	memset(&a, 0, sizeof a);
	gort_select_case sc[SF_MAXC];
	int type[SF_MAXC], chan_of[SF_MAXC];
	struct sf_val val[SF_MAXC];
	uint64_t seq = 0;
	for (uint32_t s = 0; s < S.nselects; s++) {
		int n = 1 + (int)rbelow(&r, 7);
		if (rbelow(&r, 64) == 0)
			n = 9 + (int)rbelow(&r, 8);     /* more than fit on select's stack */
		int block = rbelow(&r, 4) != 0;
		for (int i = 0; i < n; i++) {
			uint32_t t = rbelow(&r, 100);
			int k = (int)rbelow(&r, SF_K);
			chan_of[i] = k;
			memset(&val[i], 0xa5, sizeof val[i]);
			if (t < 32) {
				type[i] = SF_SEND;
				val[i].v = (uint64_t)(id + 1) << 40 | seq++;
				val[i].check = sf_check(val[i].v);
				sc[i] = (gort_select_case){ .c = S.ch[k], .dir = GORT_SEND, .elem = &val[i] };
			} else if (t < 64) {
				type[i] = SF_RECV;
				sc[i] = (gort_select_case){ .c = S.ch[k], .dir = GORT_RECV, .elem = &val[i] };
			} else if (t < 72) {
				type[i] = SF_NILSEND;
				sc[i] = (gort_select_case){ .c = NULL, .dir = GORT_SEND, .elem = &val[i] };
			} else if (t < 80) {
				type[i] = SF_NILRECV;
				sc[i] = (gort_select_case){ .c = NULL, .dir = GORT_RECV, .elem = &val[i] };
			} else if (t < 86) {
				type[i] = SF_CLOSED;
				sc[i] = (gort_select_case){ .c = S.closed, .dir = GORT_RECV, .elem = &val[i] };
			} else {
				type[i] = SF_LATERECV;
				sc[i] = (gort_select_case){ .c = S.late, .dir = GORT_RECV, .elem = &val[i] };
			}
		}
		if (block) {   /* the way out: a receive on feed, somewhere among them */
			int at = (int)rbelow(&r, (uint32_t)n + 1);
			if (at < n) {
				sc[n] = sc[at];
				type[n] = type[at];
				chan_of[n] = chan_of[at];
				val[n] = val[at];
				sc[n].elem = &val[n];
			}
			type[at] = SF_FEEDRECV;
			memset(&val[at], 0xa5, sizeof val[at]);
			sc[at] = (gort_select_case){ .c = S.feed, .dir = GORT_RECV, .elem = &val[at] };
			n++;
		}
		/* Every draw before the select: what it chose must not change
		 * what this goroutine does next, or the workload is not replayable. */
		int yield = rbelow(&r, 32) == 0;
		a.selects++;
		a.cases += (uint64_t)n;
		int k = gort_select(sc, n, block);
		CHECK(k >= -1 && k < n, "fuzzer %u: select of %d cases returned %d", id, n, k);
		if (k < 0) {
			CHECK(!block, "fuzzer %u: a blocking select returned -1", id);
			a.defaults++;
			continue;
		}
		CHECK(sc[k].c != NULL, "fuzzer %u: select chose case %d, a nil channel", id, k);
		switch (type[k]) {
		case SF_SEND:
			a.sent_n[chan_of[k]]++;
			a.sent_sum[chan_of[k]] += mix64(val[k].v);
			break;
		case SF_RECV:
			CHECK(sc[k].ok == 1, "fuzzer %u: receive on channel %d (never closed) gave ok %d",
				id, chan_of[k], sc[k].ok);
			sf_recvd(&a, chan_of[k], &val[k], id);
			break;
		case SF_CLOSED: {
			static const struct sf_val zero;
			CHECK(sc[k].ok == 0, "fuzzer %u: receive on a closed, empty channel gave ok %d", id, sc[k].ok);
			CHECK(memcmp(&val[k], &zero, sizeof zero) == 0,
				"fuzzer %u: receive on a closed channel left a non-zero element", id);
			a.closed_n++;
			break;
		}
		case SF_LATERECV:
			if (sc[k].ok) {
				sf_recvd(&a, SF_LATE, &val[k], id);
			} else {
				CHECK(gort_atomic_load32(&S.late_closed),
					"fuzzer %u: receive on the late channel gave ok 0 before it was closed", id);
				a.late_closed_n++;
			}
			break;
		case SF_FEEDRECV:
			CHECK(sc[k].ok == 1, "fuzzer %u: receive on feed (never closed) gave ok %d", id, sc[k].ok);
			sf_recvd(&a, SF_FEED, &val[k], id);
			break;
		default:
			FAIL("fuzzer %u: select chose case %d of type %d, which can never proceed", id, k, type[k]);
		}
		if ((s & 255) == 255)
			PROGRESS(0, 256);
		if (yield)
			gort_yield();
	}
	sf_account(&a);
	gort_waitgroup_done(&S.fuzz_wg);
}

static void case_select_fuzz(char *digest, size_t dn)
{
	static const uint32_t caps[] = { 0, 0, 1, 3, 16 };
	struct rng r = rng_for(0, 0);
	for (int k = 0; k < SF_K; k++) {
		S.cap[k] = k == 0 ? 0 : caps[rbelow(&r, 5)];
		S.ch[k] = xchan(sizeof(struct sf_val), S.cap[k]);
	}
	S.closed = xchan(sizeof(struct sf_val), rbelow(&r, 2) ? 4 : 0);
	gort_chan_close(S.closed);
	uint32_t latecap = rbelow(&r, 2) ? 8 : 0;
	S.late = xchan(sizeof(struct sf_val), latecap);
	S.feed = xchan(sizeof(struct sf_val), 0);
	S.stop = xchan(1, 0);
	S.nfuzz = 32;
	S.nselects = scaled(50000, 500);
	S.nlate = scaled(100000, 1000);

	PHASE("select_fuzz: fuzzers running");
	gort_waitgroup_add(&S.fuzz_wg, (int)S.nfuzz);
	gort_waitgroup_add(&S.side_wg, 3);
	for (uint32_t i = 1; i <= 3; i++)
		gort_go(sf_sender, (void *)(uintptr_t)(S.nfuzz + i));
	for (uint32_t i = 0; i < S.nfuzz; i++)
		gort_go(sf_fuzzer, (void *)(uintptr_t)i);
	gort_waitgroup_wait(&S.fuzz_wg);
	PHASE("select_fuzz: stopping the feeders and the late sender");
	gort_chan_close(S.stop);
	gort_waitgroup_wait(&S.side_wg);

	PHASE("select_fuzz: draining and checking");
	struct sf_acct a;
	memset(&a, 0, sizeof a);
	for (int k = 0; k < SF_K; k++) {
		struct sf_val v;
		gort_select_case sc = { .c = S.ch[k], .dir = GORT_RECV, .elem = &v };
		while (gort_select(&sc, 1, 0) == 0) {
			CHECK(sc.ok, "channel %d was never closed, yet a receive gave ok 0", k);
			sf_recvd(&a, k, &v, 0);
		}
	}
	struct sf_val v;
	while (gort_chan_recv(S.late, &v))
		sf_recvd(&a, SF_LATE, &v, 0);
	gort_select_case fc = { .c = S.feed, .dir = GORT_RECV, .elem = &v };
	CHECK(gort_select(&fc, 1, 0) == -1, "a value on feed after every feeder stopped");
	sf_account(&a);

	for (int k = 0; k < SF_NACCT; k++) {
		CHECK(S.total.sent_n[k] == S.total.recv_n[k] && S.total.sent_sum[k] == S.total.recv_sum[k],
			"channel %d (%s, cap %u): %llu values sent, %llu received (sums %016llx, %016llx)",
			k, k < SF_K ? "fuzz" : k == SF_LATE ? "late" : "feed",
			k < SF_K ? S.cap[k] : k == SF_LATE ? latecap : 0,
			(ull)S.total.sent_n[k], (ull)S.total.recv_n[k],
			(ull)S.total.sent_sum[k], (ull)S.total.recv_sum[k]);
	}
	CHECK(S.total.selects == (uint64_t)S.nfuzz * S.nselects, "%llu selects made, want %llu",
		(ull)S.total.selects, (ull)S.nfuzz * S.nselects);
	for (int k = 0; k < SF_K; k++)
		gort_chan_free(S.ch[k]);
	gort_chan_free(S.closed);
	gort_chan_free(S.late);
	gort_chan_free(S.feed);
	gort_chan_free(S.stop);
	snprintf(digest, dn, "fuzzers=%u selects=%llu cases=%llu", S.nfuzz, (ull)S.total.selects,
		(ull)S.total.cases);
}

/* ==== select_close ============================================================ */

#define SC_MAXV 4
#define SC_MAXC 8

static struct {
	gort_chan *victim[SC_MAXV], *never, *never2;
	volatile uint32_t closed[SC_MAXV];
	uint32_t nvictim, round;
	volatile uint32_t returned;
	gort_waitgroup ready, fin;
} C;

static void sc_waiter(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	struct rng r = rng_for(30, (uint64_t)C.round << 32 | id);
	static const uint64_t zero[2];
	uint64_t elem[SC_MAXC][2];
	gort_select_case sc[SC_MAXC];
	int victim_of[SC_MAXC];
	memset(elem, 0xa5, sizeof elem);
	if (rbelow(&r, 10) == 0) {   /* a plain receive */
		int v = (int)rbelow(&r, C.nvictim);
		gort_waitgroup_done(&C.ready);
		int ok = gort_chan_recv(C.victim[v], elem[0]);
		CHECK(ok == 0, "round %u waiter %u: a value from victim %d, to which nobody sends",
			C.round, id, v);
		CHECK(memcmp(elem[0], zero, sizeof zero) == 0,
			"round %u waiter %u: receive on closed victim %d left a non-zero element", C.round, id, v);
		CHECK(gort_atomic_load32(&C.closed[v]),
			"round %u waiter %u: receive on victim %d returned before it was closed", C.round, id, v);
		gort_atomic_add32(&C.returned, 1);
		gort_waitgroup_done(&C.fin);
		return;
	}
	int n = 0;
	int nv = 1 + (int)rbelow(&r, C.nvictim < 3 ? C.nvictim : 3);
	for (int i = 0; i < nv; i++) {
		int v = (int)rbelow(&r, C.nvictim);
		victim_of[n] = v;
		sc[n] = (gort_select_case){ .c = C.victim[v], .dir = GORT_RECV, .elem = elem[n] };
		n++;
	}
	int extra = (int)rbelow(&r, 4);
	for (int i = 0; i < extra; i++) {
		victim_of[n] = -1;
		switch (rbelow(&r, 4)) {
		case 0: sc[n] = (gort_select_case){ .c = NULL, .dir = GORT_SEND, .elem = elem[n] }; break;
		case 1: sc[n] = (gort_select_case){ .c = NULL, .dir = GORT_RECV, .elem = elem[n] }; break;
		case 2: sc[n] = (gort_select_case){ .c = C.never, .dir = GORT_SEND, .elem = elem[n] }; break;
		default: sc[n] = (gort_select_case){ .c = C.never2, .dir = GORT_RECV, .elem = elem[n] }; break;
		}
		n++;
	}
	for (int i = n - 1; i > 0; i--) {   /* shuffle, keeping each case's element */
		int j = (int)rbelow(&r, (uint32_t)i + 1);
		gort_select_case t = sc[i];
		sc[i] = sc[j];
		sc[j] = t;
		int tv = victim_of[i];
		victim_of[i] = victim_of[j];
		victim_of[j] = tv;
	}
	gort_waitgroup_done(&C.ready);
	int k = gort_select(sc, n, 1);
	CHECK(k >= 0 && k < n, "round %u waiter %u: blocking select returned %d", C.round, id, k);
	CHECK(victim_of[k] >= 0, "round %u waiter %u: select woke on case %d, which is not a victim "
		"(channel %p, dir %d)", C.round, id, k, (void *)sc[k].c, sc[k].dir);
	CHECK(sc[k].ok == 0, "round %u waiter %u: a value from victim %d, to which nobody sends",
		C.round, id, victim_of[k]);
	CHECK(memcmp(sc[k].elem, zero, sizeof zero) == 0,
		"round %u waiter %u: receive on closed victim %d left a non-zero element", C.round, id,
		victim_of[k]);
	CHECK(gort_atomic_load32(&C.closed[victim_of[k]]),
		"round %u waiter %u: woke on victim %d before it was closed", C.round, id, victim_of[k]);
	gort_atomic_add32(&C.returned, 1);
	gort_waitgroup_done(&C.fin);
}

static void case_select_close(char *digest, size_t dn)
{
	static const uint32_t caps[] = { 0, 1, 4 };
	struct rng r = rng_for(0, 0);
	uint32_t rounds = scaled(200, 10), per = scaled(500, 50);
	uint64_t total = 0;
	for (C.round = 0; C.round < rounds; C.round++) {
		C.nvictim = 1 + rbelow(&r, SC_MAXV);
		for (uint32_t v = 0; v < C.nvictim; v++) {
			C.victim[v] = xchan(2 * sizeof(uint64_t), caps[rbelow(&r, 3)]);
			C.closed[v] = 0;
		}
		C.never = xchan(2 * sizeof(uint64_t), 0);
		C.never2 = xchan(2 * sizeof(uint64_t), 0);
		uint32_t w = per / 2 + rbelow(&r, per);
		C.returned = 0;
		PHASE("select_close: waiters blocking");
		gort_waitgroup_add(&C.ready, (int)w);
		gort_waitgroup_add(&C.fin, (int)w);
		for (uint32_t i = 0; i < w; i++)
			gort_go(sc_waiter, (void *)(uintptr_t)i);
		gort_waitgroup_wait(&C.ready);
		for (int i = 0; i < 10; i++)    /* let them park: coverage, not correctness */
			gort_yield();
		gort_sleep(200000);
		PHASE("select_close: closing the victims; waiting for every waiter to return");
		uint32_t order[SC_MAXV];
		for (uint32_t v = 0; v < C.nvictim; v++)
			order[v] = v;
		for (uint32_t v = C.nvictim - 1; v > 0; v--) {
			uint32_t j = rbelow(&r, v + 1), t = order[v];
			order[v] = order[j];
			order[j] = t;
		}
		for (uint32_t v = 0; v < C.nvictim; v++) {
			gort_atomic_store32(&C.closed[order[v]], 1);
			gort_chan_close(C.victim[order[v]]);
			gort_yield();
		}
		gort_waitgroup_wait(&C.fin);
		CHECK(gort_atomic_load32(&C.returned) == w, "round %u: %u of %u waiters returned", C.round,
			gort_atomic_load32(&C.returned), w);
		CHECK(gort_chan_len(C.never) == 0 && gort_chan_len(C.never2) == 0, "round %u: values on never",
			C.round);
		/* Every select took its sudogs off every queue: freeing panics if not. */
		for (uint32_t v = 0; v < C.nvictim; v++)
			gort_chan_free(C.victim[v]);
		gort_chan_free(C.never);
		gort_chan_free(C.never2);
		total += w;
		PROGRESS(0, w);
	}
	snprintf(digest, dn, "rounds=%u waiters=%llu", rounds, (ull)total);
}

/* ==== timers: one operation at a time per timer, exact attribution ============ */

/* Each timer has 2-4 driver goroutines that stop and reset it, each
 * operation under the timer's mutex.  The mutex makes the history of a
 * timer a sequence, so every arming's fate is known exactly:
 *
 *   - an operation that returns 1 cancelled the pending arming: it must
 *     never fire;
 *   - one that returns 0 while an arming was pending means that arming
 *     fired (or began to): its firing must arrive, once, and no earlier
 *     than the arming's deadline;
 *   - one that returns 1 when no arming was pending (after a stop) is
 *     wrong.
 *
 * A channel timer's firing is the value in its channel (the runtime's
 * clock at the firing); a reset of one is Go's idiom, stop, drain, reset,
 * so the one-slot channel never drops a value.  An AfterFunc timer's
 * callback sends the clock on a channel of our own, under a per-timer
 * mutex so that the values arrive in the order of their times: the i-th
 * value received then belongs to the i-th firing (firings of one timer
 * happen in the order of its armings, each after its deadline, and each
 * value is no earlier than its firing, so the sorted values dominate the
 * deadlines in that order).  deadline >= the clock read before the call +
 * ns, the lower bound we compare against. */

struct tm_timer {
	gort_mutex mu;            /* serialises the drivers */
	gort_mutex cbmu;          /* the callback's clock read and send */
	gort_timer *t;
	gort_chan *fired;         /* AfterFunc: the callbacks' clocks */
	uint32_t kind;            /* 0 AfterFunc, 1 channel timer */
	uint32_t armed;
	int64_t dlo;              /* the pending arming's deadline, at least */
	uint32_t gen;             /* ... and its number, from 1 */
	volatile uint32_t armings;  /* written under mu, read by the callback */
	uint32_t cancelled, firings;
	volatile uint32_t callbacks;
	gort_waitgroup wg;
};

static struct {
	struct tm_timer *tm;
	uint32_t n, ndone;
	gort_chan *slots;
	gort_waitgroup all;
	gort_mutex mu;
	uint64_t armings, cancelled, firings, ops;
} T;

static int64_t tm_pick_ns(struct rng *r)
{
	uint32_t x = rbelow(r, 100);
	if (x < 5)
		return -(int64_t)rbelow(r, 1000);          /* due at once */
	if (x < 40)
		return (int64_t)rbelow(r, 200000);
	if (x < 80)
		return 200000 + (int64_t)rbelow(r, 1800000);
	return 2000000 + (int64_t)rbelow(r, 3000000);
}

static void tm_callback(void *arg)
{
	struct tm_timer *tm = arg;
	uint32_t i = (uint32_t)(tm - T.tm);
	uint32_t cb = gort_atomic_add32(&tm->callbacks, 1);
	uint32_t armings = gort_atomic_load32(&tm->armings);
	CHECK(cb <= armings, "AfterFunc timer %u: callback %u, but only %u armings", i, cb, armings);
	gort_mutex_lock(&tm->cbmu);
	int64_t now = gort_now();
	gort_chan_send(tm->fired, &now);
	gort_mutex_unlock(&tm->cbmu);
}

static int64_t tm_wait_fire(struct tm_timer *tm)
{
	int64_t when = 0;
	gort_chan *c = tm->kind ? gort_timer_chan(tm->t) : tm->fired;
	CHECK(gort_chan_recv(c, &when) == 1, "timer %u: its channel was closed", (uint32_t)(tm - T.tm));
	return when;
}

/* tm->mu held: an operation returned `ret`; account for the pending arming. */
static void tm_settle(struct tm_timer *tm, int ret, const char *what)
{
	uint32_t i = (uint32_t)(tm - T.tm);
	CHECK(ret == 0 || ret == 1, "timer %u: %s returned %d", i, what, ret);
	if (!tm->armed) {
		CHECK(ret == 0, "%s timer %u: %s returned 1, but no arming was pending (it was stopped)",
			tm->kind ? "channel" : "AfterFunc", i, what);
		return;
	}
	if (ret) {
		tm->cancelled++;
	} else {
		int64_t at = tm_wait_fire(tm);
		CHECK(at >= tm->dlo, "%s timer %u: arming %u fired %lld ns before its deadline",
			tm->kind ? "channel" : "AfterFunc", i, tm->gen, (long long)(tm->dlo - at));
		tm->firings++;
	}
	tm->armed = 0;
}

/* Count an arming before the call that makes it: it may fire, and its
 * callback run, before that call returns. */
static int64_t tm_arming(struct tm_timer *tm)
{
	gort_atomic_add32(&tm->armings, 1);
	return gort_now();
}

/* ... and once the call has settled the previous one, it is the pending one. */
static void tm_armed(struct tm_timer *tm, int64_t now0, int64_t ns)
{
	tm->armed = 1;
	tm->gen = gort_atomic_load32(&tm->armings);
	tm->dlo = now0 + (ns > 0 ? ns : 0);
}

static void tm_op(struct tm_timer *tm, int reset, int64_t ns)
{
	gort_mutex_lock(&tm->mu);
	if (!reset) {
		tm_settle(tm, gort_timer_stop(tm->t), "stop");
	} else if (tm->kind) {
		/* Go's idiom for a channel timer: if !t.Stop() { <-t.C }; t.Reset(d) */
		tm_settle(tm, gort_timer_stop(tm->t), "stop (before reset)");
		int64_t now0 = tm_arming(tm);
		int ret = gort_timer_reset(tm->t, ns);
		CHECK(ret == 0, "channel timer %u: reset of a stopped timer returned %d", (uint32_t)(tm - T.tm), ret);
		tm_armed(tm, now0, ns);
	} else {
		int64_t now0 = tm_arming(tm);
		tm_settle(tm, gort_timer_reset(tm->t, ns), "reset");
		tm_armed(tm, now0, ns);
	}
	gort_mutex_unlock(&tm->mu);
}

static void tm_driver(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	struct tm_timer *tm = &T.tm[id / 8];
	struct rng r = rng_for(21, id);
	uint32_t nops = 1 + rbelow(&r, 4);
	for (uint32_t k = 0; k < nops; k++) {
		uint32_t gap = rbelow(&r, 8);
		if (gap == 4 || gap == 5)
			gort_yield();
		else if (gap == 6)
			gort_sleep((int64_t)rbelow(&r, 300000));
		else if (gap == 7)
			gort_sleep((int64_t)rbelow(&r, 2000000));
		int reset = rbelow(&r, 5) < 3;
		int64_t ns = tm_pick_ns(&r);
		tm_op(tm, reset, ns);
	}
	gort_waitgroup_done(&tm->wg);
}

static void tm_life(void *arg)
{
	uint32_t i = (uint32_t)(uintptr_t)arg;
	struct tm_timer *tm = &T.tm[i];
	struct rng r = rng_for(20, i);
	tm->kind = rbelow(&r, 2);
	int64_t ns = tm_pick_ns(&r);
	if (!tm->kind)
		tm->fired = xchan(sizeof(int64_t), 4);
	int64_t now0 = tm_arming(tm);
	tm->t = tm->kind ? gort_timer_new(ns) : gort_afterfunc(ns, tm_callback, tm);
	CHECK(tm->t != NULL, "timer %u: could not be made", i);
	tm_armed(tm, now0, ns);
	uint32_t nd = 2 + rbelow(&r, 3);
	gort_waitgroup_add(&tm->wg, (int)nd);
	for (uint32_t d = 0; d < nd; d++)
		gort_go(tm_driver, (void *)(uintptr_t)(i * 8 + d));
	gort_waitgroup_wait(&tm->wg);

	gort_mutex_lock(&tm->mu);
	tm_settle(tm, gort_timer_stop(tm->t), "the final stop");
	gort_mutex_unlock(&tm->mu);
	CHECK(tm->armings == tm->cancelled + tm->firings,
		"timer %u: %u armings, %u cancelled, %u fired", i, tm->armings, tm->cancelled, tm->firings);
	if (tm->kind) {
		CHECK(gort_chan_len(gort_timer_chan(tm->t)) == 0,
			"channel timer %u: a value in its channel after the final stop: an arming fired twice, "
			"or after a stop that returned 1 (%u armings, %u cancelled, %u fired)",
			i, tm->armings, tm->cancelled, tm->firings);
	} else {
		uint32_t cb = gort_atomic_load32(&tm->callbacks);
		CHECK(cb == tm->firings, "AfterFunc timer %u: %u callbacks for %u firings (%u armings, "
			"%u cancelled)", i, cb, tm->firings, tm->armings, tm->cancelled);
	}
	gort_timer_free(tm->t);
	gort_mutex_lock(&T.mu);
	T.armings += tm->armings;
	T.cancelled += tm->cancelled;
	T.firings += tm->firings;
	gort_mutex_unlock(&T.mu);
	PROGRESS(0, 1);
	gort_chan_recv(T.slots, NULL);
	gort_waitgroup_done(&T.all);
}

static void case_timers(char *digest, size_t dn)
{
	T.n = scaled(100000, 1000);
	T.tm = xcalloc(T.n, sizeof *T.tm);
	uint32_t inflight = scaled(1000, 100);
	T.slots = xchan(1, inflight);
	PHASE("timers: timers being stopped and reset");
	gort_waitgroup_add(&T.all, (int)T.n);
	for (uint32_t i = 0; i < T.n; i++) {
		gort_chan_send(T.slots, NULL);
		gort_go(tm_life, (void *)(uintptr_t)i);
	}
	gort_waitgroup_wait(&T.all);
	PHASE("timers: looking for late firings");
	gort_sleep(10000000);
	for (uint32_t i = 0; i < T.n; i++) {
		struct tm_timer *tm = &T.tm[i];
		if (tm->kind)
			continue;
		uint32_t cb = gort_atomic_load32(&tm->callbacks);
		CHECK(cb == tm->firings, "AfterFunc timer %u: %u callbacks for %u firings, after it was freed "
			"(%u armings, %u cancelled)", i, cb, tm->firings, tm->armings, tm->cancelled);
		CHECK(gort_chan_len(tm->fired) == 0, "AfterFunc timer %u: a firing nobody accounted for", i);
		gort_chan_free(tm->fired);
	}
	CHECK(T.armings == T.cancelled + T.firings, "%llu armings, %llu cancelled, %llu fired",
		(ull)T.armings, (ull)T.cancelled, (ull)T.firings);
	gort_chan_free(T.slots);
	free(T.tm);
	snprintf(digest, dn, "timers=%u armings=%llu", T.n, (ull)T.armings);
}

/* ==== timers_race: stop and reset of one timer at the same moment ============= */

/* No serialisation at all: 2-4 drivers per AfterFunc timer meet at a gate,
 * are let go together, and stop and reset it back to back, with deadlines
 * so short that firings race the calls too.  Few timers are in flight, so
 * that the Ms are busy with the same timer at the same moment.  Whatever the interleaving, Go's
 * semantics make each call atomic, so the ledger must balance:
 *
 *   firings == armings (creation + every reset)
 *              - resets that returned 1 - stops that returned 1
 *
 * (a reset or stop that returned 1 cancelled an arming that never fires;
 * every other arming fires exactly once).  Never early: the firings,
 * sorted, must each be no earlier than the sorted deadlines, one for one
 * (a firing belongs to a distinct arming whose deadline it has passed).
 * The records outlive the timer, so a late firing is caught too. */

#define TR_MAXOPS 8
#define TR_MAXARM (1 + 4 * TR_MAXOPS)
#define TR_MAXFIRE (TR_MAXARM + 8)

struct tr_timer {
	gort_timer *t;
	volatile uint32_t narm, r1, s1, arrived, gate;
	volatile uint32_t nclaim, nfire;   /* callbacks begun; their clocks written */
	uint32_t expected;
	int64_t dlo[TR_MAXARM];
	int64_t fire[TR_MAXFIRE];
	gort_waitgroup wg;
};

static struct {
	struct tr_timer *tr;
	uint32_t n;
	gort_chan *slots;
	gort_waitgroup all;
	volatile uint64_t armings __attribute__((aligned(8)));
	volatile uint64_t r1 __attribute__((aligned(8)));
	volatile uint64_t s1 __attribute__((aligned(8)));
} R;

static void tr_callback(void *arg)
{
	struct tr_timer *tr = arg;
	int64_t now = gort_now();
	uint32_t k = gort_atomic_add32(&tr->nclaim, 1);
	if (k <= TR_MAXFIRE)
		tr->fire[k - 1] = now;
	gort_atomic_add32(&tr->nfire, 1);
}

static void tr_driver(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	struct tr_timer *tr = &R.tr[id / 8];
	struct rng r = rng_for(41, id);
	uint32_t nops = 2 + rbelow(&r, TR_MAXOPS - 1);
	gort_atomic_add32(&tr->arrived, 1);
	for (uint32_t spins = 0; !gort_atomic_load32(&tr->gate); )
		if (++spins % 256 == 0)
			gort_yield();      /* with one P, the gate opens only if we let go */
	for (uint32_t k = 0; k < nops; k++) {
		if (rbelow(&r, 8) == 0)
			gort_yield();
		int ret;
		if (rbelow(&r, 10) < 7) {
			uint32_t x = rbelow(&r, 100);
			int64_t ns = x < 30 ? -(int64_t)rbelow(&r, 1000) : x < 70 ? (int64_t)rbelow(&r, 20000)
				: x < 95 ? (int64_t)rbelow(&r, 200000) : tm_pick_ns(&r);
			uint32_t a = gort_atomic_add32(&tr->narm, 1);
			CHECK(a <= TR_MAXARM, "timer %u: too many armings", id / 8);
			tr->dlo[a - 1] = gort_now() + (ns > 0 ? ns : 0);
			ret = gort_timer_reset(tr->t, ns);
			CHECK(ret == 0 || ret == 1, "timer %u: reset returned %d", id / 8, ret);
			if (ret)
				gort_atomic_add32(&tr->r1, 1);
		} else {
			ret = gort_timer_stop(tr->t);
			CHECK(ret == 0 || ret == 1, "timer %u: stop returned %d", id / 8, ret);
			if (ret)
				gort_atomic_add32(&tr->s1, 1);
		}
	}
	gort_waitgroup_done(&tr->wg);
}

static void sort64(int64_t *a, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i; j > 0 && a[j - 1] > a[j]; j--) {
			int64_t t = a[j];
			a[j] = a[j - 1];
			a[j - 1] = t;
		}
}

static void tr_ledger(struct tr_timer *tr, uint32_t i, const char *when)
{
	uint32_t nf = gort_atomic_load32(&tr->nclaim);
	CHECK(nf == tr->expected,
		"timer %u%s: fired %u times, but %u armings - %u resets and %u stops that returned 1 "
		"leave %u", i, when, nf, tr->narm, tr->r1, tr->s1, tr->expected);
}

static void tr_life(void *arg)
{
	uint32_t i = (uint32_t)(uintptr_t)arg;
	struct tr_timer *tr = &R.tr[i];
	struct rng r = rng_for(40, i);
	int64_t ns = tm_pick_ns(&r);
	tr->narm = 1;
	tr->dlo[0] = gort_now() + (ns > 0 ? ns : 0);
	tr->t = gort_afterfunc(ns, tr_callback, tr);
	CHECK(tr->t != NULL, "timer %u: could not be made", i);
	uint32_t nd = 2 + rbelow(&r, 3);
	gort_waitgroup_add(&tr->wg, (int)nd);
	for (uint32_t d = 0; d < nd; d++)
		gort_go(tr_driver, (void *)(uintptr_t)(i * 8 + d));
	while (gort_atomic_load32(&tr->arrived) < nd)
		gort_yield();
	gort_atomic_store32(&tr->gate, 1);
	gort_waitgroup_wait(&tr->wg);
	if (gort_timer_stop(tr->t))
		gort_atomic_add32(&tr->s1, 1);
	uint32_t cancelled = tr->r1 + tr->s1;
	CHECK(cancelled <= tr->narm, "timer %u: %u resets and %u stops returned 1, but there were only "
		"%u armings", i, tr->r1, tr->s1, tr->narm);
	tr->expected = tr->narm - cancelled;

	/* Every firing has begun by now; wait for its callback.  No deadline:
	 * one that never comes is a lost firing, and the watchdog says so. */
	int64_t since = gort_now();
	int said = 0;
	PROGRESS(1, 1);
	while (gort_atomic_load32(&tr->nfire) < tr->expected) {
		gort_sleep(50000);
		if (!said && gort_now() - since > 5000000000ll) {
			outf("stress: timers_race: timer %u: %u of %u firings after 5 s (%u armings, %u resets "
				"and %u stops returned 1)\n", i, gort_atomic_load32(&tr->nfire), tr->expected,
				tr->narm, tr->r1, tr->s1);
			said = 1;
		}
	}
	PROGRESS(1, -1);
	tr_ledger(tr, i, "");
	int64_t f[TR_MAXFIRE], d[TR_MAXARM];
	uint32_t nf = tr->expected, na = tr->narm;
	memcpy(f, tr->fire, nf * sizeof *f);
	memcpy(d, tr->dlo, na * sizeof *d);
	sort64(f, nf);
	sort64(d, na);
	for (uint32_t k = 0; k < nf; k++)
		CHECK(f[k] >= d[k], "timer %u: firing %u of %u came %lld ns before the deadline of any "
			"arming it could belong to", i, k + 1, nf, (long long)(d[k] - f[k]));
	gort_timer_free(tr->t);
	gort_atomic_add64(&R.armings, tr->narm);
	gort_atomic_add64(&R.r1, tr->r1);
	gort_atomic_add64(&R.s1, tr->s1);
	PROGRESS(0, 1);
	gort_chan_recv(R.slots, NULL);
	gort_waitgroup_done(&R.all);
}

static void case_timers_race(char *digest, size_t dn)
{
	R.n = scaled(100000, 1000);
	R.tr = xcalloc(R.n, sizeof *R.tr);
	R.slots = xchan(1, 8);
	PHASE("timers_race: timers stopped and reset concurrently");
	gort_waitgroup_add(&R.all, (int)R.n);
	for (uint32_t i = 0; i < R.n; i++) {
		gort_chan_send(R.slots, NULL);
		gort_go(tr_life, (void *)(uintptr_t)i);
	}
	gort_waitgroup_wait(&R.all);
	PHASE("timers_race: looking for late firings");
	gort_sleep(10000000);
	for (uint32_t i = 0; i < R.n; i++)
		tr_ledger(&R.tr[i], i, ", after it was freed");
	gort_chan_free(R.slots);
	free(R.tr);
	snprintf(digest, dn, "timers=%u armings=%llu", R.n, (ull)R.armings);
}

/* ==== spawn_storm ============================================================= */

struct ss_arg {
	uint32_t hi;              /* the goroutine at lo runs lo+1 .. hi-1 as its subtree */
	gort_waitgroup *wg;
};

static struct {
	uint32_t n;
	uint32_t *hit;
	struct ss_arg *arg;
	volatile uint64_t ran __attribute__((aligned(8)));
	uint32_t nspawners, per_spawner, spawn_base;
	gort_waitgroup spawners;
} G;

static void ss_run(void *a)
{
	uint32_t lo = (uint32_t)(uintptr_t)a;
	struct ss_arg *sa = &G.arg[lo];
	uint32_t h = gort_atomic_add32(&G.hit[lo], 1);
	CHECK(h == 1, "goroutine %u ran %u times", lo, h);
	/* The subtree lo+1 .. hi-1, in up to four parts, each its own goroutine. */
	uint32_t next = lo + 1, left = sa->hi - next;
	while (left > 0) {
		uint32_t part = (left + 3) / 4;
		G.arg[next] = (struct ss_arg){ next + part, sa->wg };
		gort_go(ss_run, (void *)(uintptr_t)next);
		next += part;
		left -= part;
	}
	if ((mix64(lo ^ ctx.case_seed) & 63) == 0)
		gort_yield();
	if ((lo & 1023) == 0)
		PROGRESS(0, 1024);
	gort_waitgroup_done(sa->wg);
}

static void ss_spawner(void *a)
{
	uint32_t id = (uint32_t)(uintptr_t)a;
	struct rng r = rng_for(51, id);
	uint32_t lo = G.spawn_base + id * G.per_spawner, hi = lo + G.per_spawner;
	gort_waitgroup wg = { 0 };
	while (lo < hi) {
		uint32_t m = 1 + rbelow(&r, 4000);
		if (m > hi - lo)
			m = hi - lo;
		gort_waitgroup_add(&wg, (int)m);
		if (rbelow(&r, 2)) {                       /* a flat burst */
			for (uint32_t k = lo; k < lo + m; k++) {
				G.arg[k] = (struct ss_arg){ k + 1, &wg };
				gort_go(ss_run, (void *)(uintptr_t)k);
			}
		} else {                                   /* a tree */
			G.arg[lo] = (struct ss_arg){ lo + m, &wg };
			gort_go(ss_run, (void *)(uintptr_t)lo);
		}
		gort_waitgroup_wait(&wg);
		lo += m;
		if (rbelow(&r, 4) == 0)
			gort_yield();
	}
	gort_waitgroup_done(&G.spawners);
}

static void case_spawn_storm(char *digest, size_t dn)
{
	struct rng r = rng_for(0, 0);
	int base = gort_numgoroutine();
	G.n = scaled(1000000, 10000);
	G.hit = xcalloc(G.n, sizeof *G.hit);
	G.arg = xcalloc(G.n, sizeof *G.arg);

	/* Half in batches from main: spawn b, wait for all b. */
	PHASE("spawn_storm: batches");
	uint32_t half = G.n / 2, lo = 0;
	gort_waitgroup wg = { 0 };
	while (lo < half) {
		uint32_t b = 1 + rbelow(&r, 10000);
		if (b > half - lo)
			b = half - lo;
		gort_waitgroup_add(&wg, (int)b);
		for (uint32_t k = lo; k < lo + b; k++) {
			G.arg[k] = (struct ss_arg){ k + 1, &wg };
			gort_go(ss_run, (void *)(uintptr_t)k);
		}
		gort_waitgroup_wait(&wg);
		lo += b;
	}

	/* The other half in bursts and trees from 8 spawners at once. */
	PHASE("spawn_storm: bursts and trees from 8 spawners");
	G.nspawners = 8;
	G.spawn_base = half;
	G.per_spawner = (G.n - half) / G.nspawners;
	uint32_t end = half + G.per_spawner * G.nspawners;
	gort_waitgroup_add(&G.spawners, (int)G.nspawners);
	for (uint32_t s = 0; s < G.nspawners; s++)
		gort_go(ss_spawner, (void *)(uintptr_t)s);
	gort_waitgroup_wait(&G.spawners);

	PHASE("spawn_storm: waiting for every goroutine to exit");
	wait_goroutines(base);
	PHASE("spawn_storm: checking");
	for (uint32_t k = 0; k < end; k++)
		CHECK(G.hit[k] == 1, "goroutine %u ran %u times", k, G.hit[k]);
	for (uint32_t k = end; k < G.n; k++)
		CHECK(G.hit[k] == 0, "goroutine %u ran, but was never started", k);
	snprintf(digest, dn, "goroutines=%u", end);
	free(G.hit);
	free(G.arg);
}

/* ==== park_unpark ============================================================= */

static struct {
	gort_chan *c;
	uint32_t n;
	uint32_t *got;
	volatile uint32_t zeros, values;
	gort_waitgroup ready, fin;
} P;

static void pu_one_by_one(void *arg)
{
	(void)arg;
	uint32_t v = UINT32_MAX;
	gort_waitgroup_done(&P.ready);
	CHECK(gort_chan_recv(P.c, &v) == 1, "a parked receiver saw its channel closed");
	CHECK(v < P.n, "a parked receiver got %u, never sent", v);
	uint32_t g = gort_atomic_add32(&P.got[v], 1);
	CHECK(g == 1, "value %u received %u times", v, g);
	gort_waitgroup_done(&P.fin);
}

/* Phases 2 and 3: receive once (plainly or in a select with nil cases);
 * a value or a zero from the close. */
static void pu_until_close(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	uint32_t v = 0xa5a5a5a5;
	int ok;
	gort_waitgroup_done(&P.ready);
	if (mix64(id ^ ctx.case_seed) & 1) {
		ok = gort_chan_recv(P.c, &v);
	} else {
		int dummy;
		gort_select_case sc[3] = {
			{ .c = NULL, .dir = GORT_RECV, .elem = &dummy },
			{ .c = P.c, .dir = GORT_RECV, .elem = &v },
			{ .c = NULL, .dir = GORT_SEND, .elem = &dummy },
		};
		int k = gort_select(sc, 3, 1);
		CHECK(k == 1, "a parked select woke on case %d", k);
		ok = sc[1].ok;
	}
	if (ok) {
		CHECK(v < P.n, "a parked receiver got %u, never sent", v);
		uint32_t g = gort_atomic_add32(&P.got[v], 1);
		CHECK(g == 1, "value %u received %u times", v, g);
		gort_atomic_add32(&P.values, 1);
	} else {
		CHECK(v == 0, "a receive on a closed channel left %#x, not zero", v);
		gort_atomic_add32(&P.zeros, 1);
	}
	gort_waitgroup_done(&P.fin);
}

static void case_park_unpark(char *digest, size_t dn)
{
	struct rng r = rng_for(0, 0);
	P.n = scaled(100000, 2000);
	P.got = xcalloc(P.n, sizeof *P.got);

	PHASE("park_unpark: parking, then releasing one by one");
	P.c = xchan(sizeof(uint32_t), 0);
	gort_waitgroup_add(&P.ready, (int)P.n);
	gort_waitgroup_add(&P.fin, (int)P.n);
	for (uint32_t i = 0; i < P.n; i++)
		gort_go(pu_one_by_one, NULL);
	gort_waitgroup_wait(&P.ready);
	gort_yield();
	for (uint32_t v = 0; v < P.n; v++) {
		gort_chan_send(P.c, &v);
		if ((v & 1023) == 0)
			PROGRESS(0, 1024);
	}
	gort_waitgroup_wait(&P.fin);
	for (uint32_t v = 0; v < P.n; v++)
		CHECK(P.got[v] == 1, "value %u received %u times", v, P.got[v]);
	gort_chan_free(P.c);

	PHASE("park_unpark: parking, then releasing all by close");
	memset(P.got, 0, P.n * sizeof *P.got);
	P.c = xchan(sizeof(uint32_t), 0);
	P.zeros = P.values = 0;
	gort_waitgroup_add(&P.ready, (int)P.n);
	gort_waitgroup_add(&P.fin, (int)P.n);
	for (uint32_t i = 0; i < P.n; i++)
		gort_go(pu_until_close, (void *)(uintptr_t)i);
	gort_waitgroup_wait(&P.ready);
	gort_yield();
	gort_chan_close(P.c);
	gort_waitgroup_wait(&P.fin);
	CHECK(P.zeros == P.n && P.values == 0, "close released %u of %u parked receivers (%u got values)",
		P.zeros, P.n, P.values);
	gort_chan_free(P.c);

	PHASE("park_unpark: parking on a buffered channel, releasing some by sends, the rest by close");
	memset(P.got, 0, P.n * sizeof *P.got);
	uint32_t half = P.n / 2, k = rbelow(&r, half + 1);
	P.c = xchan(sizeof(uint32_t), 1 + rbelow(&r, 64));
	P.zeros = P.values = 0;
	gort_waitgroup_add(&P.ready, (int)half);
	gort_waitgroup_add(&P.fin, (int)half);
	for (uint32_t i = 0; i < half; i++)
		gort_go(pu_until_close, (void *)(uintptr_t)i);
	gort_waitgroup_wait(&P.ready);
	for (uint32_t v = 0; v < k; v++)
		gort_chan_send(P.c, &v);
	gort_chan_close(P.c);
	gort_waitgroup_wait(&P.fin);
	CHECK(P.values == k && P.zeros == half - k, "%u values sent and %u receivers: %u got values, "
		"%u got the close", k, half, P.values, P.zeros);
	for (uint32_t v = 0; v < k; v++)
		CHECK(P.got[v] == 1, "value %u received %u times", v, P.got[v]);
	gort_chan_free(P.c);
	free(P.got);
	snprintf(digest, dn, "parked=%u then=%u then=%u sent=%u", P.n, P.n, half, k);
}

/* ==== mutex_wg ================================================================ */

#define MW_NMU 4

static struct {
	gort_mutex mu[MW_NMU];
	uint64_t count[MW_NMU];            /* plain: the mutex is the only protection */
	volatile uint32_t inside[MW_NMU];
	uint64_t want[MW_NMU];
	gort_mutex acct;
	uint32_t nworkers, incs;
	gort_waitgroup wg;
	/* the WaitGroup rounds */
	gort_waitgroup group, waiters;
	volatile uint32_t added, finished, waited, once_ran;
	gort_once once;
	uint32_t round;
} M;

static void mw_locked_inc(struct rng *r, uint64_t *mine)
{
	uint32_t k = rbelow(r, MW_NMU);
	if (rbelow(r, 5) == 0) {
		while (!gort_mutex_trylock(&M.mu[k]))
			gort_yield();
	} else {
		gort_mutex_lock(&M.mu[k]);
	}
	CHECK(gort_atomic_xchg32(&M.inside[k], 1) == 0, "two goroutines inside mutex %u at once", k);
	M.count[k]++;
	if (rbelow(r, 32) == 0)
		gort_yield();                              /* hold it while others queue */
	CHECK(gort_atomic_xchg32(&M.inside[k], 0) == 1, "mutex %u: someone left it for us", k);
	gort_mutex_unlock(&M.mu[k]);
	mine[k]++;
}

static void mw_counter(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	struct rng r = rng_for(61, id);
	uint64_t mine[MW_NMU] = { 0 };
	for (uint32_t i = 0; i < M.incs; i++) {
		mw_locked_inc(&r, mine);
		if ((i & 1023) == 1023)
			PROGRESS(0, 1024);
	}
	gort_mutex_lock(&M.acct);
	for (int k = 0; k < MW_NMU; k++)
		M.want[k] += mine[k];
	gort_mutex_unlock(&M.acct);
	gort_waitgroup_done(&M.wg);
}

static void mw_once(void *arg)
{
	(void)arg;
	gort_atomic_add32(&M.once_ran, 1);
}

static void mw_worker(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	struct rng r = rng_for(62, (uint64_t)M.round << 32 | id);
	gort_once_do(&M.once, mw_once, NULL);
	if (id < 1000000 && rbelow(&r, 4) == 0) {   /* a nested Add, while our own count holds */
		gort_atomic_add32(&M.added, 1);
		gort_waitgroup_add(&M.group, 1);
		gort_go(mw_worker, (void *)(uintptr_t)(id + 1000000));
	}
	if (rbelow(&r, 2))
		gort_yield();
	gort_atomic_add32(&M.finished, 1);
	gort_waitgroup_done(&M.group);
}

static void mw_waiter(void *arg)
{
	(void)arg;
	gort_waitgroup_wait(&M.group);
	uint32_t f = gort_atomic_load32(&M.finished), a = gort_atomic_load32(&M.added);
	CHECK(f == a, "round %u: Wait returned with %u of %u Done", M.round, f, a);
	gort_atomic_add32(&M.waited, 1);
	gort_waitgroup_done(&M.waiters);
}

static void case_mutex_wg(char *digest, size_t dn)
{
	struct rng r = rng_for(0, 0);
	PHASE("mutex_wg: counters under contention");
	M.nworkers = 64;
	M.incs = scaled(50000, 500);
	gort_waitgroup_add(&M.wg, (int)M.nworkers);
	for (uint32_t i = 0; i < M.nworkers; i++)
		gort_go(mw_counter, (void *)(uintptr_t)i);
	gort_waitgroup_wait(&M.wg);
	uint64_t sum = 0;
	for (int k = 0; k < MW_NMU; k++) {
		CHECK(M.count[k] == M.want[k], "mutex %d: counter %llu, want %llu", k, (ull)M.count[k],
			(ull)M.want[k]);
		sum += M.count[k];
	}
	CHECK(sum == (uint64_t)M.nworkers * M.incs, "%llu increments counted, want %llu", (ull)sum,
		(ull)M.nworkers * M.incs);

	PHASE("mutex_wg: WaitGroup rounds with many waiters");
	uint32_t rounds = scaled(1000, 50);
	uint64_t workers = 0;
	for (M.round = 0; M.round < rounds; M.round++) {
		uint32_t n = 1 + rbelow(&r, 200), w = 1 + rbelow(&r, 4);
		M.added = n;
		M.finished = M.waited = M.once_ran = 0;
		memset(&M.once, 0, sizeof M.once);
		gort_waitgroup_add(&M.group, (int)n);
		gort_waitgroup_add(&M.waiters, (int)w);
		for (uint32_t i = 0; i < w; i++)
			gort_go(mw_waiter, NULL);
		for (uint32_t i = 0; i < n; i++)
			gort_go(mw_worker, (void *)(uintptr_t)i);
		gort_waitgroup_wait(&M.waiters);   /* every waiter back before the group is reused */
		CHECK(M.waited == w, "round %u: %u of %u waiters returned", M.round, M.waited, w);
		CHECK(M.once_ran == 1, "round %u: Once ran its function %u times", M.round, M.once_ran);
		workers += M.added;   /* nested Adds included: the workload decides them */
		PROGRESS(1, 1);
	}
	snprintf(digest, dn, "increments=%llu rounds=%u workers=%llu", (ull)sum, rounds, (ull)workers);
}

/* ==== net ===================================================================== */

/* Connections over loopback TCP, opened, used and closed at random by many
 * goroutines, with every byte accounted for.
 *
 * Each connection has a plan, drawn by its client from its own generator
 * and sent to the server in a header, so that the server knows what to
 * do without guessing:
 *
 *   echo       the server sends back every byte it reads
 *   xform      ... each byte XORed with a keystream at its offset (a
 *              reordered or repeated byte would come back wrong)
 *   reqrep     the client sends everything, half-closes, and reads to end
 *              of file: the server's count, sum and hash of what it read,
 *              then a reply of its own
 *   closewait  one goroutine of the client blocks in a write that cannot
 *              finish while another closes the descriptor under it (below)
 *
 * and, besides closewait, a fate that only the side concerned knows (the
 * server's is in the header, the client's is not): whole, the client
 * closing abruptly mid-stream (sometimes with SO_LINGER 0: a reset), or
 * the server doing so after some bytes.  A whole connection must conserve
 * bytes exactly: count, sum and hash sent by each side equal those read by
 * the other, and every byte is checked at its offset as it arrives.  An
 * aborted one must deliver a prefix of what was sent, byte for byte, and
 * end in one of the ways an abort can end (end of file, a reset, a broken
 * pipe, a close under a waiting call); the ways are counted, and printed
 * apart from RESULT, which only says what the plans decided.
 *
 * A close under a waiting call.  gort_close wakes the goroutines inside a
 * call on the descriptor with -GORT_ECLOSED, and the number is freed once
 * the last of them has left.  A goroutine that reaches its call after that
 * would act on whatever the number names by then -- another connection
 * of this very case, the lowest free number being handed out again at
 * once.  So the connections that are closed under another goroutine's feet
 * never use the numbers the kernel hands out: each is moved (F_DUPFD) to
 * NET_FDBASE + its slot, above every number the case can otherwise
 * reach, and a slot is reused only once both sides of its last connection
 * are over.  A late call then finds no descriptor (-EBADF), never a
 * stranger's.  Which of the two a racing reader sees depends on the
 * schedule, so it is counted; the closewait writer has no such freedom: it
 * is inside one write of NET_BIG bytes of which the server has read at
 * most 16 KiB when the close comes -- the server said so (a 'G') before
 * the client closed -- and it must return -GORT_ECLOSED.  What the kernel
 * can hold meanwhile is the client's send buffer, made small, and the
 * server's receive buffer, which grows only as its reader reads: some
 * 200 KiB, far from NET_BIG.  (The server's buffer is left alone: one
 * smaller than a loopback segment, 64 KiB, never announces the room its
 * draining makes, and the client's kernel would fall back on probing a
 * zero window, ever more slowly.)
 *
 * Half the waits have a deadline (far: one that passes is a failure), so
 * that the poller's timers are in play; the rest wait for ever.  Counts
 * scale down like every case's; payloads do not (they are what a
 * connection is).
 */

#define NET_MAGIC 0x6e657431u     /* "net1" */
#define NET_NSLOT 48              /* connections open at once */
#define NET_FDBASE 256            /* slot descriptors: NET_FDBASE + slot */
#define NET_CHUNK 65536           /* the largest single read or write */
#define NET_BIG (1u << 20)        /* closewait's one write */
#define NET_SMALLBUF 8192         /* closewait's send buffer (the kernel doubles it) */

enum { NM_ECHO, NM_XFORM, NM_REQREP, NM_CLOSEWAIT, NM_N };
enum { NF_WHOLE, NF_CABORT, NF_SABORT, NF_N };
static const char *const net_modes[NM_N] = { "echo", "xform", "reqrep", "closewait" };

/* How one side's part of a connection ended, for the counts. */
enum { NE_EOF, NE_RESET, NE_PIPE, NE_ECLOSED, NE_EBADF, NE_NOTCONN, NE_DONE, NE_ABORTED, NE_N };
static const char *const net_ends[NE_N] = { "eof", "reset", "pipe", "eclosed", "ebadf", "notconn",
	"done", "aborted" };

struct net_hdr {
	uint32_t magic, id;
	uint32_t len;              /* the payload the client means to send */
	uint32_t key;              /* the keystream's and the reply's */
	uint32_t abort_at;         /* sabort: the server closes having read this many;
	                              closewait: it reads this many, then says 'G' */
	uint8_t mode, srv_abort, srv_linger0, pad;
};

/* Count, sum and hash (FNV-1a) of a byte stream: chunking does not change them. */
struct net_acct {
	uint64_t n, sum, h;
};

struct net_conn {
	struct net_hdr h;          /* the plan; written by the client before it dials */
	uint32_t slot;
	uint8_t fate, halfclose, linger0, useslot;
	uint32_t cabort_at;        /* cabort: the client closes having sent this many */
	uint64_t ps;               /* the payload's seed */
	int cfd, sfd;              /* the client's and the server's descriptors */
	/* the client's side (its goroutines, ordered by wdone) */
	struct net_acct c_sent, c_recv;
	int c_wend, c_rend;        /* NE_* */
	volatile uint32_t closed;  /* the client's descriptor is closed (by its writer or itself) */
	gort_waitgroup wdone;      /* the client's helper goroutines */
	gort_chan *go;             /* closewait: the reader has its 'G' */
	/* the server's side, published by srv_done */
	struct net_acct s_recv, s_sent;
	int s_end;
	gort_waitgroup srv_done;
	gort_waitgroup cli_closed; /* closewait: the client has closed */
};

static struct {
	struct net_conn *c;
	uint32_t n;
	int l;
	struct sockaddr_in sa;
	char addr[64];
	gort_chan *slots;
	uint8_t *big;              /* closewait's write: net_fill(bigseed) from offset 0 */
	uint64_t bigseed;
	gort_waitgroup clients, servers;
	gort_mutex mu;             /* the counts below */
	uint32_t modes[NM_N], fates[NF_N];
	uint32_t ends[3][NE_N];    /* server, client writer, client reader */
	uint64_t bytes, hash;
} N;

static inline void net_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; ) {
		uint64_t w = mix64(seed ^ ((off + i) >> 3));
		for (unsigned b = (unsigned)((off + i) & 7); b < 8 && i < n; b++, i++)
			buf[i] = (uint8_t)(w >> (8 * b));
	}
}

static void acct_add(struct net_acct *a, const uint8_t *p, size_t n)
{
	uint64_t h = a->n ? a->h : 0xcbf29ce484222325ull, s = a->sum;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ p[i]) * 0x100000001b3ull;
		s += p[i];
	}
	a->h = h;
	a->sum = s;
	a->n += n;
}

static int acct_eq(const struct net_acct *a, const struct net_acct *b)
{
	return a->n == b->n && a->sum == b->sum && (a->n == 0 || a->h == b->h);
}

static uint64_t net_kseed(const struct net_conn *c, int which)
{
	return mix64((uint64_t)c->h.key << 8 ^ (uint64_t)which ^ ctx.case_seed);
}

/* What the client must read at offset off of the server's stream. */
static void net_expect(const struct net_conn *c, uint64_t off, uint8_t *buf, size_t n,
	uint8_t *scratch)
{
	switch (c->h.mode) {
	case NM_ECHO:
		net_fill(c->ps, off, buf, n);
		break;
	case NM_XFORM:
		net_fill(c->ps, off, buf, n);
		net_fill(net_kseed(c, 1), off, scratch, n);
		for (size_t i = 0; i < n; i++)
			buf[i] ^= scratch[i];
		break;
	default:
		FAIL("net: no expected stream for mode %d", c->h.mode);
	}
}

static void net_verify(const struct net_conn *c, const char *who, const uint8_t *got,
	const uint8_t *want, uint64_t off, size_t n)
{
	if (memcmp(got, want, n) == 0)
		return;
	size_t i = 0;
	while (got[i] == want[i])
		i++;
	FAIL("net: connection %u (%s, fate %d): %s read %#x at offset %llu, want %#x", c->h.id,
		net_modes[c->h.mode], c->fate, who, got[i], (ull)(off + i), want[i]);
}

static size_t net_chunk(struct rng *r)
{
	uint32_t x = rbelow(r, 100);
	return 1 + (x < 50 ? rbelow(r, 512) : x < 85 ? rbelow(r, 8192) : rbelow(r, NET_CHUNK));
}

/* Half the waits have a deadline, so that the poller's timers are in
 * play; far enough that passing it means a hang. */
static int64_t net_deadline(struct rng *r)
{
	return rbelow(r, 2) ? GORT_FOREVER : gort_now() + (int64_t)ctx.timeout * 4 * 1000000000;
}

/* How a side's last call ended, as an NE_*: anything else is a failure. */
static int net_end(const struct net_conn *c, const char *who, long r)
{
	switch (r) {
	case 0: return NE_EOF;
	case -ECONNRESET: return NE_RESET;
	case -EPIPE: return NE_PIPE;
	case -GORT_ECLOSED: return NE_ECLOSED;
	case -EBADF: return NE_EBADF;
	case -ENOTCONN: return NE_NOTCONN;
	}
	FAIL("net: connection %u (%s, fate %d): %s: %s (%ld)", c->h.id, net_modes[c->h.mode], c->fate,
		who, r > 0 ? "a count where an end was due" : gort_strerror((int)r), r);
}

#define NET_CALL_OK(c, r, what) \
	CHECK((r) != -ETIMEDOUT, "net: connection %u: %s passed its deadline of %d s", (c)->h.id, \
		(what), 4 * ctx.timeout)

static void net_linger0(int fd)
{
	struct linger lg = { 1, 0 };   /* close sends a reset, not a FIN */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

/* --- the server -------------------------------------------------------------- */

/* r NULL: no deadline */
static int net_read_full(int fd, void *buf, size_t n, struct rng *r)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = gort_read(fd, (char *)buf + got, n - got, r ? net_deadline(r) : GORT_FOREVER);
		if (k <= 0)
			return (int)k;
		got += (size_t)k;
	}
	return 1;
}

static long net_write(struct net_conn *c, int fd, const uint8_t *p, size_t n, struct rng *r,
	struct net_acct *a)
{
	ssize_t w = gort_write(fd, p, n, net_deadline(r));
	NET_CALL_OK(c, w, "a write");
	if (w < 0)
		return w;
	CHECK((size_t)w == n, "net: connection %u: gort_write wrote %zd of %zu bytes, no error",
		c->h.id, w, n);
	acct_add(a, p, n);
	return 0;
}

/* One connection's server: the header says who it is and what to do; the
 * ack says it knows, so that an abort never comes before the header. */
static void net_server(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct net_hdr h;
	int rc = net_read_full(fd, &h, sizeof h, NULL);   /* who it is: not yet known */
	CHECK(rc == 1, "net: server on fd %d: the header: %s", fd, rc ? gort_strerror(rc) : "end of file");
	CHECK(h.magic == NET_MAGIC && h.id < N.n && h.mode < NM_N, "net: server on fd %d: a bad header "
		"(magic %#x id %u mode %u)", fd, h.magic, h.id, h.mode);
	struct net_conn *c = &N.c[h.id];
	CHECK(memcmp(&h, &c->h, sizeof h) == 0, "net: connection %u: the header arrived changed", h.id);
	c->sfd = fd;
	int one = 1;   /* no Nagle, as Go sets for every TCP connection */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct rng r = rng_for(74, h.id);
	uint8_t *buf = xcalloc(2, NET_CHUNK);
	uint8_t *want = buf + NET_CHUNK;
	long end = 0;
	int aborted = 0;
	long w = net_write(c, fd, (const uint8_t *)"A", 1, &r, &c->s_sent);
	CHECK(w == 0, "net: connection %u: the server's ack: %s", h.id, gort_strerror((int)w));
	c->s_sent = (struct net_acct){ 0, 0, 0 };   /* the ack is not part of the stream */

	if (h.srv_abort && h.abort_at == 0)
		aborted = 1;
	int said_go = 0;
	while (!aborted) {
		size_t want_n = net_chunk(&r);
		if (h.mode == NM_CLOSEWAIT && !said_go && want_n > h.abort_at - c->s_recv.n)
			want_n = h.abort_at - c->s_recv.n;   /* exactly abort_at, then stop reading */
		ssize_t k = gort_read(fd, buf, want_n, net_deadline(&r));
		NET_CALL_OK(c, k, "the server's read");
		if (k <= 0) {
			end = k;
			break;
		}
		uint64_t off = c->s_recv.n;
		CHECK(off + (uint64_t)k <= (h.mode == NM_CLOSEWAIT ? NET_BIG : h.len),
			"net: connection %u (%s): the server read %llu bytes, more than the %u sent",
			h.id, net_modes[h.mode], (ull)(off + (uint64_t)k), h.mode == NM_CLOSEWAIT ? NET_BIG : h.len);
		net_fill(h.mode == NM_CLOSEWAIT ? N.bigseed : c->ps, off, want, (size_t)k);
		net_verify(c, "the server", buf, want, off, (size_t)k);
		acct_add(&c->s_recv, buf, (size_t)k);
		if (h.mode == NM_ECHO || h.mode == NM_XFORM) {
			if (h.mode == NM_XFORM) {
				net_fill(net_kseed(c, 1), off, want, (size_t)k);
				for (ssize_t i = 0; i < k; i++)
					buf[i] ^= want[i];
			}
			/* back in one to three writes */
			size_t done = 0, parts = 1 + rbelow(&r, 3);
			for (size_t p = 0; p < parts && end == 0; p++) {
				size_t m = p + 1 == parts ? (size_t)k - done : rbelow(&r, (uint32_t)((size_t)k - done) + 1);
				end = net_write(c, fd, buf + done, m, &r, &c->s_sent);
				done += m;
			}
			if (end)
				break;
		}
		if (h.mode == NM_CLOSEWAIT && !said_go && c->s_recv.n == h.abort_at) {
			/* The writer is inside its one write, which cannot finish
			 * while we read no more: the client may close under it. */
			end = net_write(c, fd, (const uint8_t *)"G", 1, &r, &c->s_sent);
			CHECK(end == 0, "net: connection %u: the 'G': %s", h.id, gort_strerror((int)end));
			said_go = 1;
			gort_waitgroup_wait(&c->cli_closed);
		}
		if (h.srv_abort && c->s_recv.n >= h.abort_at)
			aborted = 1;
		if (rbelow(&r, 16) == 0)
			gort_yield();
	}
	if (aborted) {
		if (h.srv_linger0)
			net_linger0(fd);
		c->s_end = NE_ABORTED;
	} else {
		c->s_end = net_end(c, "the server", end);
		if (h.mode == NM_REQREP && end == 0) {
			/* end of file: the summary of what we read, then the reply */
			uint64_t sum[3] = { c->s_recv.n, c->s_recv.sum, c->s_recv.h };
			long e = net_write(c, fd, (const uint8_t *)sum, sizeof sum, &r, &c->s_sent);
			uint32_t rlen = h.key & 0x7fff;
			for (uint32_t off = 0; e == 0 && off < rlen; ) {
				size_t m = net_chunk(&r);
				if (m > rlen - off)
					m = rlen - off;
				net_fill(net_kseed(c, 2), off, buf, m);
				e = net_write(c, fd, buf, m, &r, &c->s_sent);
				off += (uint32_t)m;
			}
			if (e)
				c->s_end = net_end(c, "the server's reply", e);
		}
	}
	rc = gort_close(fd);
	CHECK(rc == 0, "net: connection %u: the server's gort_close: %s", h.id, gort_strerror(rc));
	free(buf);
	gort_waitgroup_done(&c->srv_done);
	gort_waitgroup_done(&N.servers);
}

/* Exactly one accept per client: each dials once, and a dial that fails
 * is a failure of the case. */
static void net_acceptor(void *arg)
{
	(void)arg;
	struct rng r = rng_for(75, 0);
	for (uint32_t i = 0; i < N.n; i++) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof peer;
		int with = rbelow(&r, 2);
		int fd = gort_accept(N.l, with ? (struct sockaddr *)&peer : NULL, with ? &pl : NULL,
			net_deadline(&r));
		CHECK(fd >= 0, "net: accept %u of %u: %s", i, N.n, gort_strerror(fd));
		CHECK(!with || (pl == sizeof peer && peer.sin_family == AF_INET &&
			peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK)), "net: accept %u: a peer not on loopback", i);
		gort_go(net_server, (void *)(intptr_t)fd);
		if ((i & 63) == 63)
			PROGRESS(1, 64);
	}
	gort_waitgroup_done(&N.servers);
}

/* --- the client ------------------------------------------------------------------ */

/* Connect: by name (gort_dial), or by hand onto the slot's own number. */
static int net_connect(struct net_conn *c, struct rng *r)
{
	if (!c->useslot) {
		int fd = gort_dial("tcp4", N.addr, net_deadline(r));
		CHECK(fd >= 0, "net: connection %u: gort_dial %s: %s", c->h.id, N.addr, gort_strerror(fd));
		CHECK(fd < NET_FDBASE, "net: connection %u: gort_dial gave %d, in the slots' range", c->h.id, fd);
		return fd;
	}
	int s = gort_socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s >= 0, "net: connection %u: gort_socket: %s", c->h.id, gort_strerror(s));
	/* gort has never seen s (gort_socket keeps no state): plain close is fine */
	int fd = fcntl(s, F_DUPFD_CLOEXEC, NET_FDBASE + (int)c->slot);
	int e = errno;
	close(s);
	CHECK(fd == NET_FDBASE + (int)c->slot, "net: connection %u: slot %u: F_DUPFD gave %d (%s): its "
		"last connection's descriptor is still open", c->h.id, c->slot, fd, fd < 0 ? strerror(e) : "taken");
	if (c->h.mode == NM_CLOSEWAIT) {
		int small = NET_SMALLBUF;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	}
	int rc = gort_connect(fd, (struct sockaddr *)&N.sa, sizeof N.sa, net_deadline(r));
	CHECK(rc == 0, "net: connection %u: gort_connect %s: %s", c->h.id, N.addr, gort_strerror(rc));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static void net_close(struct net_conn *c)
{
	if (c->linger0)
		net_linger0(c->cfd);
	gort_atomic_store32(&c->closed, 1);
	int rc = gort_close(c->cfd);
	CHECK(rc == 0, "net: connection %u: gort_close: %s", c->h.id, gort_strerror(rc));
}

/* Send the payload (or, to abort, its first cabort_at bytes). */
static void net_send(struct net_conn *c)
{
	struct rng r = rng_for(71, c->h.id);
	uint8_t *buf = xcalloc(1, NET_CHUNK);
	uint32_t want = c->fate == NF_CABORT ? c->cabort_at : c->h.len;
	long end = 0;
	while (c->c_sent.n < want) {
		size_t k = net_chunk(&r);
		if (k > want - c->c_sent.n)
			k = want - c->c_sent.n;
		net_fill(c->ps, c->c_sent.n, buf, k);
		int yield = rbelow(&r, 16) == 0;
		if ((end = net_write(c, c->cfd, buf, k, &r, &c->c_sent)) != 0)
			break;
		if (yield)
			gort_yield();
	}
	free(buf);
	if (c->fate == NF_CABORT) {
		CHECK(end == 0, "net: connection %u: the client's write before its abort: %s", c->h.id,
			gort_strerror((int)end));
		net_close(c);   /* mid-stream; the reader may be waiting */
		c->c_wend = NE_ABORTED;
		return;
	}
	c->c_wend = end ? net_end(c, "the client's write", end) : NE_DONE;
	if (end == 0 && c->halfclose) {
		int rc = gort_shutdown(c->cfd, SHUT_WR);
		CHECK(rc == 0 || (c->fate == NF_SABORT && rc == -ENOTCONN),
			"net: connection %u: gort_shutdown(SHUT_WR): %s", c->h.id, gort_strerror(rc));
	}
	CHECK(end == 0 || c->fate == NF_SABORT, "net: connection %u (%s, whole): the client's write: %s",
		c->h.id, net_modes[c->h.mode], gort_strerror((int)end));
}

static void net_writer(void *arg)
{
	struct net_conn *c = arg;
	net_send(c);
	gort_waitgroup_done(&c->wdone);
}

/* echo and xform: read what comes back, checking each byte at its offset. */
static void net_echo_reader(struct net_conn *c)
{
	struct rng r = rng_for(72, c->h.id);
	uint8_t *buf = xcalloc(3, NET_CHUNK), *want = buf + NET_CHUNK, *scratch = want + NET_CHUNK;
	/* whole without a half-close: the server's end of file comes only
	 * after ours, so stop at the last byte */
	int to_eof = c->fate != NF_WHOLE || c->halfclose;
	long end = 0;
	while (to_eof || c->c_recv.n < c->h.len) {
		size_t n = net_chunk(&r);
		if (!to_eof && n > c->h.len - c->c_recv.n)
			n = c->h.len - c->c_recv.n;
		ssize_t k = gort_read(c->cfd, buf, n, net_deadline(&r));
		NET_CALL_OK(c, k, "the client's read");
		if (k <= 0) {
			end = k;
			break;
		}
		CHECK(c->c_recv.n + (uint64_t)k <= c->h.len, "net: connection %u: %llu bytes back, %u sent",
			c->h.id, (ull)(c->c_recv.n + (uint64_t)k), c->h.len);
		net_expect(c, c->c_recv.n, want, (size_t)k, scratch);
		net_verify(c, "the client", buf, want, c->c_recv.n, (size_t)k);
		acct_add(&c->c_recv, buf, (size_t)k);
		if (rbelow(&r, 16) == 0)
			gort_yield();
	}
	free(buf);
	c->c_rend = to_eof ? net_end(c, "the client's read", end) : NE_DONE;
	if (c->fate == NF_WHOLE)
		CHECK(c->c_rend == NE_EOF || c->c_rend == NE_DONE, "net: connection %u (%s, whole): the "
			"client's read ended with %s", c->h.id, net_modes[c->h.mode], net_ends[c->c_rend]);
	else if (c->fate == NF_CABORT)   /* only our own close can end it */
		CHECK(c->c_rend == NE_ECLOSED || c->c_rend == NE_EBADF, "net: connection %u (%s, client "
			"abort): the client's read ended with %s", c->h.id, net_modes[c->h.mode],
			net_ends[c->c_rend]);
	else
		CHECK(c->c_rend == NE_EOF || c->c_rend == NE_RESET || c->c_rend == NE_DONE, "net: connection "
			"%u (%s, server abort): the client's read ended with %s", c->h.id, net_modes[c->h.mode],
			net_ends[c->c_rend]);
}

/* reqrep: the summary, then the reply, to end of file. */
static void net_reqrep_reader(struct net_conn *c)
{
	struct rng r = rng_for(72, c->h.id);
	uint8_t *buf = xcalloc(2, NET_CHUNK), *want = buf + NET_CHUNK;
	uint64_t sum[3] = { 0, 0, 0 };
	uint32_t rlen = c->h.key & 0x7fff;
	long end;
	for (;;) {
		ssize_t k = gort_read(c->cfd, buf, net_chunk(&r), net_deadline(&r));
		NET_CALL_OK(c, k, "the client's read");
		if (k <= 0) {
			end = k;
			break;
		}
		CHECK(c->fate == NF_WHOLE, "net: connection %u (reqrep, fate %d): a reply after an abort",
			c->h.id, c->fate);
		for (ssize_t i = 0; i < k; i++) {
			uint64_t off = c->c_recv.n + (uint64_t)i;
			CHECK(off < sizeof sum + rlen, "net: connection %u: a reply longer than %zu bytes",
				c->h.id, sizeof sum + rlen);
			if (off < sizeof sum)
				((uint8_t *)sum)[off] = buf[i];
		}
		uint64_t off = c->c_recv.n, skip = off < sizeof sum ? sizeof sum - off : 0;
		if ((uint64_t)k > skip) {
			net_fill(net_kseed(c, 2), off + skip - sizeof sum, want, (size_t)((uint64_t)k - skip));
			net_verify(c, "the client (reply)", buf + skip, want, off + skip, (size_t)((uint64_t)k - skip));
		}
		acct_add(&c->c_recv, buf, (size_t)k);
	}
	free(buf);
	c->c_rend = net_end(c, "the client's read", end);
	if (c->fate == NF_WHOLE) {
		CHECK(c->c_rend == NE_EOF && c->c_recv.n == sizeof sum + rlen, "net: connection %u (reqrep): "
			"%llu bytes of a %zu-byte reply, then %s", c->h.id, (ull)c->c_recv.n, sizeof sum + rlen,
			net_ends[c->c_rend]);
		CHECK(sum[0] == c->c_sent.n && sum[1] == c->c_sent.sum && sum[2] == c->c_sent.h,
			"net: connection %u (reqrep): the server read %llu bytes (sum %llu, hash %016llx), the "
			"client sent %llu (sum %llu, hash %016llx)", c->h.id, (ull)sum[0], (ull)sum[1], (ull)sum[2],
			(ull)c->c_sent.n, (ull)c->c_sent.sum, (ull)c->c_sent.h);
	} else {
		CHECK(c->c_rend == NE_EOF || c->c_rend == NE_RESET, "net: connection %u (reqrep, server "
			"abort): the client's read ended with %s", c->h.id, net_ends[c->c_rend]);
	}
}

/* closewait: the writer, blocked for good in one write. */
static void net_cw_writer(void *arg)
{
	struct net_conn *c = arg;
	ssize_t w = gort_write(c->cfd, N.big, NET_BIG, GORT_FOREVER);
	CHECK(w != (ssize_t)NET_BIG, "net: connection %u (closewait): all %u bytes written while the server "
		"read %u: the socket buffers held them, and the case no longer proves the close came "
		"during the write", c->h.id, NET_BIG, c->h.abort_at);
	CHECK(w == -GORT_ECLOSED, "net: connection %u (closewait): closed under a waiting write, which "
		"returned %zd (%s), not -GORT_ECLOSED", c->h.id, w, w < 0 ? gort_strerror((int)w) : "a count");
	c->c_wend = NE_ECLOSED;
	gort_waitgroup_done(&c->wdone);
}

/* closewait: the reader, who hears the 'G' and waits again. */
static void net_cw_reader(void *arg)
{
	struct net_conn *c = arg;
	char g = 0;
	ssize_t k = gort_read(c->cfd, &g, 1, GORT_FOREVER);
	CHECK(k == 1 && g == 'G', "net: connection %u (closewait): the 'G': %zd (%s)", c->h.id, k,
		k < 0 ? gort_strerror((int)k) : k ? "another byte" : "end of file");
	gort_chan_send(c->go, NULL);
	k = gort_read(c->cfd, &g, 1, GORT_FOREVER);
	/* Closed while we waited, or before we began: our slot's number
	 * names nothing else. */
	CHECK(k == -GORT_ECLOSED || k == -EBADF, "net: connection %u (closewait): a read racing the "
		"close returned %zd (%s)", c->h.id, k, k < 0 ? gort_strerror((int)k) : "a count");
	c->c_rend = net_end(c, "the client's racing read", k);
	gort_waitgroup_done(&c->wdone);
}

/* One connection's client: draws its plan, dials, and plays its mode with
 * up to two helpers; then, both sides over, checks what was conserved and
 * gives its slot back. */
static void net_client(void *arg)
{
	struct net_conn *c = arg;
	struct rng r = rng_for(70, c->h.id);
	uint32_t m = rbelow(&r, 100);
	c->h.magic = NET_MAGIC;
	c->h.mode = m < 30 ? NM_ECHO : m < 55 ? NM_XFORM : m < 88 ? NM_REQREP : NM_CLOSEWAIT;
	uint32_t sz = rbelow(&r, 100);
	c->h.len = sz < 60 ? rbelow(&r, 2049) : sz < 92 ? rbelow(&r, 32769) : rbelow(&r, 262145);
	c->h.key = (uint32_t)rnext(&r);
	c->ps = mix64(ctx.case_seed ^ ((uint64_t)c->h.id << 20) ^ 0x9a7109adull);
	uint32_t f = rbelow(&r, 100);
	c->fate = c->h.mode == NM_CLOSEWAIT || f < 70 ? NF_WHOLE : f < 85 ? NF_CABORT : NF_SABORT;
	c->halfclose = c->h.mode == NM_REQREP || rbelow(&r, 2);
	c->linger0 = c->fate == NF_CABORT && rbelow(&r, 2);
	c->cabort_at = rbelow(&r, c->h.len + 1);
	if (c->fate == NF_SABORT) {
		c->h.srv_abort = 1;
		c->h.abort_at = rbelow(&r, c->h.len + 1);
		c->h.srv_linger0 = (uint8_t)rbelow(&r, 2);
	}
	if (c->h.mode == NM_CLOSEWAIT)
		c->h.abort_at = 1 + rbelow(&r, 16384);
	/* closed under another goroutine: the slot's number (see the top) */
	c->useslot = c->fate == NF_CABORT || c->h.mode == NM_CLOSEWAIT || rbelow(&r, 2);
	gort_waitgroup_add(&c->srv_done, 1);
	gort_waitgroup_add(&c->cli_closed, 1);

	c->cfd = net_connect(c, &r);
	long w = net_write(c, c->cfd, (const uint8_t *)&c->h, sizeof c->h, &r, &c->c_sent);
	CHECK(w == 0, "net: connection %u: the header: %s", c->h.id, gort_strerror((int)w));
	char ack = 0;
	int rc = net_read_full(c->cfd, &ack, 1, &r);
	CHECK(rc == 1 && ack == 'A', "net: connection %u: the server's ack: %s", c->h.id,
		rc < 0 ? gort_strerror(rc) : rc ? "another byte" : "end of file");
	c->c_sent = (struct net_acct){ 0, 0, 0 };   /* the header is not part of the stream */

	switch (c->h.mode) {
	case NM_ECHO:
	case NM_XFORM:
		gort_waitgroup_add(&c->wdone, 1);
		gort_go(net_writer, c);
		net_echo_reader(c);
		gort_waitgroup_wait(&c->wdone);
		break;
	case NM_REQREP:
		net_send(c);
		if (c->fate != NF_CABORT)
			net_reqrep_reader(c);
		else
			c->c_rend = NE_ABORTED;
		break;
	case NM_CLOSEWAIT:
		c->go = xchan(1, 0);
		gort_waitgroup_add(&c->wdone, 2);
		gort_go(net_cw_writer, c);
		gort_go(net_cw_reader, c);
		gort_chan_recv(c->go, NULL);
		for (int i = 0; i < 3; i++)   /* most often the reader waits by now; either is right */
			gort_yield();
		net_close(c);
		gort_waitgroup_wait(&c->wdone);
		gort_chan_free(c->go);
		break;
	}
	if (!c->closed)
		net_close(c);
	gort_waitgroup_done(&c->cli_closed);
	gort_waitgroup_wait(&c->srv_done);

	/* Both sides are over: what each sent, the other read. */
	if (c->fate == NF_WHOLE && c->h.mode != NM_CLOSEWAIT) {
		CHECK(c->c_sent.n == c->h.len && acct_eq(&c->c_sent, &c->s_recv) && c->s_end == NE_EOF,
			"net: connection %u (%s, whole): the client sent %llu bytes (sum %llu, hash %016llx) of "
			"%u, the server read %llu (sum %llu, hash %016llx) and ended with %s", c->h.id,
			net_modes[c->h.mode], (ull)c->c_sent.n, (ull)c->c_sent.sum, (ull)c->c_sent.h, c->h.len,
			(ull)c->s_recv.n, (ull)c->s_recv.sum, (ull)c->s_recv.h, net_ends[c->s_end]);
		CHECK(acct_eq(&c->s_sent, &c->c_recv), "net: connection %u (%s, whole): the server sent %llu "
			"bytes (sum %llu, hash %016llx), the client read %llu (sum %llu, hash %016llx)", c->h.id,
			net_modes[c->h.mode], (ull)c->s_sent.n, (ull)c->s_sent.sum, (ull)c->s_sent.h,
			(ull)c->c_recv.n, (ull)c->c_recv.sum, (ull)c->c_recv.h);
	} else {
		/* a prefix, byte for byte (each side checked the bytes as they came) */
		CHECK(c->s_recv.n <= (c->h.mode == NM_CLOSEWAIT ? NET_BIG : c->c_sent.n) &&
			c->c_recv.n <= c->s_sent.n, "net: connection %u (%s, fate %d): more read than sent "
			"(client sent %llu, server read %llu; server sent %llu, client read %llu)", c->h.id,
			net_modes[c->h.mode], c->fate, (ull)c->c_sent.n, (ull)c->s_recv.n, (ull)c->s_sent.n,
			(ull)c->c_recv.n);
		if (c->h.mode == NM_CLOSEWAIT)
			CHECK(c->s_recv.n >= c->h.abort_at && (c->s_end == NE_EOF || c->s_end == NE_RESET),
				"net: connection %u (closewait): the server read %llu of at least %u bytes and ended "
				"with %s", c->h.id, (ull)c->s_recv.n, c->h.abort_at, net_ends[c->s_end]);
		if (c->fate == NF_CABORT)
			CHECK(c->s_end == NE_EOF || c->s_end == NE_RESET || c->s_end == NE_PIPE, "net: connection "
				"%u (%s, client abort): the server ended with %s", c->h.id, net_modes[c->h.mode],
				net_ends[c->s_end]);
	}

	gort_mutex_lock(&N.mu);
	N.modes[c->h.mode]++;
	N.fates[c->fate]++;
	N.ends[0][c->s_end]++;
	N.ends[1][c->c_wend]++;
	N.ends[2][c->c_rend]++;
	if (c->fate == NF_WHOLE && c->h.mode != NM_CLOSEWAIT) {
		/* what the plans decided, and so the same in every run */
		N.bytes += c->c_sent.n + c->c_recv.n;
		N.hash ^= mix64(c->c_sent.h ^ (c->c_recv.h << 1 | c->c_recv.h >> 63) ^ c->h.id);
	}
	gort_mutex_unlock(&N.mu);
	PROGRESS(0, 1);
	gort_chan_send(N.slots, &c->slot);   /* both sides are over: the number is free */
	gort_waitgroup_done(&N.clients);
}

static void case_net(char *digest, size_t dn)
{
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < NET_FDBASE + NET_NSLOT + 16) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	CHECK(rl.rlim_cur >= NET_FDBASE + NET_NSLOT + 16, "net: a descriptor limit of %llu: the slots "
		"need %d", (ull)rl.rlim_cur, NET_FDBASE + NET_NSLOT + 16);

	PHASE("net: listening on loopback");
	N.l = gort_listen("tcp4", "127.0.0.1:0");
	CHECK(N.l >= 0, "gort_listen tcp4 127.0.0.1:0: %s", gort_strerror(N.l));
	CHECK(gort_localaddr(N.l, N.addr, sizeof N.addr) > 0, "gort_localaddr of the listener");
	socklen_t sl = sizeof N.sa;
	CHECK(getsockname(N.l, (struct sockaddr *)&N.sa, &sl) == 0 && N.sa.sin_family == AF_INET,
		"getsockname of the listener: %s", strerror(errno));
	/* Nobody has dialled: this only registers the listener (and starts
	 * the poller) before the first connection. */
	int rc = gort_fd_wait(N.l, GORT_READ, 0);
	CHECK(rc == -ETIMEDOUT, "gort_fd_wait on a fresh listener: %d", rc);
	CHECK(N.l < NET_FDBASE, "the listener is on %d, in the slots' range", N.l);

	N.n = scaled(1500, 60);
	N.c = xcalloc(N.n, sizeof *N.c);
	N.bigseed = mix64(ctx.case_seed ^ 0xb16b16ull);
	N.big = xcalloc(1, NET_BIG);
	net_fill(N.bigseed, 0, N.big, NET_BIG);
	N.slots = xchan(sizeof(uint32_t), NET_NSLOT);
	for (uint32_t s = 0; s < NET_NSLOT; s++)
		gort_chan_send(N.slots, &s);

	PHASE("net: connections opening, exchanging and closing");
	gort_waitgroup_add(&N.servers, (int)N.n + 1);
	gort_waitgroup_add(&N.clients, (int)N.n);
	gort_go(net_acceptor, NULL);
	for (uint32_t i = 0; i < N.n; i++) {
		uint32_t slot;
		gort_chan_recv(N.slots, &slot);
		N.c[i].h.id = i;
		N.c[i].slot = slot;
		N.c[i].cfd = N.c[i].sfd = -1;
		gort_go(net_client, &N.c[i]);
	}
	gort_waitgroup_wait(&N.clients);
	PHASE("net: the servers finishing");
	gort_waitgroup_wait(&N.servers);

	PHASE("net: checking");
	/* Every descriptor of every connection closed for real: nothing
	 * opens new ones now, so a number still open is one never closed. */
	for (uint32_t i = 0; i < N.n; i++) {
		const struct net_conn *c = &N.c[i];
		CHECK(fcntl(c->cfd, F_GETFD) < 0 && errno == EBADF, "net: connection %u: the client's "
			"descriptor %d is still open", i, c->cfd);
		CHECK(fcntl(c->sfd, F_GETFD) < 0 && errno == EBADF, "net: connection %u: the server's "
			"descriptor %d is still open", i, c->sfd);
	}
	uint32_t ends = 0;
	for (int k = 0; k < NE_N; k++)
		ends += N.ends[0][k];
	CHECK(ends == N.n && N.fates[0] + N.fates[1] + N.fates[2] == N.n, "net: %u server ends and %u "
		"fates for %u connections", ends, N.fates[0] + N.fates[1] + N.fates[2], N.n);
	rc = gort_close(N.l);
	CHECK(rc == 0, "gort_close of the listener: %s", gort_strerror(rc));

	char how[512];
	size_t o = 0;
	static const char *const side[3] = { "server", "writer", "reader" };
	for (int s = 0; s < 3; s++) {
		o += (size_t)snprintf(how + o, sizeof how - o, " %s:", side[s]);
		for (int k = 0; k < NE_N && o < sizeof how; k++)
			if (N.ends[s][k])
				o += (size_t)snprintf(how + o, sizeof how - o, " %s=%u", net_ends[k], N.ends[s][k]);
		if (o >= sizeof how)
			break;
	}
	outf("stress: net: how the connections ended (schedule-dependent):%s\n", how);
	snprintf(digest, dn, "conns=%u echo=%u xform=%u reqrep=%u closewait=%u cabort=%u sabort=%u "
		"bytes=%llu hash=%016llx", N.n, N.modes[NM_ECHO], N.modes[NM_XFORM], N.modes[NM_REQREP],
		N.modes[NM_CLOSEWAIT], N.fates[NF_CABORT], N.fates[NF_SABORT], (ull)N.bytes, (ull)N.hash);
	gort_chan_free(N.slots);
	free(N.big);
	free(N.c);
}

/* ==== the cases, and one run of one ============================================== */

/* ==== preempt ================================================================= */

typedef double pv2d __attribute__((vector_size(16)));

/* Work kept in registers across a loop that never calls gort: a
 * preemption anywhere in it must give every register back. */
static __attribute__((noinline)) uint64_t pr_loop(uint64_t seed, uint32_t n, double *fx)
{
	uint64_t a = seed | 1, b = seed ^ 0x1234567;
	double x = (double)(seed & 1023) / 7.0;
	pv2d v = { 1.0, 2.0 };
	for (uint32_t i = 0; i < n; i++) {
		a = a * 6364136223846793005ull + i;
		b ^= a >> 17;
		x = x * 0.999 + (double)(a & 255) / 256.0;
		v = v * 0.5 + (pv2d){ x, (double)(b & 15) };
		__asm__ __volatile__("" : "+r"(a), "+r"(b) : : "memory");
	}
	*fx = x + v[0] + v[1];
	return a ^ b;
}

static struct {
	uint32_t n;                 /* goroutines */
	uint32_t rounds;            /* loops each */
	uint64_t *sum;              /* per goroutine: its results, folded */
	double *fsum;
	volatile uint32_t moved, wired_moved, wired;
	pthread_mutex_t mu;         /* a lock gort cannot see */
	uint64_t mu_count;          /* under mu */
	gort_chan *c;
	gort_waitgroup wg, drained;
} PR;

static void pr_run(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	struct rng r = rng_for(1, id);
	uint64_t sum = 0;
	double fsum = 0;
	for (uint32_t k = 0; k < PR.rounds; k++) {
		uint64_t seed = rnext(&r);
		uint32_t len = 1000 + rbelow(&r, 200000);
		double fx;
		long t = syscall(SYS_gettid);
		sum = sum * 31 + pr_loop(seed, len, &fx);
		fsum += fx;
		if (syscall(SYS_gettid) != t)
			gort_atomic_store32(&PR.moved, 1);   /* the thread rule */
		switch (rbelow(&r, 6)) {
		case 0: gort_yield(); break;
		case 1: gort_sleep((int64_t)rbelow(&r, 200000)); break;
		case 2: {
			uint32_t v = id;
			gort_chan_send(PR.c, &v);
			break;
		}
		case 3:
			gort_preempt_disable();
			pthread_mutex_lock(&PR.mu);
			sum ^= pr_loop(seed ^ 1, len / 4, &fx);   /* preempted here: the next could wait for ever */
			PR.mu_count++;
			pthread_mutex_unlock(&PR.mu);
			gort_preempt_enable();
			break;
		case 4: {
			gort_lock_thread();
			gort_atomic_add32(&PR.wired, 1);
			long w = syscall(SYS_gettid);
			gort_yield();
			sum ^= pr_loop(seed ^ 2, len / 4, &fx);
			gort_sleep(1000);
			if (syscall(SYS_gettid) != w)
				gort_atomic_store32(&PR.wired_moved, 1);
			gort_unlock_thread();
			break;
		}
		default: break;   /* straight into the next loop */
		}
	}
	PR.sum[id] = sum;
	PR.fsum[id] = fsum;
	gort_waitgroup_done(&PR.wg);
}

static void pr_drain(void *arg)
{
	(void)arg;
	uint32_t v;
	while (gort_chan_recv(PR.c, &v))
		CHECK(v < PR.n, "a loop sent %u", v);
	gort_waitgroup_done(&PR.drained);
}

/* The same work, from the same seeds, with no preemption possible. */
static void pr_expect(uint32_t id, uint64_t *sum, double *fsum)
{
	struct rng r = rng_for(1, id);
	*sum = 0;
	*fsum = 0;
	gort_preempt_disable();
	for (uint32_t k = 0; k < PR.rounds; k++) {
		uint64_t seed = rnext(&r);
		uint32_t len = 1000 + rbelow(&r, 200000);
		double fx;
		*sum = *sum * 31 + pr_loop(seed, len, &fx);
		*fsum += fx;
		switch (rbelow(&r, 6)) {
		case 1: rbelow(&r, 200000); break;
		case 3: *sum ^= pr_loop(seed ^ 1, len / 4, &fx); break;
		case 4: *sum ^= pr_loop(seed ^ 2, len / 4, &fx); break;
		default: break;
		}
	}
	gort_preempt_enable();
}

static void case_preempt(char *digest, size_t dn)
{
	struct rng r = rng_for(0, 0);
	PR.n = 4 + rbelow(&r, 13);
	PR.rounds = scaled(60, 6);
	PR.sum = xcalloc(PR.n, sizeof *PR.sum);
	PR.fsum = xcalloc(PR.n, sizeof *PR.fsum);
	pthread_mutex_init(&PR.mu, NULL);
	PR.c = gort_chan_make(sizeof(uint32_t), 0);
	PHASE("preempt: loops between scheduling points");
	gort_waitgroup_add(&PR.drained, 1);
	gort_go(pr_drain, NULL);
	gort_waitgroup_add(&PR.wg, (int)PR.n);
	for (uint32_t i = 0; i < PR.n; i++)
		gort_go(pr_run, (void *)(uintptr_t)i);
	gort_waitgroup_wait(&PR.wg);
	gort_chan_close(PR.c);
	gort_waitgroup_wait(&PR.drained);
	gort_chan_free(PR.c);
	pthread_mutex_destroy(&PR.mu);
	PHASE("preempt: checking every result against unpreempted work");
	uint64_t all = 0;
	for (uint32_t i = 0; i < PR.n; i++) {
		uint64_t s;
		double f;
		pr_expect(i, &s, &f);
		CHECK(PR.sum[i] == s, "goroutine %u's integer result %" PRIx64 ", unpreempted %" PRIx64, i,
			PR.sum[i], s);
		CHECK(PR.fsum[i] == f, "goroutine %u's floating-point result %.17g, unpreempted %.17g", i,
			PR.fsum[i], f);
		all = all * 1000003 + s;
	}
	CHECK(!PR.moved, "a loop that never called gort changed thread");
	CHECK(!PR.wired_moved, "a wired goroutine changed thread");
	snprintf(digest, dn, "goroutines=%u rounds=%u mutex=%" PRIu64 " results=%016" PRIx64, PR.n, PR.rounds,
		PR.mu_count, all);
	free(PR.sum);
	free(PR.fsum);
}

struct scase {
	const char *name;
	void (*run)(char *digest, size_t n);
};

static const struct scase cases[] = {
	{ "chan_fifo", case_chan_fifo },
	{ "select_fuzz", case_select_fuzz },
	{ "select_close", case_select_close },
	{ "timers", case_timers },
	{ "timers_race", case_timers_race },
	{ "spawn_storm", case_spawn_storm },
	{ "park_unpark", case_park_unpark },
	{ "mutex_wg", case_mutex_wg },
	{ "preempt", case_preempt },
	{ "net", case_net },
};
enum { NCASES = sizeof cases / sizeof cases[0] };

static int stress_main(void *arg)
{
	const struct scase *sc = arg;
	char digest[256] = "";
	char path[PATH_MAX];
	CHECK(gort_gomaxprocs(0) == ctx.procs, "running on %d Ps, not %d", gort_gomaxprocs(0), ctx.procs);
	if (ctx.prof) {
		const char *tmp = getenv("TMPDIR");
		snprintf(path, sizeof path, "%s/gort-stress-prof-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		int fd = mkstemp(path);
		CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
		close(fd);
		int rc = gort_prof_start(path, 1000);
		CHECK(rc == 0, "gort_prof_start(%s, 1000) = %d", path, rc);
	}
	sc->run(digest, sizeof digest);
	if (ctx.prof) {
		PHASE("stopping the profiler");
		int rc = gort_prof_stop();
		CHECK(rc == 0, "gort_prof_stop() = %d", rc);
		struct gort_prof_stats st;
		rc = gort_prof_stats(&st);
		CHECK(rc == 0, "gort_prof_stats() = %d", rc);
		CHECK(st.hz == 1000, "the profile ran at %d Hz, not 1000", st.hz);
		CHECK(st.signals == st.samples + st.lost_atomic64 + st.lost_full,
			"profile ledger: %llu signals != %llu samples + %llu lost in atomic64 + %llu lost to a "
			"full buffer", (ull)st.signals, (ull)st.samples, (ull)st.lost_atomic64, (ull)st.lost_full);
		struct stat sb;
		CHECK(stat(path, &sb) == 0, "the profile %s: %s", path, strerror(errno));
		CHECK(S_ISREG(sb.st_mode) && sb.st_size > 0, "the profile %s is empty", path);
		unlink(path);
		outf("PROF signals=%llu samples=%llu lost_atomic64=%llu lost_full=%llu external=%llu bytes=%lld\n",
			(ull)st.signals, (ull)st.samples, (ull)st.lost_atomic64, (ull)st.lost_full,
			(ull)st.external, (long long)sb.st_size);
	}
	outf("RESULT %s\n", digest);
	return 0;
}

/* The child's own watchdog: a plain thread that, if the case is not done
 * in time, says what it was doing and has the runtime dump every goroutine. */
static void *watchdog(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPROF);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct timespec ts = { ctx.timeout, 0 };
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
	outf("STRESS HANG: case=%s seed=%llu GORTMAXPROCS=%d prof=%s: not done after %d s, in phase "
		"\"%s\" (progress %llu, %llu, %llu); every goroutine follows (SIGQUIT)\n",
		ctx.name, (ull)ctx.seed, ctx.procs, ctx.prof ? "on" : "off", ctx.timeout,
		(const char *)gort_atomic_loadp((void *const volatile *)&phase),
		(ull)gort_atomic_load64(&progress[0]), (ull)gort_atomic_load64(&progress[1]),
		(ull)gort_atomic_load64(&progress[2]));
	kill(getpid(), SIGQUIT);
	ts = (struct timespec){ 20, 0 };
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
	outf("STRESS HANG: the SIGQUIT dump did not end the process\n");
	_exit(124);
}

/* --- the parent: the suite's seed, and running a case in a child --------------- */

static uint64_t g_seed;
static char g_exe[PATH_MAX] = "test_stress";
static int g_procs_only;        /* GORTMAXPROCS: only these runs */
static int g_prof_only = -1;    /* GORT_STRESS_PROF: only with (1) or without (0) */
static int g_timeout;           /* the child's watchdog, seconds */
static int g_div;
static int g_verbose;           /* GORT_STRESS_VERBOSE: show every child's output */

static uint64_t hash_name(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static void child_main(const struct scase *sc, int procs, int prof)
{
	ctx.name = sc->name;
	ctx.seed = g_seed;
	ctx.case_seed = mix64(g_seed ^ hash_name(sc->name));
	ctx.procs = procs;
	ctx.prof = prof;
	ctx.div = g_div;
	ctx.timeout = g_timeout;
	char buf[16];
	snprintf(buf, sizeof buf, "%d", procs);
	setenv("GORTMAXPROCS", buf, 1);
	gort_gomaxprocs(procs);
	pthread_t wd;
	if (pthread_create(&wd, NULL, watchdog, NULL) != 0)
		FAIL("cannot start the watchdog thread");
	int rc = gort_main(stress_main, (void *)sc);
	_exit(rc);
}

struct capture {
	char *buf;
	size_t len, cap, dropped;
};

static void capture_add(struct capture *c, const char *p, size_t n)
{
	const size_t max = 64u << 20;
	if (c->len + n > max) {
		c->dropped += n;
		return;
	}
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 65536;
		while (cap < c->len + n + 1)
			cap *= 2;
		char *b = realloc(c->buf, cap);
		if (!b) {
			c->dropped += n;
			return;
		}
		c->buf = b;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	c->buf[c->len] = '\0';
}

/* The first line that says what went wrong. */
static void first_complaint(const char *out, char *dst, size_t dn)
{
	static const char *const marks[] = { "STRESS FAIL", "STRESS HANG", "ERROR: AddressSanitizer",
		"runtime error:", "fatal error:", "panic:", "SIGQUIT", NULL };
	const char *best = NULL;
	for (int i = 0; marks[i] && !best; i++)
		best = out ? strstr(out, marks[i]) : NULL;
	if (!best) {
		snprintf(dst, dn, "(no complaint in the output)");
		return;
	}
	while (best > out && best[-1] != '\n')
		best--;
	size_t n = strcspn(best, "\n");
	if (n >= dn)
		n = dn - 1;
	memcpy(dst, best, n);
	dst[n] = '\0';
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run one case in a child.  Returns NULL, with its RESULT in result, or
 * (having printed everything to stderr) a message saying what went wrong. */
static char *run_one(const struct scase *sc, int procs, int prof, char *result, size_t rn)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	fflush(NULL);
	double t0 = now_s();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[1]);
		int fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		child_main(sc, procs, prof);
	}
	close(p[1]);

	/* Read everything; past the watchdog's time and its dump's, kill. */
	struct capture out = { 0 };
	double hard = t0 + g_timeout + 60;
	int killed = 0;
	for (;;) {
		int ms = (int)((hard - now_s()) * 1000);
		if (ms <= 0) {
			kill(pid, SIGKILL);
			killed = 1;
			ms = 5000;
		}
		struct pollfd pfd = { p[0], POLLIN, 0 };
		int r = poll(&pfd, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			if (killed)
				break;
			continue;
		}
		char buf[65536];
		ssize_t n = read(p[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		capture_add(&out, buf, (size_t)n);
	}
	close(p[0]);
	int status = 0;
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	double secs = now_s() - t0;
	const char *o = out.buf ? out.buf : "";

	const char *res = strstr(o, "RESULT ");
	int ok = !killed && WIFEXITED(status) && WEXITSTATUS(status) == 0 && res &&
		(res == o || res[-1] == '\n') && !strstr(o, "STRESS FAIL") && !strstr(o, "STRESS HANG");
	if (ok) {
		size_t n = strcspn(res + 7, "\n");
		if (n >= rn)
			n = rn - 1;
		memcpy(result, res + 7, n);
		result[n] = '\0';
		if (g_verbose)
			fputs(o, stdout);
		const char *pl = strstr(o, "PROF ");
		printf("stress: %-12s GORTMAXPROCS=%d prof=%-3s ok  %6.2f s  %s%s%.*s\n", sc->name, procs,
			prof ? "on" : "off", secs, result, pl ? "  " : "", pl ? (int)strcspn(pl, "\n") : 0,
			pl ? pl : "");
		fflush(stdout);
		free(out.buf);
		return NULL;
	}

	char what[160];
	if (killed)
		snprintf(what, sizeof what, "hung: killed after %d s (the watchdog's report did not end it)",
			g_timeout + 60);
	else if (strstr(o, "STRESS HANG"))
		snprintf(what, sizeof what, "hung: not done after %d s", g_timeout);
	else if (WIFSIGNALED(status))
		snprintf(what, sizeof what, "killed by signal %d (%s)", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		snprintf(what, sizeof what, "exit status %d", WEXITSTATUS(status));
	else
		snprintf(what, sizeof what, "no RESULT line");

	char logpath[PATH_MAX + 64] = "";
	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof cwd)) {
		char dir[PATH_MAX + 16];
		snprintf(dir, sizeof dir, "%s/stress-logs", cwd);
		mkdir(dir, 0777);
		snprintf(logpath, sizeof logpath, "%s/%s-p%d-prof%s-seed%llu.log", dir, sc->name, procs,
			prof ? "on" : "off", (ull)g_seed);
		FILE *f = fopen(logpath, "w");
		if (f) {
			fwrite(o, 1, out.len, f);
			fclose(f);
		} else {
			logpath[0] = '\0';
		}
	}
	char complaint[400];
	first_complaint(o, complaint, sizeof complaint);
	char replay[PATH_MAX + 200];
	snprintf(replay, sizeof replay, "GORT_STRESS_SEED=%llu GORTMAXPROCS=%d GORT_STRESS_PROF=%d "
		"CK_RUN_CASE=%s %s", (ull)g_seed, procs, prof, sc->name, g_exe);

	const size_t show = 6000;
	fprintf(stderr, "\n==== stress FAILED: case %s, GORTMAXPROCS=%d, profiler %s, seed %llu: %s "
		"(%.1f s)\n", sc->name, procs, prof ? "on" : "off", (ull)g_seed, what, secs);
	if (out.len <= 2 * show) {
		fprintf(stderr, "---- its output:\n%s", o);
	} else {
		fprintf(stderr, "---- the first %zu bytes of its output:\n%.*s\n", show, (int)show, o);
		fprintf(stderr, "[... %zu bytes ...]\n---- the last %zu bytes:\n%s", out.len - 2 * show,
			show, o + out.len - show);
	}
	if (out.dropped)
		fprintf(stderr, "[%zu more bytes not kept]\n", out.dropped);
	fprintf(stderr, "\n---- full output: %s\n---- replay: %s\n\n", logpath[0] ? logpath : "(not saved)",
		replay);
	fflush(stderr);
	free(out.buf);
	char *msg = NULL;
	if (asprintf(&msg, "stress case %s, seed %llu, GORTMAXPROCS=%d, profiler %s: %s: %s\n"
		"replay: %s", sc->name, (ull)g_seed, procs, prof ? "on" : "off", what, complaint, replay) < 0)
		msg = strdup("stress: a run failed (and asprintf too)");
	return msg;
}

static const int procs_of[] = { 1, 2, 8 };

/* Both runs, even when the first fails: a report then says whether the
 * profiler makes a difference. */
static void run_case(int ci, int i)
{
	const struct scase *sc = &cases[ci];
	int procs = procs_of[i];
	if (g_procs_only) {             /* replaying: GORTMAXPROCS says which, once */
		if (i != 0)
			return;
		procs = g_procs_only;
	}
	char off[256] = "", on[256] = "";
	char *foff = g_prof_only != 1 ? run_one(sc, procs, 0, off, sizeof off) : NULL;
	char *fon = g_prof_only != 0 ? run_one(sc, procs, 1, on, sizeof on) : NULL;
	if (foff || fon)
		ck_abort_msg("%s%s%s", foff ? foff : "", foff && fon ? "\n" : "", fon ? fon : "");
	if (g_prof_only == -1)
		ck_assert_msg(strcmp(off, on) == 0, "stress case %s, seed %llu, GORTMAXPROCS=%d: the profiler "
			"changed the result:\n  off: %s\n  on:  %s\nreplay: GORT_STRESS_SEED=%llu GORTMAXPROCS=%d "
			"CK_RUN_CASE=%s %s", sc->name, (ull)g_seed, procs, off, on, (ull)g_seed, procs, sc->name,
			g_exe);
}

#define CASE_TEST(idx, name) \
	START_TEST(stress_##name) { run_case(idx, _i); } END_TEST
CASE_TEST(0, chan_fifo)
CASE_TEST(1, select_fuzz)
CASE_TEST(2, select_close)
CASE_TEST(3, timers)
CASE_TEST(4, timers_race)
CASE_TEST(5, spawn_storm)
CASE_TEST(6, park_unpark)
CASE_TEST(7, mutex_wg)
CASE_TEST(8, preempt)
CASE_TEST(9, net)

int main(void)
{
	const char *s = getenv("GORT_STRESS_SEED");
	if (s && *s) {
		char *end;
		errno = 0;
		g_seed = strtoull(s, &end, 0);
		if (*end || errno) {
			fprintf(stderr, "GORT_STRESS_SEED=%s: not a number\n", s);
			return 2;
		}
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		g_seed = mix64((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ (uint64_t)getpid();
		g_seed %= 1000000000000ull;   /* short enough to retype */
	}
	if ((s = getenv("GORTMAXPROCS")) && *s)
		g_procs_only = atoi(s);
	if ((s = getenv("GORT_STRESS_PROF")) && *s)
		g_prof_only = atoi(s) ? 1 : 0;
	if ((s = getenv("GORT_STRESS_VERBOSE")) && *s)
		g_verbose = atoi(s);
	ssize_t n = readlink("/proc/self/exe", g_exe, sizeof g_exe - 1);
	if (n > 0)
		g_exe[n] = '\0';
	g_div = SCALE * (STRESS_ASAN ? 4 : 1);
	if ((s = getenv("GORT_TEST_SCALE")) && atoi(s) > 0)
		g_div = atoi(s);
	g_timeout = 60 * (STRESS_ASAN ? 2 : 1) * (STRESS_EMULATED ? 5 : 1);
	if ((s = getenv("GORT_STRESS_TIMEOUT")) && atoi(s) > 0)
		g_timeout = atoi(s);

	printf("stress: seed %llu (replay: GORT_STRESS_SEED=%llu), counts divided by %d, %d s per run%s%s\n",
		(ull)g_seed, (ull)g_seed, g_div, g_timeout, STRESS_ASAN ? ", AddressSanitizer" : "",
		STRESS_EMULATED ? ", emulated" : "");
	fflush(stdout);

	Suite *suite = suite_create("stress");
	/* In the order of cases[], one each: a case added there and not
	 * here would leave the last tcase without a test, which Check skips
	 * without a word (net did, for a while). */
	const TTest *tests[] = {
		stress_chan_fifo, stress_select_fuzz, stress_select_close, stress_timers,
		stress_timers_race, stress_spawn_storm, stress_park_unpark, stress_mutex_wg,
		stress_preempt, stress_net,
	};
	_Static_assert(sizeof tests / sizeof tests[0] == NCASES, "a stress case without its test");
	for (int i = 0; i < NCASES; i++) {
		TCase *tc = tcase_create(cases[i].name);
		/* Two children per test, each under its own watchdog: never Check's timeout first. */
		tcase_set_timeout(tc, 2 * (g_timeout + 90));
		tcase_add_loop_test(tc, tests[i], 0, 3);
		suite_add_tcase(suite, tc);
	}
	double t0 = now_s();
	int rc = run_suite(suite);
	printf("stress: seed %llu, %s in %.1f s\n", (ull)g_seed, rc ? "FAILED" : "passed", now_s() - t0);
	return rc;
}
