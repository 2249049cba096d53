#!/bin/bash
# rh-mysql-entrypoint: boot of a mysql host (MariaDB 10.11), then `exec mariadbd` as PID 1.
#
# Every boot (/run is tmpfs, so it starts empty):
#   - /run/mysqld is created (owner mysql), or mariadbd cannot bind its unix socket;
#   - mariadbd runs with --open-files-limit=16384 --table-open-cache-instances=1 (the boot
#     limit is 1024/16384; without both, mariadbd silently shrinks its table cache).
# First boot (datadir without the marker file rh-initialized):
#   - mariadb-install-db, then a temporary --skip-networking server on a private socket;
#   - primary (RH_MYSQL_PRIMARY empty): users root@localhost, root@'%', repl@'%', app@'%' and the
#     database rh, all written to the binlog (GTIDs 0-<server_id>-1..n) so replicas get them;
#   - replica (RH_MYSQL_PRIMARY=host): creates NOTHING itself (its users and `rh` arrive through
#     replication, so it has no GTID of its own), only CHANGE MASTER ... MASTER_USE_GTID=slave_pos;
#     the real server then starts the slave threads by itself (master.info exists).
#   - the role file /var/lib/mysql/rh-role.cnf is written (read_only = 0 / 1).
# Later boots ignore RH_MYSQL_PRIMARY: replication settings live in the datadir (master.info,
# mysql.gtid_slave_pos) and the role in rh-role.cnf, so a failover done later survives reboots.
#
# Environment: RH_MYSQL_SERVER_ID (required), RH_MYSQL_PRIMARY (first boot only),
# MYSQL_ROOT_PASSWORD, MYSQL_REPL_PASSWORD, MYSQL_APP_PASSWORD (secrets env file).
set -euo pipefail

DATADIR=/var/lib/mysql
ROLE_FILE=$DATADIR/rh-role.cnf
MARKER=$DATADIR/rh-initialized
INIT_FLAG=$DATADIR/rh-init-in-progress
INIT_SOCKET=/run/mysqld/init.sock

