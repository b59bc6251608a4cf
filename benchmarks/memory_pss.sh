#!/bin/bash
# Memory of the production setup: sum of PSS (/proc/PID/smaps_rollup) over the gunicorn master
# and workers and the Celery worker (with any children), after 600 requests and 40 tasks.
# Loopback only; needs PostgreSQL and Redis on 127.0.0.1 and `psql`/`redis-cli`.
#
#   benchmarks/memory_pss.sh                                   # the settings README recommends
#   benchmarks/memory_pss.sh "-k gthread --threads 16 -w 2" "" # other gunicorn / celery options
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GARGS=${1:---preload -k gthread --threads 16 -w 2}
CARGS=${2---pool threads --concurrency 4}
VENV=${VENV:-$ROOT/.venv}
PGDB=servicetorg_mem_$$
PREFIX=stmem$$.
PORT=${PORT:-18731}
WORK=$(mktemp -d)
export SERVICETORG_MODE=production
export SERVICETORG_SECRET_KEY=memory-measurement-secret-key-0123456789abcdef
export SERVICETORG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$PGDB
export SERVICETORG_BROKER_URL=redis://127.0.0.1:6379/0
export SERVICETORG_REDIS_URL=redis://127.0.0.1:6379/0
export SERVICETORG_CELERY_QUEUE_PREFIX=$PREFIX
export SERVICETORG_PUBLIC_BASE_URL=http://127.0.0.1:$PORT
export SERVICETORG_SESSION_COOKIE_SECURE=true
export SERVICETORG_INSTANCE_PATH=$WORK/instance
cd "$ROOT"
psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $PGDB"
"$VENV/bin/servicetorg" migrate >"$WORK/migrate.log" 2>&1
# shellcheck disable=SC2086
"$VENV/bin/gunicorn" $GARGS -b 127.0.0.1:$PORT inbox.wsgi:app >"$WORK/gunicorn.log" 2>&1 &
GPID=$!
# shellcheck disable=SC2086
"$VENV/bin/celery" -A workers.worker_app worker --loglevel INFO $CARGS \
  -Q "${PREFIX}inbound,${PREFIX}outbound,${PREFIX}archiving,${PREFIX}default" >"$WORK/celery.log" 2>&1 &
CPID=$!
sleep 15
for _ in $(seq 1 200); do echo /healthz; echo /login; echo /widget.js; done \
  | xargs -P 16 -I{} curl -s -o /dev/null -w "%{http_code}\n" "http://127.0.0.1:$PORT{}" | sort | uniq -c
"$VENV/bin/python" -c "
from inbox import create_app
celery = create_app().extensions['celery']
for _ in range(20):
    celery.send_task('servicetorg.housekeeping.sweep')
    celery.send_task('servicetorg.inbound.poll_all')
"
sleep 8
echo "tasks done: $(grep -c succeeded "$WORK/celery.log")"
total=0
for p in $GPID $(pgrep -P $GPID) $CPID $(pgrep -P $CPID); do
  kb=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup")
  echo "pid $p $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-70) PSS ${kb} kB"
  total=$((total + kb))
done
echo "total PSS $((total / 1024)) MiB (gunicorn $GARGS; celery $CARGS)"
kill -TERM $CPID $GPID
wait $CPID $GPID 2>/dev/null
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE $PGDB WITH (FORCE)"
redis-cli -h 127.0.0.1 --scan --pattern "${PREFIX}*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
rm -rf "$WORK"
