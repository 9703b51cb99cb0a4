#!/bin/sh
# httpd_test.sh HTTPD -- examples/httpd.c as a user meets it: start it on
# a loopback port the system picks, talk to it with curl (keep-alive
# reuse, Connection: close, HEAD, 404, a bad request, many at once),
# compare every answer exactly, then stop it with SIGTERM and check that
# it shuts down cleanly: exit status 0, and its last words.
#
# Skipped (status 77) without curl; scripts/deps.sh test installs it.
# Every curl has a time limit, and so has every wait for the server.
httpd=$1
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl is not installed (scripts/deps.sh test installs it)"; exit 77; }

tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "httpd_test: $*"; echo "--- the server's log:"; cat "$tmp/log"; exit 1; }

"$httpd" 127.0.0.1:0 >"$tmp/log" 2>&1 &
pid=$!
# the port is the system's choice: the server says which
i=0
until addr=$(sed -n 's/^httpd: listening on //p' "$tmp/log") && [ -n "$addr" ]; do
	kill -0 "$pid" 2>/dev/null || fail "the server exited before listening"
	i=$((i + 1))
	[ $i -le 100 ] || fail "no 'listening on' within 10 s"
	sleep 0.1
done
url=http://$addr

# check NAME EXPECTED FILTER CURL-ARGS...: curl's output, through the
# shell command FILTER, must be EXPECTED exactly
checks=0
check() {
	name=$1 want=$2 filter=$3
	shift 3
	# (stderr apart: with -Z, curl 7.88 draws its meter even under -s)
	curl -s --noproxy '*' --max-time 10 "$@" >"$tmp/out" 2>"$tmp/err" ||
		fail "$name: curl exited with status $?: $(cat "$tmp/err")"
	got=$(eval "$filter" <"$tmp/out")
	[ "$got" = "$want" ] || fail "$name: curl printed
$got
but should have printed
$want"
	checks=$((checks + 1))
}

check "GET /" "hello from gort" cat "$url/"
# one connection for both requests: curl reuses it, and says so
check "keep-alive" "request 1 on this connection, 2 on the server
[connects 1]
request 2 on this connection, 3 on the server
[connects 0]" cat -w '[connects %{num_connects}]\n' "$url/count" "$url/count"
check "Connection: close" "request 1 on this connection, 4 on the server
[connects 1]
request 1 on this connection, 5 on the server
[connects 1]" cat -H 'Connection: close' -w '[connects %{num_connects}]\n' "$url/count" "$url/count"
# the headers, but the date
check "HEAD" "HTTP/1.1 200 OK
Content-Type: text/plain; charset=utf-8
Content-Length: 16
Date: (a date)" "tr -d '\r' | sed 's/^Date: .* GMT$/Date: (a date)/'" -I "$url/"
check "404" "404 Not Found
[404]" cat -w '[%{http_code}]\n' "$url/nothing-here"
check "bad request" "400 Bad Request
[400]" cat -w '[%{http_code}]\n' -X 'GE T' "$url/"
# sixteen at once, on as many connections as curl likes; each answer's
# lines come whole, in whatever order
set --
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do set -- "$@" "$url/"; done
check "16 at once" "16 200
16 hello from gort" "sort | uniq -c | sed 's/^ *//'" -Z --parallel-max 8 -w '%{http_code}\n' "$@"

# stop it as a user would; it answered 24 requests
kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "still running 10 s after SIGTERM"
	sleep 0.1
done
wait "$pid"
status=$?
pid=
[ $status -eq 0 ] || fail "exit status $status after SIGTERM"
last=$(tail -n 2 "$tmp/log")
[ "$last" = "httpd: SIGTERM, shutting down
httpd: shut down after 24 requests" ] || fail "its last words were not a clean shutdown"
echo "ok: $checks exchanges with curl as expected; SIGTERM: exit status 0, shut down after 24 requests"
