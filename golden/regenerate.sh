#!/bin/sh
# Rewrite golden/<stem>.yaml for every workload in examples/*.yaml: the exact stdout of
#   compile -p examples/policies -t examples/templates examples/<stem>.yaml
# run from the repository root (-p/-t only when the directory exists). tests/test_golden.py checks
# the same bytes. Files under examples/ that hold no workload (templates, policies) are skipped.
# Usage: golden/regenerate.sh [OUTPUT_DIR]   (default: golden; COMPILE overrides the command)
set -eu
cd "$(dirname "$0")/.."
out=${1:-golden}
mkdir -p "$out"

if [ -n "${COMPILE:-}" ]; then
    compile_cmd=$COMPILE
elif [ -x .venv/bin/compile ]; then
    compile_cmd=.venv/bin/compile
else
    compile_cmd=compile
fi

options=""
[ -d examples/policies ] && options="$options -p examples/policies"
[ -d examples/templates ] && options="$options -t examples/templates"

if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi

# The workload examples, by the rule tests/conftest.py uses (example_support.workload_examples).
workloads=$($python -c 'import sys; sys.path.insert(0, "tests"); from example_support import workload_examples, REPO
for p in workload_examples(): print(p.relative_to(REPO))')

status=0
for manifest in $workloads; do
    stem=$(basename "$manifest" .yaml)
    # shellcheck disable=SC2086  # $options is a list of words
    if $compile_cmd $options "$manifest" > "$out/$stem.yaml.tmp"; then
        mv "$out/$stem.yaml.tmp" "$out/$stem.yaml"
        echo "$out/$stem.yaml"
    else
        rm -f "$out/$stem.yaml.tmp"
        echo "regenerate: $manifest does not compile; $out/$stem.yaml left as it was" >&2
        status=1
    fi
done
exit $status
