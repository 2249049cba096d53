"""Scenario files (YAML) -> ``reboot_harness.model.scenario.Scenario``.

The format is documented in scenarios/README.md. A file is validated completely before anything
runs, and every problem is one ScenarioError of one line that names the file, the key path and
the valid choices::

    scenarios/x.yaml: steps[2].reboot.host: unknown host 'app3'; known: app1, app2, dns, ...

YAML is read with a SafeLoader that knows only ``true``/``false`` as booleans (YAML 1.2: ``yes``,
``no``, ``on`` and ``off`` stay strings, so ``new_ip: yes`` is refused rather than guessed) and
that refuses duplicate keys (PyYAML would silently keep the last one).

The document is then validated by pydantic models (strict types, no unknown keys), one per step
kind; hosts, checks and incidents are checked against the validation context. The first
ValidationError entry becomes the one-line message: its ``loc`` is the key path, its type the
wording.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from reboot_harness.errors import ScenarioError
from reboot_harness.inputs.durations import (
    DURATION_BOUNDS,
    UNITS,
    format_seconds,
    parse_duration,
)
from reboot_harness.inputs.messages import (
    _clip,
    _describe,
    _first,
    _kind,
    _one_line,
    _show,
)
from reboot_harness.inputs.yamlfile import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    _load_yaml,
    _too_big,
    read_text,
)
from reboot_harness.model.incidents import Incident
from reboot_harness.model.scenario import Scenario
from reboot_harness.model.steps import Step
from reboot_harness.model.topology import Topology
from reboot_harness.scenarios.fields import (
    GROUPS,
    MAX_ERRORS,
    MAX_SEED,
    MAX_STEPS,
    NAME_RE,
    PROGRAM_RE,
    SIGNALS,
    _Known,
)
from reboot_harness.scenarios.schema import (
    TOP_KEYS,
    VALID,
    WORDINGS,
    _Scenario,
)
from reboot_harness.scenarios.step_models import _StepDoc

__all__ = [
    "DURATION_BOUNDS",
    "GROUPS",
    "MAX_DEPTH",
    "MAX_ERRORS",
    "MAX_FILE_BYTES",
    "MAX_SEED",
    "MAX_STEPS",
    "NAME_RE",
    "PROGRAM_RE",
    "SIGNALS",
    "TOP_KEYS",
    "UNITS",
    "format_seconds",
    "load_scenario",
    "load_scenarios",
    "parse_duration",
    "parse_scenario",
    "parse_step",
]

# -- public API --------------------------------------------------------------------------------


def parse_scenario(
    text: str,
    *,
    source: str,
    topology: Topology,
    checks: Sequence[str],
    incidents: Sequence[str] | Mapping[str, Incident],
) -> Scenario:
    """Validate the YAML ``text`` of a scenario completely and build the Scenario.

    Args:
        text: the file's contents.
        source: what messages call the file (usually its path as the user gave it).
        topology: hosts, load balancers and databases the steps may name.
        checks: the check names ``expect``, ``wait_recovered`` and ``reproduces`` may name.
        incidents: the incident names ``reproduces.incident`` may name; given as incidents by
            name (reboot_harness.scenarios.find.Incidents), ``reproduces`` is also checked
            against each incident's own declaration.

    Raises:
        ScenarioError: one line, ``SOURCE: KEY.PATH: what is wrong; valid: choices``.
    """
    src = _one_line(source)
    try:
        if not isinstance(text, str):
            raise ScenarioError(f"{src}: expected the text of a scenario, got {_kind(text)}")
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_FILE_BYTES:
            raise _too_big(src, size)
        data = _load_yaml(text, src)
        known = _Known(
            topology,
            tuple(checks),
            incidents if isinstance(incidents, Mapping) else tuple(incidents),
        )
        try:
            doc = _Scenario.model_validate(data, context=known)
        except ValidationError as e:
            errors = e.errors(include_url=False)
            first = _first(errors)
            lines = [
                _one_line(f"{src}: {_describe(err, _Scenario, WORDINGS, VALID)}")
                for err in [first, *(err for err in errors if err is not first)]
            ]
            raise ScenarioError(lines[0], also=list(dict.fromkeys(lines[1:]))) from e
        return doc.build(src)
    except ScenarioError:
        raise
    except RecursionError as e:
        raise ScenarioError(f"{src}: nested too deeply; scenarios need only a few levels") from e
    except Exception as e:  # a bug here must still reach the user as a one-line usage error
        raise ScenarioError(
            _one_line(f"{src}: cannot read scenario: {type(e).__name__}: {_clip(str(e), 200)}")
        ) from e


def parse_step(data: object, *, source: str, topology: Topology, checks: Sequence[str]) -> Step:
    """Validate one step (``{"reboot": {"host": "app1", "down_for": "5s"}}``) exactly as in a
    scenario's ``steps`` and build it: what a one-shot fault on a running stack runs.

    Raises:
        ScenarioError: one line, ``SOURCE: KIND.KEY: what is wrong; valid: choices``.
    """
    src = _one_line(source)
    try:
        doc = _StepDoc.model_validate(data, context=_Known(topology, tuple(checks), ()))
    except ValidationError as e:
        problem = _describe(_first(e.errors(include_url=False)), _StepDoc, WORDINGS, VALID)
        raise ScenarioError(_one_line(f"{src}: {problem}")) from e
    return doc.build()


def load_scenario(
    path: Path,
    *,
    topology: Topology,
    checks: Sequence[str],
    incidents: Sequence[str] | Mapping[str, Incident],
) -> Scenario:
    """Read and validate one scenario file (refused unread when larger than 1 MiB).

    Raises:
        ScenarioError: the file cannot be read, is too large, or is invalid.
    """
    text = read_text(path, "scenario")
    return parse_scenario(
        text, source=str(path), topology=topology, checks=checks, incidents=incidents
    )


def load_scenarios(
    paths: Iterable[Path],
    *,
    topology: Topology,
    checks: Sequence[str],
    incidents: Sequence[str] | Mapping[str, Incident],
) -> list[Scenario]:
    """Load every file of ``paths`` in order; scenario names must be unique across them.

    Raises:
        ScenarioError: the first invalid file, or the second file using a name.
    """
    scenarios: list[Scenario] = []
    first_source: dict[str, str] = {}
    for path in paths:
        scenario = load_scenario(path, topology=topology, checks=checks, incidents=incidents)
        if scenario.name in first_source:
            raise ScenarioError(
                _one_line(
                    f"{scenario.source}: name: duplicate scenario name {_show(scenario.name)}; "
                    f"also in {first_source[scenario.name]}"
                )
            )
        first_source[scenario.name] = scenario.source
        scenarios.append(scenario)
    return scenarios
