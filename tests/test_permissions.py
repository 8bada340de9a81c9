"""Every field outside the public storefront refuses the anonymous and the unprivileged.

The fields are discovered from the schema, so a new admin field cannot be forgotten: it is
either public (listed here, on purpose) or it must refuse both.
"""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)
from strawberry.permission import PermissionExtension

from models import Permission
from schema import schema
from schema.ids import encode_id
from schema.permissions import SignedIn, Staff
from tests.graphql_schema import GRAPHQL_SCHEMA
from tests.staff import bearer, token_for

PUBLIC_QUERIES = {
    "products",
    "productSuggestions",
    "product",
    "categories",
    "category",
    "node",
    "nodes",
    "me",
    "cart",
    "order",
    "trackShipment",
}
PUBLIC_MUTATIONS = {
    "customerRegister",
    "tokenCreate",
    "tokenRefresh",
    "tokenRevoke",
    # Links sent by email: whoever holds the address (or the token) may ask or act, signed in or not.
    "customerRequestPasswordReset",
    "customerResetPassword",
    "customerConfirmEmail",
    "customerDelete",
    "cartCreate",
    "cartLinesAdd",
    "cartLinesUpdate",
    "cartLinesRemove",
    "cartUpdateEmail",
    "cartUpdateShippingAddress",
    "cartUpdateShippingMethod",
    "cartUpdateBillingAddress",
    "cartApplyDiscountCode",
    "cartRemoveDiscountCode",
    "checkoutPaymentInitialize",
    "checkoutComplete",
    # The order's token is the customer's proof, as it is for `order(token:)`.
    "returnRequest",
}


def _value(type_) -> str:
    if isinstance(type_, GraphQLNonNull):
        return _value(type_.of_type)
    if isinstance(type_, GraphQLList):
        return f"[{_value(type_.of_type)}]"
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        fields = [f"{name}: {_value(f.type)}" for name, f in type_.fields.items() if isinstance(f.type, GraphQLNonNull)]
        return "{" + ", ".join(fields) + "}"
    if isinstance(type_, GraphQLScalarType):
        return {
            "ID": f'"{encode_id("Product", 1)}"',
            "Int": "1",
            "Float": "1.0",
            "Boolean": "true",
            "Decimal": '"1.00"',
            "DateTime": '"2026-01-01T00:00:00+00:00"',
        }.get(type_.name, '"x@example.com"')
    raise AssertionError(f"no sample value for {type_}")


def _document(kind: str, name: str, field: GraphQLField) -> str:
    args = [f"{arg}: {_value(a.type)}" for arg, a in field.args.items() if isinstance(a.type, GraphQLNonNull)]
    call = f"{name}({', '.join(args)})" if args else name
    return f"{kind} {{ {call} {{ __typename }} }}"


def _guard(type_name: str, field_name: str) -> type | None:
    """The permission class a root field declares (Staff or SignedIn), or None."""
    definition = schema.get_type_by_name(type_name)
    field = next(f for f in definition.fields if schema.config.name_converter.get_graphql_name(f) == field_name)
    for extension in field.extensions:
        if isinstance(extension, PermissionExtension):
            return type(extension.permissions[0])
    return None


def protected_operations() -> list[tuple[str, type | None, str]]:
    graphql_schema = GRAPHQL_SCHEMA
    found = []
    for kind, root, public in (
        ("query", graphql_schema.query_type, PUBLIC_QUERIES),
        ("mutation", graphql_schema.mutation_type, PUBLIC_MUTATIONS),
    ):
        for name, field in (root.fields if isinstance(root, GraphQLObjectType) else {}).items():
            if name not in public:
                found.append((name, _guard(root.name, name), _document(kind, name, field)))
    return found


