/*
 * runtime.h -- package runtime, internal: start-up, the symbol table,
 * printing, tracebacks, panics and fatal errors, signals.
 */
#ifndef GORT_RUNTIME_RUNTIME_H
#define GORT_RUNTIME_RUNTIME_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "gort.h"
#include "gort_config.h"

/* --- print.c: async-signal-safe formatting to a buffer or to stderr. */
size_t gort_runtime_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);
size_t gort_runtime_fmt(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void gort_runtime_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gort_runtime_write(int fd, const char *s, size_t n);

/* --- panic.c: the two ways to die, as in Go.
 * throw: "fatal error: <msg>" -- the runtime itself is broken or was
 *        misused in a way it cannot survive (Go's throw/fatal).
 * panic: "panic: <msg>" -- the program did something Go would panic on.
 * Both print a traceback of the calling thread and exit with status 2.
 * Both are async-signal-safe. */
__attribute__((noreturn, cold)) void gort_runtime_throw(const char *msg);
__attribute__((noreturn, cold, format(printf, 1, 2))) void gort_runtime_throwf(const char *fmt, ...);
__attribute__((noreturn, cold)) void gort_runtime_panic(const char *msg);
__attribute__((noreturn, cold, format(printf, 1, 2))) void gort_runtime_panicf(const char *fmt, ...);
/* Every path on which the runtime kills the process (throw, panic, the
 * fatal signals, the deadlock report, the SIGQUIT dump) ends here: the
 * hooks registered with gort_runtime_atdie run, then _exit(status).
 * Async-signal-safe, and so must each hook be.  Register from a
 * constructor (at most four). */
__attribute__((noreturn)) void gort_runtime_exit(int status);
void gort_runtime_atdie(void (*fn)(void));

/* --- symtab.c: the function table (see the essay there). */
struct gort_func {
	uintptr_t entry, end;
	const char *name;
	uint32_t flags;      /* FUNC_* */
};
enum { FUNC_ATOMIC = 1 };   /* lies in the atomic package's section */

/* A row of an object's unwind table (cfi.c): from pc (an offset from the
 * object's first code byte) up to the next row, how to find the caller's
 * registers.  16 bytes. */
struct gort_cfirow {
	uint32_t pc;
	int32_t cfa_off;     /* CFA = (sp or fp, by cfa) + cfa_off */
	int16_t ra_off;      /* CFI_RA_AT: the return address is at CFA + 4 * ra_off
	                        (saved registers lie at multiples of 4 on every
	                        target, and frames up to 128 KiB fit);
	                        CFI_PLT: the threshold k (below) */
	int16_t fp_off;      /* CFI_FP_AT: the caller's fp is at CFA + 4 * fp_off */
	uint8_t cfa, ra, fp, flags;
};
enum {
	CFI_NONE,            /* no FDE covers this code */
	CFI_SP, CFI_FP,      /* the CFA is sp + off, fp + off */
	CFI_PLT,             /* x86-64 lazy PLT: sp + off, + 8 if (pc & 15) >= k */
	CFI_UNKNOWN,         /* a rule the walk does not follow: use frame pointers */
};
enum { CFI_RA_AT, CFI_RA_REG, CFI_RA_NONE };   /* saved; in lr; the outermost frame */
enum { CFI_FP_SAME, CFI_FP_AT, CFI_FP_LOST };  /* unchanged; saved; neither */
enum { CFI_RA_SIGNED = 1 };                    /* aarch64: strip the PAC bits */

struct dl_phdr_info;
int gort_runtime_cfi_compile(const struct dl_phdr_info *o, uintptr_t base, uintptr_t text_lo,
	uintptr_t text_hi, struct gort_cfirow **rows, size_t *nrows);

/* The table is a snapshot, replaced whole when objects are loaded or
 * unloaded (symtab.c's essay).  A reader that may run while another
 * thread refreshes -- a signal handler, an unwinder, the profile writer
 * -- holds a pin around its reads: async-signal-safe, nestable. */
void gort_runtime_symtab_init(void);
void gort_runtime_symtab_pin(void);
void gort_runtime_symtab_unpin(void);
/* Make a new snapshot if the loader's list changed: 1 if it did, 0 if
 * not, -ENOMEM.  Takes a lock and allocates: never in a handler. */
int gort_runtime_symtab_refresh(void);
extern void (*gort_runtime_symtab_hook)(void);   /* test hook, debug runtime */
struct gort_obj;
const struct gort_obj *gort_runtime_findobj(uintptr_t pc);
/* The unwind row for pc, or NULL; *base is its object's first code byte.
 * cache as for gort_runtime_unwind_step (or NULL). */
const struct gort_cfirow *gort_runtime_findrow(uintptr_t pc, uintptr_t *base, const struct gort_obj **cache);
/* The span of code of the object that holds pc: 1, or 0 if none does. */
int gort_runtime_objcode(uintptr_t pc, uintptr_t *lo, uintptr_t *hi);
/* Every row of the object that holds pc (tests): 1, or 0 if none does. */
int gort_runtime_objrows(uintptr_t pc, const struct gort_cfirow **rows, size_t *n, uintptr_t *base);
const struct gort_func *gort_runtime_findfunc(uintptr_t pc);
const char *gort_runtime_funcpkg(const struct gort_func *f);
int gort_runtime_pc_in_atomic(uintptr_t pc);
int gort_runtime_funcrange(const char *const *prefixes, uintptr_t *lo, uintptr_t *hi);

/* --- traceback.c and unwind_<arch>.c: walking a stack.
 *
 * A frame cursor holds what the unwinder needs to step from a function to
 * its caller.  The walk never leaves [lo, hi), the bounds of the stack it
 * walks, and always moves toward hi; the first step that would break either
 * rule ends it.  That is what keeps a traceback of a corrupt or foreign
 * stack from turning into a wild read. */
struct gort_frame {
	uintptr_t pc;   /* where this frame is executing */
	uintptr_t sp;   /* its stack pointer */
	uintptr_t fp;   /* its frame pointer ($fp/x29/rbp) */
	uintptr_t lr;   /* the link register (aarch64, mips); 0 on x86-64 */
	int live;       /* 1: a frame interrupted by a signal, where every
	                   register is live and pc may be anywhere, even in a
	                   prologue or in a function with no frame at all;
	                   0: a frame reached by unwinding, where pc is a
	                   return address and lr means nothing */
};

/* Step *f to its caller.  Returns 1 on success, 0 when the walk must stop.
 * cache, if not NULL, is the walk's memo of the object the last step was
 * in (NULL to begin with): consecutive frames mostly lie in one object,
 * and the step then skips the search for it.  It is valid only within
 * one pin of the symbol table (gort_runtime_symtab_pin), as what it
 * points at may be freed after.  Async-signal-safe. */
int gort_runtime_unwind_step(struct gort_frame *f, uintptr_t lo, uintptr_t hi,
	const struct gort_obj **cache);

/* The same step by the unwind tables (unwind_cfi.c), which every
 * architecture's step tries first: 1 stepped, 0 the walk must stop, -1
 * no row for this frame (the architecture's own rule takes it). */
int gort_runtime_cfi_step(struct gort_frame *f, uintptr_t lo, uintptr_t hi,
	const struct gort_obj **cache);

/* Fill *f with the frame of the function that calls this one. */
void gort_runtime_frame_caller(struct gort_frame *f);

/* Into *f, the frame of the caller of the function this is inlined in,
 * as that caller's frame will be once the function has returned: what a
 * record of where a goroutine stopped keeps while the goroutine goes on
 * (gort_syscall_enter's, for the goroutine profile).  With frame records
 * (x86-64, aarch64) it is read straight off the function's own, a few
 * instructions; elsewhere it is a step of the unwinder (250 instructions
 * on x86-64, where it was measured).  0 if the walk could not step. */
static inline __attribute__((always_inline)) int gort_runtime_frame_returning(struct gort_frame *f,
	uintptr_t lo, uintptr_t hi)
{
#if defined(__x86_64__) || defined(__aarch64__)
	(void)lo, (void)hi;
	const uintptr_t *rec = __builtin_frame_address(0);   /* { caller's fp, return address } */
	f->pc = (uintptr_t)__builtin_return_address(0);
	f->sp = (uintptr_t)__builtin_dwarf_cfa();   /* the caller's sp at the call */
	f->fp = rec[0];
	f->lr = 0;
	f->live = 0;
	return 1;
#else
	gort_runtime_frame_caller(f);
	return gort_runtime_unwind_step(f, lo, hi, NULL);
#endif
}

/* Collect up to max PCs starting with f->pc.  pcs[0] is f->pc as given;
 * each later one is a return address, or, for a frame the walk took from
 * a signal context (the interrupted code above the preemption
 * trampoline), its exact pc + 1: so that "pcs[i] - 1" names the right
 * function for every i > 0.  Async-signal-safe. */
int gort_runtime_unwind(struct gort_frame f, uintptr_t lo, uintptr_t hi, uintptr_t *pcs, int max);

/* Is pcs[i] of such a walk an exact pc (+ 1 if i > 0)?  first_is_return:
 * pcs[0] is a return address (a walk from gort_runtime_frame_caller or a
 * saved context), not an interrupted pc. */
int gort_runtime_pc_exact(const uintptr_t *pcs, int i, int first_is_return);

/* The preemption trampoline, sched/preempt_<arch>.S: is pc in it, and the
 * unwinders' first rule -- if f is a frame in it, step to the frame it
 * interrupted, taken from the signal context the trampoline will return
 * to (traceback.c).  1: stepped; -1: in the trampoline, but no context
 * to be found within [lo, hi), the walk must stop; 0: not in it. */
int gort_runtime_in_asyncpreempt(uintptr_t pc);
int gort_runtime_unwind_asyncpreempt(struct gort_frame *f, uintptr_t lo, uintptr_t hi);

/* Print a traceback of the calling thread, skipping `skip` frames above
 * the caller. */
void gort_runtime_traceback_self(int skip);

/* Print one PC as "name()\n\t+0xoff pc=0x...\n" (Go's layout, without a
 * file and line: gort reads no DWARF). */
void gort_runtime_printframe(uintptr_t pc, int is_return_address);

/* Print a traceback from a signal context (a live frame), within [lo, hi). */
void gort_runtime_traceback_frame(struct gort_frame f, uintptr_t lo, uintptr_t hi);

/* --- grow.c: make room for `need` elements of `elem` bytes in the array
 * *p of capacity *cap, doubling.  0, or -1 (array untouched) when out of
 * memory.  (p is the address of the array pointer, of any type.) */
int gort_runtime_grow(void *p, size_t *cap, size_t need, size_t elem);

/* --- debug.c: GORTDEBUG=name=value,... read at start-up. */
int gort_runtime_debug(const char *name, int dflt);
void gort_runtime_debug_init(void);   /* read GORTDEBUG again (tests) */

/* --- signal.c: the one dispatch point for gort's signals (see the essay
 * there).  The package that owns a signal registers its handler once, at
 * start-up, before it makes the signal happen; a second registration of
 * the same handler does nothing.  The handler runs on the M's signal
 * stack with errno saved, and returns 1 if the signal was its own, 0 if
 * not: the signal then goes where it would have gone without gort (the
 * previous handler, or the default action).  Async-signal-safe, as every
 * handler must be. */
typedef int gort_runtime_sigfn(int sig, siginfo_t *si, void *ctx);
enum {
	GORT_SIG_BLOCKALL = 1,   /* every other signal waits while it runs */
	GORT_SIG_NODEFER = 2,    /* it may interrupt itself (a fault in a fault's report) */
	GORT_SIG_RESTART = 4,    /* a system call it interrupts restarts */
};
void gort_runtime_sigregister(int sig, gort_runtime_sigfn *fn, unsigned flags);
/* The runtime's own: SIGSEGV and SIGBUS (stack overflow, bad address). */
void gort_runtime_signals_init(void);
/* Per thread (M): allocate and install a signal stack; unblock signals. */
void gort_runtime_minit(void **sigstack, size_t *size);

/* --- hooks: what the runtime asks of package sched, which knows the
 * goroutines.  The runtime stands below sched and may not call it
 * (docs/HACKING.md, "Layers"), so sched fills these in when it starts
 * (gort_sched_signals_init), before it runs a goroutine or installs a
 * handler.  Until then every hook is NULL, and the runtime knows only
 * threads.  Each runs on a dying path or in a signal handler:
 * async-signal-safe.  Written once, before any goroutine runs;
 * read-only after. */
struct gort_runtime_hooks {
	/* Print the traceback of the goroutine running on this thread, or
	 * of the thread, from the caller's caller, skipping `skip` more
	 * frames (panic.c's die). */
	void (*traceback)(int skip);
	/* A fault at addr, the interrupted registers f: if it is the running
	 * goroutine's stack overflowing, report it and exit; else return. */
	void (*overflow)(uintptr_t addr, struct gort_frame f);
	/* A fatal signal's report: print what this thread ran when the
	 * signal interrupted it at f (its goroutine, or the M's own stack).
	 * 0, having printed nothing, if the thread is not an M. */
	int (*traceback_signal)(struct gort_frame f);
};
extern struct gort_runtime_hooks gort_runtime_hooks;

/* SIGPIPE (signal.c): raised by a thread around a write(2) made for gort,
 * whose EPIPE the caller wants as a value; the handler installed by
 * gort_runtime_sigpipe_init (idempotent) lets that one signal go. */
extern __thread volatile sig_atomic_t gort_runtime_in_write __attribute__((tls_model("initial-exec")));
void gort_runtime_sigpipe_init(void);

#endif /* GORT_RUNTIME_RUNTIME_H */
