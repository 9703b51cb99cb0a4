/*
 * prof.h -- package prof, internal: the CPU profiler.
 *
 * The life of a sample (docs/prof.md tells it at length):
 *
 *   1. Every M has a CPU-time timer (timer_create on its own thread CPU
 *      clock, delivered to that thread): it fires SIGPROF every 1/hz of
 *      CPU time that thread uses.                             cpuprof.c
 *   2. The handler reads the interrupted registers, and sigprof() walks
 *      the stack it finds there -- unless the PC is in the atomic
 *      package's locking code, where it only counts (golang/go#20146).
 *                                                             sigprof.c
 *   3. The sample goes into the M's profile buffer, a lock-free ring with
 *      one writer (this M's handler) and one reader.          profbuf.c
 *   4. The profiler's reader thread drains every buffer and adds each
 *      sample to a table keyed by (stack, labels).            cpuprof.c
 *   5. At stop, the table becomes a gzip'd pprof protobuf.    pprof.c
 */
#ifndef GORT_PROF_PROF_H
#define GORT_PROF_PROF_H

#include <signal.h>
#include <stdint.h>

#include "gort.h"
#include "runtime/runtime.h"

#define PROF_MAXSTACK 64

/* --- profbuf.c -------------------------------------------------------- */

/* A profile buffer: see the essay in profbuf.c.  r and w are written with
 * the atomic package's 64-bit operations -- on spinlock targets the
 * handler really takes an atomic64 lock to publish a sample. */
struct profbuf {
	volatile uint64_t w __attribute__((aligned(64)));  /* writer's position */
	volatile uint64_t r __attribute__((aligned(64)));  /* reader's position */
	/* -Dprofbuf_positions=native32: the same counters, as four 32-bit
	 * words published with native atomics (see profbuf.c). */
	volatile uint32_t wdata __attribute__((aligned(64)));
	volatile uint32_t rdata __attribute__((aligned(64))), rtags;
	uint64_t *data;           /* ndata words, a power of two */
	const void **tags;        /* ntags label pointers, a power of two */
	uint32_t ndata, ntags;
};

/* A record as the reader sees it. */
struct profrec {
	uint64_t count;           /* signals it stands for */
	uint64_t cpu_ns;          /* CPU time it stands for */
	const void *tag;          /* the goroutine's labels, or NULL */
	int nstk;
	uintptr_t stk[PROF_MAXSTACK];
};

struct profbuf *gort_prof_buf_new(uint32_t ndata, uint32_t ntags);
void gort_prof_buf_free(struct profbuf *b);
/* Writer side, async-signal-safe.  Returns 0 if the record did not fit. */
int gort_prof_buf_write(struct profbuf *b, const void *tag, uint64_t count, uint64_t cpu_ns,
	const uintptr_t *stk, int nstk);
/* Reader side: calls fn for every record written so far; returns how many. */
int gort_prof_buf_read(struct profbuf *b, void (*fn)(const struct profrec *, void *), void *arg);

/* --- sigprof.c -------------------------------------------------------- */

int gort_prof_handler(int sig, siginfo_t *si, void *ctx);   /* a gort_runtime_sigfn */
/* The pseudo-functions that name what a sample could not show (Go's
 * _System, _ExternalCode, _LostSIGPROFDuringAtomic64, and a full buffer's
 * _LostProfileEvent).  Real functions, so that the symbol table names
 * their PCs; gort_prof_pc gives a PC inside one. */
enum profpc { PC_SYSTEM, PC_EXTERNAL, PC_LOSTATOMIC, PC_LOSTEVENT };
uintptr_t gort_prof_pc(enum profpc which);

/* --- cpuprof.c: state shared with the handler ------------------------- */

enum { PROF_OFF, PROF_ON };
extern volatile uint32_t gort_prof_state;   /* atomic */
extern volatile uint32_t gort_prof_external; /* signals on threads gort did not make; atomic */
extern int64_t gort_prof_period;            /* ns of CPU time per sample requested */
extern int gort_prof_fix;                   /* the #20146 fix (GORTDEBUG=lostatomic64) */
/* Tests: while set, the reader thread leaves the buffers alone, so that a
 * small buffer fills however little CPU the writer gets between drains
 * (stop still drains everything).  atomic */
extern volatile uint32_t gort_prof_reader_hold;

/* The scheduler's hooks (sched.h), which cpuprof.c installs. */
struct m;
void gort_prof_minit(struct m *m);          /* a new M: its buffer and timer */
void gort_prof_main_start(void);            /* GORTPROF=path[:hz] */
void gort_prof_main_stop(void);
void gort_prof_http_main_start(void);   /* GORTPPROF=host:port (pprofhttp.c) */

/* --- the aggregated profile (cpuprof.c), read by pprof.c --------------- */

struct profentry {
	struct profentry *next;   /* hash chain */
	uint64_t count, cpu_ns;
	const void *tag;
	int nstk;
	uintptr_t stk[];
};

struct profile {
	struct profentry **buckets;
	size_t nbuckets, nentries;
	int64_t start_wall_ns, duration_ns;
	int hz;
	struct gort_prof_stats stats;
};

