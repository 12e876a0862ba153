#!/usr/bin/env bash
# Makes sure the Postgres and Redis that ticketd points at are reachable.
#
#   deploy/local-services.sh ensure   start throwaway local servers for any that are not
#   deploy/local-services.sh status   print reachability (exit 1 if something is down)
#   deploy/local-services.sh stop     stop what this script started (nothing else)
#
# It reads MIGRATIONS_DATABASE_URL, REDIS_URL and, when set, TEST_DATABASE_URL, with the same
# defaults as ticketd. A server is only started when its URL points at this machine
# (127.0.0.1, localhost or ::1); it then lives under .local/ at the repository root:
#   .local/postgres/<port>/  data/, postgres.log, run/ (socket), bindir
#   .local/redis/<port>/     redis.pid, redis.log
# Missing binaries are installed with apt-get on Debian/Ubuntu when running as root; redis-server
# always, since the Redis Cluster and Sentinel tests start their own servers from it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"

DEFAULT_MIGRATIONS_DATABASE_URL='postgres://postgres@127.0.0.1:5432/ticketing?sslmode=disable'
DEFAULT_REDIS_URL='redis://127.0.0.1:6379/0'

log() { printf 'local-services: %s\n' "$*"; }
die() { printf 'local-services: %s\n' "$*" >&2; exit 1; }

