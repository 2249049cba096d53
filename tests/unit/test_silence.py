"""A cause is a thing observed, never inferred from silence: every check of the registry (and
the DNS read-back of a rotation, and the failovers' reads) fed silence, a timeout, a host that
stopped after the status read, or a failed read gives only the codes that say it could not see
(reboot_harness.model: checks.CheckKind.unobserved, the common causes,
steps.STEP_UNOBSERVED_CAUSES) — never a mechanism's. Then the cases that once gave one, each
pinned by itself."""

from __future__ import annotations

import dataclasses
import inspect
import json
import random
import socket
import time
from collections.abc import Callable, Iterator
from typing import Generic, Protocol

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from reboot_harness.checks import available, directories, shipped
from reboot_harness.checks.api import Context
from reboot_harness.checks.context import CheckContext, Results, Round
from reboot_harness.checks.redis_roles import NodeView, SentinelView, evaluate
from reboot_harness.checks.run import registry, run_checks
from reboot_harness.errors import FaultError, StackError
from reboot_harness.model.hostview import ExecResult
from reboot_harness.model.steps import STEP_UNOBSERVED_CAUSES
from reboot_harness.model.topology import HostCheck, Topology
from reboot_harness.stack.protocol import StackLike
from reboot_harness.steps import operations
from reboot_harness.steps.base import RunContext
from reboot_harness.steps.mysql_failover import MysqlFailover
from reboot_harness.steps.sentinel_failover import SentinelFailover
from tests.fakestack import (
    CLOSE,
    NOT_RUNNING,
    RAISE,
    REFUSE,
    SILENCE,
    SILENT,
    TIMEOUT,
    FakeStack,
    health,
)

# One entry of each kind a topology may declare, so the declared checks are fed silence too.
DECLARED = (
    HostCheck("host", "app1", "process", "python3"),
    HostCheck("host", "app1", "nofile", "python3", 1024),
    HostCheck("host", "graphite", "directory", "/run/graphite", owner="_graphite", mode="755"),
    HostCheck("host", "graphite", "port", "2003"),
    HostCheck("host", "app2", "http", "http://127.0.0.1:8000/health"),
    HostCheck("host", "graphite", "file", "/run/graphite/carbon-cache-a.pid", present=False),
)
# With a PostgreSQL pair, so that every shipped check has its roles and is fed silence.
TOPOLOGY = dataclasses.replace(
    Topology(),
    host_checks=DECLARED,
    postgres_hosts=("pg1", "pg2"),
    daemons={**Topology().daemons, "pg1": ("postgres",), "pg2": ("postgres",)},
)
CHECK_NAMES = list(registry(TOPOLOGY))

# How a host can fail to tell: (what exec/shell/ask give, how endpoints behave).
MODES: dict[str, tuple[object, str]] = {
    "silence": (SILENCE, CLOSE),  # exit 0, nothing printed; connections closed at once
    "timeout": (TIMEOUT, SILENT),  # `timeout` gave up; listeners that never answer
    "stopped": (NOT_RUNNING, RAISE),  # the host stopped after the run's status read
    "failed-read": (StackError("exec failed: engine said 500"), REFUSE),
}

REDIS = Results(shipped.checks()["redis roles"])


@pytest.fixture
def mode_stack(request: pytest.FixtureRequest) -> Iterator[FakeStack]:
    answer, port = MODES[request.param]
    with FakeStack(TOPOLOGY, answer=answer, port=port) as stack:  # type: ignore[arg-type]
        yield stack


def test_every_shipped_check_is_fed_silence() -> None:
    """The parametrisation below is the registry itself: a new check is covered by adding it."""
    assert list(shipped.checks()) == CHECK_NAMES[:-1] and CHECK_NAMES[-1] == "host"


@pytest.mark.parametrize("mode_stack", list(MODES), indirect=True)
@pytest.mark.parametrize("name", CHECK_NAMES)
def test_silence_never_gives_a_mechanism(mode_stack: FakeStack, name: str) -> None:
    """Whatever the host failed to tell, the check fails on every subject it covers, and only
    with causes that say it could not see."""
    results = run_checks(mode_stack, [name], deadline_s=0.3)  # type: ignore[arg-type]
    unobserved = available.unobserved_causes(TOPOLOGY, name)
    assert results and not [r.line() for r in results if r.ok]
    mechanisms = [r.line() for r in results if set(r.causes) - unobserved]
    assert not mechanisms, mechanisms
    required = registry(TOPOLOGY)[name].subjects_for(TOPOLOGY)
    assert set(required) <= {s for r in results for s in r.subjects}


