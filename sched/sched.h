/*
 * sched.h -- package sched, internal: the G, M and P of Go's scheduler
 * (runtime2.go), and everything built directly on them.
 *
 *   G  a goroutine: a stack, a saved context, a status.  Cheap: thousands
 *      to millions of them.
 *   M  a machine: an OS thread.  It runs goroutines, one at a time, and has
 *      its own scheduling stack (g0: the thread's own stack) and signal
 *      stack.
 *   P  a processor: the right to run goroutines, and the resources that go
 *      with it -- a local run queue, a timer heap, a cache of dead Gs.  There
 *      are exactly GORTMAXPROCS of them; an M must hold a P to run a G.
 *
 * An M without a P sleeps (idle) or sits in a system call.  A P without an
 * M is idle.  Go's scheduler in a sentence: Ms take Ps, and with a P they
 * take Gs, from the P's own queue, from the global queue, or stolen from
 * other Ps.
 *
 * Where gort differs from Go, it says so where it does it.  The main
 * difference: Go always switches G -> g0 -> G (mcall, then schedule() on
 * the M's stack).  gort switches directly from the parking G to the next G
 * when one is ready on this P, and only falls back to g0 when there is none;
 * work that Go does on g0 after the switch (unlocking a channel, putting a
 * yielding G on a queue, freeing a dead G's stack) is left in m->after and
 * done by whoever runs next.  That halves the switches on the hot paths.
 *
 * Lock order (a lock may be taken while holding those before it):
 *   a polldesc's rmu/wmu (gort_mutexes: goroutines wait on them, across parks)
 *   >  a gort_semaphore's lock (semaphore.c)
 *   >  timer.mu  >  a context's lock (parent before child; context.c)
 *   >  channel spinlock (in address order, for select)  >  sema root
 *   >  sched.lock  >  p.timerslock  >  stack.c's stacklock;
 *   polldesc.lock > netpoll.c's initlock;  a pool's lock and a gort_cond's
 *   (cond.c; its waiters are readied after it is released) are leaves.
 * The poller (epoll_wait) is entered with no lock held; what it finds is
 * readied after, by whoever called it.
 * (runtimers holds a p.timerslock and only tries a timer.mu: a try cannot
 * deadlock, see time.c.  A select with a deadline arms its G's own
 * sleeptimer under its channels' locks, against this order: that timer's
 * only other user is its firing, which takes no channel lock, select.c.
 * A context detaching from its parent holds its own lock and only tries
 * the parent's: see context.c.)
 * No lock is held across a context switch except through m->after.
 */
#ifndef GORT_SCHED_SCHED_H
#define GORT_SCHED_SCHED_H

#include <pthread.h>
#include <time.h>
#include <stddef.h>
#include <stdint.h>

#include "atomic/atomic.h"
#include "gort.h"
#include "runtime/runtime.h"

#define GORT_MAXPROCS_LIMIT 256   /* allp's size; GORTMAXPROCS is capped here */
#define RUNQ_SIZE 256             /* local run queue ring, a power of two */

/* --- locks and notes (lock.c) ----------------------------------------------
 * The runtime's own mutex (Go: lock_futex.go).  It blocks the M, not the
 * G: it guards a few instructions of scheduler state, never a wait.  An
 * uncontended lock/unlock is one CAS and one exchange. */
struct rtlock {
	volatile uint32_t key;   /* 0 unlocked, 1 locked, 2 locked with sleepers */
};
void gort_sched_lock(struct rtlock *l);
void gort_sched_unlock(struct rtlock *l);

/* A spinlock for the smallest critical sections -- a channel's -- where
 * sleeping in the kernel would cost more than it saves: taking it is one
 * CAS, releasing it a plain release store (an rtlock's release must be an
 * exchange, to see sleepers).  A waiter spins, then yields the CPU with
 * sched_yield, in case the holder's thread was preempted. */
struct spinlock {
	volatile uint32_t key;   /* 0 unlocked, 1 locked */
};
void gort_sched_spinlock_slow(struct spinlock *l);
static inline void spinlock_lock(struct spinlock *l)
{
	if (__builtin_expect(!atomic_cas32(&l->key, 0, 1), 0))
		gort_sched_spinlock_slow(l);
}
static inline void spinlock_unlock(struct spinlock *l)
{
	atomic_storerel32(&l->key, 0);
}

