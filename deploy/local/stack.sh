#!/usr/bin/env bash
# deploy/local/stack.sh - a local stand-in for the platform dbcanary watches:
#   * PostgreSQL 15 "shared-postgres": primary + 2 streaming standbys (quorum sync, TLS, WAL archive)
#   * one PgBouncer process per CNPG Pooler (gitlab rw/ro, harbor, keycloak, synergyflow)
#   * a redis master + replica standing in for DragonflyDB
#   * victoria-metrics, vmagent and vmalert: the monitoring pipeline, scraping dbcanary
# and writes a ready-to-use dbcanary config for it.
#
# Usage: stack.sh up | down [--purge] | status | env | start NAME | stop NAME | restart NAME
#        | backup [LABEL] | restore-scratch LABEL PORT | drop-scratch PORT
#        | failover [--to NAME] | reload-rules
#
# Environment:
#   DBCANARY_STACK_DIR        state directory            (default /tmp/dbcanary-stack)
#   DBCANARY_STACK_PORT_BASE  first port of the stack    (default 15400)
#   DBCANARY_LISTEN_PORT      exporter port in config    (default 9750)
#   DBCANARY_PG_BIN           PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
#
# Everything listens on 127.0.0.1 only. PostgreSQL and PgBouncer run as the `postgres` OS user
# when this script runs as root (PostgreSQL refuses root), otherwise as the invoking user; redis
# runs as the invoking user.

set -euo pipefail
# files are private unless made public explicitly (chmod 0644 / 0755 below)
umask 077

PROG=${0##*/}
SCRIPT_PATH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/${BASH_SOURCE[0]##*/}
# shellcheck source=deploy/local/stack-monitoring.sh
source "$(dirname "$SCRIPT_PATH")/stack-monitoring.sh"

usage() {
    cat <<EOF
Usage: $PROG COMMAND

Commands:
  up              create/start the whole stack (idempotent), write the dbcanary config
  down [--purge]  stop every process of the stack; --purge also deletes the state directory
  status          one line per component; exit 0 if everything is up, 1 otherwise
  env             print the stack.env variables (ports, directories, binaries)
  start NAME      start one component (creating it if needed)
  stop NAME       stop one component
  failover [--to NAME]
                  kill the primary (immediate stop), promote the most advanced standby (or NAME),
                  repoint poolers and standbys, re-attach the old primary (pg_rewind); prints timings
  restart NAME    stop, then start one component
  backup [LABEL]  pg_basebackup of the current primary into \$DIR/backups/LABEL (default:
                  \$DBCANARY_BACKUP_LABEL, else a timestamp); prints the path and label
  restore-scratch LABEL PORT
                  temporary instance on 127.0.0.1:PORT from backup LABEL, WAL archive replayed
                  to its end, promoted (cluster_name dbcanary-scratch-PORT, no archiving)
  drop-scratch PORT  stop and delete that instance (idempotent)
  reload-rules    make vmalert re-read its rule files ($DIR/monitoring/vmalert-rules/*.yml)

Component names:
  shared-postgres-1 (primary), shared-postgres-2, shared-postgres-3 (standbys; after a failover
  the roles move: 'status' shows the current primary)
  gitlab-pooler-rw, gitlab-pooler-ro, harbor-pooler-rw, keycloak-pooler-rw, synergyflow-pooler-rw
  dragonfly-0 (redis master), dragonfly-1 (redis replica)
  victoria-metrics, vmagent, vmalert, alertmanager (the monitoring pipeline: vmagent scrapes dbcanary on
  DBCANARY_LISTEN_PORT into victoria-metrics, vmalert evaluates alerts/dbcanary.rules.yml)

Environment: DBCANARY_STACK_DIR (default /tmp/dbcanary-stack),
             DBCANARY_STACK_PORT_BASE (default 15400), DBCANARY_LISTEN_PORT (default 9750)
EOF
}

# ----------------------------------------------------------------------------------------------
# settings
# ----------------------------------------------------------------------------------------------

DIR=${DBCANARY_STACK_DIR:-/tmp/dbcanary-stack}
# A stack keeps the ports it was created with: later calls that name only the directory
# (start/stop/status from a test) must not fall back to the default ports.
recorded_setting() {
    local file=$DIR/stack.env
    [[ -r $file ]] && sed -n "s/^$1=\([0-9]*\)$/\1/p" "$file" | head -n 1
}
BASE=${DBCANARY_STACK_PORT_BASE:-$(recorded_setting DBCANARY_STACK_PORT_BASE || true)}
BASE=${BASE:-15400}
LISTEN_PORT=${DBCANARY_LISTEN_PORT:-$(recorded_setting DBCANARY_LISTEN_PORT || true)}
LISTEN_PORT=${LISTEN_PORT:-9750}
PG_BIN=${DBCANARY_PG_BIN:-/usr/lib/postgresql/15/bin}

PG_NAMES=(shared-postgres-1 shared-postgres-2 shared-postgres-3)
PG_PRIMARY=shared-postgres-1
PG_STANDBYS=(shared-postgres-2 shared-postgres-3)
POOLERS=(gitlab-pooler-rw gitlab-pooler-ro harbor-pooler-rw keycloak-pooler-rw synergyflow-pooler-rw)
REDIS_NAMES=(dragonfly-0 dragonfly-1)
ALL_NAMES=("${PG_NAMES[@]}" "${POOLERS[@]}" "${REDIS_NAMES[@]}" "${MONITORING_NAMES[@]}")
TENANTS=(gitlab harbor keycloak synergyflow)
declare -A TENANT_DB=([gitlab]=gitlabhq_production [harbor]=registry [keycloak]=keycloak [synergyflow]=synergyflow)
SECRET_NAMES=(streaming_replica gitlab harbor keycloak synergyflow dbcanary dbcanary_drill pgbouncer_admin dragonfly)
SYNC_NAMES='ANY 1 ("shared-postgres-2", "shared-postgres-3")'

T0=${EPOCHREALTIME/./}
# log lines carry the seconds since the script started
log() {
    local ms=$(((${EPOCHREALTIME/./} - T0) / 1000))
    printf '[stack %d.%03ds] %s\n' $((ms / 1000)) $((ms % 1000)) "$*"
}
warn() { printf '[stack] warning: %s\n' "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

validate_settings() {
    [[ $DIR == /* ]] || DIR=$PWD/$DIR
    DIR=${DIR%/}
    [[ $DIR =~ ^/[A-Za-z0-9._/+-]+$ ]] ||
        die "DBCANARY_STACK_DIR '$DIR' must be an absolute path made of letters, digits and ._/+- only"
    case $DIR in
    / | /tmp | /root | /home | /usr | /usr/* | /etc | /etc/* | /var | /work | /work/main*)
        die "refusing to use '$DIR' as the stack state directory" ;;
    esac
    # unix socket paths are limited to 107 bytes: $DIR/run/.s.PGSQL.NNNNN
    ((${#DIR} <= 80)) || die "DBCANARY_STACK_DIR is too long (max 80 characters): $DIR"
    [[ $BASE =~ ^[0-9]{1,5}$ ]] || die "DBCANARY_STACK_PORT_BASE must be an integer (got '$BASE')"
    BASE=$((10#$BASE))
    ((BASE >= 1024 && BASE <= 65500)) || die "DBCANARY_STACK_PORT_BASE must be in 1024..65500 (got $BASE)"
    [[ $LISTEN_PORT =~ ^[0-9]{1,5}$ ]] || die "DBCANARY_LISTEN_PORT must be a port number (got '$LISTEN_PORT')"
    LISTEN_PORT=$((10#$LISTEN_PORT))
    ((LISTEN_PORT >= 1 && LISTEN_PORT <= 65535)) || die "DBCANARY_LISTEN_PORT must be in 1..65535 (got $LISTEN_PORT)"
    [[ -x $PG_BIN/pg_ctl ]] || die "no PostgreSQL server binaries in $PG_BIN (set DBCANARY_PG_BIN)"
}

# Users: PostgreSQL refuses to run as root, so a root invocation runs the database side as `postgres`.
if ((EUID == 0)); then
    RUN_USER=postgres
    id -u "$RUN_USER" >/dev/null 2>&1 || die "OS user '$RUN_USER' does not exist (install postgresql-15)"
else
    RUN_USER=$(id -un)
fi
PG_SUPERUSER=$RUN_USER

# run a command as the database OS user
as_run() {
    if ((EUID == 0)); then
        runuser -u "$RUN_USER" -- "$@"
    else
        "$@"
    fi
}

# chown to the database OS user (a no-op when not root)
own_run() {
    if ((EUID == 0)); then chown "$RUN_USER": "$@"; fi
}

# run a command that leaves a daemon behind: the daemon must not inherit any descriptor beyond
# stdin/stdout/stderr (our lock on fd 9, a test runner's pipe such as bats' fd 3, ...), or it
# would hold them open for its whole life
spawn_daemon() {
    (
        close_inherited_fds
        "$@"
    )
}

# close every descriptor of this (sub)shell beyond stdin/stdout/stderr
close_inherited_fds() {
    local fd
    for fd in /proc/"$BASHPID"/fd/*; do
        fd=${fd##*/}
        if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then exec {fd}>&- 2>/dev/null || true; fi
    done
}

# put_file FILE MODE OWNER <CONTENT: write FILE only when its content differs; OWNER is `run`
# (database OS user) or `self`. Sets CHANGED=1 when the file was written, else CHANGED=0.
CHANGED=0
put_file() {
    local f=$1 mode=$2 owner=$3 new="" old=""
    IFS= read -r -d '' new || true
    CHANGED=0
    if [[ -f $f ]]; then
        IFS= read -r -d '' old <"$f" || true
        [[ $old != "$new" ]] || return 0
    fi
    printf '%s' "$new" >"$f"
    chmod "$mode" "$f"
    if [[ $owner == run ]]; then own_run "$f"; fi
    CHANGED=1
}

# ----------------------------------------------------------------------------------------------
# layout
# ----------------------------------------------------------------------------------------------

declare -A PORT=()
set_paths() {
    TLS_DIR=$DIR/tls
    SECRETS_DIR=$DIR/secrets
    LOG_DIR=$DIR/logs
    SOCK_DIR=$DIR/run
    PG_DIR=$DIR/postgres
    ARCHIVE_DIR=$DIR/wal-archive
    BOUNCER_DIR=$DIR/pgbouncer
    REDIS_DIR=$DIR/redis
    CONFIG_FILE=$DIR/dbcanary.yaml
    ENV_FILE=$DIR/stack.env
    MARKER=$DIR/.dbcanary-stack
    REPL_PASSFILE=$PG_DIR/replication.pgpass
    PORT=(
        [shared-postgres-1]=$((BASE + 0))
        [shared-postgres-2]=$((BASE + 1))
        [shared-postgres-3]=$((BASE + 2))
        [gitlab-pooler-rw]=$((BASE + 10))
        [gitlab-pooler-ro]=$((BASE + 11))
        [harbor-pooler-rw]=$((BASE + 12))
        [keycloak-pooler-rw]=$((BASE + 13))
        [synergyflow-pooler-rw]=$((BASE + 14))
        [dragonfly-0]=$((BASE + 20))
        [dragonfly-1]=$((BASE + 21))
    )
    monitoring_set_paths
}

is_component() { [[ -n $1 && -n ${PORT[$1]:-} ]]; }

# pooler attributes -> P_TYPE P_MODE P_MAXCONN P_POOL P_DB P_USER P_TARGET
pooler_attrs() {
    case $1 in
    gitlab-pooler-rw) P_TYPE=rw P_MODE=transaction P_MAXCONN=200 P_POOL=15 P_DB=gitlabhq_production P_USER=gitlab P_TARGET=shared-postgres-1 ;;
    gitlab-pooler-ro) P_TYPE=ro P_MODE=transaction P_MAXCONN=200 P_POOL=15 P_DB=gitlabhq_production P_USER=gitlab P_TARGET=shared-postgres-2 ;;
    harbor-pooler-rw) P_TYPE=rw P_MODE=transaction P_MAXCONN=100 P_POOL=10 P_DB=registry P_USER=harbor P_TARGET=shared-postgres-1 ;;
    keycloak-pooler-rw) P_TYPE=rw P_MODE=session P_MAXCONN=100 P_POOL=10 P_DB=keycloak P_USER=keycloak P_TARGET=shared-postgres-1 ;;
    synergyflow-pooler-rw) P_TYPE=rw P_MODE=transaction P_MAXCONN=100 P_POOL=10 P_DB=synergyflow P_USER=synergyflow P_TARGET=shared-postgres-1 ;;
    *) die "unknown pooler '$1'" ;;
    esac
    # the roles follow the last failover (load_current_primary)
    if [[ $P_TYPE == rw ]]; then P_TARGET=$PG_PRIMARY; else P_TARGET=${PG_STANDBYS[0]}; fi
}

