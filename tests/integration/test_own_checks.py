"""Your own checks against real hosts: declared host checks of every kind, and a Python check
loaded as module:attribute from the topology file's folder — each passing on a healthy stack,
each failing with its own cause once the property it names is broken, and each coming back
after a power loss."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator

import pytest

from reboot_harness.checks.recovery import wait_recovered
from reboot_harness.checks.run import run_checks
from reboot_harness.model.results import CheckResult
from reboot_harness.run.bringup import bring_up
from reboot_harness.run.request import RunRequest
from reboot_harness.stack.core import Stack
from reboot_harness.stack.removal import down
from tests.integration.conftest import unique_project

pytestmark = pytest.mark.docker

TOPOLOGY = """\
host_checks:
  - {host: lb1, check: web, process: nginx}
  - {host: lb1, check: web, port: 80}
  - {host: lb1, check: web, http: "http://127.0.0.1/health"}
  - {host: app1, check: web, http: "http://127.0.0.1:8000/health"}
  - {host: graphite, check: carbon, process: carbon-cache}
  - {host: graphite, check: carbon, port: 2003}
  - {hosts: [app1, app2], check: app fds, nofile: {process: supervisord, min: 10000}}
  - host: graphite
    check: carbon dirs
    directory: {path: /run/graphite, owner: _graphite, group: _graphite, mode: "755"}
  - {host: graphite, check: carbon dirs, file: {path: /run/graphite/stale.pid, present: false}}
  - {host: graphite, check: carbon dirs, file: /etc/carbon/carbon.conf}
python_checks: ["own_checks:LB_NAME"]
"""

# A Python check of a user's own: each LB's nginx answers `nginx -v` with a version.
OWN_CHECKS = """\
from reboot_harness.checks.api import Context, check


@check(
    "lb version",
    causes={"no-version": "nginx -v printed no version"},
    subjects=lambda topology: list(topology.lbs),
)
def LB_NAME(ctx: Context):
    results = []
    for host in ctx.subjects:
        reason = ctx.down(host)
        if reason:
            results.append(ctx.fail(host, "nginx -v", reason, cause="host-down"))
            continue
        out = ctx.exec(host, ["nginx", "-v"])
        text = (out.stderr or out.stdout).strip()
        if "nginx/" in text:
            results.append(ctx.ok(host, "nginx -v names a version", text))
        else:
            results.append(ctx.fail(host, "nginx -v names a version", out.brief(),
                                    cause="no-version"))
    return results
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("own")
    (folder / "topology.yaml").write_text(TOPOLOGY)
    (folder / "own_checks.py").write_text(textwrap.dedent(OWN_CHECKS))
    name = unique_project("own")
    report = bring_up(name, RunRequest(topology_file=folder / "topology.yaml"))
    try:
        yield report.stack
    finally:
        down(name)


def _by_subject(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {s: r for r in results for s in r.subjects}


def test_every_own_check_holds_on_a_healthy_stack(stack: Stack) -> None:
    """`up` waited for them too; each names what it saw."""
    results = run_checks(stack)
    own = [
        r for r in results if r.check in ("web", "carbon", "app fds", "carbon dirs", "lb version")
    ]
    assert [r.line() for r in own if not r.ok] == []
    seen = _by_subject(own)
    assert "nginx alive (pid" in seen["lb1/process:nginx"].observed
    assert seen["lb1/http:http://127.0.0.1/health"].observed.startswith("answered HTTP/1.1 200")
    assert "soft 10000" in seen["app1/nofile:supervisord"].observed
    assert seen["graphite/directory:/run/graphite"].observed == (
        "/run/graphite _graphite:_graphite mode 755"
    )
    assert {r.host for r in own if r.check == "lb version"} == {"lb1", "lb2"}
    assert all("nginx/" in r.observed for r in own if r.check == "lb version")


def test_each_kind_fails_with_its_own_cause(stack: Stack) -> None:
    """Break what each entry names; the result says so with its cause, and nothing else
    fails for it."""
    stack.shell("graphite", "chmod 700 /run/graphite && touch /run/graphite/stale.pid")
    conf = "/etc/supervisor/supervisord.conf"
    assert stack.exec("app1", ["supervisorctl", "-c", conf, "stop", "app"]).ok
    stack.signal_program("graphite", "carbon-cache", "KILL")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(
        "carbon" in name for _pid, name in stack.processes("graphite")
    ):
        time.sleep(0.2)
    results = run_checks(stack, ["web", "carbon", "carbon dirs", "app fds", "lb version"])
    by = _by_subject(results)
    assert by["graphite/process:carbon-cache"].causes == ("process-not-running",)
    assert by["graphite/port:2003"].causes == ("port-not-listening",)
    assert by["app1/http:http://127.0.0.1:8000/health"].causes == ("http-unreachable",)
    assert by["lb1/http:http://127.0.0.1/health"].ok  # through app2
    assert by["lb1/process:nginx"].ok and by["lb1/port:80"].ok
    assert by["graphite/directory:/run/graphite"].causes == ("directory-wrong-mode",)
    assert by["graphite/directory:/run/graphite"].observed.endswith("mode 700")
    assert by["graphite/file:/run/graphite/stale.pid"].causes == ("file-present",)
    assert by["graphite/file:/etc/carbon/carbon.conf"].ok
    assert by["app1/nofile:supervisord"].ok and by["app2/nofile:supervisord"].ok


def test_own_checks_come_back_after_a_power_loss(stack: Stack) -> None:
    """A hard reboot of lb1, app1 and graphite: nginx, the app and carbon start again,
    /run/graphite is made again at boot (tmpfs /run: the stale pid file and the wrong mode are
    gone) — the checks hold."""
    for host in ("lb1", "app1", "graphite"):
        stack.power_off(host, mode="hard")
        stack.power_on(host)
    wait_recovered(stack, timeout=90)
    results = run_checks(stack, ["web", "carbon", "carbon dirs", "app fds", "lb version"])
    assert [r.line() for r in results if not r.ok] == []


def test_a_python_check_on_a_host_that_is_off_says_host_down(stack: Stack) -> None:
    stack.power_off("lb2", mode="crash")
    try:
        results = run_checks(stack, ["lb version", "web"])
        lb2 = [r for r in results if r.host == "lb2"]
        assert [(r.check, r.causes) for r in lb2] == [("lb version", ("host-down",))]
    finally:
        stack.power_on("lb2")
        wait_recovered(stack, timeout=90)
