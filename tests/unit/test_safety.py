"""Compose configurations that would void the rehearsal are named, service and key."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reboot_harness.inputs.compose.roots import Roots, shared_folder
from reboot_harness.inputs.compose.rules import unsafe

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
        {"security_opt": ["no-new-privileges:true", "no-new-privileges"]},
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
    assert all(isinstance(f, str) and "\n" not in f for f in found)
    assert all(f.startswith(("service ", "top-level ")) for f in found)
    assert all(len(f) <= 300 for f in found)


def test_findings_stay_one_short_line() -> None:
    """Values are the user's: a capability written over two lines, or a thousand of them, still
    make one line of at most 300 characters."""
    cfg = copy.deepcopy(SAFE)
    cfg["services"]["app1"]["cap_add"] = ["NET_ADMIN\nSYS_ADMIN", *["X"] * 1000]
    (found,) = unsafe(cfg, docker_host="")
    assert "\n" not in found and len(found) <= 300
    assert found.startswith("service app1: cap_add: extra capabilities NET_ADMIN SYS_ADMIN, X")


# -- a path must lie in the folder of the compose file that names it ----------------------------


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Roots]:
    """A user's project folder with its compose file, and the roots that file grants (its own
    folder and a stand-in for the harness's compose folder)."""
    folder = tmp_path / "proj"
    (folder / "conf").mkdir(parents=True)
    (tmp_path / "harness-compose").mkdir()
    return folder, Roots.of([folder / "evil.yaml"], tmp_path / "harness-compose")


def _with(change: dict[str, Any], top: dict[str, Any] | None = None) -> dict[str, Any]:
    cfg = copy.deepcopy(SAFE)
    cfg["services"]["app1"]["volumes"] = []
    cfg["services"]["app1"].update(change)
    cfg.update(top or {})
    return cfg


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("/etc", "binds /etc, outside "),
        ("/root", "binds /root, outside "),
        ("/etc/../root/.ssh", "binds /root/.ssh, outside "),
        ("/var/lib/docker", "binds the engine's state (/var/lib/docker): every container's"),
        ("/var/lib/containerd/x", "binds the engine's state (/var/lib/containerd/x)"),
        ("/home", "binds /home, outside "),
        ("/etc/localtime", "binds /etc/localtime"),  # read-write: it could set the machine's zone
    ],
)
def test_a_bind_outside_the_compose_files_folder_is_refused(
    source: str, said: str, project: tuple[Path, Roots]
) -> None:
    """The machine's /etc, /root, the engine's state (every container's files), any path
    outside the folder of the compose file: refused, naming the path, the folder and why."""
    folder, roots = project
    cfg = _with({"volumes": [{"type": "bind", "source": source, "target": "/x"}]})
    (found,) = unsafe(cfg, docker_host="", roots=roots)
    assert found.startswith(f"service app1: volumes: {said}"), found
    if "outside" in said:
        assert found.endswith(f"outside {folder} (the compose file's folder, where what it names"
                              " must lie)"), found  # fmt: skip


def test_a_relative_climb_and_a_link_are_judged_where_they_point(
    project: tuple[Path, Roots],
) -> None:
    """``..`` is resolved, and so is a symbolic link in the folder that points out of it: the
    engine mounts what the link points at."""
    folder, roots = project
    (folder / "etc").symlink_to("/etc")
    (folder / "mine").symlink_to(folder / "conf")  # a link that stays inside: fine
    climb = f"{folder}/" + "../" * len(folder.parts) + "etc"
    for source, said in [(climb, "binds /etc, outside"),
                         (f"{folder}/etc/ssh", f"binds {folder}/etc/ssh (a link to /etc/ssh),"
                          " outside")]:  # fmt: skip
        cfg = _with({"volumes": [{"type": "bind", "source": source, "target": "/x"}]})
        (found,) = unsafe(cfg, docker_host="", roots=roots)
        assert found.startswith(f"service app1: volumes: {said}"), found
    inside = _with({"volumes": [{"type": "bind", "source": f"{folder}/mine", "target": "/x"}]})
    assert unsafe(inside, docker_host="", roots=roots) == []


