"""The cost analysis reads a document once, however its fragments spread one another.

Random documents of nested spreads, aliases, inline fragments and connections: the analysis must
visit a number of selections bounded by the document's size (never its expansion), and give the
same figures as the document with every fragment written out in place.
"""

from __future__ import annotations

import random

import pytest
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    SelectionSetNode,
    parse,
    visit,
)
from graphql.language import Visitor

from schema.limits import Limits, analyze
from tests.graphql_schema import GRAPHQL_SCHEMA

GRAPHQL = GRAPHQL_SCHEMA
UNLIMITED = Limits(max_depth=10**9, max_aliases=10**9, max_tokens=10**9, max_cost=10**30)


def doubling(levels: int, leaf: str = "__typename") -> str:
    """The document of issue 12: each fragment spreads the next one twice, 2^levels leaves."""
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"query {{ ...F0 }} {fragments} fragment F{levels} on Query {{ {leaf} }}"


def selections(document: str) -> int:
    """Fields, spreads and inline fragments written in the document."""
    count = 0

    class Counter(Visitor):
        def enter(self, node, *_):
            nonlocal count
            if isinstance(node, (FieldNode, FragmentSpreadNode, InlineFragmentNode)):
                count += 1

    visit(parse(document), Counter())
    return count


def written_out(document: str) -> str:
    """The document with every fragment spread replaced by its selection, inline."""
    from graphql import print_ast
    from graphql.language import DocumentNode

    ast = parse(document)
    fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}

    def expand(selection_set: SelectionSetNode | None) -> SelectionSetNode | None:
        if selection_set is None:
            return None
        out = []
        for node in selection_set.selections:
            if isinstance(node, FragmentSpreadNode):
                fragment = fragments[node.name.value]
                out.append(
                    InlineFragmentNode(
                        type_condition=NamedTypeNode(name=NameNode(value=fragment.type_condition.name.value)),
                        directives=(),
                        selection_set=expand(fragment.selection_set),
                    )
                )
            elif isinstance(node, InlineFragmentNode):
                out.append(
                    InlineFragmentNode(
                        type_condition=node.type_condition, directives=(), selection_set=expand(node.selection_set)
                    )
                )
            else:
                out.append(
                    FieldNode(
                        alias=node.alias,
                        name=node.name,
                        arguments=node.arguments,
                        directives=(),
                        selection_set=expand(node.selection_set),
                    )
                )
        return SelectionSetNode(selections=tuple(out))

    operation = ast.definitions[0]
    operation = operation.__class__(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=(),
        directives=(),
        selection_set=expand(operation.selection_set),
    )
    return print_ast(DocumentNode(definitions=(operation,)))


class Documents:
    """Random documents over the catalogue types; fragment i spreads only fragments after it."""

    TYPES = ("Query", "ProductConnection", "Product", "Category")

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.fragments = [self.random.choice(self.TYPES) for _ in range(self.random.randint(1, 14))]
        self.aliases = 0

    def document(self) -> str:
        bodies = [f"fragment F{i} on {t} {{ {self.body(t, 3, i + 1)} }}" for i, t in enumerate(self.fragments)]
        return f"query {{ {self.body('Query', 3, 0)} }} " + " ".join(bodies)

    def alias(self) -> str:
        self.aliases += 1
        return f"a{self.aliases}: "

    def body(self, type_: str, budget: int, first_fragment: int) -> str:
        r = self.random
        later = [i for i in range(first_fragment, len(self.fragments)) if self.fragments[i] == type_]
        parts: list[str] = []
        for _ in range(r.randint(1, 4)):
            choice = r.random()
            if later and choice < 0.45:
                parts.append(f"...F{r.choice(later)}")
            elif budget > 0 and choice < 0.75:
                parts.append(self.nested(type_, budget - 1, first_fragment))
            elif budget > 0 and choice < 0.85:
                parts.append(f"... on {type_} {{ {self.body(type_, budget - 1, first_fragment)} }}")
            else:
                parts.append(
                    self.alias()
                    + {"Query": "__typename", "ProductConnection": "totalCount", "Product": "name", "Category": "name"}[
                        type_
                    ]
                )
        return " ".join(parts)

    def nested(self, type_: str, budget: int, first: int) -> str:
        r = self.random
        alias = self.alias() if r.random() < 0.3 else ""
        page = r.choice([0, 1, 3, 100])
        if type_ == "Query":
            return r.choice(
                [
                    f"{alias}products(first: {page}) {{ {self.body('ProductConnection', budget, first)} }}",
                    f'{alias}category(slug: "lab") {{ {self.body("Category", budget, first)} }}',
                ]
            )
        if type_ == "ProductConnection":
            return r.choice(
                [
                    f"{alias}edges {{ cursor node {{ {self.body('Product', budget, first)} }} }}",
                    f"{alias}nodes {{ {self.body('Product', budget, first)} }}",
                    f"{alias}pageInfo {{ hasNextPage }}",
                ]
            )
        if type_ == "Product":
            return r.choice(
                [
                    f"{alias}variants {{ sku }}",
                    f"{alias}category {{ {self.body('Category', budget, first)} }}",
                ]
            )
        return r.choice(
            [
                f"{alias}products(first: {page}) {{ {self.body('ProductConnection', budget, first)} }}",
                f"{alias}children {{ {self.body('Category', budget, first)} }}",
            ]
        )


