#!/bin/sh
# Builds qm's Debian packages from the source tarball (make dist) with dpkg-buildpackage, in a scratch tree:
#   build-deb.sh TARBALL OUTDIR
# The packages' version is $VERSION-1 (debian/changelog gets an entry when $VERSION is newer than its own).
set -eu
tarball=$1
out=$2
: "${VERSION:?VERSION is not set}"
for tool in dpkg-buildpackage dh; do
    command -v "$tool" >/dev/null || { echo "build-deb: $tool is missing: apt-get install dpkg-dev debhelper" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/qm-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xzf "$tarball"
src=$work/qm-$VERSION
have=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
want=$VERSION-1
if [ "$have" != "$want" ]; then
    if dpkg --compare-versions "$want" lt "$have"; then
        echo "build-deb: VERSION $VERSION is older than debian/changelog's $have" >&2
        exit 1
    fi
    entry=$work/changelog
    {
        printf 'qm (%s) unstable; urgency=medium\n\n  * Built from the work tree as version %s.\n\n' "$want" "$VERSION"
        printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l "$src/debian/changelog" -S Maintainer)" "$(date -R)"
        cat "$src/debian/changelog"
    } > "$entry"
    mv "$entry" "$src/debian/changelog"
fi
# No -dbgsym packages: the JavaScript has no debug symbols, and qm-probe is small enough to debug from source.
(cd "$src" && DEB_BUILD_OPTIONS="noddebs ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -b -us -uc)
mkdir -p "$out"
rm -f "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
mv "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out"/
ls "$out"/*.deb
