"""Your own checks, without Docker: declared host checks and Python checks in topology files
(validation, naming, loading by module:attribute and by entry point), how they join the
scenarios' and incidents' vocabulary, and how their facts are judged."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reboot_harness.checks import available, declared
from reboot_harness.checks.api import Check, check, load
from reboot_harness.checks.run import run_checks
from reboot_harness.errors import ScenarioError, StackError, UsageError
from reboot_harness.inputs.own_checks import python_checks
from reboot_harness.inputs.topology import load_topology
from reboot_harness.model.checks import COMMON_CAUSES, HOST_CHECK_CAUSES
from reboot_harness.model.hostview import ExecResult
from reboot_harness.model.topology import HostCheck, Topology
from reboot_harness.scenarios.files import load_scenario
from reboot_harness.scenarios.incidents import load_incident
from tests.fakestack import FakeStack

SHIPPED_HOSTS = """\
daemons:
  dns: [dnsmasq]
  lb1: [nginx]
  lb2: [nginx]
  app1: [supervisord, python3]
  app2: [supervisord, python3]
  redis1: [supervisord, redis-server, redis-sentinel]
  redis2: [supervisord, redis-server, redis-sentinel]
  redis3: [supervisord, redis-server, redis-sentinel]
  mysql1: [mariadbd]
  mysql2: [mariadbd]
  graphite: [carbon-cache]
  cache: [memcached]
"""

PY_CHECK = """\
from reboot_harness.checks.api import check

@check("cache stats", causes={"no-stats": "memcached does not answer stats"},
       subjects=lambda topology: [h for h, d in topology.daemons.items() if "memcached" in d])
def stats(ctx):
    return []

