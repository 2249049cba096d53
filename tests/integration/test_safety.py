"""Safe defaults of the shipped stack, read from what Compose resolves (every incident too)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.stack.lifecycle import default_compose_dir
from harness.state import new_secrets

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
    from harness.stack.safety import unsafe

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
    from harness import runner
    from tests.integration.conftest import unique_project
    from tests.integration.test_cli import labelled

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(runner, "wait_recovered", boom)
    name = unique_project("boom")
    with pytest.raises(RuntimeError, match="injected"):
        runner.bring_up(name, keep=False, timeout=60)
    assert labelled(name) == []
    from harness.state import ProjectState

    assert name not in ProjectState.known()
