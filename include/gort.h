/*
 * gort.h -- the public interface of gort, a miniature Go-style runtime.
 *
 * Everything a program may call is declared here and carries the gort_
 * prefix.  Internal headers live beside the code in atomic/, runtime/,
 * sched/ and prof/ and are not installed.
 */
#ifndef GORT_H
#define GORT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GORT_API __attribute__((visibility("default")))
#else
#define GORT_API
#endif

/* ------------------------------------------------------------------------
 * Package atomic: Go's runtime/internal/atomic (and sync/atomic) in C.
 *
 * Every operation is sequentially consistent: all of them, on every word,
 * appear to happen in one total order that agrees with each thread's
 * program order.  This is the contract of Go's sync/atomic, and it is what
 * lets a flag set with gort_atomic_store64 publish plain writes made before
 * it.
 *
 * 32-bit and pointer-sized words are always lock-free.  64-bit words are
 * lock-free where the target has a 64-bit word (x86-64, aarch64); on 32-bit
 * targets such as MIPS they are emulated, exactly as Go emulates them on
 * mips/mipsle: each operation takes a spinlock, chosen by hashing the word's
 * address, around a plain read-modify-write.  gort_atomic64_backend() says
 * which one this build uses.  Because a lock is held, a 64-bit operation is
 * NOT async-signal-safe on the spinlock backend when the interrupted code
 * may itself hold the lock: that is golang/go#20146, and the reason the
 * profiler refuses to touch 64-bit atomics when a signal lands inside this
 * package.
 *
 * A 64-bit word must be 8-byte aligned.  A misaligned address is refused
 * with "panic: unaligned 64-bit atomic operation" and a traceback (exit
 * status 2), as Go does on 32-bit targets.
 *
 * add returns the new value; xchg, and, or return the old value; cas
 * returns 1 if it stored the new value and 0, leaving memory untouched, if
 * the word did not hold the old one.
 * ---------------------------------------------------------------------- */
GORT_API uint32_t gort_atomic_load32(const volatile uint32_t *p);
GORT_API void     gort_atomic_store32(volatile uint32_t *p, uint32_t v);
GORT_API uint32_t gort_atomic_add32(volatile uint32_t *p, int32_t delta);
GORT_API int      gort_atomic_cas32(volatile uint32_t *p, uint32_t old, uint32_t new_);
GORT_API uint32_t gort_atomic_xchg32(volatile uint32_t *p, uint32_t v);
GORT_API uint32_t gort_atomic_and32(volatile uint32_t *p, uint32_t mask);
GORT_API uint32_t gort_atomic_or32(volatile uint32_t *p, uint32_t mask);

GORT_API uint64_t gort_atomic_load64(const volatile uint64_t *p);
GORT_API void     gort_atomic_store64(volatile uint64_t *p, uint64_t v);
GORT_API uint64_t gort_atomic_add64(volatile uint64_t *p, int64_t delta);
GORT_API int      gort_atomic_cas64(volatile uint64_t *p, uint64_t old, uint64_t new_);
GORT_API uint64_t gort_atomic_xchg64(volatile uint64_t *p, uint64_t v);
GORT_API uint64_t gort_atomic_and64(volatile uint64_t *p, uint64_t mask);
GORT_API uint64_t gort_atomic_or64(volatile uint64_t *p, uint64_t mask);

/* Pointer-sized words (Go's Loaduintptr, Xadduintptr, ...). */
GORT_API uintptr_t gort_atomic_loaduintptr(const volatile uintptr_t *p);
GORT_API void      gort_atomic_storeuintptr(volatile uintptr_t *p, uintptr_t v);
GORT_API uintptr_t gort_atomic_adduintptr(volatile uintptr_t *p, intptr_t delta);
GORT_API int       gort_atomic_casuintptr(volatile uintptr_t *p, uintptr_t old, uintptr_t new_);
GORT_API uintptr_t gort_atomic_xchguintptr(volatile uintptr_t *p, uintptr_t v);
GORT_API uintptr_t gort_atomic_anduintptr(volatile uintptr_t *p, uintptr_t mask);
GORT_API uintptr_t gort_atomic_oruintptr(volatile uintptr_t *p, uintptr_t mask);

/* Pointers (Go's Loadp, StorepNoWB, Casp1). */
GORT_API void *gort_atomic_loadp(void *const volatile *p);
GORT_API void  gort_atomic_storep(void *volatile *p, void *v);
GORT_API int   gort_atomic_casp(void *volatile *p, void *old, void *new_);
GORT_API void *gort_atomic_xchgp(void *volatile *p, void *v);

/* "native" or "spinlock", and the size of the spinlock table (0 when
 * native).  A table of 1 is Go's layout: one lock for every word. */
GORT_API const char *gort_atomic64_backend(void);
GORT_API unsigned    gort_atomic64_locks(void);

/* ------------------------------------------------------------------------
 * The symbol table: Go's findfunc/funcname.
 *
 * At start-up gort reads the ELF symbol tables (.symtab, else .dynsym) of
 * the executable and of every shared object loaded at that moment, applies
 * each one's load bias, and keeps a sorted array of functions per object
 * (objects loaded later join at the next refresh, below).  Looking a
 * PC up is a binary search over that array: it takes no lock, allocates
 * nothing and makes no system call, so a signal handler may call it.
 * ---------------------------------------------------------------------- */
struct gort_funcinfo {
	uintptr_t   entry;   /* first instruction */
	uintptr_t   end;     /* one past the last */
	const char *name;    /* symbol name, valid while its object is loaded
	                        (for ever, for one loaded at start-up) */
	const char *package; /* "atomic", "runtime", "sched", "prof", "gort" for
	                        the public API, or "" for code outside gort */
};

/* Fill *out for the function containing pc.  Returns 1 if found, 0 if pc
 * lies in no known function (out is then untouched).  Async-signal-safe
 * once the runtime has started (the table is built by a constructor). */
GORT_API int gort_funcinfo_for_pc(uintptr_t pc, struct gort_funcinfo *out);

