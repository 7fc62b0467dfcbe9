#!/usr/bin/env bash
# The main job: installs the package into .venv, then runs the examples offline (no CLI, no network):
# the library tour, and the support agent's pytest suite replaying its recorded Claude calls, with the
# per-test "claude sessions" sections (-rA) and the terminal summary; then the two agents tested as they
# are (a subprocess agent and an Agent SDK agent) through the interposed claude, replayed from their
# cassettes. Extra arguments go to each pytest run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
# the SDK example's agent imports the Agent SDK: kept in .sdk/, beside the venv (see scripts/test.sh)
[ -d .sdk/claude_agent_sdk ] || .venv/bin/python -m pip install -q --disable-pip-version-check \
    --target .sdk "claude-agent-sdk==0.2.184"
echo "== examples/library_demo.py: tracker, manager and monitor on a temporary store"
.venv/bin/python examples/library_demo.py
echo
echo "== examples/support_agent: the agent's test suite, replayed from its cassettes"
# -p no:asyncio: the suites have no async tests, and pytest-asyncio (installed by the test command) would
# warn about its unset loop scope.
(cd examples/support_agent && ../../.venv/bin/python -m pytest -rA -p no:asyncio "$@")
for example in subprocess_agent sdk_agent; do
    echo
    echo "== examples/$example: the agent as it is, every claude process it starts replayed"
    (cd "examples/$example" && PYTHONPATH="$PWD/../../.sdk" ../../.venv/bin/python -m pytest -rA -p no:asyncio "$@")
done
