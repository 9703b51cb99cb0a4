/*
 * proc.c -- the scheduler: Ms, Ps and Gs, park and ready, spawning and
 * exiting, system calls, sysmon, and global deadlock (Go: proc.go).
 *
 * The life of a goroutine:
 *
 *   gort_go -> newproc: a G (reused from a free list, or a fresh stack),
 *   status Grunnable, put in the current P's runnext.
 *
 *   An M running the P picks it (runnext, the local ring, every 61st time
 *   the global queue first, else steals from other Ps), and switches to
 *   it: Grunning.
 *
 *   It blocks (channel, semaphore, sleep): park sets Gwaiting and a wait
 *   reason and switches to the next runnable G of this P, or to g0 when
 *   there is none.  Whoever it waits for calls ready: Grunnable, into the
 *   readier's runnext, and wakep starts an idle M if Ps are idle and nobody
 *   is already looking for work.
 *
 *   Its function returns (or it calls gort_exit): Gdead, and the G with
 *   its stack goes on the P's free list for the next gort_go.
 *
 * The M's side: an M with a P loops in findrunnable on g0 (its thread's own
 * stack) only when its P's queues are empty; otherwise Gs switch straight
 * to each other (see sched.h).  An M that finds nothing gives its P back,
 * and sleeps on its note (stopm) until startm hands it a P -- or, for the
 * one M that watches the earliest timer, until that timer is due.
 *
 * Spinning.  An M looking for work without having found any is
 * "spinning".  At most half the busy Ps' worth of Ms spin at once, and
 * wakep starts a new spinner only when none is spinning: enough to pick up
 * new work at once, not so many that idle Ms burn the CPUs.  The delicate
 * part (as in Go): an M that stops spinning must look at every queue once
 * more after saying so, or a G readied meanwhile by someone who saw it
 * spinning (and so did not wake anyone) would wait for nobody.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sched/netpoll.h"

#if defined(__SANITIZE_ADDRESS__)
#define GORT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_ASAN 1
#endif
#endif
#ifdef GORT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* goidgen is the last goid taken, and starts at 1: main's, which gort_main
 * gives it itself, so that main is goroutine 1 (as in Go) even when
 * goroutines were started before it. */
struct schedt gort_sched = { .goidgen = 1 };
__thread struct m *gort_sched_m __attribute__((tls_model("initial-exec")));
struct gort_sched_hooks gort_sched_hooks;   /* the packages above (sched.h) */
volatile uint32_t gort_sched_profflags;      /* PROF_BLOCK | PROF_MUTEX (sched.h) */
volatile uint32_t gort_sched_goprof_gen;     /* a goroutine profile's number, or 0 */

/* The profiling events (sched.h): out of line, so that the blocking paths
 * carry only their test; prof trims these frames off the stack. */
__attribute__((noinline, cold)) void gort_sched_blockevent(int64_t ns)
{
	if (gort_sched_hooks.blockevent)
		gort_sched_hooks.blockevent(ns);
	KEEP_FRAME();
}

__attribute__((noinline, cold)) void gort_sched_mutexevent(int64_t ns)
{
	if (gort_sched_hooks.mutexevent)
		gort_sched_hooks.mutexevent(ns);
	KEEP_FRAME();
}

const char *const gort_sched_waitreasons[wrCount] = {
	[wrNone] = "",
	[wrChanReceive] = "chan receive",
	[wrChanSend] = "chan send",
	[wrChanReceiveNil] = "chan receive (nil chan)",
	[wrChanSendNil] = "chan send (nil chan)",
	[wrSelect] = "select",
	[wrSelectNoCases] = "select (no cases)",
	[wrSleep] = "sleep",
	[wrSemacquire] = "semacquire",
	[wrIOWait] = "IO wait",
	[wrForever] = "forever",
	[wrSyncCondWait] = "sync.Cond.Wait",
};

static volatile uint32_t started;
static struct g *volatile maing;   /* set by the main goroutine itself */
static volatile uint32_t main_goexited;
static volatile uint32_t coarse_sec;  /* sysmon's clock in seconds, for waitsince; atomic */

uint32_t gort_sched_coarse_seconds(void)
{
	return atomic_load32(&coarse_sec);
}

int64_t gort_sched_nanotime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* After a context switch the goroutine may be on another thread.  The
 * compiler is entitled to keep the address of a thread-local variable in a
 * register across a call (clang does, on aarch64), so code that resumes
 * after a switch reads gort_sched_m through this function, never through
 * an address computed before the switch. */
#if defined(__x86_64__)
/* x86-64 reads TLS through %fs at every access: nothing to cache. */
static inline struct m *getm_fresh(void)
{
	return gort_sched_m;
}
#else
static __attribute__((noinline)) struct m *getm_fresh(void)
{
	struct m *m = gort_sched_m;
	__asm__ __volatile__("" ::: "memory");
	return m;
}
#endif

uint32_t gort_sched_fastrand(void)
{
	struct m *m = gort_sched_m;
	static volatile uint32_t shared = 0x9e3779b9;
	uint32_t x = m ? m->fastrand : atomic_load32(&shared);
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	if (m)
		m->fastrand = x;
	else
		atomic_store32(&shared, x);
	return x;
}

struct g *gort_sched_mustgetg(const char *what)
{
	struct g *gp = getg();
	if (!gp)
		gort_runtime_panicf("%s called outside a goroutine (call it from gort_main's function "
			"or from a goroutine started by gort_go)", what);
	return gp;
}

/* --- ASan: tell it whose stack we are on (no-ops in other builds) -------- */

static inline void fiber_start(void **save, uintptr_t lo, uintptr_t hi)
{
#ifdef GORT_ASAN
	__sanitizer_start_switch_fiber(save, (const void *)lo, hi - lo);
#else
	(void)save, (void)lo, (void)hi;
#endif
}

static inline void fiber_finish(void *save)
{
#ifdef GORT_ASAN
	__sanitizer_finish_switch_fiber(save, NULL, NULL);
#else
	(void)save;
#endif
}

/* --- P: idle list, acquire and release (sched.lock held for the lists) --- */

static void pidleput(struct p *pp)
{
	if (!gort_sched_runqempty(pp))
		gort_runtime_throw("pidleput: P has non-empty run queue");
	struct m *w = gort_sched.pinwait;
	if (w && (uint32_t)pp->id < atomic_load32(&gort_sched.gomaxprocs)) {
		/* An M whose pinned goroutines can run nowhere else comes
		 * first (findrunnable). */
		gort_sched.pinwait = w->link;
		atomic_add32(&gort_sched.npinwait, -1);
		w->nextp = pp;
		atomic_store32(&pp->status, Prunning);
		gort_sched_notewakeup(&w->park);
		return;
	}
	pp->link = gort_sched.pidle;
	gort_sched.pidle = pp;
	atomic_store32(&pp->status, Pidle);
	atomic_add32((volatile uint32_t *)&gort_sched.npidle, 1);
}

static uint32_t sysmon_deep;   /* sysmon sleeps until a P is taken (sysmon); sched.lock */
static void sysmon_wake(void);

static struct p *pidleget(void)
{
	struct p *pp;
	if (__builtin_expect(sysmon_deep, 0))
		sysmon_wake();   /* the first P to leave the idle list */
	while ((pp = gort_sched.pidle) != NULL) {
		gort_sched.pidle = pp->link;
		atomic_add32((volatile uint32_t *)&gort_sched.npidle, -1);
		if ((uint32_t)pp->id < atomic_load32(&gort_sched.gomaxprocs))
			return pp;
		/* Left over from a shrinking gort_gomaxprocs: retire it. */
		gort_sched_movetimers(pp, gort_sched.allp[0]);
		atomic_store32(&pp->status, Pdead);
	}
	return NULL;
}

static void acquirep(struct m *m, struct p *pp)
{
	if (m->p || pp->m)
		gort_runtime_throw("acquirep: already in use");
	m->p = pp;
	pp->m = m;
	atomic_store32(&pp->status, Prunning);
}

static struct p *releasep(struct m *m)
{
	struct p *pp = m->p;
	m->p = NULL;
	pp->m = NULL;
	return pp;
}

static struct p *newp(int32_t id)
{
	struct p *pp = aligned_alloc(64, sizeof *pp);
	if (!pp)
		gort_runtime_throw("out of memory allocating a P");
	memset(pp, 0, sizeof *pp);
	pp->id = id;
	pp->status = Pdead;
	gort_sched_timers_init(pp);
	return pp;
}

/* Make n Ps usable.  Growing is immediate; when shrinking, idle Ps beyond
 * n retire here and running ones at their M's next trip to findrunnable.
 * sched.lock held. */
static void procresize(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!gort_sched.allp[i])
			gort_sched.allp[i] = newp((int32_t)i);
		if (i + 1 > gort_sched.nallp_max)
			gort_sched.nallp_max = i + 1;
		if (gort_sched.allp[i]->status == Pdead) {
			atomic_store32(&gort_sched.allp[i]->status, Pidle);
			pidleput(gort_sched.allp[i]);
		}
	}
	atomic_store32(&gort_sched.gomaxprocs, n);
	/* Pull retired Ps out of the idle list now: their timers must move. */
	struct p **link = &gort_sched.pidle;
	while (*link) {
		struct p *pp = *link;
		if ((uint32_t)pp->id >= n) {
			*link = pp->link;
			atomic_add32((volatile uint32_t *)&gort_sched.npidle, -1);
			gort_sched_movetimers(pp, gort_sched.allp[0]);
			atomic_store32(&pp->status, Pdead);
		} else {
			link = &pp->link;
		}
	}
}

/* --- G: free lists and allgs --------------------------------------------- */

static void allgadd(struct g *gp)
{
	gort_sched_lock(&gort_sched.allglock);
	gp->alllink = gort_sched.allgs;
	gort_sched.allgs = gp;
	gort_sched.nallgs++;
	gort_sched_unlock(&gort_sched.allglock);
}

static void gfput(struct p *pp, struct g *gp)
{
	if (gp->stack_size != gort_sched.default_stack || !pp) {
		gort_sched_lock(&gort_sched.lock);
		gp->schedlink = gort_sched.gfree_odd;
		gort_sched.gfree_odd = gp;
		gort_sched_unlock(&gort_sched.lock);
		return;
	}
	gp->schedlink = pp->gfree;
	pp->gfree = gp;
	if (++pp->ngfree < 64)
		return;
	/* Too many: share half with the other Ps. */
	gort_sched_lock(&gort_sched.lock);
	while (pp->ngfree > 32) {
		struct g *g1 = pp->gfree;
		pp->gfree = g1->schedlink;
		pp->ngfree--;
		g1->schedlink = gort_sched.gfree;
		gort_sched.gfree = g1;
		gort_sched.ngfree++;
	}
	gort_sched_unlock(&gort_sched.lock);
}

