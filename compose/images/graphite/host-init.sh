#!/bin/sh
# rh-host-init CMD [ARG...]: PID 1 of a host whose one service is CMD.
#
# A real server stays up when a service fails at boot: the init system marks the unit failed
# and the machine runs on, reachable, with its disks and logs there to look at. So does this
# host: when CMD exits by itself, the host keeps running without it (the `processes` check then
# says the daemon is not running, the `directories` check what is wrong with its directories),
# instead of powering off, which would look like any other host that is simply down.
# A shutdown (SIGTERM, `docker stop`) is passed to the service; the host powers off once it has
# stopped.
set -u
"$@" &
svc=$!
trap 'kill -TERM "$svc" 2>/dev/null; wait "$svc"; exit 0' TERM INT
wait "$svc"
rc=$?
echo "rh-host-init: $1 exited with status $rc; the host stays up without it" >&2
trap 'exit 0' TERM INT
while :; do
  sleep 3600 &
  wait $!
done
