#!/bin/bash
# rh-mysql-role: read or change the role of this mysql host (run inside the container, as root).
#
#   rh-mysql-role                 print the role this host boots with: primary | replica
#   rh-mysql-role primary         promote: STOP SLAVE; RESET SLAVE ALL; role file read_only = 0;
#                                 SET GLOBAL read_only = 0
#   rh-mysql-role replica         freeze: role file read_only = 1; SET GLOBAL read_only = 1
#                                 (replication settings untouched)
#   rh-mysql-role replica HOST    demote / repoint: freeze, then STOP SLAVE;
#                                 SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos;
#                                 CHANGE MASTER TO MASTER_HOST=HOST, MASTER_USER='repl',
#                                 MASTER_PASSWORD=$MYSQL_REPL_PASSWORD, MASTER_USE_GTID=slave_pos,
#                                 MASTER_CONNECT_RETRY=2; START SLAVE
#
# The role file /var/lib/mysql/rh-role.cnf (data volume) is what the entrypoint hands to mariadbd
# at every boot, so a role changed here survives reboots; the replication settings survive in the
# datadir by themselves (master.info, mysql.gtid_slave_pos). The replication password is taken
# from this container's environment (secrets env file) and never printed.
set -euo pipefail
ROLE_FILE=/var/lib/mysql/rh-role.cnf
SOCKET=/run/mysqld/mysqld.sock

sql_str() {
    local s=${1//\\/\\\\}
    s=${s//\'/\\\'}
    printf "'%s'" "$s"
}

# Run SQL from stdin as root@localhost (unix socket auth). Errors are printed without the
# statement and with quoted strings redacted (ERROR 1470 quotes the start of the password).
run_sql() {
    local err rc=0
    err=$(mariadb --no-defaults --socket="$SOCKET" --user=root --batch --skip-print-query-on-error 2>&1 >/dev/null) || rc=$?
    if ((rc != 0)); then
        sed -E "s/String '[^']*'/String '<redacted>'/" <<<"$err" >&2
        return $rc
    fi
}

write_role() {  # write_role 0|1
    local tmp=/var/lib/mysql/.rh-role.cnf.tmp
    printf '# Role of this host, read at every boot (rh-mysql-entrypoint).\n# Change it with rh-mysql-role primary|replica (a failover must).\n[mariadbd]\nread_only = %s\n' "$1" >"$tmp"
    chmod 644 "$tmp"
    chown mysql:mysql "$tmp"
    mv -f "$tmp" "$ROLE_FILE"
}

current() {
    if grep -Eq '^[[:space:]]*read_only[[:space:]]*=[[:space:]]*(0|OFF)' "$ROLE_FILE" 2>/dev/null; then
        echo primary
    elif [[ -s $ROLE_FILE ]]; then
        echo replica
    else
        echo "unknown (no $ROLE_FILE)" >&2
        return 1
    fi
}

case "${1:-}:${2:-}" in
    :) current ;;
    primary:)
        run_sql <<<"STOP SLAVE; RESET SLAVE ALL;"
        write_role 0
        run_sql <<<"SET GLOBAL read_only = 0;"
        echo primary
        ;;
    replica:)
        write_role 1
        run_sql <<<"SET GLOBAL read_only = 1;"
        echo replica
        ;;
    replica:?*)
        [[ -n ${MYSQL_REPL_PASSWORD:-} ]] || { echo "MYSQL_REPL_PASSWORD is empty" >&2; exit 1; }
        write_role 1
        run_sql <<<"SET GLOBAL read_only = 1;"
        run_sql <<EOF
STOP SLAVE;
SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos;
CHANGE MASTER TO MASTER_HOST=$(sql_str "$2"), MASTER_PORT=3306, MASTER_USER='repl',
  MASTER_PASSWORD=$(sql_str "$MYSQL_REPL_PASSWORD"), MASTER_USE_GTID=slave_pos,
  MASTER_CONNECT_RETRY=2;
START SLAVE;
EOF
        echo "replica of $2"
        ;;
    *) echo "usage: rh-mysql-role [primary | replica [PRIMARY_HOST]]" >&2; exit 2 ;;
esac