/* A note is a one-shot wake-up for one sleeping M (Go's note): one thread
 * sleeps on it, one wakes it, then it is cleared for reuse. */
struct note {
	volatile uint32_t key;   /* 0 armed, 1 woken */
};
void gort_sched_notesleep(struct note *n);
int gort_sched_notetsleep(struct note *n, int64_t ns);   /* 1 if woken */
void gort_sched_notewakeup(struct note *n);
int gort_sched_notetrywakeup(struct note *n);   /* 0 if already woken */
static inline void noteclear(struct note *n) { n->key = 0; }

/* --- G ---------------------------------------------------------------- */

enum gstatus {
	Gidle,      /* just allocated */
	Grunnable,  /* on a run queue, not running */
	Grunning,   /* running on an M, which holds a P */
	Gsyscall,   /* in a system call: has an M, may have lost its P */
	Gwaiting,   /* parked: on a channel, a semaphore, a timer */
	Gdead,      /* finished; on a free list for reuse */
};

enum waitreason {
	wrNone,
	wrChanReceive,
	wrChanSend,
	wrChanReceiveNil,
	wrChanSendNil,
	wrSelect,
	wrSelectNoCases,
	wrSleep,
	wrSemacquire,
	wrIOWait,
	wrForever,
	wrSyncCondWait,
	wrCount
};
extern const char *const gort_sched_waitreasons[wrCount];

struct m;
struct p;
struct sudog;

/* The timer (time.c): Go's runtime.timer.  mu serialises everything done
 * to one timer -- arming, stopping, re-arming and firing -- so two threads
 * can never both move it (see time.c's essay).  when, period and the heap
 * membership (pp, idx) change only with mu held AND the heap's
 * timerslock; so while a timer is in a heap, its when is stable under
 * that heap's lock alone, which is all the heap needs. */
struct timer {
	struct spinlock mu;
	int idx;                       /* its index in pp's heap (beside mu: no padding) */
	int64_t when;                  /* nanotime at which to fire */
	int64_t period;                /* > 0: fire again every period */
	void (*f)(struct timer *t, void *arg);   /* runs with mu held */
	void *arg;
	struct p *volatile pp;         /* the heap it is in, or NULL; atomic */
};

/*
 * A G lives apart from its stack, in stack.c's chunks of Gs, so that an
 * overflow never reaches one; a parked goroutine costs its G and the pages
 * its frames touched (see stack.c).  Dead Gs are kept, with their stacks,
 * for reuse; a G is never freed, like in Go, so a pointer to one stays
 * valid.
 */
struct g {
	/* The context: the stack pointer at which ctxswitch saved the
	 * callee-saved registers.  Written only by the M switching away from
	 * this G, read only by the M switching to it. */
	void *sp;
	uintptr_t stack_lo;    /* lowest usable address (above the guard/canary) */
	uintptr_t stack_hi;    /* one past the highest */
	uintptr_t stack_base;  /* the slot stack.c mapped (guard included), and its size */
	size_t stack_size;

	uint64_t goid;
	volatile uint32_t status;      /* enum gstatus; atomic */
	uint8_t waitreason;            /* enum waitreason, while Gwaiting */
	uint8_t guarded;               /* the stack has a guard region */
	uint32_t waitsince;            /* when it parked, in coarse seconds */

	void (*fn)(void *);            /* what it runs, and with what */
	void *arg;
	uintptr_t gopc;                /* where gort_go was called, 0 for main */

	struct m *m;                   /* the M running it, if any */
	struct g *schedlink;           /* global run queue, free lists */
	struct g *alllink;             /* allgs, under sched.allglock */

	/* Channel and semaphore operations (chan.c, select.c, sema.c). */
	struct sudog *waiting;         /* sudogs this G waits on (select) */
	volatile uint32_t selectdone;  /* a case of its select has won; atomic */
	struct sudog *param;           /* the sudog that woke it, or NULL */

