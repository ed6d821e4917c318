#!/usr/bin/env bash
# Starts the Debian PostgreSQL cluster on loopback (installing it if needed)
# and makes a test role and database for the ledger's Postgres store. Prints
# the libpq connection string on stdout; everything else goes to stderr.
# Idempotent: safe to run when it is already up.
set -euo pipefail
version="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)"
if [ -z "$version" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
  version="$(ls /usr/lib/postgresql | sort -n | tail -1)"
fi
if ! pg_lsclusters -h | grep -q "^$version main"; then
  pg_createcluster "$version" main >&2
fi
pg_ctlcluster "$version" main start >&2 2>/dev/null || true   # "already running" is fine
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 && break
  sleep 0.2
done
pg_isready -q -h 127.0.0.1 || { echo "postgres did not start" >&2; exit 1; }
psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -tAq -c \"$1\"" >&2; }
if [ -z "$(su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='arbitra_test'\"")" ]; then
  psql_admin "CREATE ROLE arbitra_test LOGIN PASSWORD 'arbitra-test'"
fi
if [ -z "$(su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='arbitra_test'\"")" ]; then
  psql_admin "CREATE DATABASE arbitra_test OWNER arbitra_test"
fi
echo "host=127.0.0.1 port=5432 user=arbitra_test password=arbitra-test dbname=arbitra_test"
