#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for the tests: Debian's
# slurmctld and slurmd (slurm-wlm 22.05), no munge (auth/none), no
# accounting daemon, two partitions so that preemption can be tested:
#   low  (default)  preemptible, PreemptMode=REQUEUE
#   high            PriorityTier=10; a job here requeues the low ones
#
#   tests/slurm/local_cluster.sh start   # installs the packages if missing
#   tests/slurm/local_cluster.sh stop
#   tests/slurm/local_cluster.sh status
#
# Needs root (it installs packages and writes /etc/slurm/slurm.conf, the
# path the job steps read). It refuses to touch a slurm.conf it did not write.
set -euo pipefail

STATE_DIR=${SAEPROBE_SLURM_DIR:-/tmp/saeprobe-slurm}
CONF=/etc/slurm/slurm.conf
MARKER="# written by saeprobe tests/slurm/local_cluster.sh"

install_packages() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && return
    echo "installing slurmctld, slurmd and slurm-client from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d keeps the packages from starting their own daemons.
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client >/dev/null
}

write_conf() {
    if [[ -e $CONF ]] && ! grep -qF "$MARKER" "$CONF" || [[ -e /etc/slurm/gres.conf ]] && ! grep -qF "$MARKER" /etc/slurm/gres.conf; then
        echo "error: $CONF or gres.conf exists and was not written by this script; not touching a real cluster's config" >&2
        exit 1
    fi
    local host cpus mem_mb
    host=$(hostname -s)
    cpus=$(nproc)
    mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    mkdir -p /etc/slurm "$STATE_DIR"/{state,spool}
    cat > "$CONF" <<CONF
$MARKER
ClusterName=saeprobe-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$STATE_DIR/state
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$STATE_DIR/slurmctld.log
SlurmdLogFile=$STATE_DIR/slurmd.log
ReturnToService=2
# Without slurmdbd there is no sacct: the executor plugin polls squeue,
# which needs finished jobs to stay listed a while.
MinJobAge=300
# Preemption by partition priority; a preempted job is requeued, as on
# clusters with preemptible partitions. A short KillWait keeps tests quick.
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
KillWait=10
# A requeued job waits cred_expire + 1 s before it may start again (default 120 s).
AuthInfo=cred_expire=10
# One GPU in name only (its "device" is /dev/null), so that jobs asking for --gres=gpu:1
# are scheduled as on a GPU cluster.
GresTypes=gpu
NodeName=$host CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=low Nodes=$host Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE OverSubscribe=NO
PartitionName=high Nodes=$host MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF OverSubscribe=NO
CONF
    cat > /etc/slurm/gres.conf <<GRES
$MARKER
NodeName=$host Name=gpu File=/dev/null
GRES
}

start() {
    install_packages
    write_conf
    stop_daemons
    rm -rf "$STATE_DIR"/state/* "$STATE_DIR"/spool/*
    slurmctld -i || fail "slurmctld did not start"
    slurmd || fail "slurmd did not start"
    for _ in $(seq 60); do
        if sinfo -h -o "%T" 2>/dev/null | grep -qE "^idle"; then
            echo "SLURM is up: $(sinfo -h -o '%P %D %c %T' | tr '\n' ';')" >&2
            return 0
        fi
        sleep 1
    done
    fail "the node did not come up"
}

fail() {
    echo "error: $1; the daemons' logs end:" >&2
    tail -n 20 "$STATE_DIR"/slurmctld.log "$STATE_DIR"/slurmd.log >&2 || true
    exit 1
}

stop_daemons() {
    local pidfile
    for pidfile in "$STATE_DIR"/slurmd.pid "$STATE_DIR"/slurmctld.pid; do
        [[ -s $pidfile ]] || continue
        kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    # Jobs still running are killed with their slurmstepd.
    pkill -f slurmstepd 2>/dev/null || true
    for _ in $(seq 20); do
        pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null || return 0
        sleep 0.5
    done
    pkill -9 -x slurmctld 2>/dev/null || true
    pkill -9 -x slurmd 2>/dev/null || true
}

stop() {
    stop_daemons
    [[ -e $CONF ]] && grep -qF "$MARKER" "$CONF" && rm -f "$CONF" /etc/slurm/gres.conf
    echo "SLURM stopped" >&2
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) sinfo && squeue ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
