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
from typing import Any, NamedTuple

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

from resolvers.errors import GraphQLErrorCode
from resolvers.pagination import DEFAULT_PAGE_SIZE
from schema.graphql_core import core_schema

LIST_SIZE = 5
CONNECTION_ITEMS = ("edges", "nodes")


@dataclass(frozen=True)
class Limits:
    max_depth: int = 15
    max_aliases: int = 30
    max_tokens: int = 5000
    max_cost: int = 5000
    introspection: bool = True


class _Sums(NamedTuple):
    """What a selection set adds up to: one instance of it, wherever it is spread.

    `items` is the cost of one `edges`/`nodes` item when the set is a connection's own selection
    (the connection multiplies it by its page size), and 0 elsewhere. `depth` counts field levels
    from the set down; `fields` counts the fields of the set with its fragments written out.
    """

    cost: int = 0
    items: int = 0
    depth: int = 0
    aliases: int = 0
    fields: int = 0


@dataclass
class _Analysis:
    cost: int = 0
    depth: int = 0
    aliases: int = 0
    fields: int = 0
    over: str | None = None  # the limit passed; the figures are then what was counted until then
    steps: int = 0  # selections the analysis visited


class _OverLimit(Exception):
    def __init__(self, limit: str) -> None:
        super().__init__(limit)
        self.limit = limit


class _Analyzer:
    """Walks an operation once, each fragment's selection once per kind of place it is spread in.

    A fragment adds up to the same sums wherever it is spread, so they are remembered: a document
    whose fragments each spread the next one twice costs one visit per spread, not 2^n. Figures
    still count every spread (a fragment spread twice counts its fields, aliases and cost twice),
    and the walk stops as soon as a part of the document alone passes a limit.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        limits: Limits,
    ):
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.limits = limits
        self.memo: dict[tuple[str, bool], _Sums] = {}
        self.open: set[str] = set()  # fragments being summed: a cycle (refused by validation) adds nothing
        self.steps = 0  # selections visited: linear in the document, whatever its spreads
        self.seen = _Analysis()  # on a limit passed: the figures of the part that passed it, lower bounds

    def selections(
        self, selection_set: SelectionSetNode, parent: Any, level: int, weight: int, item_weight: int | None
    ) -> _Sums:
        """The sums of a selection set whose fields sit `level` levels down, taken `weight` times
        by the lists around it; `item_weight` is set when it is a connection's own selection."""
        cost = items = depth = aliases = fields = 0
        for node in selection_set.selections:
            self.steps += 1
            if isinstance(node, FieldNode):
                part = self.field(node, parent, level, weight, item_weight)
            elif isinstance(node, InlineFragmentNode):
                target = self.schema.get_type(node.type_condition.name.value) if node.type_condition else parent
                part = self.selections(node.selection_set, target, level, weight, item_weight)
            elif isinstance(node, FragmentSpreadNode):
                part = self.spread(node.name.value, level, weight, item_weight)
            else:
                continue
            cost += part.cost
            items += part.items
            depth = part.depth if part.depth > depth else depth
            aliases += part.aliases
            fields += part.fields
        sums = _Sums(cost, items, depth, aliases, fields)
        self.check(sums, level, weight, item_weight)
        return sums

    def spread(self, name: str, level: int, weight: int, item_weight: int | None) -> _Sums:
        key = (name, item_weight is not None)
        sums = self.memo.get(key)
        if sums is None:
            fragment = self.fragments.get(name)
            if fragment is None or name in self.open:
                return _Sums()
            self.open.add(name)
            target = self.schema.get_type(fragment.type_condition.name.value)
            sums = self.memo[key] = self.selections(fragment.selection_set, target, level, weight, item_weight)
            self.open.discard(name)
        return sums

    def field(self, node: FieldNode, parent: Any, level: int, weight: int, item_weight: int | None) -> _Sums:
        name = node.name.value
        aliases = 0 if node.alias is None else 1
        if name.startswith("__"):  # introspection is bounded by the schema itself
            return _Sums(aliases=aliases, fields=1)
        field = getattr(parent, "fields", {}).get(name)
        if field is None or node.selection_set is None:
            return _Sums(depth=1, aliases=aliases, fields=1)
        type_ = field.type
        while isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        is_list = isinstance(type_, GraphQLList)
        while isinstance(type_, (GraphQLList, GraphQLNonNull)):
            type_ = type_.of_type
        if item_weight is not None and name in CONNECTION_ITEMS:
            # An item of a connection: the connection multiplies it by its page size.
            children = self.selections(node.selection_set, type_, level + 1, item_weight, None)
            return _Sums(0, 1 + children.cost, 1 + children.depth, aliases + children.aliases, 1 + children.fields)
        if "first" in field.args or "last" in field.args:
            page = self._page_size(node)
            children = self.selections(node.selection_set, type_, level + 1, weight, weight * page)
            cost = 2 + children.cost + page * children.items
        else:
            size = LIST_SIZE if is_list else 1
            children = self.selections(node.selection_set, type_, level + 1, weight * size, None)
            cost = size * (1 + children.cost) if isinstance(type_, GraphQLObjectType) or children.cost else 0
        return _Sums(cost, 0, 1 + children.depth, aliases + children.aliases, 1 + children.fields)

    def check(self, sums: _Sums, level: int, weight: int, item_weight: int | None) -> None:
        """Stop once this part alone passes a limit: the whole document holds at least as much."""
        limits = self.limits
        depth = level + sums.depth
        cost = weight * sums.cost + (item_weight or 0) * sums.items
        if (
            depth > limits.max_depth
            or sums.aliases > limits.max_aliases
            or sums.fields > limits.max_tokens
            or cost > limits.max_cost
        ):
            self.seen = _Analysis(cost, depth, sums.aliases, sums.fields)
            if depth > limits.max_depth:
                raise _OverLimit("depth")
            if sums.aliases > limits.max_aliases:
                raise _OverLimit("aliases")
            raise _OverLimit("fields" if sums.fields > limits.max_tokens else "cost")

    def _page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():  # None when the field has no arguments
            if argument.name.value in ("first", "last"):
                value = value_from_ast_untyped(argument.value, self.variables)
                if isinstance(value, int) and value >= 0:
                    return value
        return DEFAULT_PAGE_SIZE


