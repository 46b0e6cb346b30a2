#!/usr/bin/env bash
# xsplice-build on a real project: Lua 5.4.4 (Debian bookworm's lua5.4
# source package), built with its own Makefile through xsplice-cc, running a
# REPL under the agent, patched live with the upstream fix Debian carries
# for CVE-2022-28805 ("Lua can generate wrong code when _ENV is <const>",
# debian/patches/0004-cve-2022-28805.patch, a change to src/lparser.c).
#
#   tests/corpus/real/lua.sh [WORKDIR]      (default build/realworld/lua)
#
# Exit status: 0 the fix was applied live and changed the behaviour; 77 the
# source could not be fetched (no deb-src entry, no network): skipped; any
# other status is a failure.  The timings (payload build vs a plain
# incremental rebuild of the same change) go to WORKDIR/timings.txt.
set -euo pipefail

root="$(cd "$(dirname "$0")/../../.." && pwd)"
bin="$root/build/bin"
agent="$root/build/lib/libxsplice.so"
work="$(mkdir -p "${1:-$root/build/realworld/lua}" && cd "${1:-$root/build/realworld/lua}" && pwd)"
jobs=2

me=lua.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$root/tests/corpus/real/common.sh"
for f in "$bin/xsplice-build" "$bin/xsplice-cc" "$bin/xsplice" "$agent"; do
	[ -e "$f" ] || fail "$f is missing: run make first"
done

# ---- the source: Debian's lua5.4 (upstream tarball + Debian's patches) ------------
cd "$work"
fetch_source lua5.4 'lua5.4_*.orig.tar.gz'
rm -rf src fix.patch prod incremental out
mkdir src debian-pkg
tar -xzf lua5.4_*.orig.tar.gz -C src --strip-components=1
tar -xJf lua5.4_*.debian.tar.xz -C debian-pkg
fix="$(grep -l 'CVE-2022-28805\|_ENV is <const>' debian-pkg/debian/patches/* | head -n 1 || true)"
[ -n "$fix" ] || fail "the CVE-2022-28805 fix is not in this lua5.4 source package"
cp "$fix" fix.patch
rm -rf debian-pkg
say "source: $(ls lua5.4_*.dsc), fix: $(basename "$fix")"

# ---- the production binary, built the production way ----------------------------------
lua_make=(make linux "CC=$bin/xsplice-cc -std=gnu99" "-j$jobs")
cp -a src prod
(cd prod && "${lua_make[@]}") >prod-build.log 2>&1 || fail "the production build failed (see $work/prod-build.log)"
say "built prod/src/lua with its own Makefile through xsplice-cc"

# ---- a plain incremental rebuild of the same change, for comparison ------------------------
incremental_rebuild "${lua_make[@]}"

# ---- the live process ------------------------------------------------------------------------
sock="$work/sock"
agent_dir "$sock"
coproc LUA { exec env LD_PRELOAD="$agent" XSPLICE_DIR="$sock" "$work/prod/src/lua" "$root/tests/corpus/real/repl.lua" 2>"$work/lua.stderr"; }
pid=$LUA_PID
trap 'kill "$pid" 2>/dev/null || true' EXIT
wait_agent "$sock" "$pid" lua

ask() {
	local reply
	printf '%s\n' "$1" >&"${LUA[1]}"
	IFS= read -r -t 10 reply <&"${LUA[0]}" || fail "no reply to: $1"
	printf '%s' "$reply"
}
probe='local _ENV <const> = "abc"; return upper("fixed")'
expect() { # expect REQUEST WANT
	local got
	got="$(ask "$1")"
	printf '    %-55s -> %s\n' "$1" "$got"
	case "$got" in $2) ;; *) fail "wanted '$2'" ;; esac
}
say "before the patch (pid $pid):"
expect 'return 1 + 2' '3'
expect "$probe" '*needs too many registers*'

# ---- the payload, from the untouched source and the Debian patch ----------------------------
t0=$EPOCHREALTIME
"$bin/xsplice-build" -s src -p fix.patch -t prod/src/lua -o out -n cve-2022-28805 -j "$jobs" \
	--build 'make linux CC="$CC -std=gnu99"' --meta cve=CVE-2022-28805 | sed 's/^/    /'
t_build=$(since "$t0")

XSPLICE_DIR="$sock" "$bin/xsplice" -p "$pid" load out/cve-2022-28805.xsplice | sed 's/^/    /'
say "after the patch:"
expect 'return 1 + 2' '3'
expect "$probe" 'FIXED'
expect 'local _ENV <const> = 11; return X' '*attempt to index a number value*'
XSPLICE_DIR="$sock" "$bin/xsplice" -p "$pid" list | sed 's/^/    /'

{
	echo "project: Lua 5.4.4 ($(ls lua5.4_*.dsc)), make linux through xsplice-cc, -j$jobs"
	echo "fix: $(basename "$fix") (src/lparser.c)"
	echo "xsplice-build (copy, full original build, check, patched + aligned rebuilds, diff, pack): ${t_build}s"
	echo "plain incremental rebuild of the same change (make after patch): ${t_incr}s"
} | tee timings.txt | sed 's/^/lua.sh: /'
say "OK: CVE-2022-28805 fixed live in pid $pid"
