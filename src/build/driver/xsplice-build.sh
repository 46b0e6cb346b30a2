#!/usr/bin/env bash
# xsplice-build: a live patch straight from a source patch.
#
#   xsplice-build -s SRCDIR -p FIX.patch -t TARGET -o OUTDIR [options]
#
# On a copy of SRCDIR: build the original through xsplice-cc, check that it
# is the code TARGET runs, apply the patch, rebuild, pair every object that
# changed, run xsplice-diff on each pair and xsplice-pack on the results.
# See xsplice-build(1) and docs/building-patches.md.
set -euo pipefail

prog=xsplice-build
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"

usage() {
	cat <<EOF
usage: $prog -s SRCDIR -p FIX.patch -t TARGET -o OUTDIR [options]

Build a payload for TARGET (the running binary or shared library) from a
source patch against SRCDIR (the source TARGET was built from).

  -s, --source DIR      the original source tree (never modified)
  -p, --patch FILE      the fix, a unified diff (applied with -p1 or -p0, no fuzz)
  -t, --target FILE     the binary to patch (unstripped or with a debug file)
  -o, --output DIR      where the payload, the build log and the report go
  -b, --build CMD       the project's build command, run by bash in the copy
                        (default: make); \$CC is xsplice-cc there
  -j, --jobs N          parallel build jobs (MAKEFLAGS=-jN; default: nproc)
  -n, --name NAME       payload name (default: the patch file name)
      --binary PATH     TARGET's path inside the tree, when its name differs
      --depends ID|FILE the payload applies on top of this one (build-id or payload)
      --nodeps          depend on TARGET only (the default)
      --meta KEY=VALUE  add metadata to the payload (repeatable)
      --debug-file FILE TARGET's separate debug file (every step uses it)
      --cache DIR       keep the original build here and reuse it (default:
                        \$XSPLICE_BUILD_CACHE or ~/.cache/xsplice/build)
      --no-cache        build the original from scratch, keep nothing
      --strict          refuse when the report has attention items (new code
                        meeting data made before the load: state, lifetime,
                        sizeof/offsetof), instead of listing them for review
  -k, --keep            keep the work tree (OUTDIR/work) for debugging
  -q, --quiet           only errors and the final report
  -h, --help

Exit status: 0 payload written, 1 error or refused (the change cannot be
live-patched, or TARGET was not built from SRCDIR: the message says
"refused"), 3 nothing to patch.  Never 2: no retry of the same build helps.
EOF
}

die() {
	printf '%s: error: %s\n' "$prog" "$*" >&2
	exit 1
}
refuse() {
	printf '%s: refused: %s\n' "$prog" "$*" >&2
	exit 1
}

# ---- options ---------------------------------------------------------------------
src= patch= target= out= build=make jobs= name= binary= depends= debugfile= keep=0 quiet=0
cache_root="${XSPLICE_BUILD_CACHE:-${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/xsplice/build}"
strict=0
meta=()
need() { [ $# -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
	case "$1" in
	-s | --source) need "$@"; src="$2"; shift ;;
	-p | --patch) need "$@"; patch="$2"; shift ;;
	-t | --target) need "$@"; target="$2"; shift ;;
	-o | --output) need "$@"; out="$2"; shift ;;
	-b | --build) need "$@"; build="$2"; shift ;;
	-j | --jobs) need "$@"; jobs="$2"; shift ;;
	-j*) jobs="${1#-j}" ;;
	-n | --name) need "$@"; name="$2"; shift ;;
	--binary) need "$@"; binary="$2"; shift ;;
	--depends) need "$@"; depends="$2"; shift ;;
	--nodeps) depends= ;;
	--meta) need "$@"; meta+=(--meta "$2"); shift ;;
	--debug-file) need "$@"; debugfile="$2"; shift ;;
	--cache) need "$@"; cache_root="$2"; shift ;;
	--no-cache) cache_root= ;;
	-k | --keep) keep=1 ;;
	--strict) strict=1 ;;
	-q | --quiet) quiet=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
	shift
done
[ -n "$src" ] && [ -n "$patch" ] && [ -n "$target" ] && [ -n "$out" ] || { usage >&2; die "-s, -p, -t and -o are required"; }
[ -d "$src" ] || die "source tree $src is not a directory"
[ -f "$patch" ] && [ -r "$patch" ] || die "patch $patch is not a readable file"
[ -f "$target" ] || die "target $target does not exist"
[ -z "$jobs" ] || [[ "$jobs" =~ ^[0-9]+$ ]] || die "-j wants a number, not '$jobs'"
for t in xsplice-diff xsplice-pack xsplice-cc; do
	[ -x "$here/$t" ] || die "$here/$t is missing (is xsplice installed completely?)"