/* Does pc lie in the atomic package's locking code -- the only code in the
 * process that can hold an atomic64 spinlock?  Works in a stripped
 * executable too: those functions live in a linker section of their own,
 * whose bounds are known without any symbol.  (gort_funcinfo_for_pc names
 * the package of every gort_atomic_ function, locking or not, from its
 * name, which a stripped file no longer has.)  Async-signal-safe. */
GORT_API int gort_pc_in_atomic(uintptr_t pc);

/* Number of functions in the table (for tests and curiosity). */
GORT_API size_t gort_symtab_len(void);

/* Objects loaded with dlopen join the table (names and unwind tables) at
 * its next refresh, which the running profiler makes as it drains its
 * buffers, every few milliseconds; this makes one at once (say, right
 * after a dlopen, before a traceback must name the new code).  The table
 * is replaced whole, never changed in place, so a signal sees the old one
 * or the new one.  Returns 0, or -ENOMEM.  Not async-signal-safe. */
GORT_API int gort_symtab_refresh(void);

/* ------------------------------------------------------------------------
 * Goroutines and the scheduler (Go: the `go` statement, package runtime).
 *
 * gort_main starts the runtime on GORTMAXPROCS processors (default: the
 * CPUs this process may use), runs main(arg) as goroutine 1, and returns
 * main's return value as soon as main returns.  As in Go, the program is
 * then over: other goroutines are never resumed, and each thread that was
 * running one sleeps forever once that goroutine next blocks, yields or
 * exits.  Call gort_main once per process, and exit soon after it returns.
 *
 * Misuse is reported as Go reports it: "panic: <what>" (or "fatal error:"
 * where Go throws) and the goroutine's traceback on stderr, exit status 2.
 * When no goroutine can ever run again, the runtime prints "fatal error:
 * all goroutines are asleep - deadlock!" and the stack of each.
 * ---------------------------------------------------------------------- */
GORT_API int gort_main(int (*main)(void *arg), void *arg);

/* Start fn(arg) as a new goroutine; returns its id (never 1, which is
 * main's).  May be called from any thread, even before gort_main (the
 * goroutine then runs once it starts).
 * A thread gort did not start that calls in while gort_main runs must be
 * attached first (gort_foreign_attach, below). */
GORT_API uint64_t gort_go(void (*fn)(void *arg), void *arg);

/* Stacks.  A goroutine's stack never moves or grows (C cannot say where
 * its pointers into the stack are), so its size is fixed when it starts:
 * 64 KiB by default, or GORTSTACK=<KiB> in the environment, for goroutines
 * started before gort_main as for the others; or stack_size bytes with
 * gort_go_opts.  The size is what the goroutine's frames may use: it is
 * rounded up to whole pages (16 KiB at least), of which the goroutine's
 * own record (its G, 256 bytes) takes the top, and the guard region under
 * it comes on top.  It is address
 * space: only the pages a goroutine touches cost memory.  A size over
 * GORT_STACK_MAX (1 GiB on 64-bit targets, 256 MiB on 32-bit ones, like
 * Go's limits) is refused: "panic: gort_go_opts: stack size N too large
 * (at most GORT_STACK_MAX bytes)".
 *
 * Running past the end is "fatal error: stack overflow" with the
 * goroutine's traceback, exit status 2 -- never a silent write into
 * another stack -- for the stacks that have a guard region (every one on
 * Linux 6.13 and later, which has guard markers; elsewhere the first
 * vm.max_map_count/4 made; stacks are reused, never freed), provided the
 * code that overflows was compiled with the flags `pkg-config --cflags
 * gort` gives (or the meson dependency carries): -fstack-clash-protection
 * makes a large frame touch every page as it grows, so it cannot step
 * over the guard, and -fasynchronous-unwind-tables (with frame pointers
 * where there is no table) lets tracebacks and the profiler see your
 * frames.  Stacks beyond that many come from shared
 * slabs with a canary instead, checked at every switch: best effort (see
 * docs/api.md). */
#define GORT_STACK_MAX ((size_t)1 << (sizeof(void *) >= 8 ? 30 : 28))
struct gort_go_opts {
	size_t stack_size;   /* usable bytes; 0: the default */
};
GORT_API uint64_t gort_go_opts(void (*fn)(void *arg), void *arg, const struct gort_go_opts *o);

GORT_API void gort_yield(void);                        /* runtime.Gosched */
GORT_API __attribute__((noreturn)) void gort_exit(void);  /* runtime.Goexit */
GORT_API uint64_t gort_id(void);                       /* this goroutine's id, 0 outside */
GORT_API int gort_numgoroutine(void);                  /* runtime.NumGoroutine */
/* runtime.GOMAXPROCS: set the number of Ps if n > 0 (before or during
 * gort_main); returns the previous setting. */
GORT_API int gort_gomaxprocs(int n);
GORT_API int64_t gort_now(void);                       /* monotonic ns */
GORT_API void gort_sleep(int64_t ns);                  /* time.Sleep */

/* Wrap a blocking system call (Go: entersyscall/exitsyscall): while it
 * blocks, the goroutine's processor is handed to another thread so the
 * other goroutines keep running.  Between the two the goroutine has no
 * processor, so nothing that may schedule is allowed there: a channel
 * operation, select, gort_yield, gort_sleep, gort_lock_thread, a
 * contended mutex or a second gort_syscall_enter is a panic that names
 * the misuse. */
GORT_API void gort_syscall_enter(void);
GORT_API void gort_syscall_exit(void);

/* Preemption (Go 1.14's asynchronous preemption; acquirem/releasem).  A
 * goroutine that runs 10 ms without a scheduling point is made to yield:
 * at its next gort_go, or, in the program's own code, at any instruction,
 * by a signal (SIGURG).  It resumes on the same thread, so C code that
 * keeps errno's or a __thread variable's address in a register is safe.
 * It is never preempted inside gort, in libc or another shared library,
 * or in a signal handler.  Code that holds a lock gort cannot see (a
 * pthread mutex) must not be preempted while it does -- the next
 * goroutine on its thread could wait for that lock for ever -- and says
 * so with this pair, which nests.  GORTDEBUG=asyncpreemptoff=1 turns the
 * signal off, as in Go. */
