#!/usr/bin/env bash
# Set up this machine and run the test suite (unit + integration on real containers), two stacks
# in parallel. Without --full: the tier that proves every check's failure modes, every step kind
# and every incident's reproduction by its cause and its fixed variant (tests/conftest.py lists
# what only the full tier runs: long outages, the week, other engines, the wheel, repeated
# kills, ...). --full (what CI runs): everything. Other arguments go to pytest.
set -euo pipefail
tier=(-m "not full")
args=()
for a in "$@"; do
  if [ "$a" = --full ]; then tier=(); else args+=("$a"); fi
done
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
    ${tier[@]+"${tier[@]}"} ${args[@]+"${args[@]}"} scenarios tests