done
# The SDK headers, for patches that add hooks (<xsplice/patch.h>): next to
# the build tree's bin/ or under the install prefix.
sdk=
for d in "$here/../../include" "$here/../include"; do
	[ -f "$d/xsplice/patch.h" ] && { sdk="$(cd "$d" && pwd)"; break; }
done
src="$(cd "$src" && pwd)"
patch="$(readlink -f "$patch")"
target="$(readlink -f "$target")"
[ -z "$depends" ] || [ ! -e "$depends" ] || depends="$(readlink -f "$depends")"
[ -z "$debugfile" ] || [ -f "$debugfile" ] || die "debug file $debugfile does not exist"
[ -z "$debugfile" ] || debugfile="$(readlink -f "$debugfile")"
if [ -z "$name" ]; then
	name="$(basename "$patch")"
	name="${name%.patch}"
	name="${name%.diff}"
fi
[[ "$name" =~ ^[A-Za-z0-9._+-]{1,100}$ ]] || die "payload name '$name' must be 1-100 of A-Z a-z 0-9 . _ + -"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
case "$out/" in "$src"/*) die "OUTDIR must not be inside SRCDIR (the copy would include itself)" ;; esac

work="$out/work"
logfile="$out/build.log"
payload="$out/$name.xsplice"
rm -rf "$work" "$payload" "$out/report.txt" "$out/report.tsv"
mkdir -p "$work"
: >"$logfile"
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

# ---- progress ---------------------------------------------------------------------
t_start=$EPOCHREALTIME
t_step=$t_start
step_no=0
steps=6
secs() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2fs", b - a }'; }
say() { [ "$quiet" = 1 ] || printf '%s\n' "$*"; }
step() {
	step_no=$((step_no + 1))
	t_step=$EPOCHREALTIME
	[ "$quiet" = 1 ] || printf '[%d/%d] %s\n' "$step_no" "$steps" "$*"
	printf '\n==== [%d/%d] %s\n' "$step_no" "$steps" "$*" >>"$logfile"
}
done_step() { say "      $* ($(secs "$t_step"))"; }
log_tail() {
	printf '%s: last lines of %s:\n' "$prog" "$logfile" >&2
	tail -n 25 "$logfile" | sed 's/^/    /' >&2
}

# ---- building ---------------------------------------------------------------------
# run_build LABEL CCLOG: the project's build command in the tree, through
# xsplice-cc, appending to the build log.  A parallel build that fails is
# tried once more serially (some build systems are not -j-safe).
build_once() {
	local label="$1" cclog="$2" j="$3"
	printf -- '---- %s build (-j%s): %s\n' "$label" "$j" "$build" >>"$logfile"
	(cd "$tree" && env CC="$here/xsplice-cc" XSPLICE_CC="$here/xsplice-cc" \
		XSPLICE_INCLUDE="$sdk" XSPLICE_CC_LOG="$cclog" MAKEFLAGS="-j$j ${MAKEFLAGS:-}" \
		bash -c "$build") >>"$logfile" 2>&1
}
run_build() {
	local label="$1" cclog="$2" j="${jobs:-$(nproc)}"
	: >"$cclog"
	build_once "$label" "$cclog" "$j" && return 0
	[ "$j" -gt 1 ] || return 1
	say "      note: the $label build failed with -j$j; trying again serially (-j1)"
	build_once "$label" "$cclog" 1 || return 1
	say "      note: the $label build worked serially: the build is not -j-safe (see $logfile)"
}

# The objects a build log names that still exist (configure's test programs
# come and go), each once.
objects_of() {
	awk -F'\t' '$1 == "obj" { print $2 }' "$1" | awk '!seen[$0]++' | while IFS= read -r o; do
		[ -f "$o" ] && printf '%s\n' "$o"
	done
}

# snapshot CCLOG DIR: copy the objects a build produced, by path in the tree.
snapshot() {
	local cclog="$1" dir="$2" o rel rels=()
	while IFS= read -r o; do
		rel="${o#"$tree/"}"
		[ "$rel" != "$o" ] || { printf 'object outside the tree ignored: %s\n' "$o" >>"$logfile"; continue; }
		rels+=("$rel")
	done < <(objects_of "$cclog")
	mkdir -p "$dir"
	[ ${#rels[@]} -eq 0 ] || (cd "$tree" && printf '%s\0' "${rels[@]}" | xargs -0 cp -p --parents -t "$dir")
}

# Files the patch touches (new names), relative to the tree.
patched_files() {
	awk -v strip="$plevel" '
		/^\+\+\+ / {
			f = $2; sub(/\t.*/, "", f)
			if (f == "/dev/null") next
			for (i = 0; i < strip; i++) sub(/^[^\/]*\//, "", f)
			print f
		}' "$patch" | awk '!seen[$0]++'
}

