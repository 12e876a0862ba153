#!/usr/bin/env bash
# The flash-sale benchmark of issue 5 (`make bench`; method and results in docs/benchmarks.md).
#
#   deploy/bench.sh [ticketbench flags...]
#
# Builds bin/ticketd and bin/ticketbench, creates a throwaway database ticketd_bench_<timestamp>
# next to the one MIGRATIONS_DATABASE_URL names, migrates it, starts `ticketd serve` on a free port
# with its own REDIS_KEY_PREFIX and WORKER_QUEUE, runs ticketbench against it, then measures the
# raw rate of the Redis hold script (BenchmarkHoldGA). On exit, whatever happened, it stops the
# server, drops the database and unlinks the Redis keys of its own prefix and queues (never FLUSHDB).
# Output, the server log and the JSON report stay in .local/bench/<timestamp>/.
#
# With BENCH_TENANTS=N it first provisions N other organizers in the database (bulk-00001 …, each
# with a custom domain bulk-00001.bench.test), by SQL rather than through the platform API, which
# would hash N admin passwords, and has ticketbench resolve each once before the phases
# (-tenants N): the sale then runs beside N cached organizers (docs/benchmarks.md, issue 17).
#
# Needs: go, psql, redis-cli, curl; Postgres and Redis at MIGRATIONS_DATABASE_URL and REDIS_URL
# (defaults as in README.md; deploy/local-services.sh ensure starts local ones).
set -euo pipefail

LOG_TAG=bench
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
GO=${GO:-go}

need_tools "$GO" psql redis-cli curl

throwaway_init bench bench "${MIGRATIONS_DATABASE_URL:-$DEV_DATABASE_URL}"
cleanup_on_exit

log "building bin/ticketd and bin/ticketbench"
"$GO" build -o bin/ticketd ./cmd/ticketd
"$GO" build -o bin/ticketbench ./cmd/ticketbench

PORT=$(free_port)
export MIGRATIONS_DATABASE_URL
MIGRATIONS_DATABASE_URL=$(with_db "$DB_BASE_URL" "$DB")
export REDIS_URL PORT
export REDIS_KEY_PREFIX=$PREFIX WORKER_QUEUE=$QUEUE
export PLATFORM_API_KEY="bench-platform-key-$STAMP"
export JWT_SECRET TICKET_SIGNING_SECRET WAITING_ROOM_SECRET
JWT_SECRET=$(random_secret)
TICKET_SIGNING_SECRET=$(random_secret)
WAITING_ROOM_SECRET=$(random_secret)
export JWT_EXPIRES_IN=1h LOG_LEVEL=warn
export AUTH_RATE_LIMIT_IP=100000 AUTH_RATE_LIMIT_EMAIL=100000
# One load generator stands for thousands of buyers, from one address.
export HTTP_MAX_CONNS_PER_IP=0
# The booking rate limits and the open-holds limit would measure the limits, not the sale. To measure
# what the limiter costs, set BENCH_RATE_LIMIT_USER and BENCH_RATE_LIMIT_IP to budgets the sale stays
# under (every request is then counted, none refused).
export BOOKING_RATE_LIMIT_IP=${BENCH_RATE_LIMIT_IP:-0} BOOKING_RATE_LIMIT_USER=${BENCH_RATE_LIMIT_USER:-0} BOOKING_MAX_OPEN_HOLDS=0
unset DATABASE_URL # derived from MIGRATIONS_DATABASE_URL, so it names the bench database

log "migrating $DB"
bin/ticketd migrate up >"$OUT/migrate.log" 2>&1 || die_log "$OUT/migrate.log" "migrate up failed"

BENCH_TENANTS=${BENCH_TENANTS:-0}
[[ $BENCH_TENANTS =~ ^[0-9]+$ ]] && ((BENCH_TENANTS <= 99999)) || die "BENCH_TENANTS must be 0 to 99999"
TENANT_FLAGS=()
if ((BENCH_TENANTS > 0)); then
  log "provisioning $BENCH_TENANTS other organizers"
  psql -q -v ON_ERROR_STOP=1 "$MIGRATIONS_DATABASE_URL" -v n="$BENCH_TENANTS" >/dev/null <<'SQL'
WITH t AS (
  INSERT INTO tenants (slug, name, currency)
  SELECT format('bulk-%s', lpad(i::text, 5, '0')), format('Bulk organizer %s', i), 'NGN'
  FROM generate_series(1, :n) AS i
  RETURNING id, slug)
