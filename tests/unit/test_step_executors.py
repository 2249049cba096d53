"""Every step kind's executor and the heal, driven through the shared fake stack (no Docker):
what each records in the run's events, what it asked of the stack and in what order, and the
cause each failure carries — taken from what the fake's hosts answer, never assumed. Steps are
run as the run loop runs them (``reboot_harness.steps.execute``)."""

from __future__ import annotations

import importlib
import io
import json
import os
import pkgutil
import random
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.rrset
import pytest

from reboot_harness.checks.run import run_checks
from reboot_harness.errors import FaultError, StackError, UsageError
from reboot_harness.interrupts import shielded
from reboot_harness.model.hostview import ExecResult
from reboot_harness.model.topology import Topology
from reboot_harness.stack.labels import SERVICE_LABEL
from reboot_harness.steps import KINDS, RunContext, execute
from reboot_harness.steps.dns_rotate import DnsRotate
from reboot_harness.steps.freeze import Freeze
from reboot_harness.steps.full_restart import FullRestart
from reboot_harness.steps.kill import Kill
from reboot_harness.steps.mysql_failover import MysqlFailover
from reboot_harness.steps.reboot import Reboot
from reboot_harness.steps.rolling import Rolling
from reboot_harness.steps.sentinel_failover import SentinelFailover
from reboot_harness.steps.sleep import Sleep
from reboot_harness.steps.start import Start
from reboot_harness.steps.stop import Stop
from reboot_harness.steps.wait_recovered import WaitRecovered
from tests.conftest import missing
from tests.fakestack import CLOSE, SILENT, TIMEOUT, FakeStack, fake_state

ROOT = Path(__file__).resolve().parents[2]
# Three hosts of one daemon each: the `processes` check is the only one this topology has, so a
# wait for recovery runs real check code against what the fake's probes answer.
WEB = Topology(
    lbs=(), apps=(), redis_hosts=(), mysql_hosts=(), graphite_host="", dns_host="",
    daemons={"web1": ("nginx",), "web2": ("nginx",), "web3": ("nginx",)},
)  # fmt: skip


def run_ctx(stack: FakeStack, seed: int = 0) -> RunContext:
    return RunContext(stack, random.Random(seed))


def happened(ctx: RunContext) -> list[tuple[str, str, str]]:
    """The run's events as (kind, host, detail)."""
    return [(str(e.kind), e.host, e.detail) for e in ctx.events]


def asked(stack: FakeStack, *methods: str) -> list[tuple[str, str, str]]:
    """What the stack was asked, in order, of ``methods`` only."""
    return [c for c in stack.calls if c[0] in methods]


POWER = ("power_off", "power_on", "renumber")


@pytest.fixture
def web() -> Iterator[FakeStack]:
    with FakeStack(WEB) as stack:
        yield stack.probes()


# -- the fake is a stack -----------------------------------------------------------------------
def test_mypy_accepts_the_fake_stack_as_a_stacklike(tmp_path: Path) -> None:
    """The shared fake satisfies the stack protocol for the type checker: whatever takes a
    StackLike (checks, the run context, traffic) takes the fake, with no cast."""
    snippet = tmp_path / "fake_is_stacklike.py"
    snippet.write_text(
        "from reboot_harness.stack.protocol import StackLike\n"
        "from tests.fakestack import FakeStack\n\n\n"
        "def as_stack_like(stack: FakeStack) -> StackLike:\n"
        "    return stack\n"
    )
    try:
        import mypy  # noqa: F401  (only whether it is installed)
    except ImportError:
        missing("mypy is not installed (pip install -e '.[dev]')")
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), str(snippet)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


# -- reboot, stop, start ---------------------------------------------------------------------
def test_a_graceful_reboot_powers_off_with_its_grace_then_boots(web: FakeStack) -> None:
    """Off (graceful, the step's grace handed to the engine), on; one event each, in order."""
    ctx = run_ctx(web)
    execute(ctx, Reboot(host="web1", grace=3.0))
    assert asked(web, *POWER) == [("power_off", "web1", "graceful 3"), ("power_on", "web1", "")]
    assert [(k, h, d) for k, h, d in happened(ctx)] == [
        ("power off", "web1", "graceful"),
        ("power on", "web1", ""),
    ]
    assert web.status["web1"] == "running"


def test_a_hard_reboot_with_a_new_address_stays_off_then_is_renumbered_while_off(
    web: FakeStack,
) -> None:
    """Hard power-off, off for ``down_for``, a new address given while the host is off (the
    engine refuses it on a running host), then the boot; the new address is an event."""
    ctx = run_ctx(web)
    before = web.static_address("web2")
    execute(ctx, Reboot(host="web2", mode="hard", down_for=0.3, new_ip=True))
    assert asked(web, *POWER) == [
        ("power_off", "web2", "hard 10"),
        ("renumber", "web2", ""),
        ("power_on", "web2", ""),
    ]
    after = web.static_address("web2")
    assert after != before
    assert ("new address", "web2", after) in happened(ctx)
    (died, _, _), (started, _, _) = web.engine_events
    assert started - died >= 0.3


def test_stop_leaves_the_host_off_and_start_boots_it(web: FakeStack) -> None:
    ctx = run_ctx(web)
    execute(ctx, Stop(host="web3", mode="hard", grace=1.0))
    assert web.status["web3"] == "exited"
    execute(ctx, Start(host="web3"))
    assert web.status["web3"] == "running"
    assert asked(web, *POWER) == [("power_off", "web3", "hard 1"), ("power_on", "web3", "")]
    assert [k for k, _, _ in happened(ctx)] == ["power off", "power on"]