async def test_every_protected_field_refuses_anonymous_and_the_unprivileged(client):
    operations = protected_operations()
    signed_in_only = {
        "customerAddressCreate",
        "customerAddressUpdate",
        "customerAddressDelete",
        "customerSetDefaultAddress",
        "customerUpdate",
        "customerChangePassword",
        "customerDataExport",
        "customerRequestEmailChange",
        "customerRequestDeletion",
    }
    assert {"staffCreate", "stockSet", "productCreate"} | signed_in_only <= {name for name, _, _ in operations}
    assert {name for name, guard, _ in operations if name in signed_in_only and guard is SignedIn} == signed_in_only
    unguarded = [name for name, guard, _ in operations if guard not in (Staff, SignedIn)]
    assert unguarded == [], f"not public and not guarded: {unguarded}"
    customer = bearer(await token_for(staff=False))
    staff_without = bearer(await token_for())
    for name, guard, document in operations:
        refusals = [({}, "UNAUTHENTICATED")]
        if guard is Staff:
            refusals += [(customer, "FORBIDDEN"), (staff_without, "FORBIDDEN")]
        for headers, code in refusals:
            body = (await client.post("/graphql", json={"query": document}, headers=headers)).json()
            codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
            assert codes == [code], (name, headers, body)


# Operations and the one permission each needs: staff holding every other permission are refused.
ACCOUNT_OPERATIONS = {
    "customers": Permission.MANAGE_CUSTOMERS,
    "customer": Permission.MANAGE_CUSTOMERS,
    "staffDeactivate": Permission.MANAGE_STAFF,
    "staffActivate": Permission.MANAGE_STAFF,
    "auditLog": Permission.VIEW_AUDIT_LOG,
    # The catalogue's bulk files (issue 19): an import is refused before its file is stored
    # (UPLOAD_OPERATIONS, tests/test_imports.py).
    "importJob": Permission.MANAGE_PRODUCTS,
    "productExport": Permission.MANAGE_PRODUCTS,
    "exportJob": Permission.MANAGE_PRODUCTS,
}

# Issue 19, point 4: the admin lists and edits.
ADMIN_LIST_OPERATIONS = {
    "discountCodes": Permission.MANAGE_DISCOUNTS,
    "discountCodeUpdate": Permission.MANAGE_DISCOUNTS,
    "discountCodeDeactivate": Permission.MANAGE_DISCOUNTS,
    "shippingMethods": Permission.MANAGE_SHIPPING,
    "shippingMethodUpdate": Permission.MANAGE_SHIPPING,
    "shippingMethodDelete": Permission.MANAGE_SHIPPING,
    "warehouses": Permission.MANAGE_INVENTORY,
    "warehouseUpdate": Permission.MANAGE_INVENTORY,
}


async def test_account_operations_need_their_own_permission(client):
    # The holder gets past the guard (the sample ID may then be refused as input).
    await _only_the_holder_passes(
        client,
        {**ACCOUNT_OPERATIONS, **ADMIN_LIST_OPERATIONS},
        lambda codes: not codes & {"FORBIDDEN", "UNAUTHENTICATED"},
    )


async def _only_the_holder_passes(client, needs: dict[str, Permission], passed) -> None:
    """Staff holding every permission but the one an operation needs are refused; its holder passes."""
    operations = {name: (guard, document) for name, guard, document in protected_operations()}
    for name, permission in needs.items():
        guard, document = operations[name]
        assert guard is Staff, name
        holder = bearer(await token_for(permission))
        everything_else = bearer(await token_for(*(p for p in Permission if p is not permission)))
        for headers, refused in ((everything_else, True), (holder, False)):
            body = (await client.post("/graphql", json={"query": document}, headers=headers)).json()
            codes = {e.get("extensions", {}).get("code") for e in body.get("errors", [])}
            assert (codes == {"FORBIDDEN"}) if refused else passed(codes), (name, body)


# Operations that take files (the multipart request spec) and the permission each needs. Over JSON
# the holder gets past the guard (a string is then no file: BAD_USER_INPUT); as a multipart
# request anyone else is refused before the body is read (tests/test_media.py, tests/test_uploads.py).
UPLOAD_OPERATIONS = {
    "productMediaUpload": Permission.MANAGE_PRODUCTS,
    "productImport": Permission.MANAGE_PRODUCTS,
}


async def test_upload_operations_need_their_own_permission(client):
    await _only_the_holder_passes(client, UPLOAD_OPERATIONS, lambda codes: codes == {"BAD_USER_INPUT"})