# align ORIG PATCHED: PATCHED with "#line" directives that give every line it
# shares with ORIG its original number, so that a build of it differs from
# the original build only where the code really changed.
align() {
	{ diff --old-group-format='@@XSLINE@@ %dm
' --new-group-format='%>@@XSLINE@@ %dm
' --changed-group-format='%>@@XSLINE@@ %dm
' --unchanged-group-format='%=' "$1" "$2" || [ $? -eq 1 ]; } | awk '
		function scan(line,   s, i, j) {
			s = line
			gsub(/"([^"\\]|\\.)*"/, "", s)
			gsub(/\047([^\047\\]|\\.)*\047/, "", s)
			while (s != "") {
				if (incom) {
					i = index(s, "*/"); if (!i) return
					incom = 0; s = substr(s, i + 2)
				} else {
					i = index(s, "/*"); j = index(s, "//")
					if (!i || (j && j < i)) return
					incom = 1; s = substr(s, i + 2)
				}
			}
		}
		/^@@XSLINE@@ [0-9]+$/ {
			if (bs || incom) pend = $2; else { print "#line " $2; pend = 0 }
			next
		}
		{
			print; scan($0); bs = ($0 ~ /\\$/)
			if (pend) { pend++; if (!bs && !incom) { print "#line " pend; pend = 0 } }
		}'
}

say "$prog: $(basename "$patch") -> $payload"
say "      target $target"

