#!/bin/sh
# Run once by the postgres image at the database's first start (docker-entrypoint-initdb.d): the roles besides the
# owner (POSTGRES_USER, who runs the migrations).
# - eiso_reporting: the role Grafana reads the reporting views as. Migration 0004 grants it SELECT on those views
#   and nothing else; its sessions are read-only by default too.
# - eiso_app (when EISO_APP_PASSWORD is set): the role the services connect as. `eiso db upgrade`, run as the owner,
#   grants it SELECT, INSERT, UPDATE and DELETE on the tables but only SELECT and INSERT on audit_log.
# Idempotent: a second run changes the passwords only (run it by hand on a database made before a role existed).
#   EISO_REPORTING_PASSWORD=... EISO_APP_PASSWORD=... POSTGRES_USER=eiso POSTGRES_DB=eiso sh 10-reporting-role.sh
#   (PGHOST, PGPORT)
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
if [ -n "${EISO_APP_PASSWORD:-}" ]; then
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="$EISO_APP_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE eiso_app LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eiso_app')
\gexec
ALTER ROLE eiso_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'password';
SQL
fi
