#!/usr/bin/env bash
# Runs once, when the postgres container starts on an empty data directory
# (/docker-entrypoint-initdb.d).  Creates Modelhouse's three roles and its
# database; docs/operations.md gives the same SQL for a managed PostgreSQL.
#   modelhouse_owner        owns the database and schema; `migrate` runs as it.
#   modelhouse_app          what web and workers connect as: may log in, nothing
#                           else.  Not superuser, not BYPASSRLS, not an owner, so
#                           row-level security binds it to one tenant.
#   modelhouse_crosstenant  what cross-tenant jobs connect as (rollups, period
#                           close, the staff console): like the app role, but
#                           its own policies let it see every tenant.
# `migrate` grants the app and cross-tenant roles DML afterwards.
# Passwords come from the environment and reach SQL as psql variables, quoted
# by psql (:'name'), never spliced into the text.
set -o errexit -o nounset -o pipefail

psql --no-psqlrc --set=ON_ERROR_STOP=1 \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    --set=owner_password="${MODELHOUSE_OWNER_PASSWORD}" \
    --set=app_password="${MODELHOUSE_APP_PASSWORD}" \
    --set=cross_tenant_password="${MODELHOUSE_CROSS_TENANT_PASSWORD}" <<'SQL'
CREATE ROLE modelhouse_owner LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
    PASSWORD :'owner_password';
CREATE ROLE modelhouse_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
    PASSWORD :'app_password';
CREATE ROLE modelhouse_crosstenant LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
    PASSWORD :'cross_tenant_password';
CREATE DATABASE modelhouse OWNER modelhouse_owner;
REVOKE ALL ON DATABASE modelhouse FROM PUBLIC;
GRANT CONNECT ON DATABASE modelhouse TO modelhouse_app, modelhouse_crosstenant;
SQL
