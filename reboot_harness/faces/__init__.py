"""faces: the ways users drive the harness — the CLI (cli), the pytest plugin (pytest_plugin),
Chaos Toolkit actions and probes (chaostoolkit; the validation `chaos validate` runs,
chaostoolkit_validate; the control that heals an interrupted experiment, chaostoolkit_control).
Import any layer; nothing imports a face."""