GORT_API void gort_preempt_disable(void);
GORT_API void gort_preempt_enable(void);

/* runtime.LockOSThread / UnlockOSThread.  gort_lock_thread wires the
 * calling goroutine to a thread: from its return until the matching
 * gort_unlock_thread, the goroutine runs only on that thread, and the
 * thread runs no other goroutine -- for code that keeps per-thread state
 * across gort calls (a __thread variable, pthread keys, a library that
 * must be called from one thread, unshare(2)).  Calls nest: the
 * goroutine is unwired when every lock has had its unlock; an unlock
 * with no lock does nothing.  A goroutine that exits while still wired
 * takes its thread with it: the thread ends rather than run goroutines
 * with whatever state was left on it.  The thread it gets is usually the
 * one it was running on, but may be a new one (when goroutines preempted
 * on the current thread must resume there, preempt.c).  Each switch of
 * a wired goroutine hands its processor between threads, so it costs
 * microseconds, not nanoseconds. */
GORT_API void gort_lock_thread(void);
GORT_API void gort_unlock_thread(void);

/* Threads gort did not start (Go: cgo callbacks from C threads).  Such a
 * thread may call gort_go, send or receive without blocking, close a
 * channel, and use timers; it cannot block, being no goroutine.  Because
 * it can wake goroutines at any moment, the deadlock detector cannot
 * know that a program whose goroutines all wait is stuck while such a
 * thread exists.  So a foreign thread says so: between
 * gort_foreign_attach and gort_foreign_detach it counts as a
 * participant, and "all goroutines are asleep" is never reported; once
 * the last one detaches, the report comes as usual (at once, if every
 * goroutine is already waiting).  Attachments nest per thread.  Calling
 * attach on a thread gort started, or detach without attach, panics. */
GORT_API void gort_foreign_attach(void);
GORT_API void gort_foreign_detach(void);

/* ------------------------------------------------------------------------
 * What is per thread in C, and why a goroutine must not trust it.
 *
 * A goroutine that blocks (a channel, a sleep, a read that waits) may
 * resume on another OS thread.  C has three kinds of per-thread state,
 * and each changes under it when that happens:
 *
 *   - errno.  glibc declares __errno_location() const, so at -O2 gcc and
 *     clang compute errno's address once per function and reuse it after
 *     a gort call that resumed the goroutine elsewhere: errno then reads
 *     -- and writes -- *another thread's* errno, perhaps while another
 *     goroutine uses it there.  (tests/test_netpoll.c measures it: most
 *     reads across a gort_sleep see a stranger's value.)
 *   - __thread / _Thread_local variables: the same caching of the
 *     address, and even when re-read, a different thread's copy.
 *   - pthread keys (pthread_getspecific): correct per thread, so a
 *     different value after a migration.
 *
 * gort's answer to the first: every gort call that can fail returns its
 * error as a value (a negative errno), so there is nothing to read from
 * errno after it.  For code that reads errno after its own system calls
 * in a function that also calls gort, this header redefines errno to
 * (*gort_errno_location()), a function the compiler cannot assume
 * constant, so each read takes the current thread's errno.  Define
 * GORT_KEEP_ERRNO before including gort.h to keep glibc's definition.
 * For the other two: keep per-goroutine state in the goroutine -- its
 * argument, labels, or a goroutine-local value (below) -- not in the
 * thread.
 * ---------------------------------------------------------------------- */
GORT_API int *gort_errno_location(void);
#ifndef GORT_KEEP_ERRNO
#undef errno
#define errno (*gort_errno_location())
#endif

/* ------------------------------------------------------------------------
 * Goroutine-local values: pthread keys whose values belong to the
 * goroutine, not the thread, and so follow it when it resumes on another
 * thread (Go has none: it passes a context.Context).
 *
 * A key is made once (a positive int, or -EAGAIN when all GORT_LOCAL_MAX
 * are in use), and every goroutine then has its own void * under it,
 * NULL until it sets one.  gort_local_create's values stay with their
 * goroutine; gort_local_create_inherited's are given to each goroutine
 * the holder starts with gort_go or gort_go_opts: copy(value), or the
 * same pointer when copy is NULL (a NULL copy result gives the child
 * nothing).  copy runs in the parent, inside gort_go, before the child
 * exists for anyone else.  Goroutines started by gort_afterfunc inherit
 * nothing, nor does one started from a thread gort did not start.
 *
 * When a goroutine ends (returns, or gort_exit), the destructor, if not
 * NULL, is called with each non-NULL value the goroutine holds under a
 * live key, once, on the goroutine itself (it may block, and may set
 * values, which are looked at again, up to 4 rounds, as with pthread
 * keys).  An inherited pointer is held by each goroutine it was given
 * to, and each calls the destructor on it: give copy a reference count
 * to take, or a copy to make.  Not when main returns: then the program
 * is over, as exit(3) runs no pthread destructors.
 *
 * Outside a goroutine (a thread gort did not start, or before
 * gort_main) there is nothing to hold a value: get returns NULL and set
 * -ESRCH.  set returns 0, or -ENOMEM.  A key that is not live (never
 * created, or deleted: keys carry a generation, so even a deleted key
 * whose slot has been reused is caught) is a panic in get, set and
 * delete: "panic: gort_local_get: key 133 was deleted".  Deleting a key
 * forgets every goroutine's value under it without calling the
 * destructor (pthread_key_delete's rule); a goroutine that exits while
 * the key is being deleted may still call it once.
 *
 * get and set take no lock: a few loads, O(1) (a set beyond the G's
 * array grows it, once per G: malloc and a short lock).  See docs/api.md
 * for when to use __thread, a goroutine-local value, or an argument.
 * ---------------------------------------------------------------------- */
