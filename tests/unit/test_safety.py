"""Compose configurations that would void the rehearsal are named, service and key."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.stack.safety import unsafe

# the keys the rules read, and a few they do not
SERVICE_KEYS = ["privileged", "cap_add", "devices", "device_cgroup_rules", "gpus", "network_mode",
                "pid", "ipc", "uts", "userns_mode", "cgroup", "volumes_from", "security_opt",
                "volumes", "tmpfs", "ulimits", "restart", "deploy", "ports", "type", "source",
                "target", "host_ip", "driver_opts", "o", "device", "soft", "hard", "app1",
                "image"]  # fmt: skip

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


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"privileged": "true"}, "service app1: privileged: "),
        ({"device_cgroup_rules": ["b 8:* rmw"]}, "service app1: device_cgroup_rules: "),
        ({"gpus": [{"count": -1}]}, "service app1: gpus: "),
        ({"uts": "host"}, "service app1: uts: the machine's own namespace"),
        ({"userns_mode": "host"}, "service app1: userns_mode: the machine's own namespace"),
        ({"cgroup": "host"}, "service app1: cgroup: the machine's own namespace"),
        ({"network_mode": "container:vpn"}, "service app1: network_mode: the namespace of"
         " container:vpn, a container outside the stack"),
        ({"pid": "container:abc"}, "service app1: pid: the namespace of container:abc"),
        ({"volumes_from": ["container:db"]}, "service app1: volumes_from: the volumes of"
         " container:db"),
        ({"security_opt": ["seccomp=unconfined"]}, "service app1: security_opt:"
         " seccomp=unconfined: the host runs without the engine's confinement"),
        ({"security_opt": ["apparmor:unconfined"]}, "service app1: security_opt: apparmor:"),
        ({"security_opt": ["systempaths=unconfined"]}, "service app1: security_opt: systemp"),
        ({"volumes": [{"type": "bind", "source": "/var/run", "target": "/h"}]},
         "service app1: volumes: binds the folder of /var/run/docker.sock (/var/run)"),
        ({"volumes": [{"type": "bind", "source": "/", "target": "/h"}]},
         "service app1: volumes: binds the folder of /var/run/docker.sock (/)"),
        ({"volumes": [{"type": "bind", "source": "//run/./docker.sock", "target": "/s"}]},
         "service app1: volumes: binds the Docker socket (/run/docker.sock)"),
        ({"volumes": [{"type": "bind", "source": "/proc", "target": "/hostproc"}]},
         "service app1: volumes: binds the machine's /proc (/proc)"),
        ({"volumes": [{"type": "bind", "source": "/sys/kernel", "target": "/k"}]},
         "service app1: volumes: binds the machine's /sys (/sys/kernel)"),
        ({"volumes": [{"type": "volume", "source": "sock", "target": "/s"}]},
         "service app1: volumes: binds the folder of /var/run/docker.sock (/var/run)"),
        ({"ulimits": {"nofile": {}}}, "service app1: ulimits: no boot nofile limit"),
        ({"ulimits": {"core": 0}}, "service app1: ulimits: no boot nofile limit"),
        ({"restart": "always"}, "service app1: restart: policy always: the engine would boot"),
        ({"deploy": {"restart_policy": {"condition": "on-failure"}}},
         "service app1: restart: policy deploy on-failure"),
        ({"ports": [{"host_ip": "::", "target": 80}]}, "service app1: ports: port 80 published"
         " on ::, not 127.0.0.1"),
    ],
)  # fmt: skip
def test_each_way_past_the_container_is_named(change: dict[str, Any], said: str) -> None:
    """Namespaces of the machine or of containers outside the stack, unconfined hosts, binds of
    the socket's folders or the kernel's interfaces (also through a named volume's bind
    options), a restart policy: each named, service and key."""
    cfg = copy.deepcopy(SAFE)
    opts = {"type": "none", "o": "bind", "device": "/var/run"}  # a bind, as a named volume
    cfg["volumes"] = {"sock": {"driver": "local", "driver_opts": opts}}
    assert unsafe(cfg, docker_host="") == []
    cfg["services"]["app1"].update(change)
    found = unsafe(cfg, docker_host="")
    assert len(found) == 1 and found[0].startswith(said), found


@pytest.mark.parametrize(
    "change",
    [
        {"network_mode": "service:app2"},  # a sidecar: shares another host of the stack's
        {"pid": "service:app2"},
        {"ipc": "shareable"},
        {"sysctls": {"net.core.somaxconn": "1024"}},  # namespaced: the host's own, as sysctl.d
        {"security_opt": ["no-new-privileges:true", "seccomp=/etc/profile.json"]},
        {"volumes": [{"type": "bind", "source": "/dev/null", "target": "/etc/motd"}]},
        {"volumes": [{"type": "bind", "source": "/etc/localtime", "target": "/etc/localtime"}]},
        {"volumes": [{"type": "bind", "source": "/var/run-not", "target": "/x"}]},
        {"volumes": [{"type": "tmpfs", "target": "/run"}], "tmpfs": ["/tmp"]},  # /run, as volume
        {"ulimits": {"nofile": 65536}},  # soft = hard, still a boot limit
        {"ports": [{"host_ip": "::1", "target": 80}, {"host_ip": "127.0.0.2", "target": 81}]},
        {"restart": "no", "runtime": "runc", "init": True},
    ],
)
def test_what_stays_inside_the_rehearsal_is_allowed(change: dict[str, Any]) -> None:
    """A sidecar sharing another host's namespaces, namespaced sysctls, harmless binds, /run as
    a tmpfs volume, loopback ports: none of these reaches the machine or changes a boot."""
    cfg = copy.deepcopy(SAFE)
    cfg["services"]["app1"].update(change)
    assert unsafe(cfg, docker_host="") == []


def test_the_engines_own_socket_counts_as_the_docker_socket() -> None:
    """A socket named by DOCKER_HOST (unix://) is a Docker socket too, and so is its folder."""
    cfg = copy.deepcopy(SAFE)
    cfg["services"]["app1"]["volumes"] = [{"type": "bind", "source": "/srv/engine", "target": "/e"}]
    assert unsafe(cfg, docker_host="tcp://10.0.0.1:2375") == []
    (found,) = unsafe(cfg, docker_host="unix:///srv/engine/docker.sock")
    assert "binds the folder of /srv/engine/docker.sock (/srv/engine)" in found


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.sampled_from(["host", "/run", "/var/run/docker.sock", "bind", "0.0.0.0", "true",
                       "container:x", "service:y", "seccomp=unconfined", "nofile"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(SERVICE_KEYS) | st.text(max_size=6), inner, max_size=5),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["services", "volumes", "x"]), _JSON, max_size=3) | _JSON)
def test_fuzz_the_rules_never_raise_on_any_shape(resolved: Any) -> None:
    """Whatever shape a configuration has (Compose's output of another version, values of the
    wrong type), the rules return their list of one-line findings and never raise."""
    found = unsafe(resolved, docker_host="unix:///x.sock")
    assert isinstance(found, list)
    assert all(isinstance(f, str) and "\n" not in f and f.startswith("service ") for f in found)
    assert all(len(f) <= 300 for f in found)


def test_findings_stay_one_short_line() -> None:
    """Values are the user's: a capability written over two lines, or a thousand of them, still
    make one line of at most 300 characters."""
    cfg = copy.deepcopy(SAFE)
    cfg["services"]["app1"]["cap_add"] = ["NET_ADMIN\nSYS_ADMIN", *["X"] * 1000]
    (found,) = unsafe(cfg, docker_host="")
    assert "\n" not in found and len(found) <= 300
    assert found.startswith("service app1: cap_add: extra capabilities NET_ADMIN SYS_ADMIN, X")
