#!/bin/sh
# One-shot (temporalio/admin-tools): Temporal's two PostgreSQL databases, created once and
# brought to the schema of this server version. Safe to run on every start: an existing
# database only gets the schema versions it lacks.
set -eu
SQL="temporal-sql-tool --plugin postgres12 --ep ${DB_HOST} -p ${DB_PORT:-5432} -u ${SQL_USER}"
SCHEMA=/etc/temporal/schema/postgresql/v12

prepare() {  # database, schema directory
  db=$1
  versioned=$SCHEMA/$2/versioned
  if $SQL --db "$db" create >/dev/null 2>&1; then
    echo "created database $db"
  else
    echo "database $db exists"
  fi
  # update-schema fails only where there is no schema yet: set it up, then update.
  if ! $SQL --db "$db" update-schema -d "$versioned"; then
    $SQL --db "$db" setup-schema -v 0.0
    $SQL --db "$db" update-schema -d "$versioned"
  fi
}

prepare temporal temporal
prepare temporal_visibility visibility
echo "Temporal schema ready"