#define GORT_LOCAL_MAX 128   /* keys live at once */
GORT_API int gort_local_create(void (*destructor)(void *value));
GORT_API int gort_local_create_inherited(void (*destructor)(void *value),
	void *(*copy)(void *value));
GORT_API void gort_local_delete(int key);
GORT_API void *gort_local_get(int key);
GORT_API int gort_local_set(int key, void *value);

/* ------------------------------------------------------------------------
 * Channels and select (Go: chan, select).  A NULL channel is Go's nil
 * channel: sending or receiving blocks forever, closing panics.  Elements
 * are copied in and out by value, elemsize bytes each.
 * ---------------------------------------------------------------------- */
typedef struct gort_chan gort_chan;

/* make(chan T, cap): NULL if out of memory. */
GORT_API gort_chan *gort_chan_make(size_t elemsize, size_t cap);
/* Free a channel no goroutine is blocked on (C has no GC); freeing one
 * with goroutines blocked on it panics.  Any later call on a freed channel
 * -- a second free included -- is "fatal error: <call> of a freed
 * channel", exit status 2 (see docs/api.md for how far that reaches). */
GORT_API void gort_chan_free(gort_chan *c);
/* Send *elem; elem NULL sends the zero value (all bytes zero), as Go's
 * `c <- T{}`. */
GORT_API void gort_chan_send(gort_chan *c, const void *elem);
/* Receive into elem (may be NULL): returns 1, or 0 when the channel is
 * closed and drained (elem is then zeroed), as Go's `v, ok := <-c`. */
GORT_API int gort_chan_recv(gort_chan *c, void *elem);
GORT_API void gort_chan_close(gort_chan *c);
GORT_API size_t gort_chan_len(gort_chan *c);
GORT_API size_t gort_chan_cap(gort_chan *c);

enum { GORT_SEND = 1, GORT_RECV = 2 };
typedef struct {
	gort_chan *c;    /* NULL: the case never proceeds */
	int dir;         /* GORT_SEND or GORT_RECV */
	void *elem;      /* the value to send, or where to receive (may be NULL) */
	int ok;          /* out, receive: 1 a value, 0 closed */
} gort_select_case;
/* Wait until one case can proceed and do it; among several ready cases
 * each is chosen with equal probability.  Returns its index, or -1 at
 * once if block is 0 and none is ready (Go's default clause). */
GORT_API int gort_select(gort_select_case *cases, int n, int block);

/* The same with a deadline (Go: a select with a `case <-time.After(d):`,
 * without the timer): wait no later than `deadline`, an absolute time on
 * gort_now()'s clock, then return -ETIMEDOUT, never before it.
 * GORT_FOREVER waits without limit; a deadline already past (0
 * included) does not wait: the operation is done at once if it can be,
 * else -ETIMEDOUT.  Any other negative deadline panics.  The wait uses
 * the goroutine's own timer and allocates nothing, so a timeout that
 * never comes costs nothing either.
 *   gort_chan_recv_until   1 a value, 0 closed and drained, or -ETIMEDOUT
 *   gort_chan_send_until   0 sent, or -ETIMEDOUT (closed: panics, as a send)
 *   gort_select_until      the index of the case that proceeded, or -ETIMEDOUT */
GORT_API int gort_chan_recv_until(gort_chan *c, void *elem, int64_t deadline);
GORT_API int gort_chan_send_until(gort_chan *c, const void *elem, int64_t deadline);
GORT_API int gort_select_until(gort_select_case *cases, int n, int64_t deadline);

/* ------------------------------------------------------------------------
 * Timers (Go: time.Timer, time.Ticker, time.AfterFunc).  A timer's
 * channel receives the time (gort_now) at which it fired, as an int64_t.
 * ---------------------------------------------------------------------- */
typedef struct gort_timer gort_timer;
GORT_API gort_timer *gort_timer_new(int64_t ns);
GORT_API gort_timer *gort_ticker_new(int64_t period);
GORT_API gort_timer *gort_afterfunc(int64_t ns, void (*fn)(void *arg), void *arg);
GORT_API gort_chan *gort_timer_chan(gort_timer *t);
GORT_API int gort_timer_stop(gort_timer *t);            /* 1 if it was pending */
GORT_API int gort_timer_reset(gort_timer *t, int64_t ns);   /* 1 if it was pending */
GORT_API void gort_timer_free(gort_timer *t);           /* stops it too */
/* One-call timeouts (Go: time.After, time.Tick), with no timer to free.
 *
 * gort_after(ns) returns a receive-only channel on which the time it
 * fired (gort_now, an int64_t, at least ns after the call) arrives once.
 * The channel frees itself, with its timer, once its value has been
 * received -- by gort_chan_recv, a gort_select case or the _until forms
 * -- and no other goroutine still waits on it: the last of those to
 * leave frees it.  So a received timeout cleans up after itself, and any
 * later call on the channel is "fatal error: <call> of a freed channel".
 * A timeout that is never received (another select case won) is never
 * freed by itself: free it with gort_chan_free, which stops the timer
 * (a loop that does neither keeps one 192-byte channel per iteration for
 * good), or wait with gort_select_until, which allocates nothing.
 *
 * gort_tick(period) is a ticker's channel, receive-only, that lives
 * until gort_chan_free stops and frees it (Go's Tick, for the life of
 * the program); a period <= 0 gives NULL, the nil channel, as Go's
 * does.  A tick that finds the last one unreceived is dropped.
 *
 * Sending on or closing either channel panics ("send on receive-only
 * channel").  gort_after returns NULL if out of memory. */
GORT_API gort_chan *gort_after(int64_t ns);
GORT_API gort_chan *gort_tick(int64_t period);

/* Any goroutine or thread may stop, reset or free a timer while others
 * do the same to it, and while it fires, as in Go: each arming fires at
 * most once, never early; a stop that returns 1 kept that arming from
 * firing; a stop or reset that meets a firing in progress waits for it,
 * so after a stop that returns 0 the value is already in the channel.
 * A call on a freed timer is "fatal error: <call> of a freed timer". */

