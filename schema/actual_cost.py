"""What an executed operation actually cost: schema/limits.py's rules applied to the data returned.

The requested cost is a bound worked out before execution: every connection full to its page size
and every plain list `LIST_SIZE` long. The actual cost counts what came back, as Shopify's
`actualQueryCost` does: an object 1, a connection 2, each `edges`/`nodes` item and list entry as
itself, a null nothing, a scalar nothing. A page of 3 products asked for with `first: 50` costs
what 3 products cost.

The walk follows the result's own keys (fields merged from fragments appear once, as in the
response) and looks each up in the selections that could have produced it, so it visits each
returned value once; the lookups are worked out once per distinct set of selections.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)

# The selections that could have produced one object of the result: (selection set, its type).
_Scopes = tuple[tuple[SelectionSetNode, GraphQLNamedType | None], ...]


class _Field:
    """One response key of an object: the field it names and the selections of its value."""

    __slots__ = ("connection", "counts", "object", "scopes")

    def __init__(self, definition: GraphQLField | None, introspection: bool) -> None:
        self.scopes: _Scopes = ()
        # The same rules as the requested cost (schema/limits.py): introspection is free; a
        # connection (a field with `first`/`last`) costs 2; an interface or union object counts
        # only when something under it does.
        self.counts = not introspection and definition is not None
        self.connection = definition is not None and ("first" in definition.args or "last" in definition.args)
        self.object = definition is not None and isinstance(get_named_type(definition.type), GraphQLObjectType)


class _Walker:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.memo: dict[tuple[int, ...], dict[str, _Field]] = {}

    def fields(self, scopes: _Scopes) -> dict[str, _Field]:
        key = tuple(id(selection_set) for selection_set, _ in scopes)
        fields = self.memo.get(key)
        if fields is None:
            fields = self.memo[key] = {}
            for selection_set, parent in scopes:
                self.collect(selection_set, parent, fields, set())
        return fields

    def collect(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, into: dict[str, _Field], seen: set[str]
    ) -> None:
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                name = node.name.value
                response_key = node.alias.value if node.alias else name
                field = into.get(response_key)
                if field is None:
                    definition = getattr(parent, "fields", {}).get(name)
                    field = into[response_key] = _Field(definition, name.startswith("__"))
                if node.selection_set is not None and field.counts:
                    definition = getattr(parent, "fields", {}).get(name)
                    child = get_named_type(definition.type) if definition is not None else None
                    field.scopes = (*field.scopes, (node.selection_set, child))
            elif isinstance(node, InlineFragmentNode):
                target = self.schema.get_type(node.type_condition.name.value) if node.type_condition else parent
                self.collect(node.selection_set, target, into, seen)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:
                    seen.add(node.name.value)
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    self.collect(fragment.selection_set, target, into, seen)

    def object_cost(self, value: dict[str, Any], scopes: _Scopes) -> int:
        fields = self.fields(scopes)
        cost = 0
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                field = fields.get(key)
                if field is not None and field.counts:
                    cost += self.value_cost(item, field)
        return cost

    def value_cost(self, value: Any, field: _Field) -> int:
        if isinstance(value, list):
            return sum(self.value_cost(item, field) for item in value)
        if not isinstance(value, dict):
            return 0  # null, or a scalar in a list
        children = self.object_cost(value, field.scopes)
        if field.connection:
            return 2 + children
        return 1 + children if field.object or children else 0


def actual_cost(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, data: Any) -> int:
    """The cost of `data`, the result of the operation `operation_name` of `document`."""
    if not isinstance(data, dict):
        return 0
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = next(
        (o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)), None
    )
    if operation is None:
        return 0
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return _Walker(schema, fragments).object_cost(data, ((operation.selection_set, root),))