def test_an_engine_that_refuses_the_boot_fails_the_step_as_a_stack_error(web: FakeStack) -> None:
    """The engine failing mid-step (after the power-off) surfaces as a StackError — what the
    run loop records as `host-unavailable` — with the host left off for the heal."""
    web.when("power_on", "web1", StackError("host web1: boot failed: engine said 500"))
    ctx = run_ctx(web)
    with pytest.raises(StackError, match="boot failed"):
        execute(ctx, Reboot(host="web1"))
    assert web.status["web1"] == "exited"
    assert ctx.heal() == ["web1"]
    assert web.status["web1"] == "running"


# -- what a reboot asks of the engine (the real Stack's power, the engine's SDK faked) -----------
class _Container:
    """A host's container as the docker SDK shows it; what it is asked goes in ``journal``."""

    def __init__(self, host: str, journal: list[str]) -> None:
        self.host, self.id, self.name, self.journal = host, f"id-{host}", f"fake-{host}-1", journal
        self.labels = {SERVICE_LABEL: host}
        self.status = "running"

    @property
    def attrs(self) -> dict[str, object]:
        net = {"IPAMConfig": {"IPv4Address": "10.9.0.14"}, "IPAddress": "10.9.0.14",
               "Aliases": [self.host]}  # fmt: skip
        return {"State": {"Status": self.status}, "HostConfig": {"ExtraHosts": []},
                "NetworkSettings": {"Networks": {"fake_default": net}}}  # fmt: skip

    def reload(self) -> None:
        return None

    def stop(self, timeout: int) -> None:
        self.journal.append(f"stop {self.host} timeout={timeout}")  # TERM, KILL after timeout
        self.status = "exited"

    def kill(self) -> None:
        self.journal.append(f"kill {self.host}")
        self.status = "exited"

    def wait(self, timeout: float) -> None:
        self.journal.append(f"wait {self.host}")

    def start(self) -> None:
        self.journal.append(f"start {self.host}")
        self.status = "running"


class _Engine:
    """The docker SDK's client, as far as powering hosts off and on uses it."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal
        self.networks = self

    def get(self, network: str) -> _Engine:
        return self

    def disconnect(self, c: _Container, force: bool = False) -> None:
        self.journal.append(f"disconnect {c.host}")

    def connect(
        self, c: _Container, ipv4_address: str | None = None, aliases: object = None
    ) -> None:
        self.journal.append(f"connect {c.host} {ipv4_address}")


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A real Stack of one host, app1, on a faked engine: the journal of what it was asked."""
    from reboot_harness.stack import hosts, power

    journal: list[str] = []
    app1 = _Container("app1", journal)
    monkeypatch.setattr(hosts, "project_containers", lambda name, sparse=False: [app1])
    monkeypatch.setattr(power, "client", lambda: _Engine(journal))
    return journal


@pytest.mark.parametrize(
    ("mode", "asked"),
    [
        ("hard", ["disconnect app1", "kill app1", "wait app1", "connect app1 10.9.0.14",
                  "start app1"]),
        ("graceful", ["stop app1 timeout=3", "start app1"]),
        ("crash", ["kill app1", "wait app1", "start app1"]),
    ],
)  # fmt: skip
def test_a_reboot_asks_the_engine_by_its_mode(
    engine: list[str], mode: str, asked: list[str]
) -> None:
    """Hard: off the network before everything is killed, back on it (at its address) before
    it boots; graceful: the engine's stop (init's stop signal, SIGKILL after the grace, whole
    seconds rounded up); crash: killed at once, no network change."""
    from reboot_harness.stack.core import Stack

    stack = Stack(fake_state(), Topology(daemons={"app1": ("python3",)}))
    execute(RunContext(stack, random.Random(0)), Reboot(host="app1", mode=mode, grace=2.5))
    assert engine == asked
    assert stack.state.cut == {}  # the rejoin was recorded as done


# -- kill ----------------------------------------------------------------------------------------
def test_kill_signals_a_process_by_name_on_a_host_without_supervisord(web: FakeStack) -> None:
    ctx = run_ctx(web)
    execute(ctx, Kill(host="web1", program="nginx", signal="KILL"))
    assert asked(web, "signal") == [("signal", "web1", "KILL nginx")]
    assert happened(ctx) == [("kill", "web1", "SIGKILL nginx")]
    assert "nginx" not in web.processes["web1"]


def test_kill_of_a_program_that_is_not_there_is_signal_failed(web: FakeStack) -> None:
    ctx = run_ctx(web)
    with pytest.raises(FaultError) as e:
        execute(ctx, Kill(host="web2", program="apache2"))
    assert e.value.cause == "signal-failed"
    assert "host web2: no process named 'apache2' to signal" in str(e.value)
    assert ctx.events == []


KILLED = ExecResult(0, "", "")


def _supervised(stack: FakeStack, kill: ExecResult = KILLED) -> FakeStack:
    """app1's supervisord says the program `app` is pid 4242, a python3 process."""
    stack.on("app1", "supervisorctl", ExecResult(0, "4242\n", ""))
    stack.on("app1", "kill -", kill)
    return stack.on("app1", "/proc/4242/comm", ExecResult(0, "python3\n", ""))


def test_kill_of_a_supervisord_program_signals_its_pid_and_a_stop_is_thawed_by_the_heal() -> None:
    """On a supervisord host the program's pid is asked, then signalled; SIGSTOP leaves the
    process (by its /proc name) frozen, and the heal sends it CONT."""
    with FakeStack() as stack:
        ctx = run_ctx(_supervised(stack))
        execute(ctx, Kill(host="app1", program="app", signal="STOP"))
        lines = [w for m, h, w in asked(stack, "exec") if h == "app1"]
        assert lines == [
            "supervisorctl -c /etc/supervisor/supervisord.conf pid app",
            shlex.join(["sh", "-c", 'kill -STOP "$1"', "sh", "4242"]),
            "cat /proc/4242/comm",
        ]
        assert ctx.frozen == {("app1", "python3")}
        assert ctx.heal() == ["app1:python3"]
    assert asked(stack, "signal") == [("signal", "app1", "CONT python3")]
    assert happened(ctx)[-1] == ("heal", "", "started again: app1:python3")
    assert ctx.frozen == set()


