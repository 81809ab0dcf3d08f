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

units=()
for unit in vehicle-gateway diagnostics infotainment media-indexer can-bridge climate seat-memory; do units+=(--unit "$unit.service"); done
node --import tsx test/standin/main.ts --address "$DBUS_SYSTEM_BUS_ADDRESS" \
  --node ecu-main --node qm.ecu-main --node ecu-body --node radio:offline \
  "${units[@]}" --unit radio-tuner.service:failed --latency 50 \
  > "$work/standin.out" 2> "$work/standin.err" &
pids+=($!)
for _ in $(seq 100); do grep -qx ready "$work/standin.out" 2>/dev/null && break; sleep 0.1; done
grep -qx ready "$work/standin.out" || { echo "the BlueChi stand-in did not start:" >&2; cat "$work/standin.err" >&2; exit 1; }

qmctl() { echo; echo "\$ qmctl $(printf '%q ' "$@")"; node dist/qmctl.cjs "$@"; }

echo; echo "== An operator, over BlueChi =="
qmctl list-nodes
qmctl start ecu-main,ecu-body can-bridge.service diagnostics.service
qmctl status ecu-main
qmctl list-units --filter 'can-*'
qmctl --json status ecu-body can-bridge.service
qmctl enable ecu-body can-bridge.service
qmctl is-enabled ecu-body can-bridge.service
qmctl stop ecu-main,ecu-body can-bridge.service diagnostics.service
qmctl start radio radio-tuner.service || echo "(exit $?: the radio node is offline)"
qmctl start ecu-main nosuch.service || echo "(exit $?: systemd on the node has no such unit)"
qmctl start ecu-main 'bad name' || echo "(exit $?: refused before any call)"

echo; echo "== An integrator, with the example vehicle layout (examples/vehicle) =="
qmctl layout check examples/vehicle
qmctl plan examples/vehicle
qmctl apply examples/vehicle
qmctl plan examples/vehicle --detailed-exitcode && echo "(exit 0: the vehicle matches its layout)"
echo
echo "Demo done: every command above went over D-Bus to the BlueChi API on $DBUS_SYSTEM_BUS_ADDRESS."
