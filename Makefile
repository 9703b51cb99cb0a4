# gort -- a thin layer over meson.  The two commands of the README:
#
#   make demo    build gort and run its demo
#   make test    every suite: native (default backend), native with the
#                spinlock backend in Go's one-lock layout (and again with
#                native32 profile-buffer positions), native under ASan+UBSan
#                (clang), and cross under qemu-user: mipsel, aarch64, and
#                big-endian mips (demos only, see cross/); then every
#                command and code sample in README.md and docs/.  Each
#                native folder also builds every benchmark, with its Go
#                counterpart, and runs it once at a thousandth of its size
#                (bench/meson.build), so that make bench cannot break unseen
#
# Also: make test-native, make test-mipsel, make test-arm64, make test-mips,
# make test-docs, make test-valgrind, make bench (two of its sections alone:
# make bench-callers, make bench-programs), make clean.  Each target
# installs what it is missing first (scripts/deps.sh, apt-get, saying what
# it installs).

B := build
NATIVE := $(B)/native $(B)/spinlock $(B)/spinlock32 $(B)/asan

.PHONY: demo test test-native test-mipsel test-arm64 test-mips test-valgrind test-docs bench bench-callers bench-programs clean

demo: $(B)/native/build.ninja
	ninja -C $(B)/native
	$(B)/native/examples/demo $(B)/demo.prof

# meson looks for Go once, when it configures a folder; a native folder
# configured before Go was installed (make demo on a fresh machine, then
# make test or make bench) must look again, or it has no Go counterparts
# for the benchmarks.
with_go = ninja -C $(1) -t query bench/bench_sched_go >/dev/null 2>&1 || meson setup --reconfigure $(1)

test: $(NATIVE:%=%/build.ninja) $(B)/mipsel/build.ninja $(B)/arm64/build.ninja $(B)/mips/build.ninja
	scripts/deps.sh build test
	for d in $(NATIVE); do $(call with_go,$$d); done
	scripts/test.sh $(NATIVE) $(B)/mipsel $(B)/arm64 $(B)/mips docs

test-native: $(NATIVE:%=%/build.ninja)
	scripts/deps.sh build test
	for d in $(NATIVE); do $(call with_go,$$d); done
	scripts/test.sh $(NATIVE)

test-mipsel test-arm64 test-mips: test-%: $(B)/%/build.ninja
	scripts/test.sh $(B)/$*

# Every shell command and code sample in README.md and docs/ (the last
# step of `make test` too).
test-docs: $(B)/native/build.ninja $(B)/spinlock/build.ninja
	ninja -C $(B)/native
	ninja -C $(B)/spinlock
	scripts/test_docs.py

# The suites under valgrind's memcheck (not part of `make test`: slow).
# Goroutine stacks are registered with VALGRIND_STACK_REGISTER.
test-valgrind: $(B)/native/build.ninja
	scripts/deps.sh build test
	ninja -C $(B)/native
	GORT_TEST_SCALE=20 GORT_TEST_VALGRIND=1 meson test -C $(B)/native --print-errorlogs \
		--wrapper 'valgrind -q --error-exitcode=9' atomic symtab sched

bench: $(B)/native/build.ninja $(B)/spinlock/build.ninja $(B)/spinlock32/build.ninja
	scripts/deps.sh build bench
	$(call with_go,$(B)/native)
	ninja -C $(B)/native
	ninja -C $(B)/spinlock
	ninja -C $(B)/spinlock32
	@echo "== native build (64 hashed spinlocks beside the native backend)"
	$(B)/native/bench/bench_atomic64
	@echo "== spinlock build, Go's layout: one lock for every word"
	$(B)/spinlock/bench/bench_atomic64
	@echo "== the scheduler against Go 1.19 (medians of alternating runs)"
	ninja -C $(B)/native bench/bench_sched_go bench/bench_prof_go
	bench/compare.py $(B)/native/bench/bench_sched $(B)/native/bench/bench_sched_go
	@echo "== RWMutex, Cond, the weighted semaphore, contexts, timeouts and locals against Go 1.19"
	@echo "   (Go's semaphore: a buffered channel, as Go programs do; no locals in Go: go=nan)"
	ninja -C $(B)/native bench/bench_sync_go
	bench/compare.py $(B)/native/bench/bench_sync $(B)/native/bench/bench_sync_go
	@echo "== timer lateness beside CPU hogs that make no runtime call, against Go 1.19: 10 ms sleeps,"
	@echo "   1 P and all Ps, a hog per P (1x) or two (2x); _asyncpreemptoff: gort cooperative only, where"
	@echo "   nothing but a 1 s watchdog ever wakes the sleeper (Go has no such row: go=nan)"
	ninja -C $(B)/native bench/bench_preempt_go
	bench/compare.py $(B)/native/bench/bench_preempt $(B)/native/bench/bench_preempt_go
	@echo "== the profiler's cost against Go's runtime/pprof"
	bench/compare.py --runs 3 $(B)/native/bench/bench_prof $(B)/native/bench/bench_prof_go
	@echo "== the poller against Go's net: loopback echo, 64-byte ping-pong at 1 to 10,000 connections"
	@echo "   (server and client in two processes; threads and idle RSS are the server's)"
	ninja -C $(B)/native bench/bench_net_go
	bench/compare.py $(B)/native/bench/bench_net $(B)/native/bench/bench_net_go
	@echo "== examples/httpd against Go's net/http under wrk (keep-alive, 100 connections, 2 threads)"
	ninja -C $(B)/native bench/bench_httpd_go
	bench/http.py $(B)/native/examples/httpd $(B)/native/bench/bench_httpd_go / /count /nothing-here
	@echo "== the two ways out of #20146 on spinlock atomics: the handler's cost"
	@echo "   atomic64 positions (Go's design, needs the fix):"
	$(B)/spinlock/bench/bench_prof | grep sigprof_handler
	@echo "   native32 positions (never meets the lock):"
	$(B)/spinlock32/bench/bench_prof | grep sigprof_handler
	$(bench_callers)
	$(bench_programs)

