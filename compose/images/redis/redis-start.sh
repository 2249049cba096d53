#!/bin/bash
# rh-redis-start: program `redis` of supervisord (user redis). Decides this host's role at every
# start, writes it into /etc/redis/redis.conf (`replicaof` set or removed), execs redis-server.
#
# Why: a rebooted old master that starts with its own config is `role:master` for ~10 s beside
# the master Sentinel promoted meanwhile (split brain, lost writes); and a boot that trusts the
# `replicaof` lines left by CONFIG REWRITE can leave every node a replica (0 masters) after a
# full restart. So the role comes from the Sentinels, never from the old redis.conf:
#  1. Ask every other host's sentinel `SENTINEL master <name>` (they start before redis, also in
#     a full restart); wait up to RH_REDIS_PEER_WAIT s for at least one answer.
#  2. Add the local sentinel's view (live, or sentinel.conf as Sentinel last wrote it).
#  3. The master is the one of the view with the highest config-epoch (what Sentinel itself
#     converges to: the latest failover wins); equal epochs: the most common answer.
#  4. If that master is this host but a peer sees it down (s_down/o_down, no ping for nearly
#     down-after-milliseconds) or a failover is in progress, wait (up to RH_REDIS_FAILOVER_WAIT
#     s) for the failover to finish and decide again: a promoted replica wins, no split brain.
#     Not at this host's first boot (no data yet, nothing to lose): the peers' sentinels have
#     never had a ping from it, so they would always look about to fail over, and waiting is
#     what would make them do it (under load the initial master lost its role at `up`).
#  5. Nobody answers at all (full restart, peers not up yet): the local view alone, i.e. what
#     sentinel.conf says, and every host's sentinel.conf names the same master -> one master.
#  6. Master: a peer that is itself master by an older view (it booted alone first) is demoted
#     right away (fencing) instead of after Sentinel's ~8 s.
# Every decision is logged (stdout and /var/log/redis/rh-boot.log) with the views it used.
set -u
. /usr/local/lib/rh-redis/lib.sh
RH_LOG_TAG=rh-redis-start

CONF=/etc/redis/redis.conf
SCONF=/etc/redis/sentinel.conf
ME=$(hostname)
NAME=${RH_REDIS_MASTER_NAME:-mymaster}
HOSTS=${RH_REDIS_HOSTS:-redis1 redis2 redis3}
PEER_WAIT=${RH_REDIS_PEER_WAIT:-5}
FAILOVER_WAIT=${RH_REDIS_FAILOVER_WAIT:-20}
MARGIN_MS=${RH_REDIS_DOWN_MARGIN_MS:-1000}

trap 'rh_log "signal while deciding the role: exit"; exit 0' TERM INT

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
T0=$(now_ms)
# Set by rh-redis-entrypoint when it wrote redis.conf at this boot; used once (a redis restarted
# by supervisord later in the same boot may have served writes by then).
FIRST_BOOT=""
if [ -e /run/redis/first-boot ]; then FIRST_BOOT=1; rm -f /run/redis/first-boot; fi
# At a first boot every view is the initial topology (epoch 0) and the other hosts' sentinels
# wait for the initial master before they start (rh-sentinel-start): ask once, do not wait.
[ -z "$FIRST_BOOT" ] || PEER_WAIT=0

# view HOST -> "MASTER EPOCH FLAGS LAST_OK_PING_MS DOWN_AFTER_MS", rc 1 if no answer.
view() {
  local out
  out=$(timeout 1 redis-cli -h "$1" -p 26379 --raw SENTINEL master "$NAME" 2>/dev/null) || return 1
  awk 'NR % 2 == 1 { k = $0; next } { v[k] = $0 }
       END { if (!("ip" in v)) exit 1;
             print v["ip"], v["config-epoch"] + 0, v["flags"], v["last-ok-ping-reply"] + 0,
                   v["down-after-milliseconds"] + 0 }' <<<"$out"
}

# The local sentinel's view as last written to disk.
file_view() {
  local m e
  m=$(rh_conf_get "$SCONF" "sentinel monitor $NAME" | awk '{ gsub(/"/, "", $1); print $1 }')
  e=$(rh_conf_get "$SCONF" "sentinel config-epoch $NAME" | awk '{ print $1 + 0 }')
  [ -n "$m" ] || return 1
  echo "$m ${e:-0} file 0 0"
}

# Wait briefly for the local sentinel (started just before us by supervisord).
for _ in $(seq 1 20); do
  timeout 1 redis-cli -p 26379 PING >/dev/null 2>&1 && break
  sleep 0.1
done