	struct timer sleeptimer;       /* gort_sleep's timer, and an I/O wait's deadline */
	volatile uintptr_t *pollslot;  /* the poll slot it waits in (netpoll.c) */
	volatile uint32_t preempt;     /* sysmon asks it to yield; atomic (preempt.c) */
	uint32_t nopreempt;            /* gort_preempt_disable depth; the G's own */
	/* gort_lock_thread (proc.c): the M this G is wired to, and the depth.
	 * Written only by the G itself while it runs (and by goexit), read by
	 * any M that dequeues it -- after the queue's synchronisation. */
	struct m *lockedm;
	uint32_t lockedext;
	volatile uint32_t polltimedout;   /* its deadline fired; set under sleeptimer.mu */
	const struct gort_labels *labels;  /* profiler labels, immutable; set by the G itself */
	/* Goroutine-local values (local.c): NULL until the first gort_local_set,
	 * then kept with the G across its lives (emptied at each exit).  The
	 * G's own: written only by the G itself, and by the gort_go that
	 * starts it, before it first runs. */
	struct glocals *locals;
	/* The goroutine profile (prof/goroutineprof.c): has this G been
	 * recorded in profile number gen?  gen << 1 | busy, where busy means
	 * someone is walking its stack right now and it may not run.  A CAS
	 * claims it; see goroutineprof.c's essay.  atomic */
	volatile uint32_t profgen;
	unsigned valgrind_id;          /* Valgrind's stack id (beside profgen: no padding) */

	void *asan_fake_stack;         /* ASan fiber bookkeeping */
};

/* --- sudog: a G waiting on something (Go: runtime2.go's sudog) ---------
 * It lives on the waiting G's stack (gort's stacks never move). The fields
 * below are protected by the lock of the channel or semaphore root it
 * waits on. */
struct sudog {
	struct g *g;
	struct sudog *next, *prev;     /* wait queue links */
	void *elem;                    /* data element to send from / receive into */
	void *c;                       /* the channel (or semaphore address) */
	struct sudog *waitlink;        /* g->waiting list, for select */
	struct sudog *wakelink;        /* close's list of waiters to wake */
	uint16_t caseidx;              /* select: which case this is */
	uint8_t isselect;
	uint8_t success;               /* woken by a completed operation (not a close) */
	uint8_t after;                 /* select: c is gort_after's (after.c) */
	uint8_t freeit;                /* select: ... and this G must give it back */
	uint32_t ticket;               /* a gort_cond waiter's ticket (cond.c) */
	/* The block and mutex profiles (Go's sudog.releasetime, acquiretime):
	 * releasetime is -1 while its G waits with block profiling on, and the
	 * waker sets it to the time it readied the G; acquiretime is when a
	 * mutex waiter began to wait (or when the waiter ahead of it was
	 * woken), 0 when the mutex profile is off.  Under the same lock as the
	 * rest; read by the G itself once it is awake. */
	int64_t releasetime;
	int64_t acquiretime;
};

/* --- P -------------------------------------------------------------- */

enum pstatus { Pidle, Prunning, Psyscall, Pdead };

/* Freed objects of one pool waiting on one P for reuse (pool.c). */
struct poolcache {
	void *head, *tail;             /* oldest first */
	uint32_t n;
};
enum { POOL_LOCAL_CHAN, POOL_LOCAL_TIMER, POOL_LOCAL_AFTER, POOL_LOCAL_CTX, POOL_LOCAL_SEM, POOL_LOCAL_N };

struct p {
	int32_t id;
	volatile uint32_t status;      /* enum pstatus; atomic */
	struct p *link;                /* idle list, under sched.lock */
	struct m *m;                   /* the M holding it, or NULL */
	uint32_t schedtick;            /* incremented at every schedule but inherited ones */
	uint8_t inherit;               /* the G just picked came from runnext (runq.c); owner only */
	volatile uint32_t sliceover;   /* sysmon: the slice is over, the next pick takes the ring
	                                  first (runq.c); atomic */
	volatile uint32_t syscalltick; /* incremented at every syscall; atomic */

	/* The local run queue: see runq.c.  head is taken by the owner and
	 * by thieves (CAS), tail is written only by the owner. */
	volatile uint32_t runqhead;
	volatile uint32_t runqtail;
	struct g *runq[RUNQ_SIZE];
	/* A G to run next, ahead of runq: a G readied by the running G, so
	 * that ping-pong stays on one P and in cache.  Filled only by the
	 * owner (a plain store when empty, else a CAS); emptied by a CAS, by
	 * the owner or a thief. */
	struct g *volatile runnext;

	/* Dead Gs, with their default-size stacks, for reuse.  Owner only. */
	struct g *gfree;
	int32_t ngfree;

	uint64_t goidcache, goidcacheend;   /* goids handed out here; owner only */

	/* Freed channels and timers, for reuse here first.  Owner only. */
	struct poolcache pools[POOL_LOCAL_N];