# create the state directory tree with the right owners
prepare_dirs() {
    if [[ -d $DIR && ! -e $MARKER ]] && [[ -n $(ls -A "$DIR") ]]; then
        die "$DIR exists, is not empty and is not a dbcanary stack directory (no $MARKER)"
    fi
    mkdir -p "$DIR" "$TLS_DIR" "$SECRETS_DIR" "$LOG_DIR" "$SOCK_DIR" "$PG_DIR" "$ARCHIVE_DIR" \
        "$BOUNCER_DIR" "$REDIS_DIR"
    [[ -e $MARKER ]] || : >"$MARKER"
    chmod 0755 "$DIR" "$TLS_DIR" "$LOG_DIR" "$SOCK_DIR" "$BOUNCER_DIR"
    chmod 0700 "$SECRETS_DIR" "$PG_DIR" "$ARCHIVE_DIR" "$REDIS_DIR"
    own_run "$LOG_DIR" "$SOCK_DIR" "$PG_DIR" "$ARCHIVE_DIR" "$BOUNCER_DIR"
    if ((EUID == 0)); then
        runuser -u "$RUN_USER" -- test -x "$DIR" -a -w "$SOCK_DIR" ||
            die "user $RUN_USER cannot reach $DIR (check the permissions of its parent directories)"
    fi
}

# ----------------------------------------------------------------------------------------------
# processes
# ----------------------------------------------------------------------------------------------

# pid_state_is PID PATTERN: the process state letter in /proc/PID/stat matches PATTERN
pid_state_is() {
    local stat
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat=${stat##*) }
    # shellcheck disable=SC2053 # PATTERN is a glob on purpose
    [[ ${stat:0:1} == $2 ]]
}

# pid_alive PID COMM: PID is a live process whose command name starts with COMM
pid_alive() {
    local pid=$1 comm=$2 actual
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    read -r actual 2>/dev/null <"/proc/$pid/comm" || return 1
    [[ $actual == "$comm"* ]] || return 1
    # a zombie (exited, not yet reaped by its parent) is not running
    ! pid_state_is "$pid" '[Zz]'
}

# pid_frozen PID: process is stopped (SIGSTOP) or traced
pid_frozen() { pid_state_is "$1" '[Tt]'; }

# component_pid NAME: sets CPID (from the component's pidfile, maybe empty) and CCOMM
component_pid() {
    local f
    case $1 in
    shared-postgres-*) f=$PG_DIR/$1/postmaster.pid CCOMM=postgres ;;
    *-pooler-*) f=$BOUNCER_DIR/$1/pgbouncer.pid CCOMM=pgbouncer ;;
    dragonfly-*) f=$REDIS_DIR/$1/redis.pid CCOMM=redis-server ;;
    victoria-metrics | vmagent | vmalert | alertmanager) f=$MON_DIR/$1.pid CCOMM=$(monitoring_comm "$1") ;;
    *) die "unknown component '$1'" ;;
    esac
    CPID=
    if [[ -r $f ]]; then read -r CPID 2>/dev/null <"$f" || true; fi
}

# running NAME: the component's process is alive (sets CPID and CCOMM). A pid from a stale
# pidfile may meanwhile belong to another process, even one of another stack: check that the
# process works in this stack's directory (postgres, redis) or runs this stack's ini (pgbouncer).
running() {
    local args=()
    component_pid "$1"
    pid_alive "$CPID" "$CCOMM" || return 1
    case $1 in
    shared-postgres-*) [[ /proc/$CPID/cwd -ef $PG_DIR/$1 ]] ;;
    dragonfly-*) [[ /proc/$CPID/cwd -ef $REDIS_DIR/$1 ]] ;;
    victoria-metrics | vmagent | vmalert | alertmanager) [[ /proc/$CPID/cwd -ef $MON_DIR/$1 ]] ;;
    *)
        mapfile -d '' args 2>/dev/null <"/proc/$CPID/cmdline" || return 1
        [[ " ${args[*]} " == *" $BOUNCER_DIR/$1/pgbouncer.ini "* ]]
        ;;
    esac
}

children_of() { pgrep -P "$1" 2>/dev/null || true; }

# wake PID and its direct children (a SIGSTOPped process cannot act on SIGTERM)
wake() {
    local pid=$1 c
    kill -CONT "$pid" 2>/dev/null || true
    for c in $(children_of "$pid"); do kill -CONT "$c" 2>/dev/null || true; done
}

# is any process of PID's family (PID and direct children) frozen?
family_frozen() {
    local pid=$1 c
    pid_frozen "$pid" && return 0
    for c in $(children_of "$pid"); do pid_frozen "$c" && return 0; done
    return 1
}

# terminate PID (command COMM): SIGCONT, SIGTERM, wait, SIGKILL after 5 seconds
kill_pid() {
    local pid=$1 comm=$2 label=$3 i
    pid_alive "$pid" "$comm" || return 0
    wake "$pid"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        pid_alive "$pid" "$comm" || return 0
        sleep 0.1
    done
    warn "$label (pid $pid) ignored SIGTERM for 5 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        pid_alive "$pid" "$comm" || return 0
        sleep 0.1
    done
    die "$label (pid $pid) survived SIGKILL"
}

