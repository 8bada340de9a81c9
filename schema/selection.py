"""Look-ahead: which fields a query selects under the current field, fragments merged in."""

from __future__ import annotations

from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

Tree = dict[str, "Tree"]


def _merge(tree: Tree, selections: list[Selection]) -> Tree:
    for selection in selections:
        if isinstance(selection, SelectedField):
            _merge(tree.setdefault(selection.name, {}), selection.selections)
        elif isinstance(selection, (FragmentSpread, InlineFragment)):
            _merge(tree, selection.selections)
    return tree


def selection_tree(info: Info) -> Tree:
    """{field name: {sub-field name: …}} for the field being resolved, aliases folded together."""
    tree: Tree = {}
    for field in info.selected_fields:
        _merge(tree, field.selections)
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