static struct g *gfget(struct p *pp, size_t size)
{
	struct g *gp = NULL;
	if (size == gort_sched.default_stack && pp) {
		if (!pp->gfree && gort_sched.ngfree > 0) {
			gort_sched_lock(&gort_sched.lock);
			while (pp->ngfree < 32 && gort_sched.gfree) {
				struct g *g1 = gort_sched.gfree;
				gort_sched.gfree = g1->schedlink;
				gort_sched.ngfree--;
				g1->schedlink = pp->gfree;
				pp->gfree = g1;
				pp->ngfree++;
			}
			gort_sched_unlock(&gort_sched.lock);
		}
		if ((gp = pp->gfree) != NULL) {
			pp->gfree = gp->schedlink;
			pp->ngfree--;
		}
		return gp;
	}
	gort_sched_lock(&gort_sched.lock);
	int dflt = size == gort_sched.default_stack;
	for (struct g **link = dflt ? &gort_sched.gfree : &gort_sched.gfree_odd; *link;
	     link = &(*link)->schedlink) {
		if ((*link)->stack_size == size) {
			gp = *link;
			*link = gp->schedlink;
			gort_sched.ngfree -= dflt;
			break;
		}
	}
	gort_sched_unlock(&gort_sched.lock);
	return gp;
}

static uint64_t newgoid(struct p *pp)
{
	if (!pp)
		return atomic_add64(&gort_sched.goidgen, 1);
	if (pp->goidcache == pp->goidcacheend) {
		/* Take goids 16 at a time, so spawning does not contend on one
		 * global counter. */
		pp->goidcacheend = atomic_add64(&gort_sched.goidgen, 16) + 1;
		pp->goidcache = pp->goidcacheend - 16;
	}
	return pp->goidcache++;
}

/* --- M: create, park, wake -------------------------------------------------- */

static void mput(struct m *m)   /* sched.lock held */
{
	m->link = gort_sched.midle;
	gort_sched.midle = m;
	gort_sched.nmidle++;
}

static struct m *mget(void)     /* sched.lock held */
{
	struct m *m = gort_sched.midle;
	if (m) {
		gort_sched.midle = m->link;
		gort_sched.nmidle--;
	}
	return m;
}

static void checkdead(void);
static void *mstart(void *arg);

/* An M about to be made counts as running from the moment it is decided
 * on (Go: mReserveID): its id is taken with sched.lock held, in the same
 * hold as the decision.  Otherwise, between that hold and the new thread,
 * the P it is to run is nobody's -- neither idle nor held -- and the
 * deadlock check, seeing every M idle, would call a goroutine queued for
 * that P stranded.  (It did, under qemu: sysmon took the P of a system
 * call and went to make an M for it; the goroutine came back, queued
 * itself, its M went idle -- and checkdead threw.) */
static int64_t mreserve(void)   /* sched.lock held */
{
	return gort_sched.mcount++;
}

/* locked: a G for the new M to be wired to (gort_lock_thread), or NULL;
 * id: from mreserve. */
static void newm(struct p *pp, int spinning, struct g *locked, int64_t id)
{
	struct m *m = calloc(1, sizeof *m);
	if (!m)
		gort_runtime_throw("out of memory allocating an M");
	m->nextp = pp;
	m->spinning = (uint8_t)spinning;
	if (locked) {
		m->lockedg = locked;
		locked->lockedm = m;
	}
	m->id = id;
	m->fastrand = (uint32_t)(m->id * 0x9e3779b9u) | 1;
	struct m *head;
	do {
		head = atomic_loadp((void *const volatile *)&gort_sched.allm);
		m->alllink = head;
	} while (!atomic_casp((void *volatile *)&gort_sched.allm, head, m));

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1 << 20);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);   /* the thread unblocks in minit */
	int err = pthread_create(&m->thread, &attr, mstart, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		gort_runtime_throwf("newm: pthread_create failed: %s", strerror(err));
}

/* Start an M to run pp (an idle P if NULL).  spinning: the caller already
 * counted the new M in nmspinning. */
static void startm(struct p *pp, int spinning)
{
	gort_sched_lock(&gort_sched.lock);
	if (!pp) {
		pp = pidleget();
		if (!pp) {
			gort_sched_unlock(&gort_sched.lock);
			if (spinning)
				atomic_add32((volatile uint32_t *)&gort_sched.nmspinning, -1);
			return;
		}
	}
	struct m *m = mget();
	if (!m && gort_sched.polling && !gort_sched.pollhandoff) {
		/* No idle M, but one sleeps in the poller: wake it and let it
		 * take pp, rather than start a thread.  (Descriptors are then
		 * polled by the Ms looking for work and by sysmon until an M
		 * goes idle again.)  This is what keeps a server at
		 * GORTMAXPROCS threads, plus the poller's, however busy. */
		gort_sched.pollhandoff = pp;
		gort_sched.pollhandoff_spinning = (uint8_t)spinning;
		gort_sched_unlock(&gort_sched.lock);
		gort_sched_netpoll_os_break();
		return;
	}
	int64_t id = m ? -1 : mreserve();
	gort_sched_unlock(&gort_sched.lock);
	if (!m) {
		newm(pp, spinning, NULL, id);
		return;
	}
	m->spinning = (uint8_t)spinning;
	m->nextp = pp;
	gort_sched_notewakeup(&m->park);
}

void gort_sched_wakep(void)
{
	if (atomic_loadacq32((volatile uint32_t *)&gort_sched.npidle) == 0)
		return;
	if (atomic_loadacq32((volatile uint32_t *)&gort_sched.nmspinning) != 0 ||
	    !atomic_cas32((volatile uint32_t *)&gort_sched.nmspinning, 0, 1))
		return;
	startm(NULL, 1);
}

/* Hand pp, taken from an M in a system call, to an M that will use it. */
static void handoffp(struct p *pp)
{
	if (!gort_sched_runqempty(pp) || gort_sched.runqsize > 0 || pp->timer0when) {
		startm(pp, 0);
		return;
	}
	if (atomic_load32((volatile uint32_t *)&gort_sched.nmspinning) +
	    atomic_load32((volatile uint32_t *)&gort_sched.npidle) == 0 &&
	    atomic_cas32((volatile uint32_t *)&gort_sched.nmspinning, 0, 1)) {
		startm(pp, 1);
		return;
	}
	/* Idle it -- unless a goroutine reached the global queue since we
	 * looked: its wakep saw no idle P (this one was not idle yet), so
	 * nobody else is coming for it.  The look again is under the lock
	 * that queueing takes, so one of us sees the other.  (This was the
	 * lost wake-up once rescued by checkdead: a goroutine leaving a
	 * handed-off system call queued itself just after the look.) */
	gort_sched_lock(&gort_sched.lock);
	if (gort_sched.runqsize > 0) {
		gort_sched_unlock(&gort_sched.lock);
		startm(pp, 0);
		return;
	}
	pidleput(pp);
	gort_sched_unlock(&gort_sched.lock);
}

/* A timer due at `when` was just added at the root of a heap: make sure
 * somebody will be awake for it.  The M blocked in the poller, if its
 * timeout is later, is woken through the poller's eventfd; with nobody
 * in the poller, an idle M, which on its way back to sleep becomes the
 * poller with this deadline.  (With no idle M and no idle P, every P is
 * busy and runs its timers at its next switch.) */
void gort_sched_timerwake(int64_t when)
{
	int brk = 0;
	struct m *m = NULL;
	gort_sched_lock(&gort_sched.lock);
	if (gort_sched.polling) {
		brk = !gort_sched.polluntil || when < gort_sched.polluntil;
	} else if (gort_sched.npidle > 0) {
		m = mget();
		if (m)
			m->nextp = NULL;
	}
	gort_sched_unlock(&gort_sched.lock);
	if (brk)
		gort_sched_netpoll_os_break();
	if (m)
		gort_sched_notewakeup(&m->park);
}

/* Make the Gs of a poll (still Gwaiting, linked by schedlink) runnable:
 * onto pp's queue if we hold an idle pp, else the global queue.
 * sched.lock held.  Returns how many. */
static int inject_locked(struct g *list, struct p *pp)
{
	int n = 0;
	while (list) {
		struct g *gp = list;
		list = gp->schedlink;
		atomic_storerel32(&gp->status, Grunnable);
		if (pp)
			gort_sched_runqput(pp, gp, 0);
		else
			gort_sched_globrunqput(gp);
		n++;
	}
	return n;
}

static int64_t earliest_timer(void);

/* Park this M until startm gives it a P (m->nextp set), or a timer may be
 * due.  Runs on g0 with no P.
 *
 * One M at a time sleeps in the poller instead of on its note (Go's
 * findRunnable blocking in netpoll): it waits for descriptor events with
 * the earliest timer as its timeout, so one thread watches both.  It
 * does so only if somebody waits on a descriptor or a timer is pending;
 * otherwise it goes on the idle list like any other, and the deadlock
 * check runs.  An M in the poller is not idle: while it waits for
 * descriptors, the outside world may still wake a goroutine, and no
 * deadlock is reported (as in Go).
 *
 * Coming back from the poller with goroutines made ready, the M takes an
 * idle P for them if there is one (and returns with it in m->nextp), or
 * puts them on the global queue for the busy Ps. */