# ---- every patched source reaches the payload ---------------------------------------------------
# A project's build may not recompile an object whose source changed (a
# bundled library built only when missing, a dependency it does not track).
# recompile_missed LABEL CCLOG: every object of TARGET built from a patched
# file, or including one, that CCLOG's build did not compile is compiled
# again with the command xsplice-cc recorded for it, and added to CCLOG; the
# build is refused when there is no such command or it fails.
cmd_of() { # OBJECT [CCLOG]: the last "cmd" record of OBJECT, as DIR<TAB>ARG...
	awk -F'\t' -v o="$1" '$1 == "cmd" && $2 == o { c = $0 } END { if (c != "") print substr(c, length("cmd\t" o "\t") + 1) }' "${2:-$work/orig.cclog}"
}
source_of() { # OBJECT [CCLOG]: the source it was compiled from
	awk -F'\t' -v o="$1" '$1 == "obj" && $2 == o { s = $3 } END { print s }' "${2:-$work/orig.cclog}"
}
# deps_of OBJECT: the files its compile reads (absolute), from the recorded
# command run again as a dependency scan (-M) with its outputs dropped.
deps_of() {
	local rec dir a skip=0 args=() d="$work/deps.d"
	rec="$(cmd_of "$1")"
	[ -n "$rec" ] || return 0
	IFS=$'\t' read -r -a args <<<"$rec"
	dir="${args[0]}"
	local scan=()
	for a in "${args[@]:1}"; do
		if [ $skip = 1 ]; then skip=0; continue; fi
		case "$a" in
		-c | -MD | -MMD | -MP | -MG | -M | -MM) ;;
		-o | -MF | -MT | -MQ) skip=1 ;;
		-o?* | -MF?* | -MT?* | -MQ?* | -Wp,-MD,* | -Wp,-MMD,*) ;;
		*) scan+=("$a") ;;
		esac
	done
	rm -f "$d"
	(cd "$dir" && "${scan[@]}" -M -MF "$d" >/dev/null 2>>"$logfile") || return 0
	sed -e 's/\\$//' -e 's/^[^:]*://' "$d" | tr ' ' '\n' | while IFS= read -r a; do
		[ -n "$a" ] || continue
		case "$a" in /*) printf '%s\n' "$a" ;; *) realpath -m "$dir/$a" ;; esac
	done
}
# CANDIDATES is a file of the objects that matter, one a line; the changed
# files are those of the array CHANGED (paths relative to the tree).
recompile_missed() {
	local label="$1" cclog="$2" candidates="$3" o f rec dir args=() srcf hdrs=0 n=0
	local -n changed_files="$4"
	declare -A want=() rebuilt=() compiled=()
	for f in "${changed_files[@]}"; do
		[ -f "$tree/$f" ] && want["$(realpath -m "$tree/$f")"]=1
	done
	while IFS= read -r o; do rebuilt["$o"]=1; done < <(awk -F'\t' '$1 == "obj" { print $2 }' "$cclog")
	while IFS= read -r o; do compiled["$o"]=1; done < <(awk -F'\t' '$1 == "obj" { print $3 }' "$work/orig.cclog")
	declare -A source=()
	while IFS=$'\t' read -r o f; do source["$o"]="$f"; done < <(awk -F'\t' '$1 == "obj" { print $2 "\t" $3 }' "$work/orig.cclog")
	for f in "${!want[@]}"; do [ -n "${compiled[$f]:-}" ] || hdrs=1; done
	while IFS= read -r o; do
		[ -z "${rebuilt[$o]:-}" ] || continue
		srcf="${source[$o]:-}"
		hit=
		if [ -n "${want[$srcf]:-}" ]; then
			hit="$srcf"
		elif [ $hdrs = 1 ]; then
			while IFS= read -r f; do
				[ -n "${want[$f]:-}" ] && { hit="$f"; break; }
			done < <(deps_of "$o")
		fi
		[ -n "$hit" ] || continue
		rel="${hit#"$tree/"}"
		rec="$(cmd_of "$o")"
		[ -n "$rec" ] || [ "$label" != original ] || return 1
		[ -n "$rec" ] || refuse "${rel} is patched but ${o#"$tree/"}, built from it, was not rebuilt by the project's build and xsplice-cc recorded no command to rebuild it: rebuild it in the build command (--build) or clean it first"
		IFS=$'\t' read -r -a args <<<"$rec"
		dir="${args[0]}"
		printf -- '---- %s: %s was not rebuilt, compiling it again: %s\n' "$label" "$o" "${args[*]:1}" >>"$logfile"
		if ! (cd "$dir" && "${args[@]:1}") >>"$logfile" 2>&1; then
			[ "$label" != original ] || return 1
			log_tail
			refuse "${rel} is patched but the project's build did not rebuild ${o#"$tree/"}, and compiling it again with its recorded command failed (see $logfile)"
		fi
		printf 'obj\t%s\t%s\ncmd\t%s\t%s\n' "$o" "$srcf" "$o" "$rec" >>"$cclog"
		[ "$label" != patched ] || say "      ${o#"$tree/"}: not rebuilt by the project's build although ${rel} changed; compiled again by $prog"
		n=$((n + 1))
	done <"$candidates"
	return 0
}
# The patched C sources no object of TARGET is built from, said out loud.
note_unused() {
	local f o
	for f in "${touched[@]}"; do
		case "$f" in *.c | *.cc | *.cpp | *.cxx | *.C) ;; *) continue ;; esac
		[ -f "$tree/$f" ] && [ -f "$work/pre/$f" ] || continue # new files: see step 5
		o="$(awk -F'\t' -v s="$(realpath -m "$tree/$f")" '
			FILENAME == members { if ($1 == "member") m[$2] = 1; next }
			$1 == "obj" && $3 == s && ($2 in m) { n++ }
			END { print n + 0 }' members="$work/members" "$work/members" "$work/orig.cclog" "$work/patched.cclog")"
		if [ "$o" = 0 ]; then
			say "      note: $f is not compiled into $(basename "$target"): its change is not in the payload"
			printf 'note\t%s\t%s\tnot compiled into the target: its change is not in the payload\n' "$f" "$f" >>"$work/report.tsv"
		fi
	done
}

# ---- the cache of original builds --------------------------------------------------------
# A slot per build command, compiler, xsplice-cc and set of file names in
# SRCDIR (not their contents): slot/pristine is the tree right after the
# original build, slot/manifest the checksums of its sources, slot/orig.cclog
# its xsplice-cc log.  Builds run in slot/place, a fixed path, so that paths
# a build system writes into its tree stay valid from one run to the next.
# A run restores place from pristine, copies in the sources that differ from
# SRCDIR and lets the project's build rebuild only those (none: the original
# build is reused as it is).  One run at a time per slot (flock).
cache_slots="${XSPLICE_BUILD_CACHE_SLOTS:-4}"
manifest() {
	(cd "$1" && find . \( -type f -o -type l \) -print0 | LC_ALL=C sort -z |
		xargs -0 -r sha256sum -- 2>/dev/null) || true
}
slot_key() {
	{
		printf 'build %s\nreal-cc %s\ncc %s\ncflags %s\ncppflags %s\nldflags %s\n' "$build" \
			"${XSPLICE_REAL_CC:-gcc}" "${CC:-}" "${CFLAGS:-}" "${CPPFLAGS:-}" "${LDFLAGS:-}"
		sha256sum "$here/xsplice-cc"
		${XSPLICE_REAL_CC:-gcc} --version 2>&1 | head -n 1
		(cd "$src" && find . -printf '%y %p\n' | LC_ALL=C sort)
	} | sha256sum | cut -c1-24
}
slot=
tree="$work/src"
if [ -n "$cache_root" ]; then
	if mkdir -p "$cache_root" 2>/dev/null && [ -O "$cache_root" ]; then
		chmod 0700 "$cache_root"
		slot="$cache_root/$(slot_key)"
		mkdir -p "$slot"
		exec {lockfd}>"$slot/lock"
		if flock -n "$lockfd"; then
			tree="$slot/place"
			touch "$slot/lock"
		else
			say "      note: the build cache $slot is in use by another xsplice-build: building without it"
			slot=
		fi
	else
		say "      note: cannot use the build cache $cache_root (not a directory of mine): building without it"
	fi
fi
printf 'tree: %s\n' "$tree" >>"$logfile"

# ---- 1. copy --------------------------------------------------------------------------
# cache: hit (the original build is reused), incremental (sources changed
# since the cached build), full (no cached build)
cache=full
step "copying $src"
rm -rf "$tree"
mkdir -p "$tree"
if [ -n "$slot" ] && [ -f "$slot/manifest" ] && [ -d "$slot/pristine" ]; then
	manifest "$src" >"$work/manifest"
	cp -a "$slot/pristine/." "$tree/"
	# paths whose checksum differs from the cached tree's
	mapfile -t stale < <(awk 'NR == FNR { old[substr($0, 67)] = substr($0, 1, 64); next }
		old[substr($0, 67)] != substr($0, 1, 64) { print substr($0, 67) }' "$slot/manifest" "$work/manifest")
	if [ ${#stale[@]} -eq 0 ]; then
		cache=hit
	else
		cache=incremental
		for f in "${stale[@]}"; do
			rm -f "$tree/$f"
			cp -P "$src/$f" "$tree/$f" # a fresh mtime: the build sees it changed
		done
	fi
else
	cp -a "$src/." "$tree/"
	[ -z "$slot" ] || manifest "$src" >"$work/manifest"
fi
plevel=
for p in 1 0; do
	if (cd "$tree" && patch -p"$p" -F0 --dry-run --batch -s <"$patch") >>"$logfile" 2>&1; then
		plevel=$p
		break
	fi
done
[ -n "$plevel" ] || { log_tail; die "$(basename "$patch") does not apply to $src without fuzz (tried -p1 and -p0)"; }
mapfile -t touched < <(patched_files)
case $cache in
hit) what="the cached original build of this tree restored" ;;
incremental) what="the cached original build restored, ${#stale[@]} source file(s) differ from it" ;;
*) what="$(du -sh "$tree" | cut -f1) copied" ;;
esac
done_step "$what; the patch applies with -p$plevel and touches ${#touched[@]} file(s)"

# ---- 2. the original ------------------------------------------------------------------------
# cache_store: the tree as the original build left it becomes the slot's
# pristine copy (manifest last: a slot without one is not used).
cache_store() {
	rm -f "$slot/manifest" "$slot/check.key"
	rm -rf "$slot/pristine" "$slot/pristine.new"
	cp -a "$tree" "$slot/pristine.new"
	mv "$slot/pristine.new" "$slot/pristine"
	cp "$work/orig.cclog" "$slot/orig.cclog"
	cp "$work/manifest" "$slot/manifest"
}
# cache_evict: the least recently used slots beyond $cache_slots, unless in use.
cache_evict() {
	local s
	ls -1dt "$cache_root"/*/ 2>/dev/null | tail -n +$((cache_slots + 1)) | while IFS= read -r s; do
		s="${s%/}"
		[ "$s" != "$slot" ] || continue
		(flock -n 9 && rm -rf "$s") 9>"$s/lock" 2>/dev/null || true
	done
}
case $cache in
hit)
	step "the original build: reused from the cache"
	cp "$slot/orig.cclog" "$work/orig.cclog"
	;;
