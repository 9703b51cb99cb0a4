#!/bin/sh
# deps.sh SET... -- install the Debian packages a make target needs, and
# say what is being installed.  Sets:
#   build   compile and run gort natively (libdw-dev: file and line
#           in profiles, read from DWARF when one is written)
#   test    the Check suites, the sanitizer build (clang), Go for the
#           benchmark counterparts and pprof checks, gdb for its helper,
#           curl for the HTTP example's test, gperftools for the quick
#           run of bench/callers.py (suite bench)
#   bench   Go, for the benchmarks' Go counterparts; wrk, the HTTP load
#           generator bench/http.py drives; strace, which counts the
#           system calls of bench/whole.py's programs; gperftools' CPU
#           profiler, which bench/callers.py compares gort's with
#   mipsel  cross compiler and qemu for 32-bit little-endian MIPS
#   mips    the same, big-endian
#   arm64   the same, aarch64
set -eu
want=
for set in "$@"; do
	case $set in
	build)  want="$want gcc make meson ninja-build pkg-config libatomic-ops-dev check zlib1g-dev libdw-dev binutils" ;;
	test)   want="$want clang libclang-rt-14-dev golang-go valgrind gdb curl libgoogle-perftools-dev" ;;
	bench)  want="$want golang-go wrk strace libgoogle-perftools-dev" ;;
	mipsel) want="$want gcc-mipsel-linux-gnu libc6-dev-mipsel-cross qemu-user" ;;
	mips)   want="$want gcc-mips-linux-gnu libc6-dev-mips-cross qemu-user" ;;
	arm64)  want="$want gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user" ;;
	*) echo "deps.sh: unknown set $set" >&2; exit 2 ;;
	esac
done

missing=
for p in $want; do
	case " $missing " in *" $p "*) continue ;; esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: installed$missing"