def _run(stack: FakeStack) -> RunContext:
    return RunContext(stack, random.Random(0))  # type: ignore[arg-type]


@pytest.fixture
def quick_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The read-back's own deadline, shortened: one round is what is being judged."""
    monkeypatch.setattr(operations, "READ_BACK_S", 0.2)


@pytest.mark.usefixtures("quick_read_back")
@pytest.mark.parametrize("mode_stack", list(MODES), indirect=True)
def test_dns_read_back_of_a_silent_dns_host_is_no_answer(mode_stack: FakeStack) -> None:
    """A DNS host that answers nothing is `dns-no-answer`, never `rotation-not-served`."""
    with pytest.raises(FaultError) as err:
        operations._read_back(_run(mode_stack), {"10.9.0.11"}, ["lb1"])
    assert err.value.cause == "dns-no-answer", err.value
    assert err.value.cause in STEP_UNOBSERVED_CAUSES


@pytest.mark.parametrize("mode_stack", list(MODES), indirect=True)
@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda ctx: operations.mysql_failover(ctx, MysqlFailover()), id="mysql"),
        pytest.param(
            lambda ctx: operations.sentinel_failover(ctx, SentinelFailover(timeout=0.3)),
            id="sentinel",
        ),
    ],
)
def test_failovers_on_silent_hosts_are_host_unavailable(
    mode_stack: FakeStack, operation: Callable[[RunContext], None]
) -> None:
    """A failover whose reads get no answer fails as `host-unavailable` (or a stack error),
    never as `no-primary`, `failover-refused` or another mechanism."""
    with pytest.raises((FaultError, StackError)) as err:
        operation(_run(mode_stack))
    if isinstance(err.value, FaultError):
        assert err.value.cause in STEP_UNOBSERVED_CAUSES, err.value


# -- the cases that gave a mechanism -------------------------------------------------------------
def test_redis_servers_that_refuse_are_unreachable_not_zero_masters() -> None:
    """Case A: three redis servers running but refusing connections are `redis-unreachable`
    (their sentinels `sentinel-unreachable`), not "every server is a replica"."""
    with FakeStack(port=REFUSE) as stack:
        results = run_checks(stack, ["redis roles"])  # type: ignore[arg-type]
    assert [(r.host, r.causes) for r in results] == [
        (h, ("redis-unreachable",)) for h in ("redis1", "redis2", "redis3")
    ]


def test_a_master_that_times_out_while_its_replicas_follow_it_is_not_zero_masters() -> None:
    """Case B: the master does not answer in time, both replicas say they follow it with their
    link up: the master is `redis-unreachable`, the replicas are judged against it (and pass)."""
    nodes = {
        "redis1": NodeView(error="TimeoutError: Timeout reading from 127.0.0.1:6379"),
        "redis2": NodeView(role="slave", master="redis1", link="up"),
        "redis3": NodeView(role="slave", master="redis1", link="up"),
    }
    sentinel = SentinelView(master="redis1", ckquorum="OK 3 usable", replicas=2, sentinels=3)
    results = evaluate(REDIS, nodes, dict.fromkeys(nodes, sentinel), 2, 3)
    assert [(r.host, r.ok, r.causes) for r in results] == [
        ("redis1", False, ("redis-unreachable",)),
        ("redis2", True, ()),
        ("redis3", True, ()),
    ]


def test_an_unanswering_node_nobody_follows_makes_the_master_unknown() -> None:
    """No answering master, one node silent, and the replicas do not all follow it: whether
    there is a master cannot be told (`master-unknown`), nor is it `zero-masters`."""
    nodes = {
        "redis1": NodeView(error="ConnectionError: refused"),
        "redis2": NodeView(role="slave", master="redis3", link="down"),
        "redis3": NodeView(role="slave", master="redis1", link="down"),
    }
    sentinel = SentinelView(master="redis1", ckquorum="OK", replicas=2, sentinels=3)
    results = evaluate(REDIS, nodes, dict.fromkeys(nodes, sentinel), 2, 3)
    assert [(r.host, r.causes) for r in results] == [
        ("redis1", ("redis-unreachable",)),
        ("redis2", ("master-unknown",)),
        ("redis3", ("master-unknown",)),
    ]
    down = {**nodes, "redis1": NodeView(error="host down (exited)", down=True)}
    assert [r.causes for r in evaluate(REDIS, down, dict.fromkeys(nodes, sentinel), 2, 3)] == [
        ("host-down",),
        ("zero-masters",),
        ("zero-masters",),
    ]


PID_DIR_OK = "/run/graphite\ndir _graphite 755\nrh-end\n"