/* ------------------------------------------------------------------------
 * Descriptors and the network (Go: package net, os.File's Read and Write,
 * internal/poll, and the runtime's netpoll).
 *
 * A goroutine that waits for a descriptor parks; it holds no thread, and
 * only GORTMAXPROCS threads run goroutines however many descriptors are
 * waited on.  Pollable descriptors (sockets, pipes, FIFOs, terminals,
 * eventfds...) are registered with the poller on first use and put in
 * non-blocking mode -- except descriptors 0, 1 and 2 when they are
 * blocking, which are shared with the parent process (Go's rule too):
 * those, and descriptors the poller refuses (regular files,
 * directories), are read and written through the system-call hand-off,
 * with poll(2) honouring the deadline.
 *
 * Errors are values: each call returns a count, a descriptor or 0, or a
 * negative errno -- never -1 with errno set (see above for why).  Besides
 * the system's own codes:
 *   -ETIMEDOUT     the deadline passed
 *   -GORT_ECLOSED  the descriptor was closed with gort_close during the
 *                  call (Go: "use of closed network connection"); a call
 *                  begun after the close finished gets -EBADF, or acts on
 *                  whatever file reused the number (see docs/api.md)
 * gort_strerror names either kind.
 *
 * Deadlines are absolute, in gort_now()'s clock: gort_now() + 5000000000
 * is five seconds from now.  GORT_FOREVER waits without limit; a
 * deadline already past (0 included) does not wait at all: the call
 * does what it can at once, or returns -ETIMEDOUT.
 *
 * One reader and one writer at a time: two goroutines reading one
 * descriptor take turns, each call whole (so two gort_write calls never
 * interleave their bytes), as Go's net.Conn does.
 *
 * Writing to a socket or pipe whose reader has gone returns -EPIPE and
 * never raises SIGPIPE -- except on descriptors 1 and 2, where the
 * program is killed by SIGPIPE as a C program would be (Go's rule).
 * ---------------------------------------------------------------------- */
#define GORT_ECLOSED 4096            /* above every errno (Linux: 4095) */
#define GORT_FOREVER ((int64_t)-1)   /* a deadline that never comes */
enum { GORT_READ = 1, GORT_WRITE = 2 };

/* Wait until fd is readable (GORT_READ) or writable (GORT_WRITE): 0,
 * -ETIMEDOUT, -GORT_ECLOSED, -EBADF, or -EINVAL for any other events.
 * (libdill's fdin/fdout; Go's pollDesc.wait.) */
GORT_API int gort_fd_wait(int fd, int events, int64_t deadline);
/* read(2): bytes read (> 0), 0 at end of file, or a negative errno. */
GORT_API ssize_t gort_read(int fd, void *buf, size_t n, int64_t deadline);
/* All n bytes, or a negative errno (some bytes may have been written
 * before the error, as with Go's Write). */
GORT_API ssize_t gort_write(int fd, const void *buf, size_t n, int64_t deadline);
/* accept4(2): a new descriptor, non-blocking and close-on-exec. */
GORT_API int gort_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int64_t deadline);
/* connect(2), waiting for the connection: 0 or a negative errno
 * (-ECONNREFUSED, -ETIMEDOUT, ...). */
GORT_API int gort_connect(int fd, const struct sockaddr *addr, socklen_t addrlen, int64_t deadline);
GORT_API ssize_t gort_sendto(int fd, const void *buf, size_t n, int flags,
	const struct sockaddr *to, socklen_t tolen, int64_t deadline);
GORT_API ssize_t gort_recvfrom(int fd, void *buf, size_t n, int flags,
	struct sockaddr *from, socklen_t *fromlen, int64_t deadline);
/* socket(2), non-blocking and close-on-exec. */
GORT_API int gort_socket(int domain, int type, int protocol);
/* Close fd: every goroutine waiting on it wakes with -GORT_ECLOSED; the
 * descriptor is closed once the last of them has left.  0, -EBADF, or
 * -GORT_ECLOSED for a second close. */
GORT_API int gort_close(int fd);
/* shutdown(2) (Go: CloseWrite, CloseRead): 0 or a negative errno. */
GORT_API int gort_shutdown(int fd, int how);

/* Go's net.Listen and net.Dial.  network: "tcp", "tcp4", "tcp6", "udp",
 * "udp4", "udp6", "unix" (stream) or "unixgram"; address: "host:port"
 * ("[::1]:80" for IPv6; host may be a name, or empty to listen on every
 * address; port may be a service name or 0 for any) or, for unix, a
 * path.  Names are resolved off the processor (the resolver blocks).
 * gort_listen returns a listening (tcp, unix) or bound (udp, unixgram)
 * descriptor; gort_dial a connected one, trying each resolved address in
 * turn within the deadline.  A negative errno on failure; a bad network
 * or address text is -EINVAL, a name that does not resolve -ENOENT. */
GORT_API int gort_listen(const char *network, const char *address);
GORT_API int gort_dial(const char *network, const char *address, int64_t deadline);
/* The bound or peer address of fd as "host:port" (Go: Addr.String()):
 * the length written, or a negative errno. */
GORT_API int gort_localaddr(int fd, char *buf, size_t n);
GORT_API int gort_peeraddr(int fd, char *buf, size_t n);

/* A message for err (negative or positive errno, or GORT_ECLOSED). */
GORT_API const char *gort_strerror(int err);

/* ------------------------------------------------------------------------
 * Package sync: Mutex, WaitGroup, Once, RWMutex, Cond.  Zero is a valid
 * initial value for each, as in Go.  Misuse is fatal as in Go: "fatal
 * error: sync: unlock of unlocked mutex", "panic: sync: negative WaitGroup
 * counter".
 * ---------------------------------------------------------------------- */
