#!/usr/bin/env bash
# xsplice-build on a real library: cJSON 1.7.15 (Debian bookworm's cjson
# source package, with Debian's earlier fixes applied), built with its own
# Makefile through xsplice-cc as the shared library libcjson_utils.so, loaded
# by a small service (cjson-serve.c) that answers JSON Pointer lookups line by
# line, patched live with the upstream fix Debian carries for CVE-2025-57052
# (debian/patches/CVE-2025-57052.patch: decode_array_index_from_pointer() in
# cJSON_Utils.c tested pointer[0] instead of pointer[position], so "/list/1:"
# was read as index 20 instead of being refused).
#
#   tests/corpus/real/cjson.sh [WORKDIR]      (default build/realworld/cjson)
#
# Exit status: 0 the fix was applied live, changed the behaviour, and was
# reverted and unloaded; 77 the source could not be fetched: skipped; any
# other status is a failure.  The timings go to WORKDIR/timings.txt.
set -euo pipefail

me=cjson.sh
root="$(cd "$(dirname "$0")/../../.." && pwd)"
bin="$root/build/bin"
agent="$root/build/lib/libxsplice.so"
work="$(mkdir -p "${1:-$root/build/realworld/cjson}" && cd "${1:-$root/build/realworld/cjson}" && pwd)"
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$root/tests/corpus/real/common.sh"
for f in "$bin/xsplice-build" "$bin/xsplice-cc" "$bin/xsplice" "$agent"; do
	[ -e "$f" ] || fail "$f is missing: run make first"
done

# ---- the source: the upstream tarball + Debian's patches before the CVE fix -----------
cd "$work"
fetch_source cjson 'cjson_*.orig.tar.gz'
rm -rf src debian-pkg fix.patch prod incremental out
mkdir src debian-pkg
tar -xzf cjson_*.orig.tar.gz -C src --strip-components=1
tar -xJf cjson_*.debian.tar.xz -C debian-pkg
fix="$(grep -l 'decode_array_index_from_pointer' debian-pkg/debian/patches/* | head -n 1 || true)"
[ -n "$fix" ] || fail "the CVE-2025-57052 fix is not in this cjson source package"
cp "$fix" fix.patch
# The running library is the package as it was before the fix: every patch
# of the series that comes before it.
while read -r p _; do
	case "$p" in '' | '#'*) continue ;; esac
	[ "debian-pkg/debian/patches/$p" = "$fix" ] && break
	(cd src && patch -p1 -s --no-backup-if-mismatch <"../debian-pkg/debian/patches/$p") ||
		fail "Debian's $p does not apply"
	earlier="${earlier:-}${earlier:+, }$p"
done <debian-pkg/debian/patches/series
rm -rf debian-pkg
say "source: $(ls cjson_*.dsc), with ${earlier:-no earlier patches}; fix: $(basename "$fix")"

# ---- the production library, built the production way ------------------------------------
# Upstream's Makefile is not -j-safe (libcjson_utils.so links cJSON.o without
# depending on it): built serially, as xsplice-build then does too.  Its
# soname links are made with a plain "ln -s" that fails once they exist, so
# only the libraries themselves are made, and the links here.
libs=(libcjson.so.1.7.15 libcjson_utils.so.1.7.15)
cjson_make=(make "${libs[@]}" "CC=$bin/xsplice-cc -std=c89" "CFLAGS=-g -O2")
cp -a src prod
(cd prod && "${cjson_make[@]}") >prod-build.log 2>&1 || fail "the production build failed (see $work/prod-build.log)"
lib=prod/libcjson_utils.so.1.7.15
[ -f "$lib" ] || fail "$lib was not built"
ln -sf libcjson.so.1.7.15 prod/libcjson.so.1
ln -sf libcjson_utils.so.1.7.15 prod/libcjson_utils.so.1
gcc -O2 -Wall -Iprod -o prod/cjson-serve "$root/tests/corpus/real/cjson-serve.c" \
	prod/libcjson_utils.so.1.7.15 prod/libcjson.so.1.7.15 "-Wl,-rpath,$work/prod" || fail "cannot build cjson-serve"
say "built $lib with its own Makefile through xsplice-cc; cjson-serve links it"

# ---- a plain incremental rebuild of the same change, for comparison ----------------------
incremental_rebuild "${cjson_make[@]}"

# ---- the live process ----------------------------------------------------------------------
sock="$work/sock"
agent_dir "$sock"
coproc SERVE { exec env LD_PRELOAD="$agent" XSPLICE_DIR="$sock" "$work/prod/cjson-serve" 2>"$work/serve.stderr"; }
pid=$SERVE_PID
trap 'kill "$pid" 2>/dev/null || true' EXIT
wait_agent "$sock" "$pid" cjson-serve

xs() { XSPLICE_DIR="$sock" "$bin/xsplice" -p "$pid" "$@" | sed 's/^/    /'; }
expect() { # expect REQUEST WANT
	local got
	printf '%s\n' "$1" >&"${SERVE[1]}"
	IFS= read -r -t 10 got <&"${SERVE[0]}" || fail "no reply to: $1"
	printf '    %-12s -> %s\n' "$1" "$got"
	[ "$got" = "$2" ] || fail "wanted '$2'"
}
# "/list/1:" is not an array index; the bug reads ':' (0x3a) as the digit 10.
say "before the patch (pid $pid):"
expect '/list/3' '3'
expect '/name' '"xsplice"'
expect '/list/1:' '20'
expect '/list/25' 'not found'

# ---- the payload, from the untouched source and the Debian patch ----------------------------
t0=$EPOCHREALTIME
"$bin/xsplice-build" -s src -p fix.patch -t "$lib" -o out -n cve-2025-57052 -j 1 \
	--build "make ${libs[*]}"' CC="$CC -std=c89" CFLAGS="-g -O2"' --meta cve=CVE-2025-57052 | sed 's/^/    /'
t_build=$(since "$t0")

xs load out/cve-2025-57052.xsplice
say "after the patch:"
expect '/list/1:' 'not found'
expect '/list/3' '3'
expect '/list/12' '12'
expect '#' '7'
xs list

xs revert cve-2025-57052
say "reverted:"
expect '/list/1:' '20'
expect '/list/24' '24'
xs unload cve-2025-57052
listed="$(XSPLICE_DIR="$sock" "$bin/xsplice" -p "$pid" list)" || fail "xsplice list failed after unload"
case "$listed" in *cve-2025-57052*) fail "the payload is still listed after unload: $listed" ;; esac
expect '#' '9'

{
	echo "project: cJSON 1.7.15 ($(ls cjson_*.dsc)), make libcjson{,_utils}.so.1.7.15 through xsplice-cc, CFLAGS=-g -O2, serial"
	echo "fix: $(basename "$fix") (cJSON_Utils.c)"
	echo "xsplice-build (copy, original build or its cache, check, patched + aligned rebuilds, diff, pack): ${t_build}s"
	echo "plain incremental rebuild of the same change (make after patch): ${t_incr}s"
} | tee timings.txt | sed "s/^/$me: /"
say "OK: CVE-2025-57052 fixed live in pid $pid, reverted and unloaded"
