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
for f in "$build"/lib/libxsplice.so "$build"/lib/libxsplicectl.so "$build"/lib/libxsplicectl.a; do
	[ -f "$f" ] && install -m 0644 "$f" "$root/lib/"
done
install -m 0644 include/xsplice/*.h "$root/include/xsplice/"
for f in man/*.1; do
	[ -f "$f" ] && install -m 0644 "$f" "$root/share/man/man1/"
done
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" scripts/xsplice.pc.in \
	>"$root/lib/pkgconfig/xsplice.pc"
echo "installed xsplice $version into $root"
