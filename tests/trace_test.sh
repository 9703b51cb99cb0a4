#!/bin/sh
# trace_test.sh DEMO [WRAPPER...] -- run the profiled demo with GORTTRACE
# and check the trace it writes (tests/trace_check.py).
set -eu
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
demo=$1
shift
GORTTRACE="$tmp/trace.json" "$@" "$demo" "$tmp/demo.prof" >/dev/null
python3 "$here/trace_check.py" "$tmp/trace.json"