	/* Timers (time.c).  The heap is under timerslock; timer0when (the
	 * earliest when, 0 if none) may be read without it. */
	struct rtlock timerslock;
	struct timer **timers;
	int32_t ntimers, captimers;
	volatile uint64_t timer0when;
} __attribute__((aligned(64)));

/* --- M -------------------------------------------------------------- */

/* --- trace.c: the execution tracer (GORTTRACE=file.json) ----------------- */
enum trace_kind {
	TRACE_NONE, TRACE_RUN, TRACE_PARK, TRACE_READY, TRACE_STEAL, TRACE_SYSCALL,
	TRACE_SYSCALL_EXIT, TRACE_EXIT, TRACE_YIELD, TRACE_SAMPLE, TRACE_LOSTATOMIC,
};
struct tring {
	struct tev *ev;            /* TRACE_EVENTS events, oldest overwritten */
	uint32_t next;             /* events ever written; the owner only */
};
extern volatile uint32_t gort_trace_on;
#define TRACING() __builtin_expect(atomic_loadacq32(&gort_trace_on), 0)

struct m {
	int64_t id;
	struct g *curg;                /* the G it runs, or NULL on g0 */
	/* Gs preempted asynchronously here, which must resume on this M
	 * (preempt.c): a FIFO through schedlink, and whose turn is next.
	 * This M's own. */
	struct g *pinhead, *pintail;
	uint8_t pinturn;
	struct p *p;                   /* its P, or NULL */
	struct p *nextp;               /* P handed to it by startm */
	struct p *oldp;                /* the P it had before a syscall */
	struct m *link;                /* idle list, under sched.lock */
	struct m *alllink;             /* allm, append-only */
	uint8_t spinning;              /* looking for work without any */
	uint8_t mexit;                 /* its locked G exited: the thread ends (proc.c) */
	struct g *lockedg;             /* the G wired to it (gort_lock_thread); this M's own */
	struct g *lockhandoff;         /* a G wired elsewhere it dequeued, for g0 to hand on */
	uint32_t fastrand;             /* this M's random state; owner only */
	struct note park;              /* stopm sleeps here */

	/* g0: this thread's own stack, where the scheduler loop runs. */
	void *g0sp;                    /* saved sp while a G runs */
	uintptr_t g0_lo, g0_hi;
	void *sigstack;                /* sigaltstack, for stack overflows and SIGPROF */
	size_t sigstack_size;

	/* What the G that switched away left to do (see the top of this file):
	 * called with the M by whoever runs next on this M. */
	struct {
		void (*fn)(struct m *m, void *arg);
		void *arg;
	} after;

	void *asan_g0_fake;            /* ASan fiber bookkeeping for g0 */
	/* The caller of gort_syscall_enter, so that the goroutine profile can
	 * walk the G in a system call from there (its frames stay put until
	 * gort_syscall_exit, which waits while they are walked).  Written by
	 * the G on this M before it becomes Gsyscall; read by the profiler
	 * only while it is Gsyscall and claimed. */
	struct gort_frame syscallframe;
	int tid;
	pthread_t thread;

	/* Profiling (prof/).  profbuf is set before this M's timer is armed
	 * and cleared only after its handler can no longer run; the counters
	 * are written only by this M's SIGPROF handler and read by the
	 * profiler once every handler has finished (cpuprof.c). */
	struct profbuf *volatile profbuf;
	volatile uint32_t prof_inhandler;   /* a handler is running; atomic */
	volatile uint32_t prof_timer;       /* 0 none, 1 being made, 2 armed; atomic */
	timer_t proftimer;
	int64_t prof_lastcpu;               /* thread CPU clock at the last signal */
	uint64_t prof_signals;              /* SIGPROFs handled while profiling */
	uint64_t prof_written;              /* ... written as samples */
	uint64_t prof_lostatomic;           /* ... that landed in atomic64 code */
	uint64_t prof_lostfull;             /* ... lost to a full buffer */
	uint64_t prof_lostfull_cpu;
	uint64_t prof_pending;              /* lost-in-atomic64 not yet written */
	uint64_t prof_pending_cpu;
	volatile uint32_t in_sighandler;    /* for the malloc trap (tests) */
	struct gort_frame prof_sigframe;    /* what the running handler interrupted */

	/* Tracing (trace.c): written by this M (tracesig: by its SIGPROF
	 * handler), read when the trace is written out. */
	struct tring trace, tracesig;
	int64_t trace_run_start;
	uint64_t trace_run_goid;
	int32_t trace_run_p;
};

