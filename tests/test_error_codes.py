"""Error codes: one enum each, written once, published with their meanings, never a string literal."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from models import Order
from resolvers.errors import DomainError, ErrorCode, GraphQLErrorCode, text_code
from schema import schema
from schema.shared import build_user_error
from tests.conftest import ROOT
from tests.test_checkout import CHECKOUT, ready_cart

# The codes CONTRACT.md promises clients.
CONTRACT_CODES = (
    "NOT_FOUND",
    "INVALID",
    "DUPLICATE",
    "INSUFFICIENT_STOCK",
    "CART_EMPTY",
    "CART_COMPLETED",
    "EMAIL_REQUIRED",
    "SHIPPING_ADDRESS_REQUIRED",
    "SHIPPING_METHOD_REQUIRED",
    "SHIPPING_METHOD_UNAVAILABLE",
    "DISCOUNT_CODE_INVALID",
    "PAYMENT_DECLINED",
    "INVALID_TRANSITION",
    "INVALID_CREDENTIALS",
)
ERROR_CODE_VALUES = '{ __type(name: "ErrorCode") { description enumValues { name description } } }'


@pytest.mark.parametrize("codes", [ErrorCode, GraphQLErrorCode])
def test_every_code_is_its_own_name_and_says_what_it_means(codes):
    for code in codes:
        assert code == code.name == code.value and f"{code}" == code.name and isinstance(code, str)
        assert code.description.endswith(".") and len(code.description) > 20, code


def test_the_contract_codes_are_kept():
    assert set(CONTRACT_CODES) <= {code.value for code in ErrorCode}


async def test_the_graphql_enum_is_the_domain_enum_with_its_descriptions():
    result = await schema.execute(ERROR_CODE_VALUES)
    assert result.errors is None, result.errors
    values = result.data["__type"]["enumValues"]
    assert [(v["name"], v["description"]) for v in values] == [(c.name, c.description) for c in ErrorCode]
    assert result.data["__type"]["description"]


def test_a_user_error_carries_the_domain_code():
    rendered = build_user_error(DomainError(ErrorCode.TOO_LONG, "Too long.", ["name"]))
    assert rendered.code is ErrorCode.TOO_LONG and (rendered.field, rendered.message) == (["name"], "Too long.")


@pytest.mark.parametrize(
    ("text", "code"), [("", ErrorCode.REQUIRED), ("x" * 11, ErrorCode.TOO_LONG), ("bad!", ErrorCode.INVALID)]
)
def test_a_refused_text_is_blank_too_long_or_malformed(text, code):
    assert text_code(text, 10) is code


def _readme_table(heading: str) -> list[tuple[str, str]]:
    """The `| code | meaning |` rows of the first table after the line containing `heading`."""
    text = (ROOT / "README.md").read_text()
    start = text.index(heading)
    rows = []
    for line in text[start:].splitlines()[1:]:
        if match := re.fullmatch(r"\| `([A-Z_]+)` \| (.+) \|", line):
            rows.append((match[1], match[2]))
        elif rows and not line.startswith("|"):
            break
    return rows


def test_readme_lists_every_code_with_its_meaning():
    assert _readme_table("### Error codes") == [(c.value, c.description) for c in ErrorCode]
    assert _readme_table("`GraphQLErrorCode` (same module)") == [(c.value, c.description) for c in GraphQLErrorCode]


# --- no code written as a string literal -------------------------------------------------------

_CODE_ARGUMENTS = {"DomainError": 0, "GatewayError": 1, "RequestError": 2}  # the code's position


def _literal_codes(path: Path) -> list[str]:
    """Where a code is written as a string: as the code argument of an error, or as `"code": "..."`."""
    found: list[int] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CODE_ARGUMENTS:
            position = _CODE_ARGUMENTS[node.func.id]
            arguments = [*node.args[position : position + 1], *(k.value for k in node.keywords if k.arg == "code")]
            found += [node.lineno for a in arguments if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "code"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    found.append(node.lineno)
        if isinstance(node, ast.ClassDef) and any(
            isinstance(b, ast.Name) and b.id.endswith("Error") for b in node.bases
        ):
            for statement in node.body:  # `code = "..."` on an error class
                if (
                    isinstance(statement, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "code" for t in statement.targets)
                    and isinstance(statement.value, ast.Constant)
                ):
                    found.append(statement.lineno)
    return [f"{path}:{line}" for line in sorted(found)]


def test_no_error_code_is_a_string_literal():
    sources = [path for package in ("gateway", "schema", "resolvers") for path in sorted((ROOT / package).glob("*.py"))]
    assert len(sources) > 40
    assert [place for path in sources for place in _literal_codes(path)] == []


def test_the_literal_scan_finds_literal_codes(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        'raise DomainError("INVALID", "m")\n'
        'raise GatewayError("m", "NOT_FOUND")\n'
        'raise RequestError(400, "m", code="BAD_REQUEST")\n'
        'body = {"extensions": {"code": "RATE_LIMITED"}}\n'
        'class Odd(GatewayError):\n    code = "ODD"\n'
        'raise DomainError(ErrorCode.INVALID, "fine")\n'
    )
    assert _literal_codes(sample) == [f"{sample}:{n}" for n in (1, 2, 3, 4, 6)]


# --- through the API ------------------------------------------------------------------------------


async def test_an_unknown_payment_provider_has_its_own_code_and_places_nothing(gql, db):
    token = await ready_cart(gql, [("AUR-L", 1)])
    before = await Order.all().count()
    payload = (await gql.data(CHECKOUT, {"t": token, "p": {"provider": "bitcoin", "token": "x"}}))["checkoutComplete"]
    assert payload["order"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["payment", "provider"], "UNKNOWN_PAYMENT_PROVIDER")
    ]
    assert await Order.all().count() == before


async def test_an_idempotency_key_reused_for_another_cart_has_its_own_code(gql, db):
    key = "reuse-" + "k" * 10
    first = await gql.data(
        CHECKOUT, {"t": await ready_cart(gql, [("AUR-L", 1)]), "p": {"provider": "manual"}, "k": key}
    )
    assert first["checkoutComplete"]["userErrors"] == []
    before = await Order.all().count()
    other = await ready_cart(gql, [("AUR-L", 1)])
    payload = (await gql.data(CHECKOUT, {"t": other, "p": {"provider": "manual"}, "k": key}))["checkoutComplete"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["idempotencyKey"], "IDEMPOTENCY_KEY_REUSED")]
    assert payload["order"] is None and await Order.all().count() == before
