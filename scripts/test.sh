#!/usr/bin/env bash
# Set up this machine and run the whole test suite (unit + integration on real containers),
# two stacks in parallel. Extra arguments go to pytest.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup-host.sh"
cd "$here"
.venv/bin/reboot-harness gc
.venv/bin/reboot-harness build
# Scenarios first: they are the longest items, and xdist hands items out in this order.
exec .venv/bin/pytest -n 2 --dist loadgroup --junitxml=.reports/junit.xml "$@" scenarios tests
