#!/usr/bin/env bash
# slurm-local.sh - single-node SLURM "cluster" on localhost for CI (copy of ../shared/tools/slurm-local.sh;
# called by .ci/services, which only stops what it started).
#
# Tested on Debian 12 (bookworm): slurm-wlm 22.05.8, munge 0.5.15, run as root,
# no systemd, no usable cgroups (Firecracker VM). Idempotent.
#
# Usage:
#   slurm_local_setup.sh up            install (if missing), configure, start, wait for idle node
#   slurm_local_setup.sh down [--purge] cancel jobs, stop the daemons this script started
#                                       (by recorded PID), restore /etc/slurm/slurm.conf;
#                                       --purge also deletes $SLURM_LOCAL_PREFIX
#   slurm_local_setup.sh status        show PIDs, sinfo, squeue
#   slurm_local_setup.sh env           print `export SLURM_CONF=...`
#
# Environment knobs:
#   SLURM_LOCAL_PREFIX      (default /tmp/slurm-local) config, munge key+socket, state, logs, pids
#   SLURM_LOCAL_ACCOUNTING  none (default) | slurmdbd
#                           none     : no sacct. Snakemake's slurm plugin then needs
#                                      --slurm-status-command squeue (MinJobAge is set to 3600).
#                           slurmdbd : also installs mariadb-server + slurmdbd, runs both from
#                                      $PREFIX, so `sacct` works (plugin defaults work).
#   SLURM_LOCAL_WAIT        (default 90) seconds to wait for the node to become idle
#   SLURM_LOCAL_NICE        (default 0) niceness of slurmd, inherited by every job
#
# Everything lives under $PREFIX except what apt-get installs and ONE symlink,
# /etc/slurm/slurm.conf -> $PREFIX/etc/slurm.conf. The symlink is required: the
# snakemake-executor-plugin-slurm-jobstep plugin strips every SLURM_* variable
# (including SLURM_CONF) before calling the nested `srun`, so srun inside the job
# only finds the config at the compiled-in default path. `down` removes the symlink
# (and restores a pre-existing file, if there was one).
set -euo pipefail

PREFIX=${SLURM_LOCAL_PREFIX:-${TMPDIR:-/tmp}/slurm-local}
ACCOUNTING=${SLURM_LOCAL_ACCOUNTING:-none}
WAIT_S=${SLURM_LOCAL_WAIT:-90}
CONF=$PREFIX/etc/slurm.conf
DBD_CONF=$PREFIX/etc/slurmdbd.conf
MUNGE_SOCK=$PREFIX/munge/munge.socket.2
MUNGE_KEY=$PREFIX/munge-etc/munge.key
ETC_CONF=/etc/slurm/slurm.conf
ETC_BACKUP=/etc/slurm/slurm.conf.pre-slurm-local
NODE=localhost
export SLURM_CONF=$CONF

