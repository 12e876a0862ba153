#!/usr/bin/env bash
# The backup-and-restore drill (`make restore-drill`; docs/deploy.md, "Backups and restore").
#
#   deploy/restore-drill.sh
#
# Does to a copy what a real restore does after losing the database and Redis together:
#   1. backs up the source database (SOURCE_DATABASE_URL, default MIGRATIONS_DATABASE_URL, default the
#      development database) with pg_dump in its custom format, as a nightly backup job would;
#   2. restores it with pg_restore into a new database ticketd_restore_<timestamp> on the same server
#      (the roles ticketing_owner and ticketing_app are server-wide: on a new server, restore them
#      first from `pg_dumpall --roles-only`, or let `ticketd migrate up` create them before pg_restore);
#   3. checks that `ticketd migrate status` finds every migration applied, and that every table holds
#      as many rows as the source did when the backup was taken (a live source may have moved on: the
#      differences are printed, and fail the drill only with DRILL_STRICT=1);
#   4. starts `ticketd serve` on the copy with an empty Redis namespace (Redis is lost with the
#      disaster), waits for /readyz, lists each organizer's events through the API (the application
#      role reading the copy under row-level security), rebuilds every event's Redis inventory from Postgres with
#      `ticketd inventory rebuild` and checks each one (available + held + sold = capacity);
#   5. prints how long each step took and the size of the backup: the restore time to plan with.
# On exit it stops the server, drops the copy and unlinks the keys of its Redis namespace and queues,
# whatever happened; the backup and the logs stay in .local/restore-drill/<timestamp>/.
#
# Needs: go, psql, pg_dump, pg_restore, redis-cli, curl, jq.
set -euo pipefail

LOG_TAG=restore-drill
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
GO=${GO:-go}

need_tools "$GO" psql pg_dump pg_restore redis-cli curl jq

SOURCE=${SOURCE_DATABASE_URL:-${MIGRATIONS_DATABASE_URL:-$DEV_DATABASE_URL}}
# The copy is created on the source's server.
throwaway_init restore restore-drill "$SOURCE"
cleanup_on_exit

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# row_counts URL: "table count" for every table of the public schema, as the superuser sees them.
row_counts() {
  psql -qAt -F ' ' "$1" <<'SQL'
SELECT format('SELECT %L, count(*) FROM %I', tablename, tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename
\gexec
SQL
}

log "building bin/ticketd"
"$GO" build -o bin/ticketd ./cmd/ticketd

log "1. backing up the source"
row_counts "$SOURCE" >"$OUT/source-counts.txt"
t=$(now)
pg_dump --format=custom --file="$OUT/backup.dump" "$SOURCE"
DUMP_TOOK=$(took "$t")
DUMP_SIZE=$(du -h "$OUT/backup.dump" | cut -f1)

log "2. restoring into $DB"
t=$(now)
RESTORE_T0=$t
psql -q "$(with_db "$SOURCE" postgres)" -c "CREATE DATABASE \"$DB\"" >/dev/null
TARGET=$(with_db "$SOURCE" "$DB")
pg_restore --exit-on-error --dbname="$TARGET" "$OUT/backup.dump" 2>"$OUT/pg_restore.log" ||
  die_log "$OUT/pg_restore.log" "pg_restore failed"
RESTORE_TOOK=$(took "$t")

log "3. checking migrations and rows"
export MIGRATIONS_DATABASE_URL=$TARGET
unset DATABASE_URL # derived from MIGRATIONS_DATABASE_URL: the copy
bin/ticketd migrate status >"$OUT/migrate-status.txt" 2>&1 || die_log "$OUT/migrate-status.txt" "migrate status failed"
if grep -qi pending "$OUT/migrate-status.txt"; then
  die_log "$OUT/migrate-status.txt" "the copy has migrations pending: the backup is of an older release (run its migrate up first)"
fi
row_counts "$TARGET" >"$OUT/restored-counts.txt"
ROWS=$(awk '{ n += $2 } END { print n + 0 }' "$OUT/restored-counts.txt")
TABLES=$(wc -l <"$OUT/restored-counts.txt")
if ! diff -u "$OUT/source-counts.txt" "$OUT/restored-counts.txt" >"$OUT/counts.diff"; then
  log "rows differ from the source's before the backup (a live source moves on):"
  cat "$OUT/counts.diff" >&2
  [[ ${DRILL_STRICT:-0} == 1 ]] && die "DRILL_STRICT=1: the copy's rows must match the source's"
fi

log "4. serving the copy with an empty Redis and rebuilding inventories"
PORT=${DRILL_PORT:-$((20000 + RANDOM % 10000))}
export PORT REDIS_URL REDIS_KEY_PREFIX=$PREFIX WORKER_QUEUE=$QUEUE LOG_LEVEL=warn
export PLATFORM_API_KEY="restore-drill-key-$STAMP"
export JWT_SECRET TICKET_SIGNING_SECRET WAITING_ROOM_SECRET
JWT_SECRET=$(random_secret)
TICKET_SIGNING_SECRET=${DRILL_TICKET_SIGNING_SECRET:-$JWT_SECRET}
WAITING_ROOM_SECRET=$JWT_SECRET
bin/ticketd serve >"$OUT/ticketd.log" 2>&1 &
SERVER_PID=$!
wait_ready "ticketd serve" "$PORT" 60 "$OUT/ticketd.log" || die_log "$OUT/ticketd.log" "ticketd serve exited"
# Each organizer's public events through the API: the application role reads the copy under
# row-level security (its grants and policies came back with the tables).
TENANTS=0
while read -r slug published; do
  got=$(curl -fsS -H "X-Tenant: $slug" "http://127.0.0.1:$PORT/v1/events?limit=100" | jq '.data | length') ||
    die "GET /v1/events of $slug failed on the copy"
  ((got == published || got == 100)) || die "$slug: the API lists $got events on the copy, Postgres has $published published"
  TENANTS=$((TENANTS + 1))
done < <(psql -qAt -F ' ' "$TARGET" -c "SELECT t.slug, count(e.id) FILTER (WHERE e.status = 'published' AND e.deleted_at IS NULL AND e.ends_at > now())
  FROM tenants t LEFT JOIN events e ON e.tenant_id = t.id WHERE t.status = 'active' GROUP BY t.slug")
EVENTS=0
while read -r event slug; do
  [[ -n $event ]] || continue
  bin/ticketd inventory rebuild --event "$event" --tenant "$slug" >>"$OUT/inventory.txt" 2>&1 || {
    tail -20 "$OUT/inventory.txt" >&2
    die "inventory of event $event ($slug) is not consistent after its rebuild"
  }
  EVENTS=$((EVENTS + 1))
done < <(psql -qAt -F ' ' "$TARGET" -c "SELECT e.id, t.slug FROM events e JOIN tenants t ON t.id = e.tenant_id WHERE e.deleted_at IS NULL ORDER BY e.created_at")
RTO=$(took "$RESTORE_T0")

cat <<REPORT | tee "$OUT/summary.txt"
restore drill $STAMP, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)
backup:   pg_dump --format=custom, $DUMP_SIZE, $DUMP_TOOK
restore:  pg_restore into a new database, $RESTORE_TOOK; $TABLES tables, $ROWS rows
checks:   migrations all applied; rows as in the source$([[ -s $OUT/counts.diff ]] && echo " except $OUT/counts.diff"); ticketd serve ready on the copy; $TENANTS organizers' events served through the API
redis:    $EVENTS events' inventories rebuilt from Postgres and consistent
restore time (database created → every inventory rebuilt): $RTO
REPORT