static void stopm(struct m *m, int timers)
{
	gort_sched_lock(&gort_sched.lock);
	int64_t until = timers ? earliest_timer() : 0;
	/* A timer already due with no P to run it on (we looked): the busy
	 * Ps run their own timers at their next switch.  Polling until a
	 * time already past would only spin. */
	if (until && until <= gort_sched_nanotime() && gort_sched.pidle == NULL)
		until = 0;
	if (timers && !gort_sched.polling &&
	    (until || atomic_load32(&gort_sched_netpoll_waiters) > 0)) {
		gort_sched.polling = 1;
		gort_sched.polluntil = until;
		gort_sched_unlock(&gort_sched.lock);
		int64_t ns = -1;
		if (until) {
			ns = until - gort_sched_nanotime();
			if (ns < 0)
				ns = 0;
		}
		struct g *list = gort_sched_netpoll(ns);
		gort_sched_lock(&gort_sched.lock);
		gort_sched.polling = 0;
		gort_sched.polluntil = 0;
		struct p *pp = gort_sched.pollhandoff;   /* startm's, if it woke us for one */
		if (pp) {
			gort_sched.pollhandoff = NULL;
			m->spinning = gort_sched.pollhandoff_spinning;
		} else if (list) {
			pp = pidleget();
		}
		int n = list ? inject_locked(list, pp) : 0;
		m->nextp = pp;
		gort_sched_unlock(&gort_sched.lock);
		if (n > 1 || (n && !m->nextp))
			gort_sched_wakep();
		return;
	}
	mput(m);
	checkdead();
	gort_sched_unlock(&gort_sched.lock);
	gort_sched_notesleep(&m->park);
	noteclear(&m->park);
}

/* --- wired goroutines (Go: LockOSThread; stoplockedm, startlockedm) ----------
 * A G wired to an M (gort_lock_thread) runs on that M only, and the M runs
 * nothing else.  Whenever the G stops running -- it parks, yields, is
 * preempted -- its M goes to g0 (switch_out never hands it another G)
 * and sleeps here, having handed its P to an M that will run the other
 * goroutines.  The G, once runnable, sits on a run queue like any other;
 * the M that dequeues it sees gp->lockedm and, instead of running it,
 * gives that M its own P and goes idle (startlockedm).  So a wired G
 * costs two thread wake-ups per switch, and the rest of the scheduler
 * needs to know nothing of it.  The count of wired Ms asleep keeps the
 * deadlock check right: they are waiting, not running. */
static void stoplockedm(struct m *m)
{
	if (m->p)
		handoffp(releasep(m));
	gort_sched_lock(&gort_sched.lock);
	gort_sched.nmidlelocked++;
	checkdead();
	gort_sched_unlock(&gort_sched.lock);
	gort_sched_notesleep(&m->park);   /* startlockedm counted us awake */
	noteclear(&m->park);
	struct p *pp = m->nextp;
	m->nextp = NULL;
	acquirep(m, pp);
}

/* gp, dequeued by m, is wired to another M: that M runs it, with our P. */
static void startlockedm(struct m *m, struct g *gp)
{
	struct m *lm = gp->lockedm;
	lm->nextp = releasep(m);
	/* Count it awake now, not when it wakes: were we to go idle first,
	 * the deadlock check would see every M asleep and gp runnable. */
	gort_sched_lock(&gort_sched.lock);
	gort_sched.nmidlelocked--;
	gort_sched_unlock(&gort_sched.lock);
	gort_sched_notewakeup(&lm->park);
}

static __attribute__((noreturn)) void stop_forever(struct m *m)
{
	/* The program is over (main returned): this M never runs Go code
	 * again.  It stays out of the deadlock count. */
	gort_sched_lock(&gort_sched.lock);
	gort_sched.mcount--;
	gort_sched_unlock(&gort_sched.lock);
	m->p = NULL;
	struct note never = { 0 };
	for (;;)
		gort_sched_notesleep(&never);
}

/* --- switching ------------------------------------------------------------ */

static void after_switch(struct m *m);

/* The local choice of the next G: every 61st schedule the global queue
 * first (so it cannot starve behind two Gs that keep readying each other),
 * then runnext and the ring, then the global queue. */
/* A share of the global queue (globrunqget; max 0: a fair share), if it
 * looks non-empty. */
static struct g *globget(struct p *pp, int max)
{
	if (atomic_loadacq32((volatile uint32_t *)&gort_sched.runqsize) == 0)
		return NULL;
	gort_sched_lock(&gort_sched.lock);
	struct g *gp = gort_sched_globrunqget(pp, max);
	gort_sched_unlock(&gort_sched.lock);
	return gp;
}

static struct g *pick_local(struct p *pp)
{
	struct g *gp;
	pp->inherit = 0;
	if (__builtin_expect(atomic_loadacq32(&pp->sliceover), 0)) {
		/* sysmon: the slice runnext has been inheriting is over (runq.c) */
		atomic_store32(&pp->sliceover, 0);
		if ((gp = gort_sched_runqget_ring(pp)) != NULL || (gp = globget(pp, 1)) != NULL)
			return gp;
	}
	if (pp->schedtick % 61 == 0 && (gp = globget(pp, 1)) != NULL)
		return gp;
	if ((gp = gort_sched_runqget(pp)) != NULL)
		return gp;
	return globget(pp, 0);
}

/* The goroutines preempted on this M wait for it alone (preempt.c).  They
 * take turns with the P's queues: after a pinned G, a local one if there
 * is one; after a local one, a pinned one. */
static void pinpush(struct m *m, struct g *gp)
{
	gp->schedlink = NULL;
	if (m->pintail)
		m->pintail->schedlink = gp;
	else
		m->pinhead = gp;
	m->pintail = gp;
}

static struct g *pinpop(struct m *m)
{
	struct g *gp = m->pinhead;
	if (gp && !(m->pinhead = gp->schedlink))
		m->pintail = NULL;
	return gp;
}

/* self: the G switching away, if any -- never its own next (a G that is
 * still on its stack cannot be switched to; it goes through g0). */
static struct g *next_on_m(struct m *m, struct p *pp, struct g *self)
{
	struct g *gp = NULL;
	if (m->pinhead && m->pinturn && m->pinhead != self)
		gp = pinpop(m);
	if (!gp && (gp = pick_local(pp)) != NULL) {
		m->pinturn = 1;
		return gp;
	}
	if (!gp && m->pinhead != self)
		gp = pinpop(m);
	m->pinturn = 0;
	return gp;
}

/* The overflow check of every switch (stack.c), its fast path inline. */
#define stackcheck(gp) do { \
	uintptr_t sp_ = (uintptr_t)__builtin_frame_address(0); \
	if (sp_ < (gp)->stack_lo || sp_ > (gp)->stack_hi || \
	    (!(gp)->guarded && (*(const volatile uint64_t *)((gp)->stack_lo - 8) | \
	                        *(const volatile uint64_t *)((gp)->stack_lo - 256)) != 0)) \
		gort_sched_stackcheck((gp), sp_); \
} while (0)

/* A G starts running on pp: a new time slice, unless it inherits the
 * one of the G that readied it (runq.c). */
static inline void count_schedule(struct p *pp)
{
	if (!pp->inherit)
		pp->schedtick++;
	pp->inherit = 0;
}

/* Should this M stop running Gs locally and go to g0?  Yes once the
 * program is over, and when gort_gomaxprocs retired its P. */
static inline int must_leave(struct p *pp)
{
	return !pp || atomic_loadacq32(&gort_sched.exiting) ||
		(uint32_t)pp->id >= atomic_loadacq32(&gort_sched.gomaxprocs);
}

/* Leave the current G, whose m->after is set: run next (or the next local
 * G, or go to g0).  Returns when the G is resumed, perhaps on another M. */
static __attribute__((noinline)) void switch_out(struct g *gp, struct g *next)
{
	struct m *m = gp->m;
	struct p *pp = m->p;
	stackcheck(gp);
	if (TRACING()) {
		uint32_t st = atomic_loadacq32(&gp->status);
		gort_trace_run_end(m, gp, st == Gwaiting ? TRACE_PARK : st == Gdead ? TRACE_EXIT :
			st == Grunnable ? TRACE_YIELD : TRACE_NONE, gp->waitreason);
	}
	if (__builtin_expect(m->lockedg != NULL || m->mexit, 0)) {
		/* A wired M runs its own G only: to g0, to hand the P on. */
		if (next)
			gort_sched_runqput(pp, next, 1);
		next = NULL;
	} else if (!next && !must_leave(pp)) {
		if (!m->pinhead)
			next = pick_local(pp);
		else if (!atomic_loadacq32(&gort_sched.npinwait))
			next = next_on_m(m, pp, gp);
		/* else to g0: another M waits for a P for its pinned ones, and
		 * findrunnable may give it ours */
	}
	if (next && __builtin_expect(next->lockedm != NULL, 0)) {
		/* Wired to another M, which must run it: through g0, where
		 * findrunnable hands it our P first thing. */
		m->lockhandoff = next;
		next = NULL;
	}
	void **fake = gp->status == Gdead ? NULL : &gp->asan_fake_stack;
	gp->m = NULL;
	if (next) {
		m->curg = next;
		next->m = m;
		next->preempt = 0;   /* a request for its last run is stale */
		atomic_storerel32(&next->status, Grunning);
		GOPROF_CHECK(next, GOPROF_RUN);   /* a goroutine profile may want it first */
		count_schedule(pp);
		if (TRACING())
			gort_trace_run_begin(m, next);
		fiber_start(fake, next->stack_lo, next->stack_hi);
		gort_sched_ctxswitch(&gp->sp, next->sp);
	} else {
		m->curg = NULL;
		if (pp)
			pp->inherit = 0;
		fiber_start(fake, m->g0_lo, m->g0_hi);
		gort_sched_ctxswitch(&gp->sp, m->g0sp);
	}
	/* Running again: the saved context is stale from here until the next
	 * switch saves a new one, and says so (the goroutine profile reads a
	 * parked G's context only once it is there again). */
	gp->sp = NULL;
	fiber_finish(gp->asan_fake_stack);
	after_switch(getm_fresh());
}

/* Run gp on this M, from g0; returns when gp goes to g0. */
static void execute(struct m *m, struct g *gp)
{
	m->curg = gp;
	gp->m = m;
	gp->preempt = 0;
	atomic_storerel32(&gp->status, Grunning);
	GOPROF_CHECK(gp, GOPROF_RUN);
	count_schedule(m->p);
	if (TRACING())
		gort_trace_run_begin(m, gp);
	fiber_start(&m->asan_g0_fake, gp->stack_lo, gp->stack_hi);
	gort_sched_ctxswitch(&m->g0sp, gp->sp);
	fiber_finish(m->asan_g0_fake);
	after_switch(m);
}

static void checktimers(struct p *pp)
{
	uint64_t w = pp->timer0when;
	if (w && (int64_t)w <= gort_sched_nanotime())
		gort_sched_runtimers(pp, gort_sched_nanotime());
}

/* The work the previous G left (see sched.h), then due timers. */
static void after_switch(struct m *m)
{
	void (*fn)(struct m *, void *) = m->after.fn;
	if (fn) {
		m->after.fn = NULL;
		fn(m, m->after.arg);
	}
	if (m->p && m->p->timer0when)
		checktimers(m->p);
}

