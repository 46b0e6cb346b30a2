#!/usr/bin/env bash
# Install the Debian packages xsplice needs to build and test, saying what
# is installed.  Does nothing when everything is present.
set -euo pipefail

pkgs=(gcc make binutils libc6-dev pkg-config libelf-dev libdw-dev elfutils libsodium-dev
      libcmocka-dev python3 python3-pytest python3-pytest-timeout clang libclang-rt-14-dev procps
      gdb ansible-core patch xz-utils)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "xsplice: installing missing build dependencies: ${missing[*]}"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