def analyze(
    schema: GraphQLSchema,
    document: Any,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    limits: Limits = Limits(),
) -> _Analysis | None:
    """The figures of the operation to run, or None when the document has no such operation.

    Over a limit the walk stops where it proved it: `over` names the limit and the figures are
    lower bounds (a document that passes one can hold 2^n more, and counting it all is the attack).
    """
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next(
        (o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)), None
    )
    if operation is None:
        return None
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    analyzer = _Analyzer(schema, fragments, variables or {}, limits)
    try:
        sums = analyzer.selections(operation.selection_set, root, 0, 1, None)
    except _OverLimit as over:
        analyzer.seen.over = over.limit
        analyzer.seen.steps = analyzer.steps
        return analyzer.seen
    return _Analysis(sums.cost, sums.depth, sums.aliases, sums.fields, steps=analyzer.steps)


def _too_complex(message: str, extensions: dict[str, Any] | None = None) -> ExecutionResult:
    return ExecutionResult(
        data=None,
        errors=[GraphQLError(message, extensions={"code": GraphQLErrorCode.QUERY_TOO_COMPLEX, **(extensions or {})})],
    )


class QueryLimits(SchemaExtension):
    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits
        self.cost: int | None = None

    def on_execute(self) -> Iterator[None]:
        self.check()
        yield

    def check(self) -> None:
        """Works out the operation's cost; over a limit, sets the refusal as the result (nothing runs)."""
        context = self.execution_context
        limits = self.limits
        analysis = analyze(
            core_schema(context.schema), context.graphql_document, context.operation_name, context.variables, limits
        )
        if analysis is not None:
            self.cost = analysis.cost
            if hasattr(context.context, "query_cost"):  # schema/context.py's Context
                context.context.query_cost = analysis.cost
            if analysis.over == "depth":
                context.result = _too_complex(
                    f"The query is over {limits.max_depth} levels deep; at most {limits.max_depth} are allowed."
                )
            elif analysis.over == "aliases":
                context.result = _too_complex(
                    f"The query uses over {limits.max_aliases} aliases; at most {limits.max_aliases} are allowed."
                )
            elif analysis.over == "fields":
                context.result = _too_complex(
                    f"The query selects over {limits.max_tokens} fields once its fragments are spread; "
                    f"at most {limits.max_tokens} are allowed."
                )
            elif analysis.over == "cost":
                context.result = _too_complex(
                    f"The query costs over {limits.max_cost}; at most {limits.max_cost} is allowed. Ask for smaller pages or fewer fields.",
                    {"cost": self._cost()},
                )

    def _cost(self) -> dict[str, int]:
        return {"requestedQueryCost": self.cost or 0, "maximumAvailable": self.limits.max_cost}

    def get_results(self) -> dict[str, Any]:
        return {} if self.cost is None else {"cost": self._cost()}


def limit_extensions(
    limits: Limits, checks: Callable[[Limits], SchemaExtension] = QueryLimits
) -> list[Callable[[], SchemaExtension]]:
    """The extensions that enforce `limits`; `checks` makes QueryLimits, or an extension built on it
    (schema/cost_limit.py's also draws each operation's cost from the client's bucket)."""
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: checks(limits),
    ]
    if not limits.introspection:
        extensions.append(DisableIntrospection)
    return extensions
