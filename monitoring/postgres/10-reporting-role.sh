#!/bin/sh
# Run once by the postgres image at the database's first start: the read-only role Grafana uses.
# Migration 0004 grants it SELECT on the reporting views, and nothing else.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$EISO_REPORTING_PASSWORD" <<'SQL'
CREATE ROLE eiso_reporting LOGIN PASSWORD :'password';
SQL
