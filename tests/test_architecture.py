"""The architecture, checked from the source: no import cycle, dependencies point down the layers, and only
``plugin/`` touches pytest.

Every import is counted: module level, inside functions (lazy imports) and under ``if TYPE_CHECKING:``.
The layers, bottom to top (a module may import its own layer's subpackage and anything below, never above;
two different subpackages of one layer never import each other):

    0  top level: errors, models, redact, ids, version, lazy, tables, fs (small shared nouns)
    1  transcripts/, stub/                   (the CLI's files; the loopback API)
    2  store/                                (uses the continuity verdicts of transcripts/)
    3  executor/, assertions/                (the CLI process; what test code asserts)
    4  cassettes/                            (record/replay around the executor's calls)
    5  intercept/                            (the interposed claude: uses executor and cassettes)
    6  report/                               (records, run model, chain graph, merge, HTML, compare)
    7  plugin/                               (the pytest side: shows records, writes the HTML report)
    8  commands/                             (the claude-sessions command)
    9  __main__                              (python -m pytest_claude_sessions)

The package root ``__init__`` is the facade: it names everything (lazily), and no module imports it.

pytest: only ``plugin/`` imports pytest (or _pytest, pluggy, xdist) and only ``plugin/`` defines
``pytest_*`` hooks. The assertions are library code that raises plain ``AssertionError`` and hides its frames
with ``__tracebackhide__`` (a local variable pytest reads), so they need no pytest import: the exemption
list below is empty on purpose, and adding to it is a design decision to make in review.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = "pytest_claude_sessions"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE

LAYERS: dict[str, int] = {
    "": 0,  # any top-level module
    "transcripts": 1,
    "stub": 1,
    "store": 2,
    "executor": 3,
    "assertions": 3,
    "cassettes": 4,
    "intercept": 5,
    "report": 6,
    "plugin": 7,
    "commands": 8,
    "__main__": 9,  # ``python -m pytest_claude_sessions``: one line into commands/
}
PYTEST_SIDE = frozenset({"plugin"})
PYTEST_MODULES = frozenset({"pytest", "_pytest", "pluggy", "xdist"})
#: Library modules allowed to import pytest although they are not in plugin/ (see the module docstring).
PYTEST_EXEMPT: frozenset[str] = frozenset()
#: What a package ``__init__`` may import at run time (everything else only under TYPE_CHECKING).
INIT_RUNTIME_IMPORTS = frozenset({f"{PACKAGE}.lazy", f"{PACKAGE}.version", "__future__", "typing"})


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # a module of the package (or the package/subpackage itself), or an outside top-level name
    line: int
    type_checking: bool
    runtime_in_init: bool  # a module-level import outside TYPE_CHECKING in a package __init__


@dataclass
class Graph:
    modules: dict[str, Path] = field(default_factory=dict)
    imports: list[Import] = field(default_factory=list)
    hooks: list[tuple[str, str, int]] = field(default_factory=list)  # (module, function, line)
    packages: set[str] = field(default_factory=set)  # modules that are package __init__s

    def family(self, module: str) -> str:
        """The subpackage a module belongs to: ``""`` for a top-level module, ``"<root>"`` for the root."""
        parts = module.split(".")
        if len(parts) == 1:
            return "<root>"
        if len(parts) == 2 and module not in self.packages and parts[1] not in LAYERS:
            return ""
        return parts[1]

    def edges(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {m: set() for m in self.modules}
        for imp in self.imports:
            if imp.target in self.modules and imp.target != imp.source:
                out[imp.source].add(imp.target)
        return out


def _module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(tree: ast.Module) -> Iterator[tuple[ast.AST, bool, bool]]:
    """(node, under TYPE_CHECKING, at module level) for every node."""
    stack: list[tuple[ast.AST, bool, bool]] = [(n, False, True) for n in tree.body]
    while stack:
        node, tc, top = stack.pop()
        yield node, tc, top
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend((n, True, top) for n in node.body)
            stack.extend((n, tc, top) for n in node.orelse)
            continue
        nested = top and not isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
        )
        stack.extend((child, tc, nested) for child in ast.iter_child_nodes(node))


def build_graph(root: Path, package: str = PACKAGE) -> Graph:
    """Parse every module under ``root`` (the package directory) and collect its imports and hooks."""
    graph = Graph()
    files = sorted(root.rglob("*.py"))
    for path in files:
        graph.modules[_module_name(path, root, package)] = path
        if path.name == "__init__.py":
            graph.packages.add(_module_name(path, root, package))
    for path in files:
        name = _module_name(path, root, package)
        is_init = path.name == "__init__.py"
        base = name.split(".") if is_init else name.split(".")[:-1]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, tc, top in _walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = base[: len(base) - (node.level - 1)]
                    module = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                # ``from pkg import sub`` imports the submodule when there is one
                subs = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in graph.modules]
                targets = subs if len(subs) == len(node.names) else [module, *subs]
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("pytest_"):
                graph.hooks.append((name, node.name, node.lineno))
                continue
            else:
                continue
            for target in targets:
                if not target.startswith(package + ".") and target != package:
                    target = target.split(".")[0]
                graph.imports.append(
                    Import(name, target, node.lineno, tc, runtime_in_init=is_init and top and not tc)
                )
    return graph


def find_cycles(graph: Graph) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan), each sorted."""
    edges = graph.edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def layering_violations(graph: Graph) -> list[str]:
    problems: list[str] = []
    for imp in graph.imports:
        if imp.target not in graph.modules:
            continue
        src, dst = graph.family(imp.source), graph.family(imp.target)
        where = f"{graph.modules[imp.source].name}:{imp.line} ({imp.source} -> {imp.target})"
        if dst == "<root>":
            if src != "<root>":
                problems.append(f"{where}: imports the package root; import from the defining module")
            continue
        if src == "<root>" or src == dst:
            continue
        for family in (src, dst):
            if family not in LAYERS:
                problems.append(f"{where}: subpackage {family!r} has no layer: add it to LAYERS")
        if src not in LAYERS or dst not in LAYERS:
            continue
        if LAYERS[dst] > LAYERS[src]:
            problems.append(f"{where}: imports upward (layer {LAYERS[src]} -> {LAYERS[dst]})")
        elif LAYERS[dst] == LAYERS[src] and src != dst:
            problems.append(
                f"{where}: {src}/ and {dst}/ share layer {LAYERS[src]} and must not import each other"
            )
    return problems


