#!/usr/bin/env bash
# Verify the units with systemd-analyze: built with the build tree's paths
# into a private directory, next to a sample service with PrivateTmp=yes
# that carries the agent drop-in.  Usage: verify.sh BUILD_DIR
set -euo pipefail
b=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")" && pwd)
if ! command -v systemd-analyze >/dev/null; then
	echo "check-systemd: systemd-analyze not installed; units not verified"
	exit 0
fi
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
subst() { sed -e "s|@BINDIR@|$b/bin|g" -e "s|@LIBDIR@|$b/lib|g" "$1"; }
subst "$src/xsplice-sync.service.in" > "$d/xsplice-sync.service"
cp "$src/xsplice-sync.path" "$src/xsplice-sync.timer" "$d/"
cat > "$d/xsplice-example.service" <<UNIT
[Unit]
Description=a service under the xsplice agent

[Service]
ExecStart=/bin/sleep infinity
PrivateTmp=yes
UNIT
mkdir -p "$d/xsplice-example.service.d"
subst "$src/xsplice-agent.conf.in" > "$d/xsplice-example.service.d/xsplice.conf"
out=$(cd "$d" && SYSTEMD_UNIT_PATH="$d:" systemd-analyze verify --man=no \
	xsplice-sync.service xsplice-sync.path xsplice-sync.timer xsplice-example.service 2>&1) || {
	echo "$out"
	echo "check-systemd: systemd-analyze verify failed"
	exit 1
}
# systemd-analyze reports some problems without failing: any line naming
# our units is one
if grep -E 'xsplice' <<<"$out"; then
	echo "check-systemd: systemd-analyze found problems in the units"
	exit 1
fi
echo "check-systemd: units verified with systemd-analyze ($(systemd-analyze --version | head -1))"
