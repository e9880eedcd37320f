# The scoring service and triage pages, ready for PostgreSQL and Redis (docs/deploy.md).
#   docker build -t signals .
#   docker run -p 8000:8000 -e SIGNALS_DATABASE_URL=postgresql://... -e SIGNALS_LIMITS_URL=redis://... signals
# The image serves the shipped model (models/default, copied in); mount another folder and set
# SIGNALS_MODEL (and SIGNALS_MODEL_ROOTS for /admin/reload) to serve others. No torch, no training code paths.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first (a layer that changes only with the lock file), then the code.
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
COPY serve ./serve
RUN pip install -c requirements.lock '.[serve]' \
    && useradd --system --uid 10001 --home-dir /app signals \
    && mkdir -p /app/var && chown signals /app/var
COPY models/default ./models/default

USER signals
ENV SIGNALS_HOST=0.0.0.0 \
    SIGNALS_PORT=8000 \
    SIGNALS_MODEL=/app/models/default \
    SIGNALS_MODEL_ROOTS=/app/models \
    SIGNALS_DATABASE_URL=sqlite:////app/var/signals.db \
    SIGNALS_TRIAGE_LABELS_DIR=/app/var/labels
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"
CMD ["signals", "serve"]