@pytest.mark.parametrize(
    ("read", "cause"),
    [
        (ExecResult(125, "", "host graphite is not running"), "host-down"),
        (ExecResult(124, "", ""), "host-unreadable"),
        (ExecResult(0, "", ""), "host-unreadable"),
        (ExecResult(0, "/run/graphite\n", ""), "host-unreadable"),  # cut short
        (ExecResult(0, "/run/graphite\nmissing\nrh-end\n", ""), "pid-dir-missing"),
    ],
)
def test_directories_reads_the_exit_status_before_the_pid_dir(read: ExecResult, cause: str) -> None:
    """Exit 125 (the host stopped after the status read) is `host-down`, a timeout or a read
    cut short is `host-unreadable`; only the host saying nothing is there is
    `pid-dir-missing`."""
    with FakeStack() as stack:
        stack.on("graphite", "PID_DIR", read)
        results = run_checks(stack, ["directories"], deadline_s=0.1)  # type: ignore[arg-type]
    assert results[0].causes[0] == cause, results[0]
    if cause != "pid-dir-missing":
        assert "pid-dir-missing" not in results[0].causes


def _dns_answer(addresses: list[str]) -> Callable[[bytes], bytes]:
    def answer(query: bytes) -> bytes:
        q = dns.message.from_wire(query)
        reply = dns.message.make_response(q)
        if addresses:
            reply.answer.append(
                dns.rrset.from_text_list(q.question[0].name, 1, "IN", "A", addresses)
            )
        return reply.to_wire()

    return answer


def _asked_as_clients(addresses: list[str]) -> ExecResult:
    """What the clients' resolver script prints for an answer of ``addresses``."""
    answer = {"server": "10.9.0.10", "rcode": 0, "addresses": addresses, "ttl": 1}
    return ExecResult(0, json.dumps(answer) + "\n", "")


@pytest.mark.usefixtures("quick_read_back")
def test_dns_read_back_tells_a_stale_answer_from_none() -> None:
    """The dns host answering the old rotation is `rotation-not-served`; answering directly
    while the clients' way gets nothing is `dns-no-answer`; the new rotation is served."""
    lb1, lb2 = "10.9.0.11", "10.9.0.12"
    with FakeStack() as stack:
        stack.serve("dns", 53, _dns_answer([lb1, lb2]), "udp")
        stack.on("*", "python3", _asked_as_clients([lb1, lb2]))
        with pytest.raises(FaultError) as err:
            operations._read_back(_run(stack), {lb2}, ["lb2"])
        assert err.value.cause == "rotation-not-served"
        assert "the dns host answers directly: lb1, lb2; from app1: lb1, lb2" in str(err.value)
    with FakeStack(answer=TIMEOUT) as stack:
        stack.serve("dns", 53, _dns_answer([lb2]), "udp")
        with pytest.raises(FaultError) as err:
            operations._read_back(_run(stack), {lb2}, ["lb2"])
        assert err.value.cause == "dns-no-answer"
    with FakeStack() as stack:
        stack.serve("dns", 53, _dns_answer([lb2]), "udp")
        stack.on("*", "python3", _asked_as_clients([lb2]))
        assert operations._read_back(_run(stack), {lb2}, ["lb2"]).startswith("served")


def test_a_dns_error_rcode_is_no_answer_not_a_wrong_one() -> None:
    """SERVFAIL says the server could not tell: `dns-no-answer`, not `wrong-answer`."""

    def servfail(query: bytes) -> bytes:
        reply = dns.message.make_response(dns.message.from_wire(query))
        reply.set_rcode(dns.rcode.SERVFAIL)
        return reply.to_wire()

    with FakeStack() as stack:
        stack.serve("dns", 53, servfail, "udp")
        stack.on("*", "python3", ExecResult(0, '{"server": "x", "rcode": 2, "addresses": []}', ""))
        results = run_checks(stack, ["dns"])  # type: ignore[arg-type]
    assert [r.causes for r in results] == [("dns-no-answer",)], results


def test_limits_of_an_unreadable_host_are_unreadable_not_a_stopped_program() -> None:
    """A probe that does not answer is `limits-unreadable` (exit 125: `host-down`), never
    `program-not-running`; supervisord saying the program is stopped is."""
    with FakeStack(answer=TIMEOUT) as stack:
        stack.on("app2", "", NOT_RUNNING)
        results = run_checks(stack, ["limits"])  # type: ignore[arg-type]
    assert [(r.host, r.causes) for r in results] == [
        ("app1", ("limits-unreadable",)),
        ("app2", ("host-down",)),
    ]
    stopped = "proc\t1\tS\tsupervisord\nprogram\tapp\tSTOPPED\t0\n"
    with FakeStack(answer=ExecResult(0, stopped, "")) as stack:
        results = run_checks(stack, ["limits"])  # type: ignore[arg-type]
    assert [r.causes for r in results] == [("program-not-running",)] * 2


