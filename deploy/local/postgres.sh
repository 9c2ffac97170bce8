#!/usr/bin/env bash
# PostgreSQL as a local process: its own cluster, data directory and port (never the system's
# default cluster). Server binaries come from Debian's packages; `install` adds them when absent.
# Usage: postgres.sh install|start|stop|status|env|purge
#   purge  stops the server and deletes the cluster and its password (start makes a new one)
#
# Where the cluster lives. initdb and the server refuse to run as root, so as root they run as
# the `postgres` user — which may not be able to enter the checkout (a clone in root's home or
# under `mktemp -d` sits in a folder of mode 700). As root, the cluster (data, socket, log) is
# therefore kept in the postgres user's home, in a directory of its own per run directory:
#   ~postgres/eip-clusters/<checkout name>-<hash of the run directory's path>
# so two checkouts (or two run directories) never share a cluster; `.run/postgres/cluster`
# links to it. As any other user the server runs as that user, in .run/postgres itself. A
# cluster that an earlier version made in .run/postgres/data stays where it is.
# The client side — the password file named by endpoints.json — always stays in
# .run/postgres, owned by the invoking user: the server's user never reads it (initdb gets the
# password through a file of its own, deleted once read).
EIP_COMPONENT=postgres
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_DIR="$EIP_RUN_DIR/postgres"
PG_PASSWORD_FILE="$EIP_PG_PASSWORD_FILE"
PG_USER=$EIP_PG_USER
PG_DB=$EIP_PG_DB

# locate_cluster — sets PG_SERVER_DIR (data, socket, log) and the paths in it. As root before
# PostgreSQL is installed there is no postgres user yet, and so no cluster: the paths stay
# empty until `start` has installed it.
locate_cluster() {
  PG_SERVER_DIR="" PG_DATA="" PG_LOG="" PG_START_CONF=""
  if [[ $(id -u) -ne 0 || -f $PG_DIR/data/PG_VERSION ]]; then
    PG_SERVER_DIR=$PG_DIR
  else
    local home name key
    home=$(getent passwd postgres | cut -d: -f6) || return 0
    [[ -n $home ]] || return 0
    name=$(basename "$EIP_ROOT" | tr -c 'A-Za-z0-9._\n-' '_')
    key=$(cd "$EIP_RUN_DIR" && pwd -P | sha256sum | cut -c1-12)
    PG_SERVER_DIR="$home/eip-clusters/$name-$key"
  fi
  PG_DATA="$PG_SERVER_DIR/data"
  PG_LOG="$PG_SERVER_DIR/postgres.log"
  # Where the server listens follows EIP_HOST/EIP_PG_PORT: this file is rewritten at each start.
  PG_START_CONF="$PG_DATA/eip-local.conf"
}
locate_cluster

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n $dir && -x $dir/initdb ]] && echo "$dir"
}

# initdb and the server refuse to run as root; as root we run them as the `postgres` user,
# from a directory it may enter (the current one may be the checkout it cannot).
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
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
  as_owner "$(pg_bindir)/psql" -h "$PG_SERVER_DIR" -p "$EIP_PG_PORT" -U "$PG_USER" -d postgres \
    -v ON_ERROR_STOP=1 -qAt "$@"
}

# postmaster_field N — line N of the running server's postmaster.pid (1 pid, 4 port)
postmaster_field() { sed -n "${1}p" "$PG_DATA/postmaster.pid" 2>/dev/null; }

