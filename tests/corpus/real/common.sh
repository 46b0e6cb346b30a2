# shellcheck shell=bash disable=SC2154,SC2034
# Shared by the real-project live-patch scripts (lua.sh, cjson.sh): messages,
# the exit statuses (77 = skipped), and fetching a Debian source package.
# Source it after setting $me (the script's name, for messages).

say() { printf '%s: %s\n' "$me" "$*"; }
skip() {
	say "SKIPPED: $*"
	exit 77
}
fail() {
	say "FAILED: $*" >&2
	exit 1
}
# seconds since T0 (an $EPOCHREALTIME), two decimals
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

# As root (CI), add source entries mirroring the machine's own binary entries
# so that apt-get source works on a fresh Debian machine; say so.  Returns 1
# when nothing was added.
enable_deb_src() {
	local src=/etc/apt/sources.list.d/debian.sources dst=/etc/apt/sources.list.d/xsplice-deb-src.sources
	[ "$(id -u)" -eq 0 ] && [ -f "$src" ] && [ ! -e "$dst" ] || return 1
	say "adding deb-src entries ($dst, mirroring $src) for apt-get source"
	sed -e 's/^Types: deb$/Types: deb-src/' "$src" >"$dst"
	apt-get update -qq >>fetch.log 2>&1 || true
}

# fetch_source PKG GLOB: download Debian's source package PKG into the current
# directory unless a file matching GLOB (its upstream tarball) is already
# there; skip (exit 77) when it cannot be fetched.
fetch_source() {
	local pkg="$1" glob="$2"
	compgen -G "$glob" >/dev/null && return 0
	say "fetching the $pkg source package (apt-get source)"
	command -v apt-get >/dev/null || skip "no apt-get on this machine"
	if ! apt-get source --download-only "$pkg" >fetch.log 2>&1 && enable_deb_src; then
		apt-get source --download-only "$pkg" >fetch.log 2>&1 || true
	fi
	if ! compgen -G "$glob" >/dev/null; then
		tail -n 3 fetch.log | sed 's/^/    /'
		skip "cannot fetch the $pkg source package; add a deb-src line for bookworm (e.g. 'Types: deb-src' in /etc/apt/sources.list.d/debian.sources) and run apt-get update"
	fi
}

# incremental_rebuild MAKE...: time a plain incremental rebuild of fix.patch
# in a copy of the built tree prod (for comparison with xsplice-build); sets
# t_incr.
incremental_rebuild() {
	local t0
	rm -rf incremental
	cp -a prod incremental
	(cd incremental && patch -p1 -s <../fix.patch)
	t0=$EPOCHREALTIME
	(cd incremental && "$@") >incremental.log 2>&1 || fail "the incremental rebuild failed"
	t_incr=$(since "$t0")
	rm -rf incremental
}

# agent_dir DIR: a fresh private directory for the agents' sockets.
agent_dir() {
	rm -rf "$1"
	mkdir -m 700 "$1"
}

# wait_agent DIR PID WHAT: wait until the agent in PID listens in DIR.
wait_agent() {
	for _ in $(seq 200); do [ -S "$1/$2.sock" ] && return 0; sleep 0.05; done
	fail "the agent did not start in $3 (pid $2)"
}
