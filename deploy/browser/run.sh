#!/usr/bin/env bash
# The browser tests of issue 16 (`make browser-test`; README.md, "Tests").
#
#   deploy/browser/run.sh [test files...]     (default: every deploy/browser/*.test.mjs)
#
# Builds bin/ticketd, creates a throwaway database ticketd_browser_<timestamp> next to the one
# MIGRATIONS_DATABASE_URL names, and starts `ticketd dev` on it (it migrates and seeds the demo
# organizer) with its own REDIS_KEY_PREFIX and WORKER_QUEUE, on free ports chosen now: the API, the
# Paystack simulator and the mail sink. Once /readyz answers, node's test runner runs the test files
# with BASE_URL, STORE_URL, DEMO_EMAIL, DEMO_PASSWORD, CHROMIUM and ARTIFACTS set (deploy/browser/lib.mjs
# reads them). On exit, whatever happened, it stops the server, drops the database and unlinks the
# Redis keys of its own prefix and queue (never FLUSHDB). Screenshots and the server log stay in
# .local/browser/<timestamp>/.
#
# Needs: go, psql, redis-cli, curl, Node.js >= 20.19 with deploy/browser's node_modules (`npm ci`
# there; make browser-test does it), and Chromium at CHROMIUM (default /usr/bin/chromium, Debian's
# package chromium; .ci/run installs it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
GO=${GO:-go}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

