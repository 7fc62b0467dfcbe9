"""pytest-xdist glue: who is controller or worker, settings to workers, crashed workers noted.

The hooks live on a class registered only when xdist is loaded, each with ``optionalhook=True``, so
``-p no:xdist`` raises nothing. Everything sent through ``workerinput`` is JSON-safe (execnet rejects
``Path`` and friends and xdist then silently restarts the worker).

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting; skipping its pass over this module
keeps start-up cheaper (pytest rewrites every module of a pytest11 package it imports).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

WORKERINPUT_KEY = "claude_sessions"


def is_worker(config: pytest.Config) -> bool:
    """True inside an xdist worker process (not the env var: it leaks into nested pytest runs)."""
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """True in the xdist controller of a distributed run (``-n N``, N > 0, or ``--dist`` with ``--tx``).

    Mirrors xdist's own test: ``--dist load`` without workers runs in-process.
    """
    option = config.option
    return (
        not is_worker(config) and getattr(option, "dist", "no") != "no" and bool(getattr(option, "tx", None))
    )


def worker_id(config: pytest.Config) -> str | None:
    """``gw0``… in a worker, ``None`` elsewhere."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return None if workerinput is None else str(workerinput.get("workerid"))


def worker_payload(config: pytest.Config) -> dict[str, Any] | None:
    """What the controller sent this worker under :data:`WORKERINPUT_KEY` (``None`` outside workers)."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is None:
        return None
    payload = workerinput.get(WORKERINPUT_KEY)
    return payload if isinstance(payload, dict) else None


class XdistHooks:
    """Controller-side xdist hooks: ship the payload to each worker, note workers that went down."""

    def __init__(self, payload: dict[str, Any], on_node_down: Callable[[str, str], None]) -> None:
        self._payload = payload
        self._on_node_down = on_node_down

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        # Called before workerinput is sent, after our pytest_configure resolved the run directory.
        node.workerinput[WORKERINPUT_KEY] = self._payload

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        if error:
            gateway = getattr(node, "gateway", None)
            self._on_node_down(str(getattr(gateway, "id", "?")), str(error)[:500])
