"""Bounds on a YAML document's shape, checked on the parser's events before anything is built.

Aliases let a few lines stand for billions of nodes ("billion laughs"), and every later step (a
duplicate-key walk, a schema, the policies) walks the data with each alias expanded; PyYAML's
composer recurses once per level of nesting, so deep nesting ends in a RecursionError. One
linear pass over the parser's events (the parser keeps a stack of states: it does not recurse)
counts the nodes and the depth as if every alias were expanded, and stops at the first node
past a bound. Imports nothing of the auditor's.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

# A config of 10,000 accounts written out is some 200,000 values: far below.
MAX_NODES = 1_000_000
# A config's deepest legitimate nesting (a check's parameters inside an account's policy) is
# about 10 levels; PyYAML's composer reaches Python's recursion limit near 300.
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class ShapeProblem:
    message: str
    line: int | None


@dataclass(slots=True)
class _OpenCollection:
    anchor: str | None
    nodes: int = 1
    depth: int = 1


def shape_problem(text: str) -> ShapeProblem | None:
    """Why ``text`` is refused (it expands to more than :data:`MAX_NODES` nodes, or nests
    deeper than :data:`MAX_DEPTH` levels, aliases expanded), or None. Syntax errors raise
    ``yaml.YAMLError`` as ``yaml.compose`` would."""
    anchored: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, depth) as expanded
    open_collections: list[_OpenCollection] = []
    total = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            open_collections.append(_OpenCollection(event.anchor))
            total += 1
            nodes, depth = 0, 0
        elif isinstance(event, yaml.CollectionEndEvent):
            closed = open_collections.pop()
            if closed.anchor is not None:
                anchored[closed.anchor] = (closed.nodes, closed.depth)
            nodes, depth = closed.nodes, closed.depth
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            nodes, depth = 1, 0
            if event.anchor is not None:
                anchored[event.anchor] = (1, 0)
        elif isinstance(event, yaml.AliasEvent):
            # An unknown anchor is the composer's error to report, with its own words.
            nodes, depth = anchored.get(event.anchor or "", (1, 0))
            total += nodes
        else:
            continue
        line = event.start_mark.line + 1 if event.start_mark else None
        if total > MAX_NODES:
            return ShapeProblem(
                f"expands to more than {MAX_NODES:,} values (each alias repeats what it refers "
                "to): refused",
                line,
            )
        if len(open_collections) + depth > MAX_DEPTH:
            return ShapeProblem(f"nests deeper than {MAX_DEPTH} levels: refused", line)
        # A collection's own count reaches its parent when it ends, not when it starts.
        if open_collections and not isinstance(event, yaml.CollectionStartEvent):
            parent = open_collections[-1]
            parent.nodes += nodes
            parent.depth = max(parent.depth, depth + 1)
    return None
