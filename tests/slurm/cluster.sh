#!/usr/bin/env bash
# A throwaway single-node SLURM cluster for the tests: `cluster.sh COMMAND...` installs Debian's
# slurmctld, slurmd, slurm-client and munge if needed (root, no systemd), starts the daemons it
# needs with a config of its own, runs COMMAND with SLURM_CONF exported, then stops only the
# daemons it started, by their process ids. Exit status: COMMAND's.
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
mkdir -p "$DIR/state" "$DIR/spool"
HOST=$(hostname -s)
# CPUs and memory as slurmd sees them; leave 1 GiB to the system
read -r CPUS MEM < <(slurmd -C | awk '/^NodeName/ {for (i=1;i<=NF;i++) {split($i,a,"="); if (a[1]=="CPUs") c=a[2]; if (a[1]=="RealMemory") m=a[2]}} END {print c, m}')
MEM=$((MEM > 2048 ? MEM - 1024 : MEM))
cat > "$DIR/slurm.conf" <<CONF
ClusterName=neuralloc-test
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
# finished jobs stay visible to squeue/scontrol for an hour: without an accounting database,
# that is how Snakemake (slurm-status-command: squeue) and the tests see them end
MinJobAge=3600
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
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
slurmd -f "$SLURM_CONF"
STARTED+=("$DIR/slurmd.pid")
for _ in $(seq 1 30); do
    if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then break; fi
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
