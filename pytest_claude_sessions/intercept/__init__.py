"""The interposed ``claude``: every CLI process the code under test starts, tracked, recorded, replayed.

Design (issue 9)::

    code under test ── claude … ─► launcher (first on PATH) ──unix socket──► server (in the pytest process)
      subprocess, shell, SDK, Node      │  live: fork/exec the real CLI,            │ test's ClaudeExecutor:
                                        │  relay + tee stdin/stdout/stderr          │ guards, cassette (match,
                                        │  replay: play the recorded exchange       │ record, replay, scrub),
                                        ▼                                           ▼ steps, calls that raised

- :mod:`.launcher` is the process: tiny imports (it starts for every call), no decisions. It sends argv,
  cwd, environment and the opening input to the server and does what it is told: ``live`` (the real CLI
  with the same argv and the hermetic environment, streams relayed and teed, signals forwarded, the CLI
  dying with it through ``PR_SET_PDEATHSIG``), ``replay`` (the recorded output; in the duplex protocol the
  recorded lines are written in order and the caller's lines are read and compared where the recording
  read them, request ids remapped) or ``fail`` (a one-line reason on stderr, exit code 1). ``-v`` needs no
  server: the real CLI (live) or the recorded version (replay).
- :mod:`.server` runs in the pytest process (one per xdist worker). A call goes through the test's
  ``ClaudeExecutor.run_external``: the executor's own path (guards, the ``CassetteInterceptor``, parsing,
  one step per ``result``, ``history``), so intercepted calls share one core with executor calls: one
  cassette format, one matching, one redaction, one place that turns a CLI run into steps. A duplex
  process with several results (one ``ClaudeSDKClient``, several ``query()``) gives one step per result.
- :mod:`.argv` reads the command line as the CLI does (kind from ``--resume``/``-r``/``--continue``/
  ``--fork-session``/``--session-id``; behaviour flags kept for matching).
- :mod:`.bindir` writes the launcher script once per process; :mod:`.sdk` makes the Python Agent SDK's CLI
  lookup return it (its bundled binary would bypass ``PATH``).
- The pytest side (``claude_cli`` fixture, which tests get interception) is
  :mod:`pytest_claude_sessions.plugin.intercept`.

Everything that crosses the process boundary is JSON: the launcher's payload (``$PYTEST_CLAUDE_SESSIONS_
LAUNCHER``: socket, test token, real CLI, recorded version, whether the test replays) and the messages.
"""
