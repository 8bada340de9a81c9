"""GraphQL Code Generator's TypeScript for `schema.graphql` and README's operations compiles under `tsc --strict`.

Issue 14, point 11: code generators typed `Decimal` and `DateTime` as `unknown`. Each custom scalar
now names its format with `@specifiedBy`, and `tests/codegen/generate.mjs` types it from that (a
string, for all three), with `strictScalars`: a scalar without a known specification stops the
generator. The generated types, and a client that reads amounts, currencies and expiry dates
through them as strings, must then compile strictly. Node and the packages pinned in
`tests/codegen/package-lock.json` (`make install`) are needed; without them the tests skip, or fail
under REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.cli import SCHEMA_FILE
from tests.conftest import REQUIRE_SERVICES, ROOT

pytestmark = pytest.mark.slow  # Node processes: the generator and the TypeScript compiler

CODEGEN = ROOT / "tests" / "codegen"
TSC = CODEGEN / "node_modules" / "typescript" / "bin" / "tsc"

# A client of the README's operations, through the generated types: each assignment compiles only
# if the scalar or enum it reads has the type its specification means.
CLIENT = """
import type { BrowseQuery, CurrencyCode, FollowSubscription, OrderStatus, SignInMutation } from "./operations";

export function cheapest(browse: BrowseQuery): Array<{ amount: string; currency: CurrencyCode }> {
  return (browse.products?.edges ?? []).flatMap((edge) => (edge.node.priceRange ? [edge.node.priceRange.min] : []));
}

export function variantPrices(browse: BrowseQuery): string[] {
  return (browse.products?.edges ?? []).flatMap((edge) => edge.node.variants.map((variant) => variant.price.amount));
}

export function refreshBy(signIn: SignInMutation): Date | null {
  const expiresAt: string | null | undefined = signIn.tokenCreate?.accessTokenExpiresAt;
  return expiresAt ? new Date(expiresAt) : null;
}

export function status(event: FollowSubscription): OrderStatus {
  return event.orderStatusChanged.status;
}
"""


def _node() -> str:
    node = shutil.which("node")
    reason = None
    if node is None:
        reason = "Node.js (`node`) is not installed"
    elif not TSC.is_file():
        reason = f"the Node packages are not installed: run `make install` (npm ci in {CODEGEN.relative_to(ROOT)})"
    if reason:
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return node  # type: ignore[return-value]


def _run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], cwd=CODEGEN, capture_output=True, text=True, timeout=180)


def readme_operations() -> str:
    """Every ```graphql block of README.md: the operations a reader would copy."""
    return "\n".join(re.findall(r"```graphql\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The generator's output folder (schema.ts, operations.ts) and the scalar mapping it used."""
    node = _node()
    folder = tmp_path_factory.mktemp("codegen")
    operations = folder / "readme.graphql"
    operations.write_text(readme_operations())
    result = _run(node, "generate.mjs", SCHEMA_FILE, operations, folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, json.loads(result.stdout)


def test_the_readme_shows_a_query_a_mutation_and_a_subscription():
    kinds = re.findall(r"^(query|mutation|subscription) (\w+)", readme_operations(), re.MULTILINE)
    assert {kind for kind, _ in kinds} == {"query", "mutation", "subscription"}
    assert {"Browse", "SignIn", "Follow"} <= {name for _, name in kinds}


def test_every_custom_scalar_is_typed_as_its_specification_describes(generated):
    folder, scalars = generated
    assert scalars == {"Date": "string", "DateTime": "string", "Decimal": "string", "Upload": "File | Blob"}
    declared = re.search(r"export type Scalars = \{(.*?)\n\};", (folder / "schema.ts").read_text(), re.DOTALL)
    assert declared, "schema.ts declares no Scalars"
    for name, typescript in scalars.items():
        expected = re.escape(f"  {name}: {{ input: {typescript}; output: {typescript}; }}")
        assert re.search(rf"^{expected}$", declared[1], re.MULTILINE), name
    assert not re.search(r"\b(unknown|any)\b", declared[1])


def test_the_generated_types_and_a_client_using_them_compile_strictly(generated):
    folder, _ = generated
    (folder / "client.ts").write_text(CLIENT)
    files = [folder / name for name in ("schema.ts", "operations.ts", "client.ts")]
    options = ["--strict", "--noEmit", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler"]
    result = _run(_node(), TSC, *options, *files)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


def test_a_scalar_without_a_specification_stops_the_generator(tmp_path):
    node = _node()
    schema = tmp_path / "schema.graphql"
    schema.write_text(re.sub(r"(scalar Decimal) @specifiedBy\([^)]*\)", r"\1", SCHEMA_FILE.read_text()))
    operations = tmp_path / "readme.graphql"
    operations.write_text(readme_operations())
    result = _run(node, "generate.mjs", schema, operations, tmp_path)
    assert result.returncode != 0 and "scalar Decimal" in result.stderr
