#!/bin/sh
# Entrypoint of the all-in-one platform image. First argument: the mode.
#   postgres  PostgreSQL 15 on $HAI_PG_LISTEN:$HAI_PG_PORT, data in /var/lib/postgresql/data
#             (initdb'd on first start with $POSTGRES_USER/$POSTGRES_PASSWORD and database
#             "hai"); TERM/INT: pg_ctl stop -m fast, exit 0.
#   redis     redis-server on $HAI_REDIS_LISTEN:$HAI_REDIS_PORT, requirepass $REDIS_PASSWORD,
#             data in /var/lib/redis.
#   server    wait for the database, apply $HAI_INIT_SQL (hai-server --init-sql) when set,
#             then exec hai-server with the remaining arguments.
#   anything else is executed as given.
set -eu

PG_BIN=/usr/lib/postgresql/15/bin
PGDATA=/var/lib/postgresql/data
PG_RUN=/var/run/postgresql

log() { echo "hai-entrypoint: $*" >&2; }

as_user() {  # run a command as a system user (initdb and postgres refuse root)
    user=$1
    shift
    setpriv --reuid="$user" --regid="$user" --init-groups --reset-env -- "$@"
}

run_postgres() {
    : "${POSTGRES_USER:?POSTGRES_USER is required}"
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
    port=${HAI_PG_PORT:-5432}
    listen=${HAI_PG_LISTEN:-*}
    mkdir -p "$PGDATA" "$PG_RUN"
    chown postgres:postgres "$PGDATA" "$PG_RUN"
    chmod 700 "$PGDATA"
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        log "initialising PostgreSQL in $PGDATA"
        pwfile=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
        chown postgres "$pwfile"
        as_user postgres "$PG_BIN/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
            -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
        rm -f "$pwfile"
        {
            echo "# hai-up: password logins from anywhere the listen address admits"
            echo "host all all 0.0.0.0/0 scram-sha-256"
            echo "host all all ::/0 scram-sha-256"
        } >>"$PGDATA/pg_hba.conf"
        as_user postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -w -s \
            -o "-c listen_addresses='' -p $port -k $PG_RUN" start
        as_user postgres "$PG_BIN/createdb" -h "$PG_RUN" -p "$port" -U "$POSTGRES_USER" hai
        as_user postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -w -s -m fast stop
        log "PostgreSQL initialised (user $POSTGRES_USER, database hai)"
    fi
    as_user postgres "$PG_BIN/postgres" -D "$PGDATA" -p "$port" -k "$PG_RUN" \
        -c "listen_addresses=$listen" &
    pg_pid=$!
    stop_pg() {
        log "stopping PostgreSQL (fast shutdown)"
        as_user postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -w -s -m fast stop || true
        wait "$pg_pid" || true
        exit 0
    }
    trap stop_pg TERM INT
    set +e
    wait "$pg_pid"
    code=$?
    # a trapped signal interrupts wait: the trap has run and exited; here PostgreSQL died alone
    exit "$code"
}

run_redis() {
    port=${HAI_REDIS_PORT:-6379}
    listen=${HAI_REDIS_LISTEN:-127.0.0.1}
    mkdir -p /var/lib/redis
    chown redis:redis /var/lib/redis
    set -- --port "$port" --dir /var/lib/redis --appendonly yes --daemonize no --logfile ""
    # shellcheck disable=SC2086 # several listen addresses are several arguments
    set -- "$@" --bind $listen
    if [ -n "${REDIS_PASSWORD:-}" ]; then
        set -- "$@" --requirepass "$REDIS_PASSWORD"
    else
        set -- "$@" --protected-mode no
    fi
    exec setpriv --reuid=redis --regid=redis --init-groups -- /usr/bin/redis-server "$@"
}

run_server() {
    python3 - <<'PY'
import sys, time
from hai_server.settings import Settings

url = Settings().resolved_database_url
if not url.startswith("postgresql"):
    sys.exit(0)
import psycopg

plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
deadline = time.monotonic() + 180
while True:
    try:
        psycopg.connect(plain, connect_timeout=3).close()
        break
    except psycopg.OperationalError as exc:
        if time.monotonic() > deadline:
            print(f"hai-entrypoint: database not reachable after 180 s: {exc}", file=sys.stderr)
            sys.exit(1)
        time.sleep(1)
PY
    if [ -n "${HAI_INIT_SQL:-}" ]; then
        if [ -f "$HAI_INIT_SQL" ]; then
            log "applying $HAI_INIT_SQL"
            hai-server --init-sql "$HAI_INIT_SQL"
        else
            log "HAI_INIT_SQL=$HAI_INIT_SQL does not exist; not applied"
        fi
    fi
    exec hai-server "$@"
}

mode=${1:-server}
[ $# -gt 0 ] && shift
case "$mode" in
postgres) run_postgres ;;
redis) run_redis ;;
server) run_server "$@" ;;
*) exec "$mode" "$@" ;;
esac
