# The eiso image used by docker-compose.yml for `eiso db upgrade`, `eiso worker` and `eiso watch`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The repository, less what .dockerignore leaves out. bpmn/ and config/ stay under /app,
# the working directory of every eiso command.
WORKDIR /app
COPY . .
RUN pip install . && rm -rf build ./*.egg-info \
    && useradd --system --uid 10001 --home-dir /app eiso
USER eiso

ENTRYPOINT ["eiso"]
CMD ["--help"]
