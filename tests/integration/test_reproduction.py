"""An incident counts as reproduced by its mechanism, not by a side effect.

Ablation: for each shipped incident, the same incident file with exactly its mechanism removed
(one setting or one boot line; the declaration is unchanged) does not reproduce — the scenario
runs, the judge looks for the same cause, and finds none. And a scenario that stops the very
host an incident's check looks at, without the incident's mechanism, is "incident failed, but
not by its cause", never "reproduced".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import catalog
from harness.incidents import load_incident
from harness.model import Scenario
from harness.paths import default_compose_dir
from harness.scenario_run import ScenarioResult, run_scenario

pytestmark = pytest.mark.docker
INDEPENDENT = True  # each test brings its own stacks: spread over the xdist workers

INCIDENTS = default_compose_dir() / "incidents"


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, f"{old!r} not in the incident file: the ablation is stale"
    return text.replace(old, new)


def _minfds_back(tmp: Path, text: str) -> str:
    """no-minfds without its mechanism: its supervisord.conf with minfds=10000 back."""
    conf = (INCIDENTS / "no-minfds" / "supervisord.conf").read_text()
    assert not re.search(r"^minfds", conf, re.M)
    fixed = tmp / "supervisord.conf"
    fixed.write_text(_replace(conf, "[supervisord]\n", "[supervisord]\nminfds=10000\n"))
    return _replace(text, "./incidents/no-minfds/supervisord.conf", str(fixed))


def _sentinel_state_kept(tmp: Path, text: str) -> str:
    """sentinel-all-replicas without its mechanism: the naive boot keeps sentinel.conf (the
    state Sentinel wrote: current master, epochs, known replicas) instead of re-rendering it
    from the template at every boot."""
    src = INCIDENTS / "sentinel-all-replicas"
    dst = tmp / "sentinel-all-replicas"
    dst.mkdir()
    for f in src.iterdir():
        body = f.read_text()
        if f.name == "naive-boot.sh":
            body = _replace(body, 'cat >"$SCONF" <<SCONF', "cat >/dev/null <<SCONF")
        (dst / f.name).write_text(body)
        (dst / f.name).chmod(f.stat().st_mode)
    return _replace(text, "./incidents/sentinel-all-replicas:", f"{dst}:")


def _password_that_fits(_tmp: Path, text: str) -> str:
    """mysql-long-repl-password without its mechanism: the stored replication password is as
    long as CHANGE MASTER takes (96 characters), so nobody ever shortened it."""
    m = re.search(r'MYSQL_REPL_PASSWORD: "([^"]{97,})"', text)
    assert m, "no over-long MYSQL_REPL_PASSWORD in the incident file: the ablation is stale"
    return _replace(text, m.group(1), m.group(1)[:96])


# incident -> (scenario, how to remove exactly its mechanism from the incident file)
ABLATIONS: dict[str, tuple[str, Callable[[Path, str], str]]] = {
    "no-minfds": ("no-minfds", _minfds_back),
    "graphite-piddir": (
        "graphite-piddir",
        # the pid directory made at every boot instead of once
        lambda _t, text: _replace(text, 'if [ ! -e "$$marker" ]; then', "if true; then"),
    ),
    "graphite-stale-pid": (
        "graphite-stale-pid",
        # pid files from the boot before removed at boot (tmpfiles' `r`): the directory stays
        # on disk
        lambda _t, text: _replace(
            text,
            "        exec /usr/local/sbin/rh-host-init",
            "        rm -f /var/lib/graphite/run/carbon-cache-*.pid\n"
            "        exec /usr/local/sbin/rh-host-init",
        ),
    ),
    "sentinel-all-replicas": ("sentinel-all-replicas", _sentinel_state_kept),
    "mysql-long-repl-password": ("mysql-long-repl-password", _password_that_fits),
    "lb-no-dns-rotation": (
        "lb-no-dns-rotation",
        # the plan with its DNS rotation (the incident's plan drops it)
        lambda _t, text: _replace(text, "  plan:\n    drop: [dns_rotate]\n", ""),
    ),
    "dns-rotation-not-served": (
        "dns-rotation-not-served",
        # dnsmasq reads the LB zone from --hostsdir (reloaded by itself), as the fixed stack
        lambda _t, text: _replace(
            _replace(text, '|--addn-hosts="$$LB_FILE"|', '|--hostsdir="$$HOSTS_DIR"|'),
            "grep -q -- '--addn-hosts'",
            "grep -q -- '--hostsdir'",
        ),
    ),
    "socketio-abrupt-termination": (
        "socketio-abrupt-termination",
        # the LBs' hair trigger gone (max_fails=1 fail_timeout=30s, 5xx counted): the apps
        # still die abruptly (stopsignal=KILL)
        lambda _t, text: _replace(
            _replace(
                text,
                "sed -i -e 's/max_fails=3 fail_timeout=2s;/max_fails=1 fail_timeout=30s;/' \\",
                "sed -i -e 's/max_fails=3 fail_timeout=2s;/max_fails=3 fail_timeout=2s;/' \\",
            ),
            "grep -q 'max_fails=1 fail_timeout=30s' \"$$conf\"",
            "grep -q 'max_fails=3 fail_timeout=2s' \"$$conf\"",
        ),
    ),
}


def _ablated(name: str, tmp: Path) -> Path:
    text = (INCIDENTS / f"{name}.yaml").read_text()
    _, ablate = ABLATIONS[name]
    path = tmp / f"{name}.yaml"
    path.write_text(ablate(tmp, text))
    assert path.read_text() != text
    return path


def _run(scenario: Scenario, incident_path: Path) -> ScenarioResult:
    incident = load_incident(incident_path)
    return run_scenario(scenario, "incident", incident=incident)


def test_every_shipped_incident_has_an_ablation() -> None:
    assert set(ABLATIONS) == set(catalog.known_incidents())


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_without_its_mechanism_the_incident_does_not_reproduce(name: str, tmp_path: Path) -> None:
    """The incident's file with exactly its mechanism removed: the same scenario and the same
    declaration, and the variant is not reproduced — nothing of what the incident declares is
    observed."""
    scenario_name, _ = ABLATIONS[name]
    (scenario,) = catalog.resolve([scenario_name])
    result = _run(scenario, _ablated(name, tmp_path))
    assert not result.passed, result.reason
    assert result.reproduced is not None
    assert result.reproduced.matched == (), result.reason
    assert result.reason.startswith("incident did not reproduce"), (
        result.reason,
        [e.line() for e in result.step_errors],
    )


def test_stopping_the_host_an_incident_looks_at_is_not_the_incident(tmp_path: Path) -> None:
    """graphite powered off, on the configuration without the incident's mechanism: while it is
    off the `directories` check fails (host-down) and the wait runs out — "incident failed, but
    not by its cause", never "reproduced"."""
    scenario_file = tmp_path / "stop-graphite.yaml"
    scenario_file.write_text(
        "name: stop-graphite\n"
        "description: graphite powered off while the operator waits for it\n"
        "reproduces: graphite-piddir\n"
        "steps:\n"
        "  - stop: {host: graphite, mode: hard}\n"
        "  - wait_recovered: {within: 3s, checks: [directories]}\n"
        "expect: {checks: [directories, processes], recover_within: 30s}\n"
    )
    (scenario,) = catalog.resolve([str(scenario_file)])
    result = _run(scenario, _ablated("graphite-piddir", tmp_path))
    assert not result.passed
    assert result.reason.startswith(
        "incident failed, but not by its cause: steps[1].wait_recovered not-recovered"
    ), result.reason
    assert "directories [graphite] host-down" in result.reason, result.reason