static void after_unlock(struct m *m, void *lock)
{
	(void)m;
	gort_sched_unlock(lock);
}

void gort_sched_after_spinunlock(struct m *m, void *lock)
{
	(void)m;
	spinlock_unlock(lock);
}

static void after_nothing(struct m *m, void *arg)
{
	(void)m, (void)arg;
}

/* GORTDEBUG=requeuedelay=N (debug runtime): a yielding goroutine is
 * requeued N us late, so that an M looking for work meanwhile finds
 * nothing and sleeps (tests/test_sched.c, stranded_behind_raw_call). */
static uint32_t requeue_delay_us;

static void after_requeue(struct m *m, void *gp)
{
	if (GORT_DEBUG_RUNTIME && requeue_delay_us)
		usleep(requeue_delay_us);
	gort_sched_runqput(m->p, gp, 0);
}

static void after_free(struct m *m, void *gp)
{
	gfput(m->p, gp);
}

/* preempt_yield's: gp to the global queue's tail, and an idle P, if
 * any, to come for it while this one runs the next. */
static void after_globrunqput(struct m *m, void *gp)
{
	(void)m;
	gort_sched_lock(&gort_sched.lock);
	gort_sched_globrunqput(gp);
	gort_sched_unlock(&gort_sched.lock);
	gort_sched_wakep();
}

/* The end of gort_syscall_exit's slow path, on g0 (Go: exitsyscall0).
 * One hold of sched.lock either takes an idle P or queues gp globally.
 * An M giving its P back checks the global queue under the same lock
 * (findrunnable), so one of the two sees the other: the P freed after
 * our first look, or gp on the queue.  Done in two holds, as it once
 * was, gp could be queued just after the last P went idle, by an M that
 * was no longer looking -- a lost wake-up, every M asleep and gp
 * runnable, seen under qemu. */
static void after_syscall_exit(struct m *m, void *arg)
{
	struct g *gp = arg;
	gort_sched_lock(&gort_sched.lock);
	struct p *pp = pidleget();
	if (!pp)
		gort_sched_globrunqput(gp);
	gort_sched_unlock(&gort_sched.lock);
	if (pp) {
		acquirep(m, pp);
		gort_sched_runqput(pp, gp, 1);   /* findrunnable runs it next */
	}
}

/* --- park and ready (Go: gopark, goready) --------------------------------- */

void gort_sched_park_fn(void (*fn)(struct m *, void *), void *arg, enum waitreason why)
{
	struct g *gp = getg();
	struct m *m = gp->m;
	if (__builtin_expect(m->oldp != NULL, 0))
		gort_sched_syscall_misuse(why == wrSemacquire
			? "a gort_mutex, gort_rwmutex or gort_waitgroup wait" : gort_sched_waitreasons[why]);
	gp->waitreason = (uint8_t)why;
	gp->waitsince = atomic_loadacq32(&coarse_sec);
	/* release: whoever unlocks after the switch publishes it fully */
	atomic_storerel32(&gp->status, Gwaiting);
	m->after.fn = fn ? fn : after_nothing;
	m->after.arg = arg;
	switch_out(gp, NULL);
}

void gort_sched_park(struct rtlock *unlock, enum waitreason why)
{
	gort_sched_park_fn(unlock ? after_unlock : NULL, unlock, why);
}

void gort_sched_readyq(struct g *gp, int next)
{
	/* Only one waker can get here for one park -- it holds the lock of
	 * whatever gp waits on, or won gp's select -- so a plain check and a
	 * release store do what Go's casgstatus does. */
	uint32_t s = atomic_loadacq32(&gp->status);
	if (s != Gwaiting)
		gort_runtime_throwf("bad g->status in ready: %u", s);
	atomic_storerel32(&gp->status, Grunnable);
	struct m *m = gort_sched_m;
	if (m && TRACING())
		gort_trace_event(m, TRACE_READY, gp->goid, -1);
	if (m && m->p) {
		/* No fence between this put and wakep's loads: if a spinning M
		 * gives up without seeing gp, gp is still on our own P's queue,
		 * and we are running; it waits for us, not for nobody -- until
		 * we block, yield or are preempted (at most a time slice).  A
		 * missed wake-up costs parallelism, not progress. */
		gort_sched_runqput(m->p, gp, next);
	} else {
		gort_sched_lock(&gort_sched.lock);
		gort_sched_globrunqput(gp);
		gort_sched_unlock(&gort_sched.lock);
	}
	gort_sched_wakep();
}

void gort_sched_ready(struct g *gp)
{
	gort_sched_readyq(gp, 1);
}

/* --- finding work (on g0) ---------------------------------------------------- */

static void run_all_timers(struct p *mine)
{
	uint32_t n = atomic_load32(&gort_sched.gomaxprocs);
	int64_t now = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct p *pp = gort_sched.allp[i];
		uint64_t w = pp ? pp->timer0when : 0;
		if (!w)
			continue;
		if (!now)
			now = gort_sched_nanotime();
		if ((int64_t)w <= now)
			gort_sched_runtimers(pp, now);
	}
	(void)mine;
}

static struct g *stealwork(struct p *pp)
{
	uint32_t n = atomic_load32(&gort_sched.gomaxprocs);
	for (int round = 0; round < 4; round++) {
		uint32_t start = gort_sched_fastrand() % n;
		for (uint32_t k = 0; k < n; k++) {
			struct p *victim = gort_sched.allp[(start + k) % n];
			if (victim == pp || !victim)
				continue;
			if (round == 3 && victim->timer0when) {
				/* Their timers may ready Gs, onto our P. */
				int64_t now = gort_sched_nanotime();
				if ((int64_t)victim->timer0when <= now)
					gort_sched_runtimers(victim, now);
				struct g *gp = gort_sched_runqget(pp);
				if (gp)
					return gp;
			}
			if (atomic_load32(&victim->status) == Pidle && round < 3)
				continue;
			struct g *gp = gort_sched_runqsteal(pp, victim, round == 3);
			if (gp) {
				if (TRACING())
					gort_trace_event(pp->m, TRACE_STEAL, gp->goid, victim->id);
				return gp;
			}
		}
	}
	return NULL;
}

static int64_t earliest_timer(void)
{
	uint32_t n = atomic_load32(&gort_sched.gomaxprocs);
	int64_t w = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct p *pp = gort_sched.allp[i];
		int64_t t = pp ? (int64_t)pp->timer0when : 0;
		if (t && (!w || t < w))
			w = t;
	}
	return w;
}

static void resetspinning(struct m *m)
{
	m->spinning = 0;
	if (atomic_add32((volatile uint32_t *)&gort_sched.nmspinning, -1) == 0)
		gort_sched_wakep();   /* we found work: maybe there is more */
}

static void retire(struct m *m)
{
	struct p *pp = m->p;
	struct g *gp;
	gort_sched_lock(&gort_sched.lock);
	while ((gp = gort_sched_runqget(pp)) != NULL)
		gort_sched_globrunqput(gp);
	gort_sched_movetimers(pp, gort_sched.allp[0]);
	releasep(m);
	atomic_store32(&pp->status, Pdead);
	gort_sched_unlock(&gort_sched.lock);
	/* Its Gs are on the global queue now: make sure a P comes for them. */
	gort_sched_wakep();
}

static struct g *findrunnable(struct m *m)
{
	struct g *gp;
	struct p *pp;
top:
	if (atomic_load32(&gort_sched.exiting))
		stop_forever(m);
	if (__builtin_expect(m->lockhandoff != NULL, 0)) {
		gp = m->lockhandoff;   /* switch_out's: wired to another M */
		m->lockhandoff = NULL;
		startlockedm(m, gp);
	}
	if (m->pinhead) {
		/* Goroutines preempted here wait for this M alone (the thread
		 * rule, preempt.c): get a P for them, whatever it takes,
		 * rather than go idle.  If another M waits so for a P, and we
		 * have only our own pinned ones to run, we take turns: ours
		 * goes to it, and we wait in line -- else a loop pinned here
		 * would starve the pinned goroutines of every other M. */
		if (m->p && atomic_load32(&gort_sched.npinwait) > 0 && gort_sched_runqempty(m->p) &&
		    atomic_load32((volatile uint32_t *)&gort_sched.runqsize) == 0) {
			gort_sched_lock(&gort_sched.lock);
			if (gort_sched.pinwait)
				pidleput(releasep(m));   /* to the first in line */
			gort_sched_unlock(&gort_sched.lock);
		}
		while (!m->p) {
			gort_sched_lock(&gort_sched.lock);
			pp = pidleget();
			if (!pp) {
				/* in line, at its end: pidleput hands us one */
				struct m **end = &gort_sched.pinwait;
				while (*end)
					end = &(*end)->link;
				m->link = NULL;
				*end = m;
				atomic_add32(&gort_sched.npinwait, 1);
			}
			gort_sched_unlock(&gort_sched.lock);
			if (pp) {
				acquirep(m, pp);
				break;
			}
			gort_sched_notesleep(&m->park);
			noteclear(&m->park);
			pp = m->nextp;
			m->nextp = NULL;
			acquirep(m, pp);
		}
		if (m->p->timer0when)
			checktimers(m->p);
		gp = next_on_m(m, m->p, NULL);
		goto found;
	}
	pp = m->p;
	if (!pp)
		goto stop;
	if ((uint32_t)pp->id >= atomic_load32(&gort_sched.gomaxprocs)) {
		retire(m);
		goto stop;
	}
	if (pp->timer0when)
		checktimers(pp);
	if ((gp = pick_local(pp)) != NULL)
		goto found;

	int32_t busy = (int32_t)atomic_load32(&gort_sched.gomaxprocs) -
		(int32_t)atomic_load32((volatile uint32_t *)&gort_sched.npidle);
	if (m->spinning || 2 * (int32_t)atomic_load32((volatile uint32_t *)&gort_sched.nmspinning) < busy) {
		if (!m->spinning) {
			m->spinning = 1;
			atomic_add32((volatile uint32_t *)&gort_sched.nmspinning, 1);
		}
		if ((gp = stealwork(pp)) != NULL)
			goto found;
	}