# wait_for TIMEOUT CMD...: retry CMD until it succeeds or TIMEOUT seconds pass
wait_for() {
    local timeout=$1 deadline
    shift
    deadline=$((EPOCHSECONDS + timeout))
    until "$@"; do
        ((EPOCHSECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# is something listening on 127.0.0.1:PORT?
port_in_use() {
    local sock
    if { exec {sock}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
        exec {sock}>&-
        return 0
    fi
    return 1
}

# fail early when something else already listens on the port of NAME
check_port_free() {
    if port_in_use "${PORT[$1]}"; then
        die "cannot start $1: port ${PORT[$1]} on 127.0.0.1 is already in use (another stack with DBCANARY_STACK_PORT_BASE=$BASE?)"
    fi
}

show_log_tail() {
    local f=$1
    [[ -r $f ]] || return 0
    printf '%s\n' "---- last lines of $f ----" >&2
    tail -n 20 "$f" >&2 || true
    printf '%s\n' "----" >&2
}

STARTED=0

# ----------------------------------------------------------------------------------------------
# TLS and secrets
# ----------------------------------------------------------------------------------------------

ensure_tls() {
    local cnf=$TLS_DIR/openssl.cnf
    put_file "$cnf" 0644 self <<'EOF'
# generated by stack.sh
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = placeholder
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF
    if [[ ! -s $TLS_DIR/ca.crt || ! -s $TLS_DIR/ca.key ]]; then
        log "tls: creating CA $TLS_DIR/ca.crt"
        rm -f "$TLS_DIR/server.crt" "$TLS_DIR/server.key"
        openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
            -subj "/CN=dbcanary local stack CA" -config "$cnf" -extensions ca_ext \
            -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" 2>/dev/null ||
            die "openssl failed to create the CA"
    fi
    # keep a valid server certificate; replace it when missing, expiring or not from this CA
    if [[ ! -s $TLS_DIR/server.crt || ! -s $TLS_DIR/server.key ]] ||
        ! openssl x509 -in "$TLS_DIR/server.crt" -noout -checkend 86400 >/dev/null 2>&1 ||
        ! openssl verify -CAfile "$TLS_DIR/ca.crt" "$TLS_DIR/server.crt" >/dev/null 2>&1; then
        log "tls: creating server certificate (CN=localhost, SAN DNS:localhost, IP:127.0.0.1)"
        openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" -config "$cnf" \
            -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" 2>/dev/null ||
            die "openssl failed to create the server key"
        openssl x509 -req -sha256 -days 365 -in "$TLS_DIR/server.csr" \
            -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
            -extfile "$cnf" -extensions server_ext -out "$TLS_DIR/server.crt" 2>/dev/null ||
            die "openssl failed to sign the server certificate"
        rm -f "$TLS_DIR/server.csr"
        chmod 0644 "$TLS_DIR/ca.crt" "$TLS_DIR/server.crt"
        chmod 0600 "$TLS_DIR/ca.key" "$TLS_DIR/server.key"
        # PostgreSQL insists that its key belongs to the server user and is 0600
        own_run "$TLS_DIR/ca.key" "$TLS_DIR/server.key" "$TLS_DIR/ca.crt" "$TLS_DIR/server.crt"
    fi
}

ensure_secrets() {
    local s f
    for s in "${SECRET_NAMES[@]}"; do
        f=$SECRETS_DIR/$s.password
        # no trailing newline: the file content is the password
        if [[ ! -s $f ]]; then printf '%s' "$(openssl rand -hex 16)" >"$f"; fi
    done
    load_secrets
}

# SECRET[name] = password; a missing file gives ""
declare -A SECRET=()
load_secrets() {
    local s pw
    for s in "${SECRET_NAMES[@]}"; do
        pw=
        if [[ -r $SECRETS_DIR/$s.password ]]; then read -r pw <"$SECRETS_DIR/$s.password" || true; fi
        SECRET[$s]=$pw
    done
}

# ----------------------------------------------------------------------------------------------
# PostgreSQL
# ----------------------------------------------------------------------------------------------

# psql as the superuser over the unix socket. Every session commits locally so that nothing the
# stack does waits for a synchronous standby that might be down.
pg_admin() {
    local name=$1 db=$2
    shift 2
    as_run env PGOPTIONS="-c synchronous_commit=local -c client_min_messages=warning" PGCONNECT_TIMEOUT=5 \
        timeout 30 psql -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "${PORT[$name]}" \
        -U "$PG_SUPERUSER" -d "$db" "$@"
}

# one query with unaligned output and a short timeout (status and polling)
pg_value() {
    local name=$1 sql=$2
    as_run env PGOPTIONS="-c synchronous_commit=local" PGCONNECT_TIMEOUT=3 \
        timeout 5 psql -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "${PORT[$name]}" \
        -U "$PG_SUPERUSER" -d postgres -c "$sql" 2>/dev/null
}

# per-instance settings, rewritten before every start, included from postgresql.conf
pg_write_stack_conf() {
    local name=$1
    put_file "$PG_DIR/$name/stack.conf" 0600 run <<EOF
# generated by stack.sh before each start - edits are lost
listen_addresses = '127.0.0.1'
port = ${PORT[$name]}
unix_socket_directories = '$SOCK_DIR'
cluster_name = '$name'
max_connections = 200
shared_buffers = 32MB
password_encryption = scram-sha-256

ssl = on
ssl_cert_file = '$TLS_DIR/server.crt'
ssl_key_file = '$TLS_DIR/server.key'
ssl_ca_file = '$TLS_DIR/ca.crt'

wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
hot_standby_feedback = on
# pg_rewind re-attaches a failed primary (stack.sh failover); needs hint bits in WAL
wal_log_hints = on
# standbys reconnect quickly after the primary restarts
wal_retrieve_retry_interval = 1s
archive_mode = on
# a segment already archived counts as archived: after a failover the new primary offers the
# last segment of the old timeline again, which the old primary archived complete
archive_command = 'test -f $ARCHIVE_DIR/%f || cp %p $ARCHIVE_DIR/%f'

# speed over durability: this is a throw-away test stack
fsync = off
checkpoint_timeout = 30min
# 1 MB WAL segments (initdb --wal-segsize=1) keep pg_wal and the archive small
min_wal_size = 32MB
max_wal_size = 256MB

log_destination = 'stderr'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

pg_write_hba() {
    put_file "$PG_DIR/$1/pg_hba.conf" 0600 run <<EOF
# generated by stack.sh
# TYPE   DATABASE     USER               ADDRESS        METHOD
local    all          $PG_SUPERUSER      peer
local    replication  $PG_SUPERUSER      peer
hostssl  all          all                127.0.0.1/32   scram-sha-256
host     all          all                127.0.0.1/32   scram-sha-256
hostssl  replication  streaming_replica  127.0.0.1/32   scram-sha-256
host     replication  streaming_replica  127.0.0.1/32   scram-sha-256
EOF
}

pg_start() {
    local name=$1 data=$PG_DIR/$1 logf=$LOG_DIR/$1.log
    check_port_free "$name"
    pg_write_hba "$name"
    pg_write_stack_conf "$name"
    log "postgres: starting $name on port ${PORT[$name]}"
    if ! spawn_daemon as_run "$PG_BIN/pg_ctl" -D "$data" -l "$logf" -w -t 30 -s start </dev/null; then
        show_log_tail "$logf"
        die "$name failed to start"
    fi
    running "$name" || {
        show_log_tail "$logf"
        die "$name is not running after start"
    }
    STARTED=$((STARTED + 1))
}

# a running instance: resume it when it was SIGSTOPped
pg_check_running() {
    local name=$1 pid
    component_pid "$name"
    pid=$CPID
    if family_frozen "$pid"; then
        log "postgres: $name (pid $pid) was stopped with SIGSTOP, resuming it"
        wake "$pid"
    fi
    log "postgres: $name already running (pid $pid, port ${PORT[$name]})"
}

pg_init_primary() {
    local name=$PG_PRIMARY data=$PG_DIR/$PG_PRIMARY n
    # standbys and archived WAL of an earlier primary belong to another cluster
    for n in "${PG_STANDBYS[@]}"; do
        pg_stop "$n"
        rm -rf "${PG_DIR:?}/$n"
    done
    find "$ARCHIVE_DIR" -mindepth 1 -delete
    log "postgres: initdb $name"
    rm -rf "$data"
    as_run "$PG_BIN/initdb" -D "$data" -U "$PG_SUPERUSER" --auth-local=peer --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 --wal-segsize=1 --no-sync --no-instructions \
        >"$LOG_DIR/$name.initdb.log" 2>&1 || {
        show_log_tail "$LOG_DIR/$name.initdb.log"
        die "initdb failed for $name"
    }
    printf "\n# dbcanary local stack settings\ninclude_if_exists = 'stack.conf'\n" >>"$data/postgresql.conf"
}

# roles, databases, extensions, grants; idempotent; passwords follow the secret files
pg_bootstrap() {
    local sql t
    sql="SET password_encryption = 'scram-sha-256';
SELECT format('CREATE ROLE %I', r) FROM unnest(ARRAY['streaming_replica','dbcanary','dbcanary_drill','gitlab','harbor','keycloak','synergyflow']) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \\gexec
ALTER ROLE streaming_replica WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${SECRET[streaming_replica]}';
ALTER ROLE dbcanary WITH LOGIN NOREPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${SECRET[dbcanary]}';
GRANT pg_monitor TO dbcanary;
-- the restore drill closes the WAL segment holding its marker so the archive has it
GRANT EXECUTE ON FUNCTION pg_switch_wal() TO dbcanary;
-- drills that create and drop a scratch database (pg_benchmark) log in as this role, so
-- the monitoring role stays unable to create anything
ALTER ROLE dbcanary_drill WITH LOGIN NOREPLICATION NOSUPERUSER CREATEDB NOCREATEROLE PASSWORD '${SECRET[dbcanary_drill]}';
"
    for t in "${TENANTS[@]}"; do
        sql+="ALTER ROLE $t WITH LOGIN NOREPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${SECRET[$t]}';
SELECT 'CREATE DATABASE ${TENANT_DB[$t]} OWNER $t TEMPLATE template0 ENCODING ''UTF8'' LOCALE ''C.UTF-8'''
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '${TENANT_DB[$t]}') \\gexec
ALTER DATABASE ${TENANT_DB[$t]} OWNER TO $t;
GRANT CONNECT ON DATABASE ${TENANT_DB[$t]} TO dbcanary;
-- tenants are isolated: no other role reaches a tenant database through PUBLIC (pg_tenants isolation)
REVOKE CONNECT, TEMPORARY ON DATABASE ${TENANT_DB[$t]} FROM PUBLIC;
"
    done
    sql+="GRANT CONNECT ON DATABASE postgres TO dbcanary;
CREATE SCHEMA IF NOT EXISTS dbcanary AUTHORIZATION dbcanary;
\\connect gitlabhq_production
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gist;
\\connect registry
CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\";
"
    # on stdin, so that no password shows up in ps
    printf '%s\n' "$sql" | pg_admin "$PG_PRIMARY" postgres -f - ||
        die "bootstrap of roles and databases on $PG_PRIMARY failed"
    log "postgres: roles, databases and extensions are in place"
}

ensure_primary() {
    local data=$PG_DIR/$PG_PRIMARY
    if running "$PG_PRIMARY"; then
        pg_check_running "$PG_PRIMARY"
    else
        [[ -s $data/PG_VERSION ]] || pg_init_primary
        [[ ! -e $data/standby.signal ]] ||
            die "$data holds a standby (standby.signal); run '$PROG down --purge' and start over"
        pg_start "$PG_PRIMARY"
    fi
    pg_bootstrap
}

pg_write_repl_passfile() {
    put_file "$REPL_PASSFILE" 0600 run <<EOF
*:${PORT[$PG_PRIMARY]}:*:streaming_replica:${SECRET[streaming_replica]}
EOF
}

pg_standby_exists() { [[ -s $PG_DIR/$1/PG_VERSION && -e $PG_DIR/$1/standby.signal ]]; }

# pg_basebackup a standby from the running primary (expects the replication passfile)
pg_create_standby() {
    local name=$1 data=$PG_DIR/$1 slot=${1//-/_} conninfo auto
    running "$PG_PRIMARY" || die "cannot create standby $name: primary $PG_PRIMARY is not running"
    conninfo="host=127.0.0.1 port=${PORT[$PG_PRIMARY]} user=streaming_replica passfile=$REPL_PASSFILE sslmode=require application_name=$name"
    # a slot left over from an earlier copy of this standby would make -C fail
    pg_admin "$PG_PRIMARY" postgres -c \
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$slot' AND NOT active" \
        >/dev/null
    log "postgres: pg_basebackup $name (slot $slot)"
    rm -rf "$data"
    if ! as_run "$PG_BIN/pg_basebackup" -D "$data" -R -X stream -S "$slot" -C -c fast --no-sync \
        -d "$conninfo" >"$LOG_DIR/$name.basebackup.log" 2>&1; then
        show_log_tail "$LOG_DIR/$name.basebackup.log"
        rm -rf "$data"
        die "pg_basebackup for $name failed"
    fi
    # replace the conninfo pg_basebackup wrote by a stable one (the password stays in the passfile)
    auto=$data/postgresql.auto.conf
    grep -v '^primary_conninfo' "$auto" >"$auto.new" || true
    printf "primary_conninfo = '%s'\n" "$conninfo" >>"$auto.new"
    grep -q '^primary_slot_name' "$auto.new" || printf "primary_slot_name = '%s'\n" "$slot" >>"$auto.new"
    mv "$auto.new" "$auto"
    chmod 0600 "$auto"
    own_run "$auto"
}

ensure_standby() {
    local name=$1
    if running "$name"; then
        pg_check_running "$name"
        return 0
    fi
    pg_write_repl_passfile
    pg_standby_exists "$name" || pg_create_standby "$name"
    pg_start "$name"
}

# all standbys; missing ones are copied from the primary in parallel
ensure_standbys() {
    local n p pids=() failed=0
    pg_write_repl_passfile
    for n in "${PG_STANDBYS[@]}"; do
        if ! running "$n" && ! pg_standby_exists "$n"; then
            pg_create_standby "$n" &
            pids+=("$!")
        fi
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    ((failed == 0)) || die "creating the standbys failed"
    for n in "${PG_STANDBYS[@]}"; do ensure_standby "$n"; done
}

# pg_all_streaming NAME...: all the given standbys stream from the primary
pg_all_streaming() {
    local names="" n got
    for n in "$@"; do names+="${names:+,}'$n'"; done
    got=$(pg_value "$PG_PRIMARY" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND application_name IN ($names)") || return 1
    [[ $got == "$#" ]]
}

wait_streaming() {
    log "postgres: waiting for $* to stream from $PG_PRIMARY"
    wait_for 30 pg_all_streaming "$@" || {
        pg_value "$PG_PRIMARY" "SELECT application_name, state, sync_state FROM pg_stat_replication" >&2 || true
        die "standby(s) $* not streaming after 30 s (logs in $LOG_DIR)"
    }
    log "postgres: $* streaming"
}

pg_quorum_ok() {
    local got
    got=$(pg_value "$PG_PRIMARY" "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'quorum'") || return 1
    [[ $got == "${#PG_STANDBYS[@]}" ]]
}

# set synchronous_standby_names only once both standbys stream (platform pitfall: set earlier,
# every commit of the bootstrap would wait forever)
ensure_sync_names() {
    local current
    current=$(pg_value "$PG_PRIMARY" "SHOW synchronous_standby_names") || die "cannot query $PG_PRIMARY"
    if [[ $current != "$SYNC_NAMES" ]]; then
        log "postgres: synchronous_standby_names = '$SYNC_NAMES'"
        pg_admin "$PG_PRIMARY" postgres \
            -c "ALTER SYSTEM SET synchronous_standby_names = '$SYNC_NAMES'" \
            -c "SELECT pg_reload_conf()" >/dev/null
    fi
    wait_for 10 pg_quorum_ok || die "pg_stat_replication does not show both standbys with sync_state 'quorum'"
    log "postgres: both standbys stream, sync_state = quorum"
}

pg_stop() {
    local name=$1 pid c kids
    if ! running "$name"; then
        log "postgres: $name is not running"
        return 0
    fi
    pid=$CPID
    log "postgres: stopping $name (pid $pid)"
    kids=$(children_of "$pid")
    wake "$pid"
    if ! as_run "$PG_BIN/pg_ctl" -D "$PG_DIR/$name" -m fast -w -t 15 -s stop; then
        warn "$name did not stop in 15 s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for c in $kids; do kill -KILL "$c" 2>/dev/null || true; done
        wait_for 5 eval "! pid_alive $pid postgres" || die "$name (pid $pid) survived SIGKILL"
        show_log_tail "$LOG_DIR/$name.log"
    fi
}

# ----------------------------------------------------------------------------------------------
# PgBouncer: one process per pooler, as CNPG runs one Deployment per Pooler
# ----------------------------------------------------------------------------------------------

# writes the pooler's ini and userlist; CHANGED=1 when either changed
pooler_write_config() {
    local name=$1 d=$BOUNCER_DIR/$1 changed=0
    pooler_attrs "$name"
    if [[ ! -d $d ]]; then
        mkdir -p "$d"
        own_run "$d"
    fi
    # rw poolers also reach the pg_benchmark drill's scratch database (docs/drills/benchmark.md),
    # as a CNPG Pooler's "* =" entry reaches every database of its cluster
    local bench_db=""
    if [[ $P_TYPE == rw ]]; then
        bench_db="dbcanary_bench = host=127.0.0.1 port=${PORT[$P_TARGET]} dbname=dbcanary_bench"
    fi
    put_file "$d/pgbouncer.ini" 0600 run <<EOF
; generated by stack.sh - pooler $name (CNPG Pooler type $P_TYPE)
[databases]
$P_DB = host=127.0.0.1 port=${PORT[$P_TARGET]} dbname=$P_DB
$bench_db

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${PORT[$name]}
unix_socket_dir =
logfile = $d/pgbouncer.log
pidfile = $d/pgbouncer.pid

auth_type = scram-sha-256
auth_file = $d/userlist.txt
admin_users = pgbouncer_admin
stats_users = dbcanary

pool_mode = $P_MODE
max_client_conn = $P_MAXCONN
default_pool_size = $P_POOL
ignore_startup_parameters = extra_float_digits,options
application_name_add_host = 0

client_tls_sslmode = allow
client_tls_cert_file = $TLS_DIR/server.crt
client_tls_key_file = $TLS_DIR/server.key
client_tls_ca_file = $TLS_DIR/ca.crt
server_tls_sslmode = require
; after a failover the pooler's first login to the old primary fails: retry in 1 s, not the
; default 15 s, so clients wait about as long as the failover itself
server_login_retry = 1

log_connections = 0
log_disconnections = 0
EOF
    changed=$CHANGED
    # plaintext passwords: PgBouncer can then speak SCRAM to clients and to the server
    put_file "$d/userlist.txt" 0600 run <<EOF
"$P_USER" "${SECRET[$P_USER]}"
"dbcanary" "${SECRET[dbcanary]}"
"dbcanary_drill" "${SECRET[dbcanary_drill]}"
"pgbouncer_admin" "${SECRET[pgbouncer_admin]}"
EOF
    ((CHANGED == 0)) || changed=1
    CHANGED=$changed
}

pooler_ready() {
    # the password goes through the environment, never through argv (ps)
    PGPASSWORD="${SECRET[pgbouncer_admin]}" PGCONNECT_TIMEOUT=2 timeout 5 \
        psql -X -q -At -h 127.0.0.1 -p "${PORT[$1]}" -U pgbouncer_admin -d pgbouncer \
        -c "SHOW VERSION" >/dev/null 2>&1
}

# start without waiting for readiness (see pooler_wait)
pooler_start() {
    local name=$1 d=$BOUNCER_DIR/$1 pid
    if running "$name"; then
        pid=$CPID
        pooler_write_config "$name"
        if ((CHANGED)); then
            log "pgbouncer: $name config changed, reloading (SIGHUP pid $pid)"
            kill -HUP "$pid"
        fi
        if pid_frozen "$pid"; then
            log "pgbouncer: $name (pid $pid) was stopped with SIGSTOP, resuming it"
            wake "$pid"
        fi
        log "pgbouncer: $name already running (pid $pid, port ${PORT[$name]})"
        return 0
    fi
    pooler_write_config "$name"
    rm -f "$d/pgbouncer.pid"
    check_port_free "$name"
    log "pgbouncer: starting $name on port ${PORT[$name]}"
    spawn_daemon as_run pgbouncer -d -q "$d/pgbouncer.ini" </dev/null || {
        show_log_tail "$d/pgbouncer.log"
        die "pgbouncer $name failed to start"
    }
    STARTED=$((STARTED + 1))
}

pooler_wait() {
    local name=$1
    wait_for 10 pooler_ready "$name" || {
        show_log_tail "$BOUNCER_DIR/$name/pgbouncer.log"
        die "pgbouncer $name does not accept connections on port ${PORT[$name]}"
    }
}

# all poolers, started and waited for in parallel
ensure_poolers() {
    local n p pids=() failed=0
    for n in "${POOLERS[@]}"; do
        running "$n" || STARTED=$((STARTED + 1))
        { pooler_start "$n" && pooler_wait "$n"; } &
        pids+=("$!")
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    ((failed == 0)) || die "starting the poolers failed"
}

pooler_stop() {
    local name=$1
    if running "$name"; then
        log "pgbouncer: stopping $name (pid $CPID)"
        kill_pid "$CPID" pgbouncer "pgbouncer $name"
    else
        log "pgbouncer: $name is not running"
    fi
    rm -f "$BOUNCER_DIR/$name/pgbouncer.pid"
}

# ----------------------------------------------------------------------------------------------
# redis (stands in for DragonflyDB)
# ----------------------------------------------------------------------------------------------

redis_cli() {
    local name=$1
    shift
    # the password goes through the environment, never through argv (ps)
    REDISCLI_AUTH="${SECRET[dragonfly]}" timeout 5 redis-cli -h 127.0.0.1 -p "${PORT[$name]}" "$@"
}

# the password lives in this 0600 file, not on the command line
redis_write_config() {
    local name=$1 d=$REDIS_DIR/$1 pw=${SECRET[dragonfly]} replica=""
    mkdir -p "$d"
    if [[ $name == dragonfly-1 ]]; then replica="replicaof 127.0.0.1 ${PORT[dragonfly-0]}"; fi
    put_file "$d/redis.conf" 0600 self <<EOF
# generated by stack.sh - $name
bind 127.0.0.1
port ${PORT[$name]}
protected-mode no
requirepass $pw
masterauth $pw
daemonize yes
pidfile $d/redis.pid
logfile $d/redis.log
dir $d
appendonly yes
save 60 1
repl-diskless-sync-delay 0
enable-debug-command local
$replica
EOF
}

redis_ready() {
    [[ $(redis_cli "$1" ping 2>/dev/null) == PONG ]]
}

redis_link_up() {
    [[ $(redis_cli dragonfly-1 info replication 2>/dev/null) == *master_link_status:up* ]]
}

redis_start() {
    local name=$1 d=$REDIS_DIR/$1 pid
    if running "$name"; then
        pid=$CPID
        if pid_frozen "$pid"; then
            log "redis: $name (pid $pid) was stopped with SIGSTOP, resuming it"
            wake "$pid"
        fi
        log "redis: $name already running (pid $pid, port ${PORT[$name]})"
        return 0
    fi
    redis_write_config "$name"
    rm -f "$d/redis.pid"
    check_port_free "$name"
    log "redis: starting $name on port ${PORT[$name]}"
    (cd "$d" && spawn_daemon redis-server "$d/redis.conf" </dev/null) || {
        show_log_tail "$d/redis.log"
        die "redis $name failed to start"
    }
    wait_for 10 redis_ready "$name" || {
        show_log_tail "$d/redis.log"
        die "redis $name does not answer PING on port ${PORT[$name]}"
    }
    STARTED=$((STARTED + 1))
}

redis_stop() {
    local name=$1
    if running "$name"; then
        log "redis: stopping $name (pid $CPID)"
        kill_pid "$CPID" redis-server "redis $name"
    else
        log "redis: $name is not running"
    fi
}

wait_redis_link() {
    running dragonfly-0 || return 0
    wait_for 15 redis_link_up || {
        show_log_tail "$REDIS_DIR/dragonfly-1/redis.log"
        die "redis replica dragonfly-1 never reported master_link_status:up"
    }
    log "redis: dragonfly-1 replicates dragonfly-0 (master_link_status:up)"
}

# ----------------------------------------------------------------------------------------------
# generated files
# ----------------------------------------------------------------------------------------------

print_env() {
    local n k
    cat <<EOF
# generated by deploy/local/stack.sh - load with: set -a; . $ENV_FILE; set +a
DBCANARY_STACK_DIR=$DIR
DBCANARY_STACK_PORT_BASE=$BASE
DBCANARY_LISTEN_PORT=$LISTEN_PORT
DBCANARY_STACK_SCRIPT=$SCRIPT_PATH
DBCANARY_STACK_CONFIG=$CONFIG_FILE
DBCANARY_STACK_RUN_USER=$RUN_USER
DBCANARY_STACK_TLS_DIR=$TLS_DIR
DBCANARY_STACK_CA_CERT=$TLS_DIR/ca.crt
DBCANARY_STACK_SECRETS_DIR=$SECRETS_DIR
DBCANARY_STACK_LOG_DIR=$LOG_DIR
DBCANARY_STACK_PG_BIN=$PG_BIN
DBCANARY_STACK_PG_SOCKET_DIR=$SOCK_DIR
DBCANARY_STACK_PG_SUPERUSER=$PG_SUPERUSER
DBCANARY_STACK_PG_HOST=localhost
DBCANARY_STACK_PG_PRIMARY=$PG_PRIMARY
DBCANARY_STACK_PG_PRIMARY_PORT=${PORT[$PG_PRIMARY]}
DBCANARY_STACK_PG_WAL_ARCHIVE=$ARCHIVE_DIR
EOF
    for n in "${PG_NAMES[@]}"; do
        k=${n^^} k=${k//-/_}
        echo "DBCANARY_STACK_PORT_$k=${PORT[$n]}"
        echo "DBCANARY_STACK_PGDATA_$k=$PG_DIR/$n"
        echo "DBCANARY_STACK_LOG_$k=$LOG_DIR/$n.log"
    done
    for n in "${POOLERS[@]}"; do
        k=${n^^} k=${k//-/_}
        echo "DBCANARY_STACK_PORT_$k=${PORT[$n]}"
        echo "DBCANARY_STACK_PGBOUNCER_INI_$k=$BOUNCER_DIR/$n/pgbouncer.ini"
        echo "DBCANARY_STACK_PIDFILE_$k=$BOUNCER_DIR/$n/pgbouncer.pid"
    done
    for n in "${REDIS_NAMES[@]}"; do
        k=${n^^} k=${k//-/_}
        echo "DBCANARY_STACK_PORT_$k=${PORT[$n]}"
        echo "DBCANARY_STACK_REDIS_CONF_$k=$REDIS_DIR/$n/redis.conf"
        echo "DBCANARY_STACK_PIDFILE_$k=$REDIS_DIR/$n/redis.pid"
    done
    for n in "${MONITORING_NAMES[@]}"; do
        k=${n^^} k=${k//-/_}
        echo "DBCANARY_STACK_PORT_$k=${PORT[$n]}"
    done
    echo "DBCANARY_STACK_VMALERT_RULES_DIR=$RULES_DIR"
}

# the dbcanary config for this stack (format: the contract with the C++ config loader)
print_config() {
    local n
    cat <<EOF
# generated by deploy/local/stack.sh for the local stack in $DIR
exporter:
  listen_address: "127.0.0.1:$LISTEN_PORT"
  workers: 4
  default_interval: 5s
  default_timeout: 3s
  log:
    format: text
    level: info
postgres:
  clusters:
    - name: shared-postgres
      defaults:
        dbname: postgres
        user: dbcanary
        password_file: $SECRETS_DIR/dbcanary.password
        sslmode: verify-full
        sslrootcert: $TLS_DIR/ca.crt
        connect_timeout: 3s
      # every member, no roles: dbcanary asks the servers who is primary on every run, so this
      # file stays right after 'stack.sh failover' and the failover drill
      instances:
        - { name: shared-postgres-1, host: localhost, port: ${PORT[shared-postgres-1]} }
        - { name: shared-postgres-2, host: localhost, port: ${PORT[shared-postgres-2]} }
        - { name: shared-postgres-3, host: localhost, port: ${PORT[shared-postgres-3]} }
      expect:
        instances: 3
        min_streaming_standbys: 2
        min_sync_standbys: 1
        max_sync_standbys: 2
        max_replay_lag_bytes: 1048576
      probes:
        pg_replication: {}
        pg_heartbeat: { expect: { max_lag_seconds: 1 } }
        pg_sync_commit: {}
        pg_tls: { interval: 1m, timeout: 5s, expect: { min_cert_validity: 720h } }
        pg_instance: { interval: 15s, expect: { primaries: 1 } }
        pg_archiver: { interval: 15s }
        pg_hazards: { interval: 15s }
        backup_directory:
          interval: 30s
          path: $DIR/backups
          expect: { backup_max_age: ${BACKUP_MAX_AGE_HOURS}h, min_backups: 1, min_size_bytes: 1048576 }
        pg_tenants:
          interval: 30s
          # isolation adds 4 + 4x3 logins (SCRAM each) to the 7 connections of a run
          timeout: 15s
          isolation: true
          tenants:
            - { database: gitlabhq_production, owner: gitlab, extensions: [pg_trgm, btree_gist], login: { user: gitlab, password_file: $SECRETS_DIR/gitlab.password } }
            - { database: registry, owner: harbor, extensions: [uuid-ossp], login: { user: harbor, password_file: $SECRETS_DIR/harbor.password } }
            - { database: keycloak, owner: keycloak, login: { user: keycloak, password_file: $SECRETS_DIR/keycloak.password } }
            - { database: synergyflow, owner: synergyflow, login: { user: synergyflow, password_file: $SECRETS_DIR/synergyflow.password } }
poolers:
EOF
    for n in "${POOLERS[@]}"; do
        pooler_attrs "$n"
        cat <<EOF
  - name: $n
    cluster: shared-postgres
    type: $P_TYPE
    connection:
      host: localhost
      port: ${PORT[$n]}
      dbname: $P_DB
      user: $P_USER
      password_file: $SECRETS_DIR/$P_USER.password
      sslmode: verify-full
      sslrootcert: $TLS_DIR/ca.crt
    probes:
      pooler_roundtrip: {}
      pooler_admin:
        admin: { user: dbcanary, password_file: $SECRETS_DIR/dbcanary.password }
        expect: { pool_mode: $P_MODE, max_client_conn: $P_MAXCONN, default_pool_size: $P_POOL, max_db_connections: 0, database: $P_DB, max_wait_seconds: 1 }
EOF
    done
    cat <<EOF
dragonfly:
  - name: dragonfly
    master: { name: dragonfly-0, host: 127.0.0.1, port: ${PORT[dragonfly-0]}, password_file: $SECRETS_DIR/dragonfly.password }
    replicas:
      - { name: dragonfly-1, host: 127.0.0.1, port: ${PORT[dragonfly-1]} }
    key_prefix: "dbcanary:"
    probes:
      dragonfly_basics: {}
      dragonfly_structures: {}
      dragonfly_pubsub: {}
      dragonfly_replication:
        expect: { master_role: true, min_connected_replicas: 1, max_replica_visibility_seconds: 1 }
      dragonfly_info:
        expect: { max_last_save_age_seconds: 3600 }
EOF
    print_monitoring_config
    cat <<EOF
# Acceptance groups this stack cannot verify, named in every verdict instead of passing silently.
validate:
  skip:
    - group: operator
      reason: no Kubernetes API here
# Drills are opt-in. Only the benchmarks are scheduled here, nightly (the acceptance list's
# pgbench -s 10 -c 10 -j 2 -t 1000 and redis-benchmark -t set,get -n 100000 -c 50): validate
# reads their last runs for the Performance group. Run one now with
#   dbcanary drill NAME --config $CONFIG_FILE   (or dbcanary validate --drill NAME)
# The failover drill really kills the primary (stack.sh failover) and does not fail back:
# fail back with "stack.sh failover --to shared-postgres-1".
drills:
  reports_dir: $DIR/reports
  keep_reports: 20
  lock: { cluster: shared-postgres, ttl: 1m }
  jobs:
    failover:
      enabled: false
      timeout: 5m
      cluster: shared-postgres
      pooler: gitlab-pooler-rw
      trigger:
        command: [env, "DBCANARY_STACK_DIR=$DIR", "$SCRIPT_PATH", failover]
        timeout: 3m
      expect: { max_downtime_seconds: 30, max_lost_writes: 0, max_recovery_seconds: 180 }
    restore:
      enabled: false
      timeout: 5m
      cluster: shared-postgres
      backup: { command: [env, "DBCANARY_STACK_DIR=$DIR", "$SCRIPT_PATH", backup] }
      restore:
        command: [env, "DBCANARY_STACK_DIR=$DIR", "$SCRIPT_PATH", restore-scratch, "{label}", "$((BASE + 30))"]
        cleanup: [env, "DBCANARY_STACK_DIR=$DIR", "$SCRIPT_PATH", drop-scratch, "$((BASE + 30))"]
        connection: { host: localhost, port: $((BASE + 30)) }
      expect: { max_rto_seconds: 120, max_rpo_seconds: 60 }
    pg_benchmark:
      enabled: true
      schedule: "30 2 * * *"
      window: "02:00-05:00"
      timeout: 10m
      cluster: shared-postgres
      pooler: gitlab-pooler-rw
      admin: { user: dbcanary_drill, password_file: $SECRETS_DIR/dbcanary_drill.password }
      scale: 10
      clients: 10
      threads: 2
      transactions: 1000
      duration: 2m
      expect: { min_tps: 1000, max_regression: 0.2 }
    dragonfly_benchmark:
      enabled: true
      schedule: "0 3 * * *"
      window: "02:00-05:00"
      timeout: 5m
      dragonfly: dragonfly
      connections: 50
      pipeline: 1
      requests: 100000
      duration: 1m
      value_size: 3
      expect: { min_ops_per_second: 50000 }
    dragonfly_persistence:
      enabled: false
      timeout: 3m
      dragonfly: dragonfly
      keys: 100
      restart: { command: [env, "DBCANARY_STACK_DIR=$DIR", "$SCRIPT_PATH", restart, dragonfly-0] }
      expect: { max_recovery_seconds: 30 }
EOF
}

write_generated_files() {
    local f
    print_config >"$CONFIG_FILE.tmp"
    print_env >"$ENV_FILE.tmp"
    chmod 0644 "$CONFIG_FILE.tmp" "$ENV_FILE.tmp"
    # the config is role-neutral: a failover leaves it unchanged, so a running exporter is not
    # reloaded for nothing (an unchanged file keeps its mtime)
    for f in "$CONFIG_FILE" "$ENV_FILE"; do
        if cmp -s "$f.tmp" "$f"; then rm -f "$f.tmp"; else mv "$f.tmp" "$f"; fi
    done
}

# ----------------------------------------------------------------------------------------------
# commands
# ----------------------------------------------------------------------------------------------

# one stack.sh at a time per state directory (daemons never inherit fd 9: see spawn_daemon)
take_lock() {
    exec 9>>"$DIR/.lock"
    flock -w 120 9 || die "another $PROG is working on $DIR (lock $DIR/.lock)"
}

cmd_up() {
    local n ms
    (($# == 0)) || die "up takes no arguments"
    prepare_dirs
    take_lock
    log "state dir $DIR, ports $BASE.., database processes run as $RUN_USER"
    for n in "${ALL_NAMES[@]}"; do
        running "$n" || check_port_free "$n"
    done
    ensure_tls
    ensure_secrets
    ensure_primary
    ensure_standbys
    wait_streaming "${PG_STANDBYS[@]}"
    ensure_sync_names
    ensure_poolers
    for n in "${REDIS_NAMES[@]}"; do redis_start "$n"; done
    wait_redis_link
    for n in "${MONITORING_NAMES[@]}"; do monitoring_start "$n"; done
    ensure_recent_backup
    write_generated_files
    ms=$(((${EPOCHREALTIME/./} - T0) / 1000))
    if ((STARTED == 0)); then
        log "stack already fully up; config rewritten"
    else
        log "stack up: started $STARTED process(es) in $((ms / 1000)).$(printf '%03d' $((ms % 1000)))s"
    fi
    echo "stack env: $ENV_FILE"
    echo "dbcanary config: $CONFIG_FILE"
}

cmd_down() {
    local purge=0 n trash
    case ${1:-} in
    "") ;;
    --purge) purge=1 ;;
    *) die "down: unknown option '$1' (only --purge)" ;;
    esac
    if [[ ! -d $DIR ]]; then
        log "nothing to stop: $DIR does not exist"
        return 0
    fi
    [[ -e $MARKER ]] || die "$DIR is not a dbcanary stack directory (no $MARKER)"
    take_lock
    for n in vmalert alertmanager vmagent victoria-metrics; do monitoring_stop "$n"; done
    for n in "${POOLERS[@]}"; do pooler_stop "$n"; done
    for n in dragonfly-1 dragonfly-0; do redis_stop "$n"; done
    for n in "${PG_STANDBYS[@]}" "$PG_PRIMARY"; do pg_stop "$n"; done
    if ((purge)); then
        # deleting thousands of database files can take many seconds here: move the directory
        # out of the way (the path is free at once) and delete it in the background
        trash=$DIR.purge.$$
        if mv "$DIR" "$trash" 2>/dev/null; then
            spawn_daemon setsid rm -rf "$trash" </dev/null >/dev/null 2>&1 &
            log "stack down; removed $DIR (its files are deleted in the background from $trash)"
        else
            rm -rf "$DIR"
            log "stack down; removed $DIR"
        fi
    else
        log "stack down; state kept in $DIR ('$PROG down --purge' removes it)"
    fi
}

cmd_stop() {
    local name=${1:-}
    is_component "$name" || die "stop: unknown component '$name' (see '$PROG --help')"
    [[ -d $DIR && -e $MARKER ]] || die "no stack in $DIR"
    take_lock
    case $name in
    shared-postgres-*) pg_stop "$name" ;;
    *-pooler-*) pooler_stop "$name" ;;
    dragonfly-*) redis_stop "$name" ;;
    victoria-metrics | vmagent | vmalert | alertmanager) monitoring_stop "$name" ;;
    esac
}

cmd_start() {
    local name=${1:-} n up=()
    is_component "$name" || die "start: unknown component '$name' (see '$PROG --help')"
    prepare_dirs
    take_lock
    ensure_tls
    ensure_secrets
    case $name in
    "$PG_PRIMARY")
        ensure_primary
        # wait for the running standbys to reconnect
        for n in "${PG_STANDBYS[@]}"; do
            if running "$n"; then up+=("$n"); fi
        done
        if ((${#up[@]} > 0)); then wait_streaming "${up[@]}"; fi
        ;;
    shared-postgres-*)
        ensure_standby "$name"
        if running "$PG_PRIMARY"; then wait_streaming "$name"; fi
        ;;
    *-pooler-*)
        pooler_start "$name"
        pooler_wait "$name"
        ;;
    dragonfly-0) redis_start "$name" ;;
    dragonfly-1)
        redis_start "$name"
        wait_redis_link
        ;;
    victoria-metrics | vmagent | vmalert | alertmanager) monitoring_start "$name" ;;
    esac
}

cmd_status() {
    local n pid state extra all_up=0 repl="" line app rstate sstate lag
    if running "$PG_PRIMARY"; then
        repl=$(pg_value "$PG_PRIMARY" "SELECT application_name, state, sync_state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication") || repl=""
    fi
    printf '%-22s %-6s %-8s %-6s %s\n' COMPONENT PORT PID STATE DETAIL
    for n in "${ALL_NAMES[@]}"; do
        extra=""
        if running "$n"; then
            pid=$CPID state=up
            if family_frozen "$pid"; then
                state=frozen extra="SIGSTOPped; " all_up=1
            fi
        else
            pid=- state=down all_up=1
        fi
        case $n in
        "$PG_PRIMARY") extra+="primary" ;;
        shared-postgres-*)
            line=""
            while IFS='|' read -r app rstate sstate lag; do
                if [[ $app == "$n" ]]; then line="replication: $rstate, sync_state=$sstate, replay_lag=${lag:-?}B"; fi
            done <<<"$repl"
            if [[ -z $line ]]; then
                line="replication: not connected to $PG_PRIMARY"
                all_up=1
            fi
            extra+="standby, $line"
            ;;
        *-pooler-*)
            pooler_attrs "$n"
            extra+="$P_MODE pool, $P_DB -> $P_TARGET"
            ;;
        dragonfly-0) extra+="master" ;;
        victoria-metrics | vmagent | vmalert | alertmanager) extra+=$(monitoring_status_detail "$n") ;;
        dragonfly-1)
            extra+="replica"
            if [[ $state == up ]]; then
                if redis_link_up; then
                    extra+=", master_link_status:up"
                else
                    extra+=", master_link_status:down"
                    all_up=1
                fi
            fi
            ;;
        esac
        printf '%-22s %-6s %-8s %-6s %s\n' "$n" "${PORT[$n]}" "$pid" "$state" "$extra"
    done
    return $all_up
}

