#!/bin/sh
# sysroot.sh ARCH -- unpack the target's libatomic_ops, Check and zlib into
# build/sysroot/ARCH for a cross build (ARCH: mipsel, arm64, mips).
#
# Debian cannot install libatomic-ops-dev:mipsel beside the amd64 one, so we
# download the target's .deb files (adding the dpkg architecture once, so
# apt knows their lists) and unpack them with dpkg-deb; nothing is installed.
# Debian 12 has no big-endian mips port: for mips the libatomic_ops headers
# (the same bytes on every architecture) come from the mipsel package, with
# no library to link and no Check, so only the demo and benchmark run there.
set -eu
arch=$1
top=$(cd "$(dirname "$0")/.." && pwd)
dest=$top/build/sysroot/$arch
[ -f "$dest/.complete" ] && [ -f "$dest.ini" ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

case $arch in
mips) fetch=mipsel ;;
*) fetch=$arch ;;
esac

if ! dpkg --print-foreign-architectures | grep -qx "$fetch"; then
	echo "sysroot: adding dpkg architecture $fetch, to download its packages (nothing of it is installed)"
	$SUDO dpkg --add-architecture "$fetch"
	$SUDO apt-get update -qq
fi

pkgs="libatomic-ops-dev check libsubunit-dev libsubunit0 zlib1g-dev zlib1g"
[ "$arch" = mips ] && pkgs="libatomic-ops-dev"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "sysroot: downloading $(echo $pkgs | sed "s/\([^ ]*\)/\1:$fetch/g")"
(cd "$tmp" && apt-get download -q $(for p in $pkgs; do printf '%s:%s ' "$p" "$fetch"; done) >/dev/null 2>&1) ||
	(cd "$tmp" && $SUDO apt-get update -qq && apt-get download -q $(for p in $pkgs; do printf '%s:%s ' "$p" "$fetch"; done))
rm -rf "$dest"
mkdir -p "$dest"
for deb in "$tmp"/*.deb; do
	dpkg-deb -x "$deb" "$dest"
done

if [ "$arch" = mips ]; then
	# Headers only: describe them with a .pc of our own.
	rm -rf "$dest/usr/lib"
	mkdir -p "$dest/usr/lib/mips-linux-gnu/pkgconfig"
	cat >"$dest/usr/lib/mips-linux-gnu/pkgconfig/atomic_ops.pc" <<PC
prefix=/usr
includedir=\${prefix}/include
Name: atomic_ops
Description: libatomic_ops headers (inline primitives only)
Version: 7.6.14
Cflags: -I\${includedir}
Libs:
PC
fi
touch "$dest/.complete"
# The cross files in cross/ take the sysroot's absolute path from here.
printf "# written by scripts/sysroot.sh\n[constants]\nsysroot = '%s'\n" "$dest" >"$dest.ini"
echo "sysroot: $dest ready"