not_a_check = 42
"""


def _topology(tmp_path: Path, text: str, name: str = "topology.yaml") -> Path:
    path = tmp_path / name
    path.write_text(SHIPPED_HOSTS + textwrap.dedent(text))
    return path


def test_declared_host_checks_load_one_entry_per_host(tmp_path: Path) -> None:
    topo = load_topology(
        _topology(
            tmp_path,
            """\
            host_checks:
              - {host: cache, process: memcached}
              - {hosts: [app1, app2], check: app fds, nofile: {process: supervisord, min: 10000}}
              - {host: cache, check: cache, directory: {path: /run/memcached, mode: 755}}
              - {host: cache, check: cache, directory: /var/lib/cache}
              - {host: cache, check: cache, port: 11211}
              - {host: app1, http: "http://127.0.0.1:8000/health?x=1"}
              - {host: app1, http: {url: "http://app2:8000/", status: 204}}
              - {host: cache, file: {path: /run/memcached/memcached.pid, present: false}}
              - {host: cache, file: /etc/memcached.conf}
              - {host: cache, port: 11211, from: app1}
              - {hosts: [app1, app2], healthcheck: true}
            """,
        )
    )
    assert [e.subject for e in topo.host_checks] == [
        "cache/process:memcached",
        "app1/nofile:supervisord",
        "app2/nofile:supervisord",
        "cache/directory:/run/memcached",
        "cache/directory:/var/lib/cache",
        "cache/port:11211",
        "app1/http:http://127.0.0.1:8000/health?x=1",
        "app1/http:http://app2:8000/",
        "cache/file:/run/memcached/memcached.pid",
        "cache/file:/etc/memcached.conf",
        "cache/port:11211 from app1",
        "app1/healthcheck",
        "app2/healthcheck",
    ]
    assert topo.host_checks[10] == HostCheck("host", "cache", "port", "11211", peer="app1")
    assert topo.host_checks[10].observer == "app1" and topo.host_checks[5].observer == "cache"
    assert topo.host_checks[1] == HostCheck("app fds", "app1", "nofile", "supervisord", 10000)
    assert topo.host_checks[3].mode == "755"
    assert topo.host_checks[8].present is False and topo.host_checks[9].present is True
    assert list(available.declared(topo)) == ["host", "app fds", "cache"]
    names = available.names(topo)
    assert names[-3:] == ("host", "app fds", "cache") and "nginx" in names


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{host: cache}", "host_checks.0: expected exactly one of process, nofile, directory"),
        ("{host: cache, process: a, port: 1}", "expected exactly one of .* got process, port"),
        ("{process: a}", "expected host: NAME or hosts"),
        ("{host: cache, hosts: [cache], process: a}", "expected host: NAME or hosts"),
        ("{hosts: [], process: a}", "expected host: NAME or hosts"),
        ("{host: nowhere, process: a}", "host_checks.0: 'nowhere' is not a host of daemons"),
        ("{host: cache, process: 'a b'}", "process: .*expected a process name"),
        ("{host: cache, process: a, colour: red}", "host_checks.0.colour: Extra inputs"),
        ("{host: cache, port: 70000}", "host_checks.0.port: .*less than or equal to 65535"),
        ("{host: cache, port: '80'}", "host_checks.0.port: .*valid integer"),
        ("{host: cache, nofile: {process: a, min: 0}}", "nofile.min: .*greater than 0"),
        ("{host: cache, nofile: {process: a}}", "nofile.min: Field required"),
        ("{host: cache, directory: {path: run}}", "directory.path: .*absolute path"),
        ("{host: cache, directory: {path: /r, mode: 'rwx'}}", "directory.mode: .*octal mode"),
        ("{host: cache, directory: {path: /r, mode: 789}}", "directory.mode: .*octal mode"),
        ("{host: cache, directory: {path: /r, mode: 0755}}", "number 493: quote it"),
        ("{host: cache, http: 'https://x/'}", "http.url: .*expected an http:// URL"),
        ("{host: cache, http: 'http:///x'}", "http.url: .*expected an http:// URL"),
        ("{host: cache, http: 'http://x:99999/'}", "http.url: .*Port out of range"),
        ("{host: cache, http: {url: 'http://x/', status: 42}}", "status: .*greater than or"),
        ("{host: cache, file: {path: /x, present: 'no'}}", "file.present: .*valid boolean"),
        ("{host: cache, check: nginx, process: a}", "'nginx' is a shipped check's name"),
        ("{host: cache, check: '', process: a}", "check name '' is not valid"),
        ("{host: cache, port: 1, from: nowhere}", "host_checks.0: from: 'nowhere' is not a host"),
        ("{host: cache, port: 1, from: cache}", "from: 'cache' is the host itself; name another"),
        ("{host: cache, process: a, from: app1}", "from: only a port is tried from another"),
        ("{host: cache, healthcheck: false}", "healthcheck: .*expected true"),
        ("{host: cache, healthcheck: yes}", "healthcheck: .*expected true"),
    ],
)
def test_bad_host_checks_name_file_entry_and_key(tmp_path: Path, entry: str, message: str) -> None:
    path = _topology(tmp_path, f"host_checks:\n  - {entry}\n")
    with pytest.raises(UsageError, match=message) as err:
        load_topology(path)
    assert str(err.value).startswith(f"{path}: host_checks.0")
    assert "\n" not in str(err.value)


def test_the_same_entry_twice_is_refused(tmp_path: Path) -> None:
    path = _topology(
        tmp_path, "host_checks:\n  - {host: cache, port: 1}\n  - {hosts: [cache], port: 1}\n"
    )
    with pytest.raises(UsageError, match=r"host_checks.1: declared twice \(cache/port:1\)"):
        load_topology(path)


def test_a_python_check_by_module_attribute_from_the_topology_folder(tmp_path: Path) -> None:
    (tmp_path / "my_cache_checks.py").write_text(PY_CHECK)
    path = _topology(tmp_path, "python_checks: ['my_cache_checks:stats']\n")
    topo = load_topology(path)
    found = python_checks(topo)
    assert list(found) == ["cache stats"]
    assert found["cache stats"].subjects_for(topo) == ("cache",)
    kinds = available.kinds(topo)
    assert list(kinds["cache stats"].causes) == ["no-stats"]
    assert available.causes_of(topo, "cache stats")[:2] == ("no-stats", "host-down")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no_such_module_xyz:stats", "cannot import no_such_module_xyz .*ModuleNotFoundError"),
        ("my_cache_checks2:nothing", "my_cache_checks2 has no nothing"),
        ("my_cache_checks2:not_a_check", "is a int, not a reboot_harness.checks.Check"),
        ("no such entry point", "no entry point of group reboot_harness.checks has that name"),
        ("mod:", "expected module:attribute"),
    ],
)
def test_bad_python_checks_are_one_line_naming_the_file(
    tmp_path: Path, ref: str, message: str
) -> None:
    (tmp_path / "my_cache_checks2.py").write_text(PY_CHECK)
    path = _topology(tmp_path, f"python_checks: [{ref!r}]\n")
    with pytest.raises(UsageError, match=message) as err:
        load_topology(path)
    assert str(err.value).startswith(f"{path}: python_checks: python check {ref!r}")


def test_a_python_check_named_like_a_declared_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "my_cache_checks3.py").write_text(PY_CHECK)
    path = _topology(
        tmp_path,
        "host_checks: [{host: cache, check: cache stats, port: 1}]\n"
        "python_checks: ['my_cache_checks3:stats']\n",
    )
    with pytest.raises(UsageError, match="'cache stats' is also a declared host check's name"):
        load_topology(path)


def test_a_python_check_by_entry_point(tmp_path: Path) -> None:
    """An installed distribution that declares the entry point (a real dist-info on sys.path:
    the same lookup as a pip-installed package)."""
    (tmp_path / "ep_cache_checks.py").write_text(PY_CHECK)
    info = tmp_path / "ep_cache_checks-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-cache-checks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[reboot_harness.checks]\ncache stats = ep_cache_checks:stats\n"
        "wrong name = ep_cache_checks:stats\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        found = load("cache stats")
        assert isinstance(found, Check) and found.name == "cache stats"
        with pytest.raises(UsageError, match="is check 'cache stats'; name the entry point as"):
            load("wrong name")
    finally:
        sys.path.remove(str(tmp_path))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "nginx"}, "is a shipped check's"),
        ({"name": "-x"}, "is not valid"),
        ({"causes": {"Bad Cause": "x"}}, "cause 'Bad Cause' is not valid"),
        ({"causes": {"host-down": "x"}}, "is every check's already"),
        ({"causes": {"ok-cause": ""}}, "needs a one-line meaning"),
        ({"subjects": "cache"}, "subjects must be a function of the topology or a list"),
        ({"unobserved": ["no-answer"]}, r"unobserved causes \['no-answer'\] are not among"),
    ],
)
def test_the_check_decorator_refuses_bad_declarations(kwargs: dict, message: str) -> None:
    args = {"name": "mine", "causes": {"broken": "it broke"}, "subjects": ["cache"], **kwargs}
    with pytest.raises(ValueError, match=message):
        check(args.pop("name"), **args)(lambda ctx: [])


def test_a_python_check_says_which_of_its_causes_mean_it_could_not_see() -> None:
    """`unobserved` marks causes that say the check got no answer; the others are mechanisms
    (and every common cause is one that could not see)."""
    made = check(
        "mine",
        causes={"no-answer": "it did not answer", "broken": "it says it is broken"},
        subjects=["cache"],
        unobserved=["no-answer"],
    )(lambda ctx: [])
    kind = made.kind()
    assert kind.mechanisms == ("broken",)
    assert kind.kind_of("no-answer") == kind.kind_of("host-unreadable") == "unobserved"


def test_scenarios_and_incidents_may_name_own_checks_and_causes(tmp_path: Path) -> None:
    topo = load_topology(
        _topology(tmp_path, "host_checks: [{host: cache, check: cache, port: 11211}]\n")
    )
    incident = tmp_path / "cache-lost.yaml"
    incident.write_text(
        "services: {cache: {environment: {X: '1'}}}\n"
        "x-reboot-harness:\n  summary: the cache port is lost\n"
        "  reproduced_by: [{check: cache, cause: port-not-listening, host: cache}]\n"
    )
    assert load_incident(incident, topo).reproduced_by[0].cause == "port-not-listening"
    incident.write_text(incident.read_text().replace("port-not-listening", "zero-masters"))
    with pytest.raises(ScenarioError, match="unknown cause 'zero-masters' for check 'cache'"):
        load_incident(incident, topo)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: cache-reboot\ndescription: d\nsteps:\n  - reboot: {host: cache}\n"
        "expect:\n  checks: [cache, processes]\n  recover_within: 30s\n"
    )
    loaded = load_scenario(scenario, topology=topo, checks=available.names(topo), incidents={})
    assert loaded.expect.checks == ("cache", "processes")


def test_a_scenario_selecting_a_check_whose_role_is_empty_is_refused(tmp_path: Path) -> None:
    topo = dataclasses.replace(Topology(), graphite_host="")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: s\ndescription: d\nsteps:\n  - reboot: {host: app1}\n"
        "expect:\n  checks: [directories]\n  recover_within: 30s\n"
    )
    with pytest.raises(
        ScenarioError,
        match="check 'directories' cannot run on this topology: it needs a host in"
        " graphite_host; the topology names none",
    ):
        load_scenario(scenario, topology=topo, checks=available.names(topo), incidents={})
    assert "directories" not in available.names(topo)


def test_an_empty_role_in_a_topology_file_is_allowed(tmp_path: Path) -> None:
    topo = load_topology(_topology(tmp_path, 'graphite_host: ""\nlbs: []\n'))
    assert set(available.unavailable(topo)) == {
        "directories", "nginx", "dns", "socket.io", "postgres replication"  # (no postgres_hosts)
    }  # fmt: skip


FACTS = [
    (HostCheck("c", "h", "process", "memcached"), [], False, "process-not-running"),
    (HostCheck("c", "h", "process", "memcached"), ["12 Z"], True, ""),  # filtered in bash
    (HostCheck("c", "h", "nofile", "m", 4096), ["12 1024 16384"], False, "nofile-below-minimum"),
    (HostCheck("c", "h", "nofile", "m", 4096), ["12 4096 16384", "13 8192 8192"], True, ""),
    (HostCheck("c", "h", "nofile", "m", 4096), ["12 unlimited unlimited"], True, ""),
    (HostCheck("c", "h", "nofile", "m", 4096), ["12 ? ?"], False, "host-unreadable"),
    (HostCheck("c", "h", "directory", "/r"), ["missing"], False, "directory-missing"),
    (HostCheck("c", "h", "directory", "/r"), ["other"], False, "not-a-directory"),
    (HostCheck("c", "h", "directory", "/r", owner="u"), ["dir v u 755"], False,
     "directory-wrong-owner"),
    (HostCheck("c", "h", "directory", "/r", group="g"), ["dir u u 755"], False,
     "directory-wrong-owner"),
    (HostCheck("c", "h", "directory", "/r", mode="755"), ["dir u u 700"], False,
     "directory-wrong-mode"),
    (HostCheck("c", "h", "directory", "/r", "u", mode="1777"), ["dir u g 1777"], True, ""),
    (HostCheck("c", "h", "port", "80"), ["no"], False, "port-not-listening"),
    (HostCheck("c", "h", "port", "80"), ["yes"], True, ""),
    (HostCheck("c", "h", "http", "http://x/"), ["ERR cannot connect to x:80"], False,
     "http-unreachable"),
    (HostCheck("c", "h", "http", "http://x/"), ["HTTP/1.1 503 Busy\r"], False,
     "http-wrong-status"),
    (HostCheck("c", "h", "http", "http://x/", status=204), ["HTTP/1.0 204 No"], True, ""),
    (HostCheck("c", "h", "http", "http://x/"), [""], False, "host-unreadable"),
    # What the script printed nothing for (or not its fact) is no reading of it.
    (HostCheck("c", "h", "directory", "/r", "u"), [], False, "host-unreadable"),
    (HostCheck("c", "h", "directory", "/r", "u"), ["dir "], False, "host-unreadable"),
    (HostCheck("c", "h", "port", "80"), [], False, "host-unreadable"),
    (HostCheck("c", "h", "file", "/f"), [""], False, "host-unreadable"),
    (HostCheck("c", "h", "file", "/f", present=False), [], False, "host-unreadable"),
    (HostCheck("c", "h", "file", "/f"), ["no"], False, "file-missing"),
    (HostCheck("c", "h", "file", "/f", present=False), ["yes"], False, "file-present"),
    (HostCheck("c", "h", "file", "/f", present=False), ["no"], True, ""),
    # a port tried from a peer: refused is seen; no answer, no name, anything else is not
    (HostCheck("c", "h", "port", "80", peer="p"), ["open"], True, ""),
    (HostCheck("c", "h", "port", "80", peer="p"), ["refused"], False, "port-refused-from-peer"),
    (HostCheck("c", "h", "port", "80", peer="p"), ["timeout"], False,
     "port-unanswered-from-peer"),
    (HostCheck("c", "h", "port", "80", peer="p"), ["unresolved"], False,
     "port-unanswered-from-peer"),
    (HostCheck("c", "h", "port", "80", peer="p"), ["other No route to host"], False,
     "port-unanswered-from-peer"),
    (HostCheck("c", "h", "port", "80", peer="p"), ["yes"], False, "host-unreadable"),
    (HostCheck("c", "h", "port", "80", peer="p"), [], False, "host-unreadable"),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "facts", "ok", "cause"), FACTS)
def test_facts_are_judged_with_the_declared_causes(
    entry: HostCheck, facts: list[str], ok: bool, cause: str
) -> None:
    r = declared.judge(entry, facts)
    assert (r.ok, r.causes) == (ok, (cause,) if cause else ())
    assert r.subjects == (entry.subject,) and r.expected == entry.expected()
    assert cause == "" or cause in HOST_CHECK_CAUSES or cause in COMMON_CAUSES


@pytest.mark.parametrize(
    ("health", "ok", "cause"),
    [
        ("healthy", True, ""),
        ("unhealthy", False, "healthcheck-unhealthy"),
        ("starting", False, "healthcheck-starting"),
        ("", False, "healthcheck-missing"),
        (StackError("engine said 500"), False, "host-unreadable"),
    ],
)
def test_a_healthcheck_entry_is_the_engines_health_of_the_host(
    health: str | Exception, ok: bool, cause: str
) -> None:
    """`healthcheck: true` reads the engine's health of the host; a host that is down is
    host-down (not asked); the peer of a port that is down makes that entry unreadable, never a
    failure of the host it would have tried."""
    entries = [
        HostCheck("host", "app1", "healthcheck", ""),
        HostCheck("host", "app2", "port", "8000", peer="lb1"),
        HostCheck("host", "app2", "healthcheck", ""),
    ]
    topo = dataclasses.replace(Topology(), host_checks=tuple(entries))
    with FakeStack(topo, statuses={"lb1": "exited", "app2": "running"}) as stack:
        stack.healths["app1"] = health
        results = run_checks(stack, ["host"])  # type: ignore[arg-type]
    got = {r.subjects[0]: (r.ok, r.causes, r.observed) for r in results}
    assert got["app1/healthcheck"][:2] == (ok, (cause,) if cause else ())
    assert got["app2/port:8000 from lb1"][:2] == (False, ("host-unreadable",))
    assert "cannot try it from lb1: host down (exited)" in got["app2/port:8000 from lb1"][2]
    assert got["app2/healthcheck"][:2] == (False, ("healthcheck-missing",))
    assert sorted((c[0], c[1]) for c in stack.calls if c[0] == "health") == [
        ("health", "app1"),
        ("health", "app2"),
    ]
    assert not [c for c in stack.calls if c[0] == "exec" and c[1] == "lb1"], "lb1 is down"


def test_a_port_from_a_peer_runs_in_the_peers_script() -> None:
    """A port tried from a peer is observed by the peer's one script of the run (with the
    peer's own entries), its result named after the host it tried."""
    entries = (
        HostCheck("host", "app2", "port", "8000", peer="lb1"),
        HostCheck("host", "lb1", "port", "80"),
    )
    topo = dataclasses.replace(Topology(), host_checks=entries)
    facts = ExecResult(0, "0\trefused\n1\tyes\nEND\n", "")
    with FakeStack(topo) as stack:
        stack.on("lb1", "", facts)
        results = run_checks(stack, ["host"])  # type: ignore[arg-type]
    assert [(r.host, r.ok, r.causes) for r in results] == [
        ("app2", False, ("port-refused-from-peer",)),
        ("lb1", True, ()),
    ]
    scripts = [c for c in stack.calls if c[0] == "exec"]
    assert [c[1] for c in scripts] == ["lb1"] and "reach app2 8000" in scripts[0][2]


