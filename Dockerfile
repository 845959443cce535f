# The eiso image used by docker-compose.yml for `eiso db upgrade`, `eiso worker`, `eiso watch` and `eiso serve`.
# It installs the wheel, as any deployment should: the bundled procedures and the default configuration are
# package data, so no path variable is needed (EISO_CALENDAR_OVERRIDES, EISO_PROCEDURES_DIR and
# EISO_KAFKA_PORTAL_STEPS still name files of your own, e.g. mounted under /etc/eiso).
FROM python:3.11-slim AS wheel

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --no-deps --wheel-dir /dist .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY --from=wheel /dist/ /tmp/dist/
RUN pip install /tmp/dist/*.whl && rm -rf /tmp/dist \
    && useradd --system --uid 10001 --create-home --home-dir /var/lib/eiso eiso
# The working directory holds nothing eiso needs; it is only where the default SQLite file would go.
WORKDIR /var/lib/eiso
USER eiso

ENTRYPOINT ["eiso"]
CMD ["--help"]