incremental)
	step "building the original: $build (only what changed since the cached build)"
	cp "$slot/orig.cclog" "$work/orig.cclog"
	objects_of "$work/orig.cclog" >"$work/orig-list"
	# Only C sources and headers changed: their objects are compiled again
	# with the recorded commands (no link: the patched build relinks);
	# anything else (a Makefile, a generator input) goes through the
	# project's build.
	c_only=1
	for f in "${stale[@]}"; do
		case "$f" in
		*.c | *.h | *.cc | *.cpp | *.cxx | *.hh | *.hpp | *.hxx | *.C | *.H | *.inc | *.def) ;;
		*) c_only=0 ;;
		esac
	done
	: >"$work/orig.new.cclog"
	# the project's build may not rebuild all it should (see below)
	if { [ $c_only = 1 ] || run_build original "$work/orig.new.cclog"; } &&
		recompile_missed original "$work/orig.new.cclog" "$work/orig-list" stale; then
		cat "$slot/orig.cclog" "$work/orig.new.cclog" >"$work/orig.cclog"
	else
		say "      note: the incremental build of the original failed; building it from scratch"
		rm -rf "$tree"
		mkdir -p "$tree"
		cp -a "$src/." "$tree/"
		cache=full
	fi
	;;
*) step "building the original: $build" ;;
esac
if [ $cache = full ]; then
	run_build original "$work/orig.cclog" || { log_tail; die "the original source does not build (see $logfile)"; }
