"""A host's power settings as the engine gets them (no Docker)."""

from __future__ import annotations


def test_a_grace_period_is_never_shortened_to_the_engines_whole_seconds() -> None:
    """The engine's stop timeout counts whole seconds: a grace is rounded up, so 0.4 s gives
    init a second, not an immediate SIGKILL (it used to round to 0)."""
    from reboot_harness.stack.power import stop_timeout

    assert [stop_timeout(g) for g in (0, 0.4, 1, 1.2, 10)] == [0, 1, 1, 2, 10]
