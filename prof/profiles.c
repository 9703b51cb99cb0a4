/*
 * profiles.c -- the profiles by name, to a descriptor or a file, and from
 * the environment (Go: runtime/pprof's Lookup and Profile.WriteTo, and
 * the -blockprofile, -mutexprofile, -memprofile flags of go test).
 *
 * Names are Go's: goroutine, block, mutex, heap, allocs.  Each profile's
 * own file gathers its samples and hands them to gort_prof_write; this
 * one only dispatches.
 *
 * The environment.  GORTPROF=path[:hz] has siblings, one per profile:
 *
 *   GORTPROF_BLOCK=path[:rate]      gort_prof_set_block_rate(rate), 1 if
 *                                   not given (every wait)
 *   GORTPROF_MUTEX=path[:fraction]  gort_prof_set_mutex_fraction, 1 if
 *                                   not given (every contention)
 *   GORTPROF_HEAP=path[:rate]       gort_prof_set_heap_rate, 524288 (Go's
 *                                   MemProfileRate) if not given
 *   GORTPROF_GOROUTINE=path         the goroutines left when main returns
 *
 * The rates are set as gort_main starts, before main runs, and each file
 * is written as gort_main ends, once main has returned.  A value that
 * cannot be used is reported then, naming the variable, and that profile
 * is left off; the program runs on.  A file replaces the previous one
 * only when whole, as the CPU profile does (a temporary beside it, then a
 * rename; a device or FIFO in place).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prof/prof.h"
#include "sched/sched.h"

int gort_prof_lookup_write(const char *name, int fd)
{
	if (!name)
		return -EINVAL;
	int which;
	if (strcmp(name, "goroutine") == 0)
		which = 0;
	else if (strcmp(name, "block") == 0)
		which = 1;
	else if (strcmp(name, "mutex") == 0)
		which = 2;
	else if (strcmp(name, "heap") == 0)
		which = 3;
	else if (strcmp(name, "allocs") == 0)
		which = 4;
	else
		return -EINVAL;
	int fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	switch (which) {
	case 0: return gort_prof_goroutineprof_write(fd);
	case 1: return gort_prof_blockprof_write(fd);
	case 2: return gort_prof_mutexprof_write(fd);
	default: return gort_prof_heapprof_write(fd, which == 4);
	}
}

int gort_prof_lookup_write_file(const char *name, const char *path)
{
	if (!path || !*path)
		return -EINVAL;
	struct stat sb;
	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		int err = gort_prof_lookup_write(name, fd);
		close(fd);
		return err;
	}
	size_t n = strlen(path) + 32;
	char *tmp = malloc(n);
	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, n, "%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int err = -errno;
		free(tmp);
		return err;
	}
	int err = gort_prof_lookup_write(name, fd);
	if (close(fd) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) != 0)
		err = -errno;
	if (err)
		unlink(tmp);
	free(tmp);
	return err;
}

/* --- the environment ------------------------------------------------------------ */

/* Written as gort_main starts (before main runs) and read as it ends
 * (after main has returned), both on gort_main's thread: no lock. */
static struct envprof {
	const char *var, *name;
	int has_rate;
	long long dflt, max;
	char *path;              /* set: write it at the end */
} envs[] = {
	{ "GORTPROF_BLOCK", "block", 1, 1, (long long)1 << 62, NULL },
	{ "GORTPROF_MUTEX", "mutex", 1, 1, 1 << 30, NULL },
	{ "GORTPROF_HEAP", "heap", 1, 512 * 1024, (long long)1 << 40, NULL },
	{ "GORTPROF_GOROUTINE", "goroutine", 0, 0, 0, NULL },
};

void gort_prof_env_start(void)
{
	for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
		struct envprof *e = &envs[i];
		const char *s = getenv(e->var);
		if (!s || !*s)
			continue;
		long long rate = e->dflt;
		const char *colon = e->has_rate ? strrchr(s, ':') : NULL;
		size_t n = colon ? (size_t)(colon - s) : strlen(s);
		if (colon) {
			char *end;
			errno = 0;
			rate = strtoll(colon + 1, &end, 10);
			if (!colon[1] || *end || errno || rate <= 0 || rate > e->max) {
				fprintf(stderr, "gort: %s=%s: the %s must be 1 to %lld\n", e->var, s,
					i == 1 ? "fraction" : i == 2 ? "rate (bytes)" : "rate (ns)", e->max);
				continue;
			}
		}
		if (n == 0) {
			fprintf(stderr, "gort: %s=%s: no file name\n", e->var, s);
			continue;
		}
		e->path = strndup(s, n);
		if (!e->path)
			continue;
		/* Open it now, so that a path that cannot be written is said at
		 * the start, not after the whole run. */
		struct stat sb;
		int existed = stat(e->path, &sb) == 0;
		int fd = open(e->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0 && !existed)
			unlink(e->path);   /* only a test: nothing is left if the program dies */
		if (fd < 0) {
			fprintf(stderr, "gort: %s=%s: %s\n", e->var, s, strerror(errno));
			free(e->path);
			e->path = NULL;
			continue;
		}
		close(fd);
		if (i == 0)
			gort_prof_set_block_rate(rate);
		else if (i == 1)
			gort_prof_set_mutex_fraction((int)rate);
		else if (i == 2 && gort_prof_set_heap_rate(rate) < 0) {
			fprintf(stderr, "gort: %s=%s: %s\n", e->var, s, strerror(ENOSYS));
			free(e->path);
			e->path = NULL;
		}
	}
}

void gort_prof_env_stop(void)
{
	for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
		struct envprof *e = &envs[i];
		if (!e->path)
			continue;
		int err = gort_prof_lookup_write_file(e->name, e->path);
		if (err)
			fprintf(stderr, "gort: %s: writing the %s profile: %s\n", e->var, e->name, strerror(-err));
		free(e->path);
		e->path = NULL;
	}
}
