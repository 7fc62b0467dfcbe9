"""PEP 562 exports for package ``__init__`` modules: a name is imported from its module on first use.

The pytest entry point imports the package on every pytest run; a suite that never touches Claude should not
pay for loading the executor, the stub and the cassettes. Each ``__init__`` imports its names under
``TYPE_CHECKING`` (``X as X``: what mypy and editors see), maps each module to its names in ``_EXPORTS``
(what is served at run time; ``tests/test_public_api.py`` checks the two agree) and gets ``__getattr__``,
``__dir__`` and ``__all__`` from :func:`lazy_exports`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: MutableMapping[str, Any], exports: Mapping[str, str], *, also: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for the package whose ``globals()`` is ``namespace``.

    ``exports`` maps a module (relative to the package, e.g. ``"validator"`` or ``"store.tracker"``) to the
    public names it defines, separated by spaces. A name is imported once, then cached in ``namespace``.
    ``also`` are names the package defines itself (eagerly), listed in ``__all__`` too.
    """
    package = str(namespace["__name__"])
    where = {name: module for module, names in exports.items() for name in names.split()}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        namespace[name] = value  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__, sorted({*also, *where})
