#!/usr/bin/env bash
# The compatible ranges of pyproject.toml, resolved at one end, in an environment of their own:
#   bash tests/compat.sh highest         # every dependency at its newest allowed version
#   bash tests/compat.sh lowest-direct   # every direct dependency at its lowest allowed version
# then the core suite (everything but the cluster tests) runs there. `make test` installs from the
# lock instead; this is for the people who install the library into their own environment, so that
# the next release of a dependency that breaks us is seen here first.
set -euo pipefail
cd "$(dirname "$0")/.."
resolution="${1:?usage: tests/compat.sh highest|lowest-direct}"
venv=".venv-compat-$resolution"
uv=.venv/bin/uv
export UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1 UV_NO_PROGRESS=1
"$uv" venv --quiet --allow-existing --python "${PYTHON:-python3}" "$venv"
"$uv" pip install --quiet --python "$venv/bin/python" --resolution "$resolution" \
    --reinstall-package manifest-compiler -e '.[test]'
echo "== compat $resolution: $("$venv/bin/python" -c 'import importlib.metadata as m; print(", ".join(f"{p} {m.version(p)}" for p in ("PyYAML", "pydantic", "click", "deepdiff", "pytest", "hypothesis")))')"
# Left out: the lock and installed-wheel tests (about the lock, which this environment does not
# use) and the staleness test of schemas/ (its text is what the locked pydantic generates).
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider --ignore=tests/cluster \
    --ignore=tests/test_lock.py --ignore=tests/test_installed.py --ignore=tests/test_schemas_fresh.py
