"""model: the typed, frozen values every layer passes to the others — check results, step
errors and budgets exceeded (results), the checks' cause codes (checks), your own checks as
values (own_checks: Check, Context, the check decorator), topologies, what every step kind
shares (steps: the Step base, modes, step error causes; the kinds are reboot_harness.steps),
scenarios, incidents, events, traffic, what `doctor` finds in a compose file (findings) and of
the machine (machine).
Imports nothing of the harness; no Docker, no I/O."""