def pytest_violations(graph: Graph) -> list[str]:
    problems = []
    for imp in graph.imports:
        if imp.target in PYTEST_MODULES:
            family = graph.family(imp.source)
            if family not in PYTEST_SIDE and imp.source not in PYTEST_EXEMPT:
                problems.append(f"{imp.source}:{imp.line} imports {imp.target} outside plugin/")
    for module, hook, line in graph.hooks:
        if graph.family(module) not in PYTEST_SIDE:
            problems.append(f"{module}:{line} defines the pytest hook {hook} outside plugin/")
    return problems


def lazy_init_violations(graph: Graph) -> list[str]:
    return [
        f"{imp.source}:{imp.line} imports {imp.target} at run time in a package __init__ (keep it lazy: "
        f"import under TYPE_CHECKING and export through lazy_exports)"
        for imp in graph.imports
        if imp.runtime_in_init and imp.target not in INIT_RUNTIME_IMPORTS
    ]


# --------------------------------------------------------------------------- the checks on the real tree


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph(PACKAGE_DIR)


def test_the_graph_sees_every_kind_of_import(graph: Graph) -> None:
    assert len(graph.modules) > 40
    kinds = {(imp.type_checking, imp.runtime_in_init) for imp in graph.imports}
    assert (True, False) in kinds  # TYPE_CHECKING imports are counted
    lazy = [i for i in graph.imports if i.source.endswith("store.tracker") and "transcripts" in i.target]
    assert lazy, "the tracker's function-level import of the transcripts is counted"


