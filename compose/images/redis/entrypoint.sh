#!/bin/bash
# rh-redis-entrypoint (runs as root at every boot, then execs supervisord as PID 1).
#  - /run is an empty tmpfs at every boot: create /run/redis (owner redis).
#  - First boot (no file yet in the volume): write redis.conf / sentinel.conf for the initial
#    topology (RH_REDIS_INITIAL_MASTER is the master; Sentinel monitors it).
#  - Every boot: set the lines this image owns (password, announced hostname, timing) in place,
#    keeping what Sentinel / CONFIG REWRITE wrote (known-replica, known-sentinel, config-epoch,
#    myid, the monitored master). `replicaof` is decided later by rh-redis-start.
set -eu
. /usr/local/lib/rh-redis/lib.sh
RH_LOG_TAG=rh-redis-entrypoint

if [ -z "${REDIS_PASSWORD:-}" ]; then
  echo "rh-redis-entrypoint: REDIS_PASSWORD is not set (secrets env file)" >&2
  exit 1
fi

ME=$(hostname)
NAME=${RH_REDIS_MASTER_NAME:-mymaster}
INITIAL=${RH_REDIS_INITIAL_MASTER:-redis1}
CONF=/etc/redis/redis.conf
SCONF=/etc/redis/sentinel.conf

install -d -o redis -g redis -m 0755 /run/redis
install -d -o redis -g adm -m 2750 /var/log/redis
install -d -o root -g root -m 0755 /var/log/supervisor
chown redis:redis /etc/redis /var/lib/redis
chmod 0750 /etc/redis /var/lib/redis
touch "$RH_LOG" && chown redis:adm "$RH_LOG" && chmod 0640 "$RH_LOG"
rh_log "boot: preparing /etc/redis (volume content: $(ls -A /etc/redis | tr '\n' ' '))"

PW=$(rh_quote "$REDIS_PASSWORD")

if [ ! -s "$CONF" ]; then
  rh_log "first boot: writing $CONF"
  # For rh-redis-start (/run is empty at every boot): this host has never served, so it has no
  # writes a failover could lose.
  touch /run/redis/first-boot
  cat >"$CONF" <<CONF
# redis.conf for $ME, written by rh-redis-entrypoint at first boot. Lines set at every boot:
# bind, protected-mode, dir, pidfile, requirepass, masterauth, replica-announce-ip and
# replicaof (role decided by rh-redis-start). Sentinel's CONFIG REWRITE may edit this file.
bind 0.0.0.0
protected-mode no
port 6379
daemonize no
supervised no
logfile ""
dir /var/lib/redis
dbfilename dump.rdb
save 3600 1 300 100 60 10000
appendonly no
repl-diskless-sync-delay 0
shutdown-timeout 2
CONF
fi

if ! grep -qiE '^[[:space:]]*sentinel[[:space:]]+monitor[[:space:]]' "$SCONF" 2>/dev/null; then
  rh_log "first boot: writing $SCONF (monitor $NAME $INITIAL 6379 ${RH_REDIS_QUORUM:-2})"
  cat >"$SCONF" <<SCONF
# sentinel.conf for $ME, written by rh-redis-entrypoint at first boot; Sentinel rewrites it
# (myid, config-epoch, known-replica, known-sentinel, monitored master). Lines set at every
# boot: bind, protected-mode, resolve/announce-hostnames, announce-ip, auth-pass, timing.
port 26379
bind 0.0.0.0
protected-mode no
daemonize no
logfile ""
dir /var/lib/redis
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $ME
sentinel myid $(rh_sentinel_id "$ME")
sentinel monitor $NAME $INITIAL 6379 ${RH_REDIS_QUORUM:-2}
SCONF
  # For rh-sentinel-start: a sentinel that has never seen the initial master counts it down
  # from its own start; on a loaded machine that master may answer only after
  # down-after-milliseconds, and the sentinels would fail it over before it ever served.
  touch /run/redis/first-boot-sentinel
  # Seed the topology every sentinel would otherwise learn only after its 10 s INFO/hello
  # cycles: the replicas of the initial master and the other sentinels (their ids are derived
  # from their names, so every host writes the same ones). Sentinel keeps them up to date.
  for h in ${RH_REDIS_HOSTS:-redis1 redis2 redis3}; do
    [ "$h" = "$INITIAL" ] || echo "sentinel known-replica $NAME $h 6379" >>"$SCONF"
    [ "$h" = "$ME" ] || echo "sentinel known-sentinel $NAME $h 26379 $(rh_sentinel_id "$h")" >>"$SCONF"
  done
fi

# redis.conf: lines this image owns.
rh_conf_set "$CONF" bind "0.0.0.0"
rh_conf_set "$CONF" protected-mode no
rh_conf_set "$CONF" dir /var/lib/redis
rh_conf_set "$CONF" pidfile /run/redis/redis-server.pid
rh_conf_set "$CONF" requirepass "$PW"
rh_conf_set "$CONF" masterauth "$PW"
# CONFIG REWRITE (run by Sentinel) saves the default user as `user default on #<sha256> ...`; at
# load that line replaces requirepass, so a changed REDIS_PASSWORD would never take effect.
rh_conf_del "$CONF" "user default"
rh_conf_set "$CONF" replica-announce-ip "$ME"

# sentinel.conf: global lines go before the monitor line (parsed in order: resolve-hostnames
# must be known before a hostname is monitored), per-master lines anywhere after it.
MON="sentinel monitor $NAME "
rh_conf_set "$SCONF" bind "0.0.0.0" "$MON"
rh_conf_set "$SCONF" protected-mode no "$MON"
rh_conf_set "$SCONF" pidfile /run/redis/redis-sentinel.pid "$MON"
rh_conf_set "$SCONF" "sentinel resolve-hostnames" yes "$MON"
rh_conf_set "$SCONF" "sentinel announce-hostnames" yes "$MON"
rh_conf_set "$SCONF" "sentinel announce-ip" "$ME" "$MON"
rh_conf_del "$SCONF" "# ??? sentinel auth-pass"
rh_conf_set "$SCONF" "sentinel auth-pass $NAME" "$PW"
rh_conf_set "$SCONF" "sentinel down-after-milliseconds $NAME" "${RH_REDIS_DOWN_AFTER_MS:-3000}"
rh_conf_set "$SCONF" "sentinel failover-timeout $NAME" "${RH_REDIS_FAILOVER_TIMEOUT_MS:-10000}"
rh_conf_set "$SCONF" "sentinel parallel-syncs $NAME" 1

chown redis:redis "$CONF" "$SCONF"
chmod 0640 "$CONF" "$SCONF"
rh_log "boot: config ready; sentinel view on disk: $(rh_conf_get "$SCONF" "sentinel monitor $NAME"), epoch $(rh_conf_get "$SCONF" "sentinel config-epoch $NAME")"

exec "$@"
