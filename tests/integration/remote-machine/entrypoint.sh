#!/bin/bash
# PID 1 of the remote machine: prepare cgroups, /sys and iptables for a nested engine, start
# sshd (root by key only), then become dockerd (its log: /var/log/dockerd.log).
#
# Environment:
#   RH_AUTHORIZED_KEY   public key(s) let in as root (else /root/.ssh/authorized_keys must exist)
#   RH_IPTABLES         nft | legacy (default: the first backend this kernel accepts)
#   RH_BIP              the nested docker0 address (default 10.213.0.1/24)
#   RH_ADDRESS_POOL     pool for the nested engine's networks (default 10.214.0.0/16, /24 each):
#                       the defaults (172.17-31.0.0/16) may overlap this container's own network
#                       on the outer docker0 (172.17.0.0/16 here) and break its route back.
set -euo pipefail

log() { echo "rh-remote-machine: $*" >&2; }

# -- mounts -------------------------------------------------------------------------------------
# With --privileged these are writable already. Without it (an engine whose capability bounding
# set lacks one, e.g. CAP_SYS_RESOURCE, cannot start privileged containers: the fixture then
# adds every capability it has plus seccomp/apparmor/systempaths=unconfined), /sys and the
# cgroup v1 hierarchies are read-only mounts of this mount namespace: make them writable.
rw_mount() {  # $1: mount point; remount read-write if it is read-only
  local opts
  opts=$(findmnt -n -o VFS-OPTIONS --target "$1" 2>/dev/null || true)
  case ",$opts," in
    *,ro,*) mount -o remount,rw "$1" 2>/dev/null || mount -o remount,bind,rw "$1" \
              || { log "cannot make $1 writable"; return 1; } ;;
  esac
}
rw_mount /sys || :  # not fatal here; read-only cgroups are (below)
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  cgroup_version=2
else
  cgroup_version=1
fi
if [ "$cgroup_version" = 1 ]; then
  rw_mount /sys/fs/cgroup
  while read -r target; do
    rw_mount "$target"
  done < <(findmnt -n -r -o TARGET -t cgroup)
else
  rw_mount /sys/fs/cgroup
  # the usual dind init (moby hack/dind): processes leave the root cgroup, which then delegates
  # every controller to its children (a cgroup with processes cannot have subtree controllers)
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
  sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers \
    > /sys/fs/cgroup/cgroup.subtree_control
fi
log "cgroup v$cgroup_version"
# dockerd's and runc's defaults expect these (moby hack/dind)
if [ -d /sys/kernel/security ] && ! mountpoint -q /sys/kernel/security; then
  mount -t securityfs none /sys/kernel/security 2>/dev/null || log "securityfs not mounted"
fi

# -- iptables -----------------------------------------------------------------------------------
# dockerd runs `iptables`; Debian points it at iptables-nft. Use the first backend the kernel
# accepts for the nat table (some kernels have only one of them).
backend="${RH_IPTABLES:-}"
if [ -z "$backend" ]; then
  for candidate in nft legacy; do
    if "iptables-$candidate" -w -t nat -S >/dev/null 2>&1 \
       && "iptables-$candidate" -w -t filter -S >/dev/null 2>&1; then
      backend=$candidate
      break
    fi
  done
fi
if [ -z "$backend" ]; then
  log "neither iptables-nft nor iptables-legacy can list the nat table:"
  iptables-nft -t nat -S 2>&1 | tail -2 >&2 || :
  iptables-legacy -t nat -S 2>&1 | tail -2 >&2 || :
  exit 1
fi
update-alternatives --quiet --set iptables "/usr/sbin/iptables-$backend"
update-alternatives --quiet --set ip6tables "/usr/sbin/ip6tables-$backend" 2>/dev/null || :
log "iptables: $backend"

# -- sshd -----------------------------------------------------------------------------------------
install -d -m 0700 /root/.ssh
if [ -n "${RH_AUTHORIZED_KEY:-}" ]; then
  printf '%s\n' "$RH_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
fi
if [ ! -s /root/.ssh/authorized_keys ]; then
  log "no key: set RH_AUTHORIZED_KEY or put /root/.ssh/authorized_keys in the container"
  exit 1
fi
chmod 0600 /root/.ssh/authorized_keys
chown -R root:root /root/.ssh
ssh-keygen -A >/dev/null
install -d -m 0755 /run/sshd
/usr/sbin/sshd -t
/usr/sbin/sshd -E /var/log/sshd.log
log "sshd started"

# -- dockerd ----------------------------------------------------------------------------------------
# Left behind by a killed earlier run of this container (the volume keeps /var/lib/docker).
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
log "starting dockerd (log: /var/log/dockerd.log)"
exec dockerd \
  --host=unix:///var/run/docker.sock \
  --storage-driver=overlay2 \
  --bip="${RH_BIP:-10.213.0.1/24}" \
  --default-address-pool="base=${RH_ADDRESS_POOL:-10.214.0.0/16},size=24" \
  >> /var/log/dockerd.log 2>&1
