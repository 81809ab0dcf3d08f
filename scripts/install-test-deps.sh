#!/bin/sh
# Debian packages the test suites need on the host (run as root, e.g. from .ci/run on a fresh machine).
# The fixtures also install what they miss on first use; this installs it all up front in one apt transaction,
# and does nothing when everything is there.
#   dbus               dbus-daemon for the private test buses (test/support/dbus-daemon.ts)
#   mmdebstrap, zstd   the cached trixie rootfs of a vehicle node (test/support/rootfs.ts)
#   systemd-container  systemd-nspawn, which boots the vehicle node (test/support/vehicle-node.ts); brings busctl
#   util-linux         nsenter, unshare, flock
#   busybox-static     the image of nested containers inside a vehicle node
#   gcc, libc6-dev     the static check/qm-probe that qmctl check runs in QM (scripts/build.mjs)
#   dpkg-dev, debhelper, pkgconf, lintian, rpm
#                      make deb and make rpm (test/packaging), the Debian packages checked by lintian
#   selinux-policy-dev, selinux-policy-default, setools, checkpolicy, semodule-utils, policycoreutils
#                      QM's SELinux module compiled, loaded into the default store and checked (test/selinux)
#   man-db, bash-completion, zsh
#                      the man pages rendered with man --warnings, the completion scripts driven in bash and zsh
#   graphviz           dot, which renders the book's diagrams (test/docs/diagrams.test.ts, make diagrams)
set -eu
missing=
for package in dbus mmdebstrap zstd systemd-container util-linux busybox-static gcc libc6-dev dpkg-dev debhelper pkgconf lintian rpm selinux-policy-dev selinux-policy-default setools checkpolicy semodule-utils policycoreutils man-db bash-completion zsh graphviz; do
  dpkg-query --show --showformat='${db:Status-Abbrev}' "$package" 2>/dev/null | grep -q '^ii' || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update
# shellcheck disable=SC2086 # one package per word
apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends $missing
