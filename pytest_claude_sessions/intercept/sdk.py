"""Making the Claude Agent SDK (Python) start the interposed ``claude`` instead of its bundled binary.

The SDK looks for the CLI in ``ClaudeAgentOptions(cli_path=...)``, then its own ``_bundled/claude``, then
``PATH``: a bundled binary would bypass the interposed one on ``PATH``. For a test with interception on,
``SubprocessCLITransport._find_cli`` (the method that does that lookup when no ``cli_path`` is given) is
replaced for the test's duration by one that returns the launcher. An explicit ``cli_path`` is left alone.

Importing the SDK takes about a second, so it is never imported for this: when the test (or the code under
test) imports it later, an import hook patches the transport module as it loads.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

__all__ = ["SDK_FIX", "TRANSPORT_MODULE", "SdkRedirect"]

SDK_FIX = "ClaudeAgentOptions(cli_path=claude_cli.path)"
TRANSPORT_MODULE = "claude_agent_sdk._internal.transport.subprocess_cli"


class SdkRedirectWarning(UserWarning):
    """The installed SDK's CLI lookup could not be redirected (its internals changed)."""


def _sdk_version() -> str:
    module = sys.modules.get("claude_agent_sdk")
    return str(getattr(module, "__version__", "?"))


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader, after: Any) -> None:
        self.inner = inner
        self.after = after

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        self.after(module)


class _Hook(importlib.abc.MetaPathFinder):
    def __init__(self, after: Any) -> None:
        self.after = after

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> Any:
        if fullname != TRANSPORT_MODULE:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _Loader(spec.loader, self.after)
                return spec
        return None


class SdkRedirect:
    """For one test: the SDK's CLI lookup returns ``launcher`` (:meth:`start`), until :meth:`stop`."""

    def __init__(self, launcher: str) -> None:
        self.launcher = launcher
        self.problem: str | None = None
        self._patched: tuple[Any, Any] | None = None
        self._hook: _Hook | None = None

    def start(self) -> None:
        module = sys.modules.get(TRANSPORT_MODULE)
        if module is not None:
            self._patch(module)
            return
        try:
            present = importlib.util.find_spec("claude_agent_sdk") is not None
        except (ImportError, ValueError):
            present = False
        if present:
            self._hook = _Hook(self._patch)
            sys.meta_path.insert(0, self._hook)

    def _patch(self, module: ModuleType) -> None:
        cls = getattr(module, "SubprocessCLITransport", None)
        original = cls.__dict__.get("_find_cli") if cls is not None else None
        if cls is None or not callable(original):
            self.problem = (
                f"claude-agent-sdk {_sdk_version()} has no SubprocessCLITransport._find_cli any more, so its "
                f"CLI lookup cannot be redirected to the interposed claude; the one-line fix: pass {SDK_FIX}"
            )
            warnings.warn(SdkRedirectWarning(self.problem), stacklevel=2)
            return
        launcher = self.launcher

        def _find_cli(self: Any) -> str:
            return launcher

        cls._find_cli = _find_cli
        self._patched = (cls, original)

    def stop(self) -> None:
        if self._hook is not None:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self._hook)
            self._hook = None
        if self._patched is not None:
            cls, original = self._patched
            cls._find_cli = original
            self._patched = None
