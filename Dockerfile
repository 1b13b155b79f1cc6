# syntax=docker/dockerfile:1
# charbot image: `docker build -t charbot .`, then `docker run --env-file .env charbot`
# (runs `charbot run`; `docker run --env-file .env charbot migrate` upgrades the schema).
# No secret is baked in: every setting comes from the environment at run time.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a wheel of the project (its package data carries the alembic migrations) ---
FROM ${PYTHON_IMAGE} AS build
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# --- runtime: the wheel and its dependencies in a venv, run by an unprivileged user ---
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DATA_DIR=/data \
    METRICS_PORT=9100

RUN groupadd --system --gid 10001 charbot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin charbot

# The dependencies at the versions (and hashes) of requirements.lock, then the wheel alone.
RUN --mount=type=bind,source=requirements.lock,target=/tmp/requirements.lock \
    --mount=type=bind,from=build,source=/dist,target=/dist \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps /dist/*.whl

WORKDIR /app
# /data holds the local image store (and the embedded PostgreSQL when DATABASE_URL is unset).
RUN mkdir -p /data && chown 10001:10001 /data /app
VOLUME ["/data"]

USER 10001:10001

# /metrics and /healthz listen on METRICS_PORT (9100 unless the environment says otherwise).
EXPOSE 9100
# Unhealthy when /healthz is not 200: the gateway is down, the database does not answer, or the
# bot is not serving at all. (METRICS_PORT set empty turns the endpoint, and so the probe, off.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('METRICS_PORT', '').strip(); sys.exit(0) if not port else urllib.request.urlopen('http://127.0.0.1:%s/healthz' % port, timeout=4)"]

# SIGTERM (docker stop) lets in-flight generations finish: give it time (`--stop-timeout 90`).
STOPSIGNAL SIGTERM
ENTRYPOINT ["charbot"]
CMD ["run"]
