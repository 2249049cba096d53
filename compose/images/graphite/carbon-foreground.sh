#!/bin/sh
# Run carbon-cache in the foreground (logs on stdout) as _graphite, replacing this shell.
# Privileges are dropped BEFORE carbon starts: carbon running as root would recreate
# PID_DIR itself and hide a missing /run/graphite. Extra arguments go to carbon-cache.
set -eu
# twisted.conch (imported by carbon's manhole) warns about old ciphers at every start.
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore:::twisted.conch.ssh.transport}"
CARBON="/usr/bin/carbon-cache --config=/etc/carbon/carbon.conf --nodaemon --instance=a"
if [ "$(id -u)" = 0 ]; then
  exec setpriv --reuid=_graphite --regid=_graphite --init-groups --inh-caps=-all \
       $CARBON "$@" start
fi
exec $CARBON "$@" start