# Do the profiles keep the callers of libc (issue 13)?  gort's profiler,
# gperftools' (per-thread timers, and its setitimer default) and Go's, on
# the same five kinds of call (bench/callers.py; GORT_BENCH_RUNS runs
# each, default 5, about a minute); the tables also go to
# build/native/bench/callers.md.
define bench_callers
	@echo "== callers of libc in the profile: gort, gperftools (DWARF CFI via libunwind) and Go 1.19"
	@echo "   (each kind's true share from its thread's CPU clock; medians of alternating runs)"
	ninja -C $(B)/native bench/bench_callers bench/bench_callers_go
	bench/callers.py --md $(B)/native/bench/callers.md \
		$(B)/native/bench/bench_callers $(B)/native/bench/bench_callers_go
endef

bench-callers: $(B)/native/build.ninja
	scripts/deps.sh build bench
	$(call with_go,$(B)/native)
	$(bench_callers)

# The last section of make bench, alone: make bench-programs.  Each case is
# a process, run at 1 P, all CPUs, 4 and 8, alternating with Go's
# (bench/whole.py; GORT_BENCH_RUNS runs each, default 5); the table and
# the chart go to build/native/bench/whole.md and whole.svg.
define bench_programs
	@echo "== whole programs and Go's channel benchmarks against Go 1.19"
	@echo "   (a process per case and P; medians of alternating runs; system calls from one run under strace)"
	ninja -C $(B)/native bench/bench_programs bench/bench_programs_go
	bench/whole.py --md $(B)/native/bench/whole.md --svg $(B)/native/bench/whole.svg \
		$(B)/native/bench/bench_programs $(B)/native/bench/bench_programs_go
	@echo "   table: $(B)/native/bench/whole.md, chart: $(B)/native/bench/whole.svg"
endef

bench-programs: $(B)/native/build.ninja
	scripts/deps.sh build bench
	$(call with_go,$(B)/native)
	$(bench_programs)

clean:
	rm -rf $(B)

# --- configuring each build folder once; ninja re-runs meson when needed.

$(B)/native/build.ninja:
	scripts/deps.sh build
	meson setup $(B)/native

$(B)/spinlock/build.ninja:
	scripts/deps.sh build
	meson setup $(B)/spinlock -Datomic64=spinlock -Datomic64_locks=1 -Ddebug_runtime=true

# The other way out of #20146: profile buffer positions in native 32-bit
# atomics, so the handler never meets an atomic64 lock.
$(B)/spinlock32/build.ninja:
	scripts/deps.sh build
	meson setup $(B)/spinlock32 -Datomic64=spinlock -Datomic64_locks=1 -Ddebug_runtime=true \
		-Dprofbuf_positions=native32

$(B)/asan/build.ninja:
	scripts/deps.sh build test
	CC=clang meson setup $(B)/asan -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all

$(B)/mipsel/build.ninja $(B)/arm64/build.ninja $(B)/mips/build.ninja: $(B)/%/build.ninja:
	scripts/deps.sh build $*
	scripts/sysroot.sh $*
	meson setup $(B)/$* --cross-file $(B)/sysroot/$*.ini \
		--cross-file cross/$(if $(filter arm64,$*),aarch64,$*)-linux-gnu.ini -Ddebug_runtime=true
