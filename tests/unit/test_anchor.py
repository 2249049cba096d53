"""Relative paths in your own compose files resolve against the file's own folder (the harness
writes an anchored copy), tags such as !reset/!override kept — checked with Compose itself."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from reboot_harness.errors import UsageError
from reboot_harness.inputs.compose.anchor import anchored_copy, is_own
from reboot_harness.inputs.paths import default_compose_dir
from tests.conftest import missing

OWN = """\
x-env: &env {A: "1"}
services:
  cache:
    build: {context: ../images/cache, args: {BASE_IMAGE: "${RH_BASE_IMAGE:-debian:bookworm-slim}"}}
    env_file: [cache.env, {path: ./more.env, required: false}]
    volumes:
      - ./conf:/etc/cache:ro
      - cache-data:/var/lib/cache
      - /abs:/abs
      - {type: bind, source: ../shared, target: /shared}
    environment: *env
  app1:
    ulimits: !reset null
    ports: !override ["127.0.0.1::8000"]
  tool:
    build: ./tool
    extends: {file: ./base.yaml, service: base}
volumes:
  cache-data: {}
"""


def test_relative_paths_point_next_to_the_file_and_tags_are_kept(tmp_path: Path) -> None:
    own = tmp_path / "project" / "compose"
    own.mkdir(parents=True)
    (own / "cache.yaml").write_text(OWN)
    copy = anchored_copy(own / "cache.yaml", tmp_path / "state")
    text = copy.read_text()
    doc = yaml.safe_load("\n".join(line for line in text.splitlines() if "!" not in line))
    cache = doc["services"]["cache"]
    base = own.resolve()
    assert cache["build"]["context"] == str(base.parent / "images" / "cache")
    assert cache["build"]["args"]["BASE_IMAGE"] == "${RH_BASE_IMAGE:-debian:bookworm-slim}"
    assert cache["env_file"] == [str(base / "cache.env"),
                                 {"path": str(base / "more.env"), "required": False}]  # fmt: skip
    assert cache["volumes"][:3] == [f"{base}/conf:/etc/cache:ro", "cache-data:/var/lib/cache",
                                    "/abs:/abs"]  # fmt: skip
    assert cache["volumes"][3]["source"] == str(base.parent / "shared")
    assert cache["environment"] == {"A": "1"}
    assert doc["services"]["tool"]["build"] == str(base / "tool")
    assert doc["services"]["tool"]["extends"]["file"] == str(base / "base.yaml")
    assert "ulimits: !reset" in text and "ports: !override" in text


def test_compose_reads_the_copy_as_the_user_meant(tmp_path: Path) -> None:
    """`docker compose config` (no engine needed) over the shipped stack: the build context is
    the user's folder, app1's boot ulimits are reset, its ports overridden."""
    own = tmp_path / "compose"
    own.mkdir()
    (own / "cache.yaml").write_text(
        OWN.replace("    extends: {file: ./base.yaml, service: base}\n", "")
    )
    (own / "cache.env").write_text("X=1\n")
    copy = anchored_copy(own / "cache.yaml", tmp_path / "state")
    stack = default_compose_dir() / "stack.yaml"
    env = {**os.environ, "RH_SECRETS_FILE": os.devnull}
    proc = subprocess.run(
        ["docker", "compose", "-f", str(stack), "-f", str(copy), "config", "--format", "json"],
        capture_output=True, text=True, env=env, cwd=default_compose_dir(), timeout=60,
    )  # fmt: skip
    if proc.returncode != 0 and "docker: 'compose' is not a docker command" in proc.stderr:
        missing("no Compose v2 plugin on this machine")
    assert proc.returncode == 0, proc.stderr
    resolved = json.loads(proc.stdout)["services"]
    assert resolved["cache"]["build"]["context"] == str(tmp_path.resolve() / "images" / "cache")
    assert "ulimits" not in resolved["app1"]
    assert [p.get("host_ip") for p in resolved["app1"]["ports"]] == ["127.0.0.1"]


def test_only_files_outside_the_harness_compose_folder_are_the_users() -> None:
    shipped = default_compose_dir()
    assert not is_own(shipped / "incidents" / "no-minfds.yaml", shipped)
    assert is_own(Path("/tmp/mine.yaml"), shipped)


def test_a_file_that_is_not_yaml_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("services: [\n")
    with pytest.raises(UsageError, match=r"bad.yaml: not a YAML compose file \(") as err:
        anchored_copy(bad, tmp_path / "state")
    assert "\n" not in str(err.value)


def test_an_empty_or_comment_only_file_stays_an_empty_mapping(tmp_path: Path) -> None:
    for text in ("", "# only a comment\n"):
        empty = tmp_path / "empty.yaml"
        empty.write_text(text)
        assert yaml.safe_load(anchored_copy(empty, tmp_path / "state").read_text()) == {}
