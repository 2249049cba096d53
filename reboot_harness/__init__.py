"""reboot-harness: rehearse host reboots of a containerised replica of your stack."""

__version__ = "0.1.0"


def discover(discover_system: bool = True) -> dict[str, object]:
    """Chaos Toolkit's discovery of this extension (``chaos discover reboot-harness`` looks for
    it here, in the distribution's top-level package): every action and probe of
    reboot_harness.chaostoolkit, with their arguments. Needs the [chaostoolkit] extra."""
    from reboot_harness.faces.chaostoolkit import discover as discovered

    return discovered(discover_system)
