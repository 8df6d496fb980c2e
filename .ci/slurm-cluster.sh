#!/usr/bin/env bash
# Starts or stops a one-node Slurm cluster on this machine, for testing the Slurm examples
# (examples/slurm) in CI and by hand.
#
#   bash .ci/slurm-cluster.sh up     # start munged, slurmctld and slurmd; wait for an idle node
#   bash .ci/slurm-cluster.sh down   # stop them and remove their state
#   bash .ci/slurm-cluster.sh env    # print the line that points Slurm's commands at it
#
# It installs nothing: slurm-wlm and munge must be installed (apt-get install slurm-wlm munge).
# It needs no systemd: the daemons are started directly, in their daemon mode with pid files,
# and everything they write (configuration, munge key and socket, state, spool, logs) lives
# in one directory, HIVEWARD_SLURM_DIR (default /tmp/hiveward-slurm), that `down` removes.
# The cluster has its own munge daemon, key and socket, so it does not disturb a munge or Slurm
# already configured on the machine, as long as the ports are free (HIVEWARD_SLURMCTLD_PORT,
# default 6817, and the next one for slurmd). Nothing listens beyond what Slurm itself opens,
# and the node's address is 127.0.0.1.
#
# Slurm's commands find this cluster through SLURM_CONF: after `up`, run
#   export SLURM_CONF=/tmp/hiveward-slurm/slurm.conf
# (`env` prints it). Jobs submitted with --export=ALL inherit it.
#
# Run it as root (as CI does): slurmd must be root to run jobs as other users. Run as another
# user, the daemons run as that user and only that user's jobs can run.
set -euo pipefail

dir="${HIVEWARD_SLURM_DIR:-/tmp/hiveward-slurm}"
ctld_port="${HIVEWARD_SLURMCTLD_PORT:-6817}"
slurmd_port=$((ctld_port + 1))
up_wait="${HIVEWARD_SLURM_UP_WAIT:-60}"   # seconds to wait for the node to become idle

conf="$dir/slurm.conf"
munge_dir="$dir/munge"
munge_socket="$munge_dir/munge.socket.2"

usage() {
  echo "usage: $0 up|down|env" >&2
  exit 2
}

log() { echo "slurm-cluster: $*" >&2; }

# The pid in PIDFILE if that process is alive and is the program NAME, else nothing.
live_pid() {
  local pidfile="$1" name="$2" pid comm
  [ -s "$pidfile" ] || return 1
  pid=$(tr -dc '0-9' <"$pidfile")
  [ -n "$pid" ] || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  [ "$comm" = "$name" ] || return 1
  echo "$pid"
}