fi
mapfile -t orig_objs < <(objects_of "$work/orig.cclog")
[ ${#orig_objs[@]} -gt 0 ] || die "the build compiled nothing through xsplice-cc: run it on a clean tree (make clean), and make sure the build uses \$CC (e.g. --build 'make CC=\"\$CC\"')"
snapshot "$work/orig.cclog" "$work/objs/orig"
if [ -n "$slot" ] && [ $cache != hit ]; then
	cache_store
	cache_evict
fi
case $cache in
hit) done_step "${#orig_objs[@]} objects, nothing recompiled" ;;
incremental) done_step "$(objects_of "$work/orig.new.cclog" | wc -l) of ${#orig_objs[@]} objects recompiled" ;;
*) done_step "${#orig_objs[@]} objects compiled" ;;
esac

# linked_objects CCLOG: the objects the build linked into TARGET, from its
# link record (found by TARGET's file name, or --binary): object inputs as
# they are, archives expanded to the logged objects named like their
# members.  Nothing when no link of TARGET went through xsplice-cc.
tbase="$(basename "${binary:-$target}")"
linked_objects() {
	local cclog="$1" in m
	awk -F'\t' -v want="$tbase" -v path="${binary:+$tree/$binary}" '
		$1 == "link" && ((path != "" && $2 == path) || (path == "" && (n = split($2, p, "/")) && p[n] == want)) {
			for (i = 3; i <= NF; i++) print $i
		}' "$cclog" | awk '!seen[$0]++' | while IFS= read -r in; do
		case "$in" in
		*.a)
			[ -f "$in" ] || continue
			[ -f "$cclog.objs" ] || objects_of "$cclog" >"$cclog.objs"
			ar t "$in" 2>/dev/null | awk 'NR == FNR { want[$0] = 1; next }
				{ n = split($0, p, "/") } p[n] in want' - "$cclog.objs"
			;;
		*) printf '%s\n' "$in" ;;
		esac
	done | awk '!seen[$0]++'
}

# ---- 3. the original is the target? ------------------------------------------------------------
step "checking the original build against $(basename "$target")"
set +e
# Objects of other binaries of the project are told apart by the link
# records when there are some (a library built twice, PIC and not, has the
# same functions in both), else by what the target contains.
mapfile -t check_objs < <(linked_objects "$work/orig.cclog")
if [ ${#check_objs[@]} -gt 0 ]; then
	printf 'objects linked into %s: %s\n' "$tbase" "${check_objs[*]}" >>"$logfile"
else
	check_objs=("${orig_objs[@]}")
fi
# A check that passed against the cached original build is not repeated
# for the same target, debug file and objects.
check_key="$({ sha256sum "$target" ${debugfile:+"$debugfile"}; printf '%s\n' "${check_objs[@]}"; } | sha256sum | cut -c1-32)"
if [ $cache = hit ] && [ -f "$slot/check.members" ] && [ "$(cat "$slot/check.key" 2>/dev/null)" = "$check_key" ]; then
	cp "$slot/check.members" "$work/members"
	cp "$slot/check.err" "$work/check.err"
	rc=0
else
	"$here/xsplice-diff" --check-target "$target" ${debugfile:+--debug-file "$debugfile"} -v "${check_objs[@]}" >"$work/members" 2>"$work/check.err"
	rc=$?
	if [ $rc -eq 0 ] && [ -n "$slot" ]; then
		cp "$work/members" "$slot/check.members"
		cp "$work/check.err" "$slot/check.err"
		printf '%s\n' "$check_key" >"$slot/check.key"
	fi
fi
set -e
cat "$work/check.err" >>"$logfile"
if [ $rc -eq 2 ]; then
	grep '^xsplice-diff: differs:' "$work/check.err" | head -n 10 | sed 's/^xsplice-diff: /      /' >&2
	refuse "$(grep -v '^xsplice-diff: differs:' "$work/check.err" | grep -v ' functions compared' | sed 's/^xsplice-diff: //' | tail -n 1)"
elif [ $rc -ne 0 ]; then
	die "$(tail -n 1 "$work/check.err" | sed 's/^xsplice-diff: //')"
fi
done_step "$(sed -n 's/^xsplice-diff: \(.*\)$/\1/p' "$work/check.err" | tail -n 1)"

# ---- 4. patched (and line-aligned) builds --------------------------------------------------------
step "applying $(basename "$patch") and rebuilding"
awk -F'\t' '$1 == "member" { print $2 }' "$work/members" >"$work/member-list"
mkdir -p "$work/pre" "$work/post" "$work/aligned"
for f in "${touched[@]}"; do
	if [ -f "$tree/$f" ]; then
		mkdir -p "$work/pre/$(dirname "$f")"
		cp -p "$tree/$f" "$work/pre/$f"
	fi
done
(cd "$tree" && patch -p"$plevel" -F0 --batch --no-backup-if-mismatch -s <"$patch") >>"$logfile" 2>&1 ||
	{ log_tail; die "applying the patch failed"; }
need_aligned=0
for f in "${touched[@]}"; do
	[ -f "$tree/$f" ] || continue
	mkdir -p "$work/post/$(dirname "$f")" "$work/aligned/$(dirname "$f")"
	cp -p "$tree/$f" "$work/post/$f"
	# only C-family sources know #line; other files stay as patched
	case "$f" in
	*.c | *.h | *.cc | *.cpp | *.cxx | *.hh | *.hpp | *.hxx | *.C | *.H | *.inc | *.def) ;;
	*) cp -p "$tree/$f" "$work/aligned/$f"; continue ;;
	esac
	if [ -f "$work/pre/$f" ]; then
		align "$work/pre/$f" "$tree/$f" >"$work/aligned/$f"
		grep -q '^#line ' "$work/aligned/$f" && ! cmp -s "$work/aligned/$f" "$tree/$f" && need_aligned=1
	fi
