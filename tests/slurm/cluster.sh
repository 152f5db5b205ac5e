#!/usr/bin/env bash
# A throwaway two-node SLURM cluster for the tests: `cluster.sh COMMAND...` installs Debian's
# slurmctld, slurmd, slurm-client and munge if needed (root, no systemd), starts the daemons it
# needs with a config of its own, runs COMMAND with SLURM_CONF exported, then stops only the
# daemons it started, by their process ids. Exit status: COMMAND's.
# The two nodes, n1 and n2, are two slurmd on this machine (`slurmd -N`), each with a port of its
# own and half of its CPUs and memory: `srun -N2` runs one task on each, as on two machines.
# The config is also put at /etc/slurm/slurm.conf for the run (a file already there is set aside
# and put back): Snakemake's jobstep plugin strips SLURM_* variables, SLURM_CONF included, before
# its nested srun, which then reads the default path, as on a real cluster.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "cluster.sh: needs root (it installs Debian packages and runs the SLURM daemons)" >&2
    exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
        || ! command -v sbatch >/dev/null; then
    echo "cluster.sh: installing slurmctld slurmd slurm-client munge" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

DIR=$(mktemp -d /tmp/neuralloc-slurm.XXXXXX)
mkdir -p "$DIR/state"
HOST=$(hostname -s)
# CPUs and memory as slurmd sees them, shared by the two nodes; leave 1 GiB to the system
read -r CPUS MEM < <(slurmd -C | awk '/^NodeName/ {for (i=1;i<=NF;i++) {split($i,a,"="); if (a[1]=="CPUs") c=a[2]; if (a[1]=="RealMemory") m=a[2]}} END {print c, m}')
MEM=$((MEM > 2048 ? MEM - 1024 : MEM))
NODE_CPUS=$(( CPUS > 1 ? CPUS / 2 : 1 ))
NODE_MEM=$(( MEM / 2 ))
PORT=$(( 17000 + RANDOM % 20000 ))
cat > "$DIR/slurm.conf" <<CONF
ClusterName=neuralloc-test
SlurmctldHost=$HOST
SlurmctldPort=$((PORT + 10))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool-%n
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd-%n.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
# finished jobs stay visible to squeue/scontrol for an hour: without an accounting database,
# that is how Snakemake (slurm-status-command: squeue) and the tests see them end
MinJobAge=3600
ReturnToService=2
# a job past its time limit gets SIGTERM, then SIGKILL 10 s later (the time-limit test)
KillWait=10
OverTimeLimit=0
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=n1 NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$((PORT + 1)) CPUs=$NODE_CPUS RealMemory=$NODE_MEM State=UNKNOWN
NodeName=n2 NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$((PORT + 2)) CPUs=$NODE_CPUS RealMemory=$NODE_MEM State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$DIR/slurm.conf
SYSTEM_CONF=/etc/slurm/slurm.conf
mkdir -p /etc/slurm
[[ -e $SYSTEM_CONF ]] && mv "$SYSTEM_CONF" "$DIR/slurm.conf.system"
cp "$SLURM_CONF" "$SYSTEM_CONF"

STARTED=()
stop() {
    # end this cluster's own jobs first, so no job step outlives its daemons
    squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null || true
    sleep 1
    rm -f "$SYSTEM_CONF"
    [[ -e $DIR/slurm.conf.system ]] && mv "$DIR/slurm.conf.system" "$SYSTEM_CONF"
    for pidfile in "${STARTED[@]}"; do
        [[ -f $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    sleep 1
    for pidfile in "${STARTED[@]}"; do
        [[ -f $pidfile ]] && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
    done
}
trap stop EXIT

if ! pgrep -x munged >/dev/null; then
    mkdir -p /run/munge
    munged --force --pid-file="$DIR/munged.pid" 2>/dev/null || munged --force
    [[ -f $DIR/munged.pid ]] && STARTED+=("$DIR/munged.pid")
fi
slurmctld -f "$SLURM_CONF"
STARTED+=("$DIR/slurmctld.pid")
for node in n1 n2; do
    mkdir -p "$DIR/spool-$node"
    slurmd -f "$SLURM_CONF" -N "$node"
    STARTED+=("$DIR/slurmd-$node.pid")
done
for _ in $(seq 1 30); do
    if [[ $(sinfo -h -N -o %t 2>/dev/null | grep -cE '^(idle|mix|alloc)') -eq 2 ]]; then break; fi
    sleep 1
done
sinfo >&2
echo "cluster.sh: SLURM up ($SLURM_CONF); running: $*" >&2
set +e
"$@"
status=$?
set -e
echo "cluster.sh: command exited with $status; stopping the daemons it started" >&2
exit $status
