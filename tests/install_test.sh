#!/bin/sh
# install_test.sh SRCDIR BUILDDIR -- gort as a library, the two ways a
# program uses it:
#   1. installed: `meson install` into a scratch prefix, then compile a
#      program with nothing but `pkg-config --cflags --libs gort`;
#   2. as a meson subproject: a scratch project whose subprojects/gort is
#      this source tree, using dependency('gort', fallback: ...).
# Each program must build, run, and print what it should.
set -eu
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/hello.c" <<'C'
#include <gort.h>
#include <stdio.h>

static void square(void *arg)
{
	gort_chan *c = arg;
	for (long i = 1; i <= 3; i++) {
		long v = i * i;
		gort_chan_send(c, &v);
	}
	gort_chan_close(c);
}

static int start(void *arg)
{
	(void)arg;
	gort_chan *c = gort_chan_make(sizeof(long), 0);
	gort_go(square, c);
	long v, sum = 0;
	while (gort_chan_recv(c, &v))
		sum += v;
	printf("sum of squares: %ld\n", sum);
	gort_chan_free(c);
	return 0;
}

int main(void)
{
	return gort_main(start, NULL);
}
C

echo "== 1. installed, with pkg-config"
meson install -C "$build" --destdir "$tmp/root" --quiet
pc=$(find "$tmp/root" -name gort.pc | head -1)
[ -n "$pc" ] || { echo "install_test: no gort.pc installed"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
for f in include/gort.h; do
	find "$tmp/root" -path "*/$f" | grep -q . || { echo "install_test: $f not installed"; exit 1; }
done
find "$tmp/root" -name 'libgort.so*' | grep -q . || { echo "install_test: no shared library"; exit 1; }
find "$tmp/root" -name 'libgort.a' | grep -q . || { echo "install_test: no static library"; exit 1; }
find "$tmp/root" -name 'gort-deadlock-suite' | grep -q . || { echo "install_test: no gort-deadlock-suite"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
cc -Wall -Wextra -Werror "$tmp/hello.c" $(pkg-config --cflags --libs gort) -o "$tmp/hello"
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/hello")
echo "$out"
[ "$out" = "sum of squares: 14" ]

# Statically, with what --static adds (Libs.private, Requires.private):
# libgort.a needs zlib, libatomic_ops, threads and (where it was built
# with it) libdw, which brings libelf and its compressors.
cc -Wall -Wextra -Werror "$tmp/hello.c" $(pkg-config --cflags gort) \
	"$(find "$tmp/root" -name libgort.a | head -1)" \
	$(pkg-config --static --libs gort | sed 's/ -lgort / /') -o "$tmp/hello-static"
out=$("$tmp/hello-static")
[ "$out" = "sum of squares: 14" ] || { echo "install_test: the static link printed: $out"; exit 1; }
echo "static link with pkg-config --static --libs gort: ok"

# The code-generation flags a program needs (meson.build's gort_cflags)
# come with the --cflags: unwind tables and frame pointers, for tracebacks
# and the profiler;
# stack probes, so that a frame larger than the guard under a goroutine's
# stack meets the guard instead of stepping over it.
cflags=$(pkg-config --cflags gort)
echo "pkg-config --cflags gort: $cflags"
for flag in -fasynchronous-unwind-tables -fno-omit-frame-pointer -fstack-clash-protection; do
	case " $cflags " in
	*" $flag "*) ;;
	*) echo "install_test: pkg-config --cflags gort lacks $flag"; exit 1 ;;
	esac
done
# ... and do their job: a 64 KiB frame on a 64 KiB stack, writing only its
# low end, is a stack overflow, not a write into the next stack down.
cat >"$tmp/bigframe.c" <<'C'
#include <gort.h>
#include <stdio.h>

static int big(void)
{
	volatile char buf[65536];
	__asm__ __volatile__("" : : "r"(buf) : "memory");
	buf[0] = 1;
	return buf[0];
}

static void run(void *c)
{
	big();
	gort_chan_send(c, NULL);
}

static int start(void *arg)
{
	(void)arg;
	gort_chan *c = gort_chan_make(0, 0);
	gort_go(run, c);
	gort_chan_recv(c, NULL);
	printf("the big frame returned\n");
	return 0;
}

int main(void)
{
	return gort_main(start, NULL);
}
C
cc -Wall -Wextra -Werror "$tmp/bigframe.c" $(pkg-config --cflags --libs gort) -o "$tmp/bigframe"
status=0
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/bigframe" 2>&1) || status=$?
echo "$out" | head -3
case "$out" in
*"fatal error: stack overflow"*) [ "$status" = 2 ] || { echo "install_test: exit status $status, not 2"; exit 1; } ;;
*) echo "install_test: a 64 KiB frame was no stack overflow (exit status $status)"; exit 1 ;;
esac

echo "== 2. as a meson subproject"
mkdir -p "$tmp/app/subprojects"
ln -s "$src" "$tmp/app/subprojects/gort"
cp "$tmp/hello.c" "$tmp/app/"
cat >"$tmp/app/meson.build" <<'M'
project('app', 'c')
gort = dependency('gort', fallback: ['gort', 'gort_public_dep'])
executable('hello', 'hello.c', dependencies: gort)
M
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
meson setup "$tmp/app/build" "$tmp/app" -Dgort:tests=disabled --force-fallback-for=gort >/dev/null
ninja -C "$tmp/app/build" >/dev/null
out=$("$tmp/app/build/hello")
echo "$out"
[ "$out" = "sum of squares: 14" ]
# The dependency carries the same flags to the program's own code.
for flag in -fasynchronous-unwind-tables -fno-omit-frame-pointer -fstack-clash-protection; do
	grep '"file": ".*hello\.c"' -B2 "$tmp/app/build/compile_commands.json" | grep -q -- "$flag" ||
		{ echo "install_test: the gort dependency does not give hello.c $flag"; exit 1; }
done
echo "ok: installed and subproject builds both work"
