"""The card processor's books against the database: charges held that no order holds.

For the fault drills, which run the gateway in worker processes on PostgreSQL: give each worker
the same `TEST_CARD_LEDGER` file, and once traffic has stopped, `await recover_payments(url,
ledger)` (the gateway's own recovery, with no bound: nothing is in flight any more), then
`failures += await unsettled_charges(url, ledger)`. Read with plain SQL, not through the gateway.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from resolvers import card_books
from tests.conftest import ROOT


async def unsettled_charges(database_url: str, ledger_path: str | Path) -> list[str]:
    """Every charge the test-card processor still holds that no order holds, in words (empty: a pass)."""
    entries = card_books.read(ledger_path)
    held = card_books.held(entries)
    if not held:
        return []
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1), timeout=10)
    try:
        ordered = {
            row["payment_reference"]
            for row in await conn.fetch(
                'SELECT payment_reference FROM "order" WHERE payment_reference = ANY($1::text[])', list(held)
            )
        }
        charges = {
            e.reference: e for e in entries if e.kind == "CHARGE" and e.reference in held and e.reference not in ordered
        }
        recorded = {
            row["key"]: row["status"]
            for row in await conn.fetch(
                "SELECT key, status FROM payment WHERE key = ANY($1::text[])", [c.key for c in charges.values()]
            )
        }
    finally:
        await conn.close()
    return [
        f"charge {reference} of {held[reference]} {charge.currency} is held by the card processor and no order holds it "
        f"(payment {charge.key}: {recorded.get(charge.key, 'not recorded')})"
        for reference, charge in charges.items()
    ]


async def recover_payments(database_url: str, ledger_path: str | Path, older_than: int = 0) -> str:
    """`python -m gateway recover-payments --older-than N` against the database and books; its output.

    `older_than=0` gives back every unsettled payment at once: only when no checkout is running.
    """
    env = {**os.environ, "DATABASE_URL": database_url, "TEST_CARD_LEDGER": str(ledger_path)}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gateway", "recover-payments", "--older-than", str(older_than)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