/* --- the scheduler (Go's schedt) -------------------------------------- */
struct schedt {
	struct rtlock lock;            /* protects the fields below, to `-` */
	struct m *midle;               /* idle Ms */
	int32_t nmidle;
	int32_t nmidlelocked;          /* wired Ms asleep until their G is runnable, less
	                                  one while sysmon hands a P on (retake) */
	int32_t mcount;                /* Ms created, less sysmon */
	struct p *pidle;               /* idle Ps */
	volatile int32_t npidle;       /* atomic reads allowed */
	struct g *runqhead, *runqtail; /* the global run queue */
	volatile int32_t runqsize;     /* atomic reads allowed */
	struct g *gfree;               /* dead Gs with default stacks */
	int32_t ngfree;
	struct g *gfree_odd;           /* dead Gs with other stack sizes */
	volatile uint32_t polling;     /* an M is blocked in the poller (reads: atomic) */
	int64_t polluntil;             /* ... until this time (the earliest timer), 0: none */
	struct p *pollhandoff;         /* a P startm left for the poller M to take */
	uint8_t pollhandoff_spinning;  /* ... as a spinning M */
	/* Ms holding goroutines pinned by preemptions, waiting for a P to run
	 * them on (proc.c, findrunnable), linked by m->link.  A P given up
	 * goes to the first of them before the idle list; npinwait (atomic
	 * reads allowed) makes sysmon preempt the running loops for them. */
	struct m *pinwait;
	volatile uint32_t npinwait;
	/* - */
	volatile int32_t nmspinning;   /* atomic */
	volatile int32_t ntimers;      /* timers in all heaps; atomic */
	volatile uint32_t gomaxprocs;  /* Ps in use; atomic */
	volatile uint32_t exiting;     /* main returned; atomic */
	volatile uint32_t nforeign;    /* threads attached by gort_foreign_attach; atomic */
	volatile uint64_t goidgen;     /* atomic */

	struct rtlock allglock;        /* protects allgs */
	struct g *allgs;
	int64_t nallgs;

	struct m *volatile allm;       /* append-only list, CAS-pushed */
	struct p *allp[GORT_MAXPROCS_LIMIT];   /* created lazily, never freed */
	uint32_t nallp_max;            /* Ps ever created; under lock */
	size_t default_stack;          /* bytes of address space */

	struct note mainnote;          /* gort_main's thread waits here */
	int mainstatus;
};
extern struct schedt gort_sched;

/* The M running on this thread, NULL on threads gort did not create.
 * initial-exec TLS: the signal handlers read it. */
extern __thread struct m *gort_sched_m __attribute__((tls_model("initial-exec")));

static inline struct g *getg(void)
{
	struct m *m = gort_sched_m;
	return m ? m->curg : NULL;
}

/* --- proc.c: the scheduler ---------------------------------------------- */
/* Between gort_syscall_enter and gort_syscall_exit the goroutine has no P
 * (m->oldp holds it): nothing that may schedule is allowed there.  `what`
 * names the call, for the panic. */
__attribute__((noreturn, cold)) void gort_sched_syscall_misuse(const char *what);
static inline void gort_sched_notsyscall(const char *what)
{
	struct m *m = gort_sched_m;
	if (__builtin_expect(m && m->oldp != NULL, 0))
		gort_sched_syscall_misuse(what);
}
int64_t gort_sched_nanotime(void);
int gort_sched_canspin(void);   /* may a lock spin before parking (proc.c) */
/* gopc: the return address in whoever called gort_go, for "created by". */
struct g *gort_sched_newproc(void (*fn)(void *), void *arg, size_t stack_size, uintptr_t gopc);
__attribute__((noreturn)) void gort_sched_gofirst(void *fn, void *arg);
void gort_sched_gostart(void);
void gort_sched_park(struct rtlock *unlock, enum waitreason why);
/* Park, and have fn(m, arg) run once this G is off its stack. */
void gort_sched_park_fn(void (*fn)(struct m *, void *), void *arg, enum waitreason why);
void gort_sched_after_spinunlock(struct m *m, void *lock);   /* for park_fn */
void gort_sched_timerwake(int64_t when);
uint32_t gort_sched_coarse_seconds(void);
void gort_sched_ready(struct g *gp);                /* into runnext */
void gort_sched_readyq(struct g *gp, int next);     /* next=0: the queue's tail */
void gort_sched_wakep(void);
uint32_t gort_sched_fastrand(void);
struct g *gort_sched_mustgetg(const char *what);

