#!/usr/bin/env bash
# Prepare this machine for reboot-harness: a Docker engine with Compose v2, debootstrap for an
# offline base image, and a venv (.venv) with the harness installed. Idempotent; never touches
# an engine that already runs.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 2; }

is_root_debian() { [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null; }

apt_updated=
apt_install() {
    if [ -z "$apt_updated" ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The Debian mirror apt already uses on this machine (we never name one ourselves).
apt_mirror() {
    local uri
    uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '$1=="deb" && $2 !~ /security/ {print ($2 ~ /^\[/ ? $3 : $2); exit}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list(.d)"
    printf '%s\n' "$uri"
}

# Compose v2 is not in Debian 12; Debian 13's docker-compose package (depends only on libc6)
# installs the CLI plugin. Fetch that one .deb from trixie without switching the system to it.
install_compose_plugin() {
    local tmp; tmp=$(mktemp -d)
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
    echo "deb $(apt_mirror) trixie main" > "$tmp/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/nonexistent
                -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root -qq)
    apt-get "${opts[@]}" update >/dev/null
    (cd "$tmp" && apt-get "${opts[@]}" download docker-compose >/dev/null)
    dpkg -i "$tmp"/docker-compose_*.deb >/dev/null
    rm -rf "$tmp"
}

engine_up() { docker info >/dev/null 2>&1; }

if engine_up; then
    log "Docker engine reachable: $(docker version --format '{{.Server.Version}}' 2>/dev/null) (left as it is)"
else
    is_root_debian || die "no Docker engine reachable. Install Docker Engine or Docker Desktop with the Compose v2 plugin and start it (as root on Debian this script does it)."
    if ! command -v dockerd >/dev/null; then
        log "installing docker.io (Debian's Docker engine)"
        apt_install docker.io
    fi
    log "starting dockerd (log: /var/log/reboot-harness-dockerd.log)"
    setsid nohup dockerd >/var/log/reboot-harness-dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 120); do engine_up && break; sleep 0.5; done
    engine_up || die "dockerd did not come up within 60 s; see /var/log/reboot-harness-dockerd.log"
    log "Docker engine $(docker version --format '{{.Server.Version}}') running"
fi

if ! docker compose version >/dev/null 2>&1; then
    is_root_debian || die "the Docker Compose v2 plugin is missing: install docker-compose-plugin (or Docker Desktop)"
    log "installing the Compose v2 plugin from Debian 13's docker-compose package"
    install_compose_plugin
fi
log "$(docker compose version)"

if ! command -v debootstrap >/dev/null && is_root_debian; then
    log "installing debootstrap (offline base image when no registry answers)"
    apt_install debootstrap
fi
command -v ps >/dev/null || { is_root_debian && apt_install procps; }
# ssh: engines of other machines (ssh://) are reached through it, and a test runs one
command -v ssh >/dev/null || { is_root_debian && apt_install openssh-client; }
if ! command -v chromium >/dev/null && is_root_debian; then
    log "installing chromium (the report test renders report.html in a headless browser)"
    apt_install chromium
fi

# The harness itself: a venv with the package (editable) and its test tools.
venv="$here/.venv"
stamp="$venv/.installed-$(sha256sum "$here/pyproject.toml" | cut -c1-16)"
if [ ! -e "$stamp" ]; then
    log "creating $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip >"$venv/pip.log" 2>&1
    "$venv/bin/pip" install -q -e "$here[dev]" >>"$venv/pip.log" 2>&1 \
        || { cat "$venv/pip.log" >&2; die "pip install failed (log above, kept in $venv/pip.log)"; }
    rm -f "$venv"/.installed-*
    touch "$stamp"
fi
log "harness: $("$venv/bin/reboot-harness" --version)"
