#!/usr/bin/env bash
# The test command: installs what the suite needs (venv, test deps, the pinned CLI), then runs
# ruff, mypy --strict and the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
bash scripts/install-claude-cli.sh
export CLAUDE_BIN="$PWD/.claude-cli/node_modules/.bin/claude"
echo "== ruff" && .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy --strict" && .venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest -n 2 "$@"
