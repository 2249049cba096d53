"""Your compose file as the stack (`--stack FILE`): read and checked before anything starts —
the topology taken from it, the boot model written over it and judged with it as a whole, the
shipped scenarios that fit listed, the rest not applicable; `seed` is the shipped stack. No
engine here (the compose plugin resolves files offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reboot_harness.errors import UsageError
from reboot_harness.inputs.compose.offline import refuse_unsafe
from reboot_harness.inputs.compose.yourstack import BOOT_MODEL_FILE, LABELS, read_stack
from reboot_harness.inputs.paths import default_compose_dir, stack_path
from reboot_harness.run.request import RunRequest
from reboot_harness.stack import labels

ROOT = Path(__file__).resolve().parents[2]
TEAM = ROOT / "tests" / "integration" / "yourstack" / "docker-compose.yml"
RH = [sys.executable, "-m", "reboot_harness"]
NO_ENGINE = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def test_seed_is_the_shipped_stack_and_anything_else_a_file() -> None:
    assert stack_path(None) is None and stack_path("seed") is None
    assert stack_path("docker-compose.yml") == Path("docker-compose.yml")


def test_the_topology_is_read_from_your_file_when_you_give_none() -> None:
    """One host per service with the daemon its entrypoint runs, and no role of the shipped
    stack: a topology of your stack starts empty."""
    request = RunRequest(stack=TEAM)
    topo = request.topology
    assert topo is not None
    assert dict(topo.daemons) == {"web": ("python3",), "worker": ("sleep",)}
    assert (topo.lbs, topo.apps, topo.redis_hosts, topo.mysql_hosts) == ((), (), (), ())
    assert (topo.dns_host, topo.graphite_host) == ("", "")


def test_a_topology_file_wins_over_the_one_read_from_your_file(tmp_path: Path) -> None:
    own = tmp_path / "topology.yaml"
    own.write_text(
        'lbs: []\napps: []\nredis_hosts: []\nmysql_hosts: []\ndns_host: ""\ngraphite_host: ""\n'
        "daemons: {web: [python3]}\n"
    )
    request = RunRequest(stack=TEAM, topology_file=own)
    assert request.topology is not None and list(request.topology.daemons) == ["web"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "--stack {path}: no such compose file; give your docker-compose.yml, or `seed`"),
        ("services: {}\n", "{path}: not a compose file: no services"),
        ("services: [a\n", "{path}: "),
    ],
)
def test_a_bad_stack_file_is_one_line_naming_it(
    tmp_path: Path, text: str | None, message: str
) -> None:
    path = tmp_path / "docker-compose.yml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(UsageError) as e:
        RunRequest(stack=path)
    assert str(e.value).startswith(message.format(path=path)), e.value
    assert "\n" not in str(e.value)


def test_the_boot_model_goes_over_every_service_with_the_harness_labels() -> None:
    """tmpfs /run and /tmp, the boot open-file limit, no restart policy, every port on
    127.0.0.1 at a port the engine picks (stacks side by side never collide), the labels `down`
    and `gc` find hosts by."""
    yours = read_stack(TEAM, default_compose_dir())
    services = yaml.safe_load(yours.override().replace("!override", ""))["services"]
    assert set(services) == {"web", "worker"}
    for svc in services.values():
        assert "/run" in svc["tmpfs"] and svc["restart"] == "no"
        assert svc["ulimits"] == {"nofile": {"soft": 1024, "hard": 16384}}
        assert svc["labels"] == dict(LABELS)
    assert services["web"]["ports"] == ["127.0.0.1::8080"]
    assert set(LABELS) == {labels.MANAGED_LABEL, labels.OWNER_LABEL, labels.KEEP_LABEL}


def test_your_file_is_judged_with_the_boot_model_over_it(
    tmp_path: Path, compose_plugin: None
) -> None:
    """A port on every address in your file is what the boot model takes back to 127.0.0.1:
    judged as they start together, your stack is safe (judged alone, it is not); what the boot
    model does not take away — the engine's socket — is still refused, naming your file."""
    yours = read_stack(TEAM, default_compose_dir())
    kwargs = dict(compose_dir=default_compose_dir(), project="rh-check", domain="rh.test",
                  allow=False, code_dir="")  # fmt: skip
    assert yours.refuse_unsafe([[]], **kwargs) == []  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="port"):
        refuse_unsafe([[TEAM]], seed=False, **kwargs)  # type: ignore[arg-type]
    sock = tmp_path / "docker-compose.yml"
    bind = "    volumes: ['/var/run/docker.sock:/var/run/docker.sock']\n"
    restart = "    restart: unless-stopped\n"
    sock.write_text(TEAM.read_text().replace(restart, restart + bind))
    with pytest.raises(UsageError) as e:
        read_stack(sock, default_compose_dir()).refuse_unsafe([[]], **kwargs)  # type: ignore[arg-type]
    assert str(sock) in str(e.value) and "docker.sock" in str(e.value)
    assert BOOT_MODEL_FILE not in str(e.value)  # (the harness's own file is not yours to fix)