typedef struct {
	volatile uint32_t state;
	volatile uint32_t sema;
} gort_mutex;
GORT_API void gort_mutex_lock(gort_mutex *mu);
GORT_API int gort_mutex_trylock(gort_mutex *mu);
GORT_API void gort_mutex_unlock(gort_mutex *mu);

typedef struct {
	volatile uint64_t state __attribute__((aligned(8)));   /* counter << 32 | waiters */
	volatile uint32_t sema;
} gort_waitgroup;
GORT_API void gort_waitgroup_add(gort_waitgroup *wg, int delta);
GORT_API void gort_waitgroup_done(gort_waitgroup *wg);
GORT_API void gort_waitgroup_wait(gort_waitgroup *wg);

typedef struct {
	volatile uint32_t done;
	gort_mutex m;
} gort_once;
GORT_API void gort_once_do(gort_once *o, void (*fn)(void *arg), void *arg);

/* A reader/writer lock (Go: sync.RWMutex): held by any number of readers
 * or by one writer.  Like a mutex it belongs to no goroutine: one may
 * lock it and another unlock it.  The try forms never wait: 1 if they
 * took the lock, 0 if not.
 *
 * A writer waiting in gort_rwmutex_lock keeps new readers out until it
 * has had its turn, so a stream of readers cannot starve it.  The price,
 * as in Go: no goroutine may take a read lock it already holds while
 * another goroutine may call gort_rwmutex_lock.  The second rlock waits
 * for the waiting writer, the writer waits for the first rlock to be
 * released, and neither ever is (if nothing else runs, "fatal error: all
 * goroutines are asleep - deadlock!").  Recursive read locking is out.
 *
 * Misuse is fatal: "fatal error: sync: RUnlock of unlocked RWMutex",
 * "fatal error: sync: Unlock of unlocked RWMutex".  Its waits are in the
 * block and mutex profiles, as a gort_mutex's are. */
typedef struct {
	gort_mutex w;                  /* writers take turns on it */
	volatile uint32_t writersem;   /* semaphore: a writer waits for the readers to leave */
	volatile uint32_t readersem;   /* semaphore: readers wait for the writer to finish */
	volatile uint32_t readers;     /* int32, atomic: readers in or waiting, less 2^30
	                                  while a writer holds w (sched/rwmutex.c) */
	volatile uint32_t departing;   /* int32, atomic: readers the writer still waits for */
} gort_rwmutex;
GORT_API void gort_rwmutex_lock(gort_rwmutex *rw);
GORT_API int gort_rwmutex_trylock(gort_rwmutex *rw);
GORT_API void gort_rwmutex_unlock(gort_rwmutex *rw);
GORT_API void gort_rwmutex_rlock(gort_rwmutex *rw);
GORT_API int gort_rwmutex_tryrlock(gort_rwmutex *rw);
GORT_API void gort_rwmutex_runlock(gort_rwmutex *rw);

/* A condition variable (Go: sync.Cond), for goroutines that wait for a
 * condition others change under a gort_mutex.  gort_cond_wait must be
 * called with mu locked: it unlocks mu, parks until a signal or broadcast
 * made after that unlock, and locks mu again before it returns.  Since
 * another goroutine may have changed the condition between the wake-up
 * and the relock, wait in a loop:
 *
 *	gort_mutex_lock(&mu);
 *	while (!condition)
 *		gort_cond_wait(&c, &mu);
 *	... use the condition ...
 *	gort_mutex_unlock(&mu);
 *
 * gort_cond_signal wakes one waiter, if any; gort_cond_broadcast every
 * goroutine waiting when it is called.  Neither needs mu held, and
 * neither is remembered for a goroutine that starts waiting later.  A
 * wait ends only by one of them: there are no spurious wake-ups.
 *
 * Go's Cond holds its lock (c.L, any Locker).  Here the mutex is an
 * argument of each wait, as pthread_cond_wait's is: a zero gort_cond is
 * then ready with no constructor, and C has no Locker to store.  All the
 * goroutines waiting on one Cond at one time must pass the same mutex.
 *
 * Misuse: waiting with mu unlocked is the unlock's "fatal error: sync:
 * unlock of unlocked mutex"; a Cond copied after its first use panics
 * "sync.Cond is copied" at the copy's next call, as in Go. */
typedef struct {
	volatile uint32_t wait;      /* atomic: the next ticket to hand a waiter */
	volatile uint32_t notify;    /* the next ticket to wake: written under lock, read atomically */
	volatile uint32_t lock;      /* a runtime lock (sched/cond.c) over notify and the list */
	void *head, *tail;           /* under lock: the parked waiters, in the order they parked */
	void *volatile self;         /* atomic: its own address, from its first use on */
} gort_cond;
GORT_API void gort_cond_wait(gort_cond *c, gort_mutex *mu);
GORT_API void gort_cond_signal(gort_cond *c);
GORT_API void gort_cond_broadcast(gort_cond *c);

/* ------------------------------------------------------------------------
 * Package context (Go: context.Background, WithCancel, WithDeadline,
 * WithTimeout), reduced to what C needs: a tree of contexts, each of
 * which is cancelled once, for one reason, and says so through a channel
 * that is closed at that moment.  sched/context.c; see docs/api.md.
 *
 * The reason (Go's ctx.Err()) is a value: 0 while the context is live,
 * then -ECANCELED for a cancel (Go's Canceled; gort_strerror: "context
 * canceled") or -ETIMEDOUT for a deadline that passed (Go's
 * DeadlineExceeded; the same code gort's I/O calls return for theirs).
 * It never changes once set.
 *
 * Cancelling a context cancels every descendant with the same reason and
 * detaches it from its parent (each descendant's done channel is closed
 * before its ancestors', so a goroutine woken by one finds the whole
 * subtree under it cancelled); a child's deadline is the earlier of its
 * own and its parent's; gort_ctx_deadline gives it, GORT_FOREVER for
 * none, in the clock gort_read and its siblings take, so a context's
 * deadline can be passed straight to them.  Any goroutine or thread may
 * cancel or free any context, concurrently with anything else.
 *
 * Lifetime (C has no collector): every context made by a with_ call is
 * freed once with gort_ctx_free, which cancels it if it is live (so its
 * descendants are cancelled too, and detached), stops its timer and
 * frees its channel.  Parents and children may be freed in any order: a
 * child of a freed parent is cancelled and detached, and stays valid
 * until its own free.  A call on a freed context is "fatal error: <call>
 * of a freed context".  The background context is never cancelled and
 * never freed (gort_ctx_free ignores it; gort_ctx_cancel of it panics),
 * and its done channel is NULL, which in gort_select never proceeds.
 *
 * Making a wait cancellable: select on gort_ctx_done(ctx) beside it.
 * Cancelling a blocked read: a goroutine that waits on the done channel
 * and then calls gort_close(fd) wakes the reader with -GORT_ECLOSED (see
 * docs/api.md for both idioms in full).
 * ---------------------------------------------------------------------- */