log() { printf 'browser-test: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for tool in "$GO" psql redis-cli curl; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
command -v node >/dev/null || die "node is not installed: the browser tests need Node.js >= 20.19"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
  die "node $(node --version) is too old: the browser tests need Node.js >= 20.19"
[[ -x $CHROMIUM ]] ||
  die "no Chromium at $CHROMIUM: apt-get install --no-install-recommends chromium (.ci/run does), or set CHROMIUM to one"
[[ -f deploy/browser/node_modules/playwright-core/package.json && -f deploy/browser/node_modules/axe-core/package.json ]] ||
  die "deploy/browser/node_modules is missing: run npm ci in deploy/browser (make browser-test does)"

FILES=("$@")
((${#FILES[@]})) || FILES=(deploy/browser/*.test.mjs)

DB_BASE_URL=${MIGRATIONS_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ticketing?sslmode=disable}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
STAMP=$(date -u +%Y%m%d%H%M%S)_$$
DB=ticketd_browser_$STAMP
PREFIX="ticketd_browser_$STAMP:"
QUEUE="ticketd_browser_$STAMP"
OUT="$ROOT/.local/browser/$STAMP"
mkdir -p "$OUT"

# with_db URL NAME -> URL with its database replaced by NAME (the query string is kept)
with_db() {
  local url=$1 name=$2 query='' before rest
  before=${url%%\?*}
  [[ $url == *\?* ]] && query="?${url#*\?}"
  rest=${before#*://}
  [[ $rest == */* ]] && before=${before%/*}
  printf '%s/%s%s' "$before" "$name" "$query"
}

# free_port [TAKEN...] -> a TCP port that no socket uses and that is not among TAKEN, below the
# ephemeral range (from which outgoing connections take their local ports, which would make binding
# it fail a moment later)
free_port() {
  local port low=32768 taken=" $* "
  [[ -r /proc/sys/net/ipv4/ip_local_port_range ]] && read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  ((low > 11000)) || low=32768
  for _ in $(seq 100); do
    port=$((10000 + RANDOM % (low - 10000)))
    [[ $taken == *" $port "* ]] && continue
    if command -v ss >/dev/null; then
      [[ -z $(ss -Htan "( sport = :$port )") ]] && { printf '%s' "$port"; return; }
    elif ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      printf '%s' "$port"
      return
    fi
  done
  die "no free port found"
}

SERVER_PID=''
stop_server() {
  [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null || return 0
  log "stopping ticketd (pid $SERVER_PID)"
  kill -TERM "$SERVER_PID"
  # Its shutdown takes at most SHUTDOWN_TIMEOUT (15 s); a server stuck past that is killed.
  for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.3
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    log "ticketd did not stop in 30 s; killing it"
    kill -KILL "$SERVER_PID"
  fi
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=''
}

drop_database() {
  log "dropping database $DB"
  psql -q "$(with_db "$DB_BASE_URL" postgres)" -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null
}

unlink_redis_keys() {
  log "unlinking Redis keys under $PREFIX and of queue $QUEUE"
  for pattern in "$PREFIX*" "asynq:{$QUEUE}:*"; do
    redis-cli -u "$REDIS_URL" --scan --pattern "$pattern" |
      xargs -r -n 500 redis-cli -u "$REDIS_URL" unlink >/dev/null
  done
  redis-cli -u "$REDIS_URL" srem asynq:queues "$QUEUE" >/dev/null
}

cleanup() {
  local rc=$?
  set +e
  stop_server
  drop_database
  unlink_redis_keys
  log "screenshots and the server log in ${OUT#"$ROOT"/}"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building bin/ticketd"
"$GO" build -o bin/ticketd ./cmd/ticketd

# start_server: `ticketd dev` on free ports (it creates the database and migrates it), until /readyz
# answers. The server gets only the variables named here (env -i): a PAYSTACK_SECRET_KEY, SMTP_URL or
# METRICS_ADDR of the caller's shell would send it to real Paystack, real mail or a fixed port. Its
# keys are dev's published ones; it listens on 127.0.0.1 only. Returns 2 when a port was taken
# meanwhile (another run chose it too).
start_server() {
  PORT=$(free_port)
  SIM_PORT=$(free_port "$PORT")
  SMTP_PORT=$(free_port "$PORT" "$SIM_PORT")
  MAIL_PORT=$(free_port "$PORT" "$SIM_PORT" "$SMTP_PORT")
  log "starting ticketd dev on port $PORT (Paystack simulator $SIM_PORT, mail sink $SMTP_PORT and $MAIL_PORT)"
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
    MIGRATIONS_DATABASE_URL="$(with_db "$DB_BASE_URL" "$DB")" REDIS_URL="$REDIS_URL" \
    REDIS_KEY_PREFIX="$PREFIX" WORKER_QUEUE="$QUEUE" \
    PORT="$PORT" PLATFORM_DOMAIN=localhost PAYSTACK_SIM_PORT="$SIM_PORT" \
    DEV_SMTP_PORT="$SMTP_PORT" DEV_MAIL_PORT="$MAIL_PORT" LOG_LEVEL="${LOG_LEVEL:-info}" \
    AUTH_RATE_LIMIT_IP=1000 \
    bin/ticketd dev >"$OUT/ticketd.log" 2>&1 &
  SERVER_PID=$!
  # A fresh database is migrated first: on a busy machine that takes a while.
  for _ in $(seq 450); do
    if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then
      # What answered may be another ticketd that took the port while this one migrated.
      if command -v ss >/dev/null && [[ $(ss -Htlnp "( sport = :$PORT )") != *"pid=$SERVER_PID,"* ]]; then
        stop_server
        return 2
      fi
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" 2>/dev/null
      SERVER_PID=''
      grep -q 'address already in use' "$OUT/ticketd.log" && return 2
      cat "$OUT/ticketd.log" >&2
      die "ticketd exited before it was ready"
    fi
    sleep 0.2
  done
  cat "$OUT/ticketd.log" >&2
  die "ticketd not ready after 90 s"
}
for attempt in 1 2 3; do
  rc=0
  start_server || rc=$?
  ((rc == 0)) && break
  ((attempt < 3)) || die "ports taken by others three times over; giving up"
  log "a port was taken meanwhile; choosing others"
  mv "$OUT/ticketd.log" "$OUT/ticketd.$attempt.log"
  # Afresh: the seed line read below is printed only when dev seeds an empty database.
  drop_database
  unlink_redis_keys
done

# The demo organizer's storefront and admin, as `ticketd dev` seeded them (cmd/ticketd/seed.go):
#   seed: created the "demo" organizer; sign in at http://demo.localhost:PORT as EMAIL / PASSWORD
seeded=$(sed -n 's/^seed: created the "demo" organizer; sign in at \(http[^ ]*\) as \([^ ]*\) \/ \(.*\)$/\1 \2 \3/p' "$OUT/ticketd.log")
read -r STORE_URL DEMO_EMAIL DEMO_PASSWORD <<<"$seeded" || true
[[ -n ${DEMO_PASSWORD:-} ]] ||
  die "ticketd dev did not print the demo organizer's sign-in (the seed line read by deploy/browser/run.sh changed?)"

log "running ${FILES[*]}"
TEST_RC=0
BASE_URL="http://localhost:$PORT" STORE_URL="$STORE_URL" SIM_URL="http://localhost:$SIM_PORT" \
  DEMO_EMAIL="$DEMO_EMAIL" DEMO_PASSWORD="$DEMO_PASSWORD" \
  CHROMIUM="$CHROMIUM" ARTIFACTS="$OUT" \
  node --test --test-reporter=spec --test-timeout=120000 "${FILES[@]}" || TEST_RC=$?
if grep -Eq '"level":"(ERROR|error)"' "$OUT/ticketd.log"; then
  log "ticketd logged errors (first 5; the full log is $OUT/ticketd.log):"
  grep -E '"level":"(ERROR|error)"' "$OUT/ticketd.log" | head -5 >&2
fi
exit "$TEST_RC"
