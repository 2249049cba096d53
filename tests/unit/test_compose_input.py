"""Hostile compose overrides (`up`/`run --compose FILE`): exit 2 and one line naming the file, or
the service and key, before the Docker engine is asked anything; never a traceback, never exit 1,
nothing started, nothing left behind.

These need the `docker` command and its Compose v2 plugin (Compose resolves the files, with no
engine), not an engine: without the plugin they fail in CI and are skipped elsewhere.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reboot_harness.errors import UsageError
from reboot_harness.faces import cli
from tests.layered_example import layered_memcached

RH = [sys.executable, "-m", "reboot_harness"]
ROOT = Path(__file__).resolve().parents[2]
UNSAFE = "services:\n  app1:\n    privileged: true\n"
UNSAFE_LINE = (
    "are not safe to rehearse with: service app1: privileged: a privileged host can reach the"
    " machine; remove it, or pass --allow-unsafe-compose"
)
REACHED = "(test) passed the compose check: bring_up reached"


@pytest.fixture
def silent_engine(tmp_path: Path) -> Iterator[str]:
    """A Docker socket that accepts connections and never answers: asking it anything hangs
    (the SDK waits 120 s), so a command that returns at once never asked it."""
    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(64)
    try:
        yield f"unix://{path}"
    finally:
        server.close()


def _run(
    args: list[str], tmp_path: Path, docker_host: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    state, tmp = tmp_path / "state", tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "DOCKER_HOST": docker_host, "XDG_STATE_HOME": str(state),
           "TMPDIR": str(tmp)}  # fmt: skip
    began = time.monotonic()
    proc = subprocess.run([*RH, *args], capture_output=True, text=True, env=env, timeout=60)
    return proc, time.monotonic() - began


@pytest.mark.parametrize("engine", ["missing", "silent"])
@pytest.mark.parametrize("command", [["up", "--project", "x"], ["run", "cold-start"]])
def test_unsafe_compose_is_refused_before_the_engine_is_asked(
    command: list[str], engine: str, tmp_path: Path, silent_engine: str, compose_plugin: None
) -> None:
    """`up`/`run --compose UNSAFE` with DOCKER_HOST at a socket that does not exist, or at one
    that never answers: the unsafe line (service and key), not "no engine" and not a hang; exit
    2; nothing under $XDG_STATE_HOME, no temporary file left. (bench/bench_inputs.py times it;
    the bound here only proves the silent engine was never asked: asking it hangs 120 s.)"""
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text(UNSAFE)
    host = "unix:///nonexistent/docker.sock" if engine == "missing" else silent_engine
    proc, took = _run([*command, "--compose", str(unsafe)], tmp_path, host)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line == f"reboot-harness {command[0]}: compose files ({unsafe}) {UNSAFE_LINE}"
    assert took < 20, f"{took:.1f}s: was the engine asked?"
    assert not (tmp_path / "state").exists(), "nothing may be recorded for a refused stack"
    assert list((tmp_path / "tmp").iterdir()) == [], "the offline resolution left files"


def test_a_safe_override_goes_on_to_the_engine(tmp_path: Path, compose_plugin: None) -> None:
    """The check refuses only what is unsafe: a safe override passes it, and then (only then)
    the missing engine is what stops `up`."""
    safe = tmp_path / "safe.yaml"
    safe.write_text("services:\n  app1:\n    environment: {GREETING: hello}\n")
    proc, _took = _run(["up", "--project", "x", "--compose", str(safe)], tmp_path,
                       "unix:///nonexistent/docker.sock")  # fmt: skip
    assert proc.returncode == 2
    assert "no Docker engine reachable" in proc.stderr, proc.stderr
    assert not (tmp_path / "state").exists()


def test_run_refuses_an_unsafe_incident_of_your_own_before_the_engine(
    tmp_path: Path, compose_plugin: None
) -> None:
    """An incident of the user's (`--incidents DIR`) is a compose override too: `run` judges
    every stack it would start (each variant's files) before anything, the engine included."""
    incidents = tmp_path / "incidents"
    incidents.mkdir()
    text = (ROOT / "compose/incidents/no-minfds.yaml").read_text()
    unsafe = UNSAFE.replace("app1", "graphite")  # (the incident's own hosts are app1, app2)
    (incidents / "my-minfds.yaml").write_text(text.replace("services:\n", unsafe, 1))
    scenario = tmp_path / "mine.yaml"
    mine = (ROOT / "scenarios/no-minfds.yaml").read_text()
    scenario.write_text(mine.replace("incident: no-minfds", "incident: my-minfds"))
    proc, _took = _run(["run", str(scenario), "--incidents", str(incidents)], tmp_path,
                       "unix:///nonexistent/docker.sock")  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    said = UNSAFE_LINE.replace("app1", "graphite")
    assert f"compose files ({incidents / 'my-minfds.yaml'}) {said}" in line


def test_the_library_refuses_before_the_engine_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compose_plugin: None
) -> None:
    """`reboot_harness.stack.lifecycle.start` (what the runner and the pytest plugin call) refuses
    an unsafe file before it asks the engine anything: here any engine call fails the test."""
    from reboot_harness.stack import engine, lifecycle

    def asked(*_a: object, **_k: object) -> None:
        raise AssertionError("the engine was asked before the compose files were judged")

    # every module's handle on the engine, wherever the stack layer keeps one
    for module in [m for m in list(sys.modules.values()) if m is not None]:
        if module.__name__.startswith("reboot_harness.") and getattr(module, "client", None) is (
            engine.client
        ):
            monkeypatch.setattr(module, "client", asked)
    monkeypatch.setattr(lifecycle, "project_exists", asked)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # and if one is missed
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text(UNSAFE)
    with pytest.raises(UsageError, match="service app1: privileged: "):
        lifecycle.start("x", extra_compose=[unsafe], keep=False)
    assert not (tmp_path / "state").exists()


