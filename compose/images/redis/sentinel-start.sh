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
# First boot of a host other than the initial master: start monitoring once that master answers
# (up to RH_REDIS_FIRST_BOOT_WAIT s), so that its slower boot is not taken for a failure.
INITIAL=${RH_REDIS_INITIAL_MASTER:-redis1}
if [ -e /run/redis/first-boot-sentinel ]; then
  rm -f /run/redis/first-boot-sentinel
  if [ "$(hostname)" != "$INITIAL" ]; then
    wait_s=${RH_REDIS_FIRST_BOOT_WAIT:-20} t0=$SECONDS answer=""
    while [ $((SECONDS - t0)) -lt "$wait_s" ]; do
      answer=$(REDISCLI_AUTH="$REDIS_PASSWORD" timeout 1 redis-cli -h "$INITIAL" -p 6379 PING 2>/dev/null)
      [ "$answer" = PONG ] && break
      sleep 0.2
    done
    said="answered ${answer:-nothing}"; [ "$answer" = PONG ] || said="$said (gave up)"
    rh_log "first boot: initial master $INITIAL $said after $((SECONDS - t0)) s; starting sentinel"
  fi
fi
exec /usr/bin/redis-sentinel /etc/redis/sentinel.conf