typedef struct gort_ctx gort_ctx;
GORT_API gort_ctx *gort_ctx_background(void);
/* A child of parent (NULL panics): NULL if out of memory.  A child made
 * under a parent already cancelled is cancelled at once, with its
 * reason; a deadline already past cancels it at once with -ETIMEDOUT;
 * GORT_FOREVER as a deadline is none. */
GORT_API gort_ctx *gort_ctx_with_cancel(gort_ctx *parent);
GORT_API gort_ctx *gort_ctx_with_deadline(gort_ctx *parent, int64_t deadline);
GORT_API gort_ctx *gort_ctx_with_timeout(gort_ctx *parent, int64_t ns);
/* Go's CancelFunc: cancel with -ECANCELED, if still live (later calls do
 * nothing), and detach from the parent. */
GORT_API void gort_ctx_cancel(gort_ctx *c);
GORT_API gort_chan *gort_ctx_done(gort_ctx *c);     /* closed once cancelled */
GORT_API int gort_ctx_err(gort_ctx *c);             /* 0, -ECANCELED, -ETIMEDOUT */
GORT_API int64_t gort_ctx_deadline(gort_ctx *c);    /* or GORT_FOREVER */
GORT_API void gort_ctx_free(gort_ctx *c);

/* ------------------------------------------------------------------------
 * A weighted semaphore (Go: golang.org/x/sync/semaphore's Weighted),
 * sched/semaphore.c -- not sched/sema.c, the runtime's own sleeping
 * primitive under gort_mutex.  It holds `size` units; acquire takes n of
 * them, waiting in FIFO order: a waiter is served only once everyone
 * ahead of it has been, so a large request is never starved by small
 * ones.
 *
 * gort_semaphore_acquire returns 0 with n units held, or, when ctx is
 * done first, its reason (-ECANCELED, -ETIMEDOUT) with nothing held and
 * the semaphore as it was; a ctx already done fails at once even if the
 * units are there.  ctx NULL waits without limit; a deadline is a
 * context's (gort_ctx_with_deadline).  A waiter that gives up may let
 * smaller waiters behind it proceed.  n larger than the size can never
 * be served: it waits for ctx, as x/sync does.  tryacquire takes n at
 * once or returns 0, failing whenever anyone waits.  Releasing more than
 * is held panics "semaphore: released more than held"; a negative n
 * panics; freeing a semaphore that goroutines wait on panics; a call on a
 * freed one is "fatal error: <call> of a freed semaphore".
 * ---------------------------------------------------------------------- */
typedef struct gort_semaphore gort_semaphore;
GORT_API gort_semaphore *gort_semaphore_new(int64_t size);   /* NULL if out of memory */
GORT_API int gort_semaphore_acquire(gort_semaphore *s, int64_t n, gort_ctx *ctx);
GORT_API int gort_semaphore_tryacquire(gort_semaphore *s, int64_t n);   /* 1 if taken */
GORT_API void gort_semaphore_release(gort_semaphore *s, int64_t n);
GORT_API void gort_semaphore_free(gort_semaphore *s);
/* gort's addition, as len(c) is for a channel: how many acquires wait
 * now, those for more than the size included (they wait for their
 * contexts, and do not keep tryacquire from succeeding); for tests and
 * monitoring, stale as soon as it returns. */
GORT_API int gort_semaphore_waiters(gort_semaphore *s);

/* ------------------------------------------------------------------------
 * The CPU profiler (Go: runtime/pprof's StartCPUProfile, and the runtime's
 * SIGPROF machinery).  GORTPROF=path[:hz] in the environment profiles a
 * whole gort_main without any code.
 *
 * Each thread running goroutines gets a timer on its own CPU clock; every
 * 1/hz of CPU time it sends SIGPROF, and the handler records the stack.
 * At stop the profile is written, gzip'd pprof protobuf, to the file (a
 * regular file via a temporary name and a rename, so a crash never leaves
 * half a file; a device such as /dev/null, a FIFO or a symlink in place);
 * `go tool pprof` reads it, without the binary if need be.
 *
 * The calls return 0, or a negative errno: -EINVAL for a rate outside 1 to
 * 10000 Hz or a stop without a start, -EBUSY for a second start, -EBADF
 * for a bad descriptor, and open(2)'s or write(2)'s error otherwise.
 * ---------------------------------------------------------------------- */
GORT_API int gort_prof_start(const char *path, int hz);
GORT_API int gort_prof_start_fd(int fd, int hz);   /* fd stays open */
GORT_API int gort_prof_stop(void);

