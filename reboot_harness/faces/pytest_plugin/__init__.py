"""faces/pytest_plugin: the pytest plugin (entry point ``pytest11``, name ``reboot_harness``).
Imports pytest, and the harness's other layers only lazily, when a scenario item or an ``rh_``
fixture first runs.

Scenario files become test items, and ``rh_``-prefixed fixtures write scenarios in Python.
Scenario files are collected only from the directories a project names (ini ``rh_scenarios``,
option ``--rh-scenarios DIR``) or that are given on the command line: every ``*.yaml`` there is
one item per variant (``cold-start[fixed]``, ``no-minfds[incident]``); each runs on its own fresh
stack with a unique project name, so ``pytest -n 2`` runs stacks in parallel and JUnit XML works.

A good citizen of other people's suites: installed into a project that never uses it, the plugin
only registers its options and markers. The Docker client, the SIGTERM handler and the
clean-up of what killed runs left behind (``gc``) are engaged only when a scenario item or an
``rh_`` fixture first runs. ``-p no:reboot_harness`` disables it.

Any suite, not only scenarios: ``--rh-shard K/N`` runs one of N shards balanced by recorded
durations (``sharding``), and under pytest-xdist the longest items start first. The durations
are recorded (``--rh-durations FILE``) only where they are asked for or the project uses the
harness: a suite that never mentions the plugin gets no file.

This package is the entry point; its modules, split as pytest-xdist splits its own: the options
and hooks (``options``: the options and ini values, resolved once into the session's
RunRequest; ``hooks``: those of the session and of each item, each handing over to the module
below that does the work), ``collection`` (scenario files as items), ``fixtures`` (the ``rh_``
fixtures and the ``rh_incident`` marker), and placement: ``engines`` (which engine a process's
stacks go to, the next when it stops answering, and what the first stack needs) and
``placement`` (the shard kept and the order, by recorded durations; ``sharding`` is its pure
part). Each is registered below, after the modules it imports: pytest
imports it itself, so none is imported before it could be marked for assertion rewriting.
"""

pytest_plugins = (
    "reboot_harness.faces.pytest_plugin.options",
    "reboot_harness.faces.pytest_plugin.collection",
    "reboot_harness.faces.pytest_plugin.placement",
    "reboot_harness.faces.pytest_plugin.fixtures",
    "reboot_harness.faces.pytest_plugin.hooks",
)
