"""Configuration is validated at start-up; a bad value stops the process with one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gateway.settings import ConfigError, load_settings
from tests.conftest import ROOT


def test_defaults():
    settings = load_settings({})
    assert settings.database_url == "sqlite://var/gateway.sqlite3"
    assert settings.port == 8000 and settings.store_currency == "EUR"
    assert settings.cache_enabled and settings.graphiql and settings.redis_url is None


def test_postgresql_scheme_is_normalised():
    assert load_settings({"DATABASE_URL": "postgresql://u:p@db:5432/shop"}).database_url == "postgres://u:p@db:5432/shop"


def test_token_lifetimes():
    assert (load_settings({}).access_token_ttl_seconds, load_settings({}).refresh_reuse_grace_seconds) == (900, 5)
    for name, value in (("ACCESS_TOKEN_TTL", "0"), ("ACCESS_TOKEN_TTL", "a day"), ("REFRESH_REUSE_GRACE", "61")):
        with pytest.raises(ConfigError, match=f"^{name}:"):
            load_settings({name: value})


@pytest.mark.parametrize("name,value", [
    ("DATABASE_URL", "mysql://x"), ("DATABASE_URL", "postgres://host:99999/db"), ("DATABASE_URL", "postgres://host/"),
    ("DATABASE_URL", "postgres://host:abc/db"), ("PORT", "eighty"), ("PORT", "0"), ("WEB_CONCURRENCY", "-1"),
    ("LOG_LEVEL", "LOUD"), ("SECRET_KEY", "too-short"), ("STORE_CURRENCY", "euro"), ("CACHE_ENABLED", "maybe"), ("REDIS_URL", "http://x"),
    ("TEST_CARD_LEDGER", str(ROOT / "tests")), ("PAYMENT_RECOVERY_AFTER", "0"), ("PAYMENT_RECOVERY_INTERVAL", "soon"),
])
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value})
    assert str(caught.value).startswith(f"{name}:") and "\n" not in str(caught.value)


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "gateway", "serve"],
    [sys.executable, "-c", "import gateway.app"],
])
@pytest.mark.parametrize("name,value", [("PORT", "abc"), ("DATABASE_URL", "nonsense")])
def test_processes_stop_with_one_line(command, name, value):
    env = {**os.environ, name: value}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and "Traceback" not in result.stderr
