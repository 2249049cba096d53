"""A Chaos Toolkit control that heals the stack when an experiment is interrupted (Ctrl-C,
SIGTERM, an ``InterruptExecution``): Chaos Toolkit then plays no rollbacks (its default
strategy), so without it a host an action powered off stays off. Declared in an experiment::

    "controls": [{"name": "reboot-harness", "provider": {"type": "python",
                  "module": "reboot_harness.chaostoolkit"}}]

The stack is the control's ``project`` argument, else the experiment's configuration
``reboot_harness_project``, else ``$RH_PROJECT`` (as for the activities).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from reboot_harness.interrupts import shielded

# chaoslib's logger: what the control did lands in chaostoolkit.log beside the activities.
_log = logging.getLogger("chaostoolkit")


def after_experiment_control(
    context: object,
    state: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
    project: str | None = None,
    **_: Any,
) -> None:
    """Heal the stack (reboot_harness.chaostoolkit.heal) when the experiment's journal says it
    was interrupted; the heal runs shielded from a second Ctrl-C. A heal that fails is logged,
    never raised: the journal is already written.

    Args:
        context: the experiment (chaoslib passes it).
        state: the journal.
        configuration: the experiment's configuration.
        project: the stack (default: configuration reboot_harness_project, $RH_PROJECT).
    """
    from reboot_harness.faces.chaostoolkit import heal

    if not state or state.get("status") != "interrupted":
        return
    with shielded():
        try:
            healed = heal(project, configuration=configuration)
        except Exception as e:  # logged for the operator: the run is over either way
            _log.error(f"reboot-harness: the interrupted experiment was not healed: {e}")
            return
    _log.warning(
        "reboot-harness: the experiment was interrupted; healed: "
        + (", ".join(healed) or "nothing")
    )
