#!/usr/bin/env bash
# Apache Kafka as a local process: one KRaft node that is both broker and controller, its own
# data directory and ports. The broker's jars come from Maven Central (resolved by Maven from
# deploy/local/kafka/pom.xml into $EIP_CACHE_DIR/kafka/<version>/libs); no Kafka download site,
# no Docker. Idempotent producers, transactions and compacted topics work on it (the internal
# topics are created with replication factor 1 and min.insync.replicas 1).
# Usage: kafka.sh install|start|stop|status|env
#   EIP_KAFKA_VERSION   Kafka version to install and run (default 4.3.1)
#   EIP_KAFKA_HEAP_OPTS JVM heap flags (default "-Xms128m -Xmx512m")
#   EIP_JAVA            java binary (default: java on PATH; 17 or newer)
EIP_COMPONENT=kafka
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# 4.3.1: the newest Kafka whose every artifact Maven Central serves here (4.4.0 is served in part).
KAFKA_VERSION="${EIP_KAFKA_VERSION:-4.3.1}"
KAFKA_HEAP_OPTS="${EIP_KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
JAVA="${EIP_JAVA:-java}"
KAFKA_POM="$here/kafka/pom.xml"
KAFKA_LOG4J="$here/kafka/log4j2.properties"
KAFKA_HOME="$EIP_CACHE_DIR/kafka/$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_MARKER="$KAFKA_HOME/installed"
KAFKA_M2="$EIP_CACHE_DIR/m2"
KAFKA_DIR="$EIP_RUN_DIR/kafka"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_CONFIG="$KAFKA_DIR/server.properties"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"
START_TIMEOUT=120

# What the marker records: a change of version or of the pom (e.g. a log4j bump) reinstalls.
install_stamp() { echo "kafka $KAFKA_VERSION pom $(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"; }
installed() {
  [[ -f $KAFKA_MARKER && $(cat "$KAFKA_MARKER") == "$(install_stamp)" &&
     -f $KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar ]]
}

install() {
  if installed; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  mkdir -p "$KAFKA_HOME"
  # One install at a time (e.g. two scripts starting Kafka at once); re-check once we hold it.
  exec 8>"$KAFKA_HOME/.install.lock"
  flock 8
  if installed; then exec 8>&-; return 0; fi
  log "installing Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
  local staging; staging=$(mktemp -d "$KAFKA_HOME/libs.XXXXXX")
  local mvn_log="$KAFKA_HOME/install.log"
  # -U: retry what an earlier failed attempt left cached as missing. Maven 3.8 prints colour
  # resets even with -B -q, so its output goes to a log, shown on failure.
  if ! mvn -B -q -U -f "$KAFKA_POM" -Dmaven.repo.local="$KAFKA_M2" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DoutputDirectory="$staging" >"$mvn_log" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$mvn_log" | grep -v '^$' | tail -n 30 >&2
    rm -rf "$staging"
    die "Maven could not resolve Kafka $KAFKA_VERSION (full output: $mvn_log)"
  fi
  [[ -f $staging/kafka_2.13-$KAFKA_VERSION.jar ]] || { rm -rf "$staging"; die "kafka_2.13-$KAFKA_VERSION.jar missing after resolve"; }
  rm -rf "$KAFKA_LIBS"
  mv "$staging" "$KAFKA_LIBS"
  install_stamp > "$KAFKA_MARKER"
  exec 8>&-
  log "installed ($(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars, $(du -sh "$KAFKA_LIBS" | cut -f1))"
}

check_java() {
  command -v "$JAVA" >/dev/null || die "java not found (Kafka $KAFKA_VERSION needs Java 17 or newer)"
  local major
  major=$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}') || true
  major=${major%%.*}
  if ! [[ $major =~ ^[0-9]+$ ]] || (( major < 17 )); then
    die "$JAVA is Java ${major:-?}; Kafka $KAFKA_VERSION needs 17 or newer (set EIP_JAVA)"
  fi
}

# kafka_cmd CLASS ARGS... — the command line of a Kafka JVM, into the array KAFKA_CMD.
# JVM flags as Kafka's own kafka-run-class.sh sets them, with a small heap.
kafka_cmd() {
  # shellcheck disable=SC2206
  KAFKA_CMD=("$JAVA" $KAFKA_HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dkafka.logs.dir="$KAFKA_DIR/logs" -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
    -cp "$KAFKA_LIBS/*" "$@")
}

