"""What reading a host saw: a command's output (:class:`ExecResult`), and one reading of its
processes — its live processes and, where supervisord runs, its programs (:class:`HostView`; the
reading is taken by :mod:`reboot_harness.checks.hostview`). Values only."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExecResult:
    """What a command run inside a host printed and returned."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def brief(self) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return f"exit {self.exit_code}: {text[-1][:200]}" if text else f"exit {self.exit_code}"


@dataclass(frozen=True)
class Program:
    """A supervisord program as supervisord reports it, and what its process looks like."""

    name: str
    state: str
    pid: int
    alive: bool = False  # its pid is a live process of the host (not gone, not a zombie)
    nofile: str = ""  # the "Max open files" line of /proc/PID/limits
    # For a program that shows it serves (the app's /health), while RUNNING or STARTING: "yes"
    # when its own process answered, else why not; "" when not asked.
    serving: str = ""

    def up(self) -> bool:
        """Its process alive, and RUNNING or STARTING, and — for a program that shows it serves —
        its own process answering its health request.

        supervisord says RUNNING after ``startsecs`` of uptime whether or not the program is
        ready by then (a loaded host takes longer than 1 s to import and bind the app), and says
        STARTING for an app that already serves; a program that answers is up, which is what a
        recovered host means, and one that does not answer (not listening yet, frozen, draining)
        is not. Listening alone is not enough: a loaded host can hold connections in the backlog
        for a second before the server takes them. A killed program stays RUNNING until
        supervisord has reaped it: its zombie is not up.
        """
        if not self.alive or self.state not in ("RUNNING", "STARTING"):
            return False
        if self.serving:
            return self.serving == "yes"
        return self.state == "RUNNING"

    def describe(self) -> str:
        if self.pid > 0 and not self.alive and self.state in ("RUNNING", "STARTING"):
            return f"{self.name} {self.state} (pid {self.pid} has ended)"
        if self.state == "STARTING" and self.serving == "yes":
            return f"{self.name} STARTING (serving)"
        if self.state == "STARTING" and self.serving:
            return f"{self.name} STARTING (not serving yet: {self.serving})"
        if self.state == "RUNNING" and self.serving and self.serving != "yes":
            return f"{self.name} RUNNING (not serving: {self.serving})"
        return f"{self.name} {self.state}"


@dataclass(frozen=True)
class HostView:
    """What one question to a host's probe saw.

    Attributes:
        processes: (pid inside the host, command name) of every live process but the probe
            (zombies left out: a killed daemon is not alive while it waits to be reaped).
        programs: supervisord's programs by name (empty where supervisord is not asked).
        error: why the reading is incomplete ('' when it is complete).
        answered: the probe answered (a reading, complete or not, came from the host).
        down: the host was not running when asked (it stopped after the run's status read).
    """

    host: str
    processes: tuple[tuple[int, str], ...] = ()
    programs: dict[str, Program] = field(default_factory=dict)
    error: str = ""
    answered: bool = False
    down: bool = False
