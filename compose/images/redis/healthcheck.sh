#!/bin/sh
# Cheap probe (no python): redis answers PING (PONG or LOADING) and sentinel answers PING.
r=$(REDISCLI_AUTH="$REDIS_PASSWORD" timeout 2 redis-cli -p 6379 PING 2>/dev/null)
case "$r" in PONG|LOADING*) ;; *) exit 1 ;; esac
s=$(timeout 2 redis-cli -p 26379 PING 2>/dev/null)
[ "$s" = PONG ]
