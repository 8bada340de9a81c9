"""`python -m gateway …`: migrate, seed, export-schema, create-staff, serve, recover-payments,
test-card-webhook, worker, jobs, import."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from gateway import tracing
from gateway.settings import ConfigError, Settings, configure_logging, load_settings
from models.accounts import Permission

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
    staff = commands.add_parser("create-staff", help="create a staff account, or reset one's password and permissions")
    staff.add_argument("--email", required=True)
    staff.add_argument("--password", required=True)
    staff.add_argument(
        "--permission",
        action="append",
        default=[],
        choices=[p.value for p in Permission],
        help="a permission to grant (repeatable)",
    )
    staff.add_argument("--all-permissions", action="store_true", help="grant every permission")
    commands.add_parser("serve", help="serve with uvicorn on HOST:PORT with WEB_CONCURRENCY workers")
    recover = commands.add_parser(
        "recover-payments", help="give back charges that no order holds (what the web processes do every minute)"
    )
    recover.add_argument(
        "--older-than",
        type=int,
        default=None,
        metavar="SECONDS",
        help="how long an attempt must have been left unsettled (default PAYMENT_RECOVERY_AFTER); "
        "0 only when no checkout is running",
    )
    webhook = commands.add_parser(
        "test-card-webhook",
        help="finish a test-card payment waiting for 3-D Secure (tok_requires_action): charge it in the test card's "
        "books and send the processor's signed webhook to a running gateway",
    )
    webhook.add_argument(
        "reference", help="the payment's clientSecret, or its reference at the processor (test_…, before _secret_)"
    )
    webhook.add_argument("--fail", action="store_true", help="the shopper failed 3-D Secure: nothing is charged")
    webhook.add_argument(
        "--url", default=None, help="where to send it (default PUBLIC_URL/webhooks/payments/test-card)"
    )
    worker = commands.add_parser("worker", help="run background jobs (as many processes as you like, on any host)")
    worker.add_argument(
        "--concurrency", type=int, default=4, help="jobs this process runs at once (default 4; they mostly wait)"
    )
    jobs = commands.add_parser("jobs", help="jobs that failed their last retry: list them, run one again")
    jobs_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    jobs_commands.add_parser("failed", help="list the jobs that failed their last retry")
    retry = jobs_commands.add_parser("retry", help="run a failed job again now")
    retry.add_argument("id", type=int, help="the job's id, as `jobs failed` lists it")
    imported = commands.add_parser(
        "import", help="create or update products from a CSV or JSONL file (the columns productImport reads)"
    )
    imported.add_argument("file", type=Path, help="the file; its format from its extension unless --format says")
    imported.add_argument("--format", choices=["csv", "jsonl"], default=None, help="the file's format")
    exported = commands.add_parser("export", help="write every product to a CSV or JSONL file that `import` reads")
    exported.add_argument(
        "file", type=Path, help="the file to write; its format from its extension unless --format says"
    )
    exported.add_argument("--format", choices=["csv", "jsonl"], default=None, help="the file's format")
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


async def _create_staff(settings: Settings, email: str, password: str, permissions: list[Permission]) -> int:
    from tortoise import Tortoise

    from gateway.db import close, tortoise_config
    from resolvers.accounts_admin import create_staff
    from resolvers.errors import DomainError

    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        account = await create_staff(email, password, permissions)
    except DomainError as error:
        print(f"create-staff: {error.message}", file=sys.stderr)
        return 2
    finally:
        await close()
    print(f"staff account {account.email} with {', '.join(account.permissions) or 'no permissions'}")
    return 0


async def _recover_payments(settings: Settings, older_than: int) -> int:
    from datetime import timedelta

    from tortoise import Tortoise

    from gateway import payment_providers
    from gateway.db import close, tortoise_config
    from resolvers import payments

    stripe_payments = payment_providers.install(settings)
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        settled = 0
        while batch := await payments.recover(timedelta(seconds=older_than)):
            settled += batch
    finally:
        await close()
        if stripe_payments is not None:
            await stripe_payments.close()
    print(f"{settled} payments without an order given back")
    return 0


async def _test_card_webhook(settings: Settings, reference: str, fail: bool, url: str | None) -> int:
    """What the test card's processor does when the shopper ends 3-D Secure, against the gateway
    at `url`: the same books (TEST_CARD_LEDGER) and secret (TEST_CARD_WEBHOOK_SECRET) as it."""
    import httpx
    from tortoise import Tortoise

    from gateway.db import close, tortoise_config
    from gateway.payment_providers import test_card
    from models import Payment

    reference = reference.split("_secret_")[0]  # a client secret names its payment's reference
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        payment = await Payment.filter(provider="test-card", reference=reference).order_by("-id").first()
    finally:
        await close()
    if payment is None or payment.amount is None:
        print(f"test-card-webhook: no test-card payment has the reference {reference!r}", file=sys.stderr)
        return 2
    card = test_card(settings)
    webhook = await asyncio.to_thread(
        card.finish_action, payment.reference, payment.key, payment.amount, payment.currency, not fail
    )
    target = url or f"{settings.public_url.rstrip('/')}/webhooks/payments/test-card"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(target, content=webhook.body, headers=webhook.headers)
    except httpx.HTTPError as error:
        print(f"test-card-webhook: could not reach {target}: {error}", file=sys.stderr)
        return 1
    print(f"{response.status_code} {response.text}")
    return 0 if response.status_code == 200 else 1


async def _import(settings: Settings, path: Path, content: str, file_format: str) -> int:
    """Run an import here and now, as its job would: recorded as an import (`importJob` shows it),
    a bar on a terminal, a summary and the refused rows after; 1 when any row was refused."""
    from tortoise import Tortoise

    from gateway.db import close, tortoise_config
    from gateway.progress import Bar
    from models import ImportStatus, ProductFileFormat
    from resolvers import imports

    await Tortoise.init(config=tortoise_config(settings.database_url))
    bar = Bar(sys.stderr, "rows")
    try:
        job = await imports.create_job(content, ProductFileFormat(file_format.upper()), path.name, "")
        result = await imports.run(job.id, progress=bar.update)
    finally:
        bar.close()
        await close()
    assert result is not None  # just created
    job = result.job
    for error in job.errors:
        print(f"{path.name}:{error['row']}: {error['message']}", file=sys.stderr)
    if job.failed > len(job.errors):
        print(f"… and {job.failed - len(job.errors)} more refused rows", file=sys.stderr)
    if job.status == ImportStatus.FAILED:
        print(f"import {job.id}: the file could not be read; nothing was imported", file=sys.stderr)
        return 2
    print(
        f"import {job.id}: {job.processed} rows in {result.batches} batches: {result.created} products created, "
        f"{result.updated} changed, {job.failed} rows refused"
    )
    return 1 if job.failed else 0


async def _export(settings: Settings, file_format: str) -> tuple[str, int]:
    """The whole catalogue as `productExport` writes it, and how many products it holds."""
    from tortoise import Tortoise

    from gateway.db import close, tortoise_config
    from models import ProductFileFormat
    from resolvers import imports_export
    from resolvers.catalogue import ProductFilterInput

    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        written = await imports_export.product_file(
            ProductFilterInput(include_hidden=True), ProductFileFormat(file_format.upper())
        )
    finally:
        await close()
    return written.text, written.products


def _file_format(path: Path, given: str | None) -> str:
    return given or ("jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "csv")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        tracing.requested(os.environ)  # the OTEL_* variables too, before `serve` starts workers
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
    elif args.command == "create-staff":
        permissions = list(Permission) if args.all_permissions else [Permission(p) for p in args.permission]
        return asyncio.run(_create_staff(settings, args.email, args.password, permissions))
    elif args.command == "export-schema":
        SCHEMA_FILE.write_text(schema_sdl())
        print(f"wrote {SCHEMA_FILE.name}")
    elif args.command == "recover-payments":
        older_than = settings.payment_recovery_after_seconds if args.older_than is None else args.older_than
        if older_than < 0:
            print("recover-payments: --older-than must not be negative", file=sys.stderr)
            return 2
        return asyncio.run(_recover_payments(settings, older_than))
    elif args.command == "test-card-webhook":
        return asyncio.run(_test_card_webhook(settings, args.reference, args.fail, args.url))
    elif args.command == "worker":
        if not 1 <= args.concurrency <= 100:
            print("worker: --concurrency must be between 1 and 100", file=sys.stderr)
            return 2
        from gateway import worker

        configure_logging(settings)
        return asyncio.run(worker.run(settings, args.concurrency))
    elif args.command == "jobs":
        from gateway import worker

        if args.jobs_command == "failed":
            return asyncio.run(worker.failed(settings))
        return asyncio.run(worker.retry(settings, args.id))
    elif args.command == "import":
        try:
            content = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            print(f"import: cannot read {args.file}: {error}", file=sys.stderr)
            return 2
        return asyncio.run(_import(settings, args.file, content, _file_format(args.file, args.format)))
    elif args.command == "export":
        text, products = asyncio.run(_export(settings, _file_format(args.file, args.format)))
        try:
            args.file.write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"export: cannot write {args.file}: {error}", file=sys.stderr)
            return 2
        print(f"exported {products} products to {args.file}")
    elif args.command == "serve":
        import uvicorn

        from gateway.logs import uvicorn_config

        uvicorn.run(
            "gateway.app:app",
            host=settings.host,
            port=settings.port,
            workers=settings.web_concurrency,
            log_level=settings.log_level.lower(),
            # Every line in LOG_FORMAT, the supervisor's too (it never imports the app).
            log_config=uvicorn_config(settings.log_format),
            access_log=False,  # the gateway writes its own structured line per request
        )
    return 0