# parse_url URL DEFAULT_PORT DEFAULT_USER -> sets URL_HOST, URL_PORT, URL_USER
parse_url() {
  local rest=${1#*://} userinfo=''
  rest=${rest%%[/?#]*}
  if [[ $rest == *@* ]]; then
    userinfo=${rest%@*}
    rest=${rest##*@}
  fi
  rest=${rest%%,*}
  if [[ $rest == \[* ]]; then
    URL_HOST=${rest#\[}
    URL_HOST=${URL_HOST%%\]*}
    URL_PORT=${rest#*\]}
  else
    URL_HOST=${rest%%:*}
    URL_PORT=${rest#"$URL_HOST"}
  fi
  URL_PORT=${URL_PORT#:}
  URL_HOST=${URL_HOST:-127.0.0.1}
  URL_PORT=${URL_PORT:-$2}
  URL_USER=${userinfo%%:*}
  URL_USER=${URL_USER:-$3}
  [[ $URL_PORT =~ ^[0-9]+$ ]] || die "cannot read a port from URL host part '$rest'"
}

# shellcheck disable=SC2016 # $0/$1 are expanded by the inner bash
reachable() {
  local host=$1 port=$2
  if command -v timeout >/dev/null 2>&1; then
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
  else
    bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
  fi
}

wait_reachable() {
  local host=$1 port=$2 i
  for ((i = 0; i < 30; i++)); do
    reachable "$host" "$port" && return 0
    sleep 1
  done
  return 1
}

is_local() {
  case $1 in 127.0.0.1 | localhost | ::1) return 0 ;; *) return 1 ;; esac
}

listen_addr() {
  if [[ $1 == ::1 ]]; then echo '::1'; else echo '127.0.0.1'; fi
}

pg_bindir() {
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  if [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]]; then
    echo "$d"
    return 0
  fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    d=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
    echo "$d"
    return 0
  fi
  return 1
}

# install_or_explain PKG... : apt-get install on Debian as root, else print how and exit 1.
install_or_explain() {
  if [[ -f /etc/debian_version && $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing $* with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    return 0
  fi
  {
    echo "local-services: missing: $*"
    if [[ -f /etc/debian_version ]]; then
      echo "  install with: sudo apt-get install -y $*"
    elif [[ $(uname -s) == Darwin ]]; then
      echo "  install with: brew install postgresql@15 redis   (and put their bin/ on PATH)"
    else
      echo "  install PostgreSQL (initdb, pg_ctl) and Redis (redis-server) with your package manager"
    fi
    echo "  or point MIGRATIONS_DATABASE_URL / REDIS_URL at servers that are already running"
  } >&2
  exit 1
}

# The system user that owns a cluster started by root (initdb and pg_ctl refuse to run as root).
pg_os_user() {
  if id -u postgres >/dev/null 2>&1; then
    echo postgres
    return
  fi
  if ! id -u ticketd-pg >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ticketd-pg \
      || die "cannot create system user ticketd-pg for the local Postgres cluster"
  fi
  echo ticketd-pg
}

# as_user USER CMD... : run CMD as USER (directly when USER is empty), from inside the cluster dir.
as_user() {
  local user=$1
  shift
  if [[ -n $user ]]; then
    runuser -u "$user" -- "$@"
  else
    "$@"
  fi
}

start_postgres() {
  local host=$1 port=$2 superuser=$3
  local dir="$LOCAL/postgres/$port" bindir owner='' sockdir locales locale_opt addr
  if ! bindir=$(pg_bindir); then
    install_or_explain postgresql
    reachable "$host" "$port" && { log "PostgreSQL at $host:$port is reachable now (started by its package)"; return 0; }
    bindir=$(pg_bindir) || die "PostgreSQL was installed but initdb/pg_ctl are still not found"
  fi
  mkdir -p "$dir/run"
  if [[ $EUID -eq 0 ]]; then
    owner=$(pg_os_user)
    chown -R "$owner" "$dir"
    runuser -u "$owner" -- test -w "$dir" \
      || die "user $owner cannot write $dir (a parent folder is not searchable by it); run as a normal user or make the path searchable"
  fi
  echo "$bindir" >"$dir/bindir"
  if [[ ! -s $dir/data/PG_VERSION ]]; then
    locales=$(locale -a 2>/dev/null || true)
    if grep -qixE 'c\.utf-?8' <<<"$locales"; then locale_opt=--locale=C.UTF-8; else locale_opt=--no-locale; fi
    if ! (cd "$dir" && as_user "$owner" "$bindir/initdb" -D "$dir/data" -U "$superuser" --auth=trust -E UTF8 "$locale_opt") \
      >"$dir/initdb.log" 2>&1; then
      cat "$dir/initdb.log" >&2
      die "initdb failed (log: $dir/initdb.log)"
    fi
  fi
  # Unix socket paths are limited to ~107 bytes; fall back to TCP only when the folder is too deep.
  sockdir="$dir/run"
  if ((${#sockdir} + 20 > 100)); then sockdir=''; fi
  addr=$(listen_addr "$host")
  if ! (cd "$dir" && as_user "$owner" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -t 30 -w \
    -o "-p $port -k '$sockdir' -c listen_addresses='$addr' -c fsync=off" start) >/dev/null; then
    tail -n 20 "$dir/postgres.log" >&2 || true
    die "PostgreSQL did not start (log: $dir/postgres.log)"
  fi
  wait_reachable "$host" "$port" || die "PostgreSQL started but $host:$port is not reachable (log: $dir/postgres.log)"
  log "started PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') on $addr:$port, superuser $superuser, trust auth (data: ${dir#"$ROOT"/})"
}

start_redis() {
  local host=$1 port=$2
  local dir="$LOCAL/redis/$port" addr
  if ! command -v redis-server >/dev/null 2>&1; then
    install_or_explain redis-server
    reachable "$host" "$port" && { log "Redis at $host:$port is reachable now (started by its package)"; return 0; }
    command -v redis-server >/dev/null 2>&1 || die "redis-server was installed but is still not on PATH"
  fi
  mkdir -p "$dir"
  addr=$(listen_addr "$host")
  redis-server --daemonize yes --bind "$addr" --port "$port" --save "" --appendonly no \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  wait_reachable "$host" "$port" || {
    tail -n 20 "$dir/redis.log" >&2 || true
    die "Redis did not become reachable on $host:$port (log: $dir/redis.log)"
  }
  log "started Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on $addr:$port (folder: ${dir#"$ROOT"/})"
}

# targets: lines "kind host port user name"
targets() {
  local seen=' ' name url
  for name in MIGRATIONS_DATABASE_URL TEST_DATABASE_URL REDIS_URL; do
    case $name in
      MIGRATIONS_DATABASE_URL) url=${MIGRATIONS_DATABASE_URL:-$DEFAULT_MIGRATIONS_DATABASE_URL} ;;
      TEST_DATABASE_URL)
        [[ -n ${TEST_DATABASE_URL:-} ]] || continue
        url=$TEST_DATABASE_URL
        ;;
      REDIS_URL) url=${REDIS_URL:-$DEFAULT_REDIS_URL} ;;
    esac
    if [[ $name == REDIS_URL ]]; then
      parse_url "$url" 6379 ''
      kind=redis
    else
      parse_url "$url" 5432 postgres
      kind=postgres
    fi
    [[ $seen == *" $kind:$URL_HOST:$URL_PORT "* ]] && continue
    seen+="$kind:$URL_HOST:$URL_PORT "
    printf '%s %s %s %s %s\n' "$kind" "$URL_HOST" "$URL_PORT" "${URL_USER:--}" "$name"
  done
}

label() { if [[ $1 == postgres ]]; then echo PostgreSQL; else echo Redis; fi; }

cmd_ensure() {
  local kind host port user name list
  list=$(targets)
  while read -r kind host port user name; do
    if reachable "$host" "$port"; then
      log "$(label "$kind") at $host:$port is reachable ($name)"
      continue
    fi
    is_local "$host" || die "$(label "$kind") at $host:$port ($name) is not reachable, and it is not on this machine: start it there or change $name"
    if [[ $kind == redis && ${REDIS_URL:-} == *+*://* ]]; then
      die "the Redis Cluster or Sentinel of REDIS_URL is not reachable at $host:$port: this script starts only a single Redis"
    fi
    if [[ $kind == postgres ]]; then
      start_postgres "$host" "$port" "$user"
    else
      start_redis "$host" "$port"
    fi
  done <<<"$list"
  # The Redis Cluster and Sentinel tests start redis-server themselves, even where Redis already runs.
  if ! command -v redis-server >/dev/null 2>&1; then
    if [[ -f /etc/debian_version && $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
      install_or_explain redis-server
    else
      log "redis-server is not on PATH: the Redis Cluster and Sentinel tests will be skipped"
    fi
  fi
}

cmd_status() {
  local kind host port user name list down=0 d
  list=$(targets)
  while read -r kind host port user name; do
    if reachable "$host" "$port"; then
      log "$(label "$kind") at $host:$port ($name): reachable"
    else
      log "$(label "$kind") at $host:$port ($name): NOT reachable"
      down=1
    fi
  done <<<"$list"
  for d in "$LOCAL"/postgres/*/ "$LOCAL"/redis/*/; do
    [[ -d $d ]] || continue
    if [[ -s $d/data/postmaster.pid || -s $d/redis.pid ]]; then
      log "managed here: ${d#"$ROOT"/} (running)"
    else
      log "managed here: ${d#"$ROOT"/} (stopped)"
    fi
  done
  return "$down"
}

pid_is_redis() {
  local pid=$1 comm
  kill -0 "$pid" 2>/dev/null || return 1
  comm=$(ps -p "$pid" -o comm= 2>/dev/null || cat "/proc/$pid/comm" 2>/dev/null || true)
  [[ $comm == redis-server* || $comm == redis-check* ]]
}

cmd_stop() {
  local d bindir owner pid i stopped=0
  for d in "$LOCAL"/postgres/*/; do
    d=${d%/}
    [[ -s $d/data/postmaster.pid ]] || continue
    bindir=$(cat "$d/bindir" 2>/dev/null || pg_bindir) || die "cannot find pg_ctl to stop $d"
    owner=''
    if [[ $EUID -eq 0 ]]; then owner=$(stat -c %U "$d/data"); fi
    (cd "$d" && as_user "$owner" "$bindir/pg_ctl" -D "$d/data" status) >/dev/null 2>&1 || continue
    if (cd "$d" && as_user "$owner" "$bindir/pg_ctl" -D "$d/data" -m fast -w stop) >/dev/null 2>&1; then
      log "stopped PostgreSQL on port ${d##*/}"
      stopped=1
    elif [[ -s $d/data/postmaster.pid ]]; then
      die "pg_ctl could not stop the cluster in $d"
    fi
  done
  for d in "$LOCAL"/redis/*/; do
    d=${d%/}
    [[ -s $d/redis.pid ]] || continue
    pid=$(cat "$d/redis.pid")
    if [[ $pid =~ ^[0-9]+$ ]] && pid_is_redis "$pid"; then
      kill "$pid"
      for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
      kill -0 "$pid" 2>/dev/null && die "Redis (pid $pid) did not exit"
      log "stopped Redis on port ${d##*/}"
      stopped=1
    fi
    rm -f "$d/redis.pid"
  done
  ((stopped)) || log "nothing started by this script is running"
}

case ${1:-} in
  ensure) cmd_ensure ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  *)
    echo "usage: $0 ensure|status|stop" >&2
    exit 2
    ;;
esac
