#!/bin/sh
# PID 1 of the graphite host. Runs as root at EVERY boot (first boot and every reboot):
#  /run is tmpfs (empty at each boot) and owned by root, so carbon-cache, which runs as
#  _graphite, cannot create its PID_DIR itself (PermissionError: '/run/graphite').
#  Create it here, every time, before handing over to carbon (under rh-host-init: the host
#  stays up if carbon fails).
set -eu

install -d -o _graphite -g _graphite -m 0755 /run/graphite
# Nothing can be running this early in a boot: a pid file here is stale (only possible
# when /run is not a tmpfs), and carbon would refuse to start ("already running with pid 1").
rm -f /run/graphite/carbon-cache-a.pid

# The whisper tree is on a volume; make sure carbon can write it (not recursive: cheap).
install -d -o _graphite -g _graphite -m 0755 /var/lib/graphite /var/lib/graphite/whisper

exec /usr/local/sbin/rh-host-init /usr/local/bin/rh-carbon-foreground "$@"
