"""DATABASE_URL as managed PostgreSQL services write it: both schemes, the libpq parameters people
use (sslmode, sslrootcert, application_name, connect_timeout), and one line for anything else."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest
from tortoise.backends.asyncpg import AsyncpgDBClient

from gateway.db import tortoise_config
from gateway.settings import ConfigError, load_settings
from resolvers.errors import DatabaseUnavailable
from tests.conftest import ROOT, reachable_postgres_admin

BASE = "postgres://shop:secret@db.example.com:5432/shop"


def database_url(value: str) -> str:
    return load_settings({"DATABASE_URL": value}).database_url


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_both_schemes_are_accepted(scheme):
    assert database_url(BASE.replace("postgres", scheme, 1)) == BASE


def test_the_libpq_parameters_people_use_are_accepted(tmp_path):
    ca = tmp_path / "root.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    query = f"sslmode=verify-full&sslrootcert={ca}&application_name=shop-web&connect_timeout=3"
    assert database_url(f"{BASE}?{query}") == f"{BASE}?{query}"
    credentials = tortoise_config(f"{BASE}?{query}")["connections"]["default"]["credentials"]
    assert credentials["application_name"] == "shop-web" and credentials["timeout"] == 3.0
    assert "sslmode" not in credentials and "sslrootcert" not in credentials  # not asyncpg arguments


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sslmode=require&pool=20", "DATABASE_URL: unknown parameter 'pool' (known: sslmode, sslrootcert, "),
        ("sslmode=required", "DATABASE_URL: sslmode='required': expected one of disable, allow, prefer, require, "),
        (
            "sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem",
            "DATABASE_URL: sslrootcert: no file at '/nonexistent/ca.pem'",
        ),
        ("connect_timeout=0", "DATABASE_URL: connect_timeout='0': expected whole seconds between 1 and 3600"),
        ("connect_timeout=soon", "DATABASE_URL: connect_timeout='soon': expected whole seconds between 1 and 3600"),
    ],
)
def test_anything_else_is_one_line_naming_it(query, message):
    with pytest.raises(ConfigError) as raised:
        load_settings({"DATABASE_URL": f"{BASE}?{query}"})
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


@pytest.mark.slow  # runs the gateway's command line
def test_the_command_line_refuses_an_unknown_parameter_with_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "migrate"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": f"{BASE}?sslmode=require&sslcompression=1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "configuration error: DATABASE_URL: unknown parameter 'sslcompression' "
        "(known: sslmode, sslrootcert, sslcert, sslkey, application_name, connect_timeout)"
    ]


async def client_for(url: str) -> AsyncpgDBClient:
    """Tortoise's client for the connection the gateway would configure from `url`."""
    credentials = tortoise_config(url)["connections"]["default"]["credentials"]
    client = AsyncpgDBClient(connection_name="probe", **credentials)
    await client.create_connection(with_db=True)
    return client


def _on_server(admin: str, scheme: str, query: str) -> str:
    parts = urlsplit(admin)
    return database_url(urlunsplit((scheme, parts.netloc, parts.path, query, "")))


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
async def test_a_real_server_sees_the_parameters(scheme):
    admin = await reachable_postgres_admin()
    client = await client_for(
        _on_server(admin, scheme, "sslmode=prefer&application_name=gateway-probe&connect_timeout=3")
    )
    try:
        [row] = await client.execute_query_dict(
            "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        )
        assert row["application_name"] == "gateway-probe"
    finally:
        await client.close()


async def test_sslmode_require_is_enforced():
    """`require` connects over TLS or not at all: never a silent fall back to plain text."""
    admin = await reachable_postgres_admin()
    server = await client_for(_on_server(admin, "postgres", "sslmode=disable"))
    try:
        [setting] = await server.execute_query_dict("SHOW ssl")
    finally:
        await server.close()
    if setting["ssl"] == "off":
        with pytest.raises(DatabaseUnavailable) as raised:
            await client_for(_on_server(admin, "postgres", "sslmode=require"))
        assert "rejected SSL upgrade" in str(raised.value.__cause__)
        return
    client = await client_for(_on_server(admin, "postgres", "sslmode=require"))
    try:
        [row] = await client.execute_query_dict("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert row["ssl"] is True
    finally:
        await client.close()
