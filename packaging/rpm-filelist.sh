#!/bin/sh
# Prints the %files list of one drop-in sub-package from its tree (subpackages/NAME/files), for rpm/qm.spec:
# configuration under /etc as %config(noreplace), and the directories it brings (not those qm or the system own).
set -eu
tree=subpackages/$1/files
[ -d "$tree" ] || { echo "rpm-filelist: no $tree" >&2; exit 1; }
cd "$tree"
find . -mindepth 1 -type d | sed 's|^\.||' | sort | while read -r dir; do
    case "$dir" in
        /etc|/usr|/usr/share|/usr/share/containers|/usr/share/containers/systemd|/usr/share/containers/systemd/qm.container.d|/usr/share/qm) ;;
        *) echo "%dir $dir" ;;
    esac
done
find . \( -type f -o -type l \) | sed 's|^\.||' | sort | while read -r file; do
    case "$file" in
        /etc/*) echo "%config(noreplace) $file" ;;
        *) echo "$file" ;;
    esac
done
