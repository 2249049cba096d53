"""A JUnit XML report of scenario runs (`run --junitxml FILE`), for CI outside pytest: one
testsuite ``reboot-harness``, one testcase per scenario variant run (``name[variant]``, and
`` #k`` for a repeat), its time, a ``failure`` with the verdict's lines when it failed, and
properties saying which stack (project), engine, incident and seed it ran with. The shape is the
common one (the one pytest's --junitxml writes, that CI systems read)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from reboot_harness.judging.result import ScenarioResult

SUITE = "reboot-harness"
# What XML 1.0 cannot hold even escaped (a process's output may carry it): shown as U+FFFD.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _properties(parent: ET.Element, pairs: Sequence[tuple[str, str]]) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in pairs:
        ET.SubElement(props, "property", name=name, value=_xml(value))


def junit_xml(
    results: Sequence[ScenarioResult],
    *,
    seeds: Mapping[str, int],
    now: datetime | None = None,
    hostname: str = "",
) -> str:
    """The JUnit XML document of ``results``.

    Args:
        results: every scenario variant run, in run order.
        seeds: scenario name -> the seed its plan ran with.
        now: when the suite ran (its ``timestamp``; default: now).
        hostname: the machine that ran it (``hostname`` of the suite; left out when empty).

    Returns:
        The document, with its XML declaration, as text.
    """
    failed = sum(not r.passed for r in results)
    suite = ET.Element(
        "testsuite",
        name=SUITE,
        tests=str(len(results)),
        failures=str(failed),
        errors="0",
        skipped="0",
        time=f"{sum(r.duration_s for r in results):.3f}",
        timestamp=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
    )
    if hostname:
        suite.set("hostname", hostname)
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{SUITE}.{r.name}",
            name=_xml(r.test_id + (f" #{r.repeat}" if r.repeat else "")),
            time=f"{r.duration_s:.3f}",
        )
        pairs = [("project", r.project), ("seed", str(seeds.get(r.name, 0))),
                 ("variant", r.variant), ("reason", r.reason)]  # fmt: skip
        pairs += [(key, value) for key, value in (("incident", r.incident),
                                                   ("engine", r.engine)) if value]  # fmt: skip
        _properties(case, pairs)
        if not r.passed:
            failure = ET.SubElement(case, "failure", message=_xml(r.reason), type="ScenarioFailed")
            failure.text = _xml("\n".join(r.verdict_lines()))
    suites = ET.Element("testsuites", name=SUITE, tests=suite.get("tests", "0"),
                        failures=str(failed), errors="0", time=suite.get("time", "0"))  # fmt: skip
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
