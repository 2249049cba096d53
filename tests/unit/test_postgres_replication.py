"""PostgreSQL as a role: `postgres_hosts` in a topology (primary first, `postgres.N` in
scenarios), and the shipped check `postgres replication` — exactly one primary (out of
recovery), every standby in recovery, streaming from that primary and caught up with it — judged
from what psql inside each host answers, each failure with its cause."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from reboot_harness.checks import available
from reboot_harness.checks.postgres_replication import parse_lsn, parse_view
from reboot_harness.checks.run import run_checks
from reboot_harness.errors import ScenarioError, UsageError
from reboot_harness.inputs.topology import load_topology
from reboot_harness.model.hostview import ExecResult
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology
from reboot_harness.scenarios import find
from tests.fakestack import SILENCE, TIMEOUT, FakeStack

CHECK = "postgres replication"
PG = ("pg1", "pg2", "pg3")
TOPOLOGY = Topology(
    dns_host="", lbs=(), apps=(), redis_hosts=(), mysql_hosts=(), graphite_host="",
    postgres_hosts=PG, daemons={h: ("postgres",) for h in PG},
)  # fmt: skip
# FakeStack's addresses: 10.9.0.10, .11, .12 in the topology's order.
ADDRESS = {h: f"10.9.0.{10 + i}" for i, h in enumerate(PG)}


def primary(lsn: str = "0/3000148", standbys: tuple[str, ...] = ("pg2", "pg3")) -> ExecResult:
    """psql's answer on a primary at ``lsn`` with those standbys streaming from it."""
    return ExecResult(0, f"f|{lsn}|||{','.join(ADDRESS[s] for s in standbys)}\n", "")


def standby(lsn: str = "0/3000148", sender: str = "pg1", status: str = "streaming") -> ExecResult:
    return ExecResult(0, f"t|{lsn}|{status}|{sender}|\n", "")


def judged(*answers: tuple[str, ExecResult], deadline_s: float = 0.3) -> dict[str, CheckResult]:
    with FakeStack(TOPOLOGY) as stack:
        for host, answer in answers:
            stack.on(host, "psql", answer)
        results = run_checks(stack, [CHECK], deadline_s=deadline_s)  # type: ignore[arg-type]
    return {r.host: r for r in results}


def causes(results: dict[str, CheckResult]) -> dict[str, tuple[str, ...]]:
    return {h: r.causes for h, r in sorted(results.items())}


def test_a_primary_with_streaming_caught_up_standbys_holds() -> None:
    """The first host out of recovery, the others in recovery streaming from it at its WAL
    position: every host holds."""
    results = judged(("pg1", primary()), ("pg2", standby()), ("pg3", standby()))
    assert causes(results) == {"pg1": (), "pg2": (), "pg3": ()}
    assert all(r.ok for r in results.values())
    assert results["pg2"].observed == "standby of pg1, caught up"


def test_a_primary_moved_by_a_failover_is_the_primary() -> None:
    """Which host is primary is what the servers say, not the topology's order."""
    results = judged(
        ("pg1", standby(sender="pg2")), ("pg2", primary(standbys=("pg1", "pg3"))),
        ("pg3", standby(sender="pg2")),
    )  # fmt: skip
    assert all(r.ok for r in results.values()), causes(results)


def test_a_standby_reaching_the_primary_by_an_alias_streams_from_it() -> None:
    """A primary_conninfo naming the primary by another name is fine when the primary lists
    the standby among those streaming from it."""
    results = judged(("pg1", primary()), ("pg2", standby(sender="db-primary")),
                     ("pg3", standby()))  # fmt: skip
    assert all(r.ok for r in results.values()), causes(results)


def test_no_primary_when_every_server_answers_in_recovery() -> None:
    results = judged(*((h, standby()) for h in PG))
    assert causes(results) == {h: ("no-primary",) for h in PG}


def test_several_primaries() -> None:
    """A standby promoted while the old primary came back: both out of recovery."""
    results = judged(("pg1", primary()), ("pg2", primary(standbys=())), ("pg3", standby()))
    assert causes(results) == {h: ("several-primaries",) for h in PG}


def test_a_silent_server_leaves_the_primary_unknown_never_no_primary() -> None:
    """Standbys answering and one server not: it may be the primary, so nothing is said of
    the set but that it cannot be told."""
    results = judged(("pg1", TIMEOUT), ("pg2", standby()), ("pg3", standby()))
    assert causes(results) == {
        "pg1": ("postgres-unreachable",), "pg2": ("primary-unknown",),
        "pg3": ("primary-unknown",),
    }  # fmt: skip
    assert available.unobserved_causes(TOPOLOGY, CHECK) >= {"postgres-unreachable",
                                                            "primary-unknown"}  # fmt: skip


