"""Refuse a NUL character anywhere in an operation's input, before any resolver runs.

PostgreSQL cannot store U+0000 in text ("invalid byte sequence"), so a token, slug or email holding
one became an internal error after the database had been asked; SQLite stores it, and the two
backends then disagree. No client has a use for it: it is malformed input, `BAD_USER_INPUT`, checked
once here for every argument and input field instead of at each place a string reaches SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, StringValueNode, visit
from graphql.execution import ExecutionResult
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

NUL = "\x00"


def holds_nul(value: Any) -> bool:
    """True when a string anywhere in a variable's value (lists and input objects too) holds NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(holds_nul(item) for item in value)
    return False


class _StringLiterals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if NUL in node.value:
            self.found = True
            return self.BREAK
        return None


def document_holds_nul(query: str | None, document: DocumentNode | None) -> bool:
    # A document can only spell NUL as an escape (a raw one is a syntax error): most requests
    # have no `\u` at all and skip the walk.
    if document is None or not query or "\\u" not in query:
        return False
    literals = _StringLiterals()
    visit(document, literals)
    return literals.found


class RefuseNul(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if holds_nul(context.variables) or document_holds_nul(context.query, context.graphql_document):
            error = GraphQLError(
                "Text input must not contain NUL (U+0000) characters.", extensions={"code": "BAD_USER_INPUT"}
            )
            context.result = ExecutionResult(data=None, errors=[error])
        yield