@pytest.mark.parametrize(
    "volume",
    [
        {"type": "bind", "source": "{folder}/conf", "target": "/etc/x"},
        {"type": "bind", "source": "{folder}/not-yet", "target": "/x"},  # Compose makes it
        {"type": "bind", "source": "{harness}/incidents/x.conf", "target": "/x"},
        {"type": "bind", "source": "/etc/localtime", "target": "/etc/localtime", "read_only": True},
        {"type": "bind", "source": "/dev/null", "target": "/etc/motd"},
        {"type": "volume", "source": "data", "target": "/d"},
        {"type": "volume", "source": "scratch", "target": "/s"},
        {"type": "tmpfs", "target": "/cache"},
    ],
)
def test_what_lies_in_the_folder_or_the_harness_or_a_volume_is_allowed(
    volume: dict[str, Any], project: tuple[Path, Roots]
) -> None:
    """A bind of the compose file's own folder (even of a path Compose will create), of the
    harness's compose folder, a named volume (also a tmpfs one), a tmpfs, /dev/null, the
    machine's clock zone read-only: allowed."""
    folder, roots = project
    harness = roots.folders[-1]
    volume = {k: str(v).format(folder=folder, harness=harness) if k == "source" else v
              for k, v in volume.items()}  # fmt: skip
    tmpfs = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
    vols = {"data": {"name": "p_data"}, "scratch": {"driver_opts": tmpfs}}
    cfg = _with({"volumes": [volume]}, {"name": "p", "volumes": vols})
    assert unsafe(cfg, docker_host="", roots=roots) == []


def test_a_file_in_a_folder_the_machine_shares_grants_none(tmp_path: Path) -> None:
    """A compose file lying in /, /tmp, /etc, a home folder, /var/tmp, /run/user/N: its folder
    holds what is not the file's (others' sockets, your keys): a bind there is refused, saying
    why; one level deeper is a folder of its own."""
    compose = tmp_path / "harness"
    home = Path.home().resolve()
    for where in (Path("/"), Path("/tmp"), Path("/etc"), home, Path("/var/tmp"),
                  Path("/run/user/1000"), Path("/home/alice")):  # fmt: skip
        assert shared_folder(str(where)), where
        roots = Roots.of([where / "evil.yaml"], compose)
        cfg = _with({"volumes": [{"type": "bind", "source": str(where / "x"), "target": "/x"}]})
        (found,) = unsafe(cfg, docker_host="", roots=roots)
        assert f"({where}, where it lies, is shared by the whole machine" in found, found
    for own in (Path("/tmp/proj"), home / "proj", Path("/srv/team/rehearsal")):
        assert not shared_folder(str(own)), own
        roots = Roots.of([own / "ok.yaml"], compose)
        cfg = _with({"volumes": [{"type": "bind", "source": str(own / "x"), "target": "/x"}]})
        assert unsafe(cfg, docker_host="", roots=roots) == []


@pytest.mark.parametrize(
    ("change", "top", "said"),
    [
        ({"volumes": [{"type": "volume", "source": "v", "target": "/v"}]},
         {"volumes": {"v": {"driver_opts": {"type": "none", "o": "bind", "device": "/etc"}}}},
         "volumes: binds /etc, outside "),
        ({"configs": [{"source": "c"}]}, {"configs": {"c": {"file": "/etc/passwd"}}},
         "configs: c reads /etc/passwd, outside "),
        ({"secrets": [{"source": "s"}]}, {"secrets": {"s": {"file": "/root/.aws/credentials"}}},
         "secrets: s reads /root/.aws/credentials, outside "),
        ({"build": {"context": "/root"}}, {}, "build: sends the builder /root, outside "),
        ({"build": {"context": "{folder}", "dockerfile": "/etc/Dockerfile"}}, {},
         "build: reads the Dockerfile /etc/Dockerfile, outside "),
        ({"build": {"context": "{folder}", "dockerfile": "../../../../../../../etc/x"}}, {},
         "build: reads the Dockerfile /etc/x, outside "),
        ({"build": {"context": "{folder}", "additional_contexts": {"keys": "/root/.ssh"}}}, {},
         "build: sends the builder (as keys) /root/.ssh, outside "),
        ({"build": {"context": "{folder}", "cache_to": ["type=local,dest=/etc/cache"]}}, {},
         "build: cache_to: writes the build cache /etc/cache, outside "),
        ({"build": {"context": "{folder}", "secrets": [{"source": "s"}]}},
         {"secrets": {"s": {"file": "/etc/shadow"}}}, "build: secrets: s reads /etc/shadow"),
        ({"env_file": [{"path": "/etc/environment"}]}, {},
         "env_file: reads /etc/environment, outside "),
        ({"label_file": ["/etc/hostname"]}, {}, "label_file: reads /etc/hostname, outside "),
    ],
)  # fmt: skip
def test_every_file_a_host_gets_from_the_machine_must_lie_in_the_folder(
    change: dict[str, Any], top: dict[str, Any], said: str, project: tuple[Path, Roots]
) -> None:
    """Not only binds: a named volume's bind, a config's or secret's file, a build context,
    Dockerfile, extra context, local cache or build secret, an env or label file (Compose
    reads and drops these; a newer one may print them): each outside the folder is refused."""
    folder, roots = project
    change = json.loads(json.dumps(change).replace("{folder}", str(folder)))
    cfg = _with(change, top)
    (found,) = unsafe(cfg, docker_host="", roots=roots)
    assert found.startswith(f"service app1: {said}"), found
    inside = json.loads(json.dumps(cfg).replace("/etc", f"{folder}/conf").replace(
        "/root", f"{folder}/conf"))  # fmt: skip
    assert unsafe(inside, docker_host="", roots=roots) == []


