# The scheduler as a container: docs/deploy.md. No daemon builds it in this repository's CI;
# tests/test_deploy.py lints it with hadolint.
#   docker build -t social-care-auditor .
#   docker run -d --name auditor -v "$PWD/config:/config:ro" -v auditor-data:/data \
#     --env-file secrets.env --stop-timeout 300 social-care-auditor
FROM python:3.11-slim

# Logs reach `docker logs` as they are written; no bytecode or pip cache in the layers.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed numeric id, so that Kubernetes' runAsNonRoot can check it and volumes can be
# chowned to it; /data belongs to it before it becomes a volume (a new volume inherits that).
RUN groupadd --system --gid 10001 auditor \
    && useradd --system --uid 10001 --gid auditor --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin auditor \
    && mkdir /config /data \
    && chown auditor:auditor /data

WORKDIR /src
COPY pyproject.toml README.md ./
COPY auditor ./auditor
COPY config ./config
# With the scale extra: the same image runs the scheduler, `auditor worker` (Celery) and a
# PostgreSQL history store (docs/scale.md).
RUN pip install --no-cache-dir "/src[scale]"

USER 10001:10001
WORKDIR /data
# /config: audit.yaml (read-only is enough); /data: output, history store, bundles, heartbeat.
VOLUME ["/config", "/data"]

# The scheduler's heartbeat: exit 1 when it is missing, stale or stopped.
HEALTHCHECK --interval=60s --timeout=30s --start-period=60s --retries=3 \
    CMD ["auditor", "status", "/config/audit.yaml", "--health"]

# The scheduler stops cleanly on SIGTERM (exit 0); give it time: docker stop -t 300.
STOPSIGNAL SIGTERM
ENTRYPOINT ["auditor", "schedule"]
CMD ["/config/audit.yaml"]