done
have_aligned=0
if ! run_build patched "$work/patched.cclog"; then
	# an incremental rebuild can fail where a build from scratch works (a
	# rule that creates what exists already): the patched tree, afresh
	say "      note: the incremental build of the patched source failed; building it from scratch"
	rm -rf "$tree"
	mkdir -p "$tree"
	cp -a "$src/." "$tree/"
	(cd "$tree" && patch -p"$plevel" -F0 --batch --no-backup-if-mismatch -s <"$patch") >>"$logfile" 2>&1 ||
		{ log_tail; die "applying the patch failed"; }
	need_aligned=0 # every object was rebuilt: not worth a second pass
	run_build patched "$work/patched.cclog" || { log_tail; die "the patched source does not build (see $logfile)"; }
fi
recompile_missed patched "$work/patched.cclog" "$work/member-list" touched
mapfile -t changed < <(objects_of "$work/patched.cclog")
snapshot "$work/patched.cclog" "$work/objs/patched"
# The line-aligned objects: the objects just rebuilt, compiled again from
# the line-aligned sources with the commands xsplice-cc recorded (no second
# run of the project's build, no link).
if [ $need_aligned = 1 ]; then
	for f in "${touched[@]}"; do
		[ -f "$work/aligned/$f" ] && cp "$work/aligned/$f" "$tree/$f"
	done
	: >"$work/aligned.cclog"
	aligned_ok=1 running=0
	for o in "${changed[@]}"; do
		rec="$(cmd_of "$o" "$work/patched.cclog")"
		[ -n "$rec" ] || { aligned_ok=0; break; }
		IFS=$'\t' read -r -a args <<<"$rec"
		(cd "${args[0]}" && "${args[@]:1}") >>"$logfile" 2>&1 &
		running=$((running + 1))
		if [ $running -ge "${jobs:-$(nproc)}" ]; then
			wait -n || aligned_ok=0
			running=$((running - 1))
		fi
		printf 'obj\t%s\t%s\n' "$o" "$(source_of "$o" "$work/patched.cclog")" >>"$work/aligned.cclog"
	done
	while [ $running -gt 0 ]; do
		wait -n || aligned_ok=0
		running=$((running - 1))
	done
	if [ $aligned_ok = 1 ]; then
		snapshot "$work/aligned.cclog" "$work/objs/aligned"
		have_aligned=1
	else
		say "      note: the line-aligned compile failed (see $logfile); __LINE__-only changes will be patched"
	fi
	for f in "${touched[@]}"; do
		[ -f "$work/post/$f" ] && cp "$work/post/$f" "$tree/$f"
	done
fi
done_step "${#changed[@]} object(s) rebuilt$([ $have_aligned = 1 ] && echo ', compiled again line-aligned for __LINE__-only changes')"

