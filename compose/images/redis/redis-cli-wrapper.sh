#!/bin/sh
# rh-redis-cli ARGS...: redis-cli authenticated with REDIS_PASSWORD from the environment
# (e.g. `docker exec redis1 rh-redis-cli INFO replication`; sentinel: `redis-cli -p 26379`).
REDISCLI_AUTH="$REDIS_PASSWORD" exec redis-cli "$@"