log() { printf '[slurm-local %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# --------------------------------------------------------------------- helpers
pidfile() { echo "$PREFIX/run/$1.started.pid"; }

is_running() { # name -> 0 if the PID we recorded is alive and is that program
  local pf pid
  pf=$(pidfile "$1"); [ -s "$pf" ] || return 1
  pid=$(cat "$pf")
  kill -0 "$pid" 2>/dev/null || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

start_daemon() { # name comm cmd... : start in foreground mode, detached, record PID
  local name=$1 comm=$2; shift 2
  if is_running "$name" "$comm"; then
    log "$name already running (pid $(cat "$(pidfile "$name")"))"; return 0
  fi
  # setsid: own session, so the daemons outlive the calling CI step / shell.
  # In a non-interactive shell the background child is not a group leader, so
  # setsid exec()s in place and $! is the daemon's PID.
  setsid "$@" >"$PREFIX/log/$name.stdout" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
  sleep 0.3
  is_running "$name" "$comm" || { tail -20 "$PREFIX/log/$name.stdout" >&2; die "$name failed to start"; }
  log "started $name (pid $(cat "$(pidfile "$name")"))"
}

stop_daemon() { # name comm
  local name=$1 comm=$2 pf pid i
  pf=$(pidfile "$name")
  if ! is_running "$name" "$comm"; then rm -f "$pf"; return 0; fi
  pid=$(cat "$pf")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then log "$name did not stop, SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$pf"
}

wait_for() { # seconds description command...
  local t=$1 what=$2; shift 2
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || die "timeout (${t}s) waiting for $what"
    sleep 0.5
  done
}

# --------------------------------------------------------------------- install
install_packages() {
  local pkgs=(slurmctld slurmd slurm-client munge)
  [ "$ACCOUNTING" = slurmdbd ] && pkgs+=(slurmdbd mariadb-server)
  local missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "packages already installed"; return 0; fi
  log "installing: ${missing[*]}"
  mkdir -p "$PREFIX/log"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$PREFIX/log/apt-install.log" 2>&1 \
    || { tail -30 "$PREFIX/log/apt-install.log" >&2; die "apt-get install failed"; }
}

# --------------------------------------------------------------------- configure
write_config() {
  mkdir -p "$PREFIX"/{etc,log,run,munge,munge-etc,state/ctld,state/d,state/dbd}
  chmod 755 "$PREFIX/munge"      # munged: socket dir must be o+x
  chmod 700 "$PREFIX/munge-etc"  # munged: key dir must be private
  if [ ! -s "$MUNGE_KEY" ]; then
    dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
    chmod 400 "$MUNGE_KEY"
  fi

  # Node hardware exactly as slurmd detects it (avoids "Low RealMemory"/drain).
  local hw
  hw=$(/usr/sbin/slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]* //')
  [ -n "$hw" ] || die "slurmd -C gave no hardware line"

  local acct_lines
  if [ "$ACCOUNTING" = slurmdbd ]; then
    acct_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
# slurmctld/sacct/sacctmgr -> slurmdbd auth ignores AuthInfo and uses this as the munge socket
AccountingStoragePass=$MUNGE_SOCK
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30"
  else
    acct_lines="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$PREFIX/log/jobcomp.txt"
  fi

  local new=$CONF.new
  cat >"$new" <<EOF
# generated by slurm_local_setup.sh
ClusterName=localci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$PREFIX/state/ctld
SlurmdSpoolDir=$PREFIX/state/d
SlurmctldPidFile=$PREFIX/run/slurmctld.pid
SlurmdPidFile=$PREFIX/run/slurmd.pid
SlurmctldLogFile=$PREFIX/log/slurmctld.log
SlurmdLogFile=$PREFIX/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
# no cgroups (not usable in many CI sandboxes)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
SchedulerType=sched/backfill
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
# reject (instead of leaving PENDING forever) jobs that can never fit the node,
# e.g. a rule with threads > CPUs: snakemake then fails fast instead of hanging
EnforcePartLimits=ALL
# keep finished jobs visible to squeue for 1h (snakemake slurm plugin with
# --slurm-status-command squeue needs MinJobAge >= 3 * init_seconds_before_status_checks)
MinJobAge=3600
$acct_lines
NodeName=$NODE NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  CONF_CHANGED=0
  if ! cmp -s "$new" "$CONF"; then mv "$new" "$CONF"; CONF_CHANGED=1; else rm -f "$new"; fi

  if [ "$ACCOUNTING" = slurmdbd ]; then
    cat >"$DBD_CONF" <<EOF
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCK
DbdHost=localhost
DbdPort=6819
SlurmUser=root
PidFile=$PREFIX/run/slurmdbd.pid
LogFile=$PREFIX/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=slurmci
StoragePort=3306
EOF
    chmod 600 "$DBD_CONF"
  fi

  # Default-path config (see header: needed for the nested srun of snakemake jobs).
  mkdir -p /etc/slurm
  if [ -L "$ETC_CONF" ] && [ "$(readlink "$ETC_CONF")" = "$CONF" ]; then :;
  else
    if [ -e "$ETC_CONF" ] || [ -L "$ETC_CONF" ]; then
      [ -e "$ETC_BACKUP" ] || mv "$ETC_CONF" "$ETC_BACKUP"
      rm -f "$ETC_CONF"
    fi
    ln -s "$CONF" "$ETC_CONF"
  fi
  # (slurmdbd reads slurmdbd.conf from the directory of $SLURM_CONF, i.e. $PREFIX/etc)
}

# --------------------------------------------------------------------- mariadb (optional)
start_mariadb() {
  # mariadbd drops to user mysql: its data/socket/log dir must be owned by mysql
  local md=$PREFIX/mysql dd=$PREFIX/mysql/data sock=$PREFIX/mysql/mysqld.sock
  mkdir -p "$dd"; chown -R mysql:mysql "$md"
  if [ ! -d "$dd/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$dd" --auth-root-authentication-method=socket \
      --skip-test-db >"$PREFIX/log/mariadb-install.log" 2>&1 || { tail "$PREFIX/log/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
  fi
  start_daemon mariadbd mariadbd /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$dd" \
    --socket="$sock" --port=3306 --bind-address=127.0.0.1 --pid-file="$md/mariadbd.pid" \
    --log-error="$md/mariadbd.err" --innodb-buffer-pool-size=64M
  wait_for 60 "mariadb" mariadb --socket="$sock" -e "select 1"
  mariadb --socket="$sock" -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmci';
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmci';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"
}

# --------------------------------------------------------------------- up/down/status
node_state() { sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -1; }

cmd_up() {
  local t0=$SECONDS
  install_packages
  write_config
  start_daemon munged munged /usr/sbin/munged -F --socket="$MUNGE_SOCK" --key-file="$MUNGE_KEY" \
    --pid-file="$PREFIX/run/munged.pid" --seed-file="$PREFIX/munge-etc/munged.seed" \
    --log-file="$PREFIX/log/munged.log"
  wait_for 20 "munged" sh -c "munge -S '$MUNGE_SOCK' -n | unmunge -S '$MUNGE_SOCK'"

  if [ "$ACCOUNTING" = slurmdbd ]; then
    start_mariadb
    start_daemon slurmdbd slurmdbd /usr/sbin/slurmdbd -D
    wait_for 60 "slurmdbd" sacctmgr -i list cluster
    # cluster + account "ci" + current user, so sacct/sacctmgr-based account checks pass
    sacctmgr -i add cluster localci >/dev/null 2>&1 || true
    sacctmgr -i add account ci Description=ci Organization=ci >/dev/null 2>&1 || true
    sacctmgr -i add user "$(id -un)" Account=ci DefaultAccount=ci >/dev/null 2>&1 || true
  fi

  local fresh=0
  is_running slurmctld slurmctld || fresh=1
  start_daemon slurmctld slurmctld /usr/sbin/slurmctld -D -i
  wait_for 30 "slurmctld" sh -c "scontrol ping | grep -q UP"
  # SLURM_LOCAL_NICE: jobs inherit slurmd's niceness (be kind to a shared CI machine)
  start_daemon slurmd slurmd nice -n "${SLURM_LOCAL_NICE:-0}" /usr/sbin/slurmd -D -N "$NODE"
  if [ "$fresh" = 0 ] && [ "$CONF_CHANGED" = 1 ]; then log "config changed: scontrol reconfigure"; scontrol reconfigure; fi


  # wait until the node is idle; resume it if it came up down/drained
  local end=$((SECONDS + WAIT_S)) st
  while :; do
    st=$(node_state)
    case "$st" in
      idle|mixed|allocated) break ;;
      down*|drain*|fail*) scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    [ $SECONDS -lt $end ] || { sinfo -R >&2 || true; die "node not idle after ${WAIT_S}s (state '$st')"; }
    sleep 0.5
  done
  log "node $NODE is $st; up in $((SECONDS - t0))s (SLURM_CONF=$CONF)"
  sinfo
}

cmd_down() {
  if is_running slurmctld slurmctld; then scancel --user="$(id -un)" 2>/dev/null || true; sleep 1; fi
  stop_daemon slurmd slurmd
  stop_daemon slurmctld slurmctld
  stop_daemon slurmdbd slurmdbd
  stop_daemon mariadbd mariadbd
  stop_daemon munged munged
  if [ -L "$ETC_CONF" ] && [ "$(readlink "$ETC_CONF")" = "$CONF" ]; then
    rm -f "$ETC_CONF"
    [ -e "$ETC_BACKUP" ] && mv "$ETC_BACKUP" "$ETC_CONF"
  fi
  if [ "${1:-}" = --purge ]; then
    case "$PREFIX" in /tmp/?*) rm -rf "$PREFIX"; log "removed $PREFIX" ;; *) log "not purging $PREFIX (outside /tmp)";; esac
  fi
  log "down"
}

cmd_status() {
  local n
  for n in munged:munged mariadbd:mariadbd slurmdbd:slurmdbd slurmctld:slurmctld slurmd:slurmd; do
    if is_running "${n%%:*}" "${n##*:}"; then echo "${n%%:*}: running (pid $(cat "$(pidfile "${n%%:*}")"))"
    else echo "${n%%:*}: not running"; fi
  done
  sinfo 2>&1 || true
  squeue 2>&1 || true
}

case "${1:-up}" in
  up) cmd_up ;;
  down) shift; cmd_down "${1:-}" ;;
  status) cmd_status ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) echo "usage: $0 up|down [--purge]|status|env" >&2; exit 2 ;;
esac
