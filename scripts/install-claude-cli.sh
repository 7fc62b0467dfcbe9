#!/usr/bin/env bash
# Installs the pinned Claude Code CLI into the project-local, git-ignored prefix .claude-cli/ (idempotent).
# The native binary ships in an optional dependency: never pass --omit=optional.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${CLAUDE_CODE_VERSION:-2.1.330}"
PREFIX=".claude-cli"
BIN="$PREFIX/node_modules/.bin/claude"

installed() { [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "^${VERSION} "; }

if installed; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "install-claude-cli: npm not found; install Node.js (>= 20) to get the Claude Code CLI" >&2
  exit 1
fi
echo "install-claude-cli: installing @anthropic-ai/claude-code@${VERSION} into ${PREFIX}/" >&2
mkdir -p "$PREFIX"
npm install --no-audit --no-fund --no-save --loglevel=error --prefix "$PREFIX" \
  "@anthropic-ai/claude-code@${VERSION}" >&2
if ! installed; then
  # npm 11 may skip the postinstall that puts the native binary in place: run it ourselves.
  (cd "$PREFIX/node_modules/@anthropic-ai/claude-code" && node install.cjs) >&2 || true
fi
if ! installed; then
  echo "install-claude-cli: $BIN does not report version ${VERSION}" >&2
  exit 1
fi
echo "install-claude-cli: $("$BIN" --version) at $BIN" >&2
