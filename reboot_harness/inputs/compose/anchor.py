"""Relative paths in your own compose files mean "next to this file".

Compose resolves every relative path of every ``-f`` file against the folder of the first one —
the harness's ``compose/``. That suits the shipped incidents (they live there), but a user's
override in their own project (``build: images/cache``, ``./conf:/etc/x``, ``env_file: x.env``)
would point into the harness's package. So each compose file from outside ``compose/`` is
copied into the project's state folder with those paths made absolute against its own folder;
everything else (tags such as ``!reset``/``!override``, ``x-`` keys, interpolation) is kept.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from reboot_harness.errors import UsageError
from reboot_harness.inputs.yamlfile import read_text


class Tagged:
    """A node with a compose tag (``!reset``, ``!override``), kept as written."""

    def __init__(self, tag: str, value: Any) -> None:
        self.tag, self.value = tag, value


class _Loader(yaml.SafeLoader):
    pass


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
    tag = f"!{suffix}"
    value: Any
    if isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)  # type: ignore[arg-type]
        value = None if value in ("", "null", "~") and tag == "!reset" else value
    return Tagged(tag, value)


def _represent_tagged(dumper: yaml.SafeDumper, data: Tagged) -> yaml.Node:
    node = dumper.represent_data(data.value)
    node.tag = data.tag
    return node


_Loader.add_multi_constructor("!", _construct_tagged)
_Dumper.add_representer(Tagged, _represent_tagged)


def _anchored(value: object, base: Path) -> object:
    if (
        not isinstance(value, str)
        or not value
        or "://" in value
        or value.startswith(("/", "~", "$"))
    ):
        return value
    if value.startswith("git@"):
        return value
    return os.path.normpath(base / value)


def _bind_source(spec: str, base: Path) -> str:
    """``./src:/dst[:mode]`` with ``src`` made absolute; named volumes are left alone."""
    source, sep, rest = spec.partition(":")
    if sep and source.startswith("."):
        return f"{_anchored(source, base)}:{rest}"
    return spec


def _untag(value: Any) -> tuple[Any, Tagged | None]:
    return (value.value, value) if isinstance(value, Tagged) else (value, None)


def _retag(value: Any, tagged: Tagged | None) -> Any:
    if tagged is None:
        return value
    tagged.value = value
    return tagged


def anchor_document(doc: Any, base: Path) -> Any:
    """``doc`` (a parsed compose file) with its relative paths made absolute against ``base``."""
    if not isinstance(doc, dict):
        return doc
    services, _ = _untag(doc.get("services"))
    if isinstance(services, dict):
        for svc in services.values():
            svc, _tag = _untag(svc)
            if isinstance(svc, dict):
                _anchor_service(svc, base)
    for key in ("secrets", "configs"):
        section, _ = _untag(doc.get(key))
        if isinstance(section, dict):
            for item in section.values():
                item, _ = _untag(item)
                if isinstance(item, dict) and "file" in item:
                    item["file"] = _anchored(item["file"], base)
    return doc


def _anchor_service(svc: dict[str, Any], base: Path) -> None:
    build, tag = _untag(svc.get("build"))
    if isinstance(build, str):
        svc["build"] = _retag(_anchored(build, base), tag)
    elif isinstance(build, dict) and "context" in build:
        build["context"] = _anchored(build["context"], base)
    env_files, tag = _untag(svc.get("env_file"))
    if isinstance(env_files, str):
        svc["env_file"] = _retag(_anchored(env_files, base), tag)
    elif isinstance(env_files, list):
        for i, item in enumerate(env_files):
            if isinstance(item, dict) and "path" in item:
                item["path"] = _anchored(item["path"], base)
            else:
                env_files[i] = _anchored(item, base)
    volumes, _ = _untag(svc.get("volumes"))
    if isinstance(volumes, list):
        for i, item in enumerate(volumes):
            if isinstance(item, str):
                volumes[i] = _bind_source(item, base)
            elif isinstance(item, dict) and item.get("type") == "bind" and "source" in item:
                item["source"] = _anchored(item["source"], base)
    extends, _ = _untag(svc.get("extends"))
    if isinstance(extends, dict) and "file" in extends:
        extends["file"] = _anchored(extends["file"], base)


def anchored_copy(path: Path, into: Path) -> Path:
    """Write ``path`` with its relative paths anchored to its own folder into ``into``;
    return the copy's path.

    Raises:
        UsageError: the file cannot be read or is not YAML (one line, naming it).
    """
    text = read_text(path, "compose file")
    try:
        doc = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as e:
        raise UsageError(f"{path}: not a YAML compose file ({str(e).splitlines()[0]})") from e
    # An empty (or comments-only) override adds nothing: Compose wants a mapping, not null.
    anchored = anchor_document(doc, path.resolve().parent) if doc is not None else {}
    into.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = into / f"own-{len(list(into.glob('own-*')))}-{path.name}"
    header = f"# {path} with its relative paths anchored to {path.resolve().parent}\n"
    target.write_text(header + yaml.dump(anchored, Dumper=_Dumper, sort_keys=False))
    return target


def is_own(path: Path, compose_dir: Path) -> bool:
    """A compose file of the user's (outside the harness's compose folder)."""
    return not path.resolve().is_relative_to(compose_dir.resolve())
