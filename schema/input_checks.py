"""Checks on an operation's input that hold for every argument and input field, run once before any
resolver: no NUL character, and no list longer than its bound.

PostgreSQL cannot store U+0000 in text ("invalid byte sequence"), so a token, slug or email holding
one became an internal error after the database had been asked; SQLite stores it, and the two
backends then disagree. No client has a use for it: it is malformed input, `BAD_USER_INPUT`, checked
once here for every argument and input field instead of at each place a string reaches SQL.

A list argument (cart lines, line ids, `nodes(ids)`, permissions, a filter's statuses) becomes a
statement per item or a parameter list of its length: each may hold at most `MAX_LIST_LENGTH`
items, as many as one page, unless `LIST_LENGTHS` allows a field more. Over it, `BAD_USER_INPUT`
naming the argument, before anything is read or written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLSchema,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    ValueNode,
    VariableNode,
    get_nullable_type,
    visit,
)
from graphql.execution import ExecutionResult
from graphql.language import Visitor
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from resolvers.countries import COUNTRIES
from resolvers.errors import GraphQLErrorCode
from resolvers.pagination import MAX_PAGE_SIZE
from schema.graphql_core import core_schema

NUL = "\x00"
MAX_LIST_LENGTH = MAX_PAGE_SIZE
# Lists a real use needs longer, by schema coordinate (`Type.field` for an input field,
# `Type.field(argument:)` for an argument). Only ever more than MAX_LIST_LENGTH: a request whose
# lists all stay within it is let through without looking up where they are.
LIST_LENGTHS = {
    "ShippingMethodCreateInput.countries": len(COUNTRIES),  # a method may serve every country
    "ShippingMethodUpdateInput.countries": len(COUNTRIES),
}


def scan(value: Any) -> tuple[bool, int]:
    """Whether a string anywhere in a variable's value (lists and input objects too) holds NUL,
    and the length of its longest list."""
    if isinstance(value, str):
        return NUL in value, 0
    nul, longest = False, 0
    if isinstance(value, dict):
        nul = any(NUL in key for key in value)
        items: Any = value.values()
    elif isinstance(value, list):
        items, longest = value, len(value)
    else:
        return False, 0
    for item in items:
        if isinstance(item, str):  # most values: no call for them
            nul = nul or NUL in item
        elif isinstance(item, (dict, list)):
            item_nul, item_longest = scan(item)
            nul, longest = nul or item_nul, max(longest, item_longest)
    return nul, longest


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.nul = False
        self.long_list = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if NUL in node.value:
            self.nul = True
            return self.BREAK
        return None

    def enter_list_value(self, node: ListValueNode, *_: Any) -> Any:
        if len(node.values) > MAX_LIST_LENGTH:
            self.long_list = True
        return None


def scan_document(query: str | None, document: DocumentNode | None) -> tuple[bool, bool]:
    """Whether a string literal holds NUL, and whether a list literal is longer than MAX_LIST_LENGTH."""
    # A document can only spell NUL as an escape (a raw one is a syntax error), and each item of
    # a list literal takes at least two characters (`[{}{}]`): most requests skip the walk.
    if document is None or not query or ("\\u" not in query and len(query) <= 2 * MAX_LIST_LENGTH):
        return False, False
    literals = _Literals()
    visit(document, literals)
    return literals.nul, literals.long_list


class TooLong(Exception):
    def __init__(self, path: str, bound: int, length: int) -> None:
        super().__init__(f"`{path}` may hold at most {bound} items, got {length}.")
        self.path = path


class _ListArguments(Visitor):
    """Walks the arguments of one operation (and the fragments it may spread) with their types,
    raising TooLong at the first list over its bound."""

    def __init__(self, type_info: TypeInfo, operation: OperationDefinitionNode, variables: dict[str, Any]) -> None:
        super().__init__()
        self.type_info = type_info
        self.operation = operation
        self.variables = variables
        self.defaults = {d.variable.name.value: d.default_value for d in operation.variable_definitions or ()}

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
        return None if node is self.operation else self.SKIP  # another operation of the document

    def enter_argument(self, node: ArgumentNode, *_: Any) -> Any:
        argument, parent, field = (
            self.type_info.get_argument(),
            self.type_info.get_parent_type(),
            self.type_info.get_field_def(),
        )
        if argument is None or parent is None or field is None:  # a directive's argument, or unknown
            return None
        name = node.name.value
        field_name = next((key for key, value in parent.fields.items() if value is field), "")  # type: ignore[union-attr]
        self.check(node.value, argument.type, f"{parent.name}.{field_name}({name}:)", name)
        return None

    def check(self, value: ValueNode | Any, type_: GraphQLInputType, coordinate: str, path: str) -> None:
        if isinstance(value, VariableNode):
            name = value.name.value
            value = self.variables[name] if name in self.variables else self.defaults.get(name)
        type_ = get_nullable_type(type_)  # type: ignore[assignment]
        if isinstance(type_, GraphQLList):
            items = value.values if isinstance(value, ListValueNode) else value if isinstance(value, list) else [value]
            bound = LIST_LENGTHS.get(coordinate, MAX_LIST_LENGTH)
            if len(items) > bound:
                raise TooLong(path, bound, len(items))
            for item in items:
                self.check(item, type_.of_type, coordinate, path)
        elif isinstance(type_, GraphQLInputObjectType):
            if isinstance(value, ObjectValueNode):
                entries = {entry.name.value: entry.value for entry in value.fields}
            else:
                entries = value if isinstance(value, dict) else {}
            for name, item in entries.items():
                field = type_.fields.get(name)
                if field is not None:
                    self.check(item, field.type, f"{type_.name}.{name}", f"{path}.{name}")


def over_long_list(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: dict[str, Any]
) -> TooLong | None:
    """The first list of the operation to run that is longer than its field allows, if any."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:  # graphql-core reports it
        return None
    type_info = TypeInfo(schema)
    try:
        visit(document, TypeInfoVisitor(type_info, _ListArguments(type_info, operation, variables)))
    except TooLong as too_long:
        return too_long
    return None


def _refusal(message: str, field: str | None = None) -> ExecutionResult:
    extensions = {"code": GraphQLErrorCode.BAD_USER_INPUT, **({"field": field} if field else {})}
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions=extensions)])


class InputChecks(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        variables = context.variables or {}
        nul, longest = scan(variables)
        literal_nul, long_literal = scan_document(context.query, context.graphql_document)
        if nul or literal_nul:
            context.result = _refusal("Text input must not contain NUL (U+0000) characters.")
        elif (longest > MAX_LIST_LENGTH or long_literal) and context.graphql_document is not None:
            # Some list is longer than most fields allow: find out which, and whether its field does.
            too_long = over_long_list(
                core_schema(context.schema), context.graphql_document, context.operation_name, variables
            )
            if too_long is not None:
                context.result = _refusal(str(too_long), too_long.path)
        yield
