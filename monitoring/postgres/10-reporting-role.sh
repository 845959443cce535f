#!/bin/sh
# Run once by the postgres image at the database's first start (docker-entrypoint-initdb.d): the role Grafana
# reads the reporting views as. Migration 0004 grants it SELECT on those views and nothing else; its sessions
# are read-only by default too. Idempotent: a second run changes the password only.
#   EISO_REPORTING_PASSWORD=... POSTGRES_USER=eiso POSTGRES_DB=eiso sh 10-reporting-role.sh   (PGHOST, PGPORT)
set -eu
: "${EISO_REPORTING_PASSWORD:?set EISO_REPORTING_PASSWORD}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$EISO_REPORTING_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE eiso_reporting LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eiso_reporting')
\gexec
ALTER ROLE eiso_reporting LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
ALTER ROLE eiso_reporting SET default_transaction_read_only = on;
ALTER ROLE eiso_reporting SET statement_timeout = '30s';
SQL
