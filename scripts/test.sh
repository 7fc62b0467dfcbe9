#!/usr/bin/env bash
# The test command: installs what the suite needs (venv, test deps, the pinned CLI), then runs
# ruff, mypy --strict and the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
bash scripts/install-claude-cli.sh
# The Agent SDK, for the interposed-claude tests only, in .sdk/ (not the venv): its wheel bundles a CLI that
# the executor's binary discovery would find, and the rest of the suite tests discovery without it.
[ -d .sdk/claude_agent_sdk ] || .venv/bin/python -m pip install -q --disable-pip-version-check \
    --target .sdk "claude-agent-sdk==0.2.184"
# pytest-html, for the test of its extras only, in .pytest-html/ (not the venv: it is optional, and every
# other run must work without it).
[ -d .pytest-html/pytest_html ] || .venv/bin/python -m pip install -q --disable-pip-version-check \
    --no-deps --target .pytest-html "pytest-html==4.2.0" "pytest-metadata==3.1.1" "jinja2==3.1.6" \
    "markupsafe==3.0.4"
# The HTML report is checked in a real headless browser: Debian's chromium-headless-shell (or chromium).
if ! command -v chromium-headless-shell >/dev/null && ! command -v chromium >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        apt-get install -y -qq chromium-headless-shell >/dev/null || apt-get install -y -qq chromium >/dev/null
    else
        echo "note: no headless Chromium (apt-get install chromium-headless-shell): the browser test skips" >&2
    fi
fi
export CLAUDE_BIN="$PWD/.claude-cli/node_modules/.bin/claude"
echo "== ruff" && .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy --strict" && .venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest -n 2 "$@"