	/* The poller, without blocking, unless an M is blocked in it already
	 * (it gets the events first).  Go does this before stealing; gort
	 * after, because its Ps hand goroutines to each other directly and
	 * reach findrunnable only when their queues are empty. */
	if (atomic_load32(&gort_sched_netpoll_waiters) > 0 && !atomic_load32(&gort_sched.polling)) {
		struct g *list = gort_sched_netpoll(0);
		if (list) {
			gp = list;
			atomic_storerel32(&gp->status, Grunnable);
			if (list->schedlink) {
				gort_sched_lock(&gort_sched.lock);
				inject_locked(list->schedlink, pp);
				gort_sched_unlock(&gort_sched.lock);
				gort_sched_wakep();
			}
			goto found;
		}
	}

	/* Nothing: give the P back. */
	gort_sched_lock(&gort_sched.lock);
	if (gort_sched.runqsize > 0) {
		gp = gort_sched_globrunqget(pp, 0);
		gort_sched_unlock(&gort_sched.lock);
		goto found;
	}
	releasep(m);
	pidleput(pp);
	gort_sched_unlock(&gort_sched.lock);

	if (m->spinning) {
		m->spinning = 0;
		if ((int32_t)atomic_add32((volatile uint32_t *)&gort_sched.nmspinning, -1) < 0)
			gort_runtime_throw("findrunnable: negative nmspinning");
		/* Look once more, now that nobody can count on us spinning. */
		int work = atomic_load32((volatile uint32_t *)&gort_sched.runqsize) > 0;
		uint32_t n = atomic_load32(&gort_sched.gomaxprocs);
		for (uint32_t i = 0; i < n && !work; i++)
			work = gort_sched.allp[i] && !gort_sched_runqempty(gort_sched.allp[i]);
		if (work) {
			gort_sched_lock(&gort_sched.lock);
			pp = pidleget();
			gort_sched_unlock(&gort_sched.lock);
			if (pp) {
				acquirep(m, pp);
				m->spinning = 1;
				atomic_add32((volatile uint32_t *)&gort_sched.nmspinning, 1);
				goto top;
			}
		}
	}

stop:
	if (m->spinning) {
		/* A spinner that lost its P (retired under it) stops spinning:
		 * a count nobody backs would keep wakep from ever waking anyone. */
		m->spinning = 0;
		atomic_add32((volatile uint32_t *)&gort_sched.nmspinning, -1);
		gort_sched_wakep();
	}
	stopm(m, 1);
	if (m->nextp) {
		pp = m->nextp;
		m->nextp = NULL;
		acquirep(m, pp);
		goto top;
	}
	/* Woken for timers: run them if we can get a P. */
	gort_sched_lock(&gort_sched.lock);
	pp = pidleget();
	gort_sched_unlock(&gort_sched.lock);
	if (pp) {
		acquirep(m, pp);
		run_all_timers(pp);
	}
	goto top;

found:
	if (m->spinning)
		resetspinning(m);
	if (__builtin_expect(gp->lockedm != NULL, 0)) {
		/* Wired to another thread: give it our P to run gp on. */
		startlockedm(m, gp);
		goto top;
	}
	return gp;
}

/* The scheduler loop of an M, on g0, until its wired G exits. */
static void schedule(struct m *m)
{
	while (!m->mexit) {
		if (m->lockedg) {
			stoplockedm(m);
			execute(m, m->lockedg);
		} else {
			execute(m, findrunnable(m));
		}
	}
}

/* --- threads ----------------------------------------------------------------- */

static void minit(struct m *m)
{
	m->tid = (int)syscall(SYS_gettid);
	pthread_attr_t a;
	void *addr;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		if (pthread_attr_getstack(&a, &addr, &size) == 0) {
			m->g0_lo = (uintptr_t)addr;
			m->g0_hi = (uintptr_t)addr + size;
		}
		pthread_attr_destroy(&a);
	}
	gort_runtime_minit(&m->sigstack, &m->sigstack_size);
}

/* The end of an M whose wired G exited (Go: mexit).  The thread may hold
 * state that G left on it -- a changed namespace, a signal mask, __thread
 * values -- so it runs nothing more: its P goes to another M and
 * mstart returns, ending the thread.  The struct m stays on allm (the
 * profiler and the dumps walk it without locks), never to run again. */
static void mexit(struct m *m)
{
	handoffp(releasep(m));
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);   /* no handler on this stack again */
	stack_t ss = { .ss_flags = SS_DISABLE };
	if (m->sigstack && sigaltstack(&ss, NULL) == 0)
		munmap(m->sigstack, m->sigstack_size);
	gort_sched_lock(&gort_sched.lock);
	gort_sched.mcount--;
	checkdead();
	gort_sched_unlock(&gort_sched.lock);
}

static void *mstart(void *arg)
{
	struct m *m = arg;
	gort_sched_m = m;
	m->thread = pthread_self();
	minit(m);
	gort_trace_minit(m);
	if (gort_sched_hooks.minit)
		gort_sched_hooks.minit(m);   /* the profiler's timer for this M */
	/* A wired M's P comes from startlockedm, for stoplockedm to take
	 * (it may come before this thread runs at all): not ours to take. */
	if (m->nextp && !m->lockedg) {
		struct p *pp = m->nextp;
		m->nextp = NULL;
		acquirep(m, pp);
	}
	schedule(m);
	mexit(m);
	return NULL;
}

/* --- sysmon: the M without a P (Go: sysmon) ------------------------------------
 * Wakes every 20 us to 10 ms, and takes back the P of any M that has been
 * in a system call for over 20 us, so that a blocked syscall never holds
 * up the goroutines waiting behind it.  It also keeps coarse_sec, the
 * clock parked goroutines are stamped with. */

static struct {
	int64_t when;
	uint32_t tick;
} sysmon_seen[GORT_MAXPROCS_LIMIT];
static volatile uint32_t sysmon_delay_us;
static struct note sysmon_note;

static void sysmon_wake(void)   /* sched.lock held */
{
	sysmon_deep = 0;
	gort_sched_notetrywakeup(&sysmon_note);
}

/* Is every P idle, and may sysmon sleep until one is taken?  Go's sysmon
 * does the same (sched.sysmonwait): with every P idle, nothing runs that
 * could need preempting, and no P sits in a system call to retake, so
 * its 10 ms ticks would only wake the machine for nothing -- an idle
 * program would use CPU.  pidleget, where the first P leaves the idle
 * list, wakes it; a timer is the poller M's business, which takes a P
 * through pidleget too.  sched.lock makes the check and the flag one
 * step, so that no P can be taken in between unseen.  Not with
 * schedtrace, whose lines must keep coming. */
static int sysmon_sleep_deep(void)
{
	gort_sched_lock(&gort_sched.lock);
	int deep = !atomic_load32(&gort_sched.exiting) && !gort_sched.pinwait &&
		gort_sched.npidle == (int32_t)atomic_load32(&gort_sched.gomaxprocs);
	if (deep)
		sysmon_deep = 1;
	gort_sched_unlock(&gort_sched.lock);
	return deep;
}

/* The time slice (Go: forcePreemptNS): a goroutine that has held its P
 * this long without a switch is asked to yield. */
#define TIMESLICE 10000000

static struct {
	uint32_t tick;
	int64_t when;
} preempt_seen[GORT_MAXPROCS_LIMIT];

static int any_running(void)
{
	uint32_t np = atomic_load32(&gort_sched.gomaxprocs);
	for (uint32_t i = 0; i < np; i++)
		if (gort_sched.allp[i] && atomic_load32(&gort_sched.allp[i]->status) == Prunning)
			return 1;
	return 0;
}

/* Returns 1 if some goroutine is overdue: sysmon then looks again soon,
 * not after its idle sleep. */
static int preempt_long_runners(int64_t now)
{
	int pending = 0, stranded = 0;
	uint32_t np = atomic_load32(&gort_sched.gomaxprocs);
	for (uint32_t i = 0; i < np; i++) {
		struct p *pp = gort_sched.allp[i];
		if (!pp || atomic_load32(&pp->status) != Prunning)
			continue;
		uint32_t t = pp->schedtick;   /* racy read: a change is all we look for */
		if (preempt_seen[i].tick != t) {
			preempt_seen[i].tick = t;
			preempt_seen[i].when = now;
			continue;
		}
		if (now - preempt_seen[i].when < TIMESLICE)
			continue;
		/* Only for somebody: a goroutine alone with nothing else to run
		 * -- nothing queued here or globally, no timer of its P due, no
		 * goroutine pinned to its M by an earlier preemption -- keeps
		 * its P (Go preempts it anyway; here a preemption costs a
		 * signal and two trips through the kernel).  The pinned ones
		 * count: they can run nowhere else, and a loop that never
		 * yields would starve them for good. */
		struct m *m = pp->m;
		uint64_t w = pp->timer0when;
		if (gort_sched_runqempty(pp) && !atomic_load32((volatile uint32_t *)&gort_sched.runqsize) &&
		    !(w && (int64_t)w <= now) && !(m && m->pinhead) &&
		    !atomic_load32(&gort_sched.npinwait))
			continue;
		struct g *gp = m ? m->curg : NULL;
		atomic_store32(&pp->sliceover, 1);   /* for a chain of inherited slices */
		if (gp && atomic_load32(&gp->status) == Grunning) {
			gort_sched_preemptone(m, gp);
			pending = 1;
		}
		if (!gort_sched_runqempty(pp))
			stranded = 1;
	}
	/* The request may be refused for as long as the runner likes: a
	 * goroutine in a blocking call gort does not know of (a raw read(2))
	 * is in libc, where preempt.c never stops it.  Goroutines queued on
	 * its P would wait with it -- while another P idles, its M asleep,
	 * because its last look for work came a moment before they were
	 * queued (gort_yield requeues without waking anyone; so does Go's
	 * Gosched, whose runner Go can always take the P from).  So with
	 * work queued behind an overdue runner, wake an idle P to steal it;
	 * wakep does nothing when none is idle or one is already looking. */
	if (stranded)
		gort_sched_wakep();
	return pending;
}

/* GORTDEBUG=retakedelay=N (debug runtime): sysmon sleeps N us between
 * taking a system call's P and handing it on, holding the window the
 * deadlock check must see through open (tests/test_sched.c). */
static uint32_t retake_delay_us;

