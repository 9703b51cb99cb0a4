#!/bin/sh
# No 64-bit atomic may be left to the compiler: on 32-bit targets gcc turns
# __atomic_* on 8-byte objects into calls into libatomic, which hides a
# pthread mutex (the #20146 hazard in C).  Fail if libgort calls any.
# usage: no_libatomic.sh NM LIBRARY
nm=$1 lib=$2
bad=$("$nm" -u "$lib" | grep -E '__atomic_|__sync_' || true)
if [ -n "$bad" ]; then
	echo "FAIL: $lib calls compiler atomics helpers:"
	echo "$bad"
	exit 1
fi
n=$("$nm" "$lib" | grep -c ' T gort_atomic_' || true)
echo "ok: $lib calls no __atomic_/__sync_ helpers ($n exported atomic functions)"
[ "$n" -gt 0 ]
