"""Safe defaults of the shipped stack, read from what Compose resolves (every incident too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reboot_harness.run.request import RunRequest
from reboot_harness.stack.lifecycle import default_compose_dir
from reboot_harness.stack.state import new_secrets
from tests.layered_example import layered_memcached

pytestmark = pytest.mark.docker
COMPOSE = default_compose_dir()
INCIDENTS = sorted(p.name for p in (COMPOSE / "incidents").glob("*.yaml"))


def resolved(tmp_path: Path, *overrides: str) -> dict[str, object]:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("".join(f"{k}={v}\n" for k, v in new_secrets().items()))
    env = tmp_path / "compose.env"
    env.write_text(f"RH_SECRETS_FILE={secrets}\nRH_SUBNET_PREFIX=172.30.200\n")
    cmd = ["docker", "compose", "--env-file", str(env), "-p", "safety"]
    for f in ("stack.yaml", *(f"incidents/{o}" for o in overrides)):
        cmd += ["-f", str(COMPOSE / f)]
    out = subprocess.run([*cmd, "config", "--format", "json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("incident", [None, *INCIDENTS])
def test_every_host_is_a_plain_server(tmp_path: Path, incident: str | None) -> None:
    """No privileged mode, no added capabilities, ports only on 127.0.0.1, tmpfs /run, boot
    ulimits 1024/16384, no restart policy, and the managed label on every service, network and
    volume — for the stack and for every incident override."""
    from reboot_harness.inputs.compose.rules import unsafe

    cfg = resolved(tmp_path, *([incident] if incident else []))
    assert unsafe(cfg) == [], "what `up` refuses without --allow-unsafe-compose"
    services = cfg["services"]
    assert isinstance(services, dict) and len(services) == 11
    for name, svc in services.items():
        assert not svc.get("privileged"), name
        assert not svc.get("cap_add"), name
        assert svc.get("restart", "no") == "no", name
        assert "/run" in [t.split(":")[0] for t in svc.get("tmpfs", [])], name
        assert svc["ulimits"]["nofile"] == {"soft": 1024, "hard": 16384}, name
        assert svc["labels"]["org.reboot-harness.managed"] == "true", name
        for port in svc.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", (name, port)
        assert "network_mode" not in svc and "pid" not in svc, name
    for kind in ("networks", "volumes"):
        for name, obj in cfg[kind].items():  # type: ignore[union-attr]
            assert obj["labels"]["org.reboot-harness.managed"] == "true", (kind, name)


def test_no_secret_is_baked_into_an_image() -> None:
    """Service images carry no password variable: secrets come from the env file at boot."""
    import docker

    for image in docker.from_env().images.list(name="reboot-harness/*"):
        env = image.attrs["Config"].get("Env") or []
        assert not [e for e in env if "PASSWORD" in e], (image.tags, env)


def test_a_failure_of_any_kind_after_the_stack_started_removes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not only the harness's own errors: an injected bug (RuntimeError) while waiting for a
    fresh stack to come up removes everything it had created."""
    from reboot_harness.run import bringup
    from tests.integration.conftest import unique_project
    from tests.integration.test_cli import labelled

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(bringup, "wait_recovered", boom)
    name = unique_project("boom")
    with pytest.raises(RuntimeError, match="injected"):
        bringup.bring_up(name, RunRequest(up_timeout=60))
    assert labelled(name) == []
    from reboot_harness.stack.state import ProjectState

    assert name not in ProjectState.known()


# -- round 3: what a user's file names must lie in its folder (a real engine) -------------------

RH = [sys.executable, "-m", "reboot_harness"]


def _events(project: str, since: float, until: float) -> list[str]:
    """What the engine did for ``project`` between two instants (any container, network or
    volume event: created, started, destroyed...)."""
    proc = subprocess.run(
        ["docker", "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}",
         "--filter", f"label=com.docker.compose.project={project}", "--format",
         "{{.Type}} {{.Action}}"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return proc.stdout.split()


def test_up_refuses_etc_and_a_climb_to_it_before_anything_exists(tmp_path: Path) -> None:
    """`reboot-harness up --compose evil.yaml` on a real engine: a bind of the machine's /etc,
    and of `../../etc` climbing out of the file's folder, are refused in one line naming the
    file, the service, the key and the way out (exit 2) — before anything exists: the engine
    saw no event of the project, nothing is labelled with it, nothing is recorded."""
    import time

    from tests.integration.conftest import unique_project
    from tests.integration.test_cli import labelled

    folder = tmp_path / "proj"
    folder.mkdir()
    evil = folder / "evil.yaml"
    name = unique_project("evil")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    for source in ("/etc", "../" * len(folder.resolve().parts) + "etc"):
        evil.write_text(f"services:\n  app1:\n    volumes: ['{source}:/host-etc:ro']\n")
        began = time.time()
        proc = subprocess.run([*RH, "up", "--project", name, "--compose", str(evil)],
                              capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
        ended = time.time() + 1
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr.strip().splitlines() == [
            f"reboot-harness up: compose files ({evil}) are not safe to rehearse with: service"
            f" app1: volumes: binds /etc, outside {folder.resolve()} (the compose file's folder,"
            " where what it names must lie); remove it, or pass --allow-unsafe-compose"
        ]
        assert _events(name, began, ended) == [], "the engine was asked"
        assert labelled(name) == []
        assert not (tmp_path / "state").exists()


def test_your_folder_the_example_and_a_shipped_incident_still_start(tmp_path: Path) -> None:
    """What the new rule allows does start: a project's host layered from its compose/ (built from
    its ../images, the folder of its topology's Python checks) with its topology, the shipped
    no-minfds incident (binding a file of the harness's compose folder) and a file of yours
    binding a file of its own folder — one stack, each host as it should be, then removed."""
    from reboot_harness.inputs.paths import default_compose_dir
    from tests.integration.conftest import unique_project
    from tests.integration.test_cli import labelled

    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "motd").write_text("bound from the compose file's own folder\n")
    mine = folder / "mine.yaml"
    mine.write_text("services:\n  graphite:\n    volumes: ['./motd:/etc/motd:ro']\n")
    name = unique_project("own")
    cache, topology = layered_memcached(tmp_path / "example")
    files = [cache, default_compose_dir() / "incidents" / "no-minfds.yaml", mine]
    cmd = [*RH, "up", "--project", name, "--topology", str(topology)]
    try:
        proc = subprocess.run([*cmd, *(a for f in files for a in ("--compose", str(f)))],
                              capture_output=True, text=True, timeout=900)  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

        def read(host: str, path: str) -> str:
            out = subprocess.run(["docker", "exec", f"{name}-{host}-1", "cat", path],
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
            assert out.returncode == 0, out.stderr
            return out.stdout

        assert read("graphite", "/etc/motd") == "bound from the compose file's own folder\n"
        assert "minfds=" not in read("app1", "/etc/supervisor/supervisord.conf")  # the incident's
        assert f"{name}-cache-1" in labelled(name)
    finally:
        subprocess.run([*RH, "down", "--project", name], capture_output=True, timeout=300)
    assert labelled(name) == []