static int retake(int64_t now)
{
	int n = 0;
	uint32_t np = atomic_load32(&gort_sched.gomaxprocs);
	for (uint32_t i = 0; i < np; i++) {
		struct p *pp = gort_sched.allp[i];
		if (!pp || atomic_load32(&pp->status) != Psyscall)
			continue;
		uint32_t t = atomic_load32(&pp->syscalltick);
		if (sysmon_seen[i].tick != t) {
			sysmon_seen[i].tick = t;
			sysmon_seen[i].when = now;
			continue;
		}
		if (now - sysmon_seen[i].when < 20000)
			continue;
		/* While the P is in our hands it is nobody's: neither held nor
		 * idle.  Count sysmon as a running M meanwhile (Go does the
		 * same with nmidlelocked), or the M coming back from the call,
		 * finding no P and going idle, would see every M idle and its
		 * goroutine queued, and call it a deadlock.  Then look for a
		 * real one that began in that time. */
		gort_sched_lock(&gort_sched.lock);
		gort_sched.nmidlelocked--;
		gort_sched_unlock(&gort_sched.lock);
		if (atomic_cas32(&pp->status, Psyscall, Pidle)) {
			if (GORT_DEBUG_RUNTIME && retake_delay_us)
				usleep(retake_delay_us);
			handoffp(pp);
			n++;
		}
		gort_sched_lock(&gort_sched.lock);
		gort_sched.nmidlelocked++;
		checkdead();
		gort_sched_unlock(&gort_sched.lock);
	}
	return n;
}

/* GORTDEBUG=schedtrace=N: Go's schedtrace, one line every N ms; with
 * scheddetail=1, every P, M and G too.  Read without locks, as Go does:
 * a snapshot that may be a little inconsistent, never a stall. */
static void schedtrace(int64_t now, int64_t start, int detail)
{
	uint32_t np = atomic_loadacq32(&gort_sched.gomaxprocs);
	int nm = 0, idle = 0;
	for (struct m *m = atomic_loadp((void *const volatile *)&gort_sched.allm); m; m = m->alllink)
		nm++;
	idle = gort_sched.nmidle;
	char line[512];
	size_t n = gort_runtime_fmt(line, sizeof line,
		"SCHED %lldms: gomaxprocs=%u idleprocs=%d threads=%d spinningthreads=%d idlethreads=%d "
		"runqueue=%d [", (long long)((now - start) / 1000000), np,
		(int)atomic_loadacq32((volatile uint32_t *)&gort_sched.npidle), nm,
		(int)atomic_loadacq32((volatile uint32_t *)&gort_sched.nmspinning), idle,
		(int)atomic_loadacq32((volatile uint32_t *)&gort_sched.runqsize));
	for (uint32_t i = 0; i < np && n < sizeof line - 16; i++) {
		struct p *pp = gort_sched.allp[i];
		uint32_t q = pp ? atomic_loadacq32(&pp->runqtail) - atomic_loadacq32(&pp->runqhead) : 0;
		n += gort_runtime_fmt(line + n, sizeof line - n, i ? " %u" : "%u", q);
	}
	gort_runtime_printf("%s]\n", line);
	if (!detail)
		return;
	for (uint32_t i = 0; i < gort_sched.nallp_max; i++) {
		struct p *pp = gort_sched.allp[i];
		if (!pp)
			continue;
		struct m *m = pp->m;
		gort_runtime_printf("  P%d: status=%u schedtick=%u syscalltick=%u m=%lld runqsize=%u "
			"gfreecnt=%d timerslen=%d\n", pp->id, atomic_loadacq32(&pp->status), pp->schedtick,
			atomic_loadacq32(&pp->syscalltick), m ? (long long)m->id : -1LL,
			atomic_loadacq32(&pp->runqtail) - atomic_loadacq32(&pp->runqhead), pp->ngfree, pp->ntimers);
	}
	for (struct m *m = atomic_loadp((void *const volatile *)&gort_sched.allm); m; m = m->alllink) {
		struct p *pp = m->p;
		struct g *gp = m->curg;
		gort_runtime_printf("  M%lld: p=%d curg=%lld spinning=%d tid=%d\n", (long long)m->id,
			pp ? pp->id : -1, gp ? (long long)gp->goid : -1LL, m->spinning, m->tid);
	}
	for (struct g *gp = gort_sched.allgs; gp; gp = gp->alllink) {
		uint32_t st = atomic_loadacq32(&gp->status);
		if (st == Gdead || st == Gidle)
			continue;
		struct m *m = gp->m;
		gort_runtime_printf("  G%llu: status=%u(%s) m=%lld\n", (unsigned long long)gp->goid, st,
			st == Gwaiting && gp->waitreason < wrCount ? gort_sched_waitreasons[gp->waitreason] : "",
			m ? (long long)m->id : -1LL);
	}
}

static void *sysmon(void *arg)
{
	(void)arg;
	uint32_t idle = 0, delay = 20;
	int64_t trace_every = (int64_t)gort_runtime_debug("schedtrace", 0) * 1000000;
	if (GORT_DEBUG_RUNTIME)
		retake_delay_us = (uint32_t)gort_runtime_debug("retakedelay", 0),
		requeue_delay_us = (uint32_t)gort_runtime_debug("requeuedelay", 0);
	int64_t start = gort_sched_nanotime(), next_trace = start + trace_every;
	for (;;) {
		if (trace_every <= 0 && idle > 50 && sysmon_sleep_deep()) {
			/* Descriptors' lost-registration checks still want a
			 * look now and then (netpoll.c); otherwise a minute at a
			 * time, as long as nothing happens. */
			int64_t ns = atomic_load32(&gort_sched_netpoll_waiters) > 0 ? 1000000000 : 60000000000;
			gort_sched_notetsleep(&sysmon_note, ns);
			gort_sched_lock(&gort_sched.lock);
			sysmon_deep = 0;
			noteclear(&sysmon_note);
			gort_sched_unlock(&gort_sched.lock);
			idle = 0, delay = 20;
		}
		atomic_store32(&sysmon_delay_us, delay);
		gort_sched_notetsleep(&sysmon_note, (int64_t)delay * 1000);
		noteclear(&sysmon_note);
		atomic_store32(&sysmon_delay_us, 0);
		int64_t now = gort_sched_nanotime();
		atomic_store32(&coarse_sec, (uint32_t)(now / 1000000000));
		if (trace_every > 0 && now >= next_trace) {
			schedtrace(now, start, gort_runtime_debug("scheddetail", 0));
			next_trace = now + trace_every;
		}
		/* Nobody has polled for 10 ms (every P busy, none idle to poll):
		 * poll for them, and queue what is ready globally. */
		if (atomic_load32(&gort_sched_netpoll_waiters) > 0 && !atomic_load32(&gort_sched.polling) &&
		    now - (int64_t)atomic_load64((volatile uint64_t *)&gort_sched_netpoll_lastpoll) > 10000000) {
			struct g *list = gort_sched_netpoll(0);
			if (list) {
				gort_sched_lock(&gort_sched.lock);
				inject_locked(list, NULL);
				gort_sched_unlock(&gort_sched.lock);
				gort_sched_wakep();
			}
		}
		gort_sched_netpoll_check(now);
		int overdue = !atomic_load32(&gort_sched.exiting) && preempt_long_runners(now);
		if (atomic_load32(&gort_sched.exiting))
			delay = 10000;
		else if (overdue)
			idle = 0, delay = 1000;   /* a refused preemption is retried within 1 ms */
		else if (delay > 2000 && any_running())
			delay = 2000;   /* a goroutine's 10 ms slice is seen ending within 2 ms */
		else if (retake(now))
			idle = 0, delay = 20;
		else if (++idle > 50 && delay < 10000)
			delay = delay * 2 > 10000 ? 10000 : delay * 2;
		/* schedtrace must not wait for a long idle sleep */
		if (trace_every > 0 && delay > (uint32_t)(trace_every / 1000))
			delay = (uint32_t)(trace_every / 1000);
	}
	return NULL;
}

/* --- system calls (Go: entersyscall, exitsyscall) ---------------------------- */

__attribute__((noreturn, cold)) void gort_sched_syscall_misuse(const char *what)
{
	gort_runtime_panicf("%s between gort_syscall_enter and gort_syscall_exit (a goroutine in a "
		"system call has no processor: call gort_syscall_exit first)", what);
}

void gort_syscall_enter(void)
{
	struct g *gp = gort_sched_mustgetg("gort_syscall_enter");
	struct m *m = gp->m;
	if (m->oldp)
		gort_runtime_panic("gort_syscall_enter called twice without gort_syscall_exit");
	struct p *pp = m->p;
	/* Where the caller is, for the goroutine profile: its frames stay as
	 * they are until gort_syscall_exit, which waits if they are being
	 * walked. */
	if (!gort_runtime_frame_returning(&m->syscallframe, gp->stack_lo, gp->stack_hi))
		m->syscallframe.pc = 0;
	atomic_store32(&gp->status, Gsyscall);
	atomic_add32(&pp->syscalltick, 1);
	if (TRACING())
		gort_trace_event(m, TRACE_SYSCALL, gp->goid, pp->id);
	releasep(m);
	m->oldp = pp;
	atomic_store32(&pp->status, Psyscall);
	/* A sysmon asleep for long would leave the P stuck: wake it. */
	if (atomic_load32(&sysmon_delay_us) > 1000)
		gort_sched_notetrywakeup(&sysmon_note);
}

void gort_syscall_exit(void)
{
	struct g *gp = getg();
	if (!gp || gp->status != Gsyscall)
		gort_runtime_panic("gort_syscall_exit without gort_syscall_enter");
	struct m *m = gp->m;
	struct p *pp = m->oldp;
	m->oldp = NULL;
	if (TRACING())
		gort_trace_event(m, TRACE_SYSCALL_EXIT, gp->goid, pp->id);
	atomic_add32(&pp->syscalltick, 1);
	if (atomic_cas32(&pp->status, Psyscall, Prunning)) {
		m->p = pp;         /* the fast path: nobody took our P */
		pp->m = m;
		atomic_store32(&gp->status, Grunning);
		GOPROF_CHECK(gp, GOPROF_SYSEXIT);
		return;
	}
	gort_sched_lock(&gort_sched.lock);
	pp = pidleget();
	gort_sched_unlock(&gort_sched.lock);
	if (pp) {
		acquirep(m, pp);
		atomic_store32(&gp->status, Grunning);
		GOPROF_CHECK(gp, GOPROF_SYSEXIT);
		return;
	}
	/* No P anywhere: off our stack, look once more and else queue
	 * ourselves globally and let this M sleep. */
	atomic_store32(&gp->status, Grunnable);
	GOPROF_CHECK(gp, GOPROF_SYSEXIT);   /* not while a profile walks it */
	m->after.fn = after_syscall_exit;
	m->after.arg = gp;
	switch_out(gp, NULL);
}

