"""A test's session chain as a graph: a node per step, an edge from the step it went on from.

A ``new`` step is a root. A ``resume``, ``continue`` or ``fork`` step goes on from the latest earlier step
of its parent session (``parent_session_id``; for a resume that is its own session); when no earlier step
belongs to that session (the parent was made outside the test) the step is a root too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Node:
    index: int  # position in the test's steps
    step: Mapping[str, Any]
    parent: int | None
    children: list[int] = field(default_factory=list)
    depth: int = 0


def chain_graph(steps: Sequence[Mapping[str, Any]]) -> list[Node]:
    """The nodes of ``steps`` (in step order) with parent/children/depth filled in."""
    nodes: list[Node] = []
    latest: dict[str, int] = {}  # session id -> index of its latest step so far
    for i, step in enumerate(steps):
        parent: int | None = None
        if step.get("kind") != "new":
            source = step.get("parent_session_id") or step.get("session_id")
            parent = latest.get(str(source)) if source else None
        node = Node(i, step, parent)
        if parent is not None:
            nodes[parent].children.append(i)
            node.depth = nodes[parent].depth + 1
        nodes.append(node)
        if step.get("session_id"):
            latest[str(step["session_id"])] = i
    return nodes


def edges(nodes: Sequence[Node]) -> list[tuple[int, int, str]]:
    """``(from, to, kind)`` for every non-root node."""
    return [(n.parent, n.index, str(n.step.get("kind"))) for n in nodes if n.parent is not None]


def tree_lines(nodes: Sequence[Node], label: Callable[[Node], str]) -> list[str]:
    """The chain as a tree: a resume or continue goes on below its step at the same depth, a fork
    branches off (``├─``/``└─``). ``label(node)`` may hold several lines; the later ones are indented.
    Long linear chains stay flat, so a chain of any length prints in linear time."""
    lines: list[str] = []

    def walk(start: int, first: str, rest: str) -> None:
        current: int | None = start
        while current is not None:
            node = nodes[current]
            main = [c for c in node.children if nodes[c].step.get("kind") != "fork"]
            cont = main[0] if main else None
            branches = [c for c in node.children if c != cont]
            head, *detail = label(node).split("\n")
            lines.append(first + head)
            lines.extend(rest + ("│  " if branches else "   ") + d for d in detail)
            for k, child in enumerate(branches):
                last = k == len(branches) - 1 and cont is None
                walk(child, rest + ("└─ " if last else "├─ "), rest + ("   " if last else "│  "))
            current, first = cont, rest

    for node in nodes:
        if node.parent is None:
            walk(node.index, "", "")
    return lines
