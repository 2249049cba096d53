"""scenarios: reading scenario and incident files and finding them by name — a scenario is made
of step kinds and names checks, so its files are validated here, against the kinds
(reboot_harness.steps) and the checks a topology has (reboot_harness.checks.available).
Imports model, inputs, errors, checks (which there are) and steps; never the stack's engine."""
