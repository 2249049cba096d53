#!/usr/bin/env bash
# Mutation testing of the verdict code (issue 19): mutmut over reboot_harness/judging/ (judge.py,
# and the traffic verdicts: measures.py, traffic.py, budgets.py) and
# reboot_harness/report/compare.py and significance.py, each against its own unit tests
# (tests/unit/test_<module>.py; the traffic verdicts': tests/unit/test_verdicts.py; compare's
# significance: tests/unit/test_compare.py). Not part of CI: minutes on 2 cores.
#
#   bench/mutation.sh [-d DIR] [-j N] [MODULE ...]
#
#   MODULE  a module of reboot_harness/, as its path there without .py (default: judging/judge
#           judging/measures judging/traffic judging/budgets report/compare report/significance)
#   -d DIR  where to set up the copy (default: a new directory under /tmp); an existing DIR
#           is refreshed: its reboot_harness/, tests/, pyproject.toml and mutants/ are replaced
#   -j N    mutants tested at once (default 2: the machine is shared)
#
# The copy holds the whole package, the tests and pyproject.toml, so mutmut's mutants/ folder
# never touches the checkout and the mutated package imports no file of the checkout. Prints
# killed/survived per file; then `cd DIR && mutmut results` lists the survivors and
# `mutmut show NAME` shows one. Needs mutmut: pip install -e '.[dev]'.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
dir=""
jobs=2
while getopts "d:j:h" opt; do
    case $opt in
        d) dir=$OPTARG ;;
        j) jobs=$OPTARG ;;
        h) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: bench/mutation.sh [-d DIR] [-j N] [MODULE ...]  (-h: help)" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(judging/judge judging/measures judging/traffic judging/budgets
                                     report/compare report/significance)

mutmut=${MUTMUT:-}
if [ -z "$mutmut" ] && [ -x "$repo/.venv/bin/mutmut" ]; then mutmut=$repo/.venv/bin/mutmut; fi
if [ -z "$mutmut" ]; then mutmut=$(command -v mutmut || true); fi
if [ -z "$mutmut" ]; then
    echo "mutation.sh: mutmut not found; install the dev extra: pip install -e '.[dev]'" >&2
    exit 2
fi
python=$(dirname "$mutmut")/python
[ -x "$python" ] || python=python3

sources=()
tests=()
for m in "${modules[@]}"; do
    case $m in
        judging/measures | judging/traffic | judging/budgets) test=tests/unit/test_verdicts.py ;;
        report/significance) test=tests/unit/test_compare.py ;;
        *) test=tests/unit/test_${m##*/}.py ;;
    esac
    if [ ! -f "$repo/reboot_harness/$m.py" ] || [ ! -f "$repo/$test" ]; then
        echo "mutation.sh: need reboot_harness/$m.py and $test; modules are named by their path" \
            "in reboot_harness/, like judging/judge or report/compare" >&2
        exit 2
    fi
    sources+=("reboot_harness/$m.py")
    tests+=("$test")
done

if [ -z "$dir" ]; then
    dir=$(mktemp -d /tmp/rh-mutation.XXXXXX)
else
    dir=$(realpath -m "$dir")
    if [ "$dir" = "$repo" ] || [ "${repo#"$dir"/}" != "$repo" ] || [ "${dir#"$repo"/}" != "$dir" ]; then
        echo "mutation.sh: -d must name a directory outside the checkout" >&2
        exit 2
    fi
    mkdir -p "$dir"
    rm -rf "$dir/mutants" "$dir/reboot_harness" "$dir/tests" "$dir/pyproject.toml"
fi
cp -r "$repo/reboot_harness" "$repo/tests" "$repo/pyproject.toml" "$dir/"
find "$dir/reboot_harness" "$dir/tests" -name __pycache__ -prune -exec rm -rf {} +

# mutmut's settings, in the copy only: the whole package goes into mutants/ (a regular package
# there, found before the checkout's editable install); only the named files are mutated.
"$python" - "$dir/pyproject.toml" "${sources[@]}" -- "${tests[@]}" <<'EOF'
import json, re, sys

path, rest = sys.argv[1], sys.argv[2:]
sources, tests = rest[: rest.index("--")], rest[rest.index("--") + 1 :]
with open(path) as f:
    text = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", f.read())
text += (
    "\n[tool.mutmut]\n"
    'source_paths = ["reboot_harness/"]\n'
    f"only_mutate = {json.dumps(sources)}\n"
    f"pytest_add_cli_args_test_selection = {json.dumps(list(dict.fromkeys(tests)))}\n"
    'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
)
with open(path, "w") as f:
    f.write(text)
EOF

cd "$dir"
echo "mutation.sh: $("$mutmut" --version 2>/dev/null) over ${sources[*]} in $dir"
started=$(date +%s)
if ! nice "$mutmut" run --max-children "$jobs" >"$dir/run.log" 2>&1; then
    echo "mutation.sh: mutmut run failed; the end of $dir/run.log:" >&2
    tail -c 2000 "$dir/run.log" >&2
    exit 1
fi
echo "mutation.sh: mutmut ran $(($(date +%s) - started)) s"
"$mutmut" results --all true 2>/dev/null | awk '
    $1 ~ /^reboot_harness\./ {
        n = split($1, part, ".")
        file = part[1]
        for (i = 2; i < n; i++) file = file "/" part[i]
        file = file ".py"
        status = $2
        for (i = 3; i <= NF; i++) status = status " " $i
        total[file]++
        if (status == "killed") killed[file]++
        else if (status == "survived") survived[file]++
        else other[file]++
    }
    END {
        for (f in total) {
            printf "%-36s %8d %8d %9d %7d %6.1f%%\n", f, total[f], killed[f], survived[f],
                other[f], 100 * killed[f] / total[f]
            all += total[f]; k += killed[f]; s += survived[f]; o += other[f]
        }
        printf "~all                                 %8d %8d %9d %7d %6.1f%%\n", all, k, s, o,
            all ? 100 * k / all : 0
    }' | sort | sed 's/^~all /all  /' |
    { printf "%-36s %8s %8s %9s %7s %7s\n" file mutants killed survived other score; cat; }
echo "survivors: cd $dir && $mutmut results   (one: $mutmut show NAME)"