cmd_env() {
    if [[ -r $ENV_FILE ]]; then cat "$ENV_FILE"; else print_env; fi
}

# ----------------------------------------------------------------------------------------------
# backup / restore-scratch / drop-scratch / restart (the restore and persistence drills' commands)
# ----------------------------------------------------------------------------------------------

BACKUPS_KEPT=3
# The newest base backup must be younger than this (the generated config's backup_max_age):
# `up` takes one when it is not.
BACKUP_MAX_AGE_HOURS=24

ensure_recent_backup() {
    local recent
    recent=$(find "$DIR/backups" -mindepth 2 -maxdepth 2 -name backup_manifest \
        -mmin -$((BACKUP_MAX_AGE_HOURS * 60)) 2>/dev/null | head -n 1) || true
    if [[ -n $recent ]]; then
        log "backup: ${recent%/backup_manifest} is newer than ${BACKUP_MAX_AGE_HOURS}h"
        return 0
    fi
    cmd_backup >/dev/null
}

# the configured instance that answers as primary now (a failover may have moved it)
current_primary() {
    local n
    for n in "${PG_NAMES[@]}"; do
        running "$n" || continue
        if [[ $(pg_value "$n" "SELECT NOT pg_is_in_recovery()") == t ]]; then
            echo "$n"
            return 0
        fi
    done
    return 1
}

