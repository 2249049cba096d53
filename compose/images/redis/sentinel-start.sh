#!/bin/bash
# rh-sentinel-start: program `sentinel` of supervisord (user redis). Redis 7.0 Sentinel writes
# `sentinel auth-pass` unquoted when it rewrites its config, which it cannot parse back if the
# password holds a quote, backslash or space: set the line (quoted) before every start, also
# when supervisord restarts a crashed sentinel. Everything else Sentinel wrote is kept.
set -u
. /usr/local/lib/rh-redis/lib.sh
RH_LOG_TAG=rh-sentinel-start
NAME=${RH_REDIS_MASTER_NAME:-mymaster}
# (Sentinel turns its own unparseable line into a `# ??? sentinel auth-pass ...` comment at the
# next rewrite: drop those too, they hold the password.)
rh_conf_del /etc/redis/sentinel.conf "# ??? sentinel auth-pass" \
  && rh_conf_set /etc/redis/sentinel.conf "sentinel auth-pass $NAME" "$(rh_quote "$REDIS_PASSWORD")" \
  || rh_log "could not set auth-pass in /etc/redis/sentinel.conf"
exec /usr/bin/redis-sentinel /etc/redis/sentinel.conf
