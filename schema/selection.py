"""Look-ahead: which fields a query selects under the current field, fragments merged in."""

from __future__ import annotations

from collections.abc import Iterable

from graphql import FieldNode, InlineFragmentNode, SelectionNode
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

Tree = dict[str, "Tree"]


class _NamedFragment(Exception):
    """The operation's syntax tree spreads a named fragment, whose definition only Strawberry holds."""


def selection_tree(info: Info) -> Tree:
    """{field name: {sub-field name: …}} for the field being resolved, aliases folded together.

    Read from the operation's syntax tree (`info.operation`), following `info.path` down to this
    field: Strawberry's `info.selected_fields` converts every node's arguments and directives into
    objects first, which cost a listing ~50 µs CPU per request for names alone. Where a named
    fragment lies on the way, its definition is not public, so `selected_fields` answers instead.
    Like it, this keeps fields under `@skip`/`@include`: a look-ahead may load a relation nobody
    reads, never miss one that is read.
    """
    try:
        nodes: list[FieldNode] = []
        level: list[SelectionNode] = list(info.operation.selection_set.selections)
        for key in info.path.as_list():
            if isinstance(key, int):  # an index into a list: the same field nodes
                continue
            nodes = [node for node in _fields(level) if (node.alias or node.name).value == key]
            level = [child for node in nodes if node.selection_set for child in node.selection_set.selections]
        tree: Tree = {}
        _merge_nodes(tree, level)
        return tree
    except _NamedFragment:
        tree = {}
        for field in info.selected_fields:
            _merge_selections(tree, field.selections)
        return tree


def _fields(selections: Iterable[SelectionNode]) -> Iterable[FieldNode]:
    for node in selections:
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            yield from _fields(node.selection_set.selections)
        else:
            raise _NamedFragment


def _merge_nodes(tree: Tree, selections: Iterable[SelectionNode]) -> None:
    for node in _fields(selections):
        child = tree.setdefault(node.name.value, {})
        if node.selection_set is not None:
            _merge_nodes(child, node.selection_set.selections)


def _merge_selections(tree: Tree, selections: Iterable[Selection]) -> Tree:
    for selection in selections:
        if isinstance(selection, SelectedField):
            _merge_selections(tree.setdefault(selection.name, {}), selection.selections)
        elif isinstance(selection, (FragmentSpread, InlineFragment)):
            _merge_selections(tree, selection.selections)
    return tree


def subtree(tree: Tree, *paths: tuple[str, ...]) -> Tree:
    """The union of the subtrees at several paths (e.g. `edges.node` and `nodes`)."""
    merged: Tree = {}
    for path in paths:
        node: Tree | None = tree
        for name in path:
            node = node.get(name) if node is not None else None
        if node:
            _deep_merge(merged, node)
    return merged


def _deep_merge(into: Tree, other: Tree) -> None:
    for name, child in other.items():
        _deep_merge(into.setdefault(name, {}), child)