def test_list_with_your_stack_lists_the_scenarios_that_fit(compose_plugin: None) -> None:
    """`list --stack FILE --json`: the scenarios whose hosts come from the topology apply; the
    post-mortem's own are not applicable, each with the host or check it names; no engine."""
    proc = subprocess.run([*RH, "list", "--stack", str(TEAM), "--json"], capture_output=True,
                          text=True, env=NO_ENGINE, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert [s["name"] for s in listed["scenarios"]] == ["cold-start", "reboot-each-host"]
    for s in listed["scenarios"]:
        assert s["hosts"] == ["web", "worker"], s
    why = {s["name"]: s["why"] for s in listed["not_applicable"]}
    assert why["socketio-abrupt-termination"] == (
        "steps[1].reboot.host: unknown host 'app1'; known: web, worker"
    ), why
    assert "needs a host in graphite_host" in why["graphite-piddir"], why


def test_run_with_a_bad_stack_file_starts_nothing(tmp_path: Path) -> None:
    missing_file = tmp_path / "nope.yml"
    proc = subprocess.run([*RH, "run", "reboot-each-host", "--stack", str(missing_file)],
                          capture_output=True, text=True, env=NO_ENGINE, timeout=60,
                          check=False)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"reboot-harness run: --stack {missing_file}: no such compose file; give your"
        " docker-compose.yml, or `seed` for the stack the harness ships"
    ]


def test_the_ports_the_checks_read_are_published_where_your_file_does_not() -> None:
    """A redis of yours without `ports:` is still read by `redis roles` (from the harness's
    side): the harness publishes it on 127.0.0.1, at a port the engine picks; a port your file
    publishes already, and a host with no role that reads a port, get nothing."""
    from reboot_harness.model.topology import Topology
    from reboot_harness.stack.lifecycle import ports_to_publish

    topo = Topology(
        lbs=("proxy",), apps=(), redis_hosts=("queue",), mysql_hosts=(), dns_host="",
        graphite_host="", daemons={"proxy": ("nginx",), "queue": ("redis-server",),
                                   "worker": ("supervisord",)},
    )  # fmt: skip
    resolved = {"services": {
        "proxy": {"ports": [{"target": 80, "published": "8080", "protocol": "tcp"}]},
        "queue": {"ports": [{"target": 9121, "published": "9121", "protocol": "tcp"}]},
        "worker": {},
    }}  # fmt: skip
    assert ports_to_publish(resolved, topo) == {"queue": ["127.0.0.1::6379/tcp"]}
    with_sentinel = Topology(
        redis_hosts=("queue",), daemons={"queue": ("redis-server", "redis-sentinel")}
    )
    assert ports_to_publish({"services": {"queue": {}}}, with_sentinel) == {
        "queue": ["127.0.0.1::6379/tcp", "127.0.0.1::26379/tcp"]
    }


def test_a_sentinel_failover_does_not_apply_to_a_redis_without_sentinel(tmp_path: Path) -> None:
    """A step that fails redis over with Sentinel is refused on a topology whose hosts run no
    redis-sentinel (a queue's lone redis), with the reason — so a shipped scenario with one is
    listed as not applicable there —, and taken where sentinels run on hosts of their own."""
    from reboot_harness.model.topology import Topology
    from reboot_harness.scenarios.find import load

    path = tmp_path / "failover.yaml"
    path.write_text(
        "name: failover\ndescription: x\nsteps:\n  - sentinel_failover: {}\n"
        "expect: {checks: [processes]}\n"
    )
    lone = Topology(redis_hosts=("queue",), daemons={"queue": ("redis-server",)})
    with pytest.raises(UsageError) as e:
        load(path, lone)
    assert str(e.value) == (
        f"{path}: steps[0].sentinel_failover: needs Redis Sentinel, and no host of this"
        " topology runs it (no redis-sentinel among its daemons)"
    )
    apart = Topology(redis_hosts=("r1", "r2"), daemons={"r1": ("redis-server",),
                     "r2": ("redis-server",), "s1": ("redis-sentinel",)})  # fmt: skip
    assert load(path, apart).steps[0].touches(apart) == ("r1", "r2", "s1")