/* --- runq.c: local and global run queues ---------------------------------- */
void gort_sched_runqput(struct p *pp, struct g *gp, int next);
struct g *gort_sched_runqget(struct p *pp);
struct g *gort_sched_runqget_ring(struct p *pp);   /* the ring only, not runnext */
struct g *gort_sched_runqsteal(struct p *pp, struct p *victim, int stealnext);
int gort_sched_runqempty(struct p *pp);
void gort_sched_globrunqput(struct g *gp);           /* sched.lock held */
struct g *gort_sched_globrunqget(struct p *pp, int max);  /* sched.lock held */

/* --- stack.c ----------------------------------------------------------- */
size_t gort_sched_stackround(size_t size);
struct g *gort_sched_stackalloc(size_t size);   /* a fresh G on a fresh stack */
void gort_sched_stackcheck(struct g *gp, uintptr_t sp);  /* throws on overflow */
int gort_sched_stack_guardhit(struct g *gp, uintptr_t addr);
size_t gort_sched_stack_guards(void);           /* stacks with a guard region */
int gort_sched_stack_markers(void);             /* guards are page-table markers (stack.c) */
/* "fatal error: stack overflow", gp's frames from f, exit 2; addr is the
 * faulting address, or 0.  Async-signal-safe. */
__attribute__((noreturn)) void gort_sched_stack_overflow(struct g *gp, struct gort_frame f,
	uintptr_t addr);

/* --- ctx_<arch>.S: the context switch ----------------------------------
 * ctxswitch saves the callee-saved registers on the current stack, stores
 * the stack pointer in *save, loads `load` and restores the registers
 * found there.  ctxinit prepares a fresh stack so that switching to it
 * calls start(fn, arg) via the trampoline gort_sched_gostart. */
void gort_sched_ctxswitch(void **save, void *load);
void *gort_sched_ctxinit(uintptr_t stack_hi, void (*start)(void *, void *),
	void *fn, void *arg);
void gort_sched_ctxframe(void *sp, struct gort_frame *f);

/* --- time.c ------------------------------------------------------------ */
void gort_sched_addtimer(struct timer *t);
int gort_sched_deltimer(struct timer *t);                  /* 1 if it was pending */
int gort_sched_modtimer(struct timer *t, int64_t when);    /* 1 if it was pending */
int64_t gort_sched_runtimers(struct p *pp, int64_t now);   /* next when, or 0 */
void gort_sched_timers_init(struct p *pp);
void gort_sched_movetimers(struct p *from, struct p *to);

/* --- local.c: goroutine-local values ------------------------------------
 * A G's values, one slot per key index, allocated at the G's first
 * gort_local_set and kept with the G for its later lives (see local.c's
 * essay).  The G's own, as g->locals is. */
struct lslot {
	void *v;                       /* the value, or NULL */
	uint32_t key;                  /* the key it was set under (the index and its generation) */
	uint32_t inherit;              /* that key is inherited: counted in ninherit */
};
struct glocals {
	/* Every G's array, on one list under local.c's lock: Gs live in
	 * memory LeakSanitizer does not scan (stack slots, chunks of Gs),
	 * and a pointer only they held would be reported as a leak. */
	struct glocals *prev, *next;
	uint32_t cap;                  /* slots in s[]: key indices 0 to cap-1 */
	uint32_t nset;                 /* slots whose v is not NULL */
	uint32_t ninherit;             /* ... of which set under an inherited key */
	struct lslot s[];
};
/* gp is exiting (goexit, on its own stack, gp->locals->nset > 0): run the
 * destructors of its values, then empty its slots for the G's next life.
 * The destructors may block: the caller reads its M again after. */
void gort_sched_locals_exit(struct g *gp);
/* gort_go (parent->locals->ninherit > 0): give child the values of
 * parent's inherited keys, before child first runs.  The keys' copy
 * functions may block: the caller reads its M and P again after. */
void gort_sched_locals_inherit(struct g *parent, struct g *child);

/* --- pool.c: type-stable pools for channels and timers --------------------
 * A freed object keeps its memory and says so in its magic word, so a
 * call on it is diagnosed, not undefined (see pool.c's essay). */
