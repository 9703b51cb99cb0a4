/*
 * testutil.h -- what every gort suite shares: running a child process and
 * capturing what it printed, scaling work down under emulation, and a
 * main() that runs a Check suite.
 */
#ifndef GORT_TESTUTIL_H
#define GORT_TESTUTIL_H

#include <check.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Work is divided by SCALE under qemu-user and valgrind, where everything
 * runs tens of times slower; every case still runs.  GORT_TEST_SCALE in
 * the environment overrides it (make test-valgrind sets it). */
static inline int test_scale(void)
{
	const char *s = getenv("GORT_TEST_SCALE");
	int v = s ? atoi(s) : 0;
#ifdef GORT_TEST_EMULATED
	return v > 0 ? v : 10;
#else
	return v > 0 ? v : 1;
#endif
}
#define SCALE test_scale()

struct child {
	int status;          /* as from waitpid */
	char out[16384];     /* stdout and stderr, interleaved, NUL-terminated */
	size_t len;
};

/* Run fn(arg) in a child process with stdout and stderr captured; the
 * child exits 0 if fn returns.  Gives up (and fails) after `seconds`,
 * killing the child and saying so: a hang is reported, not waited out. */
static inline void run_child(void (*fn)(void *), void *arg, struct child *c, int seconds)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 1);
		dup2(p[1], 2);
		signal(SIGALRM, SIG_DFL);
		alarm((unsigned)seconds);    /* SIGALRM ends a hung child */
		fn(arg);
		fflush(NULL);
		_exit(0);
	}
	close(p[1]);
	c->len = 0;
	ssize_t r;
	while ((r = read(p[0], c->out + c->len, sizeof c->out - 1 - c->len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (c->len += (size_t)r) == sizeof c->out - 1)
			break;
	}
	c->out[c->len] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &c->status, 0), pid);
	ck_assert_msg(!(WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGALRM),
		"child hung for %d s; it printed:\n%s", seconds, c->out);
}

#define ck_assert_exit_status(c, code) \
	ck_assert_msg(WIFEXITED((c)->status) && WEXITSTATUS((c)->status) == (code), \
		"want exit status %d, got %s %d; output:\n%s", (code), \
		WIFEXITED((c)->status) ? "exit" : "signal", \
		WIFEXITED((c)->status) ? WEXITSTATUS((c)->status) : WTERMSIG((c)->status), (c)->out)

#define ck_assert_output_has(c, s) \
	ck_assert_msg(strstr((c)->out, (s)) != NULL, "output lacks \"%s\":\n%s", (s), (c)->out)

int gort_main(int (*main)(void *), void *arg);
int gort_gomaxprocs(int n);

/* make test-valgrind sets GORT_TEST_VALGRIND.  Under valgrind gort does
 * not preempt asynchronously (valgrind delivers signals with frames of its
 * own), and a test that overflows a stack on purpose is, to memcheck, an
 * invalid write: such tests say so and pass. */
#define SKIP_UNDER_VALGRIND(why) do { \
	if (getenv("GORT_TEST_VALGRIND")) { \
		printf("SKIP under valgrind: %s\n", (why)); \
		return; \
	} \
} while (0)

/* gort_main runs once per process, and Check runs each test in a child
 * of its own: RUN(procs, fn, arg) sets the number of Ps and runs fn as
 * main, which must return 0. */
static inline int run_main(int procs, int (*fn)(void *), void *arg)
{
	gort_gomaxprocs(procs);
	return gort_main(fn, arg);
}
#define RUN(procs, fn, arg) ck_assert_int_eq(run_main((procs), (fn), (arg)), 0)

/* How programs die.  A child runs main as gort_main's function, on procs
 * Ps, with env (may be NULL) added to its environment; the caller wants
 * exit status 2 and each string of want (NULL-terminated) in what it
 * printed.  c receives the child, for more checks. */
void gort_runtime_debug_init(void);

struct death {
	int (*main)(void *);
	const char *env;
	int procs;
};

static inline void die_child(void *arg)
{
	const struct death *d = arg;
	if (d->env) {
		putenv((char *)d->env);
		gort_runtime_debug_init();   /* GORTDEBUG was read at load time */
	}
	gort_gomaxprocs(d->procs);
	exit(gort_main(d->main, NULL));
}

static inline void expect_death_in(int (*main)(void *), const char *env, int procs,
	struct child *c, const char *const *want)
{
	struct death d = { main, env, procs };
	run_child(die_child, &d, c, 60);
	ck_assert_exit_status(c, 2);
	for (; *want; want++)
		ck_assert_output_has(c, *want);
}

/* Run a suite; the exit status is the number of failures, capped. */
/* Where this executable's section `name` was loaded, and its size, read
 * from its own section headers: 1, or 0 if it has none of that name. */
static inline int exe_section(const char *name, uintptr_t *addr, size_t *size)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	const unsigned char *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (img == MAP_FAILED)
		return 0;
	const ElfW(Ehdr) *eh = (const void *)img;
	const ElfW(Shdr) *sh = (const void *)(img + eh->e_shoff);
	const char *names = (const char *)img + sh[eh->e_shstrndx].sh_offset;
	int found = 0;
	for (int i = 0; i < eh->e_shnum && !found; i++)
		if (strcmp(names + sh[i].sh_name, name) == 0) {
			*addr = _r_debug.r_map->l_addr + sh[i].sh_addr;
			*size = sh[i].sh_size;
			found = 1;
		}
	munmap((void *)img, (size_t)st.st_size);
	return found;
}

/* Is `go` installed?  If not, says that `test` is skipped (make test
 * installs it; a developer's machine may lack it). */
static inline int have_go(const char *test)
{
	if (system("go version >/dev/null 2>&1") == 0)
		return 1;
	printf("%s: SKIPPED: no `go` on this machine (make test installs it)\n", test);
	return 0;
}

/* `go tool pprof ARGS 2>&1`'s output, in a buffer the next call reuses;
 * the test fails if pprof does. */
static inline const char *go_pprof(const char *args)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "go tool pprof %s 2>&1", args);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	static char out[1 << 16];
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	ck_assert_msg(pclose(p) == 0, "%s failed:\n%s", cmd, out);
	return out;
}

static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

#endif /* GORT_TESTUTIL_H */