def test_kill_of_a_process_supervisord_does_not_know_signals_it_by_name() -> None:
    """supervisord gives no pid for it: the process is signalled by its name."""
    with FakeStack() as stack:
        ctx = run_ctx(stack)
        execute(ctx, Kill(host="redis1", program="redis-server", signal="KILL"))
    assert [c[0] for c in stack.calls] == ["exec", "signal"]
    assert happened(ctx) == [("kill", "redis1", "SIGKILL redis-server")]


def test_a_cont_kill_thaws_what_a_stop_froze() -> None:
    with FakeStack() as stack:
        ctx = run_ctx(_supervised(stack))
        execute(ctx, Kill(host="app1", program="app", signal="STOP"))
        execute(ctx, Kill(host="app1", program="app", signal="CONT"))
        assert ctx.frozen == set()
        assert ctx.heal() == []


def test_a_supervisord_kill_that_fails_is_signal_failed() -> None:
    with FakeStack() as stack:
        ctx = run_ctx(_supervised(stack, kill=ExecResult(1, "", "kill: (4242) - No such process")))
        with pytest.raises(FaultError) as e:
            execute(ctx, Kill(host="app1", program="app"))
    assert e.value.cause == "signal-failed"
    assert str(e.value).startswith("host app1: kill -TERM app failed (exit 1")


# -- sleep, wait_recovered, rolling, full_restart ------------------------------------------------
def test_sleep_sleeps_and_asks_nothing(web: FakeStack) -> None:
    ctx = run_ctx(web)
    began = time.monotonic()
    execute(ctx, Sleep(seconds=0.2))
    assert time.monotonic() - began >= 0.2
    assert web.calls == [] and ctx.events == []


def test_wait_recovered_records_the_recovery_once_the_checks_hold(web: FakeStack) -> None:
    ctx = run_ctx(web)
    execute(ctx, WaitRecovered(within=10, checks=("processes",)))
    (kind, host, detail), *_ = happened(ctx)
    assert (kind, host, detail) == ("recovered", "", "wait_recovered")
    assert {h for m, h, _ in asked(web, "ask")} == {"web1", "web2", "web3"}


def test_wait_recovered_that_runs_out_is_not_recovered_with_the_failing_checks(
    web: FakeStack,
) -> None:
    """A daemon killed stays dead: the wait runs out as `not-recovered`, the error keeps the
    failing results (only those) and names them."""
    web.processes["web2"].discard("nginx")
    with pytest.raises(FaultError) as e:
        execute(run_ctx(web), WaitRecovered(within=0.5))
    assert e.value.cause == "not-recovered"
    assert [(r.host, r.causes) for r in e.value.checks] == [("web2", ("daemon-not-running",))]
    assert str(e.value).startswith("wait_recovered: not recovered within 0.5s: ")
    assert "not running: nginx" in str(e.value)


def test_a_rolling_reboot_waits_for_each_host_to_recover_before_the_next(
    web: FakeStack,
) -> None:
    """Each host's daemons show only on its third reading after boot: the next host is powered
    off only after a reading of the previous one found them."""
    web.probes(late={"web1": 2, "web2": 2})
    ctx = run_ctx(web)
    execute(ctx, Rolling(hosts=("web1", "web2"), mode="hard", recover_within=10))
    order = [(m, h) for m, h, _ in asked(web, "power_off", "power_on", "ask")]
    between = order[order.index(("power_on", "web1")) : order.index(("power_off", "web2"))]
    assert between.count(("ask", "web1")) >= 3  # the third reading after boot found nginx
    assert [(k, d) for k, _, d in happened(ctx) if k == "recovered"] == [
        ("recovered", "after rebooting web1"),
        ("recovered", "after rebooting web2"),
    ]


def test_a_rolling_reboot_stops_at_the_host_that_does_not_recover(web: FakeStack) -> None:
    web.no_boot["web1"] = {"nginx"}
    with pytest.raises(FaultError) as e:
        execute(run_ctx(web), Rolling(hosts=("web1", "web2"), recover_within=0.5))
    assert e.value.cause == "not-recovered"
    assert str(e.value).startswith("after rebooting web1: not recovered within 0.5s")
    assert [h for _, h, _ in asked(web, *POWER)] == ["web1", "web1"]


@pytest.mark.parametrize(
    ("order", "boots"),
    [
        ("given", ["web1", "web2", "web3"]),
        ("reverse", ["web3", "web2", "web1"]),
        ("random", None),  # the scenario's seeded shuffle
    ],
)
def test_a_full_restart_takes_every_host_down_then_boots_them_in_its_order(
    web: FakeStack, order: str, boots: list[str] | None
) -> None:
    seed = 7
    if boots is None:
        boots = ["web1", "web2", "web3"]
        random.Random(seed).shuffle(boots)
    ctx = run_ctx(web, seed)
    step = FullRestart(hosts=("web1", "web2", "web3"), order=order, mode="hard", down_for=0.1)
    execute(ctx, step)
    powered = asked(web, "power_off", "power_on")
    assert {h for m, h, _ in powered[:3] if m == "power_off"} == {"web1", "web2", "web3"}
    assert powered[3:] == [("power_on", h, "") for h in boots]
    assert ("full restart", "", "boot order: " + ", ".join(boots)) in happened(ctx)
    # every host is away together: no replication cost is measured for a full restart
    assert ctx.away == {}


def test_the_same_seed_gives_the_same_random_boot_order(web: FakeStack) -> None:
    step = FullRestart(hosts=("web1", "web2", "web3"), order="random")
    orders = []
    for _ in range(2):
        execute(run_ctx(web, 11), step)
        orders.append([h for m, h, _ in asked(web, "power_on")][-3:])
    assert orders[0] == orders[1]


