"""Reading a user's compose file before Compose does: found, at most 1 MiB, UTF-8, YAML, nested
and expanding within bounds, no duplicate keys, ``services`` a mapping; and the paths it names
for Compose to read while it resolves (``include``, ``extends``, ``env_file``, ``label_file``),
judged as written."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from reboot_harness.errors import UsageError
from reboot_harness.inputs.compose.roots import Roots, _items, _machine_path, _mapping, _sockets
from reboot_harness.inputs.messages import _clip, _one_line
from reboot_harness.inputs.yamlfile import MAX_DEPTH, _Loader, read_text

# A compose override needs a few hundred nodes (the shipped stack: about 800 once its aliases are
# expanded). Aliases of aliases expand exponentially ("billion laughs"): Compose would expand
# them all and take the machine's memory, so a file that expands beyond this is refused unread.
MAX_NODES = 100_000


def _compose_node(text: str, source: str) -> yaml.Node | None:
    """The YAML node graph of ``text``, bounded in nesting (no Python objects are built, so
    Compose's own tags, ``!reset`` and ``!override``, need no constructor)."""

    def fail(problem: str) -> UsageError:
        return UsageError(_one_line(f"{source}: {problem}"))

    try:
        return yaml.compose(text, Loader=_Loader)  # _Loader: a SafeLoader, nesting bounded
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = e.problem or e.context or "malformed YAML"
        if problem.startswith("nested deeper"):
            raise fail(f"{where}nested deeper than {MAX_DEPTH} levels") from e
        if e.problem and e.context:
            problem = f"{e.problem} ({e.context})"
        raise fail(f"{where}YAML syntax error: {_clip(problem, 200)}") from e
    except yaml.YAMLError as e:  # a reader error: a character YAML does not allow
        raise fail(f"YAML syntax error: {_clip(str(e), 200)}") from e
    except RecursionError as e:
        raise fail("YAML nested too deeply to read") from e


def _expanded_size(root: yaml.Node, source: str) -> int:
    """How many nodes ``root`` has once every alias is expanded (as Compose expands them)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        kids: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        if children_done or not kids:
            open_.discard(id(node))
            total = 1 + sum(sizes[id(k)] for k in kids)
            if total > MAX_NODES:
                raise UsageError(
                    f"{source}: its aliases expand to more than {MAX_NODES} YAML nodes"
                    f" (line {node.start_mark.line + 1}); a compose file needs a few hundred"
                )
            sizes[id(node)] = total
            continue
        if id(node) in open_:
            raise UsageError(
                f"{source}: line {node.start_mark.line + 1}: an alias refers to a node that holds"
                " it; compose files cannot be recursive"
            )
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in sizes)
    return sizes[id(root)]


def _pairs(node: yaml.Node | None) -> list[tuple[str, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        return []
    return [(str(k.value), v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]


def _duplicate_keys(root: yaml.Node, source: str) -> None:
    seen_nodes: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            todo.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in keys:
                        raise UsageError(
                            f"{source}: line {key.start_mark.line + 1}: duplicate key"
                            f" {key.value[:40]!r}; each key may appear once per mapping"
                        )
                    keys.add(key.value)
                todo.extend((key, value))


def _null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    return f"{_clip(repr(node.value), 40)}"


def _referenced(root: yaml.Node, here: Path, project_dir: Path) -> list[Path]:
    """Files this one pulls in (``include``, ``extends.file``), when named literally: Compose
    reads a relative one from the project's folder (``compose/``); the file's own folder is
    read too, in case."""
    names: list[str] = []
    for key, value in _pairs(root):
        if key == "include":
            entries = value.value if isinstance(value, yaml.SequenceNode) else []
            for entry in entries:
                if isinstance(entry, yaml.ScalarNode):
                    names.append(str(entry.value))
                for k, v in _pairs(entry):
                    if k == "path":
                        seq = v.value if isinstance(v, yaml.SequenceNode) else [v]
                        names += [str(s.value) for s in seq if isinstance(s, yaml.ScalarNode)]
        if key == "services":
            for _name, svc in _pairs(value):
                extends = dict(_pairs(svc)).get("extends")
                file = dict(_pairs(extends)).get("file")
                if isinstance(file, yaml.ScalarNode):
                    names.append(str(file.value))
    # a path Compose interpolates (`${...}`) is only known to Compose: CONFIG_TIMEOUT_S guards it
    literal = [n for n in names if "$" not in n and "://" not in n]
    return [d / n for n in literal for d in dict.fromkeys([project_dir, here.parent])]


def read_compose_file(path: Path, project_dir: Path) -> list[Path]:
    """Refuse (UsageError, one line naming the file and what is valid) a compose file that is
    missing, larger than 1 MiB, not UTF-8, not YAML, nested absurdly deep, holding duplicate keys
    or aliases that expand without bound, or whose ``services`` is not a mapping of service name
    to settings. Return the files it pulls in (``include``, ``extends``)."""
    source = str(path)
    if not path.is_file():
        raise UsageError(f"{source}: compose file not found")
    text = read_text(path, "compose")  # a ScenarioError (a UsageError) names the problem
    root = _compose_node(text, source)
    if root is None or _null(root):
        return []  # an empty file: Compose accepts it, it changes nothing
    _expanded_size(root, source)
    _duplicate_keys(root, source)
    if not isinstance(root, yaml.MappingNode):
        raise UsageError(
            f"{source}: expected a mapping (a compose file: services, volumes, networks, x-...),"
            f" not {_kind(root)}"
        )
    for key, value in _pairs(root):
        if key != "services" or _null(value):
            continue
        if not isinstance(value, yaml.MappingNode):
            raise UsageError(
                f"{source}: services: expected a mapping of service name to its settings,"
                f" not {_kind(value)}"
            )
        for name, svc in _pairs(value):
            if not (isinstance(svc, yaml.MappingNode) or _null(svc)):
                shown = _one_line(name[:40])
                raise UsageError(
                    f"{source}: services.{shown}: expected a mapping of settings (image, volumes,"
                    f" ports, ...), not {_kind(svc)}"
                )
    return _referenced(root, path, project_dir)


def _plain(value: Any) -> Any:
    """A value as written, without its compose tag (``!reset``, ``!override``)."""
    from reboot_harness.inputs.compose.anchor import Tagged

    return value.value if isinstance(value, Tagged) else value


def _load_tagged(path: Path) -> Any:
    """``path`` (already read by :func:`read_compose_file`) with anchors, aliases and merge keys
    applied as Compose applies them; compose tags kept."""
    from reboot_harness.inputs.compose.anchor import _Loader as TaggedLoader

    return yaml.load(read_text(path, "compose"), Loader=TaggedLoader)  # a SafeLoader subclass


@functools.lru_cache(maxsize=8)
def _harness_env_files(compose_dir: Path) -> frozenset[str]:
    """The ``env_file`` paths the harness's stack names (its secrets, through
    ``${RH_SECRETS_FILE...}``): a user's file may name them as they are written there."""
    try:
        doc = _mapping(_plain(_load_tagged(compose_dir / "stack.yaml")))
    except (UsageError, yaml.YAMLError):
        return frozenset()
    return frozenset(
        str(_mapping(ref).get("path") if isinstance(ref, Mapping) else ref)
        for svc in _mapping(_plain(doc.get("services"))).values()
        for ref in _items(_plain(_mapping(_plain(svc)).get("env_file")))
    )


