/*
 * gort.h -- the public interface of gort, a miniature Go-style runtime.
 *
 * Everything a program may call is declared here and carries the gort_
 * prefix.  Internal headers live beside the code in atomic/, runtime/,
 * sched/ and prof/ and are not installed.
 */
#ifndef GORT_H
#define GORT_H

#include <stddef.h>
#include <stdint.h>

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
 * each one's load bias, and keeps one sorted array of functions.  Looking a
 * PC up is a binary search over that array: it takes no lock, allocates
 * nothing and makes no system call, so a signal handler may call it.
 * ---------------------------------------------------------------------- */
struct gort_funcinfo {
	uintptr_t   entry;   /* first instruction */
	uintptr_t   end;     /* one past the last */
	const char *name;    /* symbol name, valid for the life of the process */
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

#ifdef __cplusplus
}
#endif

#endif /* GORT_H */
