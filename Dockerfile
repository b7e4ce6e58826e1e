# syntax=docker/dockerfile:1
# One image for `alpr init`, `alpr edge`, the plates flow and `alpr api` (CPU; no torch).
#   docker build -t alpr --build-arg REVISION=$(git rev-parse --short HEAD) .
# deploy/docker-compose.yml builds it. Layers: system libraries, then the Python dependencies
# (resolved from pyproject.toml alone, so a code change reuses them), then the code.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1

# libgomp1: ONNX Runtime's OpenMP; libglib2.0-0: OpenCV (headless) and PyAV.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 libgomp1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=ghcr.io/astral-sh/uv:0.5.11 /uv /usr/local/bin/uv

WORKDIR /app
# Dependencies only: one OpenCV (headless; overrides.txt drops the GUI build that `trackers`
# asks for) and one ONNX Runtime (the cpu extra; never cuda/gpu beside it).
COPY pyproject.toml deploy/overrides.txt ./
RUN uv pip compile pyproject.toml --extra edge --extra ocr --extra cpu --extra api --override overrides.txt \
        --python-version 3.11 -o /tmp/requirements.txt \
    && uv pip install --system -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The code, installed without resolving anything again.
COPY . .
RUN uv pip install --system --no-deps -e . \
    && useradd --system --uid 10001 --home-dir /var/lib/alpr --no-create-home alpr \
    && mkdir -p /var/lib/alpr/spool /var/lib/alpr/recovery \
    && chown -R alpr:alpr /var/lib/alpr
USER alpr

ARG REVISION=unknown
ENV ALPR_BUILD_REVISION=${REVISION}
# edge/flow/api metrics, API
EXPOSE 18000 19101 19102 19103
# Each compose service sets its own healthcheck; alone, the image probes $ALPR_HEALTHCHECK_URL
# (default: the API's /ready).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["python", "-m", "alpr.probe"]
CMD ["alpr", "api", "serve", "--host", "0.0.0.0"]
