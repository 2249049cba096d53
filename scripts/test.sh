#!/usr/bin/env bash
# Set up this machine and run the whole test suite (unit + integration on real containers),
# two stacks in parallel. Extra arguments go to pytest.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup-host.sh"
cd "$here"
.venv/bin/reboot-harness gc
.venv/bin/reboot-harness build
# Recorded durations: a fresh clone starts from the ones committed in tests/durations.json
# (from a full run on the CI machine); every run then records its own.
mkdir -p .reports
[ -e .reports/durations.json ] || cp tests/durations.json .reports/durations.json
# xdist hands groups out in collection order, which the plugin sorts longest first by the
# durations recorded in .reports/durations.json (--rh-order auto); --no-loadscope-reorder keeps
# xdist from putting the groups with the most tests first instead.
exec .venv/bin/pytest -n 2 --dist loadgroup --no-loadscope-reorder --junitxml=.reports/junit.xml \
    "$@" scenarios tests
