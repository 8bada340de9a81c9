"""Files sent with mutations: what an `Upload` argument holds, and who may send files at all.

`uploaded_file` turns the value of an `Upload` argument into the domain's `UploadedFile` (a JSON
request can only put a string there: refused as bad input). `upload_permissions` lists the
permissions of the mutation fields that take files, read from the schema itself: the HTTP view
refuses a multipart body, before reading it, to anyone holding none of them.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLNamedType, GraphQLObjectType, GraphQLWrappingType
from starlette.datastructures import UploadFile
from strawberry.permission import PermissionExtension
from strawberry.schema import Schema

from models import Permission
from resolvers.uploads import UploadedFile
from schema.errors import BadUserInput
from schema.graphql_core import core_schema
from schema.permissions import Staff

UPLOAD = "Upload"


def uploaded_file(value: object, argument: str) -> UploadedFile:
    """The file a multipart request put in `argument`; BAD_USER_INPUT for anything else."""
    if not isinstance(value, UploadFile):
        raise BadUserInput(
            f"`{argument}` must be a file sent as a part of a multipart/form-data request (the GraphQL multipart "
            "request spec), not a value in the JSON."
        )
    value.file.seek(0)
    return UploadedFile(value.file, value.filename or "", value.content_type)


def upload_permissions(schema: Schema) -> frozenset[Permission]:
    """The permissions of the mutation fields that have an `Upload` argument (each field needs one)."""
    mutation = core_schema(schema).mutation_type
    if not isinstance(mutation, GraphQLObjectType):
        return frozenset()
    definition = schema.get_type_by_name(mutation.name)
    found: set[Permission] = set()
    for name, field in mutation.fields.items():
        if not any(_named(argument.type).name == UPLOAD for argument in field.args.values()):
            continue
        strawberry_field = next(
            f for f in getattr(definition, "fields", []) if schema.config.name_converter.get_graphql_name(f) == name
        )
        for extension in strawberry_field.extensions:
            if isinstance(extension, PermissionExtension):
                found.update(p.permission for p in extension.permissions if isinstance(p, Staff))
    return frozenset(found)


def _named(type_: Any) -> GraphQLNamedType:
    while isinstance(type_, GraphQLWrappingType):
        type_ = type_.of_type
    return type_  # type: ignore[no-any-return]