valid_label() { [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]]; }

# scratch ports: a number outside the stack's own ports
valid_scratch_port() {
    local n
    [[ $1 =~ ^[0-9]{1,5}$ ]] && (($1 >= 1024 && $1 <= 65535)) || return 1
    for n in "${ALL_NAMES[@]}"; do ((${PORT[$n]} != $1)) || return 1; done
}

# backup [LABEL]: plain-format pg_basebackup (WAL streamed in, backup_manifest) of the current
# primary into $DIR/backups/LABEL; LABEL defaults to $DBCANARY_BACKUP_LABEL, then to a timestamp.
# Keeps the newest $BACKUPS_KEPT backups.
cmd_backup() {
    local label=${1:-${DBCANARY_BACKUP_LABEL:-backup-$(date -u +%Y%m%dT%H%M%SZ)}} primary dest bytes old
    (($# <= 1)) || die "backup takes at most one argument (LABEL)"
    valid_label "$label" || die "backup: invalid label '$label' (letters, digits, ._-; at most 63)"
    [[ -d $DIR && -e $MARKER ]] || die "no stack in $DIR"
    primary=$(current_primary) || die "backup: no running instance answers as primary"
    dest=$DIR/backups/$label
    [[ ! -e $dest ]] || die "backup: $dest already exists"
    mkdir -p "$DIR/backups"
    chmod 0700 "$DIR/backups"
    own_run "$DIR/backups"
    log "backup: pg_basebackup of $primary into $dest"
    if ! as_run "$PG_BIN/pg_basebackup" -h "$SOCK_DIR" -p "${PORT[$primary]}" -U "$PG_SUPERUSER" \
        -D "$dest" -Fp -X stream -c fast --no-sync -l "$label" >"$LOG_DIR/backup-$label.log" 2>&1; then
        show_log_tail "$LOG_DIR/backup-$label.log"
        rm -rf "$dest"
        die "pg_basebackup of $primary failed"
    fi
    [[ -s $dest/backup_manifest ]] || die "backup: $dest has no backup_manifest"
    bytes=$(du -sb "$dest" | cut -f1)
    # the oldest backups beyond the newest $BACKUPS_KEPT
    while IFS= read -r old; do
        [[ -n $old ]] || continue
        log "backup: removing old backup $old"
        rm -rf "${DIR:?}/backups/${old:?}"
    done < <(ls -1t "$DIR/backups" | tail -n +$((BACKUPS_KEPT + 1)))
    echo "label: $label"
    echo "path: $dest"
    echo "primary: $primary"
    echo "DBCANARY_BACKUP_BYTES=$bytes"
    grep -E '^(START WAL LOCATION|STOP WAL LOCATION|START TIME|LABEL):' "$dest/backup_label" 2>/dev/null || true
    sed -n 's/.*"Checksum-Algorithm": *"\([^"]*\)".*/manifest checksum algorithm: \1/p;T;q' "$dest/backup_manifest"
}

# scratch_pid PORT: sets SPID to the postmaster of the scratch instance on PORT (empty if none)
scratch_pid() {
    local data=$DIR/scratch/$1 pid=""
    SPID=
    if [[ -r $data/postmaster.pid ]]; then read -r pid 2>/dev/null <"$data/postmaster.pid" || true; fi
    if pid_alive "$pid" postgres && [[ /proc/$pid/cwd -ef $data ]]; then SPID=$pid; fi
}

scratch_promoted() {
    [[ $(as_run env PGCONNECT_TIMEOUT=3 timeout 5 psql -X -q -At -h "$SOCK_DIR" -p "$1" \
        -U "$PG_SUPERUSER" -d postgres -c "SELECT pg_is_in_recovery()" 2>/dev/null) == f ]]
}

# restore-scratch LABEL PORT: a temporary instance on 127.0.0.1:PORT from the base backup LABEL,
# replaying the WAL archive to its end, then promoted. It never archives (archive_mode off), so
# it cannot write into the stack's archive. Its cluster_name is dbcanary-scratch-PORT.
cmd_restore_scratch() {
    local label=${1:-} port=${2:-} src data logf auto
    (($# == 2)) || die "usage: $PROG restore-scratch LABEL PORT"
    valid_label "$label" || die "restore-scratch: invalid label '$label'"
    valid_scratch_port "$port" || die "restore-scratch: invalid port '$port' (1024..65535, not a stack port)"
    src=$DIR/backups/$label data=$DIR/scratch/$port logf=$LOG_DIR/scratch-$port.log
    [[ -s $src/backup_manifest ]] || die "restore-scratch: no backup '$label' in $DIR/backups"
    [[ ! -e $data ]] || die "restore-scratch: $data exists (run '$PROG drop-scratch $port' first)"
    ! port_in_use "$port" || die "restore-scratch: port $port on 127.0.0.1 is already in use"
    log "restore-scratch: copying backup $label into $data"
    mkdir -p "$DIR/scratch"
    chmod 0700 "$DIR/scratch"
    own_run "$DIR/scratch"
    as_run cp -a "$src" "$data"
    rm -f "$data/backup_manifest" "$data/standby.signal"
    # the primary's ALTER SYSTEM settings (synchronous_standby_names...) do not apply here
    auto=$data/postgresql.auto.conf
    grep -Ev '^(synchronous_standby_names|primary_conninfo|primary_slot_name)' "$auto" >"$auto.new" || true
    mv "$auto.new" "$auto"
    chmod 0600 "$auto"
    own_run "$auto"
    put_file "$data/stack.conf" 0600 run <<EOSCRATCH
# generated by stack.sh restore-scratch - scratch instance from backup $label
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$SOCK_DIR'
cluster_name = 'dbcanary-scratch-$port'
# hot standby during recovery needs at least the primary's max_connections
max_connections = 200
shared_buffers = 16MB
ssl = on
ssl_cert_file = '$TLS_DIR/server.crt'
ssl_key_file = '$TLS_DIR/server.key'
ssl_ca_file = '$TLS_DIR/ca.crt'
wal_level = replica
hot_standby = on
archive_mode = off
synchronous_standby_names = ''
restore_command = 'cp $ARCHIVE_DIR/%f %p'
recovery_target_timeline = 'latest'
fsync = off
log_destination = 'stderr'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOSCRATCH
    as_run touch "$data/recovery.signal"
    log "restore-scratch: starting on port $port (recovery to the end of $ARCHIVE_DIR)"
    if ! spawn_daemon as_run "$PG_BIN/pg_ctl" -D "$data" -l "$logf" -w -t 120 -s start </dev/null; then
        show_log_tail "$logf"
        die "restore-scratch: the scratch instance failed to start (clean up with '$PROG drop-scratch $port')"
    fi
    wait_for 120 scratch_promoted "$port" || {
        show_log_tail "$logf"
        die "restore-scratch: recovery did not end within 120 s"
    }
    grep -E 'redo done|archive recovery complete|selected new timeline|last completed transaction' "$logf" || true
    echo "scratch instance: 127.0.0.1:$port data=$data cluster_name=dbcanary-scratch-$port"
}

# drop-scratch PORT: stops and deletes the scratch instance on PORT; idempotent, also cleans a
# half-started one
cmd_drop_scratch() {
    local port=${1:-} data
    (($# == 1)) || die "usage: $PROG drop-scratch PORT"
    valid_scratch_port "$port" || die "drop-scratch: invalid port '$port'"
    data=$DIR/scratch/$port
    scratch_pid "$port"
    if [[ -n $SPID ]]; then
        log "drop-scratch: stopping the scratch instance on port $port (pid $SPID)"
        wake "$SPID"
        as_run "$PG_BIN/pg_ctl" -D "$data" -m immediate -w -t 10 -s stop || true
        scratch_pid "$port"
        if [[ -n $SPID ]]; then
            kill -KILL "$SPID" 2>/dev/null || true
            wait_for 5 eval "! pid_alive $SPID postgres" || die "drop-scratch: pid $SPID survived SIGKILL"
        fi
    fi
    if [[ -e $data ]]; then
        rm -rf "$data"
        log "drop-scratch: removed $data"
    else
        log "drop-scratch: nothing to remove on port $port"
    fi
}

# restart NAME: stop and start one component
cmd_restart() {
    (($# == 1)) || die "usage: $PROG restart NAME"
    cmd_stop "$1"
    cmd_start "$1"
}

# ----------------------------------------------------------------------------------------------
# failover (issue #7): the primary dies, the most advanced standby takes over, the poolers and the
# other instances follow. The current primary is recorded in $DIR/current-primary, so every later
# command (up, status, env, start, pooler configs) works with the roles as they are now.
# ----------------------------------------------------------------------------------------------

# PG_PRIMARY, PG_STANDBYS (ring order after the primary) and SYNC_NAMES for primary NAME
set_pg_roles() {
    local primary=$1 i n=${#PG_NAMES[@]} at=-1 s quoted=""
    for ((i = 0; i < n; i++)); do
        if [[ ${PG_NAMES[i]} == "$primary" ]]; then at=$i; fi
    done
    ((at >= 0)) || die "unknown PostgreSQL instance '$primary' (one of: ${PG_NAMES[*]})"
    PG_PRIMARY=$primary
    PG_STANDBYS=()
    for ((i = 1; i < n; i++)); do PG_STANDBYS+=("${PG_NAMES[(at + i) % n]}"); done
    for s in "${PG_STANDBYS[@]}"; do quoted+="${quoted:+, }\"$s\""; done
    SYNC_NAMES="ANY 1 ($quoted)"
}

load_current_primary() {
    local p=""
    PRIMARY_FILE=$DIR/current-primary
    if [[ -r $PRIMARY_FILE ]]; then read -r p <"$PRIMARY_FILE" || true; fi
    set_pg_roles "${p:-shared-postgres-1}"
}

record_primary() {
    printf '%s\n' "$1" >"$PRIMARY_FILE.tmp"
    chmod 0644 "$PRIMARY_FILE.tmp"
    mv "$PRIMARY_FILE.tmp" "$PRIMARY_FILE"
    set_pg_roles "$1"
}

# milliseconds since the script started
fo_ms() { echo $(((${EPOCHREALTIME/./} - T0) / 1000)); }
fo_secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# "16/B374D848" -> integer
lsn_to_int() {
    local hi=${1%/*} lo=${1#*/}
    echo $(((16#$hi << 32) | 16#$lo))
}

# t when NAME answers as a primary, f as a standby; fails when it does not answer
pg_role_of() {
    local r
    r=$(pg_value "$1" "SELECT CASE WHEN pg_is_in_recovery() THEN 'f' ELSE 't' END") || return 1
    [[ $r == t || $r == f ]] || return 1
    printf '%s' "$r"
}

pg_is_primary() { [[ $(pg_role_of "$1" 2>/dev/null) == t ]]; }

# the running standby that has received the most WAL (sync replication: it holds every
# acknowledged commit); empty when none answers. The standbys are asked in parallel.
pick_promotion_target() {
    local n lsn v best="" best_lsn=-1 tmp
    tmp=$(mktemp -d)
    for n in "${PG_STANDBYS[@]}"; do
        if running "$n"; then
            pg_value "$n" "SELECT coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) WHERE pg_is_in_recovery()" \
                >"$tmp/$n" 2>/dev/null &
        fi
    done
    wait
    for n in "${PG_STANDBYS[@]}"; do
        lsn=""
        if [[ -r $tmp/$n ]]; then read -r lsn <"$tmp/$n" || true; fi
        [[ $lsn =~ ^[0-9A-Fa-f]+/[0-9A-Fa-f]+$ ]] || continue
        v=$(lsn_to_int "$lsn")
        log "postgres: $n has received WAL up to $lsn" >&2
        if ((v > best_lsn)); then best=$n best_lsn=$v; fi
    done
    rm -rf "$tmp"
    printf '%s' "$best"
}

# before the primary dies, so that nothing of this is on the critical path: every running
# standby gets the slots of the other instances (physical slots may be created on a standby and
# survive its promotion; unreserved, they hold no WAL) and the synchronous_standby_names it
# needs once promoted (ignored while it is a standby). Best effort: converge_roles redoes it.
prepare_promotion() {
    local n m sql
    for n in "${PG_STANDBYS[@]}"; do
        running "$n" && [[ -e $PG_DIR/$n/standby.signal ]] || continue
        sql=""
        for m in "${PG_NAMES[@]}"; do
            [[ $m != "$n" ]] || continue
            sql+="SELECT pg_create_physical_replication_slot('${m//-/_}') WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${m//-/_}');
"
        done
        sql+="ALTER SYSTEM SET synchronous_standby_names = '$(set_pg_roles "$n" && printf '%s' "$SYNC_NAMES")';
SELECT pg_reload_conf();"
        printf '%s\n' "$sql" | pg_admin "$n" postgres -f - >/dev/null 2>&1 &
    done
    wait || true
}

# right after the promotion: the running standbys follow the new primary (a reload restarts
# their WAL receiver) and every pooler points at its new target (SIGHUP)
repoint_quickly() {
    local n
    pg_write_repl_passfile
    for n in "${PG_STANDBYS[@]}"; do
        if running "$n" && [[ -e $PG_DIR/$n/standby.signal ]]; then
            pg_point_standby "$n"
            as_run "$PG_BIN/pg_ctl" -D "$PG_DIR/$n" -s reload
            log "postgres: $n now follows $PG_PRIMARY"
        fi
    done
    for n in "${POOLERS[@]}"; do
        pooler_write_config "$n"
        if ((CHANGED)) && running "$n"; then
            kill -HUP "$CPID"
            pooler_attrs "$n"
            log "pgbouncer: $n -> $P_TARGET (reloaded)"
        fi
    done
    FO_POOLERS_MS=${FO_POOLERS_MS:-$(fo_ms)}
}

# stop like a crash: no shutdown checkpoint, connections cut at once
pg_stop_immediate() {
    local name=$1 pid
    running "$name" || return 0
    pid=$CPID
    wake "$pid"
    log "postgres: stopping $name immediately (pid $pid)"
    if ! as_run "$PG_BIN/pg_ctl" -D "$PG_DIR/$name" -m immediate -w -t 10 -s stop; then
        kill -KILL "$pid" 2>/dev/null || true
        wait_for 5 eval "! pid_alive $pid postgres" || die "$name (pid $pid) survived SIGKILL"
    fi
}

# the physical slot of standby NAME on the current primary
pg_ensure_slot() {
    local slot=${1//-/_}
    pg_admin "$PG_PRIMARY" postgres -c \
        "SELECT pg_create_physical_replication_slot('$slot') WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '$slot')" \
        >/dev/null
}

# points standby NAME (its postgresql.auto.conf) at the current primary
pg_point_standby() {
    local name=$1 data=$PG_DIR/$1 slot=${1//-/_} auto conninfo
    conninfo="host=127.0.0.1 port=${PORT[$PG_PRIMARY]} user=streaming_replica passfile=$REPL_PASSFILE sslmode=require application_name=$name"
    auto=$data/postgresql.auto.conf
    grep -v -e '^primary_conninfo' -e '^primary_slot_name' "$auto" >"$auto.new" 2>/dev/null || true
    printf "primary_conninfo = '%s'\nprimary_slot_name = '%s'\n" "$conninfo" "$slot" >>"$auto.new"
    mv "$auto.new" "$auto"
    chmod 0600 "$auto"
    own_run "$auto"
    if [[ ! -e $data/standby.signal ]]; then
        : >"$data/standby.signal"
        own_run "$data/standby.signal"
    fi
}

# turns the stopped instance NAME into a standby of the current primary: pg_rewind (the stack
# runs with wal_log_hints), else a fresh pg_basebackup; then starts it
pg_reattach() {
    local name=$1 data=$PG_DIR/$1
    if [[ -s $data/PG_VERSION ]]; then
        # A freshly promoted source still has its old timeline in pg_control until its first
        # checkpoint; pg_rewind would then rewind to the wrong point and the instance would
        # refuse to start ("requested timeline N does not contain minimum recovery point").
        pg_admin "$PG_PRIMARY" postgres -c 'CHECKPOINT' ||
            warn "CHECKPOINT on $PG_PRIMARY failed before pg_rewind"
        log "postgres: pg_rewind $name from $PG_PRIMARY"
        if as_run "$PG_BIN/pg_rewind" -D "$data" --no-sync \
            --source-server="host=$SOCK_DIR port=${PORT[$PG_PRIMARY]} user=$PG_SUPERUSER dbname=postgres" \
            >"$LOG_DIR/$name.rewind.log" 2>&1; then
            pg_ensure_slot "$name"
            pg_point_standby "$name"
        else
            show_log_tail "$LOG_DIR/$name.rewind.log"
            warn "pg_rewind of $name failed; making it a fresh copy of $PG_PRIMARY"
            pg_create_standby "$name"
        fi
    else
        pg_create_standby "$name"
    fi
    pg_start "$name"
}

# after a promotion (or to heal): every standby follows the current primary and streams, the
# poolers point at the right instances, synchronous_standby_names names the standbys
converge_roles() {
    local n sql=""
    pg_write_repl_passfile
    # one session on the primary: the standbys' slots and the synchronous standby names
    for n in "${PG_STANDBYS[@]}"; do
        sql+="SELECT pg_create_physical_replication_slot('${n//-/_}') WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${n//-/_}');
"
    done
    sql+="ALTER SYSTEM SET synchronous_standby_names = '$SYNC_NAMES';
SELECT pg_reload_conf();"
    printf '%s\n' "$sql" | pg_admin "$PG_PRIMARY" postgres -f - >/dev/null ||
        die "cannot set up slots and synchronous_standby_names on $PG_PRIMARY"
    log "postgres: slots for ${PG_STANDBYS[*]}, synchronous_standby_names = '$SYNC_NAMES' on $PG_PRIMARY"
    # running standbys follow the new timeline on a reload, poolers follow the roles
    repoint_quickly
    # the old primary (stopped) and any standby that cannot follow the new timeline
    for n in "${PG_STANDBYS[@]}"; do
        if running "$n" && [[ -e $PG_DIR/$n/standby.signal ]] && wait_for 10 pg_all_streaming "$n"; then
            continue
        fi
        if running "$n"; then pg_stop_immediate "$n"; fi
        pg_reattach "$n"
    done
    wait_streaming "${PG_STANDBYS[@]}"
    wait_for 15 pg_quorum_ok || die "pg_stat_replication does not show both standbys with sync_state 'quorum'"
}

cmd_failover() {
    local to="" old new n ms_stop=0 ms_promoted=0 ms_done
    FO_POOLERS_MS=""
    while (($# > 0)); do
        case $1 in
        --to)
            (($# >= 2)) || die "failover: --to needs an instance name"
            to=$2
            shift 2
            ;;
        *) die "failover: unknown argument '$1' (usage: failover [--to NAME])" ;;
        esac
    done
    if [[ -n $to ]]; then
        [[ " ${PG_NAMES[*]} " == *" $to "* ]] || die "failover: '$to' is not one of ${PG_NAMES[*]}"
    fi
    [[ -d $DIR && -e $MARKER ]] || die "no stack in $DIR"
    take_lock
    ensure_secrets
    old=$PG_PRIMARY
    if [[ $to == "$old" ]] && running "$old" && pg_is_primary "$old"; then
        log "failover: $old is already the primary; checking standbys and poolers"
        converge_roles
        write_generated_files
        return 0
    fi
    # a run killed after the promotion left a promoted standby behind: it is the primary
    new=""
    if ! running "$old"; then
        for n in "${PG_STANDBYS[@]}"; do
            if running "$n" && pg_is_primary "$n"; then new=$n; fi
        done
    fi
    if [[ -z $new ]]; then
        prepare_promotion
        log "failover: primary $old dies now"
        pg_stop_immediate "$old"
        ms_stop=$(fo_ms)
        if [[ -n $to ]]; then
            new=$to
            running "$new" || die "failover: $new is not running"
        else
            new=$(pick_promotion_target)
            [[ -n $new ]] || die "failover: no running standby to promote ('$PROG start $old' brings the old primary back)"
        fi
        log "postgres: promoting $new"
        # -w: returns once the promotion is complete (the instance accepts writes)
        as_run "$PG_BIN/pg_ctl" -D "$PG_DIR/$new" -w -t 30 -s promote ||
            die "failover: promoting $new failed (see $LOG_DIR/$new.log)"
        ms_promoted=$(fo_ms)
        record_primary "$new"
        repoint_quickly
    else
        log "failover: $new was already promoted by an earlier run"
        pg_stop_immediate "$old"
        record_primary "$new"
    fi
    converge_roles
    write_generated_files
    ms_done=$(fo_ms)
    log "failover: $old -> $new; old primary stopped at $(fo_secs "$ms_stop")s, $new primary at $(fo_secs "$ms_promoted")s, poolers repointed at $(fo_secs "${FO_POOLERS_MS:-0}")s, all standbys streaming (sync quorum) at $(fo_secs "$ms_done")s"
}

main() {
    local cmd=${1:-}
    if [[ -z $cmd ]]; then
        usage >&2
        exit 2
    fi
    shift
    case $cmd in
    -h | --help | help)
        usage
        return 0
        ;;
    esac
    validate_settings
    set_paths
    load_current_primary
    load_secrets
    # no relative paths from here on; a directory every user can enter (runuser, postgres)
    cd /
    case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status ;;
    env) cmd_env ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    failover) cmd_failover "$@" ;;
    backup) cmd_backup "$@" ;;
    restore-scratch) cmd_restore_scratch "$@" ;;
    drop-scratch) cmd_drop_scratch "$@" ;;
    restart) cmd_restart "$@" ;;
    reload-rules) monitoring_reload_rules ;;
    *)
        usage >&2
        die "unknown command '$cmd'"
        ;;
    esac
}

main "$@"
