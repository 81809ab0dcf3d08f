#!/usr/bin/env bash
# Installs what qm's build, demo and tests need on a fresh Debian machine: Debian packages, then npm's.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dbus-daemon >/dev/null || need+=(dbus)
# gcc and glibc's static libc build check/qm-probe.c, the probe qmctl check runs inside QM.
command -v gcc >/dev/null || need+=(gcc)
[ -f "/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)/libc.a" ] || need+=(libc6-dev)
# Graphviz's dot renders the book's diagrams (make diagrams; docs/diagrams/*.dot).
command -v dot >/dev/null || need+=(graphviz)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${need[*]}; run as root or install them with apt-get" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# The test suites' own system needs (containers, rootfs builds) live beside this script.
if [ "${QM_DEPS:-}" = test ] && [ -f scripts/install-test-deps.sh ]; then
  bash scripts/install-test-deps.sh
fi

stamp=node_modules/.qm-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # The registry sometimes stalls (EIDLETIMEOUT): use the local cache first, and try again before giving up.
  for attempt in 1 2 3; do
    npm ci --prefer-offline --no-audit --no-fund --loglevel=error && break
    [ "$attempt" -lt 3 ] || exit 1
    echo "install-deps: npm ci failed (attempt $attempt of 3); trying again" >&2
    sleep 5
  done
  echo "$want" > "$stamp"
fi
