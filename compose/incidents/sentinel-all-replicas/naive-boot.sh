#!/bin/bash
# Incident sentinel-all-replicas: the redis hosts' boot as it was before the fix (mounted over
# the image by ../sentinel-all-replicas.yaml; the image itself is unchanged).
#
# What this boot gets wrong, like the config management of the post-mortem did:
#  1. It trusts redis.conf as found: the `replicaof` lines Sentinel wrote there with CONFIG
#     REWRITE after a failover are kept, whoever is master now.
#  2. It re-applies the "initial topology" where it thinks it is missing: a host other than
#     redis1 without a `replicaof` line gets `replicaof redis1 6379` -- including the replica
#     that Sentinel promoted (promotion removes the line).
#  3. It renders sentinel.conf from the template at every boot: Sentinel's state (myid,
#     config-epoch, known-replica, known-sentinel, the current master) is lost, every sentinel
#     boots monitoring redis1 again and knows no replica.
#  4. redis-server starts straight away (no question to the other sentinels).
# After one failover (master rebooted: its replica was promoted and the old master rejoined and
# got `replicaof <new master>` written by Sentinel) a full restart boots every redis as a replica
# (redis1 -> new master, new master -> redis1, other -> new master), and the sentinels, which
# monitor redis1 and know no replica, abort every failover with -failover-abort-no-good-slave:
# 0 masters, for good.
set -eu
. /usr/local/lib/rh-redis/lib.sh
RH_LOG_TAG=naive-boot
ME=$(hostname)
NAME=${RH_REDIS_MASTER_NAME:-mymaster}
INITIAL=${RH_REDIS_INITIAL_MASTER:-redis1}
CONF=/etc/redis/redis.conf
SCONF=/etc/redis/sentinel.conf

# Runtime dirs, first-boot files, passwords: the image's own entrypoint (then `true`).
/usr/local/sbin/rh-redis-entrypoint true

# 2. initial topology where "missing"
if [ "$ME" != "$INITIAL" ] && [ -z "$(rh_conf_get "$CONF" replicaof)$(rh_conf_get "$CONF" slaveof)" ]; then
  rh_conf_set "$CONF" replicaof "$INITIAL 6379"
  rh_log "naive: no replicaof in redis.conf, added initial topology: replicaof $INITIAL 6379"
fi
rh_log "naive: redis.conf as found: replicaof $(rh_conf_get "$CONF" replicaof)"

# 3. sentinel.conf from the template, every boot
cat >"$SCONF" <<SCONF
port 26379
bind 0.0.0.0
protected-mode no
daemonize no
logfile ""
dir /var/lib/redis
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $ME
sentinel monitor $NAME $INITIAL 6379 ${RH_REDIS_QUORUM:-2}
sentinel auth-pass $NAME $(rh_quote "$REDIS_PASSWORD")
sentinel down-after-milliseconds $NAME ${RH_REDIS_DOWN_AFTER_MS:-3000}
sentinel failover-timeout $NAME ${RH_REDIS_FAILOVER_TIMEOUT_MS:-10000}
sentinel parallel-syncs $NAME 1
SCONF
chown redis:redis "$SCONF"; chmod 0640 "$SCONF"
rh_log "naive: sentinel.conf rendered from the template (monitor $NAME $INITIAL, no known state)"

# 4. supervisord runs the daemons directly
exec supervisord -n -c /rh-incident/supervisord.conf
