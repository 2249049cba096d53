#!/usr/bin/env bash
# The pytest plugin on the oldest and the newest pytest the harness supports. Two fresh venvs,
# one with pytest 8.0 and pytest-xdist 3.5 (the lower bounds in pyproject.toml), one with the
# newest of both; each then gets the harness (editable, with [dev]), which must leave that
# pytest in place, and runs the plugin's unit tests (-n 2 --dist loadgroup grouping included).
# Not part of any tier: it installs from the package index (a few minutes).
#   scripts/pytest-range.sh [DIR]   (the venvs go to DIR, default a new temporary folder)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
tests=(tests/unit/test_plugin.py tests/unit/test_sharding.py tests/unit/test_durations.py)
version() { "$1/bin/python" -c "import importlib.metadata as m; print(m.version('$2'))"; }
for name in oldest newest; do
    venv="$work/$name"
    python3 -m venv "$venv"
    if [ "$name" = oldest ]; then
        "$venv/bin/pip" install -q 'pytest==8.0.0' 'pytest-xdist==3.5.0'
    else
        "$venv/bin/pip" install -q --upgrade pytest pytest-xdist
    fi
    before=$(version "$venv" pytest)
    "$venv/bin/pip" install -q -e "$here[dev]"
    after=$(version "$venv" pytest)
    if [ "$before" != "$after" ]; then
        echo "$name: installing the harness changed pytest $before to $after" >&2
        exit 1
    fi
    echo "$name: pytest $after, pytest-xdist $(version "$venv" pytest-xdist) (kept)"
    (cd "$here" && "$venv/bin/pytest" -q -p no:cacheprovider "${tests[@]}")
done
