# Shared conventions for the deploy/local/*.sh scripts. Sourced, never executed.
#
# Layout:
#   EIP_CACHE_DIR  downloads and builds (Kafka jars, the Vault binary). Outside the work tree so
#                  that a fresh clone (CI) on the same machine reuses them; override to relocate.
#   EIP_RUN_DIR    per-checkout runtime state: data directories, logs, pid files, endpoints.json.
#                  Gitignored (.run/ in the repository).
# Every script takes one verb: install | start | stop | status | env
#   install  idempotent; does nothing when the cached artifact is already there
#   start    installs if needed, starts the component in the background, waits until healthy
#   stop     stops it cleanly (SIGTERM, then waits), no error when it is not running
#   status   exit 0 when healthy
#   env      prints `export NAME=value` lines a client needs (e.g. KAFKA_BOOTSTRAP_SERVERS)
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

# pid_alive PIDFILE — true when the process recorded in PIDFILE is running
pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pidfile PIDFILE TIMEOUT — SIGTERM, wait, SIGKILL as a last resort
stop_pidfile() {
  local pidfile=$1 timeout=${2:-30}
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + timeout ))
  while kill -0 "$pid" 2>/dev/null; do
    if (( $(date +%s) >= deadline )); then
      log "pid $pid did not stop in ${timeout}s, killing"; kill -KILL "$pid" 2>/dev/null || true; break
    fi
    sleep 0.3
  done
  rm -f "$pidfile"
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
