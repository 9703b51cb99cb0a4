#!/bin/sh
# expect.sh EXPECTED CMD... -- run CMD and compare its standard output with
# the file EXPECTED, line for line; show the difference if they differ.
# expect.sh --contains TEXT... -- CMD... -- each TEXT must appear instead.
if [ "$1" = --contains ]; then
	shift
	n=0
	while [ "$1" != -- ]; do
		n=$((n + 1))
		eval "want$n=\$1"
		shift
	done
	shift
	out=$("$@") || { echo "expect.sh: $* exited with status $?"; exit 1; }
	i=1
	while [ $i -le $n ]; do
		eval "w=\$want$i"
		case $out in
		*"$w"*) ;;
		*) echo "expect.sh: $* printed:"; echo "$out"; echo "expect.sh: which lacks: $w"; exit 1 ;;
		esac
		i=$((i + 1))
	done
	echo "ok: $* printed all $n expected pieces"
	exit 0
fi
expected=$1
shift
out=$("$@") || { echo "expect.sh: $* exited with status $?"; exit 1; }
if [ "$out" != "$(cat "$expected")" ]; then
	echo "expect.sh: $* printed:"
	echo "$out"
	echo "expect.sh: but $expected says:"
	cat "$expected"
	exit 1
fi
echo "ok: $* printed what $expected says"
