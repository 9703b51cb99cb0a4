/*
 * test_symtab.c -- the runtime's symbol table against nm's view of this
 * very binary, package attribution, lookups from a signal handler, and the
 * atomic-package check in a stripped copy.
 *
 * Environment (set by tests/meson.build):
 *   GORT_NM_FILE         `nm -f sysv --defined-only` of this executable
 *   GORT_SYMTAB_STRIPPED set when this is the stripped copy
 */
#include <pthread.h>
#include <signal.h>

#include "atomic/atomic.h"
#include "runtime/runtime.h"
#include "runtime/sigctxt.h"
#include "testutil.h"

/* Addresses in nm are file addresses; this function's gives the bias. */
__attribute__((noinline)) void symtab_anchor(void)
{
	__asm__ __volatile__("");
}

struct nmsym {
	uintptr_t value, size;
	char *name;
};

static struct nmsym *read_nm(size_t *n)
{
	const char *path = getenv("GORT_NM_FILE");
	ck_assert_msg(path != NULL, "GORT_NM_FILE not set");
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	size_t cap = 4096;
	struct nmsym *v = malloc(cap * sizeof *v);
	char line[4096], name[4096];
	unsigned long long value, size;
	*n = 0;
	/* name |value|class|type|size|line|section */
	while (fgets(line, sizeof line, f)) {
		struct nmsym s;
		char *field[7];
		int nf = 0;
		for (char *p = line, *q; nf < 7 && (q = strchr(p, '|')) != NULL; p = q + 1) {
			*q = '\0';
			field[nf++] = p;
		}
		if (nf < 5 || !strstr(field[3], "FUNC"))
			continue;
		if (sscanf(field[0], "%4095s", name) != 1 || sscanf(field[1], "%llx", &value) != 1)
			continue;
		if (sscanf(field[4], "%llx", &size) != 1)
			size = 0;   /* kept: it may be an alias of a sized one */
		s.name = strdup(name);
		s.value = (uintptr_t)value;
		s.size = (uintptr_t)size;
		if (*n == cap)
			v = realloc(v, (cap *= 2) * sizeof *v);
		v[(*n)++] = s;
	}
	fclose(f);
	ck_assert_uint_gt(*n, 100);
	return v;
}

static int by_value(const void *a, const void *b)
{
	const struct nmsym *x = a, *y = b;
	return x->value < y->value ? -1 : x->value > y->value;
}

START_TEST(agrees_with_nm)
{
	size_t n;
	struct nmsym *v = read_nm(&n);
	qsort(v, n, sizeof *v, by_value);

	uintptr_t bias = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, "symtab_anchor") == 0)
			bias = (uintptr_t)symtab_anchor - v[i].value;
	ck_assert_msg(bias != 0 || (uintptr_t)symtab_anchor < 0x1000000, "symtab_anchor not in nm");

	size_t checked = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].size == 0)
			continue;
		uintptr_t entry = bias + v[i].value;
		struct gort_funcinfo fi;
		ck_assert_msg(gort_funcinfo_for_pc(entry, &fi), "%s at %#lx: not found", v[i].name,
			(unsigned long)entry);
		ck_assert_msg(fi.entry == entry, "%s at %#lx: found %s at %#lx", v[i].name,
			(unsigned long)entry, fi.name, (unsigned long)fi.entry);
		/* the name must be one of the names nm gives this address */
		int named = 0;
		for (size_t j = i; j > 0 && v[j - 1].value == v[i].value; j--)
			named |= strcmp(v[j - 1].name, fi.name) == 0;
		for (size_t j = i; j < n && v[j].value == v[i].value; j++)
			named |= strcmp(v[j].name, fi.name) == 0;
		ck_assert_msg(named, "%s at %#lx: named %s", v[i].name, (unsigned long)entry, fi.name);
		/* the last byte belongs to the same function, unless nm itself
		 * shows another function starting inside this one */
		size_t k = i + 1;
		while (k < n && v[k].value == v[i].value)
			k++;
		if (k == n || v[k].value >= v[i].value + v[i].size) {
			ck_assert_msg(gort_funcinfo_for_pc(entry + v[i].size - 1, &fi) && fi.entry == entry,
				"%s: last byte not in it", v[i].name);
		}
		checked++;
	}
	ck_assert_uint_gt(checked, 100);
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}
END_TEST

static int data_not_code = 1;