write_config() {
  mkdir -p "$KAFKA_DIR/logs" "$KAFKA_DATA"
  cat >"$KAFKA_CONFIG" <<CONF
# Written by deploy/local/kafka.sh at each start; edits here are lost.
# One KRaft node, broker and controller in one process.
process.roles=broker,controller
node.id=1
# A static quorum of this one node: nothing about the endpoint is stored in the metadata log,
# so a change of EIP_HOST or of the ports needs no reformat.
controller.quorum.voters=1@$EIP_HOST:$EIP_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$EIP_HOST:$EIP_KAFKA_PORT,CONTROLLER://$EIP_HOST:$EIP_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$EIP_HOST:$EIP_KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

log.dirs=$KAFKA_DATA
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
delete.topic.enable=true

# Internal topics on a single broker: replication factor 1, and min ISR 1 so that idempotent
# producers (acks=all) and transactions can write.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0

# Frugal on a 2-core machine.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
log.cleaner.enable=true
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=33554432
CONF
}

format_storage() {
  [[ -f $KAFKA_DATA/meta.properties ]] && return 0
  local cluster_id
  kafka_cmd kafka.tools.StorageTool random-uuid
  cluster_id=$("${KAFKA_CMD[@]}" 2>>"$KAFKA_DIR/format.log") ||
    die "could not generate a cluster id; see $KAFKA_DIR/format.log"
  log "formatting $KAFKA_DATA (cluster id $cluster_id)"
  kafka_cmd kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$KAFKA_CONFIG"
  "${KAFKA_CMD[@]}" >>"$KAFKA_DIR/format.log" 2>&1 || die "storage format failed; see $KAFKA_DIR/format.log"
}

# kafka_running — the pid file names our broker (this run directory's server.properties).
kafka_running() { pid_running "$KAFKA_PIDFILE" "kafka.Kafka $KAFKA_CONFIG"; }

# A Kafka protocol round trip: ApiVersions v0 (api key 18) with correlation id 0x45495021;
# healthy when the reply carries that correlation id and error code 0.
api_versions_ok() {
  # shellcheck disable=SC2016  # the inner script expands its own $1 and $2
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "\x00\x00\x00\x0d\x00\x12\x00\x00\x45\x49\x50\x21\x00\x03eip" >&3
    reply=$(head -c 10 <&3 | od -An -tx1 | tr -d " \n")
    [[ $reply == ????????454950210000 ]]
  ' _ "$EIP_HOST" "$EIP_KAFKA_PORT" 2>/dev/null
}

# Healthy: our process is alive, it logged that the broker finished starting (after metadata
# catch-up and unfencing), and it answers the Kafka protocol.
healthy() {
  kafka_running && grep -q 'Kafka Server started' "$KAFKA_LOG" 2>/dev/null &&
    api_versions_ok
}

start() {
  install
  if healthy; then return 0; fi
  check_java
  mkdir -p "$KAFKA_DIR"
  # One start at a time: a second concurrent `start` waits here, then finds the broker healthy.
  exec 9>"$KAFKA_DIR/.start.lock"
  flock 9
  if healthy; then exec 9>&-; return 0; fi
  if kafka_running; then
    log "already starting (pid $(cat "$KAFKA_PIDFILE")), waiting"
  else
    rm -f "$KAFKA_PIDFILE"
    local port
    for port in "$EIP_KAFKA_PORT" "$EIP_KAFKA_CONTROLLER_PORT"; do
      if port_open "$EIP_HOST" "$port"; then
        die "port $port on $EIP_HOST is taken by $(port_taken_by "$port") (set EIP_KAFKA_PORT and EIP_KAFKA_CONTROLLER_PORT)"
      fi
    done
    write_config
    format_storage
    log "starting Kafka $KAFKA_VERSION on $EIP_HOST:$EIP_KAFKA_PORT (controller $EIP_KAFKA_CONTROLLER_PORT)"
    # setsid: its own session, so the broker outlives the shell (and a Ctrl-C) that started it.
    kafka_cmd kafka.Kafka "$KAFKA_CONFIG"
    setsid "${KAFKA_CMD[@]}" </dev/null >"$KAFKA_LOG" 2>&1 9>&- &
    echo $! >"$KAFKA_PIDFILE"
  fi
  wait_started "$START_TIMEOUT" "the broker (logs also in $KAFKA_DIR/logs)" "$KAFKA_LOG" \
    "$KAFKA_PIDFILE" kafka_running healthy
  exec 9>&-
  log "healthy"
}

# Up to 60 s for Kafka's controlled shutdown, then SIGKILL.
stop() { stop_pidfile "$KAFKA_PIDFILE" "kafka.Kafka $KAFKA_CONFIG" 60; }

status() { healthy; }

env_vars() { echo "export KAFKA_BOOTSTRAP_SERVERS=$(kafka_servers)"; }

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) env_vars ;;
  *) die "usage: $0 install|start|stop|status|env" ;;
esac
