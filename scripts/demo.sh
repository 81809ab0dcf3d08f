#!/usr/bin/env bash
# The demo: sets up this machine (Debian packages and npm's), builds qmctl, brings up a private D-Bus
# bus with the BlueChi stand-in serving three nodes, and drives them with qmctl as an operator would.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
npm run --silent build

work=$(mktemp -d /tmp/qm-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

cat > "$work/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=$work/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/><allow user="*"/></policy>
</busconfig>
CONF
dbus-daemon --config-file "$work/bus.conf" --nofork --nopidfile 2>/dev/null &
pids+=($!)
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$work/bus"
for _ in $(seq 50); do [ -S "$work/bus" ] && break; sleep 0.1; done

node --import tsx test/standin/main.ts --address "$DBUS_SYSTEM_BUS_ADDRESS" \
  --node vehicle-front --node vehicle-rear --node qm.vehicle-front --node radio:offline \
  --unit camera.service --unit infotainment.service --unit radio-tuner.service:failed --latency 50 \
  > "$work/standin.out" 2> "$work/standin.err" &
pids+=($!)
for _ in $(seq 100); do grep -qx ready "$work/standin.out" 2>/dev/null && break; sleep 0.1; done
grep -qx ready "$work/standin.out" || { echo "the BlueChi stand-in did not start:" >&2; cat "$work/standin.err" >&2; exit 1; }

qmctl() { echo; echo "\$ qmctl $*"; node dist/qmctl.mjs "$@"; }

qmctl list-nodes
qmctl start vehicle-front,vehicle-rear,qm.vehicle-front camera.service infotainment.service
qmctl status vehicle-front
qmctl list-units --filter 'camera*'
qmctl --json status qm.vehicle-front camera.service
qmctl enable vehicle-rear camera.service
qmctl is-enabled vehicle-rear camera.service
qmctl stop vehicle-rear camera.service
qmctl start radio radio-tuner.service || echo "(exit $?: the radio node is offline)"
qmctl start vehicle-front nosuch.service || echo "(exit $?: systemd on the node has no such unit)"
qmctl start vehicle-front 'bad name' || echo "(exit $?: refused before any call)"
echo
echo "Demo done: every command above went over D-Bus to the BlueChi API on $DBUS_SYSTEM_BUS_ADDRESS."