/* --- spawning and exiting (Go: newproc, goexit) -------------------------------- */

static __attribute__((noreturn)) void goexit(void);

/* Where every goroutine starts (called by gort_sched_gostart). */
__attribute__((noreturn)) void gort_sched_gofirst(void *fn, void *arg)
{
	fiber_finish(NULL);
	struct m *m = getm_fresh();
	m->curg->sp = NULL;   /* running: see switch_out */
	after_switch(m);
	((void (*)(void *))fn)(arg);
	goexit();
}

static void ginit(struct g *gp, void (*fn)(void *), void *arg, uint64_t goid)
{
#ifdef GORT_ASAN
	/* Frames of the previous life may have left poisoned redzones. */
	__asan_unpoison_memory_region((void *)gp->stack_lo, gp->stack_hi - gp->stack_lo);
#endif
	gp->goid = goid;
	gp->fn = fn;
	gp->arg = arg;
	gp->waitreason = wrNone;
	gp->waiting = NULL;
	gp->param = NULL;
	gp->selectdone = 0;
	gp->asan_fake_stack = NULL;
	gp->labels = NULL;
	gp->sp = gort_sched_ctxinit(gp->stack_hi, (void (*)(void *, void *))gort_sched_gofirst, (void *)fn, arg);
}

/* The default stack (GORTSTACK), decided by whichever comes first, the
 * first gort_go or gort_main: goroutines started before gort_main get the
 * same stacks as the ones started after. */
static pthread_once_t default_stack_once = PTHREAD_ONCE_INIT;

static void default_stack_init(void)
{
	size_t kb = 64;
	const char *s = getenv("GORTSTACK");
	if (s && *s) {
		char *end;
		long v = strtol(s, &end, 10);
		if ((*end == '\0' || strcmp(end, "k") == 0 || strcmp(end, "K") == 0) && v >= 16 &&
		    (unsigned long)v <= GORT_STACK_MAX >> 10)
			kb = (size_t)v;
		else
			gort_runtime_printf("gort: ignoring GORTSTACK=%s: want kilobytes, 16 to %zu\n", s,
				(size_t)GORT_STACK_MAX >> 10);
	}
	gort_sched.default_stack = gort_sched_stackround(kb * 1024);
}

static size_t default_stack(void)
{
	pthread_once(&default_stack_once, default_stack_init);
	return gort_sched.default_stack;
}

/* *goid: the id to give, or 0 for the next one; set to the id given.  The
 * caller must not read it back from the G: once the G is on a run queue it
 * may run, exit and be reused by another gort_go before the caller looks. */
static struct g *newproc1(void (*fn)(void *), void *arg, size_t stack_size, uintptr_t gopc,
	uint64_t *goid, int inherit)
{
	if (!fn)
		gort_runtime_panic("gort_go of nil func value");
	struct m *m = gort_sched_m;
	struct p *pp = m ? m->p : NULL;
	size_t size = stack_size ? gort_sched_stackround(stack_size) : default_stack();
	struct g *gp = gfget(pp, size);
	if (!gp) {
		gp = gort_sched_stackalloc(size);
		if (!gp)
			gort_runtime_throwf("out of memory allocating a %zu-byte goroutine stack", size);
		allgadd(gp);
	}
	if (!*goid)
		*goid = newgoid(pp);
	ginit(gp, fn, arg, *goid);
	gp->gopc = gopc;
	/* Made while a goroutine profile is being taken: not part of it. */
	uint32_t pg = atomic_loadacq32(&gort_sched_goprof_gen);
	if (__builtin_expect(pg != 0, 0))
		atomic_store32(&gp->profgen, pg << 1);
	struct g *parent = m ? m->curg : NULL;
	if (parent) {
		gp->labels = parent->labels;   /* profiler labels are inherited */
		/* and so are the values of inherited keys, by a gort_go (the
		 * runtime's own spawns have no parent: m->curg is a bystander) */
		if (__builtin_expect(parent->locals != NULL, 0) && inherit && parent->locals->ninherit) {
			gort_sched_locals_inherit(parent, gp);
			m = gort_sched_m;   /* a copy function may have blocked, and moved us */
			pp = m->p;
		}
	}
	atomic_storerel32(&gp->status, Grunnable);   /* published by the queue */
	if (pp) {
		gort_sched_runqput(pp, gp, 1);
		if (atomic_loadacq32(&started))
			gort_sched_wakep();
	} else {
		gort_sched_lock(&gort_sched.lock);
		gort_sched_globrunqput(gp);
		gort_sched_unlock(&gort_sched.lock);
		if (atomic_loadacq32(&started))
			gort_sched_wakep();
	}
	return gp;
}

struct g *gort_sched_newproc(void (*fn)(void *), void *arg, size_t stack_size, uintptr_t gopc)
{
	uint64_t goid = 0;
	return newproc1(fn, arg, stack_size, gopc, &goid, 0);
}

static __attribute__((noreturn)) void goexit(void)
{
	struct g *gp = getg();
	/* Goroutine-local values' destructors, on this G's stack: they may
	 * block, so the M is read after. */
	if (__builtin_expect(gp->locals != NULL, 0) && gp->locals->nset)
		gort_sched_locals_exit(gp);
	struct m *m = gp->m;
	if (__builtin_expect(m->oldp != NULL, 0))   /* its P would stay Psyscall for good */
		gort_sched_syscall_misuse("a goroutine's end (a return from its function, or gort_exit)");
	if (gp == atomic_loadacqp((void *const volatile *)&maing))
		atomic_store32(&main_goexited, 1);
	if (gp->lockedm) {
		/* Exiting wired: the thread goes too (schedule, mexit). */
		gp->lockedm = NULL;
		gp->lockedext = 0;
		m->lockedg = NULL;
		m->mexit = 1;
	}
	GOPROF_CHECK(gp, GOPROF_EXIT);   /* running when a profile began: its last stack */
	atomic_storerel32(&gp->status, Gdead);   /* published by gfput's list */
	m->after.fn = after_free;
	m->after.arg = gp;
	switch_out(gp, NULL);
	gort_runtime_throw("goexit: a dead goroutine was resumed");
}

/* --- global deadlock (Go: checkdead) ------------------------------------------
 * Called with sched.lock held when an M goes idle.  If every M is idle, no
 * G can ever be made runnable again -- unless a timer is pending (then
 * the M about to sleep watches it) -- so every G that is still waiting
 * waits forever. */
static void checkdead(void)
{
	if (atomic_load32(&gort_sched.exiting) || !atomic_load32(&started))
		return;
	if (gort_sched.mcount - gort_sched.nmidle - gort_sched.nmidlelocked > 0)
		return;
	if (atomic_load32((volatile uint32_t *)&gort_sched.ntimers) > 0)
		return;
	/* A thread gort did not start may still call in and wake somebody
	 * (Go turns the whole check off in c-archive and c-shared builds;
	 * gort knows exactly which threads may, because they attached). */
	if (atomic_load32(&gort_sched.nforeign) > 0)
		return;
	int waiting = 0;
	for (struct g *gp = gort_sched.allgs; gp; gp = gp->alllink) {
		uint32_t s = atomic_load32(&gp->status);
		if (s == Gwaiting)
			waiting++;
		else if (s == Grunnable || s == Grunning || s == Gsyscall) {
			/* a broken invariant: say everything about the scheduler */
			gort_runtime_printf("checkdead: mcount=%d nmidle=%d nmidlelocked=%d npinwait=%u "
				"runqsize=%d pidle=%d\n", gort_sched.mcount, gort_sched.nmidle,
				gort_sched.nmidlelocked, gort_sched.npinwait, gort_sched.runqsize,
				gort_sched.pidle ? gort_sched.pidle->id : -1);
			schedtrace(gort_sched_nanotime(), 0, 1);
			gort_runtime_throwf("checkdead: goroutine %llu is %u with every M idle",
				(unsigned long long)gp->goid, s);
		}
	}
	if (waiting == 0 && main_goexited)
		gort_runtime_throw("no goroutines (main called gort_exit) - deadlock!");
	if (waiting == 0)
		return;
	gort_runtime_printf("fatal error: all goroutines are asleep - deadlock!\n");
	gort_sched_dump_blocked();
	gort_runtime_exit(2);
}

/* --- the public API ---------------------------------------------------------- */

/* Attachments per thread: a detach must match an attach of its own thread. */
static __thread int foreign_depth;

void gort_foreign_attach(void)
{
	if (gort_sched_m)
		gort_runtime_panic("gort_foreign_attach called on a thread gort started "
			"(goroutines need no attaching)");
	foreign_depth++;
	atomic_add32(&gort_sched.nforeign, 1);
}

void gort_foreign_detach(void)
{
	if (foreign_depth <= 0)
		gort_runtime_panic("gort_foreign_detach without gort_foreign_attach on this thread");
	foreign_depth--;
	if (atomic_add32(&gort_sched.nforeign, -1) != 0 || !atomic_load32(&started))
		return;
	/* The last outside caller left: if every M is idle already, nobody
	 * else will look, so look now. */
	gort_sched_lock(&gort_sched.lock);
	checkdead();
	gort_sched_unlock(&gort_sched.lock);
}

static uint32_t maxprocs_requested;

static uint32_t default_procs(void)
{
	const char *s = getenv("GORTMAXPROCS");
	if (s && *s) {
		char *end;
		errno = 0;
		long v = strtol(s, &end, 10);
		if (*end == '\0' && errno == 0 && v > 0) {
			if (v > GORT_MAXPROCS_LIMIT) {
				gort_runtime_printf("gort: GORTMAXPROCS=%ld is more than %d; using %d\n", v,
					GORT_MAXPROCS_LIMIT, GORT_MAXPROCS_LIMIT);
				v = GORT_MAXPROCS_LIMIT;
			}
			return (uint32_t)v;
		}
		gort_runtime_printf("gort: ignoring GORTMAXPROCS=%s: not a positive integer\n", s);
	}
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return (uint32_t)CPU_COUNT(&set) > GORT_MAXPROCS_LIMIT ? GORT_MAXPROCS_LIMIT
			: (uint32_t)CPU_COUNT(&set);
	return 1;
}

