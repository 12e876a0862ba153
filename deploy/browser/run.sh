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
# Redis keys of its own prefix and queues (never FLUSHDB). Screenshots and the server log stay in
# .local/browser/<timestamp>/.
#
# Needs: go, psql, redis-cli, curl, Node.js >= 20.19 with deploy/browser's node_modules (`npm ci`
# there; make browser-test does it), and Chromium at CHROMIUM (default /usr/bin/chromium, Debian's
# package chromium; .ci/run installs it).
set -euo pipefail

LOG_TAG=browser-test
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$ROOT"
GO=${GO:-go}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

need_tools "$GO" psql redis-cli curl
command -v node >/dev/null || die "node is not installed: the browser tests need Node.js >= 20.19"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
  die "node $(node --version) is too old: the browser tests need Node.js >= 20.19"
[[ -x $CHROMIUM ]] ||
  die "no Chromium at $CHROMIUM: apt-get install --no-install-recommends chromium (.ci/run does), or set CHROMIUM to one"
[[ -f deploy/browser/node_modules/playwright-core/package.json && -f deploy/browser/node_modules/axe-core/package.json ]] ||
  die "deploy/browser/node_modules is missing: run npm ci in deploy/browser (make browser-test does)"

FILES=("$@")
((${#FILES[@]})) || FILES=(deploy/browser/*.test.mjs)

throwaway_init browser browser "${MIGRATIONS_DATABASE_URL:-$DEV_DATABASE_URL}"
cleanup_on_exit "screenshots and the server log"

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
  if wait_ready ticketd "$PORT" 90 "$OUT/ticketd.log"; then
    # What answered may be another ticketd that took the port while this one migrated.
    if command -v ss >/dev/null && [[ $(ss -Htlnp "( sport = :$PORT )") != *"pid=$SERVER_PID,"* ]]; then
      stop_server
      return 2
    fi
    return 0
  fi
  grep -q 'address already in use' "$OUT/ticketd.log" && return 2
  die_log "$OUT/ticketd.log" "ticketd exited before it was ready"
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
