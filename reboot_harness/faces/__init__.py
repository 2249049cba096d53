"""faces: the ways users drive the harness — the CLI (cli), the pytest plugin (pytest_plugin),
Chaos Toolkit actions and probes (chaostoolkit). Import any layer; nothing imports a face."""