def test_an_engine_failing_in_the_middle_of_a_full_restart_leaves_the_rest_to_the_heal(
    web: FakeStack,
) -> None:
    """The second boot fails: the step fails with the engine's error, the hosts after it stay
    off, and the heal boots every one of them."""
    web.when("power_on", "web2", StackError("host web2: boot failed: no such container"))
    ctx = run_ctx(web)
    with pytest.raises(StackError):
        execute(ctx, FullRestart(hosts=("web1", "web2", "web3")))
    assert web.statuses() == {"web1": "running", "web2": "exited", "web3": "exited"}
    assert ctx.heal() == ["web2", "web3"]
    assert set(web.statuses().values()) == {"running"}


# -- the heal ------------------------------------------------------------------------------------
def test_the_heal_boots_what_is_off_thaws_what_is_frozen_and_can_be_called_again(
    web: FakeStack,
) -> None:
    ctx = run_ctx(web)
    execute(ctx, Stop(host="web2"))
    execute(ctx, Kill(host="web3", program="nginx", signal="STOP"))
    assert ctx.heal() == ["web3:nginx", "web2"]
    assert happened(ctx)[-1] == ("heal", "", "started again: web3:nginx, web2")
    assert asked(web, "signal")[-1] == ("signal", "web3", "CONT nginx")
    seen = len(ctx.events)
    assert ctx.heal() == []
    assert len(ctx.events) == seen  # a heal with nothing to do records nothing


def test_a_heal_goes_on_past_a_host_it_cannot_boot_and_records_why(web: FakeStack) -> None:
    ctx = run_ctx(web)
    for host in ("web1", "web2", "web3"):
        execute(ctx, Stop(host=host))
    web.when("power_on", "web1", StackError("host web1: boot failed: engine said 500\nlogs"))
    web.when("signal", "web2", StackError("host web2 went away"))
    ctx.frozen.add(("web2", "nginx"))
    assert ctx.heal() == ["web2", "web3"]
    assert happened(ctx)[-3:] == [
        ("heal failed", "web2", "thaw nginx: host web2 went away"),
        ("heal failed", "web1", "host web1: boot failed: engine said 500"),
        ("heal", "", "started again: web2, web3"),
    ]


def test_a_heal_that_cannot_list_the_hosts_says_so_and_does_not_raise(web: FakeStack) -> None:
    web.when("containers", "", StackError("engine unreachable"), times=None)
    ctx = run_ctx(web)
    assert ctx.heal() == []
    assert happened(ctx) == [("heal failed", "", "cannot list hosts: engine unreachable")]


