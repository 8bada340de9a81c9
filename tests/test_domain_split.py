"""Every domain is split between storefront and staff the same way (schema/__init__.py states the rule).

`schema/<domain>.py` holds what a storefront or a signed-in customer uses, `schema/<domain>_admin.py`
what needs a staff permission; a domain that is staff-only throughout is one file (`STAFF_ONLY`);
`resolvers/` has an `_admin` module exactly where `schema/` has one. Read from the schema itself, so
a staff field added to a storefront module (or the other way round) fails here.
"""

from __future__ import annotations

from pathlib import Path

from strawberry.types import get_object_definition
from strawberry.types.field import StrawberryField

from schema.permissions import needs_staff
from schema.root import Mutation, Query

ROOT = Path(__file__).resolve().parent.parent
STAFF_ONLY = {"schema.inventory", "schema.webhooks_out"}


def _module(field: StrawberryField) -> str:
    assert field.base_resolver is not None, f"root field {field.python_name} has no resolver"
    return field.base_resolver.wrapped_func.__module__


def test_staff_root_fields_live_in_admin_modules_and_only_they():
    misplaced = []
    for root in (Query, Mutation):
        for field in get_object_definition(root, strict=True).fields:
            module = _module(field)
            in_admin_module = module.endswith("_admin") or module in STAFF_ONLY
            if needs_staff(field) != in_admin_module:
                misplaced.append(f"{root.__name__}.{field.python_name} in {module}")
    assert misplaced == []


def test_resolvers_have_an_admin_module_where_the_schema_has_one():
    def admin_modules(layer: str) -> set[str]:
        return {path.stem for path in (ROOT / layer).glob("*_admin.py")}

    assert admin_modules("schema") == admin_modules("resolvers")
    assert admin_modules("schema") >= {"catalogue_admin", "orders_admin"}
