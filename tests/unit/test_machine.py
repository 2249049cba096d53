"""`reboot-harness doctor --engine`: what the machine lacks — an engine that answers, the Compose
v2 plugin, a base image, FUSE in a container — each found with a fake engine client, each with
the command that fixes it; exit 0 / 1 / 2. And no message of a wheel names a script the wheel
does not ship."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from docker.errors import APIError, ContainerError, ImageNotFound

from reboot_harness.errors import EnvironmentProblem
from reboot_harness.faces.cli import main
from reboot_harness.inputs import paths
from reboot_harness.inputs.compose import offline
from reboot_harness.model.machine import Need
from reboot_harness.stack import machine

PACKAGE = Path(machine.__file__).resolve().parents[1]


class FakeEngine:
    """The few calls of a docker SDK client that the machine check makes."""

    def __init__(self, images: tuple[str, ...] = ("debian:bookworm-slim",), probe: int = 0):
        self.present = images
        self.probe = probe
        self.runs: list[tuple[str, list[str], dict[str, Any]]] = []
        self.images = self
        self.containers = self

    def version(self) -> dict[str, str]:
        return {"Version": "27.1.0"}

    def get(self, name: str) -> object:  # images.get
        if name not in self.present:
            raise ImageNotFound(f"No such image: {name}")
        return object()

    def run(self, image: str, command: list[str], **options: Any) -> bytes:  # containers.run
        self.runs.append((image, command, options))
        if self.probe == -1:
            raise APIError("error gathering device information while adding custom device")
        if self.probe:
            raise ContainerError(
                None, self.probe, command, image, b"mount: /mnt: permission denied."
            )
        return b""


def _examine(
    engine: FakeEngine | Exception, compose: str | Exception = "2.29.1", docker: bool = True
) -> dict[str, Need]:
    def connect() -> FakeEngine:
        if isinstance(engine, Exception):
            raise engine
        return engine

    def version() -> str:
        if isinstance(compose, Exception):
            raise compose
        return compose

    found = machine.examine(connect, version, lambda _: "/usr/bin/docker" if docker else None)
    assert [n.name for n in found] == ["engine", "compose", "base-image", "fuse"]
    return {n.name: n for n in found}


@pytest.fixture(autouse=True)
def _no_base_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RH_BASE_IMAGE", raising=False)
    monkeypatch.delenv("DOCKER_HOST", raising=False)


def test_a_machine_with_everything_is_ready_and_the_fuse_probe_asks_for_the_device() -> None:
    """Every need ok; the FUSE probe is one throwaway container of the base image, given
    /dev/fuse and CAP_SYS_ADMIN, with no network, removed, labelled as the harness's."""
    engine = FakeEngine()
    found = _examine(engine)
    assert all(n.ok for n in found.values()), found
    assert found["engine"].line() == "engine: ok: Docker 27.1.0 at unix:///var/run/docker.sock"
    assert found["compose"].line() == "compose: ok: Docker Compose 2.29.1"
    assert found["base-image"].line() == "base-image: ok: debian:bookworm-slim"
    ((image, command, options),) = engine.runs
    assert image == "debian:bookworm-slim" and command[:2] == ["sh", "-c"]
    assert "mount -i -t fuse" in command[2]
    assert options["devices"] == ["/dev/fuse:/dev/fuse:rwm"]
    assert options["cap_add"] == ["SYS_ADMIN"]
    assert options["network_mode"] == "none" and options["remove"] is True
    assert options["labels"] == {"org.reboot-harness.managed": "fuse-probe"}


def test_no_engine_says_how_to_install_and_start_one() -> None:
    """No engine answering: its line names the reason and the Debian/Ubuntu commands; what needs
    the engine is not checked (and says so)."""
    found = _examine(EnvironmentProblem("no Docker engine reachable at unix:///x (refused); hint"))
    assert found["engine"].line() == (
        "engine: lacking: no Docker engine reachable at unix:///x (refused); fix"
        " (Debian/Ubuntu): sudo apt-get install docker.io && sudo systemctl enable --now docker;"
        " to use it without sudo: sudo usermod -aG docker $USER, then log in again; elsewhere:"
        " https://docs.docker.com/engine/install/ (or start Docker Desktop)"
    )
    assert (
        not found["base-image"].ok
        and "not checked: no engine answers" in found["base-image"].detail
    )
    assert not found["fuse"].ok and "not checked" in found["fuse"].detail


def test_no_docker_command_and_no_compose_plugin_each_say_what_to_install() -> None:
    """No `docker` on PATH, or no Compose v2 plugin: the compose line names the packages."""
    found = _examine(FakeEngine(), docker=False)
    assert found["compose"].detail == "the `docker` command is not on PATH"
    assert found["compose"].fix.startswith("sudo apt-get install docker.io; ")
    missing = EnvironmentProblem(
        "the Docker Compose v2 plugin is missing (`docker compose version` failed: x); hint"
    )
    line = _examine(FakeEngine(), compose=missing)["compose"].line()
    assert line.startswith(
        "compose: lacking: the Docker Compose v2 plugin is missing (`docker compose version`"
        " failed: x); fix (Debian/Ubuntu): sudo apt-get install docker-compose (Debian 13),"
        " docker-compose-v2 (Ubuntu 24.04) or docker-compose-plugin"
    ), line
    assert line.endswith("elsewhere: https://docs.docker.com/compose/install/")


