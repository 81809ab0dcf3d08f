#!/bin/sh
# selinux/build.sh OUTDIR: compiles QM's SELinux policy module (qm.te, qm.if, qm.fc beside this script) into
# OUTDIR/qm.pp with the policy's own development Makefile, then checks the module's neverallow rules by
# linking it into a scratch copy of this machine's policy store: a change that breaks QM's isolation fails here.
# Needs selinux-policy-dev (Debian) or selinux-policy-devel (Fedora); the check needs semodule and an
# installed policy (selinux-policy-default, selinux-policy-targeted), and is skipped with a warning without
# one. SELinux need not be enabled. The source tree is never written to.
#   QM_SELINUX_DEVEL_MAKEFILE  the Makefile to build with (default /usr/share/selinux/devel/Makefile)
#   QM_SELINUX_CHECK_STORE     the store to check against (default: SELINUXTYPE from /etc/selinux/config,
#                              else default, else targeted); "none" skips the check
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
makefile=${QM_SELINUX_DEVEL_MAKEFILE:-/usr/share/selinux/devel/Makefile}
if [ ! -f "$makefile" ]; then
	echo "$0: $makefile not found: install selinux-policy-dev (Debian) or selinux-policy-devel (Fedora)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/qm-selinux.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp "$src/qm.te" "$src/qm.if" "$src/qm.fc" "$work/"
# The interface deprecation warnings are the policy's own advice; keep them off a clean build's output.
(cd "$work" && make -f "$makefile" qm.pp >build.log 2>&1) || {
	cat "$work/build.log" >&2
	echo "$0: qm.pp did not compile" >&2
	exit 1
}
cp "$work/qm.pp" "$out/qm.pp"

store=${QM_SELINUX_CHECK_STORE:-}
if [ -z "$store" ]; then
	store=$(sed -n 's/^SELINUXTYPE=//p' /etc/selinux/config 2>/dev/null | tail -n 1)
	for candidate in "$store" default targeted; do
		if [ -n "$candidate" ] && [ -d "/var/lib/selinux/$candidate/active" ]; then
			store=$candidate
			break
		fi
		store=
	done
fi
if [ "$store" = none ]; then
	echo "$0: built $out/qm.pp; neverallow rules not checked (QM_SELINUX_CHECK_STORE=none)" >&2
	exit 0
fi
if [ -z "$store" ] || ! command -v semodule >/dev/null 2>&1; then
	echo "$0: built $out/qm.pp; warning: neverallow rules not checked: no policy store (install semodule-utils and selinux-policy-default)" >&2
	exit 0
fi

# semodule checks neverallow rules only with expand-check=1, which Debian's and Fedora's semanage.conf turn
# off: the scratch root gets its own semanage.conf, and -n keeps it from loading anything into the kernel.
root="$work/root"
mkdir -p "$root/etc/selinux" "$root/var/lib/selinux"
cp -a "/etc/selinux/$store" "$root/etc/selinux/"
cp -a "/var/lib/selinux/$store" "$root/var/lib/selinux/"
{
	grep -v '^[[:space:]]*expand-check' /etc/selinux/semanage.conf 2>/dev/null || true
	echo 'expand-check=1'
} >"$root/etc/selinux/semanage.conf"
if ! semodule -p "$root" -s "$store" -n -i "$out/qm.pp" 2>"$work/check.log"; then
	cat "$work/check.log" >&2
	echo "$0: $out/qm.pp breaks a neverallow rule (above): QM's isolation would not hold" >&2
	rm -f "$out/qm.pp"
	exit 1
fi
echo "$0: built $out/qm.pp; neverallow rules hold against the $store policy" >&2
