"""inputs: reading what users write for a stack before it exists — topologies and compose files
(judged before the engine is asked anything), the YAML reader, durations and message wording
every input shares, where the shipped files live (paths), and loading the Python checks a
topology names (own_checks). Imports model and errors only."""
