#!/usr/bin/env bash
# xsplice-cc: the compiler wrapper for live-patchable builds.
#
#   CC=xsplice-cc make                   # gcc underneath
#   CC="xsplice-cc clang" make           # any gcc-compatible compiler
#   make CC="xsplice-cc gcc -std=gnu99"  # projects that set CC themselves
#
# It adds -ffunction-sections -fdata-sections (one section per function and
# per variable, which xsplice-diff needs to tell changes apart) and refuses
# link-time optimisation.  Production binaries and xsplice-build's rebuilds
# must be compiled the same way; this wrapper is the easy way to do both.
#
# Under xsplice-build (XSPLICE_CC_LOG set) it also records every object it
# compiles and every link it runs, and compiles "cc -o prog a.c b.c" one
# source at a time so that each object can be compared.  See xsplice-cc(1).
set -euo pipefail

die() {
	printf 'xsplice-cc: %s\n' "$*" >&2
	exit 1
}

# --- which compiler --------------------------------------------------------
cc=()
if [ $# -gt 0 ] && [[ "$1" != -* ]] && ! [[ "$1" =~ \.(c|cc|cpp|cxx|C|s|S|i|o|a|so)$ ]] &&
	command -v -- "$1" >/dev/null 2>&1; then
	cc=("$1")
	shift
else
	read -r -a cc <<<"${XSPLICE_REAL_CC:-gcc}"
fi
[ ${#cc[@]} -gt 0 ] || die "no compiler: set XSPLICE_REAL_CC"

# --- look at the arguments ---------------------------------------------------
mode=link
out=
sources=()
for ((i = 1; i <= $#; i++)); do
	a="${!i}"
	case "$a" in
	-c) mode=compile ;;
	-S) [ "$mode" = compile ] || mode=asm ;;
	-E | -M | -MM) mode=preprocess ;;
	-flto | -flto=*) die "link-time optimisation ($a) cannot be live-patched: functions lose their identity; drop it" ;;
	-o)
		i=$((i + 1))
		out="${!i-}"
		;;
	-o*) out="${a#-o}" ;;
	-I | -D | -U | -include | -imacros | -isystem | -idirafter | -iquote | -iprefix | -isysroot | \
		-x | -MF | -MT | -MQ | -L | -l | -Xlinker | -Xassembler | -Xpreprocessor | -T | -u | -z | \
		--param | -aux-info | -B | -wrapper | -dumpbase | -dumpdir | -e)
		i=$((i + 1))
		;;
	-*) ;;
	*.c | *.cc | *.cpp | *.cxx | *.C | *.s | *.S | *.i) sources+=("$a") ;;
	esac
done
flags=(-ffunction-sections -fdata-sections)
# Under xsplice-build, debug information for xsplice-diff's layout check
# (struct members from DWARF); -g does not change the generated code.
if [ -n "${XSPLICE_CC_LOG:-}" ] && [ "$mode" != preprocess ]; then
	has_g=0
	for a in "$@"; do
		case "$a" in -g0) has_g=0 ;; -g | -g[1-3] | -ggdb* | -gdwarf*) has_g=1 ;; esac
	done
	[ $has_g = 1 ] || flags+=(-g)
	# the SDK's agent functions as weak references: a patch that calls them
	# (shadow variables) still links as the project's program
	flags+=(-DXSPLICE_WEAK_API)
fi

log() {
	[ -n "${XSPLICE_CC_LOG:-}" ] || return 0
	local IFS=$'\t'
	printf '%s\n' "$*" >>"$XSPLICE_CC_LOG"
}

abspath() {
	case "$1" in
	/*) printf '%s' "$1" ;;
	*) printf '%s/%s' "$PWD" "$1" ;;
	esac
}

# --- compile: run it, record the objects -------------------------------------
if [ "$mode" = compile ]; then
	"${cc[@]}" "$@" "${flags[@]}"
	# "obj OBJECT SOURCE" and "cmd OBJECT DIR COMMAND...": the command that
	# made OBJECT, run in DIR, for xsplice-build to run again
	if [ -n "$out" ]; then
		if [ ${#sources[@]} -eq 1 ]; then
			log obj "$(abspath "$out")" "$(abspath "${sources[0]}")"
			log cmd "$(abspath "$out")" "$PWD" "${cc[@]}" "$@" "${flags[@]}"
		fi
	else
		for s in "${sources[@]}"; do
			b="${s##*/}"
			log obj "$(abspath "${b%.*}.o")" "$(abspath "$s")"
			log cmd "$(abspath "${b%.*}.o")" "$PWD" "${cc[@]}" "$@" "${flags[@]}"
		done
	fi
	exit 0
fi
if [ "$mode" != link ]; then
	exec "${cc[@]}" "$@" "${flags[@]}"
fi

# --- link ----------------------------------------------------------------------
out="${out:-a.out}"
if [ -z "${XSPLICE_CC_LOG:-}" ]; then
	exec "${cc[@]}" "$@" "${flags[@]}"
fi

# Compile each source on its own so that xsplice-build can compare objects;
# the code is the same as in a one-step build (gcc compiles each source
# separately anyway, under the same name).  First pass: the options that
# matter for compiling; second pass: the link line with objects in place of
# the sources, in their original order.
objdir="$(abspath "$out").xsplice-objs"
compile_args=()
for ((i = 1; i <= $#; i++)); do
	a="${!i}"
	case "$a" in
	-o | -l | -L | -Xlinker | -T | -u | -z | -e) i=$((i + 1)) ;;
	-o* | -l* | -L* | -Wl,* | -shared | -static | -static-pie | -pie | -no-pie | -rdynamic | \
		-nostdlib | -nostartfiles | -nodefaultlibs | -s) ;;
	-I | -D | -U | -include | -imacros | -isystem | -idirafter | -iquote | -iprefix | -isysroot | \
		-x | -MF | -MT | -MQ | -Xassembler | -Xpreprocessor | --param | -B | -wrapper)
		i=$((i + 1))
		compile_args+=("$a" "${!i}")
		;;
	-*) compile_args+=("$a") ;;
	esac
done
link_args=()
inputs=()
n=0
for ((i = 1; i <= $#; i++)); do
	a="${!i}"
	case "$a" in
	-x) i=$((i + 1)) ;; # the objects are not in that language
	-o | -l | -L | -Xlinker | -T | -u | -z | -e | -I | -D | -U | -include | -imacros | -isystem | \
		-idirafter | -iquote | -iprefix | -isysroot | -MF | -MT | -MQ | -Xassembler | \
		-Xpreprocessor | --param | -B | -wrapper)
		i=$((i + 1))
		link_args+=("$a" "${!i}")
		;;
	-*) link_args+=("$a") ;;
	*.c | *.cc | *.cpp | *.cxx | *.C | *.s | *.S | *.i)
		mkdir -p "$objdir"
		n=$((n + 1))
		b="${a##*/}"
		o="$objdir/$n-${b%.*}.o"
		"${cc[@]}" "${compile_args[@]}" "${flags[@]}" -c "$a" -o "$o"
		log obj "$o" "$(abspath "$a")"
		log cmd "$o" "$PWD" "${cc[@]}" "${compile_args[@]}" "${flags[@]}" -c "$a" -o "$o"
		link_args+=("$o")
		inputs+=("$o")
		;;
	*)
		link_args+=("$a")
		[ -e "$a" ] && inputs+=("$(abspath "$a")")
		;;
	esac
done
"${cc[@]}" "${link_args[@]}" "${flags[@]}"
log link "$(abspath "$out")" "${inputs[@]}"