def named_paths(path: Path, roots: Roots, compose_dir: Path, docker_host: str = "") -> list[str]:
    """What the user's compose file ``path`` names for Compose to read while it resolves —
    ``include`` (files, env files, project folders), ``extends.file``, ``env_file``,
    ``label_file`` — that lies outside ``roots``, is a machine path of the deny-list, comes from
    the network, or goes through a variable (``${...}``: known only to Compose, which reads the
    file before anyone could judge it). Compose drops these from what it prints, so they are
    read here, as written. A relative path is judged where Compose may read it from: beside the
    file (an own file's paths are anchored there) and in the project folder ``compose_dir``."""
    found: list[str] = []
    here = path.resolve().parent
    sockets = _sockets(docker_host)

    def judge(where: str, value: object, key: str) -> None:
        if not isinstance(value, str) or not value.strip():
            return
        if "$" in value:
            if key != "env_file" or value not in _harness_env_files(compose_dir):
                found.append(f"{where}: {value}: a path through a variable cannot be judged"
                             " before Compose reads it; write it out")  # fmt: skip
        elif "://" in value or value.startswith("git@"):
            found.append(f"{where}: {value}: a file from the network cannot be judged before"
                         " Compose fetches it; copy it beside the compose file")  # fmt: skip
        else:
            near = [str(here / value), str(compose_dir / value)]
            for candidate in [value] if value.startswith(("/", "~")) else near:
                if problem := _machine_path(candidate, "reads", sockets, roots):
                    found.append(f"{where}: {problem}")
                    return

    root = _mapping(_plain(_load_tagged(path)))
    for entry in map(_plain, _items(_plain(root.get("include")))):
        if not isinstance(entry, Mapping):
            judge("include", entry, "include")
            continue
        for file in _items(_plain(entry.get("path"))):
            judge("include", _plain(file), "include")
        for env in _items(_plain(entry.get("env_file"))):
            judge("include: env_file", _plain(env), "env_file")
        judge("include: project_directory", _plain(entry.get("project_directory")), "include")
    for name, svc in _mapping(_plain(root.get("services"))).items():
        svc = _mapping(_plain(svc))
        if isinstance(extends := _plain(svc.get("extends")), Mapping):
            judge(f"service {name}: extends", _plain(extends.get("file")), "extends")
        for key in ("env_file", "label_file"):
            for ref in map(_plain, _items(_plain(svc.get(key)))):
                value = _plain(ref.get("path")) if isinstance(ref, Mapping) else ref
                judge(f"service {name}: {key}", value, key)
    return [_clip(f, 300) for f in found]
