#!/bin/sh
# PID 1 of a database host: provisions the node at its first boot, then runs "$@" as postgres.
#   DB_ROLE=primary  initdb, the replication and app roles, the shop database
#   DB_ROLE=standby  pg_basebackup from PRIMARY_HOST (-R: standby.signal and primary_conninfo)
# STANDBY_TAKEOVER=yes: a standby that finds no primary within 5 s of its boot becomes the
# primary (our first boot script did, "so that the shop stays up when db1 dies").
set -eu
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

# The socket and pid directory: /run is empty at every boot.
install -d -o postgres -g postgres -m 2775 /run/postgresql

install -d -o postgres -g postgres -m 0700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ "$DB_ROLE" = primary ]; then
    as_postgres initdb -D "$PGDATA" --auth-local=peer --auth-host=scram-sha-256 >/dev/null
    cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '*'
wal_level = replica
max_wal_senders = 5
wal_keep_size = 256MB
CONF
    cat >>"$PGDATA/pg_hba.conf" <<HBA
host replication replicator all scram-sha-256
host all all all scram-sha-256
HBA
    as_postgres pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
    as_postgres psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE ROLE replicator REPLICATION LOGIN PASSWORD '$REPLICATION_PASSWORD';
CREATE ROLE shop LOGIN PASSWORD '$APP_PASSWORD';
CREATE DATABASE shop OWNER shop;
SQL
    as_postgres pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
  else
    until pg_isready -q -h "$PRIMARY_HOST"; do sleep 1; done
    PGPASSWORD="$REPLICATION_PASSWORD" as_postgres pg_basebackup -h "$PRIMARY_HOST" \
      -U replicator -D "$PGDATA" -R -X stream -c fast
  fi
elif [ "$DB_ROLE" = standby ] && [ "${STANDBY_TAKEOVER:-no}" = yes ] \
    && [ -e "$PGDATA/standby.signal" ]; then
  tries=0
  until pg_isready -q -t 1 -h "$PRIMARY_HOST"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 5 ]; then
      echo "no primary at $PRIMARY_HOST: taking over" >&2
      rm -f "$PGDATA/standby.signal"
      break
    fi
    sleep 1
  done
fi

if [ "$1" = postgres ]; then
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
fi
exec "$@"
