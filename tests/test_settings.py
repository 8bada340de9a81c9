"""Configuration is validated at start-up; a bad value stops the process with one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import fields

import pytest

from gateway.settings import SETTING, ConfigError, Settings, load_settings
from tests.conftest import ROOT


def test_defaults():
    settings = load_settings({})
    assert settings.database_url == "sqlite://var/gateway.sqlite3"
    assert settings.port == 8000 and settings.store_currency == "EUR"
    assert settings.cache_enabled and settings.graphiql and settings.redis_url is None


def _readme_defaults() -> dict[str, str]:
    """Variable -> its default as README's configuration table writes it. A row may pair
    variables: `A` / `B` with `x` / `y`."""
    section = (ROOT / "README.md").read_text().split("\n## Configuration\n", 1)[1].split("\n#", 1)[0]
    defaults: dict[str, str] = {}
    for row in (line for line in section.splitlines() if line.startswith("| `")):
        names_cell, default_cell = (cell.strip() for cell in row.strip("|").split("|")[:2])
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", names_cell)
        values = [value.strip() for value in default_cell.split(" / ")]
        assert len(names) == len(values), f"README row with {len(names)} variables and {len(values)} defaults: {row}"
        for name, value in zip(names, values, strict=True):
            assert name not in defaults, f"{name} has two rows in README's configuration table"
            defaults[name] = value
    return defaults


def test_the_readme_lists_every_setting_with_its_default_and_nothing_else():
    specs = [item.metadata[SETTING] for item in fields(Settings)]
    expected = {spec.env: f"`{spec.default}`" if spec.default else "unset" for spec in specs}
    assert _readme_defaults() == expected


def test_an_empty_variable_counts_as_unset():
    names = [item.metadata[SETTING].env for item in fields(Settings)]
    assert load_settings(dict.fromkeys(names, "")) == load_settings({}) == Settings()


def test_postgresql_scheme_is_normalised():
    assert (
        load_settings({"DATABASE_URL": "postgresql://u:p@db:5432/shop"}).database_url == "postgres://u:p@db:5432/shop"
    )


def test_token_lifetimes():
    assert (load_settings({}).access_token_ttl_seconds, load_settings({}).refresh_reuse_grace_seconds) == (900, 5)
    for name, value in (("ACCESS_TOKEN_TTL", "0"), ("ACCESS_TOKEN_TTL", "a day"), ("REFRESH_REUSE_GRACE", "61")):
        with pytest.raises(ConfigError, match=f"^{name}:"):
            load_settings({name: value})


@pytest.mark.parametrize(
    "name,value",
    [
        ("DATABASE_URL", "mysql://x"),
        ("DATABASE_URL", "postgres://host:99999/db"),
        ("DATABASE_URL", "postgres://host/"),
        ("DATABASE_URL", "postgres://host:abc/db"),
        ("PORT", "eighty"),
        ("PORT", "0"),
        ("WEB_CONCURRENCY", "-1"),
        ("LOG_LEVEL", "LOUD"),
        ("SECRET_KEY", "too-short"),
        ("STORE_CURRENCY", "euro"),
        ("CACHE_ENABLED", "maybe"),
        ("REDIS_URL", "http://x"),
        ("TEST_CARD_LEDGER", str(ROOT / "tests")),
        ("PAYMENT_RECOVERY_AFTER", "0"),
        ("PAYMENT_RECOVERY_INTERVAL", "soon"),
        ("CORS_ALLOWED_HEADERS", "content-type,x shop"),
        ("EMAIL_URL", "http://mail.example.com"),
        ("EMAIL_URL", "smtp://"),
        ("EMAIL_URL", "smtp://mail.example.com:abc"),
        ("EMAIL_URL", "smtp://mail.example.com?tls=1"),
        ("EMAIL_FROM", "the shop"),
        ("EMAIL_TEMPLATES_DIR", str(ROOT / "no-such-directory")),
        ("PUBLIC_URL", "api.shop.example"),
        ("PUBLIC_URL", "ftp://api.shop.example"),
        ("PUBLIC_URL", "https://api.shop.example/?shop=1"),
        ("CART_TTL_DAYS", "0"),
        ("CART_TTL_DAYS", "366"),
        ("CART_TTL_DAYS", "a month"),
        ("WEBHOOK_LOG_RETENTION_DAYS", "0"),
        ("WEBHOOK_LOG_RETENTION_DAYS", "-3"),
        ("STRIPE_API_KEY", "pk_test_publishable"),
        ("STRIPE_API_KEY", "sk_test_with space"),
        ("STRIPE_API_BASE", "api.stripe.com"),
        ("STRIPE_API_BASE", "https://api.stripe.com/v1"),
        ("STRIPE_CAPTURE", "later"),
    ],
)
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value})
    assert str(caught.value).startswith(f"{name}:") and "\n" not in str(caught.value)


def test_stripe_settings():
    key, secret = "sk_test_51Abc_def", "whsec_0123abc"
    settings = load_settings({"STRIPE_API_KEY": key, "STRIPE_WEBHOOK_SECRET": secret, "STRIPE_CAPTURE": "manual"})
    assert (settings.stripe_api_key, settings.stripe_webhook_secret) == (key, secret)
    assert (settings.stripe_api_base, settings.stripe_capture) == ("https://api.stripe.com", "manual")
    assert load_settings({"STRIPE_API_BASE": "http://127.0.0.1:8420/"}).stripe_api_base == "http://127.0.0.1:8420"
    # Secrets stay out of anything that prints the settings, and out of the messages refusing them.
    assert key not in repr(settings) and secret not in repr(settings)
    with pytest.raises(ConfigError) as caught:
        load_settings({"STRIPE_API_KEY": "pk_live_secretish"})
    assert "secretish" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"^STRIPE_WEBHOOK_SECRET:"):
        load_settings({"STRIPE_API_KEY": key, "STRIPE_WEBHOOK_SECRET": "not-a-signing-secret"})
    with pytest.raises(ConfigError, match=r"^STRIPE_WEBHOOK_SECRET: only used with STRIPE_API_KEY"):
        load_settings({"STRIPE_WEBHOOK_SECRET": secret})


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "gateway", "serve"],
        [sys.executable, "-c", "import gateway.app"],
    ],
)
@pytest.mark.slow  # gateway processes
@pytest.mark.parametrize(
    "name,value", [("PORT", "abc"), ("DATABASE_URL", "nonsense"), ("OTEL_TRACES_EXPORTER", "jaegerish")]
)
def test_processes_stop_with_one_line(command, name, value):
    env = {**os.environ, name: value}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and "Traceback" not in result.stderr