INSERT INTO tenant_domains (domain, tenant_id) SELECT slug || '.bench.test', id FROM t;
SQL
  TENANT_FLAGS=(-tenants "$BENCH_TENANTS")
fi

log "starting ticketd serve on port $PORT"
bin/ticketd serve >"$OUT/ticketd.log" 2>&1 &
SERVER_PID=$!
wait_ready ticketd "$PORT" 30 "$OUT/ticketd.log" || die_log "$OUT/ticketd.log" "ticketd exited"

{
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$([[ -z $(git status --porcelain 2>/dev/null) ]] || echo ' (with uncommitted changes)')"
  echo "machine $(nproc) cores, $(uname -sr), $("$GO" env GOVERSION)"
} | tee "$OUT/summary.txt"

PPROF_FLAGS=()
# With PPROF_ADDR set (a loopback host:port), ticketd serves pprof there and ticketbench profiles the
# start of each phase.
[[ -n ${PPROF_ADDR:-} ]] && PPROF_FLAGS=(-pprof "http://$PPROF_ADDR" -pprof-dir "$OUT")
# With METRICS_ADDR set, ticketd serves /metrics there instead of on PORT; ticketbench reads its
# group-commit counters from it (an address without a host, such as :9090, is reached on 127.0.0.1).
METRICS_FLAGS=()
if [[ -n ${METRICS_ADDR:-} ]]; then
  metrics_host=${METRICS_ADDR%:*}
  [[ -z $metrics_host || $metrics_host == 0.0.0.0 || $metrics_host == "[::]" ]] && metrics_host=127.0.0.1
  METRICS_FLAGS=(-metrics "http://$metrics_host:${METRICS_ADDR##*:}")
fi

BENCH_RC=0
bin/ticketbench -url "http://127.0.0.1:$PORT" -ticketd bin/ticketd -json "$OUT/bench.json" "${PPROF_FLAGS[@]}" \
  "${METRICS_FLAGS[@]}" "${TENANT_FLAGS[@]}" "$@" |
  tee -a "$OUT/summary.txt" || BENCH_RC=$?
echo "ticketd after the run: $(ps -o cputime=,rss= -p "$SERVER_PID" | awk '{print "CPU time " $1 ", RSS " int($2/1024) " MiB"}')" |
  tee -a "$OUT/summary.txt"
if grep -Eq '"level":"(ERROR|error)"' "$OUT/ticketd.log"; then
  echo "ticketd logged errors (first 5, full log in $OUT/ticketd.log):" | tee -a "$OUT/summary.txt"
  grep -E '"level":"(ERROR|error)"' "$OUT/ticketd.log" | head -5 | tee -a "$OUT/summary.txt"
fi

echo | tee -a "$OUT/summary.txt"
echo "== raw Redis rate of the hold script: go test -run '^\$' -bench BenchmarkHoldGA -benchtime 3s ./internal/inventory/" |
  tee -a "$OUT/summary.txt"
HOLD_RC=0
"$GO" test -run '^$' -bench BenchmarkHoldGA -benchtime 3s ./internal/inventory/ 2>&1 | tee "$OUT/holdga.txt" |
  tee -a "$OUT/summary.txt" || HOLD_RC=$?
NS=$(awk '/^BenchmarkHoldGA/ {for (i = 1; i < NF; i++) if ($(i + 1) == "ns/op") print $i}' "$OUT/holdga.txt" | head -1)
if [[ -n $NS ]] && command -v jq >/dev/null && [[ -s $OUT/bench.json ]]; then
  jq -r --argjson ns "$NS" '(1e9 / $ns) as $raw |
    "hold script: \($raw | floor) holds/s raw",
    ((.phases // [])[] | select(.phase == "closed") |
      "closed loop: \(.attemptsPerSecond | floor) attempts/s = \(.attemptsPerSecond / $raw * 100 | floor)% of it; \(.holdsPerSecond | floor) holds/s = \(.holdsPerSecond / $raw * 100 | floor)% of it (GA alone \(.gaHoldsPerSecond | floor)/s = \(.gaHoldsPerSecond / $raw * 100 | floor)%)")' \
    "$OUT/bench.json" | tee -a "$OUT/summary.txt"
elif [[ -z $NS ]]; then
  echo "BenchmarkHoldGA gave no result (exit $HOLD_RC): not written yet?" | tee -a "$OUT/summary.txt"
fi
exit "$BENCH_RC"