enum {
	POOL_CHAN = 0x6e616863,    /* "chan" */
	POOL_TIMER = 0x726d6974,   /* "timr" */
	POOL_CTX = 0x78747863,     /* "cctx" (context.c) */
	POOL_SEM = 0x696d6573,     /* "semi" (semaphore.c) */
	POOL_FREED = 0x65657266,   /* "free" */
};
struct pool {
	struct spinlock lock;      /* protects everything below but the constants */
	size_t size, magic_off, link_off;   /* constant */
	int local;                 /* constant: its index in each P's pools[] */
	void *head, *tail;         /* freed objects, oldest first */
	size_t nfree;
	uintptr_t chunk_next, chunk_end;    /* what is left of the newest chunk (pool.c) */
};
void *gort_sched_pool_get(struct pool *pl);            /* zeroed; NULL if out of memory */
void gort_sched_pool_put(struct pool *pl, void *obj);  /* sets POOL_FREED */
/* Never returns, but is not declared noreturn: a call to a noreturn
 * function need not save the return address, and on MIPS, where the
 * unwinder reads it from the frame, the traceback would end there. */
__attribute__((cold)) void gort_sched_pool_bad(uint32_t magic, const char *what,
	const char *type);
/* The check every public call makes first: `what` names the call. */
/* An acquire load, not a full one: the check orders nothing, and on x86
 * a full load is a locked instruction on every channel and timer call. */
#define POOL_CHECK(obj, live, what, type) do { \
	uint32_t m_ = atomic_loadacq32(&(obj)->magic); \
	if (__builtin_expect(m_ != (live), 0)) \
		gort_sched_pool_bad(m_, (what), (type)); \
} while (0)

/* --- netpoll.c: the scheduler's side of the poller ------------------------ */
/* Poll, waiting up to ns (-1: until an event or a break; 0: not at all);
 * returns the Gs made ready, linked by schedlink, still Gwaiting. */
struct g *gort_sched_netpoll(int64_t ns);
void gort_sched_netpoll_check(int64_t now);   /* sysmon: lost registrations */
extern volatile uint32_t gort_sched_netpoll_waiters;   /* atomic */
extern volatile int64_t gort_sched_netpoll_lastpoll;   /* atomic (atomic_load64) */

/* --- preempt.c: preemption -------------------------------------------------- */
enum {
	PREEMPT_ANYCODE = 1,          /* debug: clauses 1 and 2 off (gort's code, shared objects) */
	PREEMPT_IGNORE_DISABLE = 2,   /* debug: gort_preempt_disable ignored */
	PREEMPT_MIGRATE = 4,          /* debug: the thread rule off (resumes on any M) */
};
#define PREEMPT_ROOM 4096          /* stack the preempted G needs below the saved frame */
extern volatile uint32_t gort_sched_preempt_unsafe;   /* PREEMPT_* clauses off (debug runtime) */
extern volatile uint64_t gort_sched_preempt_unsafe_goid;   /* ... for this goroutine only, if not 0 */
uint32_t gort_sched_preempt_unsafe_for(const struct g *gp);   /* the bits that apply to gp */
extern volatile uint32_t gort_sched_preempt_asked, gort_sched_preempt_sent, gort_sched_preempt_done,
	gort_sched_preempt_refused;
void gort_sched_preempt_init(void);
void gort_sched_preemptone(struct m *m, struct g *gp);
int gort_sched_pc_in_gort(uintptr_t pc);
void gort_sched_yield_pinned(void);           /* proc.c: yield, resume on this M */
void gort_sched_asyncpreempt2(void);
void gort_sched_asyncpreempt(void);           /* preempt_<arch>.S: the trampoline */
/* ... and its layout (runtime/sigctxt.h), which preempt.c gives the
 * runtime's unwinder at start-up */
extern const struct sigctxt_tramp_layout gort_sched_asyncpreempt_layout
	__attribute__((visibility("hidden")));

/* --- sema.c ------------------------------------------------------------- */
/* profile: the profiles a wait here is part of, PROF_BLOCK | PROF_MUTEX
 * (below; Go's semaProfileFlags): a gort_mutex wait is a block event and
 * a mutex event, a WaitGroup wait a block event only. */
void gort_sched_semacquire(volatile uint32_t *addr, int profile);
void gort_sched_semrelease(volatile uint32_t *addr);

