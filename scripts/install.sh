#!/usr/bin/env bash
# make install: copy the built tree into DESTDIR/PREFIX.
#   scripts/install.sh BUILD_DIR PREFIX DESTDIR VERSION
set -euo pipefail
build=$1 prefix=$2 destdir=${3:-} version=$4
root="$destdir$prefix"

install -d "$root/bin" "$root/lib/pkgconfig" "$root/include/xsplice" "$root/share/man/man1"
for f in "$build"/bin/*; do
	[ -f "$f" ] && install -m 0755 "$f" "$root/bin/"
done
for f in "$build"/lib/libxsplice.so "$build"/lib/libxsplicectl.so.0 "$build"/lib/libxsplicectl.a; do
	[ -f "$f" ] && install -m 0644 "$f" "$root/lib/"
done
ln -sf libxsplicectl.so.0 "$root/lib/libxsplicectl.so"
install -m 0644 include/xsplice/*.h "$root/include/xsplice/"
for sec in 1 3 7; do
	for f in man/*.$sec; do
		[ -f "$f" ] || continue
		install -d "$root/share/man/man$sec"
		install -m 0644 "$f" "$root/share/man/man$sec/"
	done
done
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" scripts/xsplice.pc.in \
	>"$root/lib/pkgconfig/xsplice.pc"
# the dynamic linker's cache, when the libraries went into a system directory
if [ -z "$destdir" ] && [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then
	case "$prefix" in
	/usr | /usr/ | /usr/local | /usr/local/) ldconfig ;;
	esac
fi
echo "installed xsplice $version into $root"