def test_no_base_image_says_to_build_one_and_leaves_fuse_unchecked() -> None:
    found = _examine(FakeEngine(images=()))
    assert found["base-image"].detail == (
        "none of debian:bookworm-slim, reboot-harness/base:bookworm is present"
    )
    assert found["base-image"].fix.startswith("reboot-harness build (pulls debian:bookworm-slim")
    assert "apt-get install debootstrap" in found["base-image"].fix
    assert not found["fuse"].ok and "not checked" in found["fuse"].detail


def test_rh_base_image_is_the_only_base_looked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RH_BASE_IMAGE", "mine:12")
    engine = FakeEngine(images=("mine:12",))
    assert _examine(engine)["base-image"].line() == "base-image: ok: mine:12"
    assert engine.runs[0][0] == "mine:12"
    assert not _examine(FakeEngine())["base-image"].ok


@pytest.mark.parametrize(
    ("probe", "said", "fix"),
    [
        (3, "the engine gives a container no /dev/fuse", "sudo modprobe fuse"),
        (4, "/dev/fuse cannot be opened in a container given it", "--device /dev/fuse"),
        (5, "may not mount (a security profile: AppArmor or SELinux denies mount)",
         "--security-opt apparmor=unconfined"),
        (-1, "the engine refused the probe (error gathering device information", "modprobe fuse"),
        (9, "the probe container failed (mount: /mnt: permission denied.)", "lazy disk"),
    ],
)  # fmt: skip
def test_each_way_fuse_fails_has_its_line(probe: int, said: str, fix: str) -> None:
    """Which part of the probe failed (its exit status) names what is lacking and its fix; FUSE
    is needed only by the lazy disk, and the line says so."""
    fuse = _examine(FakeEngine(probe=probe))["fuse"]
    assert not fuse.ok and said in fuse.detail and fix in fuse.fix, fuse
    assert "needed only by the lazy disk" in fuse.line()
    assert "\n" not in fuse.line()


# -- the command ------------------------------------------------------------------------------


def test_doctor_engine_prints_one_line_a_need_and_exits_1_when_something_lacks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    needs = [Need("engine", True, "Docker 27"), Need("fuse", False, "no /dev/fuse", "modprobe")]
    monkeypatch.setattr(machine, "examine", lambda *_: needs)
    assert main(["doctor", "--engine"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "engine: ok: Docker 27",
        "fuse: lacking: no /dev/fuse; fix (Debian/Ubuntu): modprobe",
        "machine: lacking fuse",
    ]
    monkeypatch.setattr(machine, "examine", lambda *_: needs[:1])
    assert main(["doctor", "--engine"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "machine: ready for the harness"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["doctor"], "error: the following arguments are required: COMPOSE_FILE"),
        (
            ["doctor", "--engine", "x.yml"],
            "error: argument --engine: not allowed with COMPOSE_FILE",
        ),
        (["doctor", "--engine", "--json"], "error: argument --engine: not allowed with"),
    ],
)
def test_doctor_without_a_file_or_engine_or_with_both_is_a_usage_error(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert said in capsys.readouterr().err


# -- no script a wheel lacks ------------------------------------------------------------------


def test_setup_hints_name_the_setup_script_only_in_a_checkout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From a checkout the hint names scripts/setup-host.sh; from a wheel, which has no
    scripts/, the machine check and the package to install."""
    assert paths.from_checkout()
    assert "scripts/setup-host.sh" in offline.setup_hint()
    monkeypatch.setattr(paths, "from_checkout", lambda: False)
    hint = offline.setup_hint()
    assert "scripts/" not in hint
    assert "`reboot-harness doctor --engine`" in hint and "apt-get install docker.io" in hint


def test_from_a_wheel_no_engine_error_names_a_script(monkeypatch: pytest.MonkeyPatch) -> None:
    """The "no engine" error and the debootstrap-needs-root error, as a wheel user sees them."""
    from reboot_harness.stack import engine, images

    monkeypatch.setattr(paths, "from_checkout", lambda: False)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    engine.client.cache_clear()
    try:
        with pytest.raises(EnvironmentProblem) as e:
            engine.client()
    finally:
        engine.client.cache_clear()
    assert "scripts/" not in str(e.value) and "doctor --engine" in str(e.value)
    monkeypatch.setattr(images.shutil, "which", lambda _: "/usr/sbin/debootstrap")
    monkeypatch.setattr(images.os, "geteuid", lambda: 1000)
    with pytest.raises(EnvironmentProblem) as e:
        images._debootstrap_base(lambda _: None)
    assert "scripts/" not in str(e.value) and "`reboot-harness build`" in str(e.value)


def _messages_naming_scripts(path: Path) -> list[str]:
    """The strings of a module naming scripts/, docstrings aside (they speak of the repo)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and "scripts/" in node.value
        and id(node) not in docstrings
    ]


def test_only_checkout_guarded_messages_name_scripts() -> None:
    """Every string of the package naming scripts/ is in a module that asks whether it runs
    from a checkout (a new message naming a script must do the same)."""
    naming = {p for p in PACKAGE.rglob("*.py") if _messages_naming_scripts(p)}
    unguarded = [str(p) for p in naming if "from_checkout()" not in p.read_text()]
    assert not unguarded, unguarded
    assert {p.name for p in naming} == {"offline.py", "images.py"}