@pytest.mark.parametrize(
    ("change", "top", "said"),
    [
        ({"build": {"context": ".", "ssh": ["default"]}}, {},
         "build: ssh: the builder would use your SSH agent"),
        ({"build": {"context": ".", "network": "host"}}, {},
         "build: network host: the builder on the machine's own network"),
        ({"build": {"context": ".", "privileged": True}}, {}, "build: privileged: a privileged"),
        ({"build": {"context": ".", "entitlements": ["network.host"]}}, {},
         "build: entitlements network.host"),
        ({"build": {"context": ".", "frobnicate": 1}}, {}, "build: frobnicate: a build setting"
         " this check does not know"),
        ({"cgroup_parent": "system.slice"}, {}, "cgroup_parent: system.slice: the host in a"
         " cgroup of the machine's"),
        ({"runtime": "nvidia"}, {}, "runtime: nvidia: a runtime of the machine's"),
        ({"logging": {"driver": "syslog", "options": {"syslog-address": "unix:///dev/log"}}}, {},
         "logging: driver syslog: the engine would hand the host's output to the machine"),
        ({"oom_score_adj": -1000}, {}, "oom_score_adj: the machine's own processes would die"),
        ({"oom_kill_disable": True}, {}, "oom_kill_disable: the machine's own processes"),
        ({"external_links": ["portainer"]}, {}, "external_links: portainer: a container outside"),
        ({"use_api_socket": True}, {}, "use_api_socket: the engine's API socket inside a host"),
        ({"provider": {"type": "model"}}, {}, "provider: Compose would run a program"),
        ({"models": ["llm"]}, {}, "models: the machine's model runner"),
        ({"credential_spec": {"file": "x.json"}}, {}, "credential_spec: the machine's"),
        ({"deploy": {"resources": {"reservations": {"devices": [{"capabilities": ["gpu"]}]}}}},
         {}, "deploy: resources.reservations.devices: the machine's devices"),
        ({"lifecycle_hook": "x"}, {}, "lifecycle_hook: a setting this check does not know"),
        ({"security_opt": ["seccomp=/etc/profile.json"]}, {}, "security_opt:"
         " seccomp=/etc/profile.json: changes the engine's confinement of the host"),
        ({"security_opt": ["label=type:spc_t"]}, {}, "security_opt: label=type:spc_t: changes"),
        ({"volumes": [{"type": "npipe", "source": "//./pipe/docker_engine", "target": "/p"}]},
         {}, "volumes: a npipe mount: only binds, volumes and tmpfs"),
        ({"volumes": [{"type": "volume", "source": "v", "target": "/v"}]},
         {"volumes": {"v": {"external": True, "name": "prod_mysql-data"}}},
         "volumes: mounts prod_mysql-data, a volume of the machine outside the stack"),
        ({"volumes": [{"type": "volume", "source": "v", "target": "/v"}]},
         {"volumes": {"v": {"name": "other_mysql1-data"}}},
         "volumes: mounts the volume other_mysql1-data, not the stack's own p_v"),
        ({"volumes": [{"type": "volume", "source": "v", "target": "/v"}]},
         {"volumes": {"v": {"name": "p_v", "driver": "rexray"}}},
         "volumes: volume v is a rexray volume, a plugin of the machine"),
        ({"volumes": [{"type": "volume", "source": "v", "target": "/v"}]},
         {"volumes": {"v": {"driver_opts": {"type": "ext4", "device": "/dev/sda1"}}}},
         "volumes: volume v mounts /dev/sda1 on the machine"),
        ({"volumes": [{"type": "volume", "source": "v", "target": "/v"}]},
         {"volumes": {"v": {"driver_opts": {"type": "nfs", "o": "addr=10.0.0.5",
                                            "device": ":/export"}}}},
         "volumes: volume v mounts :/export on the machine"),
        ({"networks": {"lan": None}}, {"networks": {"lan": {"external": True, "name": "host"}}},
         "networks: joins host, a network of the machine outside the stack"),
        ({"networks": {"n": None}}, {"networks": {"n": {"name": "prod_default"}}},
         "networks: joins the network prod_default, not the stack's own p_n"),
        ({"networks": {"n": None}}, {"networks": {"n": {"driver": "macvlan"}}},
         "networks: network n has driver macvlan: hosts on the machine's own network"),
        ({"networks": {"n": None}}, {"networks": {"n": {"ipam": {"driver": "infoblox"}}}},
         "networks: network n has IPAM driver infoblox, a plugin of the machine"),
        ({"network_mode": "bridge"}, {}, "network_mode: bridge: the engine's default network,"
         " shared with every container of the machine"),
        ({"post_start": [{"command": ["sh"], "privileged": True}]}, {},
         "post_start: a privileged hook can reach the machine"),
        ({"networks": {"n": None}}, {"networks": {"n": {"driver_opts": {
            "com.docker.network.bridge.gateway_mode_ipv4": "routed"}}}},
         "networks: network n sets com.docker.network.bridge.gateway_mode_ipv4: changes how"),
    ],
)  # fmt: skip
def test_each_other_way_past_the_container_is_named(
    change: dict[str, Any], top: dict[str, Any], said: str, project: tuple[Path, Roots]
) -> None:
    """A builder with your SSH agent, the machine's network or privileges; a cgroup parent, a
    runtime or log driver of the machine's; protection from its OOM killer; containers,
    volumes and networks outside the stack, or of a plugin, or mounted with driver options;
    the engine's API socket; the engine's default bridge; a privileged hook; a program Compose
    would run; any confinement option but no-new-privileges; a setting (or mount type) this
    check does not know: each named."""
    _folder, roots = project
    cfg = _with(change, {"name": "p", **top})
    found = unsafe(cfg, docker_host="", roots=roots)
    assert len(found) == 1 and found[0].startswith(f"service app1: {said}"), found