/* --- profiling events (the block, mutex and goroutine profiles) ------------
 * The scheduler times its waits only while the profiler asks, and hands
 * what it measured to prof through the hooks below.  gort_sched_profflags
 * is PROF_BLOCK | PROF_MUTEX as the rates are nonzero: one load and one
 * branch on each blocking path when both are off, nothing on the paths
 * that do not block.  Written by prof (blockprof.c); atomic. */
enum { PROF_BLOCK = 1, PROF_MUTEX = 2 };
/* After a call that ends a function: it stays a call, not a jump, so the
 * caller's frame is on the stack a profile records (the public call that
 * waited or unlocked is the leaf the profiles name, as Go's are). */
#define KEEP_FRAME() __asm__ __volatile__("" ::: "memory")
extern volatile uint32_t gort_sched_profflags;
/* an acquire load, not a full one: a stale answer only times a wait or
 * not, and a full load is a locked instruction on x86 */
#define PROFFLAGS() atomic_loadacq32(&gort_sched_profflags)
/* Nonzero while a goroutine profile is being taken: its number, which
 * g->profgen is compared with (goroutineprof.c).  Written by prof; atomic. */
extern volatile uint32_t gort_sched_goprof_gen;
/* A G waited ns on a channel, in select, on a mutex or a WaitGroup: the
 * running G's own stack is the one to charge (Go's blockevent). */
void gort_sched_blockevent(int64_t ns);
/* The running G woke a mutex waiter that had waited ns (Go's mutexevent):
 * charged to this, the unlocker's, stack. */
void gort_sched_mutexevent(int64_t ns);
/* The goroutine profile's check, where a G is about to run, stop or leave
 * a system call (proc.c); how: GOPROF_RUN (the M is about to run gp, off
 * its stack), or gp itself, running: GOPROF_EXIT (ending), GOPROF_SYSEXIT
 * (leaving a system call), GOPROF_SELF (at a yield that does not switch,
 * or a preemption: a loop that never parks is still recorded). */
enum { GOPROF_RUN, GOPROF_EXIT, GOPROF_SYSEXIT, GOPROF_SELF };
#define GOPROF_CHECK(gp, how) do { \
	__asm__ __volatile__("" ::: "memory");   /* the status store first */ \
	if (__builtin_expect(atomic_loadacq32(&gort_sched_goprof_gen) != 0, 0) && gort_sched_hooks.goroutine) \
		gort_sched_hooks.goroutine((gp), (how)); \
} while (0)

/* --- hooks: what the scheduler calls in the packages above it ------------
 * sched may not call prof, which stands above it (docs/HACKING.md,
 * "Layers"), so the profiler fills these in from a constructor, before
 * main (prof/cpuprof.c); a NULL one is skipped.  Written once before main,
 * read-only after. */
struct gort_sched_hooks {
	void (*minit)(struct m *m);   /* a new M, on its thread, before it schedules */
	void (*main_start)(void);     /* gort_main: the scheduler is up, main not started */
	void (*main_stop)(void);      /* gort_main: main has returned */
	void (*blockevent)(int64_t ns);   /* see gort_sched_blockevent; on the G's stack */
	void (*mutexevent)(int64_t ns);   /* see gort_sched_mutexevent; on the G's stack */
	void (*goroutine)(struct g *gp, int how);   /* see GOPROF_CHECK */
};
extern struct gort_sched_hooks gort_sched_hooks;   /* proc.c */

void gort_trace_start(void);
void gort_trace_stop(void);
void gort_trace_minit(struct m *m);
void gort_trace_run_begin(struct m *m, struct g *gp);
void gort_trace_run_end(struct m *m, struct g *gp, uint32_t why, int32_t arg);
void gort_trace_event(struct m *m, uint32_t kind, uint64_t goid, int32_t arg);
void gort_trace_sigevent(struct m *m, uint32_t kind, uint64_t goid);

/* --- goroutines.c: printing goroutines ------------------------------------ */
void gort_sched_printg_header(struct g *gp, const char *status);
void gort_sched_traceback_g(struct g *gp);
void gort_sched_traceback_current(int skip);
void gort_sched_traceback_frame(struct g *gp, struct gort_frame f, uintptr_t lo);
void gort_sched_dump_blocked(void);
void gort_sched_dump_all(struct g *skip);   /* SIGQUIT */
/* The runtime's hooks (runtime.h), SIGSEGV, SIGBUS and SIGQUIT: schedinit. */
void gort_sched_signals_init(void);


#endif /* GORT_SCHED_SCHED_H */
