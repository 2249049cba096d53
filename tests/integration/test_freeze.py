"""The freeze step on real containers: a host paused as a hypervisor pauses a VM stops
answering without refusing (its sockets stay open, clients time out), keeps its processes,
sees its clock jump when it resumes, and the stack recovers; a freeze interrupted by Ctrl-C
leaves no host paused."""

from __future__ import annotations

import itertools
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from reboot_harness.model.events import EventKind
from reboot_harness.stack.core import Stack
from reboot_harness.steps import RunContext, execute
from reboot_harness.steps.freeze import Freeze
from tests.integration.conftest import assert_all_pass, healthy_stack

pytestmark = pytest.mark.docker
CONF = "/etc/supervisor/supervisord.conf"
FROZEN_S = 6.0


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with healthy_stack("freeze") as s:
        yield s


def _process(stack: Stack, host: str, program: str = "app") -> tuple[str, str]:
    """A supervisord program's PID and its start time (field 22 of /proc/PID/stat): the same
    process, not only the same number."""
    pid = stack.exec(host, ["supervisorctl", "-c", CONF, "pid", program]).stdout.strip()
    assert pid.isdigit() and pid != "0", pid
    stat = stack.exec(host, ["cat", f"/proc/{pid}/stat"]).stdout
    return pid, stat.rsplit(")", 1)[1].split()[19]


def _status(stack: Stack, host: str) -> str:
    return stack.statuses()[host]


def test_a_frozen_host_times_out_keeps_its_processes_and_its_clock_jumps(stack: Stack) -> None:
    """While app2 is paused an HTTP client from lb1 times out (it is never refused); after it
    resumes its programs are the same processes, a clock loop inside it shows a gap as long as
    the pause, and every check holds again."""
    before = _process(stack, "app2")
    ticks = "/tmp/rh-ticks"
    # a clock loop that ends by itself, 30 s of its own clock later
    loop = (
        "end=$(($(date +%s) + 30));"
        f" while [ $(date +%s) -lt $end ]; do date +%s.%N >> {ticks}; sleep 0.2; done"
    )
    assert stack.shell("app2", f"rm -f {ticks}; nohup sh -c '{loop}' >/dev/null 2>&1 &").ok
    time.sleep(1.0)
    ctx = RunContext(stack, random.Random(0))
    frozen = threading.Thread(target=execute, args=(ctx, Freeze("app2", FROZEN_S)))
    frozen.start()
    try:
        deadline = time.monotonic() + 10
        while _status(stack, "app2") != "paused" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _status(stack, "app2") == "paused"
        probe = (
            "exec 3<>/dev/tcp/app2/8000 || exit 9;"
            ' printf "GET /health HTTP/1.0\\r\\nHost: app2\\r\\n\\r\\n" >&3; cat <&3'
        )
        asked = time.monotonic()
        res = stack.exec("lb1", ["timeout", "2", "bash", "-c", probe], timeout=10)
        assert res.exit_code == 124, f"a paused host must not answer nor refuse: {res.brief()}"
        assert "refused" not in res.stderr.lower(), res.stderr
        assert time.monotonic() - asked >= 1.9
    finally:
        frozen.join(timeout=FROZEN_S + 30)
    assert not frozen.is_alive()
    assert [(e.kind, e.host) for e in ctx.events] == [
        (EventKind.PAUSE, "app2"),
        (EventKind.UNPAUSE, "app2"),
    ]
    assert _status(stack, "app2") == "running"
    assert _process(stack, "app2") == before, "the pause must not restart anything"
    time.sleep(0.5)
    stamps = [float(x) for x in stack.exec("app2", ["cat", ticks]).stdout.split()]
    gap = max(b - a for a, b in itertools.pairwise(stamps))
    assert FROZEN_S - 1.0 <= gap <= FROZEN_S + 3.0, f"largest gap {gap:.2f}s in {len(stamps)} ticks"
    assert_all_pass(stack, timeout=120)


@pytest.mark.full  # the one-shot's heal after Ctrl-C (unit-tested too: test_step_kinds)
def test_a_freeze_interrupted_by_ctrl_c_is_unpaused(stack: Stack) -> None:
    """`reboot-harness freeze` interrupted (SIGINT) while the host is paused exits 130 after
    the heal has unpaused it."""
    cmd = [sys.executable, "-m", "reboot_harness", "freeze", "app1", "--for", "120s",
           "--project", stack.name]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while _status(stack, "app1") != "paused" and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        assert _status(stack, "app1") == "paused"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert "interrupted" in err, err
    assert _status(stack, "app1") == "running"
    assert_all_pass(stack, timeout=120)
