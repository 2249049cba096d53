#!/bin/sh
# PID 1 of the cache host. /run is tmpfs (empty at every boot, as on a real server), so
# memcached's run directory, where it writes its pid file as user memcache, must be made at
# EVERY boot — not once, when the package was installed.
#
# CACHE_RUNDIR=boot (the fix, the default): made at every boot.
# CACHE_RUNDIR=once (incident cache-rundir-once): made only at the first boot, as a
#   provisioning script run once would; after a reboot memcached runs without its pid file
#   ("Could not open the pid file ... for writing") and every tool that reads it is blind.
set -eu
marker=/var/lib/cache-provisioned
if [ "${CACHE_RUNDIR:-boot}" = boot ] || [ ! -e "$marker" ]; then
  install -d -o memcache -g memcache -m 0755 /run/memcached
fi
touch "$marker"
# -c 4096 connections: memcached (started as root) raises its own open-file limit from the
# boot default (1024 soft / 16384 hard) before it drops to memcache.
exec memcached -u memcache -l 0.0.0.0 -p 11211 -m 64 -c 4096 -P /run/memcached/memcached.pid
