"""Which names each host's /etc/hosts gets so that a host's name outlives the host
(reboot_harness/stack/names.py), and how a moved host's name is rewritten in a hosts file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reboot_harness.stack import names
from reboot_harness.stack.lifecycle import _names_override
from reboot_harness.stack.state import ProjectState, new_secrets

NET = names.STACK_NETWORK


def _svc(address: str = "", **more: Any) -> dict[str, Any]:
    net = {"ipv4_address": address} if address else None
    return {"networks": {NET: net}, **more}


def test_every_host_is_named_on_every_other_host_except_where_a_compose_file_pinned_it() -> None:
    """Each host gets every other host with a fixed address (never itself); a name its own
    extra_hosts already sets is left to it (pinned, whatever address it says); aliases of a
    fixed host are named too, a host's own name winning over another host's alias."""
    resolved = {
        "services": {
            "lb": _svc("10.0.0.11", extra_hosts=["app=10.0.0.21", "db:10.0.0.99"]),
            "app": _svc("10.0.0.21"),
            "db": {"networks": {NET: {"ipv4_address": "10.0.0.41", "aliases": ["sql", "app"]}}},
        }
    }
    plan = names.plan(resolved)
    assert plan.unnamed == ()
    assert dict(plan.added) == {
        "lb": (("sql", "db", "10.0.0.41"),),
        "app": (("db", "db", "10.0.0.41"), ("lb", "lb", "10.0.0.11"), ("sql", "db", "10.0.0.41")),
        "db": (("app", "app", "10.0.0.21"), ("lb", "lb", "10.0.0.11")),
    }


def test_a_host_without_a_fixed_address_is_said_and_gets_names_itself() -> None:
    """A host the engine numbers at every boot cannot keep its name while off: it is listed as
    unnamed (and named nowhere), but it still gets the others' names; a host off the stack
    network or sharing another's network stack gets none (extra_hosts are refused there)."""
    resolved = {
        "services": {
            "db": _svc("10.0.0.41"),
            "worker": _svc(),
            "sidecar": {"network_mode": "service:db"},
            "elsewhere": {"networks": {"other": {"ipv4_address": "10.9.0.2"}}},
        }
    }
    plan = names.plan(resolved)
    assert plan.unnamed == ("worker",)
    assert dict(plan.added) == {"worker": (("db", "db", "10.0.0.41"),)}


def test_names_override_is_a_compose_file_with_extra_hosts_and_the_label(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`up` writes names.yaml into the project's folder (entries as NAME:ADDRESS, the label
    listing NAME=HOST) and warns about each host without a fixed address; nothing to add, no
    file."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    st = ProjectState(
        name="p1",
        compose_dir=str(tmp_path),
        compose_files=(),
        subnet_prefix="10.0.0",
        domain="rh.test",
        image_tag="t",
        base_image="b",
        owner="o",
        keep=False,
    )
    st.save(new_secrets())
    said: list[str] = []
    resolved = {"services": {"a": _svc("10.0.0.2"), "b": _svc("10.0.0.3"), "c": _svc()}}
    path = _names_override(st, resolved, said.append)
    assert path == st.directory / "names.yaml"
    lines = path.read_text().splitlines()
    assert lines[2:] == [
        "services:",
        '  "a":',
        '    extra_hosts: ["b:10.0.0.3"]',
        '    labels: {"org.reboot-harness.names": "b=b"}',
        '  "b":',
        '    extra_hosts: ["a:10.0.0.2"]',
        '    labels: {"org.reboot-harness.names": "a=a"}',
        '  "c":',
        '    extra_hosts: ["a:10.0.0.2", "b:10.0.0.3"]',
        '    labels: {"org.reboot-harness.names": "a=a b=b"}',
    ]
    assert len(said) == 1 and said[0].startswith("warning: host c has no fixed address"), said
    assert _names_override(st, {"services": {"a": _svc("10.0.0.2")}}, said.append) is None


def test_stale_names_are_those_whose_host_moved_since_the_engine_wrote_them() -> None:
    """At a boot the engine writes the entries of `up`: a name is rewritten when its host's
    address now differs; pinned names (not in the label) and hosts with no fixed address now
    are left alone."""
    labels = {names.LABEL: "redis3=redis3 db=mysql1 graphite=graphite"}
    baked = ["redis3:10.0.0.33", "db:10.0.0.41", "graphite:10.0.0.51", "app1:10.0.0.21"]
    now = {"redis3": "10.0.0.100", "mysql1": "10.0.0.41", "app1": "10.0.0.101"}
    assert names.stale(labels, baked, now) == {"redis3": "10.0.0.100"}
    assert names.stale({}, baked, now) == {}


def test_fixed_addresses_come_from_the_cut_record_or_the_configured_address() -> None:
    """A host whose power is cut is off its network: its address is the one it rejoins at; a
    host the engine numbered (no IPAMConfig) has no fixed address."""

    def on_net(**net: Any) -> dict[str, Any]:
        return {"NetworkSettings": {"Networks": {"p_net": net} if net else {}}}

    attrs = {
        "a": on_net(IPAMConfig={"IPv4Address": "1.1.1.2"}),
        "b": on_net(),
        "c": on_net(IPAMConfig=None, IPAddress="1.1.1.9"),
    }
    cut = {"b": {"p_net": ["1.1.1.100", "b"]}}
    assert names.fixed_addresses(attrs, cut) == {"a": "1.1.1.2", "b": "1.1.1.100"}


def test_the_rewrite_moves_only_the_names_given_in_place(tmp_path: Path) -> None:
    """The command run in a host rewrites the hosts file in place (same inode: a bind mount),
    moving the given names and leaving every other line, a longer name sharing a prefix and a
    line that names the host among others, as it was."""
    hosts = tmp_path / "hosts"
    hosts.write_text(
        "127.0.0.1\tlocalhost\n10.0.0.33\tredis3\n10.0.0.34\tredis33\n10.0.0.5\tme redis3\n"
        "10.0.0.41\tdb.x\n"
    )
    inode = hosts.stat().st_ino
    argv = names.rewrite_argv({"redis3": "10.0.0.100", "db.x": "10.0.0.141"}, str(hosts))
    subprocess.run(argv, check=True)
    assert hosts.stat().st_ino == inode
    assert hosts.read_text().splitlines() == [
        "127.0.0.1\tlocalhost",
        "10.0.0.34\tredis33",
        "10.0.0.5\tme redis3",
        "10.0.0.141\tdb.x",
        "10.0.0.100\tredis3",
    ]


@pytest.mark.parametrize(
    ("name", "address"), [("a b", "10.0.0.1"), ("a/b", "10.0.0.1"), ("ok", "10.0.0"), ("ok", "x")]
)
def test_the_rewrite_refuses_what_it_cannot_write_safely(name: str, address: str) -> None:
    """Only host names and IPv4 addresses reach the shell and the sed script."""
    with pytest.raises(ValueError, match="cannot write"):
        names.rewrite_argv({name: address})


def test_pinned_reads_every_form_of_extra_hosts() -> None:
    """Compose's resolved NAME=ADDR, the engine's NAME:ADDR, and a mapping."""
    assert names.pinned(["a=1.1.1.1", "b:2.2.2.2"]) == {"a": "1.1.1.1", "b": "2.2.2.2"}
    assert names.pinned({"a": "1.1.1.1"}) == {"a": "1.1.1.1"}
    assert names.pinned(None) == {}
    assert json.loads(json.dumps(names.entries({names.LABEL: "a=b c=d"}))) == {"a": "b", "c": "d"}
