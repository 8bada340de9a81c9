"""A database for drills that run the gateway as real processes: migrated, seeded with 40
products and given one staff account, by the gateway's own commands."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

STAFF_EMAIL = "drill.staff@example.com"
STAFF_PASSWORD = "drill staff password"

# The set-up commands in one interpreter: starting Python and importing the gateway once per
# command took seconds on a busy machine.
PREPARE = f"""
from gateway.cli import main
for command in (["migrate"], ["seed", "--products", "40"], ["create-staff", "--email", "{STAFF_EMAIL}",
        "--password", "{STAFF_PASSWORD}", "--permission", "MANAGE_DISCOUNTS", "--permission", "MANAGE_INVENTORY",
        "--permission", "MANAGE_APPS"]):
    if main(command) != 0:
        raise SystemExit(command[0] + " failed")
"""


def prepare(database_url: str) -> None:
    """`python -m gateway migrate`, `seed --products 40` and `create-staff` on a new database."""
    result = subprocess.run(
        [sys.executable, "-c", PREPARE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url},
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