def test_socketio_without_an_endpoint_on_a_running_lb_is_not_host_down() -> None:
    """The LB ran at the status read but its port cannot be found: `host-unreadable`."""
    with FakeStack(port=REFUSE) as stack:
        stack.serve("lb1", 80, RAISE).serve("lb2", 80, RAISE)
        results = run_checks(stack, ["socket.io"])  # type: ignore[arg-type]
    assert [(r.host, r.causes) for r in results] == [
        ("lb1", ("host-unreadable",)),
        ("lb2", ("host-unreadable",)),
    ]


# -- the nginx read: nothing judged from part of it ----------------------------------------------
def _nginx_read(log: str, rc: int = 0, end: bool = True) -> str:
    """An LB's reading as the read script prints it (``rc``: `nginx -T`'s exit status)."""
    from reboot_harness.checks import nginx

    reach = "".join(
        f'{app}:8000\t10.9.0.{n}\tHTTP/1.1 200 OK\t{{"ok": true, "host": "{app}"}}\n'
        for app, n in (("app1", 14), ("app2", 15))
    )
    config = "upstream apps {\n  server app1:8000;\n  server app2:8000;\n}\n"
    if rc:  # nginx could not show its configuration: no server lines, no reach lines
        config, reach = 'nginx: [emerg] open() "/etc/nginx/x.conf" failed\n', ""
    tail = f"{nginx._END}\n" if end else ""
    return f"{log}{nginx._SPLIT}\n{config}{nginx._REACH_SPLIT} rc={rc}\n{reach}{tail}"


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        pytest.param("log-only", ("host-unreadable",), id="log-only"),
        pytest.param("cut-short", ("host-unreadable",), id="cut-short"),
        pytest.param(
            "nginx-T-failed", ("host-unreadable", "healthy-backend-held-out"), id="nginx-T-failed"
        ),
        pytest.param("whole", ("healthy-backend-held-out",), id="whole"),
    ],
)
def test_nginx_judges_no_log_line_from_a_read_cut_short(
    shape: str, expected: tuple[str, ...]
) -> None:
    """A 'no live upstreams' line while both apps served is `healthy-backend-held-out` only in
    a reading that came back whole; a reading that lost its sections or its END line is
    `host-unreadable` and nothing in it is judged. A configuration `nginx -T` could not show is
    `host-unreadable` too, and no upstream is judged missing from it (the log still is)."""
    read = {
        "log-only": lambda: "LOG",
        "cut-short": lambda: _nginx_read("LOG", end=False),
        "nginx-T-failed": lambda: _nginx_read("LOG", rc=1),
        "whole": lambda: _nginx_read("LOG"),
    }[shape]()
    now = time.time()
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(now))
    log = f"{stamp} [error] 7#7: *9 no live upstreams while connecting to upstream, client: x\n"
    with FakeStack(port=REFUSE) as stack:
        for app in ("app1", "app2"):
            stack.serve(app, 8000, health(app, now - 60))
        for lb in ("lb1", "lb2"):
            stack.serve(lb, 80, health("app1", now - 60))
        stack.on("*", "rh-nginx", ExecResult(0, read.replace("LOG", log), ""))
        results = run_checks(stack, ["nginx"], since=now - 30)  # type: ignore[arg-type]
    assert [r.causes for r in results] == [expected, expected], results


# -- what a check reaches, not what it names -----------------------------------------------------
def test_a_check_context_records_only_hosts_that_answered() -> None:
    """An exec that got an answer (any exit but 124/125/137), an endpoint of a running host:
    reached. A timeout, a stopped host, an exception: not."""
    with FakeStack(statuses={"lb2": "exited"}) as stack:
        stack.on("app2", "", TIMEOUT).on("redis1", "", NOT_RUNNING)
        stack.on("redis2", "", StackError("engine said 500"))
        stack.on("redis3", "", ExecResult(1, "", "no such file"))
        round_ = Round(stack, statuses=stack.statuses())  # type: ignore[arg-type]
        ctx = round_.context(shipped.checks()["nginx"])
        for host in ("app1", "app2", "redis1", "redis3"):
            ctx.exec(host, ["true"])
        with pytest.raises(StackError):
            ctx.exec("redis2", ["true"])
        ctx.endpoint("mysql1", 3306)
        with pytest.raises(StackError):
            ctx.endpoint("lb2", 80)
    assert ctx.reached == {"app1", "redis3", "mysql1"}


