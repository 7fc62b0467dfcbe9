"""An agent as teams write it: it shells out to the ``claude`` CLI with ``subprocess`` and knows nothing
about pytest-claude-sessions. Its tests (``tests/``) run it as it is."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass


class AgentError(RuntimeError):
    """The CLI failed (its stderr, or its error result)."""


@dataclass
class Reply:
    text: str
    session_id: str
    cost_usd: float


def ask(
    prompt: str,
    *,
    resume: str | None = None,
    fork: bool = False,
    continue_: bool = False,
    output_format: str = "json",
    timeout: float = 120,
) -> Reply:
    """One ``claude -p`` call: the options first, then ``--``, then the prompt."""
    argv = ["claude", "-p", "--output-format", output_format]
    if output_format == "stream-json":
        argv.append("--verbose")
    if resume:
        argv += ["--resume", resume]
    if fork:
        argv.append("--fork-session")
    if continue_:
        argv.append("--continue")
    argv += ["--", prompt]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise AgentError(done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}")
    if output_format == "stream-json":
        payload = [json.loads(line) for line in done.stdout.splitlines() if line.strip()][-1]
    else:
        payload = json.loads(done.stdout)
    return Reply(payload["result"], payload["session_id"], payload["total_cost_usd"])


def summarize_with_pipeline(text: str) -> str:
    """A shell pipeline: the text goes to ``claude -p`` on stdin (plain text output)."""
    done = subprocess.run(
        "printf '%s' \"$NOTE\" | claude -p --output-format text",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "NOTE": text},
    )
    if done.returncode != 0:
        raise AgentError(done.stderr.strip() or done.stdout.strip())
    return done.stdout.strip()


def ask_many(prompts: list[str], timeout: float = 120) -> list[Reply]:
    """Several independent conversations at once: one ``claude`` process each, all running together."""
    procs = [
        subprocess.Popen(
            ["claude", "-p", "--output-format", "json", "--", p],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for p in prompts
    ]
    replies = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise AgentError(err.strip())
        payload = json.loads(out)
        replies.append(Reply(payload["result"], payload["session_id"], payload["total_cost_usd"]))
    return replies
