# shellcheck shell=bash
# Shared conventions for the deploy/local/*.sh scripts. Sourced, never executed.
#
# Layout:
#   EIP_CACHE_DIR  downloads and builds (Kafka jars, the Vault binary). Outside the work tree so
#                  that a fresh clone (CI) on the same machine reuses them; override to relocate.
#   EIP_RUN_DIR    per-checkout runtime state: data directories, logs, pid files, endpoints.json.
#                  Gitignored (.run/ in the repository). As root, PostgreSQL's cluster lives
#                  outside it (see postgres.sh): its server runs as `postgres`, which may not
#                  enter the checkout.
# Every script takes one verb: install | start | stop | status | env
#   install  idempotent; does nothing when the cached artifact is already there
#   start    installs if needed, starts the component in the background, waits until healthy;
#            refuses with a clear error when its port is taken by a process that is not ours
#   stop     stops it cleanly (SIGTERM, then waits), no error when it is not running
#   status   exit 0 when healthy
#   env      prints `export NAME=value` lines a client needs (e.g. KAFKA_BOOTSTRAP_SERVERS)
#
# Processes: every long-running process is started in its own session (setsid), so the pid
# file names the process itself and the leader of its process group. A pid file is trusted only
# while its process is alive and still runs our command line: after a crash or a reboot the
# number may name an unrelated process, which must never be taken for ours nor signalled.
set -euo pipefail

EIP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EIP_CACHE_DIR="${EIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/exchange-platform}"
EIP_RUN_DIR="${EIP_RUN_DIR:-$EIP_ROOT/.run}"
EIP_HOST="${EIP_HOST:-127.0.0.1}"
EIP_KAFKA_PORT="${EIP_KAFKA_PORT:-19092}"
EIP_KAFKA_CONTROLLER_PORT="${EIP_KAFKA_CONTROLLER_PORT:-19093}"
EIP_PG_PORT="${EIP_PG_PORT:-15432}"
EIP_VAULT_PORT="${EIP_VAULT_PORT:-18200}"
mkdir -p "$EIP_CACHE_DIR" "$EIP_RUN_DIR"
EIP_RUN_DIR="$(cd "$EIP_RUN_DIR" && pwd)"

# Where clients find the infrastructure: the one definition of each address, used by the
# components' `env` verbs and by services.sh.
# shellcheck disable=SC2034  # read by the scripts that source this file
EIP_PG_USER=eip EIP_PG_DB=eip \
  EIP_PG_PASSWORD_FILE="$EIP_RUN_DIR/postgres/password" \
  EIP_VAULT_INIT_FILE="$EIP_RUN_DIR/vault/init.json"
kafka_servers() { echo "$EIP_HOST:$EIP_KAFKA_PORT"; }
vault_addr() { echo "http://$EIP_HOST:$EIP_VAULT_PORT"; }
# pg_url [PASSWORD] — the database URL, with the password when one is given
pg_url() {
  echo "postgresql://$EIP_PG_USER${1:+:$1}@$EIP_HOST:$EIP_PG_PORT/$EIP_PG_DB"
}

log() { printf '[%s] %s\n' "${EIP_COMPONENT:-local}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# wait_until TIMEOUT_SECONDS DESCRIPTION CMD...  — polls CMD every 0.5 s
wait_until() {
  local timeout=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then
      die "$what not ready after ${timeout}s"
    fi
    sleep 0.5
  done
}

# wait_started TIMEOUT WHAT LOG PIDFILE ALIVE HEALTHY [ARG...] — polls `HEALTHY ARG...` until
# it succeeds; fails at once, with the tail of LOG, when `ALIVE ARG...` says the process that
# PIDFILE names has exited, and after TIMEOUT seconds.
wait_started() {
  local timeout=$1 what=$2 logfile=$3 pidfile=$4 alive=$5 healthy=$6
  shift 6
  local deadline=$(( $(date +%s) + timeout ))
  until "$healthy" "$@"; do
    if ! "$alive" "$@"; then
      tail -n 30 "$logfile" >&2 || true
      rm -f "$pidfile"
      die "$what exited during startup; see $logfile"
    fi
    if (( $(date +%s) >= deadline )); then
      die "$what not healthy after ${timeout}s; see $logfile"
    fi
    sleep 0.5
  done
}

# pid_running PIDFILE PATTERN — the process recorded in PIDFILE is alive, not a zombie awaiting
# its reaper, and its command line contains PATTERN.
pid_running() {
  [[ -f $1 ]] || return 1
  local pid stat
  pid=$(cat "$1")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(ps -o stat= -p "$pid" 2>/dev/null) && [[ -n $stat && $stat != Z* ]] || return 1
  local args; args=$(ps -ww -o args= -p "$pid" 2>/dev/null) || return 1
  [[ $args == *"$2"* ]]
}

# stop_pidfile PIDFILE PATTERN TIMEOUT — SIGTERM, wait, SIGKILL as a last resort. A process
# that leads its own process group (started with setsid) is signalled with its whole group, so
# nothing it started survives it.
stop_pidfile() {
  local pidfile=$1 pattern=$2 timeout=${3:-30}
  if ! pid_running "$pidfile" "$pattern"; then rm -f "$pidfile"; return 0; fi
  local pid target; pid=$(cat "$pidfile")
  target=$pid
  [[ $(ps -o pgid= -p "$pid" | tr -d ' ') == "$pid" ]] && target=-$pid
  log "stopping (pid $pid)"
  kill -TERM -- "$target" 2>/dev/null || true
  local deadline=$(( $(date +%s) + timeout ))
  while pid_running "$pidfile" "$pattern" || { [[ $target == -* ]] && group_alive "$pid"; }; do
    if (( $(date +%s) >= deadline )); then
      log "pid $pid did not stop in ${timeout}s, killing"
      kill -KILL -- "$target" 2>/dev/null || true
      break
    fi
    sleep 0.3
  done
  rm -f "$pidfile"
}

# group_alive PGID — a process other than a zombie is left in the process group
group_alive() {
  ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# port_pids PORT — the processes listening on TCP PORT, among those this user may inspect
# (/proc/net/tcp names the socket's inode, a process's fd table links to it).
port_pids() {
  local hex inode
  hex=$(printf ':%04X' "$1")
  awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' \
      /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    while read -r inode; do
      find /proc/[0-9]*/fd -maxdepth 1 -lname "socket:\[$inode\]" 2>/dev/null | cut -d/ -f3
    done | sort -un
}

# pid_listens PID PORT — the process PID listens on TCP PORT
pid_listens() {
  local pids; pids=$(port_pids "$2")
  [[ $'\n'$pids$'\n' == *$'\n'$1$'\n'* ]]
}

# port_taken_by PORT — "pid N (command)" for each process listening on PORT, for error messages
port_taken_by() {
  local pid who=""
  for pid in $(port_pids "$1"); do
    who+="${who:+, }pid $pid ($(ps -o args= -p "$pid" 2>/dev/null | cut -c1-80))"
  done
  echo "${who:-a process of another user}"
}