show_logs() {
  local f
  for f in "$dir"/log/*.log "$munge_dir/munged.log"; do
    [ -f "$f" ] || continue
    echo "---- last lines of $f" >&2
    tail -n 30 "$f" >&2
  done
}

stop_daemon() {
  local pidfile="$1" name="$2" pid i
  pid=$(live_pid "$pidfile" "$name") || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    [ -d "/proc/$pid" ] || { log "stopped $name (pid $pid)"; return 0; }
    sleep 0.2
  done
  log "$name (pid $pid) did not stop in 10 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# The parent pid of process PID.
parent_of() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat="${stat##*) }"   # the fields after "pid (comm) "
  echo "${stat#* }" | cut -d' ' -f1
}

# PID and all its descendants, parents first.
process_tree() {
  local pids=("$1") i=0 p child
  while [ "$i" -lt "${#pids[@]}" ]; do
    p="${pids[$i]}"
    for child in /proc/[0-9]*; do
      child="${child#/proc/}"
      [ "$(parent_of "$child" 2>/dev/null || true)" = "$p" ] && pids+=("$child")
    done
    i=$((i + 1))
  done
  echo "${pids[@]}"
}

# Job steps (slurmstepd and the job's processes) outlive slurmd, and a step whose controller
# died keeps trying to report to whatever controller next listens on the port. End the steps of
# this cluster: slurmstepd processes whose environment holds this cluster's SLURM_CONF.
stop_stray_steps() {
  local p pid pids tree=()
  for p in /proc/[0-9]*; do
    pid="${p#/proc/}"
    [ "$(cat "$p/comm" 2>/dev/null || true)" = slurmstepd ] || continue
    tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$conf" || continue
    read -ra pids <<<"$(process_tree "$pid")"
    tree+=("${pids[@]}")
  done
  [ ${#tree[@]} -gt 0 ] || return 0
  log "ending job steps left by this cluster: pids ${tree[*]}"
  kill -TERM "${tree[@]}" 2>/dev/null || true
  sleep 1
  kill -KILL "${tree[@]}" 2>/dev/null || true
}

down() {
  if [ ! -d "$dir" ]; then
    stop_stray_steps
    log "no cluster state in $dir: nothing to stop"
    return 0
  fi
  # Cancel the cluster's jobs first: job steps outlive slurmd.
  local jobs i
  if live_pid "$dir/run/slurmctld.pid" slurmctld >/dev/null && [ -f "$conf" ]; then
    jobs=$(SLURM_CONF="$conf" squeue -h -o '%i' 2>/dev/null | tr '\n' ' ' || true)
    if [ -n "${jobs// /}" ]; then
      log "cancelling jobs still queued or running: $jobs"
      # shellcheck disable=SC2086  # one word per job id
      SLURM_CONF="$conf" scancel $jobs 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        [ -z "$(SLURM_CONF="$conf" squeue -h -o '%i' 2>/dev/null || true)" ] && break
        sleep 0.2
      done
    fi
  fi
  stop_daemon "$dir/run/slurmd.pid" slurmd
  stop_daemon "$dir/run/slurmctld.pid" slurmctld
  stop_stray_steps
  stop_daemon "$munge_dir/munged.pid" munged
  rm -rf "$dir"
  log "removed $dir"
}

write_conf() {
  local node="$1" user="$2" hw
  # The hardware line slurmd sees on this machine, such as
  #   NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
  hw=$(slurmd -C | head -n 1 | sed -E 's/^NodeName=[^ ]+ //')
  case "$hw" in
    *CPUs=*RealMemory=*) ;;
    *) log "unexpected output from 'slurmd -C': $hw"; exit 1 ;;
  esac
  cat >"$conf" <<EOF
# One-node test cluster written by .ci/slurm-cluster.sh; removed by its 'down'.
ClusterName=hiveward
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in a container: track processes through /proc, bind no tasks.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
# Keep finished jobs visible to scontrol for 10 minutes (there is no accounting database).
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName=$node NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=main Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

up() {
  local cmd node user pid i state
  for cmd in munged munge slurmctld slurmd sinfo scontrol; do
    command -v "$cmd" >/dev/null || {
      log "$cmd not found: install the packages first (apt-get install -y slurm-wlm munge)"
      exit 1
    }
  done
  if pid=$(live_pid "$dir/run/slurmctld.pid" slurmctld); then
    log "a cluster from $dir is already running (slurmctld pid $pid); run '$0 down' first"
    exit 1
  fi
  # Leftovers of a cluster that was not brought down: stop what still runs, start afresh.
  if [ -d "$dir" ]; then down; else stop_stray_steps; fi

  node=$(hostname -s)
  user=$(id -un)
  mkdir -p "$dir"
  # munged insists that everyone may traverse to its socket, and that no one else may write.
  chmod 0755 "$dir"
  mkdir -p "$munge_dir" "$dir/state" "$dir/spool/slurmd" "$dir/run" "$dir/log"
  chmod 0755 "$munge_dir"
  chmod 0700 "$dir/state"

  # A key of this cluster's own (munge keys are random bytes; munged wants 1 KiB or so).
  if [ ! -s "$munge_dir/munge.key" ]; then
    dd if=/dev/urandom of="$munge_dir/munge.key" bs=1024 count=1 status=none
    chmod 0400 "$munge_dir/munge.key"
  fi
  munged --key-file="$munge_dir/munge.key" --socket="$munge_socket" \
    --pid-file="$munge_dir/munged.pid" --log-file="$munge_dir/munged.log" \
    --seed-file="$munge_dir/munged.seed" || { show_logs; exit 1; }
  munge -n -S "$munge_socket" >/dev/null || { log "munged does not answer"; show_logs; exit 1; }
  log "munged is up (socket $munge_socket)"

  write_conf "$node" "$user"
  export SLURM_CONF="$conf"
  # -i: ignore state from an earlier cluster (there is none; the directory is new).
  slurmctld -i -f "$conf" || { log "slurmctld did not start"; show_logs; exit 1; }
  slurmd -f "$conf" -N "$node" || { log "slurmd did not start"; show_logs; exit 1; }
  log "slurmctld and slurmd started for node $node; waiting up to $up_wait s for it to be idle"

  state=""
  for ((i = 0; i < up_wait * 2; i++)); do
    state=$(sinfo -h -N -n "$node" -o '%T' 2>/dev/null | head -n 1 || true)
    case "$state" in
      idle) break ;;
      drain* | down* | fail*)
        # A node registered with a problem: show why and give up at once.
        scontrol show node "$node" >&2 || true
        show_logs
        log "node $node is $state"
        exit 1
        ;;
    esac
    sleep 0.5
  done
  if [ "$state" != idle ]; then
    log "node $node is not idle after $up_wait s (state: ${state:-unknown})"
    scontrol show node "$node" >&2 || true
    show_logs
    exit 1
  fi
  sinfo >&2
  log "cluster is up; export SLURM_CONF=$conf"
}

[ $# -eq 1 ] || usage
case "$1" in
  up) up ;;
  down) down ;;
  env) echo "export SLURM_CONF=$conf" ;;
  *) usage ;;
esac
