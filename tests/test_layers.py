"""The layers as DESIGN.md draws them, read from the source: who may import whom, and no cycles.

Every import counts: at the top of a module, inside a function, under `TYPE_CHECKING`, and the
module a `strawberry.lazy("…")` names. An import hidden in a function is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "schema", "resolvers", "models", "loaders")
BUSINESS = ("schema", "resolvers", "loaders")
# The gateway's infrastructure: transport, caching, events, limits. It serves any schema and
# knows no domain (the composition root, gateway/app.py, and the entry points may).
INFRASTRUCTURE = (
    "gateway.breaker",
    "gateway.cache",
    "gateway.cache_http",
    "gateway.cache_keys",
    "gateway.cache_local",
    "gateway.cache_redis",
    "gateway.cache_stats",
    "gateway.db_identity",
    "gateway.disconnect",
    "gateway.events",
    "gateway.graphql_http",
    "gateway.job_retry",
    "gateway.job_stats",
    "gateway.logs",
    "gateway.mail",
    "gateway.metrics",
    "gateway.metrics_dir",
    "gateway.metrics_process",
    "gateway.periodic",
    "gateway.persisted",
    "gateway.ratelimit",
    "gateway.sessions",
    "gateway.tracing",
    "gateway.otel",
    "gateway.otel_spans",
    "gateway.websocket_stats",
)


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


MODULES = _modules()


def _owner(target: str) -> str | None:
    """The project module `target` names (`models.Account` is in `models`), or None."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from schema import orders` imports the submodule; `from models import Account` the package.
            submodules = [f"{node.module}.{alias.name}" for alias in node.names]
            targets = [name for name in submodules if name in MODULES]
            if len(targets) < len(submodules):
                targets.append(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "lazy"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            targets = [node.args[0].value]
        found.update(owner for owner in map(_owner, targets) if owner is not None)
    return found


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in GRAPH[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    return cycles


def _layer(module: str) -> str:
    return module.partition(".")[0]


def test_no_module_imports_itself_back_through_others():
    assert _cycles() == []


def test_models_import_nothing_of_the_project():
    wrong = {m: sorted(t for t in GRAPH[m] if _layer(t) != "models") for m in MODULES if _layer(m) == "models"}
    assert {m: t for m, t in wrong.items() if t} == {}


def test_resolvers_and_loaders_never_import_the_schema_or_the_gateway():
    below = [m for m in MODULES if _layer(m) in ("resolvers", "loaders")]
    wrong = {m: sorted(t for t in GRAPH[m] if _layer(t) in ("schema", "gateway")) for m in below}
    assert {m: t for m, t in wrong.items() if t} == {}


def test_the_gateways_infrastructure_knows_no_domain():
    assert set(INFRASTRUCTURE) <= set(MODULES)
    wrong = {m: sorted(t for t in GRAPH[m] if _layer(t) in BUSINESS) for m in INFRASTRUCTURE}
    assert {m: t for m, t in wrong.items() if t} == {}


def test_the_graph_sees_imports_inside_functions_and_lazy_types(tmp_path: Path):
    # The checks above are only as good as the graph: hidden imports must be in it.
    source = tmp_path / "hidden.py"
    source.write_text(
        "from typing import TYPE_CHECKING, Annotated\n"
        "import strawberry\n"
        "if TYPE_CHECKING:\n"
        "    from schema.cart import Cart\n"
        "def orders() -> Annotated['OrderConnection', strawberry.lazy('schema.orders')]:\n"
        "    from resolvers import orders\n"
        "    from models import Account\n"
    )
    assert _imports(source) == {"schema.cart", "schema.orders", "resolvers.orders", "models"}
    assert "schema" in GRAPH["gateway.cli"]  # `from schema import schema` inside a command