def test_a_shielded_heal_finishes_before_a_signal_that_arrived_during_it(web: FakeStack) -> None:
    """SIGINT while the heal boots the first host: every host is still booted, then the
    interrupt is raised (reboot_harness.interrupts.shielded, as the run loop heals)."""
    ctx = run_ctx(web)
    for host in ("web1", "web2", "web3"):
        execute(ctx, Stop(host=host))
    web.when("power_on", "web1", lambda: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(KeyboardInterrupt), shielded():
        ctx.heal()
    assert set(web.statuses().values()) == {"running"}


def test_an_unshielded_heal_is_cut_short_by_the_same_signal(web: FakeStack) -> None:
    """The test above can fail: without the shield, the interrupt stops the heal at once."""
    ctx = run_ctx(web)
    for host in ("web1", "web2", "web3"):
        execute(ctx, Stop(host=host))
    web.when("power_on", "web1", lambda: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        ctx.heal()
    assert web.statuses()["web3"] == "exited"


# -- dns_rotate ----------------------------------------------------------------------------------
class Dns:
    """The dns host: rh-dns-rotate writes the answer it serves (unless ``stale``), asked
    directly over UDP and by the clients' resolver script from the app hosts."""

    def __init__(self, stack: FakeStack, *, stale: bool = False) -> None:
        self.served = [stack.static_address(lb) for lb in stack.topology.lbs]
        self.stale = stale
        stack.on("dns", "rh-dns-rotate", self.rotate)
        stack.on("*", "python3 -c", self.as_clients)
        stack.serve("dns", 53, self.direct, "udp")

    def rotate(self, _host: str, argv: list[str]) -> ExecResult:
        if not self.stale:
            self.served = argv[1:]
        return ExecResult(0, "", "")

    def as_clients(self, _host: str, _argv: list[str]) -> ExecResult:
        answer = {"server": "10.9.0.10", "rcode": 0, "addresses": self.served, "ttl": 1}
        return ExecResult(0, json.dumps(answer) + "\n", "")

    def direct(self, query: bytes) -> bytes:
        q = dns.message.from_wire(query)
        reply = dns.message.make_response(q)
        if self.served:
            rrset = dns.rrset.from_text_list(q.question[0].name, 1, "IN", "A", self.served)
            reply.answer.append(rrset)
        return reply.to_wire()


@pytest.fixture
def quick_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The read-back's deadline shortened to 0.3 s in whichever module of
    reboot_harness.steps keeps it (each is imported first: kinds may be loaded lazily)."""
    import reboot_harness.steps as package

    modules = [importlib.import_module(f"{package.__name__}.{m.name}")
               for m in pkgutil.iter_modules(package.__path__)]  # fmt: skip
    found = [m for m in modules if hasattr(m, "READ_BACK_S")]
    assert found, "no module of reboot_harness.steps holds READ_BACK_S"
    for module in found:
        monkeypatch.setattr(module, "READ_BACK_S", 0.3)


def test_dns_rotate_writes_the_rotation_records_it_and_reads_it_back() -> None:
    with FakeStack() as stack:
        Dns(stack)
        ctx = run_ctx(stack)
        execute(ctx, DnsRotate(lb="lb1", action="out", wait=0))
        assert stack.state.rotation == ("lb2",)
        execute(ctx, DnsRotate(lb="lb1", action="in", wait=0))
        assert list(stack.state.rotation) == ["lb1", "lb2"]
    lb1, lb2 = stack.static_address("lb1"), stack.static_address("lb2")
    rotations = [w for m, h, w in asked(stack, "exec") if "rh-dns-rotate" in w]
    assert rotations == [f"rh-dns-rotate {lb2}", f"rh-dns-rotate {lb1} {lb2}"]
    served = "served (read back directly and from app1)"
    assert [(k, h, d) for k, h, d in happened(ctx)] == [
        ("dns rotate", "lb1", f"out; in rotation: lb2; {served}"),
        ("dns rotate", "lb1", f"in; in rotation: lb1, lb2; {served}"),
    ]


@pytest.mark.usefixtures("quick_read_back")
def test_dns_rotate_that_the_dns_host_does_not_serve_is_rotation_not_served() -> None:
    with FakeStack() as stack:
        Dns(stack, stale=True)
        with pytest.raises(FaultError) as e:
            execute(run_ctx(stack), DnsRotate(lb="lb2", action="out", wait=0))
    assert e.value.cause == "rotation-not-served"
    assert "expected lb1, the dns host answers directly: lb1, lb2; from app1: lb1, lb2" in str(
        e.value
    )


@pytest.mark.usefixtures("quick_read_back")
@pytest.mark.parametrize("port", [SILENT, CLOSE])
def test_dns_rotate_without_an_answer_to_read_is_dns_no_answer(port: str) -> None:
    with FakeStack(port=port) as stack:
        stack.on("dns", "rh-dns-rotate", ExecResult(0, "", "")).on("*", "python3", TIMEOUT)
        with pytest.raises(FaultError) as e:
            execute(run_ctx(stack), DnsRotate(lb="lb2", action="out", wait=0))
    assert e.value.cause == "dns-no-answer"


@pytest.mark.parametrize(
    ("dns_host", "cause"), [("running", "step-failed"), ("exited", "host-unavailable")]
)
def test_a_rotation_the_dns_host_cannot_write_fails_by_why(dns_host: str, cause: str) -> None:
    with FakeStack(statuses={"dns": dns_host}) as stack:
        stack.on("dns", "rh-dns-rotate", ExecResult(1, "", "no such file"))
        with pytest.raises(FaultError) as e:
            execute(run_ctx(stack), DnsRotate(lb="lb1", action="out", wait=0))
    assert e.value.cause == cause
    assert str(e.value).startswith("host dns: rh-dns-rotate failed")
    assert stack.state.rotation == ("lb1", "lb2")  # nothing recorded of a rotation not written


def test_rotating_the_last_lb_out_is_refused_before_anything_is_asked() -> None:
    with FakeStack() as stack:
        stack.state = stack.state.with_changes(rotation=("lb2",))
        with pytest.raises(UsageError, match="leaves no load balancer in DNS"):
            execute(run_ctx(stack), DnsRotate(lb="lb2", action="out", wait=0))
    assert asked(stack, "exec") == []


# -- sentinel_failover ---------------------------------------------------------------------------
def _read_command(f: io.BufferedIOBase) -> list[str] | None:
    """One command a client sent (a RESP array of bulk strings); None once it hung up."""
    line = f.readline()
    if not line:
        return None
    args = []
    for _ in range(int(line[1:])):
        size = int(f.readline()[1:])
        args.append(f.read(size + 2)[:-2].decode())
    return args


class Status(str):
    """A RESP simple string (``+OK``)."""


class Refusal(str):
    """A RESP error (``-INPROG …``)."""


def _resp(value: object) -> bytes:
    """``value`` in RESP3, as redis-py 6+ asks for it (HELLO 3)."""
    if isinstance(value, dict):
        return f"%{len(value)}\r\n".encode() + b"".join(
            _resp(k) + _resp(v) for k, v in value.items()
        )
    if isinstance(value, int):
        return f":{value}\r\n".encode()
    if isinstance(value, Status):
        return f"+{value}\r\n".encode()
    if isinstance(value, Refusal):
        return f"-{value}\r\n".encode()
    if isinstance(value, list):
        return f"*{len(value)}\r\n".encode() + b"".join(_resp(v) for v in value)
    data = str(value).encode()
    return f"${len(data)}\r\n".encode() + data + b"\r\n"


HELLO = {"server": "redis", "version": "7.2.4", "proto": 3, "id": 1, "mode": "standalone",
         "role": "master", "modules": []}  # fmt: skip


class Redis:
    """Three redis servers and their sentinels, speaking RESP3 on the fake's endpoints and
    naming hosts by address, as redis does; each command is logged as (host, words).

    Args:
        failover: how Sentinel takes SENTINEL FAILOVER — ``done`` (redis2 promoted, redis3
            follows it), ``refused`` (INPROG), ``stuck`` (accepted, nothing changes), ``half``
            (redis2 promoted, redis3 keeps following redis1) or ``hangup`` (no answer).
        pause: whether the old master takes CLIENT PAUSE; replicaof: REPLICAOF.
        unread: how many SENTINEL REPLICAS answers after a failover list the replicas as a
            sentinel's new entries do (disconnected, never pinged or read: not promotable);
            ``-1``: every one.
    """

    def __init__(
        self,
        stack: FakeStack,
        failover: str = "done",
        pause: bool = True,
        replicaof: bool = True,
        unread: int = 0,
        garbled: bool = False,
    ) -> None:
        self.failover = failover
        self.unread = unread
        self.garbled = garbled  # SENTINEL REPLICAS entries whose figures cannot be read
        self.failed_over = False
        self.pause = pause  # whether CLIENT PAUSE is taken
        self.replicaof = replicaof
        self.named = "redis1"  # the master the sentinels name
        self.follows = {"redis1": "", "redis2": "redis1", "redis3": "redis1"}
        self.counters = {
            h: {"sync_full": 0, "sync_partial_ok": 0, "sync_partial_err": 0,
                "master_repl_offset": 1000, "repl_backlog_size": 1 << 20}
            for h in self.follows
        }  # fmt: skip
        self.log: list[tuple[str, str]] = []
        self.address = stack.static_address
        for host in stack.topology.redis_hosts:
            stack.serve(host, stack.topology.redis_port, self._serving(host, self.node))
            stack.serve(host, stack.topology.sentinel_port, self._serving(host, self.sentinel))

    def _serving(
        self, host: str, answer: Callable[[str, list[str]], object | None]
    ) -> Callable[[socket.socket], None]:
        def serve(conn: socket.socket) -> None:
            f = conn.makefile("rwb")
            while (args := _read_command(f)) is not None:
                self.log.append((host, " ".join(args)))
                said = HELLO if args[0].upper() == "HELLO" else answer(host, args)
                if said is None:  # hang up without an answer
                    return
                f.write(_resp(said))
                f.flush()

        return serve

    def node(self, host: str, args: list[str]) -> object | None:
        words = [a.upper() for a in args]
        if words[0] == "INFO":
            master = self.follows[host]
            lines = ["role:master"] if not master else [
                "role:slave", f"master_host:{self.address(master)}", "master_port:6379",
                "master_link_status:up",
            ]  # fmt: skip
            counted = [f"{k}:{v}" for k, v in self.counters[host].items()]
            return "\r\n".join(["# Replication", *lines, *counted]) + "\r\n"
        if words[:2] == ["CLIENT", "PAUSE"] and not self.pause:
            return Refusal("ERR CLIENT PAUSE is not allowed")
        if words[0] == "REPLICAOF":
            if not self.replicaof:
                return Refusal("READONLY You can't write against a read only replica")
            self.follows[host] = args[1]
        return Status("OK")

    def sentinel(self, _host: str, args: list[str]) -> object | None:
        words = [a.upper() for a in args]
        if words[:2] == ["SENTINEL", "GET-MASTER-ADDR-BY-NAME"]:
            return [self.address(self.named), "6379"]
        if words[:2] == ["SENTINEL", "CKQUORUM"]:
            return Status("OK 3 usable Sentinels")
        if words[:2] == ["SENTINEL", "MASTER"]:
            return ["name", "mymaster", "flags", "master", "num-slaves", "2",
                    "num-other-sentinels", "2"]  # fmt: skip
        if words[:2] == ["SENTINEL", "REPLICAS"]:
            new_entries = self.failed_over and self.unread != 0
            if new_entries and self.unread > 0:
                self.unread -= 1
            flags, ping, info = (
                ("s_down,slave,disconnected", "1765000000000", "1765000000000")
                if new_entries
                else ("slave", "120", "?" if self.garbled else "2500")
            )
            return [
                ["name", f"{self.address(h)}:6379", "ip", self.address(h), "port", "6379",
                 "flags", flags, "last-ok-ping-reply", ping, "info-refresh", info,
                 "slave-priority", "100"]
                for h, m in sorted(self.follows.items()) if m == self.named
            ]  # fmt: skip
        if words[:2] == ["SENTINEL", "FAILOVER"]:
            self.failed_over = True
            if self.failover == "refused":
                return Refusal("INPROG Failover already in progress")
            if self.failover == "hangup":
                return None
            if self.failover in ("done", "half"):
                self.named = "redis2"
                self.follows["redis2"] = ""
                if self.failover == "done":
                    self.follows["redis3"] = "redis2"
        return Status("OK")

    def partial_resync(self) -> None:
        """A replica's return as its master counts it: one partial resync, 2 KB written."""
        master = self.counters[self.named]
        master["sync_partial_ok"] += 1
        master["master_repl_offset"] += 2048

    def commands(self, *words: str) -> list[tuple[str, str]]:
        """The logged commands that start with one of ``words``."""
        return [(h, c) for h, c in self.log if c.upper().startswith(words)]


def test_a_sentinel_failover_pauses_writes_fails_over_fences_the_old_master_and_settles() -> None:
    with FakeStack() as stack:
        world = Redis(stack)
        ctx = run_ctx(stack)
        execute(ctx, SentinelFailover(timeout=5))
    steps = world.commands("CLIENT PAUSE", "SENTINEL FAILOVER", "REPLICAOF", "CLIENT UNPAUSE")
    assert [(h, c.split()[0] + " " + c.split()[1]) for h, c in steps] == [
        ("redis1", "CLIENT PAUSE"),
        ("redis1", "SENTINEL failover"),
        ("redis1", "REPLICAOF redis2"),
        ("redis1", "CLIENT UNPAUSE"),
    ]
    assert happened(ctx) == [
        ("sentinel failover", "redis2",
         "redis1 -> redis2; settled: every sentinel names it, every replica follows it and"
         " could be promoted next"),
    ]  # fmt: skip


def test_a_sentinel_failover_ends_once_every_sentinel_would_promote_the_replicas() -> None:
    """Just after a failover a sentinel's entries of the replicas are new (disconnected, not
    pinged or read): it would answer the next SENTINEL FAILOVER with NOGOODSLAVE. The step waits
    until every sentinel would promote every running replica; if that never comes, the step
    says which sentinel would not promote which replica, and why."""
    with FakeStack() as stack:
        world = Redis(stack, unread=4)
        ctx = run_ctx(stack)
        execute(ctx, SentinelFailover(timeout=5))
        assert world.unread == 0
        assert happened(ctx)[0][2].endswith("could be promoted next")
    with FakeStack() as stack:
        Redis(stack, unread=-1)
        with pytest.raises(FaultError) as e:
            execute(run_ctx(stack), SentinelFailover(timeout=0.5))
    assert e.value.cause == "failover-incomplete"
    assert "redis1 sentinel: would not promote redis1 (flags s_down,slave,disconnected)" in str(
        e.value
    )


def test_a_sentinel_view_of_the_replicas_that_cannot_be_read_is_silence_not_a_state() -> None:
    """Entries whose ping and INFO ages do not read as numbers tell nothing: the step runs out
    as `host-unavailable` (nobody told), never `failover-incomplete`; the `redis roles` check
    does not ask for them at all."""
    with FakeStack() as stack:
        world = Redis(stack, garbled=True)
        with pytest.raises(FaultError) as e:
            execute(run_ctx(stack), SentinelFailover(timeout=0.5))
    assert e.value.cause == "host-unavailable"
    assert "redis1 sentinel: redis3: its ping, INFO age or priority unreadable" in str(e.value)
    before = len(world.commands("SENTINEL REPLICAS"))
    with FakeStack() as stack:
        world = Redis(stack)
        run_checks(stack, ["redis roles"])
    assert world.commands("SENTINEL REPLICAS") == [] and before > 0


@pytest.mark.parametrize(
    ("servers", "cause", "says"),
    [
        pytest.param({"failover": "refused"}, "failover-refused",
                     "host redis1: SENTINEL FAILOVER refused: INPROG", id="refused"),
        pytest.param({"failover": "stuck"}, "failover-incomplete",
                     "sentinel failover from redis1: no new master after", id="stuck"),
        pytest.param({"failover": "half"}, "failover-incomplete",
                     "did not settle in time: redis3: slave of redis1", id="half"),
        pytest.param({"failover": "hangup"}, "host-unavailable",
                     "host redis1: SENTINEL FAILOVER not answered", id="hangup"),
        pytest.param({"replicaof": False}, "host-unavailable",
                     "host redis1: REPLICAOF redis2 failed: You can't", id="old-master-refuses"),
    ],
)  # fmt: skip
def test_a_sentinel_failover_fails_by_what_the_servers_answered(
    servers: dict[str, Any], cause: str, says: str
) -> None:
    """Each cause from the answers that show it; the old master's writes are unpaused
    whatever happened."""
    with FakeStack() as stack:
        world = Redis(stack, **servers)
        with pytest.raises(FaultError) as e:
            execute(run_ctx(stack), SentinelFailover(timeout=0.5))
    assert e.value.cause == cause
    assert says in str(e.value)
    assert world.commands("CLIENT UNPAUSE") == [("redis1", "CLIENT UNPAUSE")]


def test_a_failover_whose_old_master_refuses_the_write_pause_is_host_unavailable() -> None:
    with FakeStack() as stack:
        world = Redis(stack, pause=False)
        with pytest.raises(FaultError) as e:
            execute(run_ctx(stack), SentinelFailover(timeout=0.5))
    assert e.value.cause == "host-unavailable"
    assert str(e.value).startswith("host redis1: CLIENT PAUSE WRITE refused")
    assert world.commands("SENTINEL FAILOVER") == []


def test_a_redis_host_that_comes_back_is_told_by_what_its_return_cost_replication() -> None:
    """Replication is noted before redis2 goes down; once a wait finds the stack recovered,
    one `came back` event says what its master counted meanwhile."""
    with FakeStack() as stack:
        world = Redis(stack)
        stack.when("power_on", "redis2", world.partial_resync)
        ctx = run_ctx(stack)
        execute(ctx, Reboot(host="redis2"))
        execute(ctx, WaitRecovered(within=10, checks=("redis roles",)))
    assert [k for k, _, _ in happened(ctx)] == ["power off", "power on", "recovered", "came back"]
    _, host, detail = happened(ctx)[-1]
    assert host == "redis2"
    assert detail.startswith(
        "redis: partial resync (0 full, 1 partial; 2.0 KB written while away, backlog 1.0 MB);"
        " away "
    )
    assert ctx.away == {} and ctx.booted == {}


def test_a_mysql_host_whose_primary_does_not_answer_comes_back_not_measured() -> None:
    with FakeStack() as stack:
        Redis(stack)
        ctx = run_ctx(stack)
        execute(ctx, Reboot(host="mysql2", mode="crash"))
        execute(ctx, WaitRecovered(within=10, checks=("redis roles",)))
    _, host, detail = happened(ctx)[-1]
    assert (host, detail[: detail.index(";")]) == (
        "mysql2", "mysql: not measured (no writable server answered)",
    )  # fmt: skip


# -- mysql_failover ------------------------------------------------------------------------------
class Mysql:
    """Two MariaDB hosts as their clients see them: ``read_only`` by host, each host's
    replication source, and what the helper commands answer. Every command is logged."""

    def __init__(self, stack: FakeStack, **answers: ExecResult | str) -> None:
        self.read_only = {"mysql1": "0", "mysql2": "1"}
        self.source = {"mysql1": "", "mysql2": "mysql1"}
        self.io = "Yes"
        self.answers = answers  # command substring -> what it gives instead
        self.log: list[tuple[str, str]] = []
        for host in stack.topology.mysql_hosts:
            stack.on(host, "", self)

    def __call__(self, host: str, argv: list[str]) -> ExecResult:
        line = argv[-1] if argv[0] == "mariadb" else " ".join(argv)
        self.log.append((host, line))
        for text, given in self.answers.items():
            if text in f"{host} {line}":
                return given if isinstance(given, ExecResult) else ExecResult(0, given, "")
        if argv[0] == "rh-mysql-role":
            self.read_only[host] = "0" if argv[1] == "primary" else "1"
            self.source[host] = argv[2] if len(argv) > 2 else ""
            return ExecResult(0, "", "")
        value = {
            "SELECT @@read_only": self.read_only[host],
            "SELECT @@gtid_binlog_pos": "0-1-42",
            "SELECT 1": "1",
        }.get(line)
        if value is None and line.startswith("SELECT MASTER_GTID_WAIT"):
            value = "0"
        if value is None and line.startswith("SHOW SLAVE STATUS"):
            value = (
                f"Master_Host: {self.source[host]}\nSlave_IO_Running: {self.io}\n"
                "Slave_SQL_Running: Yes\n"
            )
        return ExecResult(0, f"{value}\n", "")


def test_a_mysql_failover_freezes_promotes_and_repoints_in_that_order() -> None:
    with FakeStack() as stack:
        world = Mysql(stack)
        ctx = run_ctx(stack)
        execute(ctx, MysqlFailover(timeout=5))
    assert [(h, c) for h, c in world.log if "read_only" not in c] == [
        ("mysql1", "rh-mysql-role replica"),
        ("mysql1", "SELECT @@gtid_binlog_pos"),
        ("mysql2", "SELECT MASTER_GTID_WAIT('0-1-42', 5)"),
        ("mysql2", "rh-mysql-role primary"),
        ("mysql1", "rh-mysql-role replica mysql2"),
        ("mysql1", "SHOW SLAVE STATUS\\G"),
    ]
    assert [(k, h, d) for k, h, d in happened(ctx)] == [
        ("mysql promote", "mysql2", "was replica of mysql1"),
        ("mysql repoint", "mysql1", "replica of mysql2"),
    ]
    assert world.read_only == {"mysql1": "1", "mysql2": "0"}


TOO_LONG = ExecResult(
    1, "", "ERROR 1470 (HY000): String 'x' is too long for MASTER_PASSWORD (should be no longer"
    " than 96)",
)  # fmt: skip


@pytest.mark.parametrize(
    ("step", "answers", "cause"),
    [
        pytest.param(MysqlFailover(), {"mysql1 SELECT @@read_only": "1"}, "no-primary",
                     id="no-writable-primary"),
        pytest.param(MysqlFailover(), {"mysql2 SELECT @@read_only": "0"}, "no-primary",
                     id="two-writable"),
        pytest.param(MysqlFailover(to="mysql1"), {}, "no-primary", id="to-the-primary"),
        pytest.param(MysqlFailover(), {"MASTER_GTID_WAIT": "-1"}, "replica-not-caught-up",
                     id="not-caught-up"),
        pytest.param(MysqlFailover(), {"MASTER_GTID_WAIT": "NULL"}, "host-unavailable",
                     id="wait-unanswered"),
        pytest.param(MysqlFailover(), {"rh-mysql-role replica mysql2": TOO_LONG},
                     "repl-password-too-long", id="password-too-long"),
        pytest.param(MysqlFailover(), {"mysql2 rh-mysql-role primary": ExecResult(1, "", "x")},
                     "step-failed", id="promotion-failed"),
        pytest.param(MysqlFailover(), {"mysql1 rh-mysql-role": ExecResult(125, "", "stopped")},
                     "host-unavailable", id="host-gone"),
        pytest.param(MysqlFailover(), {"rh-mysql-role primary": ExecResult(0, "", "")},
                     "no-primary", id="promoted-still-read-only"),
        pytest.param(MysqlFailover(timeout=0.3), {"SHOW SLAVE STATUS": "", "mysql1 SELECT 1": ""},
                     "host-unavailable", id="old-primary-silent"),
        pytest.param(MysqlFailover(), {"mysql2 SELECT @@read_only": "ON"}, "host-unavailable",
                     id="read-only-unreadable"),
    ],
)  # fmt: skip
def test_a_mysql_failover_fails_by_what_the_servers_answered(
    step: MysqlFailover, answers: dict[str, ExecResult | str], cause: str
) -> None:
    with FakeStack() as stack:
        Mysql(stack, **answers)
        with pytest.raises(FaultError) as e:
            execute(run_ctx(stack), step)
    assert e.value.cause == cause, e.value


def test_a_mysql_failover_whose_old_primary_not_replicating_is_replication_not_started() -> None:
    """The repoint ran, the old primary's IO thread stays down: `replication-not-started`,
    with what SHOW SLAVE STATUS showed; the repoint is recorded all the same."""
    with FakeStack() as stack:
        world = Mysql(stack)
        world.io = "No"
        ctx = run_ctx(stack)
        with pytest.raises(FaultError) as e:
            execute(ctx, MysqlFailover(timeout=0.3))
    assert e.value.cause == "replication-not-started"
    assert "mysql1 does not replicate from mysql2: Master_Host=mysql2, IO No, SQL Yes" in str(
        e.value
    )
    assert [k for k, _, _ in happened(ctx)] == ["mysql promote", "mysql repoint"]


# -- freeze ----------------------------------------------------------------------------------------
def test_a_freeze_pauses_the_host_then_unpauses_it_and_the_heal_unpauses_one_left_paused() -> None:
    """The engine is asked to pause, then (after `for`) to unpause; a host left paused (the
    run stopped while it was) is unpaused by the heal, and running again."""
    stack = FakeStack()
    ctx = run_ctx(stack)
    execute(ctx, Freeze(host="app1", for_=0.2))
    assert asked(stack, "pause", "unpause") == [("pause", "app1", ""), ("unpause", "app1", "")]
    assert [k for k, _, _ in happened(ctx)] == ["pause", "unpause"]
    stack.pause("app2")  # as a freeze interrupted before its unpause leaves it
    ctx.heal()
    assert stack.statuses()["app2"] == "running"
    assert asked(stack, "unpause")[-1] == ("unpause", "app2", "")


# -- every kind is covered here ------------------------------------------------------------------
def test_every_step_kind_has_an_executor_driven_by_these_tests() -> None:
    """A new step kind fails this until it is tested above."""
    tested: set[type] = {
        Reboot, Stop, Start, Kill, Sleep, WaitRecovered, Rolling, FullRestart, DnsRotate,
        SentinelFailover, MysqlFailover, Freeze,
    }  # fmt: skip
    assert set(KINDS) == tested
