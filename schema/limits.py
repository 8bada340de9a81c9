"""Query limits checked before any resolver runs: depth, aliases and cost (plus the parser's token cap,
and introspection, which production may switch off).

Cost follows Shopify and Saleor: an object costs 1, a scalar 0, a connection 2 plus its page
size times what each item selects, and a plain list of objects a nominal `LIST_SIZE` times its
items. The cost is reported on every response in `extensions.cost`, so clients can see how close
they are; over any limit the answer is `QUERY_TOO_COMPLEX` and nothing executes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    value_from_ast_untyped,
)
from graphql.execution import ExecutionResult
from strawberry.extensions import DisableIntrospection, MaxTokensLimiter, SchemaExtension

from resolvers.pagination import DEFAULT_PAGE_SIZE

LIST_SIZE = 5


@dataclass(frozen=True)
class Limits:
    max_depth: int = 15
    max_aliases: int = 30
    max_tokens: int = 5000
    max_cost: int = 5000
    introspection: bool = True


@dataclass
class _Analysis:
    cost: int = 0
    depth: int = 0
    aliases: int = 0


class _Analyzer:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]):
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.aliases = 0
        self.depth = 0

    def selection_cost(self, selection_set: SelectionSetNode | None, parent: Any, depth: int, seen: frozenset[str]) -> int:
        if selection_set is None:
            return 0
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field_cost(node, parent, depth, seen)
            elif isinstance(node, InlineFragmentNode):
                target = self.schema.get_type(node.type_condition.name.value) if node.type_condition else parent
                total += self.selection_cost(node.selection_set, target, depth, seen)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.selection_cost(fragment.selection_set, target, depth, seen | {node.name.value})
        return total

    def field_cost(self, node: FieldNode, parent: Any, depth: int, seen: frozenset[str]) -> int:
        name = node.name.value
        if node.alias is not None:
            self.aliases += 1
        if name.startswith("__"):  # introspection is bounded by the schema itself
            return 0
        self.depth = max(self.depth, depth + 1)
        field = getattr(parent, "fields", {}).get(name)
        if field is None:
            return 0
        type_ = field.type
        while isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        is_list = isinstance(type_, GraphQLList)
        while isinstance(type_, (GraphQLList, GraphQLNonNull)):
            type_ = type_.of_type
        if node.selection_set is None:
            return 0
        children = self.selection_cost(node.selection_set, type_, depth + 1, seen)
        page = self._page_size(node) if "first" in field.args or "last" in field.args else None
        if page is not None:
            # A connection: its `edges`/`nodes` items repeat `page` times.
            items = sum(
                self._items_cost(child, type_, depth + 1, seen, page) for child in node.selection_set.selections
            )
            return 2 + items
        return (LIST_SIZE if is_list else 1) * (1 + children) if isinstance(type_, GraphQLObjectType) or children else 0

    def _items_cost(self, node: Any, parent: Any, depth: int, seen: frozenset[str], page: int) -> int:
        if isinstance(node, FieldNode) and node.name.value in ("edges", "nodes"):
            field = parent.fields.get(node.name.value) if hasattr(parent, "fields") else None
            if field is not None:
                item = field.type
                while isinstance(item, (GraphQLList, GraphQLNonNull)):
                    item = item.of_type
                self.depth = max(self.depth, depth + 1)
                return page * (1 + self.selection_cost(node.selection_set, item, depth + 1, seen))
        if isinstance(node, FieldNode):
            return self.field_cost(node, parent, depth, seen)
        return self.selection_cost(SelectionSetNode(selections=(node,)), parent, depth, seen)

    def _page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():  # None when the field has no arguments
            if argument.name.value in ("first", "last"):
                value = value_from_ast_untyped(argument.value, self.variables)
                if isinstance(value, int) and value >= 0:
                    return value
        return DEFAULT_PAGE_SIZE


def analyze(schema: GraphQLSchema, document: Any, operation_name: str | None, variables: dict[str, Any] | None) -> _Analysis | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next((o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)), None)
    if operation is None:
        return None
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    analyzer = _Analyzer(schema, fragments, variables or {})
    cost = analyzer.selection_cost(operation.selection_set, root, 0, frozenset())
    return _Analysis(cost=cost, depth=analyzer.depth, aliases=analyzer.aliases)


def _too_complex(message: str, extensions: dict[str, Any] | None = None) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": "QUERY_TOO_COMPLEX", **(extensions or {})})])


class QueryLimits(SchemaExtension):
    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits
        self.cost: int | None = None

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        analysis = analyze(context.schema._schema, context.graphql_document, context.operation_name, context.variables)
        if analysis is not None:
            limits = self.limits
            self.cost = analysis.cost
            if analysis.depth > limits.max_depth:
                context.result = _too_complex(f"The query is {analysis.depth} levels deep; at most {limits.max_depth} are allowed.")
            elif analysis.aliases > limits.max_aliases:
                context.result = _too_complex(f"The query uses {analysis.aliases} aliases; at most {limits.max_aliases} are allowed.")
            elif analysis.cost > limits.max_cost:
                context.result = _too_complex(
                    f"The query costs {analysis.cost}; at most {limits.max_cost} is allowed. Ask for smaller pages or fewer fields.",
                    {"cost": self._cost()},
                )
        yield

    def _cost(self) -> dict[str, int]:
        return {"requestedQueryCost": self.cost or 0, "maximumAvailable": self.limits.max_cost}

    def get_results(self) -> dict[str, Any]:
        return {} if self.cost is None else {"cost": self._cost()}


def limit_extensions(limits: Limits) -> list[Callable[[], SchemaExtension]]:
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: QueryLimits(limits),
    ]
    if not limits.introspection:
        extensions.append(DisableIntrospection)
    return extensions
