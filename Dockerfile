# syntax=docker/dockerfile:1
#
# The sidecar image. OPA is NOT in it: OPA runs as its own container from the official image
# openpolicyagent/opa:1.22.3-static (same pod in deploy/kubernetes, same network namespace in
# deploy/compose.yaml). Build:  docker build -t wams-sidecar:0.1.0 .
#
# Stage 1 installs the runtime dependencies from requirements.lock (every package at the version
# and hashes it names: pip refuses anything else), then builds the wheel and adds it without
# resolving again; stage 2 copies only that venv onto a fresh slim Python and runs as a
# non-root user. `make lock` regenerates requirements.lock from pyproject.toml.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# The lock first (its layer stays cached while only the code changes), then only what the wheel
# is built from (see [tool.setuptools] in pyproject.toml): no tests, keys or local state can end
# up in the image.
COPY requirements.lock ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml ./
COPY sidecar/ ./sidecar/
RUN python -m pip wheel --no-deps --wheel-dir /dist . \
 && /opt/venv/bin/pip install --no-deps /dist/*.whl \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/sidecar --help >/dev/null

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="wams-sidecar" \
      org.opencontainers.image.description="Policy-enforcement sidecar (OPA) for ZGW APIs under the Wams" \
      org.opencontainers.image.licenses="EUPL-1.2"
# A fixed uid/gid (10001) so that volume ownership and the Kubernetes securityContext agree.
RUN groupadd --system --gid 10001 sidecar \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin sidecar \
 && mkdir -p /etc/sidecar /var/lib/wams-sidecar/records /var/lib/wams-sidecar/labels /var/lib/wams-sidecar/policy /run/wams-sidecar/metrics \
 && chown -R 10001:10001 /var/lib/wams-sidecar /run/wams-sidecar
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /var/lib/wams-sidecar
USER 10001:10001
# proxy, admin (/metrics, /-/healthz, /-/readyz)
EXPOSE 8080 9180
VOLUME ["/var/lib/wams-sidecar/records"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9180/-/healthz', timeout=2)"]
ENTRYPOINT ["sidecar"]
CMD ["serve", "--config", "/etc/sidecar/config.yaml"]
