#!/usr/bin/env bash
# PostgreSQL as a local process: its own cluster, data directory and port (never the system's
# default cluster). Server binaries come from Debian's packages; `install` adds them when absent.
# Usage: postgres.sh install|start|stop|status|env
EIP_COMPONENT=postgres
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_DIR="$EIP_RUN_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"
PG_PASSWORD_FILE="$PG_DIR/password"
PG_USER=eip
PG_DB=eip

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n $dir && -x $dir/initdb ]] && echo "$dir"
}

# initdb and the server refuse to run as root; as root we run them as the `postgres` user.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

install() {
  if pg_bindir >/dev/null; then return 0; fi
  [[ $(id -u) -eq 0 ]] || die "PostgreSQL server binaries missing; run as root or: sudo apt-get install postgresql"
  log "installing PostgreSQL server from Debian packages"
  # Keep the package from creating (and starting) the system-wide default cluster.
  mkdir -p /etc/postgresql-common
  grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pg_bindir >/dev/null || die "apt-get installed postgresql but no initdb was found"
}

psql_local() {
  as_owner "$(pg_bindir)/psql" -h "$PG_DIR" -p "$EIP_PG_PORT" -U "$PG_USER" -d postgres \
    -v ON_ERROR_STOP=1 -qAt "$@"
}

healthy() {
  "$(pg_bindir)/pg_isready" -h "$EIP_HOST" -p "$EIP_PG_PORT" -q
}

init_cluster() {
  [[ -f $PG_DATA/PG_VERSION ]] && return 0
  log "initializing cluster in $PG_DATA"
  mkdir -p "$PG_DIR"
  if [[ ! -s $PG_PASSWORD_FILE ]]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$PG_PASSWORD_FILE")
  fi
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres: "$PG_DIR"; fi
  as_owner "$(pg_bindir)/initdb" -D "$PG_DATA" -U "$PG_USER" --pwfile="$PG_PASSWORD_FILE" \
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >> "$PG_DATA/postgresql.conf" <<CONF
# exchange-platform local cluster
listen_addresses = '$EIP_HOST'
port = $EIP_PG_PORT
unix_socket_directories = '$PG_DIR'
max_connections = 200
shared_buffers = 256MB
fsync = on
log_min_messages = warning
CONF
}

start() {
  install
  if healthy 2>/dev/null; then return 0; fi
  init_cluster
  log "starting on $EIP_HOST:$EIP_PG_PORT"
  as_owner "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null ||
    die "server did not start; see $PG_LOG"
  wait_until 60 "postgres" healthy
  if [[ -z $(psql_local -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") ]]; then
    psql_local -c "CREATE DATABASE $PG_DB OWNER $PG_USER"
  fi
  log "healthy"
}

stop() {
  [[ -f $PG_DATA/postmaster.pid ]] || return 0
  as_owner "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null || true
}

status() { pg_bindir >/dev/null && healthy; }

env_vars() {
  [[ -s $PG_PASSWORD_FILE ]] || die "not initialized; run: $0 start"
  echo "export DATABASE_URL=postgresql://$PG_USER:$(cat "$PG_PASSWORD_FILE")@$EIP_HOST:$EIP_PG_PORT/$PG_DB"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) env_vars ;;
  *) die "usage: $0 install|start|stop|status|env" ;;
esac
