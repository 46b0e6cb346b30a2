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
      --debug-file FILE TARGET's separate debug file
      --strict          refuse when the report has attention items (new code
                        meeting data made before the load: state, lifetime,
                        sizeof/offsetof), instead of listing them for review
  -k, --keep            keep the work tree (OUTDIR/work) for debugging
  -q, --quiet           only errors and the final report
  -h, --help

Exit status: 0 payload written, 1 error, 2 refused (the change cannot be
live-patched, or TARGET was not built from SRCDIR), 3 nothing to patch.
EOF
}

die() {
	printf '%s: error: %s\n' "$prog" "$*" >&2
	exit 1
}
refuse() {
	printf '%s: refused: %s\n' "$prog" "$*" >&2
	exit 2
}

# ---- options ---------------------------------------------------------------------
src= patch= target= out= build=make jobs= name= binary= depends= debugfile= keep=0 quiet=0
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
# run_build LABEL CCLOG: the project's build command in the copy, through
# xsplice-cc, appending to the build log.
run_build() {
	local label="$1" cclog="$2"
	: >"$cclog"
	printf -- '---- %s build: %s\n' "$label" "$build" >>"$logfile"
	if ! (cd "$work/src" && env CC="$here/xsplice-cc" XSPLICE_CC="$here/xsplice-cc" \
		XSPLICE_INCLUDE="$sdk" XSPLICE_CC_LOG="$cclog" MAKEFLAGS="-j${jobs:-$(nproc)} ${MAKEFLAGS:-}" \
		bash -c "$build") >>"$logfile" 2>&1; then
		return 1
	fi
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
	local cclog="$1" dir="$2" o rel
	while IFS= read -r o; do
		[ -f "$o" ] || continue
		rel="${o#"$work/src/"}"
		[ "$rel" != "$o" ] || { printf 'object outside the tree ignored: %s\n' "$o" >>"$logfile"; continue; }
		mkdir -p "$dir/$(dirname "$rel")"
		cp -p "$o" "$dir/$rel"
	done < <(objects_of "$cclog")
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

# ---- 1. copy --------------------------------------------------------------------------
step "copying $src"
mkdir -p "$work/src"
cp -a "$src/." "$work/src/"
plevel=
for p in 1 0; do
	if (cd "$work/src" && patch -p"$p" -F0 --dry-run --batch -s <"$patch") >>"$logfile" 2>&1; then
		plevel=$p
		break
	fi
done
[ -n "$plevel" ] || { log_tail; die "$(basename "$patch") does not apply to $src without fuzz (tried -p1 and -p0)"; }
mapfile -t touched < <(patched_files)
done_step "$(du -sh "$work/src" | cut -f1) copied; the patch applies with -p$plevel and touches ${#touched[@]} file(s)"

# ---- 2. the original ------------------------------------------------------------------------
step "building the original: $build"
run_build original "$work/orig.cclog" || { log_tail; die "the original source does not build (see $logfile)"; }
mapfile -t orig_objs < <(objects_of "$work/orig.cclog")
[ ${#orig_objs[@]} -gt 0 ] || die "the build compiled nothing through xsplice-cc: run it on a clean tree (make clean), and make sure the build uses \$CC (e.g. --build 'make CC=\"\$CC\"')"
snapshot "$work/orig.cclog" "$work/objs/orig"
done_step "${#orig_objs[@]} objects compiled"

# linked_objects CCLOG: the objects the build linked into TARGET, from its
# link record (found by TARGET's file name, or --binary): object inputs as
# they are, archives expanded to the logged objects named like their
# members.  Nothing when no link of TARGET went through xsplice-cc.
tbase="$(basename "${binary:-$target}")"
linked_objects() {
	local cclog="$1" in m
	awk -F'\t' -v want="$tbase" -v path="${binary:+$work/src/$binary}" '
		$1 == "link" && ((path != "" && $2 == path) || (path == "" && (n = split($2, p, "/")) && p[n] == want)) {
			for (i = 3; i <= NF; i++) print $i
		}' "$cclog" | awk '!seen[$0]++' | while IFS= read -r in; do
		case "$in" in
		*.a)
			[ -f "$in" ] || continue
			ar t "$in" 2>/dev/null | while IFS= read -r m; do
				objects_of "$cclog" | awk -v m="$m" '{ n = split($0, p, "/") } p[n] == m'
			done
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
"$here/xsplice-diff" --check-target "$target" -v "${check_objs[@]}" >"$work/members" 2>"$work/check.err"
rc=$?
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
mkdir -p "$work/pre" "$work/post" "$work/aligned"
for f in "${touched[@]}"; do
	if [ -f "$work/src/$f" ]; then
		mkdir -p "$work/pre/$(dirname "$f")"
		cp -p "$work/src/$f" "$work/pre/$f"
	fi
done
(cd "$work/src" && patch -p"$plevel" -F0 --batch --no-backup-if-mismatch -s <"$patch") >>"$logfile" 2>&1 ||
	{ log_tail; die "applying the patch failed"; }
need_aligned=0
for f in "${touched[@]}"; do
	[ -f "$work/src/$f" ] || continue
	mkdir -p "$work/post/$(dirname "$f")" "$work/aligned/$(dirname "$f")"
	cp -p "$work/src/$f" "$work/post/$f"
	# only C-family sources know #line; other files stay as patched
	case "$f" in
	*.c | *.h | *.cc | *.cpp | *.cxx | *.hh | *.hpp | *.hxx | *.C | *.H | *.inc | *.def) ;;
	*) cp -p "$work/src/$f" "$work/aligned/$f"; continue ;;
	esac
	if [ -f "$work/pre/$f" ]; then
		align "$work/pre/$f" "$work/src/$f" >"$work/aligned/$f"
		grep -q '^#line ' "$work/aligned/$f" && ! cmp -s "$work/aligned/$f" "$work/src/$f" && need_aligned=1
	fi
done
have_aligned=0
if [ $need_aligned = 1 ]; then
	for f in "${touched[@]}"; do
		[ -f "$work/aligned/$f" ] && cp "$work/aligned/$f" "$work/src/$f" && touch "$work/src/$f"
	done
	if run_build line-aligned "$work/aligned.cclog"; then
		snapshot "$work/aligned.cclog" "$work/objs/aligned"
		have_aligned=1
	else
		say "      note: the line-aligned build failed (see $logfile); __LINE__-only changes will be patched"
	fi
	sleep 0.01
	for f in "${touched[@]}"; do
		[ -f "$work/post/$f" ] && cp "$work/post/$f" "$work/src/$f" && touch "$work/src/$f"
	done
fi
run_build patched "$work/patched.cclog" || { log_tail; die "the patched source does not build (see $logfile)"; }
mapfile -t changed < <(objects_of "$work/patched.cclog")
snapshot "$work/patched.cclog" "$work/objs/patched"
done_step "${#changed[@]} object(s) rebuilt$([ $have_aligned = 1 ] && echo ', plus a line-aligned build for __LINE__-only changes')"

# ---- 5. compare ------------------------------------------------------------------------------
step "comparing ${#changed[@]} object pair(s)"
diffs=()
refused=0
report="$work/report.tsv"
: >"$report"
mkdir -p "$work/diff"
for o in "${changed[@]}"; do
	rel="${o#"$work/src/"}"
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
		printf '%s: the patch cannot be live-patched:\n' "$prog"
		print_report
	} | tee "$out/report.txt" >&2
	exit 2
fi
nattention=$(awk -F'\t' '$1 == "attention"' "$report" | wc -l)
if [ $strict = 1 ] && [ "$nattention" -gt 0 ]; then
	{
		printf '%s: refused (--strict): %d attention item(s) to review: the new code will meet data made before the load\n' "$prog" "$nattention"
		print_report
	} | tee "$out/report.txt" >&2
	exit 2
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