# -- hostile files, through the command line (in-process; nothing can start) ---------------------


@pytest.fixture
def up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """`reboot-harness up --project fz --compose FILE` → (exit code, stderr lines); the runner is
    replaced by a stand-in that says it was reached, so nothing can start whatever the file."""
    import reboot_harness.run.bringup

    def reached(*_a: object, **_k: object) -> None:
        raise UsageError(REACHED)

    monkeypatch.setattr(reboot_harness.run.bringup, "bring_up", reached)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")

    def call(path: Path, *more: str) -> tuple[int, list[str]]:
        code = cli.main(["up", "--project", "fz", "--compose", str(path), *more])
        return code, capsys.readouterr().err.strip().splitlines()

    return call


def _bomb(levels: int = 9) -> str:
    lines = ['x-0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"x-{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\nservices: {}\n"


SVC = "services:\n  app1:\n"
# name: (file content, what the one line says; None: accepted, the engine is next)
HOSTILE: dict[str, tuple[str | bytes, str | None]] = {
    "not-a-mapping": ("- a\n- b\n", "expected a mapping (a compose file: services, volumes"),
    "services-a-list": ("services: [a, b]\n", "services: expected a mapping of service name"),
    "service-a-list": (SVC.replace("\n  app1:\n", "\n  app1: [a]\n"), "services.app1: expected"
                       " a mapping of settings (image, volumes, ports, ...), not a list"),
    "services-null": ("services:\n", "services must be a mapping"),  # Compose's own words
    "not-utf8": (b"services:\n  app1:\n    hostname: \xff\xfe\n", "byte 32: not UTF-8 text"),
    "nul-byte": ("services: {}\n\x00\n", "YAML syntax error: unacceptable character #x0000"),
    "tab-indent": (SVC + "\tprivileged: true\n", "YAML syntax error"),
    "two-documents": ("services: {}\n---\nservices: {}\n", "expected a single document"),
    "duplicate-key": (SVC + "    privileged: true\n    privileged: false\n",
                      "line 4: duplicate key 'privileged'; each key may appear once"),
    "billion-laughs": (_bomb(), "its aliases expand to more than 100000 YAML nodes"),
    "recursive-alias": ("x-a: &a [*a]\nservices: {}\n", "an alias refers to a node that holds"),
    "deep-nesting": (SVC + "    labels: " + "[" * 200 + "]" * 200 + "\n", "nested deeper than"),
    "privileged-yes-string": (SVC + '    privileged: "yes"\n', "service app1: privileged: "),
    "privileged-interpolated": (SVC + '    privileged: "${RH_TEST_UNSET:-true}"\n',
                                "service app1: privileged: "),
    "privileged-integer": (SVC + "    privileged: 1\n", "privileged must be a boolean or string"),
    "cap-add-string": (SVC + "    cap_add: SYS_ADMIN\n", "cap_add must be a list"),
    "ulimits-reset": (SVC + "    ulimits: !reset {}\n", "service app1: ulimits: no boot nofile"),
    "nofile-reset": (SVC + "    ulimits:\n      nofile: !reset null\n",
                     "service app1: ulimits: no boot nofile"),
    "ulimits-override": (SVC + "    ulimits: !override {core: 0}\n",
                         "service app1: ulimits: no boot nofile"),
    "tmpfs-reset": (SVC + "    tmpfs: !reset []\n", "service app1: tmpfs: no tmpfs /run"),
    "port-long-any-address": (SVC + "    ports:\n      - {target: 80, host_ip: 0.0.0.0,"
                              ' published: "8080"}\n', "service app1: ports: port 80 published"
                              " on 0.0.0.0, not 127.0.0.1"),
    "port-short-every-address": (SVC + '    ports: ["8080:80"]\n',
                                 "port 80 published on every address"),
    "network-host": (SVC + "    network_mode: host\n    networks: !reset {}\n",
                     "service app1: network_mode: the machine's own namespace"),
    "network-host-with-networks": (SVC + "    network_mode: host\n",
                                   "mutually exclusive `network_mode` and `networks`"),
    "network-service": (SVC + '    network_mode: "service:app2"\n    networks: !reset {}\n',
                        None),
    "network-container": (SVC + '    network_mode: "container:vpn"\n    networks: !reset {}\n',
                          "network_mode: the namespace of container:vpn"),
    "socket-long-bind": (SVC + "    volumes:\n      - {type: bind, source: /var/run/docker.sock,"
                         " target: /s}\n", "volumes: binds the Docker socket"
                         " (/var/run/docker.sock)"),
    "socket-short-bind": (SVC + "    volumes: [/run/docker.sock:/s]\n",
                          "binds the Docker socket (/run/docker.sock)"),
    "socket-folder-bind": (SVC + "    volumes: [/var/run:/h]\n",
                           "binds the folder of /var/run/docker.sock (/var/run)"),
    "socket-named-volume": ("volumes:\n  sock: {driver_opts: {type: none, o: bind, device: /run}}"
                            "\n" + SVC + "    volumes: [sock:/h]\n", "binds the folder of"),
    "proc-bind": (SVC + "    volumes: [/proc:/hostproc:ro]\n", "binds the machine's /proc"),
    "pid-host": (SVC + "    pid: host\n", "service app1: pid: the machine's own namespace"),
    "ipc-host": (SVC + "    ipc: host\n", "service app1: ipc: the machine's own namespace"),
    "uts-host": (SVC + "    uts: host\n", "service app1: uts: "),
    "userns-host": (SVC + "    userns_mode: host\n", "service app1: userns_mode: the machine's"),
    "cgroup-host": (SVC + "    cgroup: host\n", "service app1: cgroup: the machine's own"),
    "seccomp-unconfined": (SVC + "    security_opt: [seccomp=unconfined]\n",
                           "security_opt: seccomp=unconfined: the host runs without"),
    "apparmor-unconfined": (SVC + "    security_opt: ['apparmor:unconfined']\n",
                            "security_opt: apparmor:unconfined: "),
    "sysctls": (SVC + "    sysctls: {net.core.somaxconn: 1024}\n", None),
    "restart-always": (SVC + "    restart: always\n", "restart: policy always"),
    "devices": (SVC + "    devices: [/dev/kvm:/dev/kvm]\n", "service app1: devices: "),
    "new-service-like-no-server": ("services:\n  side:\n    image: busybox\n",
                                   "service side: tmpfs: no tmpfs /run"),
    "empty-file": ("", None),
    "only-a-comment": ("# nothing\n", None),
    "unknown-key": (SVC + "    colour: red\n", "colour"),  # Compose names it
    # -- round 3: a path must lie in the folder of the compose file that names it
    "bind-etc": (SVC + "    volumes: [/etc:/host-etc:ro]\n",
                 "service app1: volumes: binds /etc, outside "),
    "bind-root": (SVC + "    volumes: [/root:/r]\n", "service app1: volumes: binds /root, outside"),
    "bind-engine-state": (SVC + "    volumes: [/var/lib/docker:/d:ro]\n", "service app1:"
                          " volumes: binds the engine's state (/var/lib/docker): every container"),
    "bind-long-syntax": (SVC + "    volumes:\n      - {type: bind, source: /etc, target: /e}\n",
                         "service app1: volumes: binds /etc, outside "),
    "bind-interpolated": (SVC + '    volumes: ["${RH_TEST_UNSET:-/etc}:/x"]\n',
                          "service app1: volumes: binds /etc, outside "),
    "bind-through-anchor-and-merge-key": ("x-mounts: &m\n  volumes: [/root:/r]\n" + SVC
                                          + "    <<: *m\n", "service app1: volumes: binds /root"),
    "bind-in-a-profile-not-started": ("services:\n  hidden:\n    image: busybox\n    profiles:"
                                      " [later]\n    volumes: [/etc:/e]\n",
                                      "service hidden: volumes: binds /etc, outside "),
    "bind-as-named-volume": ("volumes:\n  data: {driver_opts: {type: none, o: bind, device:"
                             " /etc}}\n" + SVC + "    volumes: [data:/v]\n",
                             "service app1: volumes: binds /etc, outside "),
    "volume-external": ("volumes:\n  data: {external: true, name: prod-data}\n" + SVC
                        + "    volumes: [data:/v]\n", "mounts prod-data, a volume of the machine"),
    "env-file-outside": (SVC + "    env_file: /etc/os-release\n",
                         "service app1: env_file: reads /etc/os-release"),
    "env-file-through-a-variable": (SVC + "    env_file: ${HOME}/.aws/credentials\n",
                                    "service app1: env_file: ${HOME}/.aws/credentials: a path"
                                    " through a variable cannot be judged"),
    "env-file-the-harness-secrets": (SVC + '    env_file: ["${RH_SECRETS_FILE:-secrets.env}"]\n',
                                     None),
    "include-outside": ("include: [/etc/rh-evil.yaml]\n", "include: reads /etc/rh-evil.yaml,"
                        " outside "),
    "include-env-file-outside": ("include:\n  - {path: inc.yaml, env_file: /root/.aws/creds}\n",
                                 "include: env_file: reads /root/.aws/creds, outside "),
    "include-from-the-network": ("include: [oci://example.com/evil:1]\n",
                                 "a file from the network cannot be judged"),
    "extends-outside": (SVC + "    extends: {file: /etc/rh-evil.yaml, service: app1}\n",
                        "service app1: extends: reads /etc/rh-evil.yaml, outside "),
    "config-file-outside": (SVC + "    configs: [c]\nconfigs:\n  c: {file: /etc/passwd}\n",
                            "service app1: configs: c reads /etc/passwd, outside "),
    "secret-file-outside": (SVC + "    secrets: [s]\nsecrets:\n  s: {file: /etc/shadow}\n",
                            "service app1: secrets: s reads /etc/shadow, outside "),
    "build-context-outside": (SVC + "    build: {context: /root}\n",
                              "service app1: build: sends the builder /root, outside "),
    "build-dockerfile-outside": (SVC + "    build: {context: ., dockerfile: /etc/Dockerfile}\n",
                                 "build: reads the Dockerfile /etc/Dockerfile, outside "),
    "build-ssh-agent": (SVC + "    build: {context: ., ssh: [default]}\n",
                        "service app1: build: ssh: the builder would use your SSH agent"),
    "network-external-host": (SVC + "    networks: !override [h]\nnetworks:\n  h: {external:"
                              " true, name: host}\n", "service app1: networks: joins host, a"
                              " network of the machine outside the stack"),
    "seccomp-profile": (SVC + "    security_opt: [seccomp=/etc/rh.json]\n", "security_opt:"
                        " seccomp=/etc/rh.json: changes the engine's confinement"),
    "log-driver-syslog": (SVC + "    logging: {driver: syslog}\n", "service app1: logging:"
                          " driver syslog: the engine would hand the host's output"),
    "cgroup-parent": (SVC + "    cgroup_parent: system.slice\n", "service app1: cgroup_parent:"),
    "oom-protected": (SVC + "    oom_score_adj: -1000\n", "service app1: oom_score_adj: "),
    "external-links": (SVC + "    external_links: [portainer]\n",
                       "service app1: external_links: portainer: a container outside"),
    "bind-of-your-own-folder": (SVC + "    volumes: [./conf:/etc/x:ro]\n", None),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_overrides_are_one_line_before_anything_starts(
    case: str, tmp_path: Path, up: Any, compose_plugin: None
) -> None:
    """Each hostile override: exit 2 and one line naming the file (or its service and key), or
    accepted as safe (then the engine is next); never a traceback or exit 1, nothing started."""
    content, said = HOSTILE[case]
    path = tmp_path / f"{case}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    code, lines = up(path)
    assert code == 2 and len(lines) == 1, lines
    if said is None:
        assert lines == [f"reboot-harness up: {REACHED}"]
    else:
        assert lines[0].startswith("reboot-harness up: ") and str(path) in lines[0], lines
        assert said in lines[0], lines
    assert not (tmp_path / "state").exists()


def test_huge_missing_and_included_files(tmp_path: Path, up: Any, compose_plugin: None) -> None:
    """A file over 1 MiB is refused unread; a missing file or a folder is named; what a file
    pulls in (`include`, `extends`) is judged with it."""
    huge = tmp_path / "huge.yaml"
    huge.write_text("# " + "x" * (2 * 1024 * 1024) + "\nservices: {}\n")
    assert up(huge) == (2, [f"reboot-harness up: {huge}: file is {huge.stat().st_size} bytes;"
                            " the limit is 1048576 bytes (1 MiB)"])  # fmt: skip
    for absent in (tmp_path / "nope.yaml", tmp_path):
        assert up(absent) == (2, [f"reboot-harness up: {absent}: compose file not found"])
    (tmp_path / "evil.yaml").write_text("services:\n  app1:\n    pid: host\n")
    (tmp_path / "bomb.yaml").write_text(_bomb())
    evil, bomb = tmp_path / "evil.yaml", tmp_path / "bomb.yaml"  # (relative: from compose/)
    for how in (f"include: [{evil}]\n", f"services:\n  app1:\n    extends: {{file: {evil},"
                " service: app1}\n"):  # fmt: skip
        (tmp_path / "main.yaml").write_text(how)
        code, lines = up(tmp_path / "main.yaml")
        assert code == 2 and "service app1: pid: the machine's own namespace" in lines[0], lines
    (tmp_path / "main.yaml").write_text(f"include: [{bomb}]\n")
    code, lines = up(tmp_path / "main.yaml")
    assert code == 2 and f"{tmp_path / 'bomb.yaml'}: its aliases expand" in lines[0], lines


def test_allow_unsafe_still_refuses_what_cannot_be_read(
    tmp_path: Path, up: Any, monkeypatch: pytest.MonkeyPatch, compose_plugin: None
) -> None:
    """--allow-unsafe-compose lets unsafe settings through (the runner warns about each) but
    never a file that cannot be read: a billion-laughs file would take the machine's memory."""
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb())
    code = cli.main(["up", "--project", "fz", "--compose", str(path), "--allow-unsafe-compose"])
    assert code == 2
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text(UNSAFE)
    code = cli.main(["up", "--project", "fz", "--compose", str(unsafe), "--allow-unsafe-compose"])
    assert code == 2  # the stand-in runner was reached: allowed


# -- fuzzing ------------------------------------------------------------------------------------

_WORD = st.sampled_from(
    ["app1", "lb1", "redis1", "side", "host", "service:app2", "container:x", "/run", "/tmp",
     "/var/run/docker.sock", "/proc", "0.0.0.0", "127.0.0.1", "8080:80", "nofile", "yes", "no",
     "true", "${X:-true}", "$$", "{", ":", "-", "~", "*", "&", "!reset", "", "ALL", "bind"]
)  # fmt: skip
_KEY = st.sampled_from(
    ["privileged", "cap_add", "devices", "network_mode", "networks", "pid", "ipc", "uts",
     "userns_mode", "cgroup", "security_opt", "sysctls", "tmpfs", "ulimits", "ports", "volumes",
     "restart", "image", "environment", "labels", "extends", "deploy", "nofile", "soft", "hard",
     "type", "source", "target", "host_ip", "x-extra", "include", "services", "build"]
)  # fmt: skip
_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | _WORD
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEY | _WORD, inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
_SERVICES = st.dictionaries(_WORD, st.dictionaries(_KEY, _VALUE, max_size=5) | _VALUE, max_size=3)
_RANDOM_DOC = st.dictionaries(st.sampled_from(["services", "volumes", "networks", "x-a"]) | _KEY,
                              _SERVICES | _VALUE, max_size=3) | _VALUE  # fmt: skip


def _mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` seven times in eight, else any value (of the wrong type, most likely)."""
    return st.one_of(*[good] * 7, _VALUE)


_NS = _mostly(st.sampled_from(["host", "service:app2", "container:x", "private", "none"]))
_PORT = st.sampled_from(["8080:80", "127.0.0.1::80", "0.0.0.0:81:81", "[::1]::82", "83"]) | (
    st.fixed_dictionaries(
        {"target": st.integers(1, 65535)},
        optional={"host_ip": st.sampled_from(["0.0.0.0", "::", "127.0.0.1", "::1"])},
    )
)
_VOLUME = st.sampled_from(
    ["/var/run/docker.sock:/s", "/proc:/p:ro", "/srv/conf:/etc/x", "data:/d", "/var/run:/r",
     "/dev/null:/etc/motd"]
) | st.fixed_dictionaries(
    {"type": st.sampled_from(["bind", "volume", "tmpfs"]), "target": st.just("/mnt")},
    optional={"source": _WORD},
)  # fmt: skip
_NOFILE = (
    st.integers(0, 2**20)
    | st.none()
    | st.fixed_dictionaries({"soft": st.integers(0, 9999), "hard": st.integers(0, 99999)})
)
# Settings close to what users write, right or wrong (so that Compose accepts many and the rules
# get to judge them), each with a chance of a value of another type.
_SETTINGS = st.fixed_dictionaries(
    {},
    optional={
        "privileged": _mostly(st.booleans() | st.sampled_from(["yes", "true", "0"])),
        "cap_add": _mostly(st.lists(st.sampled_from(["NET_ADMIN", "ALL"]), max_size=2)),
        **dict.fromkeys(["network_mode", "pid", "ipc", "uts", "userns_mode", "cgroup"], _NS),
        "ports": _mostly(st.lists(_PORT, max_size=2)),
        "volumes": _mostly(st.lists(_VOLUME, max_size=2)),
        "tmpfs": _mostly(st.lists(st.sampled_from(["/run", "/tmp", "/run:exec"]), max_size=2)),
        "ulimits": _mostly(st.fixed_dictionaries({}, optional={"nofile": _NOFILE})),
        "security_opt": _mostly(
            st.lists(st.sampled_from(["seccomp=unconfined", "no-new-privileges:true"]), max_size=2)
        ),
        "sysctls": _mostly(st.just({"net.core.somaxconn": 1024})),
        "restart": _mostly(st.sampled_from(["no", "always", "on-failure"])),
        "devices": _mostly(st.just(["/dev/kvm:/dev/kvm"])),
        "environment": _mostly(st.dictionaries(st.sampled_from(["A", "B"]), _WORD, max_size=2)),
    },
)
_PLAUSIBLE_DOC = st.fixed_dictionaries(
    {"services": st.dictionaries(st.sampled_from(["app1", "lb2", "mysql1"]), _SETTINGS,
                                 min_size=1, max_size=2)},
    optional={"x-note": _VALUE},
)  # fmt: skip
_DOC = _PLAUSIBLE_DOC | _PLAUSIBLE_DOC | _RANDOM_DOC
# what is done to the YAML text: nothing, or an oddity YAML (or Compose) must cope with
_ODDITY = st.sampled_from(
    [""] * 8 + ["tag-reset", "tag-override", "anchor", "tab", "nul", "latin1", "truncate",
                "two-docs", "dup-line", "bom", "directive"]
)  # fmt: skip


def _odd(text: str, oddity: str, cut: int) -> bytes:
    lines = text.splitlines(keepends=True) or [""]
    at = cut % len(lines)
    if oddity in ("tag-reset", "tag-override"):
        tag = "!reset" if oddity == "tag-reset" else "!override"
        text = text.replace(": ", f": {tag} ", 1)
    elif oddity == "anchor":
        text = "x-anchor: &a {privileged: true}\n" + text.replace("{}", "*a", 1)
    elif oddity == "tab":
        text = "".join(lines[:at]) + "\t" + "".join(lines[at:])
    elif oddity == "nul":
        text = text[: cut % (len(text) + 1)] + "\x00" + text[cut % (len(text) + 1) :]
    elif oddity == "latin1":
        return text.encode() + b"\nx-b: \xe9t\xe9\n"
    elif oddity == "truncate":
        text = text[: cut % (len(text) + 1)]
    elif oddity == "two-docs":
        text = text + "\n---\nservices: {}\n"
    elif oddity == "dup-line":
        text = "".join(lines[: at + 1]) + lines[at] + "".join(lines[at + 1 :])
    elif oddity == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    elif oddity == "directive":
        text = "%YAML 1.1\n---\n" + text
    return text.encode("utf-8", "surrogatepass")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(doc=_DOC, oddity=_ODDITY, cut=st.integers(0, 10_000))
def test_fuzz_compose_overrides_are_accepted_or_refused_in_one_line(
    doc: object, oddity: str, cut: int, tmp_path: Path, up: Any, compose_plugin: None
) -> None:
    """Any generated override (random services, keys, nesting, values of the wrong type, YAML
    oddities) is either accepted as safe or refused with exit 2 and one line naming the file:
    never a traceback (cli.main would raise), never exit 1, never anything started (the runner
    is a stand-in)."""
    path = tmp_path / "fuzz.yaml"
    text = yaml.safe_dump(doc, allow_unicode=True, default_flow_style=bool(cut % 2))
    path.write_bytes(_odd(text, oddity, cut))
    code, lines = up(path)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("reboot-harness up: "), lines
    if lines[0] != f"reboot-harness up: {REACHED}":
        assert str(path) in lines[0], lines
    # (--hypothesis-show-statistics shows how the examples ended)
    event("accepted" if REACHED in lines[0] else "unsafe" if "not safe" in lines[0] else
          "Compose refused" if "do not parse" in lines[0] else "refused unread")  # fmt: skip
    assert not (tmp_path / "state").exists()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DOC, _ODDITY, st.integers(0, 10_000))
def test_fuzz_reading_an_override_raises_only_one_line_usage_errors(
    doc: object, oddity: str, cut: int
) -> None:
    """The reading before Compose (size, UTF-8, YAML, nesting, aliases, shape) raises only a
    one-line UsageError naming the file, whatever it reads (no Compose needed: many examples)."""
    import tempfile

    from reboot_harness.inputs.compose.files import read_compose_file

    text = yaml.safe_dump(doc, allow_unicode=True)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "o.yaml"
        path.write_bytes(_odd(text, oddity, cut))
        try:
            read_compose_file(path, Path(d))
        except UsageError as e:
            assert "\n" not in str(e) and str(e).startswith(str(path)), str(e)


@pytest.mark.parametrize("missing", ["docker", "compose plugin"])
def test_no_compose_is_an_environment_problem_in_one_line(missing: str, tmp_path: Path) -> None:
    """Without the `docker` command or its Compose plugin the files cannot be judged: exit 2,
    one line saying what to install (as when the engine is missing), nothing started."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if missing == "compose plugin":
        fake = bin_dir / "docker"
        fake.write_text(
            "#!/bin/sh\necho \"docker: 'compose' is not a docker command.\" >&2\nexit 1\n"
        )
        fake.chmod(0o755)
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text(UNSAFE)
    env = {**os.environ, "PATH": str(bin_dir), "DOCKER_HOST": "unix:///nonexistent/docker.sock",
           "XDG_STATE_HOME": str(tmp_path / "state")}  # fmt: skip
    proc = subprocess.run([*RH, "up", "--project", "x", "--compose", str(unsafe)],
                          capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    said = "the `docker` command is not on PATH" if missing == "docker" else (
        "the Docker Compose v2 plugin is missing"
    )  # fmt: skip
    assert line.startswith(f"reboot-harness up: {said}"), line
    assert not (tmp_path / "state").exists()


def test_relative_binds_are_judged_where_they_will_point(
    tmp_path: Path, up: Any, compose_plugin: None
) -> None:
    """A relative bind in your own file means "next to this file"
    (reboot_harness.inputs.compose.anchor): it is judged there, before the engine, e.g.
    `../../var/run` climbing from your folder to /var/run."""
    climb = "../" * (len(tmp_path.resolve().parts) - 1)
    path = tmp_path / "rel.yaml"
    path.write_text(f'services:\n  app1:\n    volumes: ["{climb}var/run:/r"]\n')
    code, lines = up(path)
    assert code == 2, lines
    assert "service app1: volumes: binds the folder of /var/run/docker.sock (/var/run)" in lines[0]
    path.write_text('services:\n  app1:\n    volumes: ["./conf:/etc/x"]\n')  # next to it: fine
    assert up(path) == (2, [f"reboot-harness up: {REACHED}"])


# -- round 3: what a file names must lie in its folder ---------------------------------------------


def test_a_climb_or_a_link_out_of_your_folder_is_refused(
    tmp_path: Path, up: Any, compose_plugin: None
) -> None:
    """`../../etc` climbing from your folder to the machine's /etc, and a link in your folder
    that points there, are judged where they lead (the engine mounts what a link points at);
    a link that stays in your folder is fine."""
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "etc").symlink_to("/etc")
    (folder / "conf").mkdir()
    (folder / "mine").symlink_to(folder / "conf")
    climb = "../" * len(folder.resolve().parts)
    path = folder / "evil.yaml"
    link = f"binds {folder}/etc/ssh (a link to /etc/ssh), outside"
    for source, said in [(f"{climb}etc", "binds /etc, outside"), ("./etc/ssh", link)]:
        path.write_text(f'services:\n  app1:\n    volumes: ["{source}:/x:ro"]\n')
        code, lines = up(path)
        assert code == 2 and len(lines) == 1, lines
        assert lines[0] == (
            f"reboot-harness up: compose files ({path}) are not safe to rehearse with: service"
            f" app1: volumes: {said} {folder} (the compose file's folder, where what it names"
            " must lie); remove it, or pass --allow-unsafe-compose"
        )
    path.write_text('services:\n  app1:\n    volumes: ["./mine:/x:ro"]\n')
    assert up(path) == (2, [f"reboot-harness up: {REACHED}"])


def test_a_file_may_not_point_into_another_files_folder(
    tmp_path: Path, up: Any, compose_plugin: None
) -> None:
    """With two files of yours in two folders, each path must lie in the folder of the file
    that names it, not the other's: the refusal names that file alone."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "data").mkdir(parents=True)
    one, two = tmp_path / "a" / "one.yaml", tmp_path / "b" / "two.yaml"
    one.write_text(f"services:\n  app1:\n    volumes: ['{tmp_path}/b/data:/d']\n")
    two.write_text("services:\n  app2:\n    volumes: ['./data:/d']\n")
    code, lines = up(one, "--compose", str(two))
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(
        f"reboot-harness up: compose files ({one}) are not safe to rehearse with: service app1:"
        f" volumes: binds {tmp_path}/b/data, outside {tmp_path}/a (the compose file's folder"
    ), lines
    one.write_text("services:\n  app1:\n    volumes: ['./data:/d']\n")
    assert up(one, "--compose", str(two)) == (2, [f"reboot-harness up: {REACHED}"])


def test_a_file_in_a_folder_the_machine_shares_grants_no_folder(
    up: Any, compose_plugin: None
) -> None:
    """A compose file lying directly in /tmp does not make /tmp yours (others' sockets, ssh
    agents): a bind there is refused, saying why and what to do."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir="/tmp") as f:
        f.write("services:\n  app1:\n    volumes: ['/tmp/.X11-unix:/x']\n")
        f.flush()
        code, lines = up(Path(f.name))
    assert code == 2 and len(lines) == 1, lines
    assert (
        "binds /tmp/.X11-unix, outside the folders a compose file may use (/tmp, where it"
        in (lines[0])
    )
    assert (
        "shared by the whole machine and grants none: put the file in a folder of its own"
        in (lines[0])
    )


def test_a_project_is_judged_with_its_topology(
    up: Any, compose_plugin: None, tmp_path: Path
) -> None:
    """A project whose override in compose/ builds its host from ../images: the folder its
    topology's Python checks come from (code the harness runs anyway) is the project's, so it
    passes with its topology; without it, the build context is outside the compose file's
    folder."""
    example = tmp_path / "project"
    cache, topology = layered_memcached(example)
    assert up(cache, "--topology", str(topology)) == (2, [f"reboot-harness up: {REACHED}"])
    code, lines = up(cache)
    assert (
        code == 2
        and f"service cache: build: sends the builder {example}/images/cache," in (lines[0])
    )


@pytest.mark.parametrize("incident", sorted(p.name for p in (ROOT / "compose/incidents").glob(
    "*.yaml")))  # fmt: skip
def test_every_shipped_incident_passes_beside_a_file_of_yours(
    incident: str, tmp_path: Path, compose_plugin: None
) -> None:
    """The shipped incidents bind files of the harness's compose folder (its own data): with an
    override of yours that binds a file of its own folder, each set passes."""
    from reboot_harness.inputs.compose.offline import refuse_unsafe
    from reboot_harness.inputs.paths import default_compose_dir

    mine = tmp_path / "mine.yaml"
    mine.write_text("services:\n  graphite:\n    volumes: ['./motd:/etc/motd:ro']\n")
    compose = default_compose_dir()
    assert refuse_unsafe([[mine, compose / "incidents" / incident]], compose_dir=compose) == []


def test_what_the_harness_gives_a_host_is_not_judged_only_what_you_add(
    tmp_path: Path, compose_plugin: None
) -> None:
    """The harness's own stack may give a host /dev/fuse and CAP_SYS_ADMIN (what a user's
    file may not): a file of yours over it passes; one that adds a capability is refused for
    that capability alone."""
    import shutil

    from reboot_harness.inputs.compose.offline import refuse_unsafe

    compose = tmp_path / "compose"
    shutil.copytree(ROOT / "compose", compose, ignore=shutil.ignore_patterns("images"))
    stack = compose / "stack.yaml"
    grant = "    cap_add: [SYS_ADMIN]\n    devices: ['/dev/fuse:/dev/fuse']\n"
    stack.write_text(stack.read_text().replace("  app1:\n", "  app1:\n" + grant, 1))
    (tmp_path / "proj").mkdir()
    mine = tmp_path / "proj" / "mine.yaml"
    mine.write_text("services:\n  app1:\n    environment: {GREETING: hello}\n")
    assert refuse_unsafe([[mine]], compose_dir=compose) == []
    mine.write_text("services:\n  app1:\n    cap_add: [NET_ADMIN]\n")
    with pytest.raises(UsageError) as refused:
        refuse_unsafe([[mine]], compose_dir=compose)
    assert str(refused.value) == (
        f"compose files ({mine}) are not safe to rehearse with: service app1: cap_add: extra"
        " capabilities NET_ADMIN; remove it, or pass --allow-unsafe-compose"
    )


def test_allow_unsafe_lets_a_path_through_and_says_so(tmp_path: Path, compose_plugin: None) -> None:
    """--allow-unsafe-compose: what would be refused is returned (the runner warns about
    each), whether Compose prints it (a bind) or only the file says it (an env file)."""
    from reboot_harness.inputs.compose.offline import refuse_unsafe
    from reboot_harness.inputs.paths import default_compose_dir

    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "services:\n  app1:\n    volumes: [/etc:/e:ro]\n    env_file: /etc/os-release\n"
    )
    allowed = refuse_unsafe([[mine]], compose_dir=default_compose_dir(), allow=True)
    assert [p.split(" (")[0].split(",")[0] for p in allowed] == [
        "service app1: env_file: reads /etc/os-release", "service app1: volumes: binds /etc"
    ], allowed  # fmt: skip
