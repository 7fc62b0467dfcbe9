#!/usr/bin/env bash
# The main job: installs the package into .venv, then runs the examples offline (no CLI, no network):
# the library tour, and the support agent's pytest suite replaying its recorded Claude calls, with the
# per-test "claude sessions" sections (-rA) and the terminal summary. Extra arguments go to that pytest run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
echo "== examples/library_demo.py: tracker, manager and monitor on a temporary store"
.venv/bin/python examples/library_demo.py
echo
echo "== examples/support_agent: the agent's test suite, replayed from its cassettes"
cd examples/support_agent
# -p no:asyncio: the suite has no async tests, and pytest-asyncio (installed by the test command) would
# warn about its unset loop scope.
exec ../../.venv/bin/python -m pytest -rA -p no:asyncio "$@"