def test_the_doubling_fragments_are_refused_after_a_visit_per_spread():
    document = doubling(24)
    analysis = analyze(GRAPHQL, parse(document), None, None)
    assert analysis is not None and analysis.over == "fields"
    assert analysis.steps <= 2 * selections(document)


def test_a_doubling_document_within_the_limits_is_counted_in_full():
    analysis = analyze(GRAPHQL, parse(doubling(10, "products(first: 1) { totalCount }")), None, None)
    # 2^10 spreads of a connection costing 2 + 0 each: every spread counts, none is walked twice.
    assert analysis is not None and analysis.over is None
    assert (analysis.cost, analysis.fields, analysis.depth) == (2 * 2**10, 2 * 2**10, 2)
    assert analysis.steps <= 2 * selections(doubling(10, "products(first: 1) { totalCount }"))


def test_a_fragment_on_a_connection_counts_its_items_by_the_page_size():
    # Spread on the connection itself, `edges` still repeats `first` times (it did not: a fragment
    # was a way to have 100 items counted as 5).
    inline = analyze(GRAPHQL, parse("{ products(first: 100) { edges { node { variants { sku } } } } }"), None, None)
    spread = analyze(
        GRAPHQL,
        parse(
            "{ products(first: 100) { ...P } } fragment P on ProductConnection { edges { node { variants { sku } } } }"
        ),
        None,
        None,
    )
    assert inline is not None and spread is not None
    assert spread.cost == inline.cost == 2 + 100 * (1 + 1 + 5)


@pytest.mark.parametrize("seed", range(200))
def test_random_documents_are_read_once_and_counted_as_written_out(seed):
    document = Documents(seed).document()
    ast = parse(document)
    full = analyze(GRAPHQL, ast, None, None, UNLIMITED)
    assert full is not None and full.over is None
    # Bounded by the document, whatever its expansion: each fragment is read once per kind of
    # place it is spread in (inside a connection or not).
    assert full.steps <= 2 * selections(document)
    if full.fields <= 400:  # small enough to write out and read the slow way
        expanded = analyze(GRAPHQL, parse(written_out(document)), None, None, UNLIMITED)
        assert expanded is not None
        assert (full.cost, full.depth, full.aliases, full.fields) == (
            expanded.cost,
            expanded.depth,
            expanded.aliases,
            expanded.fields,
        )
    # With the real limits, refused exactly when the full figures pass one of them.
    limits = Limits()
    limited = analyze(GRAPHQL, ast, None, None, limits)
    assert limited is not None and limited.steps <= full.steps
    over = (
        full.depth > limits.max_depth
        or full.aliases > limits.max_aliases
        or full.fields > limits.max_tokens
        or full.cost > limits.max_cost
    )
    assert (limited.over is not None) == over


async def test_the_doubling_fragments_answer_query_too_complex_through_the_api(client, sql_counter):
    sql_counter.statements.clear()
    response = await client.post("/graphql", json={"query": doubling(24)})
    body = response.json()
    assert "data" not in body and sql_counter.statements == []
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COMPLEX"]
    assert "fragments" in body["errors"][0]["message"]
