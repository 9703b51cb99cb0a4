#!/bin/sh
# gortprof_test.sh [WRAPPER...] PROGRAM -- GORTPROF=path profiles a program
# that never calls the profiler.  PROGRAM links libgort.a statically and
# names nothing of package prof, which the scheduler reaches only through
# the hooks the profiler fills in from a constructor (docs/HACKING.md,
# "Layers"): the profile is written only if the static link took the
# profiler all the same.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GORTPROF="$tmp/cpu.prof" "$@" >"$tmp/out" 2>&1 || { cat "$tmp/out"; echo "FAIL: the program failed"; exit 1; }
cat "$tmp/out"
[ -s "$tmp/cpu.prof" ] || { echo "FAIL: GORTPROF=path wrote no profile"; exit 1; }
echo "ok: GORTPROF wrote $(wc -c <"$tmp/cpu.prof") bytes of profile"