/* The live endpoint (Go: import _ "net/http/pprof" and an
 * http.ListenAndServe): serve Go's /debug/pprof/ paths over HTTP from
 * the running program, so that
 *     go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=5
 * works against it as against a Go program.  GORTPPROF=host:port in the
 * environment does the same at gort_main's start, without any code.
 *
 * address is "host:port" as gort_listen takes it; port 0 picks a free
 * one, which gort_prof_serve_port then names.  The server listens before
 * the call returns, then accepts and answers on goroutines of its own
 * (labelled gort=pprof-http), waiting in the poller: it costs no thread
 * while idle.  One request per connection.  It never keeps the program
 * alive: when main returns, the program is over, server and all.  But
 * while it waits for connections the deadlock detector says nothing, as
 * in Go (a goroutine in the poller may yet be woken from outside): a
 * program whose other goroutines are all blocked for ever keeps serving
 * its profiles.
 *
 * Returns 0, or a negative errno: -EINVAL for a NULL or malformed
 * address, -ENOENT for a host that does not resolve, bind(2)'s error
 * (-EADDRINUSE, -EACCES, ...), -EBUSY if a server is already running.
 * gort_prof_serve_port returns the port served on, or -ENOTCONN while no
 * server is.  See docs/prof.md, "A live endpoint". */
GORT_API int gort_prof_serve(const char *address);
GORT_API int gort_prof_serve_port(void);

/* The ledger of the last finished profile: every SIGPROF a goroutine
 * thread handled is exactly one of a sample written, a signal that landed
 * in the atomic package's locked code (counted, then written as one
 * sample _LostSIGPROFDuringAtomic64 of that weight: golang/go#20146), or
 * one lost to a full buffer (written as a sample _LostProfileEvent). */
struct gort_prof_stats {
	uint64_t signals;          /* SIGPROFs handled by gort's threads */
	uint64_t samples;          /* ... written as samples */
	uint64_t lost_atomic64;    /* ... that landed in atomic64 code */
	uint64_t lost_full;        /* ... lost to a full buffer */
	uint64_t external;         /* SIGPROFs on threads gort did not start */
	int64_t cpu_ns;            /* CPU time the profile stands for */
	int64_t duration_ns;       /* wall time it ran */
	int hz;                    /* the rate asked for */
	double achieved_hz;        /* signals per second of CPU time */
	int per_thread_timers;     /* 1: timer_create per thread; 0: setitimer */
};
GORT_API int gort_prof_stats(struct gort_prof_stats *out);   /* -EBUSY while running */

/* The last profile as text: the top functions by flat CPU time, with
 * cumulative time (like `go tool pprof -top`), or folded stacks for
 * flame-graph tools ("a;b;c count" per line). */
GORT_API int gort_prof_report(FILE *out, int top);
GORT_API int gort_prof_folded(FILE *out);

/* Labels (Go: pprof.Labels, pprof.Do, SetGoroutineLabels).  A label set
 * is immutable and lives forever; a goroutine's set is attached to every
 * sample taken while it runs, and is inherited by the goroutines it
 * starts.  `go tool pprof -tagfocus key=value` selects by them. */
typedef struct gort_labels gort_labels;
/* base (may be NULL) plus key=value, replacing key if base has it. */
GORT_API const gort_labels *gort_labels_with(const gort_labels *base, const char *key,
	const char *value);
GORT_API const char *gort_labels_value(const gort_labels *l, const char *key);
GORT_API void gort_labels_set(const gort_labels *l);
GORT_API const gort_labels *gort_labels_current(void);
/* Run fn(arg) with the current goroutine's labels set to l, then restore. */
GORT_API void gort_prof_do(const gort_labels *l, void (*fn)(void *arg), void *arg);

/* ------------------------------------------------------------------------
 * The other profiles (Go: runtime/pprof's Lookup(name).WriteTo, and
 * runtime.SetBlockProfileRate, SetMutexProfileFraction, MemProfileRate).
 * Each is written as gzip'd pprof protobuf, as the CPU profile is, and
 * `go tool pprof` reads it as it reads Go's.
 *
 *   "goroutine"  every live goroutine's stack, counted by stack and
 *                labels (goroutine/count), taken without stopping the
 *                program: see docs/prof.md for what pauses, and how long.
 *                A goroutine in a blocking call not wrapped in
 *                gort_syscall_enter cannot be stopped: after a second it
 *                is counted under its start function
 *   "block"      where goroutines waited: channel operations, select,
 *                gort_mutex_lock, gort_waitgroup_wait -- not gort_sleep
 *                (contentions/count, delay/nanoseconds), as sampled at
 *                the block rate
 *   "mutex"      who made gort_mutex waiters wait: each waiter's delay
 *                charged to the stack that unlocked (contentions/count,
 *                delay/nanoseconds), sampled at the mutex fraction
 *   "heap"       sampled allocations, malloc and its family through
 *                libgort's interposition: alloc_objects, alloc_space,
 *                inuse_objects, inuse_space (inuse_space the default)
 *   "allocs"     the same samples, alloc_space the default
 *
 * gort_prof_lookup_write returns 0, or -EINVAL for a name not above (or
 * NULL), -EBADF for a descriptor not open for writing, write(2)'s error,
 * -ENOSYS for "heap" and "allocs" in a build whose allocator is not
 * libgort's (the sanitizers'). */
GORT_API int gort_prof_lookup_write(const char *name, int fd);
/* The same to a file: a temporary beside it, renamed over it when whole
 * (a device or FIFO is written in place); open(2)'s errors as -errno. */
GORT_API int gort_prof_lookup_write_file(const char *name, const char *path);

/* runtime.SetBlockProfileRate, in nanoseconds: a wait of d ns is recorded
 * with probability d/ns (always if d >= ns), weighted to stand for the
 * waits not recorded; 1 records every wait, 0 or less turns it off (the
 * default).  Returns the previous rate (gort's addition). */
GORT_API int64_t gort_prof_set_block_rate(int64_t ns);
/* runtime.SetMutexProfileFraction: record one contention in `rate` on
 * average (0 off, the default); a negative rate only reads.  Returns the
 * previous fraction. */
GORT_API int gort_prof_set_mutex_fraction(int rate);
/* runtime.MemProfileRate: one sample per `bytes` allocated on average (0
 * off; 1 every allocation); Go's default is 512 KiB, gort's is 0 (off)
 * unless GORTPROF_HEAP asks.  A negative value only reads.  Returns the
 * previous rate. */
GORT_API int64_t gort_prof_set_heap_rate(int64_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* GORT_H */