log() { echo "rh-mysql-entrypoint: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# A value as an SQL string literal (default sql_mode: backslash escapes are on).
sql_str() {
    local s=${1//\\/\\\\}
    s=${s//\'/\\\'}
    printf "'%s'" "$s"
}

server_id=${RH_MYSQL_SERVER_ID:-}
[[ $server_id =~ ^[1-9][0-9]*$ ]] || die "RH_MYSQL_SERVER_ID must be a positive integer (got '${server_id}')"
primary=${RH_MYSQL_PRIMARY:-}

# Options of every mariadbd this script starts (the temporary one and the real one).
server_args=(
    --user=mysql
    --datadir="$DATADIR"
    --open-files-limit=16384
    --table-open-cache-instances=1
    --server-id="$server_id"
    --log-bin=mysql-bin
)

# /run is an empty tmpfs owned by root at every boot.
install -d -o mysql -g mysql -m 755 /run/mysqld
chown mysql:mysql "$DATADIR"

write_role() {  # write_role 0|1 : the role file, atomically, readable by mariadbd
    local tmp="$DATADIR/.rh-role.cnf.tmp"
    printf '# Role of this host, read at every boot (rh-mysql-entrypoint).\n# Change it with rh-mysql-role primary|replica (a failover must).\n[mariadbd]\nread_only = %s\n' "$1" >"$tmp"
    chmod 644 "$tmp"
    chown mysql:mysql "$tmp"
    mv -f "$tmp" "$ROLE_FILE"
}

first_boot() {
    local entries
    entries=$(find "$DATADIR" -mindepth 1 -maxdepth 1 ! -name lost+found | head -n 1)
    if [[ -n $entries ]]; then
        if [[ -e $INIT_FLAG ]]; then
            log "previous first boot was interrupted: wiping $DATADIR and starting over"
            find "$DATADIR" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {} +
        else
            die "$DATADIR is not empty but has no $(basename "$MARKER"): refusing to initialise over it"
        fi
    fi
    for v in MYSQL_ROOT_PASSWORD MYSQL_REPL_PASSWORD MYSQL_APP_PASSWORD; do
        [[ -n ${!v:-} ]] || die "$v is empty (secrets env file)"
    done
    : >"$INIT_FLAG"

    log "first boot: initialising $DATADIR (server_id=$server_id, primary='${primary}')"
    mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db \
        --auth-root-authentication-method=socket >/tmp/rh-mysql-install-db.log 2>&1 \
        || { cat /tmp/rh-mysql-install-db.log >&2; die "mariadb-install-db failed"; }

    # Temporary server: no TCP (nobody, not even the healthcheck or a replica, sees it), its own
    # socket, no slave threads.
    mariadbd "${server_args[@]}" --skip-networking --socket="$INIT_SOCKET" \
        --pid-file=/run/mysqld/init.pid --skip-slave-start &
    local pid=$!
    trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 143' TERM INT
    local i
    for ((i = 0; i < 120; i++)); do
        mariadb-admin --no-defaults --socket="$INIT_SOCKET" --user=root ping >/dev/null 2>&1 && break
        kill -0 $pid 2>/dev/null || die "temporary mariadbd exited during first boot"
        sleep 0.25
    done
    ((i < 120)) || die "temporary mariadbd did not answer within 30 s"

    # install-db's proxy grant for mysql@<hostname> differs per host and is ignored (with a
    # warning at every boot) under skip-name-resolve: drop it, locally (sql_log_bin = 0: on a
    # replica any binlogged statement would be a GTID of its own, an errant transaction).
    local sql="
SET SESSION sql_log_bin = 0;
DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';
FLUSH PRIVILEGES;
SET SESSION sql_log_bin = 1;
"
    if [[ -z $primary ]]; then
        # Binlogged on purpose: a replica starting from an empty GTID position replays these.
        local root_pw repl_pw app_pw
        root_pw=$(sql_str "$MYSQL_ROOT_PASSWORD")
        repl_pw=$(sql_str "$MYSQL_REPL_PASSWORD")
        app_pw=$(sql_str "$MYSQL_APP_PASSWORD")
        sql+="
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD($root_pw);
CREATE USER 'root'@'%' IDENTIFIED BY $root_pw;
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
CREATE USER 'repl'@'%' IDENTIFIED BY $repl_pw;
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
CREATE DATABASE rh;
CREATE USER 'app'@'%' IDENTIFIED BY $app_pw;
GRANT ALL PRIVILEGES ON rh.* TO 'app'@'%';
"
    else
        # Nothing local: users and the database come from the primary's binlog.
        sql+="
CHANGE MASTER TO MASTER_HOST=$(sql_str "$primary"), MASTER_PORT=3306, MASTER_USER='repl',
  MASTER_PASSWORD=$(sql_str "$MYSQL_REPL_PASSWORD"), MASTER_USE_GTID=slave_pos,
  MASTER_CONNECT_RETRY=2;
"
    fi
    # Through stdin: no password in any process's argv. On error, neither the statement nor the
    # quoted string of ERROR 1470 (the start of a too-long password) reaches the log.
    local err
    if ! err=$(mariadb --no-defaults --socket="$INIT_SOCKET" --user=root --batch \
            --skip-print-query-on-error <<<"$sql" 2>&1 >/dev/null); then
        sed -E "s/String '[^']*'/String '<redacted>'/" <<<"$err" >&2
        kill -TERM $pid 2>/dev/null || true
        wait $pid || true
        die "first-boot SQL failed (see the error above); the next boot starts over"
    fi

    mariadb-admin --no-defaults --socket="$INIT_SOCKET" --user=root shutdown
    wait $pid || true
    trap - TERM INT

    if [[ -z $primary ]]; then write_role 0; else write_role 1; fi
    : >"$MARKER"
    rm -f "$INIT_FLAG"
    log "first boot: done"
}

[[ -e $MARKER ]] || first_boot

if [[ ! -s $ROLE_FILE ]]; then
    # Lost role file: a configured master means this host was a replica.
    if [[ -e $DATADIR/master.info ]]; then write_role 1; else write_role 0; fi
    log "WARNING: $ROLE_FILE was missing; recreated from the replication settings"
fi
if grep -Eq '^[[:space:]]*read_only[[:space:]]*=[[:space:]]*(0|OFF)' "$ROLE_FILE"; then
    [[ -e $DATADIR/master.info ]] && log "WARNING: role file says primary (read_only = 0) but a master is configured (master.info)"
    log "booting as primary (read_only = 0, $ROLE_FILE)"
else
    [[ -e $DATADIR/master.info ]] || log "WARNING: role file says replica but no master is configured"
    log "booting as replica ($ROLE_FILE)"
fi

# --defaults-extra-file must come first. mariadbd drops to the mysql user itself.
exec mariadbd --defaults-extra-file="$ROLE_FILE" "${server_args[@]}"
