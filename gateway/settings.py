"""Configuration read once from the environment and validated before anything starts.

A bad value raises `ConfigError` whose message is one line naming the variable; the entry points
turn it into that single line on stderr and a non-zero exit instead of a traceback.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gateway import persisted
from resolvers.card_books import DEFAULT_PATH as DEFAULT_TEST_CARD_LEDGER

# An address or CIDR block (TRUSTED_PROXIES), as `ipaddress.ip_network` parses it.
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


DEFAULT_DATABASE_URL = "sqlite://var/gateway.sqlite3"
# Good enough to sign tokens on a laptop; production sets SECRET_KEY (HS256 wants >= 32 bytes).
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-set-SECRET_KEY-in-production"
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    secret_key: str
    host: str
    port: int
    web_concurrency: int
    log_level: str
    store_currency: str
    cache_enabled: bool
    graphiql: bool
    max_query_depth: int = 15
    max_query_aliases: int = 30
    max_query_tokens: int = 5000
    max_query_cost: int = 5000
    max_body_bytes: int = 100_000
    introspection: bool = True
    cors_origins: tuple[str, ...] = ()
    websocket_origins: tuple[str, ...] = ()
    rate_limit_per_second: float = 20.0
    rate_limit_burst: int = 200
    login_attempts_per_minute: int = 10
    access_token_ttl_seconds: int = 900
    refresh_reuse_grace_seconds: int = 5
    trusted_proxies: tuple[Network, ...] = ()
    prices_include_tax: bool = True
    max_line_quantity: int = 99
    # The test-card processor's books, shared by every worker (a file outside the database).
    test_card_ledger: str = DEFAULT_TEST_CARD_LEDGER
    # A payment attempt left unsettled this long belongs to a dead process: what it charged is given back.
    payment_recovery_after_seconds: int = 120
    payment_recovery_interval_seconds: int = 60
    ws_max_subscriptions: int = 20
    ws_init_timeout_seconds: int = 10
    subscription_queue_size: int = 100
    # Every Redis connect and reply waits at most this long; after a failure Redis is left alone
    # (calls take their fallback at once) for the breaker's interval, then tried again.
    redis_timeout_ms: int = 500
    redis_breaker_seconds: int = 2
    carrier_secrets: dict[str, str] = field(default_factory=dict)
    carrier_signature_header: str = "x-signature"
    # Persisted queries: "apq", "allowlist" (documents of `persisted_manifest` only) or "off".
    persisted_queries: str = persisted.APQ
    persisted_manifest: Mapping[str, str] | None = None
    persisted_cache_size: int = 1000
    cache_ttl_seconds: int = 300
    cache_max_bytes: int = 64 * 1024 * 1024
    cache_lock_timeout_ms: int = 2000
    cache_max_age_seconds: int = 5
    cache_stale_while_revalidate_seconds: int = 30
    # Seconds PostgreSQL lets one statement run before cancelling it; 0: no limit.
    database_statement_timeout: float = 5.0

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))


def _database_url(value: str) -> str:
    if value.startswith("sqlite://"):
        if value == "sqlite://":
            raise ConfigError("DATABASE_URL: sqlite:// needs a file path, e.g. sqlite://var/gateway.sqlite3")
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ConfigError(
            f"DATABASE_URL: expected sqlite://PATH or postgres://USER:PASS@HOST:PORT/DB, got {value!r}"
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"DATABASE_URL: the port in {value!r} is not a number") from None
    if not parts.hostname or not parts.path.strip("/"):
        raise ConfigError(f"DATABASE_URL: a PostgreSQL URL needs a host and a database name, got {value!r}")
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"DATABASE_URL: port {port} is out of range")
    # Tortoise only knows the "postgres" scheme.
    return "postgres://" + value.split("://", 1)[1]


def _redis_url(value: str) -> str | None:
    if not value:
        return None
    if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"REDIS_URL: expected redis://HOST:PORT/DB, got {value!r}")
    return value


def _int(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number between {low} and {high}, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name}: expected a whole number between {low} and {high}, got {number}")
    return number


def _seconds(name: str, value: str, high: float) -> float:
    """A duration in seconds, fractions allowed (`0.5`); 0 means no limit."""
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{name}: expected a number of seconds between 0 and {high:g}, got {value!r}") from None
    # NaN fails both comparisons; under a millisecond would round to PostgreSQL's "no limit".
    if not 0 <= seconds <= high or 0 < seconds < 0.001:
        raise ConfigError(f"{name}: expected a number of seconds between 0 and {high:g} (0: no limit), got {value!r}")
    return seconds


def _bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name}: expected 1/0, true/false, yes/no or on/off, got {value!r}")


def _secret_key(value: str) -> str:
    if not value:
        return DEVELOPMENT_SECRET_KEY
    if len(value.encode()) < 32:
        raise ConfigError(f"SECRET_KEY: must be at least 32 bytes long, got {len(value.encode())}")
    return value


def _origins(name: str, value: str) -> tuple[str, ...]:
    """A comma-separated allow-list of origins such as https://shop.example.com (or `*`)."""
    origins = tuple(part.strip().rstrip("/") for part in value.split(",") if part.strip())
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
            raise ConfigError(f"{name}: expected origins like https://shop.example.com, got {origin!r}")
    return origins


