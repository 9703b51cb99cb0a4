#!/bin/sh
# gort_text.sh OBJCOPY AR IN.a OUT.a CC... -- make libgort.a.
#
# First move all of every object's code into the section gort_text, so
# that the runtime knows its own code by address (__start_gort_text,
# __stop_gort_text), in a stripped program too.  The safe-point rule of
# asynchronous preemption needs it: "never in gort's own code" must hold
# for static functions too, which carry no gort_ name.  Every .text*
# section is renamed -- .text itself, and the .text.unlikely and
# .text.startup that compilers split cold code and constructors into, and
# the sanitizers' .text.asan.* -- keeping each one's flags; the atomic
# package's own section stays as it is, inside gort by the same rule.
#
# Then link the objects into one (CC -r), the archive's only member, so
# that a program linking libgort.a statically takes all of it, as it
# would libgort.so.  The packages reach the ones above them through hooks
# that those fill in from constructors (docs/HACKING.md, "Layers"), and
# a member nobody names would be left out, its constructor with it: the
# runtime, in a program that only uses the atomics; the profiler, in one
# that only sets GORTPROF.
#
# IN.a may be a thin archive (meson makes those), which objcopy cannot
# copy: each member is copied on its own, into a real archive.
set -eu
objcopy=$1 ar=$2 in=$3 out=$4
shift 4
dir=$(dirname "$in")
tmp=$(mktemp -d "${out}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
i=0
for m in $("$ar" t "$in"); do
	# a thin archive names its members from the working directory (GNU
	# ar's `t`), or from the archive's own: take whichever exists
	src=$m
	[ -f "$src" ] || src=$dir/$m
	i=$((i + 1))
	obj=$tmp/$(printf '%03d' $i)-$(basename "$m")
	# readelf reads every target's ELF; section names are the field after "]"
	renames=$(readelf -SW "$src" | sed -n 's/^ *\[ *[0-9]*\] \(\.text[^ ]*\) .*/\1/p' |
		sed 's/.*/--rename-section &=gort_text/')
	# shellcheck disable=SC2086 # one word per option, by construction
	"$objcopy" $renames "$src" "$obj"
done
"$@" -r -nostdlib -o "$tmp/gort.o" "$tmp"/[0-9]*.o
rm -f "$out"
"$ar" rcs "$out" "$tmp/gort.o"
