#!/usr/bin/env bash
# The one entrypoint of every Modelhouse image.  The first argument names the
# process (see docs/operations.md); anything else runs as given, e.g.
# `docker compose run --rm web python manage.py create_tenant ...`.
# Each branch ends in `exec`, so the server is PID 1 and receives SIGTERM.
set -o errexit -o nounset -o pipefail

log_level="${LOG_LEVEL:-INFO}"

# A Celery node name: the first queue it consumes, at this container's host name.
node_name() {
    echo "${WORKER_QUEUES%%,*}@${HOSTNAME}"
}

case "${1:-web}" in
    web)
        exec gunicorn saas.wsgi:application \
            --bind "0.0.0.0:${PORT:-8000}" \
            --workers "${WEB_CONCURRENCY:-2}" \
            --threads "${WEB_THREADS:-16}" \
            --worker-tmp-dir /dev/shm \
            --graceful-timeout 30 \
            --access-logfile -
        ;;
    migrate)
        # Only the owner role may change the schema; the post-migrate hook then
        # re-applies row-level security and the app role's grants.  Then the
        # base models committed under base_models/ are registered (idempotent).
        python manage.py migrate --database owner --noinput
        exec python manage.py ensure_base_model
        ;;
    gpu-worker)
        # One process per GPU, consuming one queue (DESIGN.md §1, docs/operations.md):
        # inference: solo pool (TensorFlow is not fork-safe); requests come through
        #   the inference lane, claimed by the runtime's own thread;
        # training: one prefork child at a time, so time limits apply and a
        #   crashed or out-of-memory child is replaced and its job redelivered.
        case "${WORKER_QUEUES:-}" in
            inference) pool=(--pool solo) ;;
            training) pool=(--pool prefork --concurrency 1) ;;
            *)
                echo "gpu-worker: set WORKER_QUEUES to inference or training" >&2
                exit 64
                ;;
        esac
        exec celery -A saas worker \
            -Q "${WORKER_QUEUES}" \
            -n "$(node_name)" \
            "${pool[@]}" \
            --loglevel "${log_level}"
        ;;
    worker)
        # CPU workers, prefork (so time limits work), as saas/workers.py runs them:
        # WORKER_QUEUES=default (billing, webhooks, e-mail, schedules) or
        # WORKER_QUEUES=datasets (dataset validation, kept apart from billing).
        export WORKER_QUEUES="${WORKER_QUEUES:-default}"
        exec celery -A saas worker \
            -Q "${WORKER_QUEUES}" \
            -n "$(node_name)" \
            --pool prefork \
            --concurrency "${WORKER_CONCURRENCY:-2}" \
            --loglevel "${log_level}"
        ;;
    beat)
        # The schedule file only remembers last run times; losing it is harmless.
        exec celery -A saas beat \
            --schedule /tmp/celerybeat-schedule \
            --loglevel "${log_level}"
        ;;
    worker-health)
        # Healthy when this container's worker answers a broadcast ping.
        export WORKER_QUEUES="${WORKER_QUEUES:-default}"
        exec celery -A saas inspect ping --destination "$(node_name)" --timeout 10
        ;;
    web-health)
        exec python "$(dirname "$0")/healthcheck.py" "http://127.0.0.1:${PORT:-8000}/healthz"
        ;;
    *)
        exec "$@"
        ;;
esac
