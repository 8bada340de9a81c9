"""`python -m gateway …`: migrate, seed, export-schema, serve."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.settings import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schema.graphql"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gateway", description="The commerce gateway.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply migrations to DATABASE_URL")
    seed = commands.add_parser("seed", help="seed a deterministic demo catalogue (idempotent)")
    seed.add_argument("--products", type=int, default=200, help="number of products (default 200)")
    seed.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    commands.add_parser("export-schema", help="write the SDL to schema.graphql")
    commands.add_parser("serve", help="serve with uvicorn on HOST:PORT with WEB_CONCURRENCY workers")
    return parser


def schema_sdl() -> str:
    from schema import schema

    return schema.as_str() + "\n"


async def _seed(settings: Settings, products: int, seed_value: int) -> None:
    from tortoise import Tortoise

    from gateway.db import tortoise_config
    from gateway.seed import seed

    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        result = await seed(products, seed_value)
    finally:
        await Tortoise.close_connections()
    if result.created:
        print(f"seeded {result.products} products")
    else:
        print(f"already seeded ({result.products} products): nothing to do")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        from gateway.db import migrate

        asyncio.run(migrate(settings.database_url))
        print("migrations applied")
    elif args.command == "seed":
        if args.products < 0:
            print("seed: --products must not be negative", file=sys.stderr)
            return 2
        asyncio.run(_seed(settings, args.products, args.seed))
    elif args.command == "export-schema":
        SCHEMA_FILE.write_text(schema_sdl())
        print(f"wrote {SCHEMA_FILE.name}")
    elif args.command == "serve":
        import uvicorn

        uvicorn.run(
            "gateway.app:app",
            host=settings.host,
            port=settings.port,
            workers=settings.web_concurrency,
            log_level=settings.log_level.lower(),
            access_log=False,  # the gateway writes its own structured line per request
        )
    return 0