def _app_half_gone(_tmp: Path, text: str) -> str:
    """socketio-abrupt-termination without its app half: supervisord stops the app with TERM
    (it drains) instead of KILL; the LBs keep their hair trigger."""
    return _replace(
        _replace(text, "sed -i 's/^stopsignal=TERM$$/stopsignal=KILL/'", "true"),
        "grep -q '^stopsignal=KILL$$' \"$$conf\"",
        "grep -q '^stopsignal=TERM$$' \"$$conf\"",
    )


def test_socketio_incident_is_nginx_thresholds_not_the_apps_kill(tmp_path: Path) -> None:
    """Which half of socketio-abrupt-termination reproduces it (the post-mortem blamed abrupt
    socket terminations): with the apps stopping gracefully but the LBs' hair trigger
    (max_fails=1 fail_timeout=30s) kept, nginx still holds the healthy app out — the
    thresholds are the mechanism; without them (the ablation above) nothing is held out."""
    (scenario,) = catalog.resolve(["socketio-abrupt-termination"])
    path = tmp_path / "socketio-abrupt-termination.yaml"
    path.write_text(_app_half_gone(tmp_path, (INCIDENTS / path.name).read_text()))
    result = _run(scenario, path)
    assert result.passed, result.reason
    assert result.reason.startswith("reproduced: nginx ["), result.reason