def _networks(name: str, value: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR blocks of the proxies in front of the gateway."""
    networks: list[Network] = []
    for part in (p.strip() for p in value.split(",") if p.strip()):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"{name}: {part!r} is not an IP address or CIDR block") from None
    return tuple(networks)


def _carrier_secrets(value: str) -> dict[str, str]:
    """`dhl=secret1,ups=secret2`: the HMAC key each carrier signs its webhooks with."""
    secrets: dict[str, str] = {}
    for part in (p.strip() for p in value.split(",") if p.strip()):
        carrier, _, secret = part.partition("=")
        carrier = carrier.strip().lower()
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,49}", carrier) or not secret.strip():
            raise ConfigError(f"CARRIER_WEBHOOK_SECRETS: expected carrier=secret pairs separated by commas, got {part.split('=')[0]!r}=…")
        if len(secret.strip().encode()) < 16:
            raise ConfigError(f"CARRIER_WEBHOOK_SECRETS: the secret for {carrier} must be at least 16 bytes long")
        secrets[carrier] = secret.strip()
    return secrets


def _file(name: str, value: str) -> str:
    """The path of a file the gateway writes (its directory is made when first needed)."""
    if "\x00" in value or os.path.isdir(value):
        raise ConfigError(f"{name}: expected the path of a file, got {value!r}")
    return value


def _header_name(name: str, value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", value):
        raise ConfigError(f"{name}: expected an HTTP header name such as X-Signature, got {value!r}")
    return value.lower()
def _persisted_queries(env: Mapping[str, str]) -> tuple[str, Mapping[str, str] | None]:
    """The persisted query mode and, in allow-list mode, the manifest's documents by hash."""
    mode = (env.get("PERSISTED_QUERIES") or persisted.APQ).strip().lower()
    if mode not in persisted.MODES:
        raise ConfigError(f"PERSISTED_QUERIES: expected one of {', '.join(persisted.MODES)}, got {env['PERSISTED_QUERIES']!r}")
    path = env.get("PERSISTED_QUERIES_MANIFEST", "").strip()
    if mode != persisted.ALLOWLIST:
        if path:
            raise ConfigError(f"PERSISTED_QUERIES_MANIFEST: only used with PERSISTED_QUERIES=allowlist, which is {mode!r}")
        return mode, None
    if not path:
        raise ConfigError("PERSISTED_QUERIES_MANIFEST: PERSISTED_QUERIES=allowlist needs the path of a persisted query manifest")
    try:
        # Read now, so a bad manifest stops start-up rather than refusing every request later.
        return mode, persisted.load_manifest(path)
    except ValueError as error:
        raise ConfigError(f"PERSISTED_QUERIES_MANIFEST: {error}") from None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raises ConfigError on the first bad one."""
    env = os.environ if env is None else env
    log_level = env.get("LOG_LEVEL", "INFO").upper()
    if log_level not in _LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL: expected one of {', '.join(_LOG_LEVELS)}, got {env['LOG_LEVEL']!r}")
    currency = env.get("STORE_CURRENCY", "EUR")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ConfigError(f"STORE_CURRENCY: expected an ISO 4217 code such as EUR, got {currency!r}")
    persisted_queries, persisted_manifest = _persisted_queries(env)
    return Settings(
        database_url=_database_url(env.get("DATABASE_URL") or DEFAULT_DATABASE_URL),
        redis_url=_redis_url(env.get("REDIS_URL", "")),
        secret_key=_secret_key(env.get("SECRET_KEY", "")),
        host=env.get("HOST") or "127.0.0.1",
        port=_int("PORT", env.get("PORT") or "8000", 1, 65535),
        web_concurrency=_int("WEB_CONCURRENCY", env.get("WEB_CONCURRENCY") or "1", 1, 64),
        log_level=log_level,
        store_currency=currency,
        cache_enabled=_bool("CACHE_ENABLED", env.get("CACHE_ENABLED", "1")),
        graphiql=_bool("GRAPHIQL", env.get("GRAPHIQL", "1")),
        max_query_depth=_int("MAX_QUERY_DEPTH", env.get("MAX_QUERY_DEPTH") or "15", 1, 1000),
        max_query_aliases=_int("MAX_QUERY_ALIASES", env.get("MAX_QUERY_ALIASES") or "30", 0, 10_000),
        max_query_tokens=_int("MAX_QUERY_TOKENS", env.get("MAX_QUERY_TOKENS") or "5000", 100, 1_000_000),
        max_query_cost=_int("MAX_QUERY_COST", env.get("MAX_QUERY_COST") or "5000", 1, 10_000_000),
        max_body_bytes=_int("MAX_BODY_BYTES", env.get("MAX_BODY_BYTES") or "100000", 1024, 100_000_000),
        introspection=_bool("INTROSPECTION", env.get("INTROSPECTION", "1")),
        cors_origins=_origins("CORS_ALLOWED_ORIGINS", env.get("CORS_ALLOWED_ORIGINS", "")),
        websocket_origins=_origins("WS_ALLOWED_ORIGINS", env.get("WS_ALLOWED_ORIGINS", "")),
        rate_limit_per_second=float(_int("RATE_LIMIT_PER_SECOND", env.get("RATE_LIMIT_PER_SECOND") or "20", 0, 1_000_000)),
        rate_limit_burst=_int("RATE_LIMIT_BURST", env.get("RATE_LIMIT_BURST") or "200", 1, 1_000_000),
        login_attempts_per_minute=_int("LOGIN_ATTEMPTS_PER_MINUTE", env.get("LOGIN_ATTEMPTS_PER_MINUTE") or "10", 1, 10_000),
        access_token_ttl_seconds=_int("ACCESS_TOKEN_TTL", env.get("ACCESS_TOKEN_TTL") or "900", 1, 86_400),
        refresh_reuse_grace_seconds=_int("REFRESH_REUSE_GRACE", env.get("REFRESH_REUSE_GRACE") or "5", 0, 60),
        trusted_proxies=_networks("TRUSTED_PROXIES", env.get("TRUSTED_PROXIES", "")),
        prices_include_tax=_bool("PRICES_INCLUDE_TAX", env.get("PRICES_INCLUDE_TAX", "1")),
        max_line_quantity=_int("MAX_LINE_QUANTITY", env.get("MAX_LINE_QUANTITY") or "99", 1, 1_000_000),
        test_card_ledger=_file("TEST_CARD_LEDGER", env.get("TEST_CARD_LEDGER") or DEFAULT_TEST_CARD_LEDGER),
        payment_recovery_after_seconds=_int("PAYMENT_RECOVERY_AFTER", env.get("PAYMENT_RECOVERY_AFTER") or "120", 1, 86_400),
        payment_recovery_interval_seconds=_int(
            "PAYMENT_RECOVERY_INTERVAL", env.get("PAYMENT_RECOVERY_INTERVAL") or "60", 1, 86_400),
        ws_max_subscriptions=_int("WS_MAX_SUBSCRIPTIONS", env.get("WS_MAX_SUBSCRIPTIONS") or "20", 1, 10_000),
        ws_init_timeout_seconds=_int("WS_INIT_TIMEOUT", env.get("WS_INIT_TIMEOUT") or "10", 1, 3600),
        subscription_queue_size=_int("SUBSCRIPTION_QUEUE_SIZE", env.get("SUBSCRIPTION_QUEUE_SIZE") or "100", 1, 100_000),
        redis_timeout_ms=_int("REDIS_TIMEOUT_MS", env.get("REDIS_TIMEOUT_MS") or "500", 10, 60_000),
        redis_breaker_seconds=_int("REDIS_BREAKER_SECONDS", env.get("REDIS_BREAKER_SECONDS") or "2", 1, 3600),
        carrier_secrets=_carrier_secrets(env.get("CARRIER_WEBHOOK_SECRETS", "")),
        carrier_signature_header=_header_name("CARRIER_SIGNATURE_HEADER", env.get("CARRIER_SIGNATURE_HEADER") or "X-Signature"),
        persisted_queries=persisted_queries,
        persisted_manifest=persisted_manifest,
        persisted_cache_size=_int("PERSISTED_QUERIES_CACHE_SIZE", env.get("PERSISTED_QUERIES_CACHE_SIZE") or "1000", 1, 1_000_000),
        cache_ttl_seconds=_int("CACHE_TTL", env.get("CACHE_TTL") or "300", 1, 86_400),
        cache_max_bytes=_int("CACHE_MAX_BYTES", env.get("CACHE_MAX_BYTES") or str(64 * 1024 * 1024), 0, 64 * 1024**3),
        cache_lock_timeout_ms=_int("CACHE_LOCK_TIMEOUT_MS", env.get("CACHE_LOCK_TIMEOUT_MS") or "2000", 0, 60_000),
        cache_max_age_seconds=_int("CACHE_MAX_AGE", env.get("CACHE_MAX_AGE") or "5", 0, 86_400),
        cache_stale_while_revalidate_seconds=_int(
            "CACHE_STALE_WHILE_REVALIDATE", env.get("CACHE_STALE_WHILE_REVALIDATE") or "30", 0, 86_400),
        database_statement_timeout=_seconds("DATABASE_STATEMENT_TIMEOUT", env.get("DATABASE_STATEMENT_TIMEOUT") or "5", 3600),
    )


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(message)s")
