#!/usr/bin/env bash
# Fairness check of the benchmark drills (not a test): on a running local stack, runs
#   pgbench (-M simple, the default) direct to the primary and through a pooler, and the
#   pg_benchmark drill with the same clients/threads/duration/scale;
#   redis-benchmark -t set,get -c N -P P -d SIZE -r KEYSPACE, and the dragonfly_benchmark drill
#   with the same connections/pipeline/value size/keyspace;
# each side RUNS times (best kept: 2 shared cores make single runs noisy), then prints the
# drill/reference ratios (target >= 0.95).
#
#   DBCANARY_STACK_DIR=/tmp/x-stack tests/bench/drill_bench.sh [--dbcanary BIN] [--runs 2]
#       [--clients 10] [--threads 2] [--duration 30] [--scale 1] [--pooler gitlab-pooler-rw]
#       [--connections 50] [--pipeline 16] [--value-size 3] [--keyspace 100000]
#       [--requests 2000000] [--df-duration 10] [--only pg|redis]
#
# Both PostgreSQL sides log in as the stack's monitoring role `dbcanary` over TLS
# (verify-full), into the scratch database dbcanary_bench, which the stack's rw poolers route;
# dbcanary gets CREATEDB for the run (the drill creates the database) and loses it again at exit
# unless it had it before. Must run as root or as the stack's run user (admin SQL over the
# unix socket with peer authentication).
set -euo pipefail

: "${DBCANARY_STACK_DIR:?set DBCANARY_STACK_DIR to the stack directory}"
set -a
# shellcheck disable=SC1091
. "$DBCANARY_STACK_DIR/stack.env"
set +a

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DBCANARY=${DBCANARY_BIN:-}
RUNS=2 CLIENTS=10 THREADS=2 DURATION=30 SCALE=1 POOLER=gitlab-pooler-rw
CONNECTIONS=50 PIPELINE=16 VALUE_SIZE=3 KEYSPACE=100000 REQUESTS=2000000 DF_DURATION=10 ONLY=
while (($#)); do
    case $1 in
    --dbcanary) DBCANARY=$2 ;;
    --runs) RUNS=$2 ;;
    --clients) CLIENTS=$2 ;;
    --threads) THREADS=$2 ;;
    --duration) DURATION=$2 ;;
    --scale) SCALE=$2 ;;
    --pooler) POOLER=$2 ;;
    --connections) CONNECTIONS=$2 ;;
    --pipeline) PIPELINE=$2 ;;
    --value-size) VALUE_SIZE=$2 ;;
    --keyspace) KEYSPACE=$2 ;;
    --requests) REQUESTS=$2 ;;
    --df-duration) DF_DURATION=$2 ;;
    --only) ONLY=$2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift 2
done
if [[ -z $DBCANARY ]]; then
    for candidate in "$ROOT/build/exporter/dbcanary" "$ROOT/build/dbcanary"; do
        [[ -x $candidate ]] && DBCANARY=$candidate && break
    done
fi
[[ -x $DBCANARY ]] || { echo "dbcanary binary not found: pass --dbcanary BIN" >&2; exit 2; }

DB=dbcanary_bench
PG_PORT=$DBCANARY_STACK_PG_PRIMARY_PORT
pooler_var=DBCANARY_STACK_PORT_$(echo "$POOLER" | tr 'a-z-' 'A-Z_')
POOLER_PORT=${!pooler_var:?unknown pooler $POOLER}
REDIS_PORT=$DBCANARY_STACK_PORT_DRAGONFLY_0
WORK=$(mktemp -d /tmp/drill-bench.XXXXXX)
chmod 0755 "$WORK"

admin_sql() {  # SQL as the superuser over the unix socket
    local run=(env)
    ((EUID == 0)) && run=(runuser -u "$DBCANARY_STACK_RUN_USER" --)
    "${run[@]}" env PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -h "$DBCANARY_STACK_PG_SOCKET_DIR" -p "$PG_PORT" \
        -U "$DBCANARY_STACK_PG_SUPERUSER" -d postgres -c "$1"
}