def test_no_import_cycle(graph: Graph) -> None:
    assert find_cycles(graph) == []


def test_dependencies_point_down_the_layers(graph: Graph) -> None:
    assert layering_violations(graph) == []


def test_only_the_plugin_imports_pytest_or_defines_hooks(graph: Graph) -> None:
    assert pytest_violations(graph) == []
    assert any(graph.family(m) == "plugin" for m, _, _ in graph.hooks)  # the walk does find hooks


def test_package_inits_stay_lazy(graph: Graph) -> None:
    assert lazy_init_violations(graph) == []


def test_every_subpackage_has_a_layer(graph: Graph) -> None:
    families = {graph.family(m) for m in graph.modules} - {"<root>"}
    assert families <= set(LAYERS), families - set(LAYERS)


# --------------------------------------------------------------------------- the checks can fail


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / PACKAGE
    for rel, text in {"__init__.py": "", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        for parent in path.relative_to(root).parents:
            init = root / parent / "__init__.py"
            if not init.exists():
                init.write_text("")
    return root


def test_an_upward_import_is_caught_even_when_lazy(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "store/tracker.py": "def f():\n    from pytest_claude_sessions.assertions import continuity\n",
            "assertions/continuity.py": "from pytest_claude_sessions.store import tracker\n",
            "plugin/reporting.py": "",
            "transcripts/scan.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from pytest_claude_sessions.plugin.reporting import x\n",
            "stub/server.py": "from ..transcripts import scan\n",
        },
    )
    g = build_graph(root)
    problems = layering_violations(g)
    assert any("store.tracker -> pytest_claude_sessions.assertions.continuity" in p for p in problems), (
        problems
    )
    assert any("transcripts.scan -> pytest_claude_sessions.plugin.reporting" in p for p in problems), problems
    assert any("share layer 1" in p and "stub.server" in p for p in problems), problems  # relative import
    assert find_cycles(g) == [[f"{PACKAGE}.assertions.continuity", f"{PACKAGE}.store.tracker"]]


def test_the_real_tree_plus_one_upward_import_fails(graph: Graph) -> None:
    planted = Import(f"{PACKAGE}.transcripts.scan", f"{PACKAGE}.plugin.reporting", 1, False, False)
    g = Graph(graph.modules, [*graph.imports, planted], graph.hooks, graph.packages)
    assert layering_violations(g) == [
        f"scan.py:1 ({PACKAGE}.transcripts.scan -> {PACKAGE}.plugin.reporting): imports upward (layer 1 -> 7)"
    ]


def test_pytest_outside_the_plugin_and_root_imports_are_caught(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "assertions/continuity.py": "import pytest\n",
            "store/tracker.py": "def pytest_configure(config):\n    pass\n",
            "cassettes/recorder.py": "from pytest_claude_sessions import __version__\n",
            "plugin/entry.py": "import pytest\ndef pytest_configure(config):\n    pass\n",
            "stub/__init__.py": "from pytest_claude_sessions.stub.server import MessagesStub\n",
            "stub/server.py": "",
            "newthing/mod.py": "",
        },
    )
    g = build_graph(root)
    assert pytest_violations(g) == [
        f"{PACKAGE}.assertions.continuity:1 imports pytest outside plugin/",
        f"{PACKAGE}.store.tracker:1 defines the pytest hook pytest_configure outside plugin/",
    ]
    assert [p for p in layering_violations(g) if "package root" in p]
    assert lazy_init_violations(g) == [
        f"{PACKAGE}.stub:1 imports {PACKAGE}.stub.server at run time in a package __init__ (keep it lazy: "
        f"import under TYPE_CHECKING and export through lazy_exports)"
    ]
    assert {g.family(m) for m in g.modules} - set(LAYERS) == {"<root>", "newthing"}