def test_a_top_level_setting_this_check_does_not_know_is_refused() -> None:
    """`models` (the machine's model runner) and any top-level key a newer Compose may add,
    but `x-` extensions (which Compose ignores)."""
    cfg = _with({}, {"models": {"llm": {"model": "ai/x"}}, "x-notes": "fine", "frob": {}})
    assert unsafe(cfg, docker_host="") == [
        "top-level frob: a setting this check does not know (another Compose version?)",
        "top-level models: the machine's model runner",
    ]


def test_what_the_harness_gives_a_host_is_not_judged() -> None:
    """The harness's own files may give a host what a user's may not (a later feature gives
    some hosts /dev/fuse and CAP_SYS_ADMIN): with the harness's configuration as the
    baseline, only what the user's files add is judged — a capability more on that host, the
    same on a host of theirs, a bind or a namespace."""
    harness = _with({"cap_add": ["SYS_ADMIN"], "devices": [{"source": "/dev/fuse"}],
                     "security_opt": ["apparmor:unconfined"]})  # fmt: skip
    assert len(unsafe(harness, docker_host="")) == 3
    assert unsafe(harness, docker_host="", baseline=harness) == []
    user = copy.deepcopy(harness)
    user["services"]["app1"]["cap_add"] = ["SYS_ADMIN", "NET_ADMIN"]
    user["services"]["mine"] = copy.deepcopy(harness["services"]["app1"])
    assert unsafe(user, docker_host="", baseline=harness) == [
        "service app1: cap_add: extra capabilities NET_ADMIN",
        "service mine: cap_add: extra capabilities SYS_ADMIN",
        "service mine: devices: the machine's devices inside a host",
        "service mine: security_opt: apparmor:unconfined: the host runs without the engine's"
        " confinement",
    ]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_JSON, _JSON)
def test_fuzz_with_roots_and_a_baseline_never_raises(resolved: Any, baseline: Any) -> None:
    """Roots and a baseline of any shape change nothing about the contract: a list of one-line
    findings, never an exception."""
    roots = Roots.of([Path("/srv/proj/x.yaml")], Path("/srv/harness/compose"))
    found = unsafe(resolved, docker_host="", roots=roots, baseline=baseline)
    assert all(isinstance(f, str) and "\n" not in f and len(f) <= 300 for f in found)