START_TEST(packages)
{
	struct gort_funcinfo fi;
	uintptr_t add = (uintptr_t)gort_atomic_spin_add64;

	ck_assert(gort_funcinfo_for_pc(add + 4, &fi));
	ck_assert_str_eq(fi.package, "atomic");
	ck_assert(gort_pc_in_atomic(add + 4));
	ck_assert(gort_runtime_pc_in_atomic(add));

	/* the public name is the same code as this build's backend */
	ck_assert(gort_funcinfo_for_pc((uintptr_t)gort_atomic_add64, &fi));
	ck_assert_str_eq(fi.package, "atomic");
	ck_assert_int_eq(gort_pc_in_atomic((uintptr_t)gort_atomic_add64), GORT_ATOMIC64_SPINLOCK);

	/* a 32-bit operation is in package atomic but holds no lock */
	ck_assert(gort_funcinfo_for_pc((uintptr_t)gort_atomic_load32, &fi));
	ck_assert_str_eq(fi.name, "gort_atomic_load32");
	ck_assert_str_eq(fi.package, "atomic");
	ck_assert(!gort_pc_in_atomic((uintptr_t)gort_atomic_load32));

	ck_assert(gort_funcinfo_for_pc((uintptr_t)gort_runtime_findfunc, &fi));
	ck_assert_str_eq(fi.package, "runtime");
	ck_assert(gort_funcinfo_for_pc((uintptr_t)gort_symtab_len, &fi));
	ck_assert_str_eq(fi.package, "gort");
	ck_assert(gort_funcinfo_for_pc((uintptr_t)symtab_anchor, &fi));
	ck_assert_str_eq(fi.name, "symtab_anchor");
	ck_assert_str_eq(fi.package, "");
	ck_assert(!gort_pc_in_atomic((uintptr_t)symtab_anchor));

	/* functions of shared objects are there too, with their load bias */
	ck_assert(gort_funcinfo_for_pc((uintptr_t)pthread_create, &fi));
	ck_assert_ptr_nonnull(strstr(fi.name, "pthread_create"));

	/* a PC outside every function maps to nothing */
	ck_assert(!gort_funcinfo_for_pc((uintptr_t)&data_not_code, &fi));
	ck_assert(!gort_funcinfo_for_pc(0, &fi));
	ck_assert(!gort_funcinfo_for_pc(UINTPTR_MAX, &fi));
	ck_assert(!gort_pc_in_atomic(0));
}
END_TEST

/* --- from inside a signal handler ----------------------------------------- */

static volatile sig_atomic_t got_signal, spinning;
static const char *volatile handler_name;
static const char *volatile handler_pkg;
static volatile int handler_atomic = -1;

static __attribute__((noinline)) void spin_here(void)
{
	spinning = 1;
	while (!got_signal)
		__asm__ __volatile__("" ::: "memory");
}

static void on_usr1(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)si;
	struct gort_funcinfo fi;
	uintptr_t pc = sigctxt_pc(ctx);
	if (gort_funcinfo_for_pc(pc, &fi)) {
		handler_name = fi.name;
		handler_pkg = fi.package;
	}
	handler_atomic = gort_pc_in_atomic(pc);
	got_signal = 1;
}

static void *poke(void *arg)
{
	pthread_t target = *(pthread_t *)arg;
	while (!spinning)
		usleep(1000);
	pthread_kill(target, SIGUSR1);
	return NULL;
}

START_TEST(from_signal_handler)
{
	struct sigaction sa = { 0 };
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	pthread_t self = pthread_self(), t;
	ck_assert_int_eq(pthread_create(&t, NULL, poke, &self), 0);
	spin_here();   /* the signal lands here, in a known function */
	pthread_join(t, NULL);
	ck_assert_ptr_nonnull(handler_name);
	ck_assert_str_eq(handler_name, "spin_here");
	ck_assert_str_eq(handler_pkg, "");
	ck_assert_int_eq(handler_atomic, 0);
}
END_TEST

/* --- the stripped copy ------------------------------------------------------ */

START_TEST(stripped)
{
	struct gort_funcinfo fi;
	/* it really is stripped: a static function has no name any more */
	ck_assert(!gort_funcinfo_for_pc((uintptr_t)spin_here, &fi));
	/* and yet the atomic package's locking code is still known */
	ck_assert(gort_pc_in_atomic((uintptr_t)gort_atomic_spin_add64 + 4));
	ck_assert(gort_pc_in_atomic((uintptr_t)gort_atomic_spin_load64));
	ck_assert(!gort_pc_in_atomic((uintptr_t)gort_atomic_load32));
	ck_assert(!gort_pc_in_atomic((uintptr_t)spin_here));
	/* shared objects keep their .dynsym: libc is still named */
	ck_assert(gort_funcinfo_for_pc((uintptr_t)pthread_create, &fi));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("symtab");
	TCase *tc = tcase_create("symtab");
	tcase_set_timeout(tc, 60);
	if (getenv("GORT_SYMTAB_STRIPPED")) {
		tcase_add_test(tc, stripped);
	} else {
		tcase_add_test(tc, agrees_with_nm);
		tcase_add_test(tc, packages);
		tcase_add_test(tc, from_signal_handler);
	}
	suite_add_tcase(s, tc);
	return run_suite(s);
}
