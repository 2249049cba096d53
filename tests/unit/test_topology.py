"""Users' own host names: topology files (no Docker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reboot_harness.errors import ScenarioError, UsageError
from reboot_harness.inputs.topology import load_topology
from reboot_harness.scenarios import find

WIDE = {**os.environ, "COLUMNS": "200"}

OWN = """\
domain: example.test
dns_host: ns
lbs: [edge1, edge2]
apps: [web1, web2]
redis_hosts: [cache1, cache2, cache3]
mysql_hosts: [db1, db2]
graphite_host: metrics
daemons:
  ns: [dnsmasq]
  edge1: [nginx]
  edge2: [nginx]
  web1: [supervisord, python3]
  web2: [supervisord, python3]
  cache1: [supervisord, redis-server, redis-sentinel]
  cache2: [supervisord, redis-server, redis-sentinel]
  cache3: [supervisord, redis-server, redis-sentinel]
  db1: [mariadbd]
  db2: [mariadbd]
  metrics: [carbon-cache]
"""


def test_own_topology_loads_and_drives_validation(tmp_path: Path) -> None:
    """A topology file renames the hosts; scenarios are then validated against those names."""
    path = tmp_path / "topo.yaml"
    path.write_text(OWN)
    topo = load_topology(path)
    assert topo.lbs == ("edge1", "edge2") and topo.dns_name == "lb.example.test"
    assert topo.supervisor_hosts == ("web1", "web2", "cache1", "cache2", "cache3")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: s\ndescription: d\nsteps:\n  - reboot: {host: web1}\n  - dns_rotate: {out: edge2}\n"
        "expect: {}\n"
    )
    loaded = find.load(scenario, topo)
    assert loaded.steps[0].host == "web1"  # type: ignore[union-attr]
    scenario.write_text("name: s\ndescription: d\nsteps:\n  - reboot: {host: app1}\nexpect: {}\n")
    with pytest.raises(ScenarioError, match=r"unknown host 'app1'; known: cache1, cache2"):
        find.load(scenario, topo)


def test_hosts_by_role_fit_any_topology_with_those_roles(tmp_path: Path) -> None:
    """`GROUP.N` is the Nth host of a group in the topology's order: long-outage, written with
    them, takes the user's first load balancer and app and second redis and MySQL hosts; a group
    too small says how many hosts it has; a host named like that is the host."""
    path = tmp_path / "topo.yaml"
    path.write_text(OWN)
    topo = load_topology(path)
    scenario = find.load(find.shipped("scenarios") / "long-outage.yaml", topo)

    def picked(scenario: Any) -> list[str]:
        return [getattr(step, "host", "") or getattr(step, "lb", "") for step in scenario.steps]

    # sleep, rotate out, reboot, wait, rotate in, reboot, wait, reboot, wait, reboot, wait, sleep
    assert [h for h in picked(scenario) if h] == [
        "edge1",
        "edge1",
        "edge1",
        "web1",
        "cache2",
        "db2",
    ]
    shipped = find.load(find.shipped("scenarios") / "long-outage.yaml")
    assert [h for h in picked(shipped) if h] == ["lb1", "lb1", "lb1", "app1", "redis2", "mysql2"]
    mine = tmp_path / "s.yaml"
    for host, message in (
        ("redis.4", "'redis.4': group redis has 3 hosts in this topology (cache1, cache2, cache3)"),
        ("apps.3", "'apps.3': group apps has 2 hosts"),
        ("lbs.0", "unknown host 'lbs.0'"),
        ("all.12", "'all.12': group all has 11 hosts"),
    ):
        mine.write_text(
            f"name: s\ndescription: d\nsteps:\n  - reboot: {{host: {host}}}\nexpect: {{}}\n"
        )
        with pytest.raises(ScenarioError) as e:
            find.load(mine, topo)
        assert message in str(e.value), e.value
    mine.write_text("name: s\ndescription: d\nsteps:\n  - reboot: {host: all.11}\nexpect: {}\n")
    assert find.load(mine, topo).steps[0].host == "metrics"  # type: ignore[union-attr]
    named = tmp_path / "named.yaml"
    named.write_text(OWN.replace("metrics", "lbs.1"))
    mine.write_text("name: s\ndescription: d\nsteps:\n  - reboot: {host: lbs.1}\nexpect: {}\n")
    assert find.load(mine, load_topology(named)).steps[0].host == "lbs.1"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour: red\n", "colour: unknown key; valid: domain"),
        ("lbs: [edge9]\n", "lbs: 'edge9' is not a host of daemons"),
        ("graphite_host: nowhere\n", "graphite_host: 'nowhere' is not a host of daemons"),
        ("mysql_port: many\n", "mysql_port: Input should be a valid integer"),
        ("- a\n", "expected a mapping of topology keys"),
        ("lbs: [a\n", "YAML syntax error"),
        ("tmp: {app9: keep}\n", "tmp.app9: 'app9' is not a host of daemons"),
        ("tmp: {app1: wipe}\n", "tmp.app1: unknown policy 'wipe'; valid: clear, keep"),
        ("lbs: [lb1]\nlbs: [lb2]\n", "duplicate key 'lbs'"),
        ("tmp: {app1: no}\n", "tmp.app1: unknown policy 'no'"),  # YAML 1.2: 'no' is text
        ("domain: " + "[" * 200 + "]" * 200 + "\n", "nested deeper"),
        ("domain: x\n" + "#" * (1 << 20) + "\n", "the limit is 1048576 bytes"),
        (
            "daemons: {'../x': [nginx]}\nlbs: ['../x']\n",
            "daemons: '../x' is not a compose service name",
        ),
    ],
)
def test_bad_topology_files_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    """Every problem in a topology file is a usage error naming the file and the key."""
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(UsageError) as e:
        load_topology(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value)


def test_cli_list_with_topology(tmp_path: Path) -> None:
    """`list --topology` validates the shipped scenarios against the user's hosts: those that
    name a host the topology does not have are listed as not applicable (with the name), never
    an exit 2; `--json` lists only the scenarios that apply under `scenarios`."""
    path = tmp_path / "topo.yaml"
    path.write_text(OWN)
    argv = [sys.executable, "-m", "reboot_harness", "list", "--topology", str(path)]
    proc = subprocess.run([*argv, "--json"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    applies = {s["name"] for s in listed["scenarios"]}
    skipped = {s["name"]: s["why"] for s in listed["not_applicable"]}
    # every host of these is taken from the topology (all hosts, or a role's)
    assert {"cold-start", "reboot-each-host", "long-outage"} <= applies, listed
    # these name the shipped stack's hosts
    assert "lb-no-dns-rotation" in skipped and "graphite-piddir" in skipped, skipped
    assert "unknown load balancer 'lb1'" in skipped["lb-no-dns-rotation"], skipped
    assert "known: edge1" in skipped["lb-no-dns-rotation"], skipped
    assert not applies & set(skipped)
    text = subprocess.run(argv, capture_output=True, text=True, check=False, env=WIDE)
    assert text.returncode == 0, text.stderr
    assert "not applicable to this topology" in text.stdout
    assert "lb-no-dns-rotation: steps[" in text.stdout, text.stdout


def test_cli_list_refuses_your_own_scenario_that_names_hosts_your_topology_lacks(
    tmp_path: Path,
) -> None:
    """Only the shipped scenarios may not apply to a topology: a scenario file of your own that
    names a host your topology lacks is an error of the file (exit 2, one line naming it)."""
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    mine = (
        "name: mine\ndescription: x\nsteps:\n  - reboot: {host: lb1}\n"
        "expect: {checks: all, recover_within: 30s}\n"
    )
    (scenarios / "mine.yaml").write_text(mine)
    path = tmp_path / "topo.yaml"
    path.write_text(OWN)
    proc = subprocess.run(
        [sys.executable, "-m", "reboot_harness", "list", "--topology", str(path)],
        capture_output=True, text=True, check=False,
        env={**os.environ, "RH_SCENARIOS_DIR": str(scenarios)},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout
    assert "mine.yaml: steps[0].reboot.host: unknown host 'lb1'" in proc.stderr, proc.stderr


_WORDS = st.sampled_from(
    ["domain", "lbs", "apps", "dns_host", "daemons", "tmp", "redis_hosts", "mysql_hosts",
     "graphite_host", "mysql_port", "lb1", "app1", "keep", "clear", "nginx", "../x", "", "yes"]
)  # fmt: skip
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _WORDS | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_WORDS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_WORDS, _VALUES, max_size=6) | st.text(max_size=120))
def test_fuzz_topology_files_raise_only_usage_errors(data: object) -> None:
    """Any topology file either loads or raises a one-line UsageError naming the file, never
    another exception."""
    import tempfile

    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_topology(path)
        except UsageError as e:
            assert "\n" not in str(e) and str(e).startswith(f"{path}"), str(e)
