/*
 * lines_target.c -- the program tests/lines_test.py profiles, built with
 * -g -O2, so that its profile must carry files, lines and inline frames
 * (prof/symbolize.c).  Its shapes are chosen for that:
 *
 *   mix        static inline, always inlined: every sample in it is an
 *              inline frame of burn_inl's location
 *   burn_inl   static, noinline, called with a constant argument from its
 *              one call site: GCC's IPA-CP clones it as
 *              burn_inl.constprop.0 (the test checks with nm)
 *   rand_r     a libc call through the PLT in the hot loop
 *
 *   lines_target run PROFILE MS      profile MS ms of this process's CPU
 *                                    time (CPU time, not wall time: the
 *                                    sample count is certain on a loaded
 *                                    machine) and write PROFILE
 *   lines_target at PROFILE WHERE... write PROFILE with gort_prof_write,
 *                                    one sample per address; WHERE is
 *                                    exe+0xOFF (a link-time address in
 *                                    this executable) or vdso+0xOFF
 *   lines_target vdso FILE           write the vDSO's image to FILE, for
 *                                    nm -D to read
 */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <unistd.h>

#include "prof/prof.h"

static volatile uint64_t sink;

static inline __attribute__((always_inline)) uint64_t mix(uint64_t x)
{
	for (int i = 0; i < 64; i++) {
		x ^= x >> 29;
		x *= 0xbf58476d1ce4e5b9ull;
	}
	return x;
}

static int64_t cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
		((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static __attribute__((noinline)) uint64_t burn_inl(uint64_t n, unsigned step)
{
	uint64_t acc = 0;
	unsigned seed = 1;
	for (uint64_t i = 0; i < n; i += step) {
		acc += mix(acc + i);
		acc += (uint64_t)rand_r(&seed);   /* through the PLT */
	}
	return acc;
}

static int64_t run_ms;
static const char *run_path;

static int run(void *arg)
{
	(void)arg;
	int err = gort_prof_start(run_path, 1000);
	if (err) {
		fprintf(stderr, "gort_prof_start: %s\n", strerror(-err));
		return 1;
	}
	int64_t until = cpu_ms() + run_ms;
	while (cpu_ms() < until)
		sink += burn_inl(20000, 1);   /* the constant argument: a clone */
	err = gort_prof_stop();
	if (err) {
		fprintf(stderr, "gort_prof_stop: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}

/* --- at: a profile of given addresses ---------------------------------- */

struct at {
	uintptr_t *pc;
	int n, i;
	int64_t v[1];
};

static int at_next(void *arg, struct pprof_sample *s)
{
	struct at *a = arg;
	if (a->i == a->n)
		return 0;
	a->v[0] = 1;
	*s = (struct pprof_sample){ .stk = &a->pc[a->i++], .nstk = 1, .values = a->v,
		.numkey = "bytes", .numunit = "bytes", .num = 4096 };
	return 1;
}

static uintptr_t exe_bias;

static int find_exe(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size, (void)arg;
	exe_bias = info->dlpi_addr;   /* the first object is the executable */
	return 1;
}

static int at(const char *path, char **where, int n)
{
	dl_iterate_phdr(find_exe, NULL);
	uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	struct at a = { .pc = calloc((size_t)n, sizeof *a.pc), .n = n };
	for (int i = 0; i < n; i++) {
		uintptr_t off = strtoull(strchr(where[i], '+') + 1, NULL, 0);
		a.pc[i] = (strncmp(where[i], "exe+", 4) == 0 ? exe_bias : vdso) + off;
	}
	static const struct pprof_valtype types[1] = { { "objects", "count" } };
	static const char *const comments[] = { "lines_target: one sample per address" };
	struct pprof_spec spec = {
		.types = types, .ntypes = 1, .period_type = { "objects", "count" }, .period = 1,
		.default_type = "objects", .comments = comments, .ncomments = 1, .leaf_exact = 1,
	};
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	int err = gort_prof_write(&spec, at_next, &a, fd);
	close(fd);
	free(a.pc);
	if (err) {
		fprintf(stderr, "gort_prof_write: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}

static int dump_vdso(const char *path)
{
	const ElfW(Ehdr) *eh = (const void *)getauxval(AT_SYSINFO_EHDR);
	if (!eh)
		return 1;
	/* the image: through its section headers, which come last */
	size_t len = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	FILE *f = fopen(path, "w");
	if (!f || fwrite(eh, 1, len, f) != len || fclose(f) != 0)
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "run") == 0) {
		run_path = argv[2];
		run_ms = atoll(argv[3]);
		return gort_main(run, NULL);
	}
	if (argc >= 4 && strcmp(argv[1], "at") == 0)
		return at(argv[2], argv + 3, argc - 3);
	if (argc == 3 && strcmp(argv[1], "vdso") == 0)
		return dump_vdso(argv[2]);
	fprintf(stderr, "usage: lines_target run PROFILE MS | at PROFILE WHERE... | vdso FILE\n");
	return 2;
}
