"""inputs: reading what users write — scenario files, topologies, incidents and compose files
(judged before the engine is asked anything) — and finding them by name (find). Imports model,
errors and the check declarations (reboot_harness.checks.api and .available: which checks a
topology has); never the stack, never Docker's clients."""
