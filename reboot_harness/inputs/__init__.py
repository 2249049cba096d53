"""inputs: reading what users write for a stack before it exists — topologies and compose files
(judged before the engine is asked anything), the YAML reader, durations and message wording
every input shares, and where the shipped files live (paths). Imports model and errors only
(a topology's own Python checks are loaded through reboot_harness.checks.api, lazily)."""
