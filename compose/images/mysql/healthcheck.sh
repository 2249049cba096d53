#!/bin/sh
# Docker HEALTHCHECK: root must log in over TCP (the path every client uses). The password comes
# from the container environment (secrets env file) and is handed over in MYSQL_PWD, never argv.
# `status`, not `ping`: ping reports success even when the login is refused.
MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-}" exec mariadb-admin --no-defaults --protocol=tcp \
  --host=127.0.0.1 --port=3306 --user=root --connect-timeout=2 status >/dev/null 2>&1
