"""The checks do not make the failure they measure: nothing goes through an LB while an app
behind it does not serve (nginx counts a request it sends to a booting app as a failure of that
app, and three of them in `fail_timeout` take it out of rotation — the `nginx` check would then
wait out the rotation its own probing caused)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from reboot_harness.checks.run import run_checks
from reboot_harness.checks.socketio import forget_keys
from tests.fakestack import REFUSE, FakeStack, health


class _CountingLb:
    """An LB's port that answers /health as app ``host`` and counts the connections."""

    def __init__(self, host: str) -> None:
        self.connections = 0
        self._lock = threading.Lock()
        self._answer = health(host)

    def __call__(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections += 1
        self._answer(conn)


@pytest.mark.parametrize("check", ["nginx", "socket.io"])
@pytest.mark.parametrize("serving", [("app2",), ()], ids=["app1-booting", "none-serving"])
def test_nothing_goes_through_an_lb_while_an_app_does_not_serve(
    check: str, serving: tuple[str, ...]
) -> None:
    """app1 does not serve yet (refused): the check fails naming it, and neither LB sees a
    single connection from it."""
    forget_keys("fake", "lb1")
    forget_keys("fake", "lb2")
    lbs = {lb: _CountingLb("app2") for lb in ("lb1", "lb2")}
    with FakeStack(port=REFUSE) as stack:
        for app in serving:
            stack.serve(app, 8000, health(app, time.time() - 60))
        for lb, handler in lbs.items():
            stack.serve(lb, 80, handler)
        results = run_checks(stack, [check])  # type: ignore[arg-type]
    assert [r.host for r in results if not r.ok] == ["lb1", "lb2"], results
    expected = "backend-not-serving" if check == "nginx" else "app-not-serving"
    assert all(expected in r.causes for r in results), results
    assert all("lb-not-answering" not in r.causes for r in results), results
    assert {lb: h.connections for lb, h in lbs.items()} == {"lb1": 0, "lb2": 0}


@pytest.mark.parametrize("check", ["nginx", "socket.io"])
def test_with_every_app_serving_the_check_asks_through_each_lb(check: str) -> None:
    """The same stack with both apps serving: each LB is asked (the test above can fail)."""
    forget_keys("fake", "lb1")
    forget_keys("fake", "lb2")
    lbs = {lb: _CountingLb("app2") for lb in ("lb1", "lb2")}
    with FakeStack(port=REFUSE) as stack:
        for app in ("app1", "app2"):
            stack.serve(app, 8000, health(app, time.time() - 60))
        for lb, handler in lbs.items():
            stack.serve(lb, 80, handler)
        run_checks(stack, [check])  # type: ignore[arg-type]
    counts = {lb: h.connections for lb, h in lbs.items()}
    assert all(n > 0 for n in counts.values()), counts


def test_an_engine_that_fails_to_run_the_lbs_read_is_seen_not_a_crash() -> None:
    """The engine errs on lb1's nginx read (in CI, under load): the check does not crash (a
    `*` result, every LB's judgement lost) — lb1's result says it could not read nginx, and
    still names what it saw meanwhile: neither app serves."""
    from reboot_harness.errors import StackError

    forget_keys("fake", "lb1")
    forget_keys("fake", "lb2")
    with FakeStack(port=REFUSE) as stack:
        stack.on("lb1", "rh-nginx", StackError("host lb1: exec failed: Read timed out"))
        results = run_checks(stack, ["nginx"])  # type: ignore[arg-type]
    by_host = {r.host: r for r in results}
    assert set(by_host) == {"lb1", "lb2"}, results
    lb1 = by_host["lb1"]
    assert lb1.causes[:2] == ("backend-not-serving", "host-unreadable"), lb1
    assert "Read timed out" in lb1.observed, lb1
