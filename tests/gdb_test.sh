#!/bin/sh
# gdb_test.sh SCRIPT PROGRAM -- runtime/gort-gdb.py in gdb's batch mode:
# stop PROGRAM where its goroutines are parked, list them, and walk one.
set -u
out=$(gdb -batch -nx -ex "source $1" -ex "break gdb_here" -ex run \
	-ex "info goroutines" -ex "goroutine 2 bt" -ex "goroutine 4 bt" -ex kill "$2" 2>&1)
echo "$out"
fail=0
for want in "info goroutines" "goroutine N bt" \
	"1 running" "2 waiting [chan receive]" "receiver ()" \
	"3 waiting [sleep]" "sleeper ()" "4 waiting [semacquire]" "locker ()" \
	"in gort_chan_recv ()" "in receiver ()" "in gort_mutex_lock ()" "in locker ()"; do
	case $out in
	*"$want"*) ;;
	*) echo "gdb_test: missing: $want"; fail=1 ;;
	esac
done
[ $fail -eq 0 ] && echo "ok: gdb lists the goroutines and walks a parked one"
exit $fail
