#!/bin/sh
# test.sh BUILDDIR... [docs] -- run `meson test` in each build folder (and,
# for the word docs, scripts/test_docs.py), then print
# one line per folder and a closing total:
#     total: N passed, M failed
# Exits non-zero if any test failed or any folder could not be tested.
set -u
status=0
summary=
failures=$(mktemp)
trap 'rm -f "$failures"' EXIT
for dir in "$@"; do
	if [ "$dir" = docs ]; then
		# Not a build folder: every command and sample in the docs.
		echo "== scripts/test_docs.py"
		out=$(scripts/test_docs.py 2>&1) || status=1
		printf '%s\n' "$out"
		counts=$(printf '%s\n' "$out" | sed -n 's/^docs: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
		summary="${summary}docs ${counts:-0 1}
"
		continue
	fi
	echo "== meson test -C $dir"
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
	counts=$(python3 - "$dir/meson-logs/testlog.json" "$failures" <<'PY'
import json, sys
ok = bad = 0
failed = []
try:
    for line in open(sys.argv[1]):
        t = json.loads(line)
        if t["result"] in ("OK", "EXPECTEDFAIL", "SKIP"):
            ok += 1
        else:
            bad += 1
            # The last lines of each failure again, after the summary:
            # a CI log is often read from its end.
            tail = (t.get("stdout") or "").splitlines()[-12:]
            failed.append("%s: %s (%s)\n%s" % (
                sys.argv[1].split("/meson-logs")[0], t["name"], t["result"],
                "\n".join("    " + l for l in tail)))
except OSError:
    bad = 1   # no log: the build or the configuration failed
    failed.append("%s: no test log" % sys.argv[1])
with open(sys.argv[2], "a") as f:
    for x in failed:
        f.write(x + "\n")
print(ok, bad)
PY
)
	summary="$summary$dir $counts
"
done
if [ -s "$failures" ]; then
	echo
	echo "== failed tests (the end of each one's output)"
	cat "$failures"
fi
echo
echo "== summary"
total_ok=0 total_bad=0
while read -r dir ok bad; do
	[ -n "$dir" ] || continue
	printf '%-24s %3d passed, %d failed\n' "$dir" "$ok" "$bad"
	total_ok=$((total_ok + ok))
	total_bad=$((total_bad + bad))
done <<EOT
$summary
EOT
[ "$total_bad" -eq 0 ] || status=1
echo "total: $total_ok passed, $total_bad failed"
exit $status
