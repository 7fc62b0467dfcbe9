"""The public API: about 40 names at the package root, the rest from subpackages, every type in a public
signature importable, every package ``__init__`` lazy."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pytest_claude_sessions as pcs
from pytest_claude_sessions import errors

PACKAGE_DIR = Path(pcs.__file__).resolve().parent
#: Library subpackages whose ``__init__`` exports names (the plugin and the interposed claude export none).
SUBPACKAGES = ("assertions", "cassettes", "executor", "store", "stub", "transcripts")
#: Top-level modules with an ``__all__`` a user may import from.
TOP_LEVEL = ("errors", "ids", "models", "redact", "tables", "version")


def _public_places() -> dict[str, Any]:
    """name -> object for every name a user can import from a public place."""
    out: dict[str, Any] = {}
    for module in (
        pcs,
        *(importlib.import_module(f"pytest_claude_sessions.{m}") for m in SUBPACKAGES + TOP_LEVEL),
    ):
        for name in module.__all__:
            out.setdefault(name, getattr(module, name))
    return out


def _publicly_importable(obj: object) -> bool:
    """``obj`` is reachable under its own name from the root, a subpackage or a top-level module."""
    name = getattr(obj, "__name__", None)
    for module in (
        pcs,
        *(importlib.import_module(f"pytest_claude_sessions.{m}") for m in SUBPACKAGES + TOP_LEVEL),
    ):
        if name in module.__all__ and getattr(module, name) is obj:
            return True
    return False


# --------------------------------------------------------------------------- the root


def test_every_name_in_all_resolves() -> None:
    missing = [name for name in pcs.__all__ if not hasattr(pcs, name)]
    assert missing == []


def test_the_root_holds_about_forty_names_and_few_errors() -> None:
    assert 35 <= len(pcs.__all__) <= 45, len(pcs.__all__)
    exceptions = [
        n for n in pcs.__all__ if isinstance(getattr(pcs, n), type) and issubclass(getattr(pcs, n), Exception)
    ]
    assert len(exceptions) <= 12, exceptions
    for name in (
        "ClaudeExecutor",
        "ClaudeResult",
        "SessionTracker",
        "SessionManager",
        "SessionMonitor",
        "SessionValidator",
        "MessagesStub",
        "use_cassette",
        "ClaudeSessionsError",
        "assert_chain_continuous",
    ):
        assert name in pcs.__all__, name


def test_every_exception_of_the_tree_is_importable_and_rooted() -> None:
    classes = [
        obj for _, obj in inspect.getmembers(errors, inspect.isclass) if obj.__module__ == errors.__name__
    ]
    assert classes
    for cls in classes:
        assert cls.__name__ in errors.__all__, cls
        if not issubclass(cls, Warning):
            assert issubclass(cls, pcs.ClaudeSessionsError), cls


def test_original_design_signatures() -> None:
    # what users of the original design call (issue 2): these must keep working as written
    assert list(inspect.signature(pcs.SessionTracker).parameters)[:2] == ["agent_id", "persistence_dir"]
    update = inspect.signature(pcs.SessionTracker.update_session).parameters
    assert list(update)[:5] == ["self", "new_session_id", "prompt", "response", "metadata"]
    assert list(inspect.signature(pcs.SessionManager).parameters)[:1] == ["persistence_dir"]
    assert list(inspect.signature(pcs.SessionValidator).parameters)[:1] == ["claude_config_dir"]
    execute = inspect.signature(pcs.ClaudeExecutor.execute_claude).parameters
    assert list(execute)[:4] == ["self", "prompt", "session_id", "working_dir"]


# --------------------------------------------------------------------------- packages: lazy and consistent


def _type_checking_imports(init: Path) -> dict[str, str]:
    """name -> module for the imports under ``if TYPE_CHECKING:`` in a package ``__init__``."""
    out: dict[str, str] = {}
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module, ast.dump(imp)
                for alias in imp.names:
                    out[alias.asname or alias.name] = imp.module
    return out


@pytest.mark.parametrize("package", ["", *SUBPACKAGES])
def test_package_exports_are_listed_once_and_match_what_mypy_sees(package: str) -> None:
    name = "pytest_claude_sessions" + (f".{package}" if package else "")
    module = importlib.import_module(name)
    runtime = {n: f"{name}.{m}" for m, names in module._EXPORTS.items() for n in names.split()}
    assert sorted(runtime) == sorted(set(module.__all__) - {"__version__"})
    assert len(module.__all__) == len(set(module.__all__))
    init = PACKAGE_DIR / package / "__init__.py" if package else PACKAGE_DIR / "__init__.py"
    assert _type_checking_imports(init) == runtime  # the names mypy checks are the names served
    for export in module.__all__:
        assert export in dir(module)
        value = getattr(module, export)
        assert value is getattr(
            importlib.import_module(runtime.get(export, "pytest_claude_sessions.version")), export
        )


@pytest.mark.parametrize("package", ["", *SUBPACKAGES, "plugin", "intercept"])
def test_importing_a_package_loads_none_of_its_modules(package: str) -> None:
    name = "pytest_claude_sessions" + (f".{package}" if package else "")
    code = (
        "import sys, importlib\n"
        f"before = set(sys.modules)\nimportlib.import_module({name!r})\n"
        "loaded = sorted(m for m in set(sys.modules) - before if m.startswith('pytest_claude_sessions.'))\n"
        "print(loaded)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = [m for m in ast.literal_eval(out.strip()) if m != name]
    # the root (a parent) and the two tiny helpers every __init__ uses are all that may load
    allowed = {"pytest_claude_sessions.lazy", "pytest_claude_sessions.version"}
    assert set(loaded) <= allowed, loaded


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'find_unused_cassettes'"):
        pcs.find_unused_cassettes  # noqa: B018  # moved to pytest_claude_sessions.cassettes
    from pytest_claude_sessions import cassettes

    assert callable(cassettes.find_unused_cassettes)


# --------------------------------------------------------------------------- every public signature


def _members(obj: object) -> Iterator[tuple[str, Any]]:
    """What a user calls on a root name: the function, or a class's constructor, public methods,
    properties and dataclass fields."""
    if inspect.isfunction(obj):
        yield obj.__qualname__, obj
        return
    if not inspect.isclass(obj):
        return
    yield f"{obj.__qualname__}.__init__", obj.__init__
    if dataclasses.is_dataclass(obj) or typing.is_typeddict(obj):
        yield obj.__qualname__, obj  # class-level annotations: the fields
    for name, member in inspect.getmembers(obj):
        if name.startswith("_"):
            continue
        if isinstance(member, property) and member.fget is not None:
            yield f"{obj.__qualname__}.{name}", member.fget
        elif inspect.isfunction(member) or inspect.ismethod(member):
            yield f"{obj.__qualname__}.{name}", member
    for name, member in vars(obj).items():
        if isinstance(member, property) and member.fget is not None and not name.startswith("_"):
            yield f"{obj.__qualname__}.{name}", member.fget


def _project_types(hint: object) -> Iterator[object]:
    """Every project-defined class or alias target reachable in a resolved annotation."""
    if isinstance(hint, type) and hint.__module__.startswith("pytest_claude_sessions"):
        yield hint
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return
    if (
        origin is not None
        and isinstance(origin, type)
        and origin.__module__.startswith("pytest_claude_sessions")
    ):
        yield origin
    for arg in typing.get_args(hint):
        if isinstance(arg, list):  # Callable[[...], R]
            for item in arg:
                yield from _project_types(item)
        else:
            yield from _project_types(arg)
    if isinstance(hint, typing.TypeAliasType if hasattr(typing, "TypeAliasType") else ()):
        yield from _project_types(hint.__value__)


def _hints(target: Any, namespace: dict[str, Any]) -> dict[str, Any]:
    module = sys.modules[target.__module__]
    return typing.get_type_hints(target, globalns=vars(module), localns=namespace, include_extras=False)


def test_every_annotation_in_a_public_signature_resolves_to_an_importable_type() -> None:
    namespace = _public_places()
    # Annotations may name types imported only under TYPE_CHECKING: they must resolve with the public names.
    unresolved: list[str] = []
    not_importable: dict[str, set[str]] = {}
    checked = 0
    for name in pcs.__all__:
        obj = getattr(pcs, name)
        for where, target in _members(obj):
            if not str(getattr(target, "__module__", "")).startswith("pytest_claude_sessions"):
                continue  # inherited from the stdlib (Exception.__init__, ...)
            try:
                hints = _hints(target, namespace)
            except (NameError, TypeError) as exc:
                unresolved.append(f"{where}: {exc}")
                continue
            for hint in hints.values():
                checked += 1
                for found in _project_types(hint):
                    if not _publicly_importable(found):
                        not_importable.setdefault(f"{found.__module__}.{found.__qualname__}", set()).add(
                            where
                        )
    assert checked > 200, checked  # the walk really saw the API
    assert unresolved == []
    assert not_importable == {}


def test_types_named_by_the_issue_are_importable() -> None:
    from pytest_claude_sessions.assertions import BudgetVerdict, ChainLike
    from pytest_claude_sessions.cassettes import RecordMode
    from pytest_claude_sessions.stub import Rule
    from pytest_claude_sessions.transcripts import ChainContinuity, ContinuityVerdict

    assert BudgetVerdict.__name__ == "BudgetVerdict" and Rule.__name__ == "Rule"
    assert typing.get_args(RecordMode)  # a Literal of the mode names
    assert ChainLike is not None and isinstance(ChainContinuity, type)
    assert pcs.ContinuityVerdict is ContinuityVerdict


def test_root_names_are_the_same_objects_as_in_their_subpackage() -> None:
    from pytest_claude_sessions import store, stub, transcripts

    assert pcs.SessionTracker is store.SessionTracker
    assert pcs.MessagesStub is stub.MessagesStub
    assert pcs.SessionValidator is transcripts.SessionValidator
    assert isinstance(pcs, types.ModuleType)
