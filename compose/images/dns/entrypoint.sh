#!/bin/sh
# PID 1 of the dns host. Runs as root at EVERY boot, idempotently:
#  - first boot: write the initial rotation /var/lib/rh-dns/hosts/lb, one
#    "ADDRESS lb.$RH_DOMAIN" line per address of $RH_LB_ADDRESSES;
#  - later boots: keep the file as it is (the rotation survives a reboot of the dns host,
#    as a real zone file would);
#  - /run is tmpfs: recreate dnsmasq's pid directory;
#  then become dnsmasq (foreground, logs on stderr).
set -eu

DOMAIN="${RH_DOMAIN:-rh.test}"
HOSTS_DIR=/var/lib/rh-dns/hosts
LB_FILE="$HOSTS_DIR/lb"

install -d -m 0755 /var/lib/rh-dns "$HOSTS_DIR"
# An interrupted rh-dns-rotate may have left its temporary file behind (dnsmasq ignores it).
rm -f "$HOSTS_DIR/.lb.tmp"
if [ ! -e "$LB_FILE" ]; then
  echo "rh-dns: first boot, initial rotation: ${RH_LB_ADDRESSES:-<none>}" >&2
  # shellcheck disable=SC2086  # one word per address
  RH_DOMAIN="$DOMAIN" /usr/local/bin/rh-dns-rotate ${RH_LB_ADDRESSES:-}
else
  echo "rh-dns: keeping the rotation in $LB_FILE: $(awk '{printf "%s ", $1}' "$LB_FILE")" >&2
fi

install -d -o dnsmasq -g nogroup -m 0755 /run/dnsmasq

exec dnsmasq -k --no-resolv --no-hosts --hostsdir="$HOSTS_DIR" --local-ttl=1 \
  --log-facility=- --user=dnsmasq --group=nogroup --pid-file=/run/dnsmasq/dnsmasq.pid \
  --local="/$DOMAIN/" "$@"