extern struct profile gort_prof_last;      /* the last finished profile */

void gort_prof_add(struct profile *p, const void *tag, uint64_t count, uint64_t cpu_ns,
	const uintptr_t *stk, int nstk);
void gort_prof_clear(struct profile *p);

/* --- pprof.c: one writer for every kind of profile ------------------------ */

/* Write p (the CPU profile) as a gzip'd pprof protobuf to fd.  Returns 0
 * or -errno. */
int gort_prof_write_pprof(const struct profile *p, int fd);

/* The general form, that every profile (CPU, goroutine, block, mutex,
 * heap) is written with.  A profile is a spec -- what its values mean --
 * and a stream of samples, which the writer pulls one at a time.  The
 * writer does everything else: locations, functions, mappings, file and
 * line and inline frames, the string table, gzip.  Never in a signal
 * handler (it allocates, and reads files). */
struct pprof_valtype {
	const char *type, *unit;             /* "alloc_space", "bytes" */
};

struct pprof_spec {
	const struct pprof_valtype *types;   /* sample_type, ntypes of them */
	int ntypes;
	struct pprof_valtype period_type;
	int64_t period;
	const char *default_type;            /* default_sample_type, or NULL */
	int64_t time_ns, duration_ns;        /* 0: not written */
	const char *const *comments;
	int ncomments;
	/* 1: each sample's stk[0] is an exact PC, as a signal saw it (the CPU
	 * profile); 0: every stk[i] is a return address, or an exact PC + 1
	 * (gort_runtime_unwind's convention), as in a stack captured by a
	 * call (goroutine, block, mutex, heap profiles). */
	int leaf_exact;
};

struct pprof_sample {
	const uintptr_t *stk;
	int nstk;
	const int64_t *values;               /* spec->ntypes of them */
	const struct gort_labels *labels;    /* string labels, or NULL */
	/* one numeric label, as Go's heap profile writes "bytes": NULL key
	 * for none */
	const char *numkey, *numunit;
	int64_t num;
};

/* Write a profile to fd: next(arg, &s) fills s and returns 1, or returns
 * 0 at the end; s comes zeroed, so a field next does not set is none
 * (no labels, no numeric label); what s points at need only live until
 * the next call.
 * next is called on the caller's thread only, before any symbolization
 * (which runs on a thread of the writer's own, for libdw's stack: the
 * caller may be a goroutine).  Returns 0 or -errno. */
int gort_prof_write(const struct pprof_spec *spec, int (*next)(void *arg, struct pprof_sample *s),
	void *arg, int fd);

/* --- symbolize.c: what lies at an address, asked at write time ------------
 *
 * The writer's view of the process as it is when a profile is written:
 * the loaded objects, and for an address the chain of functions it
 * belongs to, innermost inlined function first and the function the code
 * physically lies in last (pprof's Location.line order).  Never in a
 * signal handler: it allocates, opens files and reads DWARF.  One
 * struct symbolizer belongs to one writer, on one thread. */
struct symframe {
	const char *name;         /* clean: burn_inl */
	const char *sysname;      /* as the object names it: burn_inl.constprop.0 */
	const char *file;         /* source file, or NULL */
	int64_t line;             /* 0 if unknown */
	const char *decl_file;    /* where the function is defined, or NULL */
	int64_t start_line;       /* its first line, 0 if unknown */
};

struct symmap {                    /* an executable segment of an object */
	uintptr_t start, limit, offset;
	const char *file;         /* its path as loaded; "[vdso]" */
	const char *buildid;      /* hex, or "" */
};

enum {                             /* what one lookup knew: gort_prof_sym_lookup */
	SYM_FUNCTION = 1,         /* every frame is named */
	SYM_FILE = 2,             /* every frame has a file */
	SYM_LINE = 4,             /* every frame has a line */
	SYM_INLINE = 8,           /* inline frames were looked for (DWARF read) */
};

struct symbolizer;
/* Returns NULL only when out of memory. */
struct symbolizer *gort_prof_sym_open(void);
void gort_prof_sym_close(struct symbolizer *s);
size_t gort_prof_sym_nmaps(const struct symbolizer *s);
const struct symmap *gort_prof_sym_map(const struct symbolizer *s, size_t i);
/* The frames at addr (an exact instruction address: a caller's is its
 * call's), at most max of them, into out; returns how many (0: nothing
 * known).  *map is the index + 1 of the segment holding addr, or 0;
 * *flags the SYM_* that hold for this address.  The strings live until
 * gort_prof_sym_close. */
int gort_prof_sym_lookup(struct symbolizer *s, uintptr_t addr, struct symframe *out, int max,
	size_t *map, unsigned *flags);
/* The length of raw without the suffixes a compiler adds to the copies it
 * makes of a function (.constprop.0, .isra.0, .part.0, .cold, .lto_priv.0,
 * and chains of them), and a symbol version (@@GLIBC_2.14):
 * "burn.constprop.0.isra.0" -> 4.  Any other dot is kept. */