# Our server: the pid its postmaster.pid names is alive.
server_running() {
  [[ -n $PG_DATA ]] || return 1
  local pid; pid=$(postmaster_field 1)
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# Healthy: our server runs, on the port asked for, and accepts connections there.
healthy() {
  server_running && [[ $(postmaster_field 4) == "$EIP_PG_PORT" ]] &&
    "$(pg_bindir)/pg_isready" -h "$EIP_HOST" -p "$EIP_PG_PORT" -q
}

ensure_password() {
  [[ -s $PG_PASSWORD_FILE ]] && return 0
  mkdir -p "$PG_DIR"
  (umask 077; head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$PG_PASSWORD_FILE")
}

init_cluster() {
  [[ -f $PG_DATA/PG_VERSION ]] && return 0
  log "initializing cluster in $PG_DATA"
  as_owner mkdir -p -m 700 "$PG_SERVER_DIR"
  # initdb reads the password from a file; the server's user cannot open ours (nor a pipe of
  # ours by name), so it gets a copy of its own through stdin, deleted once initdb has read it.
  local pwfile="$PG_SERVER_DIR/.initdb-password"
  # shellcheck disable=SC2016  # the inner shell expands its own $1
  as_owner sh -c 'umask 077 && cat > "$1"' _ "$pwfile" <"$PG_PASSWORD_FILE"
  if ! as_owner "$(pg_bindir)/initdb" -D "$PG_DATA" -U "$PG_USER" --pwfile="$pwfile" \
      --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 >/dev/null; then
    rm -f "$pwfile"
    die "initdb failed in $PG_DATA"
  fi
  rm -f "$pwfile"
  as_owner tee -a "$PG_DATA/postgresql.conf" >/dev/null <<CONF
# exchange-platform local cluster
max_connections = 200
shared_buffers = 256MB
fsync = on
log_min_messages = warning
CONF
}

# Where the server listens, rewritten at each start (included last, so it wins over the
# postgresql.conf of a cluster made by an earlier version, which carried its port there).
write_start_conf() {
  grep -qs "^include_if_exists = 'eip-local.conf'" "$PG_DATA/postgresql.conf" ||
    echo "include_if_exists = 'eip-local.conf'" | as_owner tee -a "$PG_DATA/postgresql.conf" >/dev/null
  as_owner tee "$PG_START_CONF" >/dev/null <<CONF
# Written by deploy/local/postgres.sh at each start; edits here are lost.
listen_addresses = '$EIP_HOST'
port = $EIP_PG_PORT
unix_socket_directories = '$PG_SERVER_DIR'
CONF
}

# The role's password follows the password file at every start. The two can part: as root the
# cluster lives outside the checkout (see the top), so a fresh clone at the path of an earlier
# one finds that clone's cluster while making a password file of its own — CI's clones did, and
# every test then failed on "password authentication failed". Sent on stdin (the local socket
# trusts the server's user), so the password never shows on a command line.
sync_password() {
  printf "ALTER ROLE %s PASSWORD '%s';\n" "$PG_USER" "$(cat "$PG_PASSWORD_FILE")" | psql_local -f - >/dev/null
}

start() {
  install
  locate_cluster
  [[ -n $PG_SERVER_DIR ]] || die "PostgreSQL is installed but there is no postgres user"
  if healthy 2>/dev/null; then
    ensure_password
    sync_password
    return 0
  fi
  if server_running; then
    die "the cluster in $PG_DATA already runs on port $(postmaster_field 4), not $EIP_PG_PORT; stop it first (make down)"
  fi
  if port_open "$EIP_HOST" "$EIP_PG_PORT"; then
    die "port $EIP_PG_PORT on $EIP_HOST is taken by $(port_taken_by "$EIP_PG_PORT") (set EIP_PG_PORT)"
  fi
  ensure_password
  init_cluster
  if [[ $PG_SERVER_DIR != "$PG_DIR" ]]; then ln -sfn "$PG_SERVER_DIR" "$PG_DIR/cluster"; fi
  write_start_conf
  log "starting on $EIP_HOST:$EIP_PG_PORT"
  as_owner "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null ||
    die "server did not start; see $PG_LOG"
  wait_until 60 "postgres" healthy
  if [[ -z $(psql_local -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") ]]; then
    psql_local -c "CREATE DATABASE $PG_DB OWNER $PG_USER"
  fi
  sync_password
  log "healthy"
}

stop() {
  server_running || return 0
  as_owner "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null || true
}

status() { pg_bindir >/dev/null && healthy; }

purge() {
  stop
  if [[ -n $PG_SERVER_DIR ]]; then
    log "deleting the cluster in $PG_SERVER_DIR"
    rm -rf "$PG_SERVER_DIR"
  fi
  rm -rf "$PG_DIR/cluster" "$PG_PASSWORD_FILE"
}

env_vars() {
  [[ -s $PG_PASSWORD_FILE ]] || die "not initialized; run: $0 start"
  echo "export DATABASE_URL=$(pg_url "$(cat "$PG_PASSWORD_FILE")")"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) env_vars ;;
  purge) purge ;;
  *) die "usage: $0 install|start|stop|status|env|purge" ;;
esac
