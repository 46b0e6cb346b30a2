#!/usr/bin/env bash
# make demo: live-patch the kvd demo service while it serves traffic.
#
# kvd answers a line protocol on TCP.  Its PING heartbeat trusts the length
# the client sends and leaks the admin token.  We build a payload straight
# from the fix (a source .patch), load it into the running process, show the
# behaviour change, replace it with a cumulative patch, revert and unload —
# while a load generator keeps 4 connections busy and checks every reply.
set -euo pipefail
cd "$(dirname "$0")/../.."

B=build
X=$B/bin/xsplice
work=$(mktemp -d /tmp/xsplice-demo.XXXXXX)
export XSPLICE_DIR=$work/sock
kvd_pid= load_pid=
cleanup() {
	[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null || true
	[ -n "$kvd_pid" ] && kill "$kvd_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

bold=$(tput bold 2>/dev/null || true) plain=$(tput sgr0 2>/dev/null || true)
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
show() { printf '$ %s\n' "$*"; "$@"; }

# One request on a fresh connection; prints the reply line.
ask() {
	local reply
	exec 3<>"/dev/tcp/127.0.0.1/$port"
	printf '%s\n' "$1" >&3
	IFS= read -r reply <&3
	exec 3<&-
	printf '  %-14s -> %s\n' "$1" "$reply"
}

port=$((20000 + $$ % 20000))

step "1. Start kvd under the agent (xsplice run) and put it under load"
"$X" run -- "$B/examples/kvd" "$port" 2>"$work/kvd.log" &
kvd_pid=$!
for _ in $(seq 100); do [ -S "$XSPLICE_DIR/$kvd_pid.sock" ] && break; sleep 0.05; done
"$B/examples/kvload" "$port" 4 120 >"$work/load.log" &
load_pid=$!
show "$X" -p "$kvd_pid" info | head -4
ask VERSION

step "2. The bug: PING trusts the client's length and leaks memory"
ask "PING 4 beat"
ask "PING 100 hi"

step "3. Build a payload straight from the fix (examples/demo/patches/fix-ping.patch)"
sed -n '1,20p' examples/demo/patches/fix-ping.patch | sed 's/^/  | /'
show "$B/bin/xsplice-build" -s examples/demo -p examples/demo/patches/fix-ping.patch \
	-t "$B/examples/kvd" -o "$work/fix-ping" | tail -3

step "4. Load it into the running process (upload + apply), while it serves"
show "$X" -p "$kvd_pid" load "$work/fix-ping/fix-ping.xsplice"
ask "PING 100 hi"
ask "PING 4 beat"
show "$X" -p "$kvd_pid" list

step "5. Replace it with a cumulative patch (the fix + a new version string), in one pause"
"$B/bin/xsplice-build" -s examples/demo -p examples/demo/patches/cumulative.patch \
	-t "$B/examples/kvd" -o "$work/cumulative" >/dev/null
show "$X" -p "$kvd_pid" upload cumulative "$work/cumulative/cumulative.xsplice"
show "$X" -p "$kvd_pid" replace cumulative
ask VERSION
ask "PING 100 hi"

step "6. Revert: the original code runs again (bug included)"
show "$X" -p "$kvd_pid" revert cumulative
ask VERSION
ask "PING 100 hi"

step "7. Unload both payloads"
show "$X" -p "$kvd_pid" unload fix-ping
show "$X" -p "$kvd_pid" unload cumulative
show "$X" -p "$kvd_pid" list

step "8. The traffic never stopped"
kill -TERM "$load_pid"
wait "$load_pid" && load_rc=0 || load_rc=$?
load_pid=
sed 's/^/  /' "$work/load.log"
show "$X" -p "$kvd_pid" history
if [ "$load_rc" -ne 0 ]; then
	echo "demo: FAILED — some requests were not answered correctly" >&2
	exit 1
fi
printf '\n%sdemo: done — patched, replaced, reverted and unloaded a live service, no request lost.%s\n' "$bold" "$plain"