size_t gort_prof_cleanlen(const char *raw);
/* A source path as a profile gives it: file made absolute against dir
 * (if relative), "." and ".." taken out; into buf, at most cap - 1. */
void gort_prof_cleanpath(char *buf, size_t cap, const char *dir, const char *file);

/* --- blockprof.c, goroutineprof.c, heapprof.c, profiles.c: the profiles
 * other than CPU, each written with gort_prof_write ------------------------ */

/* stacktab.c: events counted by (key, stack); every call under the
 * profile's own lock.  v's meaning is the profile's. */
struct gort_stackent {
	struct gort_stackent *next;   /* hash chain */
	uintptr_t key;                /* what else tells entries apart: a profile, labels, a size */
	union { int64_t i; double d; } v[2];   /* zero when made */
	int nstk;
	uintptr_t stk[];
};
struct gort_stacktab {
	struct gort_stackent **tab;
	size_t ntab, n;               /* chains, entries */
	void *(*alloc)(size_t);       /* malloc, or glibc's own (heapprof.c) */
	void (*dealloc)(void *);
};
struct gort_stackcur {            /* zeroed: the first entry next */
	size_t i;
	struct gort_stackent *e;
};
/* The entry for (key, stk[0..n)), made if new; NULL when out of memory. */
struct gort_stackent *gort_prof_stacktab_get(struct gort_stacktab *t, uintptr_t key, const uintptr_t *stk,
	int n);
/* Every entry once, in no order; NULL at the end. */
struct gort_stackent *gort_prof_stacktab_next(const struct gort_stacktab *t, struct gort_stackcur *c);
void gort_prof_stacktab_clear(struct gort_stacktab *t);
/* Does a stack of return addresses hold a frame of [lo, hi)?  lo 0: yes. */
int gort_prof_stack_holds(const uintptr_t *stk, int n, uintptr_t lo, uintptr_t hi);

/* Trim a walk taken from a hook's frame (pcs[0] in the hook): skip `skip`
 * frames, then gort's own (sched, prof, runtime, atomic), and cut the
 * goroutine's start-up frames off the root.  Returns the count kept. */
int gort_prof_trimstack(uintptr_t *pcs, int n, int skip);
/* Only the last: cut the goroutine's start-up frames off the root. */
int gort_prof_trimstack_root(uintptr_t *pcs, int n);
/* How the last goroutine profile went (goroutineprof.c). */
struct goprof_stats {
	int64_t goroutines;    /* recorded */
	int64_t visited;       /* Gs on allgs, dead ones too */
	uint32_t by_sched;     /* recorded by an M about to run them, or by themselves */
	uint32_t rounds;       /* looks again for Gs that were running */
	uint32_t stragglers;   /* running for a second and more: counted under their function */
	int64_t maxhold_ns;    /* the longest any G was held from running */
	int64_t hold_p50_ns, hold_p999_ns;   /* the median hold and the 99.9th percentile, to a power of 2 */
	int64_t barrier_ns;    /* membarrier */
	int64_t total_ns;      /* the whole take */
};
extern struct goprof_stats gort_prof_goprof_last;
/* Tests: called by the profiler just after T (its generation published),
 * before it looks at any goroutine.  Set before the profile; NULL: none. */
extern void (*gort_prof_goprof_at_T)(void);
int gort_prof_goroutineprof_take(void);
int64_t gort_prof_goroutineprof_count(uintptr_t lo, uintptr_t hi, const char *key, const char *value);
int gort_prof_blockprof_write(int fd);
/* Is a wait of ns at rate recorded, given the random draw r; if so, as
 * *count events of *delay ns in all (Go's blocksampled, saveblockevent). */
int gort_prof_blocksample(int64_t ns, int64_t rate, uint64_t r, double *count, int64_t *delay);
int gort_prof_mutexprof_write(int fd);
int gort_prof_goroutineprof_write(int fd);
int gort_prof_heapprof_write(int fd, int allocs);
/* Tests: over the heap profile's buckets with a frame in [lo, hi) (lo 0:
 * all): samples taken, samples still live, and the scaled estimates of
 * bytes allocated and in use. */
void gort_prof_heapprof_sum(uintptr_t lo, uintptr_t hi, int64_t *samples, int64_t *live,
	int64_t *alloc_bytes, int64_t *inuse_bytes);
/* malloctrap.c sets it: the allocation calls throw in a signal handler. */
extern volatile uint32_t gort_prof_malloctrap_on;
/* Tests: count and delay summed over the block (mutex 0) or mutex
 * profile's buckets with a frame in [lo, hi) (lo 0: all). */
void gort_prof_blockprof_sum(int mutex, uintptr_t lo, uintptr_t hi, double *count, int64_t *delay);
/* GORTPROF_BLOCK, _MUTEX, _HEAP, _GOROUTINE (profiles.c): read as
 * gort_main starts, written as it ends (from cpuprof.c's hooks). */
void gort_prof_env_start(void);
void gort_prof_env_stop(void);

/* --- labels.c ------------------------------------------------------------- */

struct gort_labels {
	int n;
	struct {
		const char *key, *value;
	} kv[];
};

#endif /* GORT_PROF_PROF_H */
