#!/usr/bin/env bash
# make uninstall: remove what `make install` put into DESTDIR/PREFIX.
#   scripts/uninstall.sh BUILD_DIR PREFIX DESTDIR PYTHON_SITE
set -euo pipefail
build=$1 prefix=$2 destdir=${3:-} pysite=$4
root="$destdir$prefix"

rm_f() {
	for f in "$@"; do
		if [ -e "$f" ] || [ -L "$f" ]; then
			rm -f -- "$f"
			echo "removed $f"
		fi
	done
}
for f in "$build"/bin/*; do
	rm_f "$root/bin/$(basename "$f")"
done
rm_f "$root"/lib/libxsplice.so "$root"/lib/libxsplicectl.so "$root"/lib/libxsplicectl.so.0 \
	"$root"/lib/libxsplicectl.a "$root"/lib/pkgconfig/xsplice.pc
for f in include/xsplice/*.h; do
	rm_f "$root/include/xsplice/$(basename "$f")"
done
rmdir "$root/include/xsplice" 2>/dev/null || true
for sec in 1 3 7; do
	for f in man/*.$sec; do
		[ -f "$f" ] && rm_f "$root/share/man/man$sec/$(basename "$f")"
	done
done
if [ -d "$destdir$pysite/xsplice" ]; then
	rm -rf -- "$destdir$pysite/xsplice"
	echo "removed $destdir$pysite/xsplice"
fi
if [ -z "$destdir" ] && [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then
	case "$prefix" in
	/usr | /usr/ | /usr/local | /usr/local/) ldconfig ;;
	esac
fi
# the systemd units and drop-in, the Ansible collection (contrib/systemd, ansible/)
rm_f "$root"/lib/systemd/system/xsplice-sync.service "$root"/lib/systemd/system/xsplice-sync.path \
	"$root"/lib/systemd/system/xsplice-sync.timer "$root"/share/xsplice/systemd/xsplice-agent.conf
coll="$root/share/ansible/collections/ansible_collections/xsplice/livepatch"
if [ -d "$coll" ]; then
	rm -rf -- "$coll"
	echo "removed $coll"
fi
for d in share/xsplice/systemd share/xsplice lib/systemd/system lib/systemd \
	share/ansible/collections/ansible_collections/xsplice \
	share/ansible/collections/ansible_collections share/ansible/collections share/ansible; do
	rmdir "$root/$d" 2>/dev/null || true
done
echo "uninstalled xsplice from $root"