HAD_CREATEDB=$(admin_sql "SELECT rolcreatedb FROM pg_roles WHERE rolname = 'dbcanary'")
cleanup() {
    admin_sql "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    [[ $HAD_CREATEDB == t ]] || admin_sql "ALTER ROLE dbcanary NOCREATEDB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
admin_sql "ALTER ROLE dbcanary CREATEDB" >/dev/null

# the same login and TLS settings for pgbench as the drill uses (the stack config's)
export PGUSER=dbcanary PGHOST=localhost PGSSLMODE=verify-full PGSSLROOTCERT=$DBCANARY_STACK_CA_CERT
PGPASSWORD=$(cat "$DBCANARY_STACK_SECRETS_DIR/dbcanary.password")
export PGPASSWORD
REDIS_PASSWORD=$(cat "$DBCANARY_STACK_SECRETS_DIR/dragonfly.password")

best() {  # largest of the numbers on stdin
    sort -g | tail -1
}

# dbcanary config: the stack's, plus the two benchmark drills with these parameters
# the stack's config without its own drills: section (this script brings its jobs)
awk '/^[^ #]/ { skip = ($0 ~ /^drills:/) } !skip' "$DBCANARY_STACK_CONFIG" >"$WORK/dbcanary.yaml"
cat >>"$WORK/dbcanary.yaml" <<EOF
drills:
  reports_dir: $WORK/reports
  lock: { cluster: shared-postgres }
  jobs:
    pg_benchmark:
      timeout: $((DURATION * 2 + 120))s
      cluster: shared-postgres
      pooler: $POOLER
      database: $DB
      clients: $CLIENTS
      threads: $THREADS
      duration: ${DURATION}s
      transactions: 0  # for -T DURATION, like the pgbench it is compared with
      scale: $SCALE
      expect: { min_tps: 1 }
    dragonfly_benchmark:
      timeout: $((DF_DURATION * 2 + 60))s
      dragonfly: dragonfly
      connections: $CONNECTIONS
      pipeline: $PIPELINE
      value_size: $VALUE_SIZE
      keyspace: $KEYSPACE
      duration: ${DF_DURATION}s
      requests: 0  # for DF_DURATION (redis-benchmark's -n is set high enough to last as long)
      expect: { min_ops_per_second: 1 }
EOF
mkdir -p "$WORK/reports"

declare -A RESULT
row() { printf '%-28s %14s %14s %8s\n' "$@"; }

if [[ $ONLY != redis ]]; then
    pgbench_tps() {  # port
        pgbench -c "$CLIENTS" -j "$THREADS" -T "$DURATION" -p "$1" "$DB" 2>&1 |
            sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
    }
    for ((i = 1; i <= RUNS; i++)); do
        echo "pgbench run $i/$RUNS (-i -s $SCALE, then -c $CLIENTS -j $THREADS -T $DURATION direct and via $POOLER)" >&2
        admin_sql "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
        admin_sql "CREATE DATABASE $DB OWNER dbcanary TEMPLATE template0" >/dev/null
        pgbench -i -q -s "$SCALE" -p "$PG_PORT" "$DB" >/dev/null 2>&1
        # pgbench's pre-run vacuum (branches, tellers, truncate history): the drill does the same
        RESULT[pgbench_direct]="${RESULT[pgbench_direct]:-} $(pgbench_tps "$PG_PORT")"
        RESULT[pgbench_pooler]="${RESULT[pgbench_pooler]:-} $(pgbench_tps "$POOLER_PORT")"
        admin_sql "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
    done
    for ((i = 1; i <= RUNS; i++)); do
        echo "pg_benchmark drill run $i/$RUNS" >&2
        "$DBCANARY" drill pg_benchmark --config "$WORK/dbcanary.yaml" >"$WORK/pg.out" 2>&1 || {
            cat "$WORK/pg.out" >&2
            echo "the pg_benchmark drill failed" >&2
            exit 1
        }
        RESULT[drill_direct]="${RESULT[drill_direct]:-} $(sed -n 's/.*benchmark direct: \([0-9.]*\) tps.*/\1/p' "$WORK/pg.out" | head -1)"
        RESULT[drill_pooler]="${RESULT[drill_pooler]:-} $(sed -n 's/.*benchmark pooler: \([0-9.]*\) tps.*/\1/p' "$WORK/pg.out" | head -1)"
    done
fi

if [[ $ONLY != pg ]]; then
    redis_keys_cleanup() {  # redis-benchmark -r writes key:000000012345
        REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$REDIS_PORT" --scan --pattern 'key:[0-9]*' |
            xargs -r -n 1000 env REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p "$REDIS_PORT" DEL >/dev/null
    }
    for ((i = 1; i <= RUNS; i++)); do
        echo "redis-benchmark run $i/$RUNS (-t set,get -c $CONNECTIONS -P $PIPELINE -d $VALUE_SIZE -r $KEYSPACE -n $REQUESTS)" >&2
        # the password is passed with -a (redis-benchmark 7 reads no environment variable for it)
        redis-benchmark -p "$REDIS_PORT" -a "$REDIS_PASSWORD" -t set,get \
            -c "$CONNECTIONS" -P "$PIPELINE" -d "$VALUE_SIZE" -r "$KEYSPACE" -n "$REQUESTS" -q \
            >"$WORK/rb.out" 2>&1
        tr '\r' '\n' <"$WORK/rb.out" | grep 'requests per second' >"$WORK/rb.lines" || true
        RESULT[rb_set]="${RESULT[rb_set]:-} $(sed -n 's/^SET: \([0-9.]*\) requests.*/\1/p' "$WORK/rb.lines")"
        RESULT[rb_get]="${RESULT[rb_get]:-} $(sed -n 's/^GET: \([0-9.]*\) requests.*/\1/p' "$WORK/rb.lines")"
        redis_keys_cleanup
    done
    for ((i = 1; i <= RUNS; i++)); do
        echo "dragonfly_benchmark drill run $i/$RUNS" >&2
        "$DBCANARY" drill dragonfly_benchmark --config "$WORK/dbcanary.yaml" >"$WORK/df.out" 2>&1 || {
            cat "$WORK/df.out" >&2
            echo "the dragonfly_benchmark drill failed" >&2
            exit 1
        }
        RESULT[drill_set]="${RESULT[drill_set]:-} $(sed -n 's/.*benchmark set: \([0-9.]*\) ops\/s.*/\1/p' "$WORK/df.out" | head -1)"
        RESULT[drill_get]="${RESULT[drill_get]:-} $(sed -n 's/.*benchmark get: \([0-9.]*\) ops\/s.*/\1/p' "$WORK/df.out" | head -1)"
    done
fi

echo
row "comparison (best of $RUNS)" "reference" "drill" "ratio"
compare() {  # label reference-key drill-key
    local ref drill
    ref=$(tr ' ' '\n' <<<"${RESULT[$2]:-}" | grep . | best || true)
    drill=$(tr ' ' '\n' <<<"${RESULT[$3]:-}" | grep . | best || true)
    [[ -n $ref && -n $drill ]] || { row "$1" "${ref:--}" "${drill:--}" "-"; return; }
    row "$1" "$ref" "$drill" "$(awk -v a="$drill" -v b="$ref" 'BEGIN { printf "%.3f", a / b }')"
}
if [[ $ONLY != redis ]]; then
    compare "TPS direct (pgbench)" pgbench_direct drill_direct
    compare "TPS via $POOLER" pgbench_pooler drill_pooler
fi
if [[ $ONLY != pg ]]; then
    compare "SET ops/s (redis-benchmark)" rb_set drill_set
    compare "GET ops/s (redis-benchmark)" rb_get drill_get
fi
echo "all runs:" >&2
for k in "${!RESULT[@]}"; do echo "  $k:${RESULT[$k]}" >&2; done