# ---- 5. compare ------------------------------------------------------------------------------
step "comparing ${#changed[@]} object pair(s)"
diffs=()
refused=0
report="$work/report.tsv"
: >"$report"
note_unused
mkdir -p "$work/diff"
for o in "${changed[@]}"; do
	rel="${o#"$tree/"}"
	[ "$rel" != "$o" ] || continue
	orig="$work/objs/orig/$rel"
	if [ -f "$orig" ]; then
		if ! grep -qxF "member	$o" "$work/members"; then
			say "      $rel: not part of $(basename "$target"), skipped"
			printf 'note\t%s\t%s\tnot part of the target, skipped\n' "$rel" "$rel" >>"$report"
			continue
		fi
	else
		if ! linked_objects "$work/patched.cclog" | grep -qxF "$o"; then
			say "      $rel: new object, not linked into $tbase, skipped"
			continue
		fi
		orig=/dev/null
	fi
	args=(--report "$report" --label "$rel" -q)
	[ $have_aligned = 1 ] && [ -f "$work/objs/aligned/$rel" ] && args+=(--aligned "$work/objs/aligned/$rel")
	mkdir -p "$work/diff/$(dirname "$rel")"
	t0=$EPOCHREALTIME
	set +e
	"$here/xsplice-diff" "${args[@]}" "$orig" "$work/objs/patched/$rel" -o "$work/diff/$rel" 2>>"$work/diff.err"
	rc=$?
	set -e
	case $rc in
	0)
		diffs+=("$work/diff/$rel")
		say "      $rel: $(awk -F'\t' -v o="$rel" '$2 == o { n[$1]++ } END { s = ""; for (k in n) s = s (s ? ", " : "") n[k] " " k; print s }' "$report") ($(secs "$t0"))"
		;;
	3) say "      $rel: no change to patch ($(secs "$t0"))" ;;
	2)
		refused=1
		say "      $rel: REFUSED"
		;;
	*)
		cat "$work/diff.err" >>"$logfile"
		die "xsplice-diff failed on $rel: $(tail -n 1 "$work/diff.err" | sed 's/^xsplice-diff: //')"
		;;
	esac
done
cat "$work/diff.err" >>"$logfile" 2>/dev/null || true
cp "$report" "$out/report.tsv"

# ---- the report ------------------------------------------------------------------------------
print_report() {
	awk -F'\t' '
		BEGIN {
			label["replaced"] = "replaced"; label["copied"] = "replaced via callers"
			label["added"] = "added function"; label["new-data"] = "added data"
			label["new-rodata"] = "new read-only data"; label["ignored"] = "ignored"
			label["refused"] = "REFUSED"; label["note"] = "note"; label["attention"] = "attention"
			split("refused replaced copied added new-data new-rodata ignored note", order, " ")
		}
		{
			n[$1]++; what = label[$1]; detail = $4
			# attention items say their class first: "state: ...", "lifetime: ..."
			if ($1 == "attention" && match(detail, /^[a-z\/]+: /)) {
				what = substr(detail, 1, RLENGTH - 2); detail = substr(detail, RLENGTH + 1)
			}
			line[$1, n[$1]] = sprintf("  %-20s %s (%s): %s", what, $3, $2, detail)
		}
		END {
			for (k = 1; k <= 8; k++)
				for (i = 1; i <= n[order[k]]; i++) print line[order[k], i]
			# what a human must review: code after the load meets data made before it
			if (n["attention"]) {
				print "attention: the new code will meet data made before the load; review:"
				for (i = 1; i <= n["attention"]; i++) print line["attention", i]
			}
		}' "$report"
}
summary() {
	awk -F'\t' '{ n[$1]++ } END {
		printf "%d function(s) replaced, %d added, %d variable(s) added, %d ignored", \
			n["replaced"] + n["copied"], n["added"], n["new-data"] + n["new-rodata"], n["ignored"]
		if (n["attention"]) printf ", %d attention item(s)", n["attention"] }' "$report"
}

if [ $refused = 1 ]; then
	{
		printf '%s: refused: the patch cannot be live-patched:\n' "$prog"
		print_report
	} | tee "$out/report.txt" >&2
	exit 1
fi
nattention=$(awk -F'\t' '$1 == "attention"' "$report" | wc -l)
if [ $strict = 1 ] && [ "$nattention" -gt 0 ]; then
	{
		printf '%s: refused (--strict): %d attention item(s) to review: the new code will meet data made before the load\n' "$prog" "$nattention"
		print_report
	} | tee "$out/report.txt" >&2
	exit 1
fi
if [ ${#diffs[@]} -eq 0 ]; then
	{
		printf '%s: nothing to patch in %s\n' "$prog" "$(basename "$target")"
		print_report
	} | tee "$out/report.txt"
	exit 3
fi

# ---- 6. pack -----------------------------------------------------------------------------------
step "packing $name.xsplice for $(basename "$target")"
pack=(-t "$target" -o "$payload" --meta "name=$name" --meta "source=$(basename "$patch")" "${meta[@]}")
[ -z "$depends" ] || pack+=(--depends "$depends")
[ -z "$debugfile" ] || pack+=(--debug-file "$debugfile")
if ! "$here/xsplice-pack" "${pack[@]}" "${diffs[@]}" >>"$logfile" 2>"$work/pack.err"; then
	cat "$work/pack.err" >>"$logfile"
	msg="$(tail -n 1 "$work/pack.err" | sed 's/^xsplice-pack: //')"
	case "$msg" in
	*"too short"*) refuse "$msg" ;;
	*) die "xsplice-pack: $msg" ;;
	esac
fi
done_step "$(stat -c %s "$payload") bytes"

{
	printf '%s: %s in %s: %s\n' "$prog" "$payload" "$(secs "$t_start")" "$(summary)"
	print_report
} | tee "$out/report.txt"
