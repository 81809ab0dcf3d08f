#!/bin/sh
# Builds qm's RPMs from the source tarball (make dist) with rpmbuild, into rpmbuild/RPMS/:
#   build-rpm.sh TARBALL [SUBPACKAGE...]    qm and qm-controller, plus each named sub-package (qm_NAME)
# into $RPMTOPDIR (default ./rpmbuild).
# BuildRequires are not checked (--nodeps): on Debian, where CI builds, rpm's database holds no packages.
set -eu
tarball=$1
shift
: "${VERSION:?VERSION is not set}"
command -v rpmbuild >/dev/null || { echo "build-rpm: rpmbuild is missing: apt-get install rpm" >&2; exit 1; }
top=${RPMTOPDIR:-$(pwd)/rpmbuild}
mkdir -p "$top/SOURCES"
cp "$tarball" "$top/SOURCES/"
for name in "$@"; do
    [ -d "subpackages/$name/files" ] || { echo "build-rpm: no sub-package $name (subpackages/$name/files)" >&2; exit 1; }
    set -- "$@" --define "enable_qm_dropin_$name 1"
    shift
done
rpmbuild -bb --nodeps --define "_topdir $top" --define "qm_version $VERSION" "$@" rpm/qm.spec
find "$top/RPMS" -name "*-$VERSION-*.rpm" | sort
