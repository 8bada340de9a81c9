"""Look-ahead: which fields a query selects under the current field, fragments merged in."""

from __future__ import annotations

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
from strawberry.types import Info

Tree = dict[str, "Tree"]


def _merge(tree: Tree, selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]) -> Tree:
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            child = tree.setdefault(node.name.value, {})
            if node.selection_set is not None:
                _merge(child, node.selection_set, fragments)
        elif isinstance(node, InlineFragmentNode):
            _merge(tree, node.selection_set, fragments)
        elif isinstance(node, FragmentSpreadNode):
            fragment = fragments.get(node.name.value)
            if fragment is not None:  # validation has already refused unknown fragments
                _merge(tree, fragment.selection_set, fragments)
    return tree


def selection_tree(info: Info) -> Tree:
    """{field name: {sub-field name: …}} for the field being resolved, aliases folded together.

    Read from graphql-core's syntax tree: Strawberry's `info.selected_fields` converts every node's
    arguments and directives into objects first, which cost a listing ~50 µs CPU per request for
    names alone. Like it, this keeps fields under `@skip`/`@include`: a look-ahead may load a
    relation nobody reads, never miss one that is read.
    """
    raw = info._raw_info  # Strawberry's Info keeps graphql-core's resolve info here
    tree: Tree = {}
    for field in raw.field_nodes:
        if field.selection_set is not None:
            _merge(tree, field.selection_set, raw.fragments)
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
