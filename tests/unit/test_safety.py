"""Compose configurations that would void the rehearsal are named, service and key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from harness.stack.safety import unsafe

SAFE: dict[str, Any] = {
    "services": {
        "app1": {
            "tmpfs": ["/run", "/tmp:exec,mode=1777"],
            "ulimits": {"nofile": {"soft": 1024, "hard": 16384}},
            "ports": [{"host_ip": "127.0.0.1", "target": 8000}],
            "volumes": [{"type": "bind", "source": "/srv/conf", "target": "/etc/x"}],
        }
    }
}


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"privileged": True}, "service app1: privileged: "),
        ({"cap_add": ["SYS_ADMIN"]}, "service app1: cap_add: extra capabilities SYS_ADMIN"),
        ({"devices": [{"source": "/dev/kvm"}]}, "service app1: devices: "),
        ({"network_mode": "host"}, "service app1: network_mode: the machine's own"),
        ({"pid": "host"}, "service app1: pid: "),
        ({"ipc": "host"}, "service app1: ipc: "),
        ({"volumes": [{"type": "bind", "source": "/var/run/docker.sock", "target": "/s"}]},
         "service app1: volumes: binds the Docker socket (/var/run/docker.sock)"),
        ({"tmpfs": ["/tmp"]}, "service app1: tmpfs: no tmpfs /run"),
        ({"ulimits": {}}, "service app1: ulimits: no boot nofile limit"),
        ({"ports": [{"host_ip": "0.0.0.0", "target": 80}]},
         "service app1: ports: port 80 published on 0.0.0.0, not 127.0.0.1"),
        ({"ports": [{"target": 80}]}, "service app1: ports: port 80 published on every address"),
    ],
)  # fmt: skip
def test_each_unsafe_setting_is_named(change: dict[str, Any], said: str) -> None:
    assert unsafe(SAFE) == []
    cfg = copy.deepcopy(SAFE)
    cfg["services"]["app1"].update(change)
    found = unsafe(cfg)
    assert len(found) == 1 and found[0].startswith(said), found