int gort_gomaxprocs(int n)
{
	uint32_t prev = atomic_load32(&started) ? atomic_load32(&gort_sched.gomaxprocs)
		: maxprocs_requested ? maxprocs_requested : default_procs();
	if (n <= 0)
		return (int)prev;
	if (n > GORT_MAXPROCS_LIMIT)
		n = GORT_MAXPROCS_LIMIT;
	if (!atomic_load32(&started)) {
		maxprocs_requested = (uint32_t)n;
		return (int)prev;
	}
	gort_sched_lock(&gort_sched.lock);
	procresize((uint32_t)n);
	gort_sched_unlock(&gort_sched.lock);
	gort_sched_wakep();
	return (int)prev;
}

struct mainarg {
	int (*fn)(void *);
	void *arg;
};

static void main_goroutine(void *a)
{
	struct mainarg *ma = a;
	/* Here, not in gort_main: this G may run, and even gort_exit, before
	 * gort_main's newproc has returned it. */
	atomic_storep((void *volatile *)&maing, getg());
	gort_sched.mainstatus = ma->fn(ma->arg);
	atomic_store32(&gort_sched.exiting, 1);
	gort_sched_notewakeup(&gort_sched.mainnote);
}

static uint32_t ncpu = 1;   /* CPUs in the affinity mask at start; written once */

/* May a goroutine spin for a lock a moment rather than park (Go:
 * sync_runtime_canSpin)?  Only where it could pay: several CPUs, another
 * P running (the holder, maybe), and nothing else queued here to run
 * instead. */
int gort_sched_canspin(void)
{
	struct m *m = gort_sched_m;
	if (ncpu <= 1 || !m || !m->p)
		return 0;
	uint32_t idle = (uint32_t)atomic_loadacq32((volatile uint32_t *)&gort_sched.npidle) +
		(uint32_t)atomic_loadacq32((volatile uint32_t *)&gort_sched.nmspinning);
	return atomic_loadacq32(&gort_sched.gomaxprocs) > idle + 1 && gort_sched_runqempty(m->p);
}

static void schedinit(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		ncpu = (uint32_t)CPU_COUNT(&set);
	gort_sched_signals_init();
	gort_sched_preempt_init();
	int e = gort_sched_netpoll_init();   /* the M that sleeps sleeps in it */
	if (e < 0)
		gort_runtime_throwf("cannot start the poller: %s", gort_strerror(e));
	default_stack();   /* GORTSTACK, unless a gort_go before gort_main read it */
	atomic_store32(&coarse_sec, (uint32_t)(gort_sched_nanotime() / 1000000000));
	gort_sched_lock(&gort_sched.lock);
	procresize(maxprocs_requested ? maxprocs_requested : default_procs());
	gort_sched_unlock(&gort_sched.lock);
}

int gort_main(int (*fn)(void *), void *arg)
{
	if (!fn)
		gort_runtime_panic("gort_main of nil func value");
	if (!atomic_cas32(&started, 0, 1))
		gort_runtime_panic("gort_main called twice");
	schedinit();
	if (gort_sched_hooks.main_start)
		gort_sched_hooks.main_start();   /* GORTPROF=path[:hz] */
	gort_trace_start();       /* GORTTRACE=file.json */
	struct mainarg ma = { fn, arg };
	uint64_t goid = 1;
	newproc1(main_goroutine, &ma, 0, 0, &goid, 0);

	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	if (pthread_create(&t, &attr, sysmon, NULL) != 0)
		gort_runtime_throw("cannot start sysmon");
	pthread_attr_destroy(&attr);

	/* newproc's wakep has started the first M, which finds main on the
	 * global queue.  This thread only waits for main to return. */
	gort_sched_notesleep(&gort_sched.mainnote);
	if (gort_sched_hooks.main_stop)
		gort_sched_hooks.main_stop();
	gort_trace_stop();
	return gort_sched.mainstatus;
}

/* The cooperative half of preemption (preempt.c): a goroutine asked to
 * yield does so at its next gort_go -- a spawning loop, where a signal
 * would mostly land inside gort, is preempted here. */
static void preempt_yield(struct g *gp)
{
	/* To the global queue's tail, as Go's gopreempt_m: everything queued
	 * before -- the goroutines a spawning loop made -- runs first. */
	struct m *m = gp->m;
	gp->preempt = 0;
	atomic_storerel32(&gp->status, Grunnable);
	m->after.fn = after_globrunqput;
	m->after.arg = gp;
	switch_out(gp, NULL);
}

static inline void preempt_point(void)
{
	struct g *gp = getg();
	if (gp && __builtin_expect(atomic_loadacq32(&gp->preempt), 0) && !gp->nopreempt && !gp->m->oldp)
		preempt_yield(gp);
}

uint64_t gort_go(void (*fn)(void *), void *arg)
{
	uint64_t goid = 0;
	newproc1(fn, arg, 0, (uintptr_t)__builtin_return_address(0), &goid, 1);
	preempt_point();
	return goid;
}

uint64_t gort_go_opts(void (*fn)(void *), void *arg, const struct gort_go_opts *o)
{
	size_t size = o ? o->stack_size : 0;
	if (size > GORT_STACK_MAX)
		gort_runtime_panicf("gort_go_opts: stack size %zu too large (at most %zu bytes)", size,
			(size_t)GORT_STACK_MAX);
	uint64_t goid = 0;
	newproc1(fn, arg, size, (uintptr_t)__builtin_return_address(0), &goid, 1);
	preempt_point();
	return goid;
}

void gort_yield(void)
{
	struct g *gp = gort_sched_mustgetg("gort_yield");
	struct m *m = gp->m;
	if (__builtin_expect(m->oldp != NULL, 0))
		gort_sched_syscall_misuse("gort_yield");
	/* A yield is a scheduling point even when it does not switch: due
	 * timers run here, or a goroutine alone on its P, yielding in a loop,
	 * would keep every sleeper of that P asleep for ever. */
	if (m->p && m->p->timer0when)
		checktimers(m->p);
	gp->preempt = 0;
	int leave = must_leave(m->p), alone;
	struct g *next = NULL;
	if (__builtin_expect(m->lockedg != NULL, 0)) {
		/* Wired: switching hands the P to whoever runs the others
		 * (switch_out goes to g0), so only if there are others. */
		alone = !leave && gort_sched_runqempty(m->p) &&
			atomic_loadacq32((volatile uint32_t *)&gort_sched.runqsize) == 0;
	} else {
		next = leave ? NULL : m->pinhead ? next_on_m(m, m->p, gp) : pick_local(m->p);
		alone = !next && !leave;
	}
	if (alone) {
		/* nothing else to run here: keep going, but check the stack as
		 * a switch would; and say so to sysmon, which would otherwise
		 * take a lone yielding loop for a runaway */
		stackcheck(gp);
		m->p->schedtick++;
		GOPROF_CHECK(gp, GOPROF_SELF);   /* never parks: a profile takes it here */
		return;
	}
	atomic_storerel32(&gp->status, Grunnable);
	m->after.fn = after_requeue;
	m->after.arg = gp;
	switch_out(gp, next);
}

/* An asynchronous preemption's yield (preempt.c): gp waits on this M's
 * pinned queue, not on a run queue, so that only this M resumes it. */
void gort_sched_yield_pinned(void)
{
	struct g *gp = getg();
	struct m *m = gp->m;
	/* Due timers first: a sleeper they wake is the goroutine that most
	 * likely waited for this preemption. */
	if (m->p && m->p->timer0when)
		checktimers(m->p);
	atomic_storerel32(&gp->status, Grunnable);
	if (m->lockedg == gp || (gort_sched_preempt_unsafe_for(gp) & PREEMPT_MIGRATE)) {
		/* Wired, it resumes on this thread anyway; or (debug, the
		 * deadlock suite) the thread rule is off: queued globally, as
		 * a cooperative preemption is. */
		m->after.fn = after_globrunqput;
		m->after.arg = gp;
		switch_out(gp, NULL);
		return;
	}
	pinpush(m, gp);
	m->pinturn = 0;   /* somebody else first: that is what it was preempted for */
	m->after.fn = after_nothing;
	m->after.arg = NULL;
	switch_out(gp, NULL);
}

/* gort_lock_thread's move (see gort.h): this M has goroutines pinned to
 * it by asynchronous preemptions, which must resume here, so it cannot be
 * given to gp alone.  A new thread is started, wired to gp, and gp queued
 * to reach it through startlockedm.  Runs after gp has switched away. */
static void after_lock_elsewhere(struct m *m, void *arg)
{
	struct g *gp = arg;
	gort_sched_lock(&gort_sched.lock);
	int64_t id = mreserve();
	gort_sched_unlock(&gort_sched.lock);
	newm(NULL, 0, gp, id);
	if (m->p) {
		gort_sched_runqput(m->p, gp, 0);
		return;
	}
	gort_sched_lock(&gort_sched.lock);
	gort_sched_globrunqput(gp);
	gort_sched_unlock(&gort_sched.lock);
	gort_sched_wakep();
}

void gort_lock_thread(void)
{
	struct g *gp = gort_sched_mustgetg("gort_lock_thread");
	struct m *m = gp->m;
	if (m->oldp)   /* it may switch threads: a scheduling point */
		gort_sched_syscall_misuse("gort_lock_thread");
	if (gp->lockedext == UINT32_MAX)
		gort_runtime_throw("gort_lock_thread nested too deeply");
	if (gp->lockedext++ > 0)
		return;
	if (!m->pinhead) {
		gp->lockedm = m;
		m->lockedg = gp;
		return;
	}
	atomic_storerel32(&gp->status, Grunnable);
	m->after.fn = after_lock_elsewhere;
	m->after.arg = gp;
	switch_out(gp, NULL);
	/* and now on the new thread, wired */
}

void gort_unlock_thread(void)
{
	struct g *gp = gort_sched_mustgetg("gort_unlock_thread");
	if (gp->lockedext == 0 || --gp->lockedext > 0)
		return;
	gp->m->lockedg = NULL;
	gp->lockedm = NULL;
}

void gort_exit(void)
{
	gort_sched_mustgetg("gort_exit");
	goexit();
}

uint64_t gort_id(void)
{
	struct g *gp = getg();
	return gp ? gp->goid : 0;
}

int gort_numgoroutine(void)
{
	int n = 0;
	gort_sched_lock(&gort_sched.allglock);
	for (struct g *gp = gort_sched.allgs; gp; gp = gp->alllink)
		n += atomic_load32(&gp->status) != Gdead;
	gort_sched_unlock(&gort_sched.allglock);
	return n;
}

int64_t gort_now(void)
{
	return gort_sched_nanotime();
}
