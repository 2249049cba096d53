#!/usr/bin/env bash
# Set up this machine, bring the replica stack up, check it, print the result, then remove it
# (KEEP=1 leaves it running as project "demo").
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup-host.sh"
rh="$here/.venv/bin/reboot-harness"
project=${PROJECT:-demo}
"$rh" gc >/dev/null
if "$rh" up --project "$project"; then
    rc=0; "$rh" check --project "$project" || rc=$?
else
    exit 1
fi
if [ "${KEEP:-0}" = 1 ]; then
    echo "stack '$project' left running: $rh down --project $project removes it"
else
    "$rh" down --project "$project"
fi
exit $rc
