#!/usr/bin/env bash
# The openeo-test-suite's API compliance tests (../shared/spec/openeo-test-suite, offline) against a
# running `sparkeo serve` (default: `make serve`'s, user demo/demo):
#   bash scripts/openeo-test-suite.sh [URL]
# The suite and its dependencies go into a venv of their own (they pin versions sparkeo does not use).
set -euo pipefail
URL=${1:-http://127.0.0.1:8080}
HERE=$(cd "$(dirname "$0")" && pwd)
SUITE=${SUITE:-$HERE/../../shared/spec/openeo-test-suite}
VENV=${VENV:-$HERE/../build/openeo-test-suite-venv}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp -rL "$SUITE" "$WORK/suite"
[ -x "$VENV/bin/python" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "$WORK/suite"; }
cp "$HERE/openeo_test_suite_auth.py" "$WORK/suite/"
cd "$WORK/suite"
PYTHONPATH=.:src OPENEO_AUTH_BASIC_USERNAME=${OPENEO_AUTH_BASIC_USERNAME:-demo} \
  OPENEO_AUTH_BASIC_PASSWORD=${OPENEO_AUTH_BASIC_PASSWORD:-demo} \
  "$VENV/bin/python" -m pytest -p no:cacheprovider -p openeo_test_suite_auth src/openeo_test_suite/tests/general \
  --openeo-backend-url "$URL" -q