def test_a_standby_without_a_streaming_wal_receiver() -> None:
    """A standby that lost its primary_conninfo has no WAL receiver; one that cannot reach the
    primary keeps it in another state: both are not streaming."""
    results = judged(("pg1", primary()), ("pg2", standby(status="", sender="")),
                     ("pg3", standby(status="waiting")))  # fmt: skip
    assert causes(results) == {
        "pg1": (), "pg2": ("standby-not-streaming",), "pg3": ("standby-not-streaming",)
    }  # fmt: skip
    assert results["pg2"].observed == "in recovery, no WAL receiver"


def test_a_standby_streaming_from_another_host() -> None:
    results = judged(("pg1", primary(standbys=("pg2",))), ("pg2", standby()),
                     ("pg3", standby(sender="10.9.0.99")))  # fmt: skip
    assert causes(results) == {"pg1": (), "pg2": (), "pg3": ("standby-wrong-primary",)}


def test_a_standby_behind_the_primary_is_lagging_until_it_catches_up() -> None:
    """Replayed less than the primary had written before the standby was read: lagging —
    waited for within the check's deadline, so a standby that catches up holds."""
    results = judged(("pg1", primary("0/3000148")), ("pg2", standby("0/3000000")),
                     ("pg3", standby()))  # fmt: skip
    assert causes(results) == {"pg1": (), "pg2": ("standby-lagging",), "pg3": ()}
    assert "replayed up to 0/3000000 < primary at 0/3000148" in results["pg2"].observed
    reads = itertools.count()

    def catching_up(_host: str, _argv: list[str]) -> ExecResult:
        return standby("0/3000000" if next(reads) < 3 else "0/3000148")

    results = judged(("pg1", primary()), ("pg2", catching_up), ("pg3", standby()),
                     deadline_s=5.0)  # fmt: skip
    assert all(r.ok for r in results.values()), causes(results)


def test_psql_runs_inside_each_host_at_the_topologys_port() -> None:
    topo = Topology(**{**TOPOLOGY.__dict__, "postgres_port": 5433})
    with FakeStack(topo, answer=SILENCE) as stack:
        run_checks(stack, [CHECK], deadline_s=0.1)  # type: ignore[arg-type]
    asked = {
        host
        for method, host, what in stack.calls
        if method == "exec"
        and what.startswith("psql -XAtq -p 5433 -d postgres -c 'SELECT pg_is_in_recovery()")
    }
    assert asked == set(PG)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0/3000148", 0x3000148), ("16/B374D848", (0x16 << 32) + 0xB374D848), ("", None),
     ("3000148", None), ("x/1", None)],
)  # fmt: skip
def test_lsn_positions(text: str, expected: int | None) -> None:
    assert parse_lsn(text) == expected


@pytest.mark.parametrize(
    "stdout", ["", "f|0/1|||\nf|0/1|||\n", "f|0/1||", "yes|0/1|||", "f|nowhere|||", "psql: error"]
)
def test_anything_but_one_answer_line_is_no_answer(stdout: str) -> None:
    assert parse_view(stdout) is None


def test_the_check_needs_postgres_hosts() -> None:
    """A topology without PostgreSQL hosts does not offer the check (the seed stack's)."""
    assert CHECK not in available.names(Topology())
    assert "needs a host in postgres_hosts" in available.unavailable(Topology())[CHECK]


def test_postgres_hosts_in_a_topology_file(tmp_path: Path) -> None:
    """`postgres_hosts` must name hosts of daemons; `postgres.N` picks the Nth of them."""
    path = tmp_path / "topo.yaml"
    roles = 'dns_host: ""\nlbs: []\napps: []\nredis_hosts: []\nmysql_hosts: []\ngraphite_host: ""\n'
    daemons = "daemons: {pg1: [postgres], pg2: [postgres]}\n"
    path.write_text(roles + "postgres_hosts: [pg1, pg9]\n" + daemons)
    with pytest.raises(UsageError) as e:
        load_topology(path)
    assert (
        str(e.value) == f"{path}: postgres_hosts: 'pg9' is not a host of daemons; hosts: pg1, pg2"
    )
    path.write_text(roles + "postgres_hosts: [pg2, pg1]\n" + daemons)
    topo = load_topology(path)
    scenario = tmp_path / "s.yaml"
    for host, picked in (("postgres.1", "pg2"), ("postgres.2", "pg1")):
        scenario.write_text(f"name: s\ndescription: d\nsteps:\n  - reboot: {{host: {host}}}\n"
                            "expect: {}\n")  # fmt: skip
        assert find.load(scenario, topo).steps[0].host == picked  # type: ignore[union-attr]
    scenario.write_text("name: s\ndescription: d\nsteps:\n  - reboot: {host: postgres.3}\n"
                        "expect: {}\n")  # fmt: skip
    with pytest.raises(ScenarioError) as err:
        find.load(scenario, topo)
    assert "'postgres.3': group postgres has 2 hosts in this topology (pg2, pg1)" in str(err.value)
