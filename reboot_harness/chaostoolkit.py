"""The Chaos Toolkit extension's module path, as experiments name it (``"module":
"reboot_harness.chaostoolkit"``); its actions and probes are reboot_harness.faces.chaostoolkit's,
its control (heal an interrupted experiment) reboot_harness.faces.chaostoolkit_control's."""

from reboot_harness.faces.chaostoolkit import *  # noqa: F403  (every name of its __all__)
from reboot_harness.faces.chaostoolkit import __all__ as __all__
from reboot_harness.faces.chaostoolkit_control import (
    after_experiment_control as after_experiment_control,
)
