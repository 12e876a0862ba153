# Shell functions shared by the scripts that run ticketd on throwaway resources: deploy/bench.sh,
# deploy/restore-drill.sh and deploy/browser/run.sh. Sourced, not run:
#
#   LOG_TAG=bench
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Sourcing it only sets ROOT and DEV_DATABASE_URL and defines the functions below. A run names its
# database, Redis key prefix and asynq queue with throwaway_init, and cleanup_on_exit removes those
# and nothing else: the names carry a timestamp and the script's pid, so no other run has them.
# The functions use the caller's globals named in their comments; the caller runs under
# `set -euo pipefail`.

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  echo "deploy/lib.sh is sourced by the deploy scripts, not run" >&2
  exit 1
fi

# ROOT is the repository root, found from this file's place in it.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# DEV_DATABASE_URL is the development database of README.md, the default MIGRATIONS_DATABASE_URL.
DEV_DATABASE_URL='postgres://postgres@127.0.0.1:5432/ticketing?sslmode=disable'

# log MESSAGE...: prints "LOG_TAG: MESSAGE" to stderr.
log() { printf '%s: %s\n' "$LOG_TAG" "$*" >&2; }

# die MESSAGE...: logs MESSAGE and exits 1.
die() {
  log "$*"
  exit 1
}

# die_log FILE MESSAGE...: prints FILE (a log that says why) to stderr, then dies with MESSAGE.
die_log() {
  cat "$1" >&2
  shift
  die "$*"
}

# need_tools COMMAND...: dies with "COMMAND is needed" for the first one not on PATH.
need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool is needed"
  done
}

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

# random_secret -> 96 random hex digits, for the secrets a throwaway server needs
random_secret() { head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# throwaway_init KIND DIR BASE_URL: names this run's throwaway resources after KIND and STAMP (UTC
# time and pid): the database DB=ticketd_KIND_STAMP on the server of BASE_URL (kept in DB_BASE_URL),
# the Redis key prefix PREFIX="ticketd_KIND_STAMP:" and the asynq queue QUEUE=ticketd_KIND_STAMP,
# and creates the output directory OUT=ROOT/.local/DIR/STAMP. REDIS_URL defaults to the local
# Redis's database 0; SERVER_PID starts empty. It creates no database and writes no key.
throwaway_init() {
  local kind=$1 dir=$2
  DB_BASE_URL=$3
  REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
  STAMP=$(date -u +%Y%m%d%H%M%S)_$$
  DB=ticketd_${kind}_$STAMP
  PREFIX="ticketd_${kind}_$STAMP:"
  QUEUE="ticketd_${kind}_$STAMP"
  OUT="$ROOT/.local/$dir/$STAMP"
  SERVER_PID=''
  mkdir -p "$OUT"
}

# wait_ready NAME PORT SECONDS LOG: polls http://127.0.0.1:PORT/readyz every 0.2 s until it answers
# (returns 0). Returns 1 when the server SERVER_PID exits first, having reaped it (SERVER_PID is then
# empty; LOG says why). After SECONDS of polling it prints LOG and dies "NAME not ready after SECONDS s".
wait_ready() {
  local name=$1 port=$2 seconds=$3 log_file=$4
  for _ in $(seq $((seconds * 5))); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=''
      return 1
    fi
    sleep 0.2
  done
  die_log "$log_file" "$name not ready after $seconds s"
}

# stop_server: stops the server SERVER_PID, if it runs, with SIGTERM, and with SIGKILL when it has
# not stopped 30 s later; empties SERVER_PID.
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
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=''
}

# drop_database: drops this run's database DB on the server of DB_BASE_URL, if it exists.
drop_database() {
  log "dropping database $DB"
  psql -q "$(with_db "$DB_BASE_URL" postgres)" -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null
}

# unlink_redis_keys: unlinks the keys under this run's PREFIX and those of its asynq queues at
# REDIS_URL, found by SCAN: QUEUE and QUEUE-mail, where ticketd puts mail to buyers
# (worker.MailQueue), each asynq:{queue}:* and its entry in asynq:queues. Never FLUSHDB.
unlink_redis_keys() {
  local pattern
  log "unlinking Redis keys under $PREFIX and of queues $QUEUE and $QUEUE-mail"
  for pattern in "$PREFIX*" "asynq:{$QUEUE}:*" "asynq:{$QUEUE-mail}:*"; do
    redis-cli -u "$REDIS_URL" --scan --pattern "$pattern" |
      xargs -r -n 500 redis-cli -u "$REDIS_URL" unlink >/dev/null
  done
  redis-cli -u "$REDIS_URL" srem asynq:queues "$QUEUE" "$QUEUE-mail" >/dev/null
}

# cleanup_on_exit [WHAT]: on exit, whatever happened (SIGINT and SIGTERM exit 130), stop_server,
# drop_database, unlink_redis_keys, and log "WHAT in OUT" (WHAT defaults to "output"); the exit
# status stays the script's.
cleanup_on_exit() {
  CLEANUP_WHAT=${1:-output}
  trap _cleanup EXIT
  trap 'exit 130' INT TERM
}

# _cleanup is cleanup_on_exit's EXIT trap.
_cleanup() {
  local rc=$?
  set +e
  stop_server
  drop_database
  unlink_redis_keys
  log "$CLEANUP_WHAT in ${OUT#"$ROOT"/}"
  exit "$rc"
}
