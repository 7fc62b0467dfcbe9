"""PEP 562 exports for package ``__init__`` modules: a name is imported from its module on first use.

The pytest entry point imports the package on every pytest run; a suite that never touches Claude should not
pay for loading the executor, the stub and the cassettes. Each ``__init__`` lists its names once, in
``_EXPORTS`` (module -> names), and gets ``__getattr__``/``__dir__`` from :func:`lazy_exports`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: MutableMapping[str, Any], exports: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the package whose ``globals()`` is ``namespace``.

    ``exports`` maps a module (relative to the package, e.g. ``"validator"`` or ``"store.tracker"``) to the
    public names it defines. A name is imported once, then cached in ``namespace``.
    """
    package = str(namespace["__name__"])
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        namespace[name] = value  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