while :; do
  declare -A V=()
  peers=0
  for h in $HOSTS; do
    [ "$h" = "$ME" ] && continue
    if v=$(view "$h"); then V[$h]=$v; peers=$((peers + 1)); fi
  done
  elapsed=$(( $(now_ms) - T0 ))
  if [ "$peers" -eq 0 ] && [ "$elapsed" -lt $((PEER_WAIT * 1000)) ]; then
    unset V; sleep 0.5; continue
  fi
  if v=$(view 127.0.0.1); then V[self]=$v; elif v=$(file_view); then V[self-file]=$v; fi

  # Highest config-epoch wins; ties: most common master, then the first name (same on every host).
  best=$(for k in "${!V[@]}"; do echo "${V[$k]}"; done \
         | awk '{ c[$2 " " $1]++ } END { for (x in c) print x, c[x] }' \
         | sort -k1,1nr -k3,3nr -k2,2 | head -n1)
  master=$(awk '{ print $2 }' <<<"$best"); epoch=$(awk '{ print $1 }' <<<"$best")
  summary=$(for k in "${!V[@]}"; do printf '%s=[%s] ' "$k" "${V[$k]}"; done)

  # A failover in motion (or about to start because this host has been down for nearly
  # down-after-milliseconds) changes the answer: wait for it rather than start a 2nd master.
  # (Only matters when this host would be master: a replica that follows a master about to be
  # replaced is simply reconfigured by Sentinel, no second master.)
  unsettled=""
  for k in "${!V[@]}"; do
    case $k in self*) continue ;; esac
    [ "$master" = "$ME" ] || break
    read -r m e f ping down <<<"${V[$k]}"
    case ",$f," in
      *,failover_in_progress,*) unsettled="$k: failover in progress ($f)"; continue ;;
    esac
    [ "$m" = "$ME" ] || continue
    [ -z "$FIRST_BOOT" ] || continue
    case ",$f," in
      *,s_down,*|*,o_down,*) unsettled="$k: sees me down ($f)"; continue ;;
    esac
    if [ "$down" -gt 0 ] && [ "$ping" -ge $((down - MARGIN_MS)) ]; then
      unsettled="$k: no ping from me for ${ping} ms (down-after ${down} ms)"
    fi
  done
  if [ -n "$unsettled" ] && [ "$elapsed" -lt $((FAILOVER_WAIT * 1000)) ]; then
    rh_log "waiting: $unsettled; views: $summary"
    unset V; sleep 0.5; continue
  fi
  break
done

# Fencing: a peer whose sentinel still names the peer itself master with an older config-epoch
# is a stale master (it booted alone first with its old view). Sentinel would demote it only
# after ~8 s of split brain; do what it will do as soon as this master answers. Runs detached
# (double fork: supervisord, not redis-server, reaps it).
fence_stale_masters() {
  local stale="" k m e f ping down
  for k in "${!V[@]}"; do
    case $k in self*) continue ;; esac
    read -r m e f ping down <<<"${V[$k]}"
    [ "$m" = "$k" ] && [ "$e" -lt "$epoch" ] && stale="$stale $k"
  done
  [ -n "$stale" ] || return 0
  rh_log "peers with an older view naming themselves master:$stale (mine: epoch $epoch); will fence them"
  ( (
    export REDISCLI_AUTH="$REDIS_PASSWORD"
    for _ in $(seq 1 100); do
      [ "$(timeout 1 redis-cli -p 6379 PING 2>/dev/null)" = PONG ] && break; sleep 0.1
    done
    for h in $stale; do
      v=$(view "$h") || v=""
      read -r m e f ping down <<<"${v:-- 0 - 0 0}"
      role=$(timeout 1 redis-cli -h "$h" -p 6379 ROLE 2>/dev/null | head -n1)
      if [ "$role" = master ] && { [ -z "$v" ] || [ "$e" -lt "$epoch" ]; }; then
        r1=$(timeout 2 redis-cli -h "$h" -p 6379 REPLICAOF "$ME" 6379 2>&1)
        r2=$(timeout 2 redis-cli -h "$h" -p 6379 CONFIG REWRITE 2>&1)
        rh_log "fenced stale master $h (its sentinel: ${v:-no answer}): REPLICAOF $ME 6379 -> $r1, CONFIG REWRITE -> $r2"
      else
        rh_log "not fencing $h: role ${role:-?}, its sentinel: ${v:-no answer}"
      fi
    done
  ) </dev/null & ) 
}

if [ -z "${master:-}" ]; then
  rh_log "no sentinel view at all (no answer, no monitor line in $SCONF): keeping redis.conf as is"
elif [ "$master" = "$ME" ]; then
  rh_conf_del "$CONF" replicaof
  rh_conf_del "$CONF" slaveof
  rh_log "role master${FIRST_BOOT:+ (first boot: not waiting on how long the peers have not seen it)} (epoch $epoch; ${peers} peer sentinel(s) answered; decided in ${elapsed} ms; views: $summary)"
  fence_stale_masters
else
  rh_conf_del "$CONF" slaveof
  rh_conf_set "$CONF" replicaof "$master 6379"
  rh_log "role replica of $master (epoch $epoch; ${peers} peer sentinel(s) answered; decided in ${elapsed} ms; views: $summary)"
fi

exec /usr/bin/redis-server "$CONF"
