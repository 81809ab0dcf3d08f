#!/bin/bash
# Boots one vehicle node with systemd-nspawn and tears it down again; started by vehicle-node.ts.
#
#   vehicle-node-supervisor.sh run STATE LOWER -- NSPAWN_ARGS...
#       Starts systemd-nspawn in the node's cgroups and in a private mount namespace over an overlay of
#       LOWER (read-only) and STATE/upper, prints nspawn's pid on stdout, then waits. A reboot inside the node
#       ends nspawn with 133 (what systemd-nspawn@.service restarts on): it is started again on the same state,
#       its new pid in STATE/nspawn.pid, as the node's own systemd would see a reboot. Standard input is the
#       lifeline: the line "stop", EOF (the test process is gone, however it died) or SIGTERM/SIGINT/SIGHUP
#       all lead to the teardown below, and the supervisor exits with its status.
#   vehicle-node-supervisor.sh teardown STATE
#       The teardown alone, for a node whose supervisor is gone.
#
# STATE holds: cgroups (one directory per line, made by vehicle-node.ts), upper/, work/, root/ (the overlay's
# mount point, in the private namespace only), containers/ (the node's /var/lib/containers), console.log,
# supervisor.pid and nspawn.pid.
# Teardown: SIGTERM to nspawn (an orderly halt of the node), then SIGKILL to whatever is still in the node's
# cgroups (everything there descends from our nspawn), then rmdir of those cgroups, then rm -rf STATE.
# Mounts need no undoing: they live in the private mount namespace, which goes with its last process.
set -u

halt_grace_tenths=150  # 15 s for the node's systemd to shut down in order
kill_grace_tenths=50

say() { echo "vehicle-node-supervisor[$$]: $*" >&2; }

# A process counts as running unless it is gone or a zombie (our own child, exited but not reaped).
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# True when pid $1 sits in one of the node's cgroups: the guard against signalling a recycled pid.
in_node() {
  local cg rel line
  while read -r cg; do
    [ -e "$cg/cgroup.kill" ] || continue
    rel=${cg#/sys/fs/cgroup/unified}
    while read -r line; do
      case $line in "0::$rel" | "0::$rel/"*) return 0 ;; esac
    done <"/proc/$1/cgroup" 2>/dev/null
  done <"$state/cgroups"
  return 1
}

node_pids() {
  local cg
  while read -r cg; do
    [ -d "$cg" ] && find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null
  done <"$state/cgroups"
}

teardown() {
  local nspawn i cg status=0
  [ -d "$state" ] || return 0
  : >"$state/stopping"  # no more reboots
  if [ -f "$state/cgroups" ]; then
    nspawn=$(cat "$state/nspawn.pid" 2>/dev/null)
    if [ -n "$nspawn" ] && running "$nspawn" && in_node "$nspawn"; then
      kill -TERM "$nspawn" 2>/dev/null
      for ((i = 0; i < halt_grace_tenths; i++)); do running "$nspawn" || break; sleep 0.1; done
      running "$nspawn" && say "nspawn $nspawn did not halt the node in time; killing it"
    fi
    while read -r cg; do
      [ -e "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill" 2>/dev/null
    done <"$state/cgroups"
    for ((i = 0; i < kill_grace_tenths; i++)); do
      pids=$(node_pids)
      [ -z "$pids" ] && break
      # shellcheck disable=SC2086 # one pid per word
      kill -KILL $pids 2>/dev/null
      sleep 0.1
    done
    [ -n "$(node_pids)" ] && { say "processes left in the node's cgroups: $(node_pids | tr '\n' ' ')"; status=1; }
    while read -r cg; do
      [ -d "$cg" ] || continue
      find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
      [ -d "$cg" ] && { say "cannot remove cgroup $cg"; status=1; }
    done <"$state/cgroups"
  fi
  [ "$status" = 0 ] && rm -rf "$state"
  return "$status"
}

case ${1-} in
run)
  state=$2 lower=$3
  shift 3
  [ "${1-}" = -- ] && shift
  trap 'teardown; exit $?' TERM INT HUP
  echo $$ >"$state/supervisor.pid"
  (
    trap - TERM INT HUP
    first=yes
    while :; do
      "$0" enter "$state" "$lower" -- "$@" </dev/null >>"$state/console.log" 2>&1 &
      echo $! >"$state/nspawn.pid.new" && mv "$state/nspawn.pid.new" "$state/nspawn.pid"
      # The first nspawn's pid is the line the test process waits for; later ones are only in nspawn.pid.
      [ -n "$first" ] && { echo $!; exec >/dev/null; first=; }
      wait $!
      [ $? = 133 ] && [ ! -e "$state/stopping" ] || break
    done
  ) &
  exec >/dev/null
  trap '' PIPE  # the test process may be gone: teardown must not die writing its messages
  while read -r line; do [ "$line" = stop ] && break; done
  teardown
  exit $?
  ;;
enter)
  # Joins the node's cgroups, then continues in a private mount namespace (so nothing mounted there leaks).
  state=$2
  while read -r cg; do echo $$ >"$cg/cgroup.procs" || exit 1; done <"$state/cgroups"
  exec unshare --mount --propagation private -- "$0" boot "${@:2}"
  ;;
boot)
  state=$2 lower=$3
  shift 3
  [ "${1-}" = -- ] && shift
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$state/upper,workdir=$state/work" "$state/root" || exit 1
  # nspawn keeps runtime state here; a private tmpfs leaves nothing behind on the host.
  mkdir -p /run/systemd/nspawn && mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn || exit 1
  exec systemd-nspawn --directory="$state/root" "$@"
  ;;
teardown)
  state=$2
  teardown
  exit $?
  ;;
*)
  say "usage: $0 run STATE LOWER -- NSPAWN_ARGS... | teardown STATE"
  exit 2
  ;;
esac
