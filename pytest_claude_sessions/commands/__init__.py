"""The ``claude-sessions`` command: look at stores, runs, cassettes and transcripts after a pytest run.
Entry point :func:`pytest_claude_sessions.commands.main.main`; nothing here imports pytest hooks.
"""
