#!/bin/sh
# Builds latch_<version>_<arch>.deb from a release binary with dpkg-deb.
#   scripts/build-deb.sh BINARY OUTDIR VERSION
# The package tree is laid out in OUTDIR/work/root (everything root:root in
# the archive: dpkg-deb --root-owner-group); the runtime dependencies come
# from dpkg-shlibdeps over the binary; packaging/deb/ holds the other parts.
set -eu

bin=$1
out=$2
version=$3
here=$(cd "$(dirname "$0")/.." && pwd)
pkg=$here/packaging/deb
arch=$(dpkg --print-architecture)
work=$out/work
root=$work/root
deb=$out/latch_${version}_${arch}.deb

for tool in dpkg-deb dpkg-shlibdeps strip gzip; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "build-deb: $tool is missing (scripts/deps.sh deb installs dpkg-dev)" >&2
        exit 1
    }
done

rm -rf "$work"
mkdir -p "$root/DEBIAN" "$work/debian"
umask 022

install -D -m 0755 "$bin" "$root/usr/bin/latch"
# What dh_strip does: debug symbols and notes go, the symbol table that
# backtraces need stays in the dynamic section.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/latch"
install -D -m 0644 "$pkg/latch.service" "$root/lib/systemd/system/latch.service"
install -D -m 0600 "$pkg/latch.env" "$root/etc/latch/latch.env"
install -d -m 0755 "$root/usr/share/doc/latch"
install -m 0644 "$pkg/copyright" "$root/usr/share/doc/latch/copyright"

maintainer=$(git -C "$here" log -1 --format='%an <%ae>' 2>/dev/null || true)
[ -n "$maintainer" ] || maintainer="latch maintainers <latch@example.com>"
# The date of the last commit, so that a rebuild of the same tree is the same.
date=$(git -C "$here" log -1 --format=%cD 2>/dev/null || date -R)
sed -e "s|@VERSION@|$version|" -e "s|@MAINTAINER@|$maintainer|" -e "s|@DATE@|$date|" \
    "$pkg/changelog" | gzip -9n > "$root/usr/share/doc/latch/changelog.gz"
for doc in operations.md deployment.md; do
    gzip -9n < "$here/docs/$doc" > "$root/usr/share/doc/latch/$doc.gz"
done
chmod 0644 "$root/usr/share/doc/latch/"*.gz

# Depends: the shared libraries the binary links, as packages.
printf 'Source: latch\n\nPackage: latch\nArchitecture: any\n' > "$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O -e root/usr/bin/latch 2>/dev/null |
         sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
# libpq and libcurl are opened at run time, only when PostgreSQL or mail is
# configured (src/util/dynlib.h), so dpkg-shlibdeps does not see them: their
# packages are named from the files that hold the sonames latch opens.
for soname in libpq.so.5 libcurl.so.4; do
    owner=$(dpkg-query -S "/usr/lib/*/$soname" 2>/dev/null | head -1 | cut -d: -f1)
    [ -n "$owner" ] || { echo "build-deb: no installed package holds $soname" >&2; exit 1; }
    shlibs="$shlibs, $owner"
done

size=$(du -k -s --apparent-size --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
    -e "s|@SIZE@|$size|" -e "s|@SHLIBS@|$shlibs|" "$pkg/control.in" > "$root/DEBIAN/control"
install -m 0644 "$pkg/conffiles" "$root/DEBIAN/conffiles"
install -m 0755 "$pkg/postinst" "$root/DEBIAN/postinst"
install -m 0755 "$pkg/postrm" "$root/DEBIAN/postrm"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z |
     xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

rm -f "$deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