def test_directories_on_a_healthy_host_passes_and_is_exercised() -> None:
    """The scripted healthy graphite host: pid dir right, carbon listening, the metric sent
    lands (read back as whisper-fetch prints it) — a pass, counted as reached."""
    received: list[bytes] = []

    def carbon(conn: socket.socket) -> None:
        while chunk := conn.recv(4096):
            received.append(chunk)

    def fetch(host: str, argv: list[str]) -> ExecResult:
        sent = b"".join(received).split()
        value, at = (float(sent[1]), int(sent[2])) if len(sent) >= 3 else (0.0, 0)
        return ExecResult(0, f"{at - 1}\tNone\n{at}\t{value:.6f}\n", "")

    tcp = "  sl  local_address rem_address   st\n   0: 00000000:07D3 00000000:0000 0A 0\n"
    with FakeStack() as stack:
        stack.serve("graphite", 2003, carbon)
        stack.on("graphite", "PID_DIR", ExecResult(0, PID_DIR_OK, ""))
        stack.on("graphite", "/proc/net/tcp", ExecResult(0, tcp, ""))
        stack.on("graphite", "whisper-fetch", fetch)
        results = run_checks(stack, ["directories"], deadline_s=2)  # type: ignore[arg-type]
    assert [(r.ok, r.causes) for r in results] == [(True, ())], results


def test_a_pid_dir_read_cut_short_is_asked_again_within_the_deadline() -> None:
    """An exec that answers exit 0 with nothing (or a reading without its END line) says
    nothing of the host: asked again, the whole reading is what is judged."""
    answers = [
        ExecResult(0, "", ""),
        ExecResult(0, "/run/graphite\n", ""),
        ExecResult(0, PID_DIR_OK, ""),
    ]
    asked: list[int] = []

    def pid_dir(host: str, argv: list[str]) -> ExecResult:
        asked.append(1)
        return answers[min(len(asked), len(answers)) - 1]

    with FakeStack() as stack:
        stack.on("graphite", "PID_DIR", pid_dir)
        round_ = Round(stack, deadline_s=5, statuses=stack.statuses())  # type: ignore[arg-type]
        ctx = round_.context(shipped.checks()["directories"])
        found, read = directories.pid_dir(ctx)
    assert len(asked) == 3 and read.ok
    assert found.complete and found.owner_mode == "_graphite 755", found


def test_whisper_fetch_is_read_for_what_it_shows() -> None:
    """A series without the value, or no such file, shows the metric is not stored; a
    timeout, an empty answer or another failure shows nothing."""
    read = directories.whisper_read
    assert read(ExecResult(0, "1\t5.000000\n2\tNone\n", ""), 5) == "stored"
    assert read(ExecResult(0, "1\tNone\n2\tNone\n", ""), 5) == "absent"
    missing = "[ERROR] [Errno 2] No such file or directory: '/var/lib/x.wsp'"
    assert read(ExecResult(1, "", missing), 5) == "no-file"
    for unread in (ExecResult(0, "", ""), ExecResult(124, "", ""), ExecResult(1, "", "boom")):
        assert read(unread, 5) == "unread"


# -- the fake and the recorder are stacks -------------------------------------------------------
def _shape(fn: object) -> list[tuple[str, object, object]]:
    assert callable(fn)
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_the_fake_stack_offers_every_member_of_stacklike() -> None:
    """Every method of StackLike is one of the fake's with the same parameters, every property
    or attribute is there: checks see no difference."""
    members = {n for n in vars(StackLike) if not n.startswith("_")} | set(StackLike.__annotations__)
    with FakeStack() as fake:
        for member in sorted(members):
            declared = vars(StackLike).get(member)
            if inspect.isfunction(declared):
                assert _shape(getattr(FakeStack, member)) == _shape(declared), member
            else:
                assert hasattr(fake, member), member


def test_the_context_checks_get_offers_every_member_of_the_public_context() -> None:
    """What every check sees (the shipped ones, declared and your own) is the public Context,
    member for member, with the same parameters: no check reaches past it."""
    public = {
        n for base in Context.__mro__ if base not in (object, Protocol, Generic)
        for n in vars(base) if not n.startswith("_")
    }  # fmt: skip
    with FakeStack() as fake:
        ctx = Round(fake).context(shipped.checks()["nginx"])  # type: ignore[arg-type]
        for member in sorted(public):
            declared = next(vars(b)[member] for b in Context.__mro__ if member in vars(b))
            if inspect.isfunction(declared):
                assert _shape(getattr(CheckContext, member)) == _shape(declared), member
            else:
                assert hasattr(ctx, member), member