def test_the_host_script_reads_this_machines_proc(tmp_path: Path) -> None:
    """The bash the checks run in a host, run here: this process is alive, a directory and a
    file are as made, a port this test listens on is seen listening."""
    import socket

    (tmp_path / "d").mkdir(mode=0o750)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    free = spare.getsockname()[1]  # bound, never listening: a connection is refused
    entries = [
        HostCheck("c", "h", "process", Path(sys.executable).name),
        HostCheck("c", "h", "nofile", Path(sys.executable).name, 1),
        HostCheck("c", "h", "directory", str(tmp_path / "d"), mode="750"),
        HostCheck("c", "h", "file", str(tmp_path / "nothing"), present=False),
        HostCheck("c", "h", "port", str(port)),
        HostCheck("c", "h", "http", f"http://127.0.0.1:{port}/"),  # listening, never answers
        HostCheck("c", "h", "process", "no-such-process-xyz"),
        HostCheck("c", "127.0.0.1", "port", str(port), peer="p"),
        HostCheck("c", "127.0.0.1", "port", str(free), peer="p"),
        HostCheck("c", "no-such-host.invalid", "port", "80", peer="p"),
    ]
    try:
        out = subprocess.run(
            ["bash", "-c", declared.script(entries)], capture_output=True, text=True, timeout=30
        )
    finally:
        sock.close()
        spare.close()
    assert out.stdout.rstrip().endswith("END"), out.stderr
    results = [
        declared.judge(e, f) for e, f in zip(entries, declared.parse(out.stdout, 10), strict=True)
    ]
    assert [r.ok for r in results] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        True,
        False,
        False,
    ]
    assert results[5].causes == ("http-unreachable",)
    assert results[6].causes == ("process-not-running",)
    assert results[8].causes == ("port-refused-from-peer",), results[8]
    assert results[9].causes == ("port-unanswered-from-peer",), results[9]
    assert "does not resolve" in results[9].observed, results[9]
