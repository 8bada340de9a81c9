"""Configuration read once from the environment and validated before anything starts.

A bad value raises `ConfigError` whose message is one line naming the variable; the entry points
turn it into that single line on stderr and a non-zero exit instead of a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from email.utils import parseaddr
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from gateway import logs, mail, persisted, postgres_url
from resolvers import account_tokens, catalogue_sitemap
from resolvers.card_books import DEFAULT_PATH as DEFAULT_TEST_CARD_LEDGER
from resolvers.currencies import CURRENCIES
from resolvers.payments import DEVELOPMENT_WEBHOOK_SECRET

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
T = TypeVar("T")


def _database_url(value: str) -> str:
    if value.startswith("sqlite://"):
        if value == "sqlite://":
            raise ConfigError("DATABASE_URL: sqlite:// needs a file path, e.g. sqlite://var/gateway.sqlite3")
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ConfigError(f"DATABASE_URL: expected sqlite://PATH or postgres://USER:PASS@HOST:PORT/DB, got {value!r}")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"DATABASE_URL: the port in {value!r} is not a number") from None
    if not parts.hostname or not parts.path.strip("/"):
        raise ConfigError(f"DATABASE_URL: a PostgreSQL URL needs a host and a database name, got {value!r}")
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"DATABASE_URL: port {port} is out of range")
    try:
        postgres_url.parameters(parts.query)
    except ValueError as error:
        raise ConfigError(f"DATABASE_URL: {error}") from None
    # One spelling from here on (both are libpq's; Tortoise knows both, gateway/db.py checks this one).
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
            raise ConfigError(
                f"CARRIER_WEBHOOK_SECRETS: expected carrier=secret pairs separated by commas, got {part.split('=')[0]!r}=…"
            )
        if len(secret.strip().encode()) < 16:
            raise ConfigError(f"CARRIER_WEBHOOK_SECRETS: the secret for {carrier} must be at least 16 bytes long")
        secrets[carrier] = secret.strip()
    return secrets


def _file(name: str, value: str) -> str:
    """The path of a file the gateway writes (its directory is made when first needed)."""
    if "\x00" in value or os.path.isdir(value):
        raise ConfigError(f"{name}: expected the path of a file, got {value!r}")
    return value


# Request headers a browser may send cross-origin: the gateway's own, then W3C trace context and
# baggage, Sentry's and Apollo's client identification, which common clients add to every request.
DEFAULT_CORS_HEADERS = (
    "authorization,content-type,x-request-id,traceparent,tracestate,baggage,sentry-trace,"
    "apollographql-client-name,apollographql-client-version"
)
_HEADER_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")


def _header_names(name: str, value: str) -> tuple[str, ...]:
    """A comma-separated list of request header names (or `*`: whatever the browser asks for)."""
    names = tuple(part.strip().lower() for part in value.split(",") if part.strip())
    for header in names:
        if header != "*" and not _HEADER_TOKEN.fullmatch(header):
            raise ConfigError(f"{name}: expected header names such as traceparent, got {header!r}")
    return names


def _header_name(name: str, value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", value):
        raise ConfigError(f"{name}: expected an HTTP header name such as X-Signature, got {value!r}")
    return value.lower()


@dataclass(frozen=True)
class Setting:
    """How one field of `Settings` is read: its environment variable, its default written as that
    variable would be ("" for unset) and the parser that turns a value into the field's.

    The one place each default is written: `load_settings` reads through it, the dataclass default
    is the parsed default, and tests/test_settings.py checks README's configuration table against it.
    """

    env: str
    default: str
    # (variable name, text) -> value, raising ConfigError; None: read by `load_settings` itself.
    parse: Callable[[str, str], Any] | None


SETTING = "setting"  # the key of a field's `Setting` in its dataclass metadata


def setting(env: str, default: str, parse: Callable[[str, str], T], *, secret: bool = False) -> T:
    """A `Settings` field read from `env`: unset or empty, the variable counts as `default`.
    A `secret` one stays out of the settings' repr, so no log or traceback shows it."""
    spec = Setting(env, default, parse)
    value = parse(env, default)
    if value.__class__.__hash__ is None:  # a dict: dataclasses want a factory for mutable defaults
        return field(default_factory=lambda: parse(env, default), metadata={SETTING: spec}, repr=not secret)
    return field(default=value, metadata={SETTING: spec}, repr=not secret)


def _joint(env: str, default: str, value: T) -> T:
    """A field read together with another by `load_settings` (the persisted query pair)."""
    return field(default=value, metadata={SETTING: Setting(env, default, None)})


def _text(name: str, value: str) -> str:
    return value


def _webhook_secret(name: str, value: str) -> str:
    if len(value) < 16 or len(value) > 256 or not value.isprintable():
        raise ConfigError(f"{name}: expected 16 to 256 printable characters")
    return value


def _whole(low: int, high: int) -> Callable[[str, str], int]:
    """A parser of whole numbers between `low` and `high`."""
    return lambda name, value: _int(name, value, low, high)


def _log_level(name: str, value: str) -> str:
    if value.upper() not in _LOG_LEVELS:
        raise ConfigError(f"{name}: expected one of {', '.join(_LOG_LEVELS)}, got {value!r}")
    return value.upper()


def _log_format(name: str, value: str) -> str:
    if value.strip().lower() not in logs.FORMATS:
        raise ConfigError(f"{name}: expected one of {', '.join(logs.FORMATS)}, got {value!r}")
    return value.strip().lower()


def _currency(name: str, value: str) -> str:
    # The list `Money.currency` publishes as the CurrencyCode enum: a code outside it could not be shown.
    if value not in CURRENCIES:
        raise ConfigError(f"{name}: expected an active ISO 4217 currency code such as EUR, got {value!r}")
    return value


def _rate(name: str, value: str) -> float:
    return float(_int(name, value, 0, 1_000_000))


def _points_per_second(name: str, value: str) -> float:
    return float(_int(name, value, 0, 100_000_000))


def _timeout(name: str, value: str) -> float:
    return _seconds(name, value, 3600)


def _email_url(name: str, value: str) -> str | None:
    if not value:
        return None
    try:
        mail.SmtpServer.parse(value)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None
    return value


def _email_from(name: str, value: str) -> str:
    """`shop@example.com` or `Example Shop <shop@example.com>`."""
    _, address = parseaddr(value)
    if "@" not in address or "\n" in value or "\r" in value:
        raise ConfigError(f"{name}: expected an address such as Shop <shop@example.com>, got {value!r}")
    return value


def _public_url(name: str, value: str) -> str:
    """Where clients reach the gateway, such as https://api.shop.example (a path prefix allowed)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{name}: expected the gateway's address such as https://api.shop.example, got {value!r}")
    return value.rstrip("/")


def _stripe_api_key(name: str, value: str) -> str | None:
    if not value:
        return None
    # Never quoted back: the message must not carry the key into a log.
    if not re.fullmatch(r"(sk|rk)_(test|live)_[A-Za-z0-9_]+", value):
        raise ConfigError(f"{name}: expected a Stripe secret key (sk_live_…, sk_test_…) or restricted key (rk_…)")
    return value


def _stripe_webhook_secret(name: str, value: str) -> str:
    if value and not re.fullmatch(r"whsec_[A-Za-z0-9_]+", value):
        raise ConfigError(f"{name}: expected the signing secret of a Stripe webhook endpoint (whsec_…)")
    return value


def _stripe_api_base(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query:
        raise ConfigError(f"{name}: expected a server address such as https://api.stripe.com, got {value!r}")
    return value.rstrip("/")


def _stripe_capture(name: str, value: str) -> Literal["automatic", "manual"]:
    if value == "automatic":
        return "automatic"
    if value == "manual":
        return "manual"
    raise ConfigError(f"{name}: expected automatic or manual, got {value!r}")


def _directory(name: str, value: str) -> str | None:
    if not value:
        return None
    if not os.path.isdir(value):
        raise ConfigError(f"{name}: {value!r} is not a directory")
    return value


def _media_storage_url(name: str, value: str) -> str:
    """`s3://bucket/prefix`, or a directory for the files (`file://` optional), made when first needed."""
    parts = urlsplit(value)
    if parts.scheme == "s3":
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", parts.netloc) or parts.query or parts.fragment:
            raise ConfigError(f"{name}: expected s3://BUCKET/PREFIX with a valid bucket name, got {value!r}")
        return value
    path = value.removeprefix("file://")
    if parts.scheme not in ("", "file") or not path or "\x00" in path or os.path.isfile(path):
        raise ConfigError(f"{name}: expected a directory such as var/media or s3://BUCKET/PREFIX, got {value!r}")
    return value


def _optional_public_url(name: str, value: str) -> str | None:
    return _public_url(name, value) if value else None


def _storefront_urls(name: str, value: str) -> tuple[str, ...]:
    try:
        return account_tokens.storefronts(value)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


def _url_template(name: str, value: str) -> str:
    try:
        return catalogue_sitemap.url_template(value.strip())
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


def _change_kind(name: str, value: str) -> str:
    if value and not re.fullmatch(r"[a-z_]{1,32}", value):
        raise ConfigError(f"{name}: expected the kind of a change such as catalogue or order, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = setting("DATABASE_URL", DEFAULT_DATABASE_URL, lambda name, value: _database_url(value))
    redis_url: str | None = setting("REDIS_URL", "", lambda name, value: _redis_url(value))
    secret_key: str = setting("SECRET_KEY", "", lambda name, value: _secret_key(value))
    host: str = setting("HOST", "127.0.0.1", _text)
    port: int = setting("PORT", "8000", _whole(1, 65535))
    web_concurrency: int = setting("WEB_CONCURRENCY", "1", _whole(1, 64))
    log_level: str = setting("LOG_LEVEL", "INFO", _log_level)
    # One JSON object per line for log collectors, or `text` for a person at a terminal.
    log_format: str = setting("LOG_FORMAT", "json", _log_format)
    store_currency: str = setting("STORE_CURRENCY", "EUR", _currency)
    cache_enabled: bool = setting("CACHE_ENABLED", "1", _bool)
    graphiql: bool = setting("GRAPHIQL", "1", _bool)
    max_query_depth: int = setting("MAX_QUERY_DEPTH", "15", _whole(1, 1000))
    max_query_aliases: int = setting("MAX_QUERY_ALIASES", "30", _whole(0, 10_000))
    max_query_tokens: int = setting("MAX_QUERY_TOKENS", "5000", _whole(100, 1_000_000))
    max_query_cost: int = setting("MAX_QUERY_COST", "5000", _whole(1, 10_000_000))
    max_body_bytes: int = setting("MAX_BODY_BYTES", "100000", _whole(1024, 100_000_000))
    # A multipart request (files sent with a mutation by staff): its whole body, files included.
    # Over it, 413 before the body is read (declared) or as soon as it passes it (streamed).
    upload_max_bytes: int = setting("UPLOAD_MAX_BYTES", str(20 * 1024 * 1024), _whole(1024, 10 * 1024**3))
    introspection: bool = setting("INTROSPECTION", "1", _bool)
    cors_origins: tuple[str, ...] = setting("CORS_ALLOWED_ORIGINS", "", _origins)
    cors_headers: tuple[str, ...] = setting("CORS_ALLOWED_HEADERS", DEFAULT_CORS_HEADERS, _header_names)
    websocket_origins: tuple[str, ...] = setting("WS_ALLOWED_ORIGINS", "", _origins)
    rate_limit_per_second: float = setting("RATE_LIMIT_PER_SECOND", "20", _rate)
    rate_limit_burst: int = setting("RATE_LIMIT_BURST", "200", _whole(1, 1_000_000))
    # Cost-based limiting (Shopify's calculated query cost): each client's operations draw their
    # cost from a bucket of this many points, refilled at this many a second; 0: off.
    query_cost_restore_rate: float = setting("QUERY_COST_RESTORE_RATE", "0", _points_per_second)
    query_cost_bucket_size: int = setting("QUERY_COST_BUCKET_SIZE", "10000", _whole(1, 100_000_000))
    login_attempts_per_minute: int = setting("LOGIN_ATTEMPTS_PER_MINUTE", "10", _whole(1, 10_000))
    access_token_ttl_seconds: int = setting("ACCESS_TOKEN_TTL", "900", _whole(1, 86_400))
    refresh_reuse_grace_seconds: int = setting("REFRESH_REUSE_GRACE", "5", _whole(0, 60))
    trusted_proxies: tuple[Network, ...] = setting("TRUSTED_PROXIES", "", _networks)
    # Links sent by email (a password reset, an address to confirm) lead only to pages under these
    # storefront URLs (resolvers/account_tokens.py); a password reset link works this many seconds.
    storefront_urls: tuple[str, ...] = setting("STOREFRONT_URLS", account_tokens.DEFAULT_STOREFRONTS, _storefront_urls)
    # Where the sitemap (GET /sitemap.xml) says a product's and a category's pages are: templates
    # with {slug}; empty: /products/{slug} and /categories/{slug} under the first STOREFRONT_URLS.
    storefront_product_url: str = setting("STOREFRONT_PRODUCT_URL", "", _url_template)
    storefront_category_url: str = setting("STOREFRONT_CATEGORY_URL", "", _url_template)
    password_reset_ttl_seconds: int = setting("PASSWORD_RESET_TTL", "3600", _whole(60, 7 * 86_400))
    # Customers who have not followed the link sent to their address cannot sign in (staff can).
    require_email_confirmation: bool = setting("REQUIRE_EMAIL_CONFIRMATION", "0", _bool)
    prices_include_tax: bool = setting("PRICES_INCLUDE_TAX", "1", _bool)
    max_line_quantity: int = setting("MAX_LINE_QUANTITY", "99", _whole(1, 1_000_000))
    # The test-card processor's books, shared by every worker (a file outside the database).
    test_card_ledger: str = setting("TEST_CARD_LEDGER", DEFAULT_TEST_CARD_LEDGER, _file)
    # Signs the test card's webhooks (`python -m gateway test-card-webhook`); a development value when unset.
    test_card_webhook_secret: str = setting("TEST_CARD_WEBHOOK_SECRET", DEVELOPMENT_WEBHOOK_SECRET, _webhook_secret)
    # A payment still waiting for the shopper (3-D Secure) this long: its order is cancelled, its
    # stock released; a session never completed is given back by the recovery from then on.
    payment_timeout_seconds: int = setting("PAYMENT_TIMEOUT", "1800", _whole(60, 7 * 86_400))
    # A payment no order holds, left unsettled this long past its expiry, belongs to a dead process
    # or an abandoned session: what it charged is given back.
    payment_recovery_after_seconds: int = setting("PAYMENT_RECOVERY_AFTER", "120", _whole(1, 86_400))
    payment_recovery_interval_seconds: int = setting("PAYMENT_RECOVERY_INTERVAL", "60", _whole(1, 86_400))
    # Stripe (resolvers/payments_stripe.py), installed as the `stripe` provider when the key is set;
    # its webhooks (POST /webhooks/payments/stripe) are checked with the endpoint's signing secret.
    # STRIPE_API_BASE points it at another Stripe-compatible server (the tests' localstripe);
    # STRIPE_CAPTURE=manual leaves confirmed payments authorized until the gateway captures them.
    stripe_api_key: str | None = setting("STRIPE_API_KEY", "", _stripe_api_key, secret=True)
    stripe_webhook_secret: str = setting("STRIPE_WEBHOOK_SECRET", "", _stripe_webhook_secret, secret=True)
    stripe_api_base: str = setting("STRIPE_API_BASE", "https://api.stripe.com", _stripe_api_base)
    stripe_capture: Literal["automatic", "manual"] = setting("STRIPE_CAPTURE", "automatic", _stripe_capture)
    ws_max_subscriptions: int = setting("WS_MAX_SUBSCRIPTIONS", "20", _whole(1, 10_000))
    ws_init_timeout_seconds: int = setting("WS_INIT_TIMEOUT", "10", _whole(1, 3600))
    subscription_queue_size: int = setting("SUBSCRIPTION_QUEUE_SIZE", "100", _whole(1, 100_000))
    # Every Redis connect and reply waits at most this long; after a failure Redis is left alone
    # (calls take their fallback at once) for the breaker's interval, then tried again.
    redis_timeout_ms: int = setting("REDIS_TIMEOUT_MS", "500", _whole(10, 60_000))
    redis_breaker_seconds: int = setting("REDIS_BREAKER_SECONDS", "2", _whole(1, 3600))
    # A dict: `setting` gives it a default factory, so no instance shares a mutable default.
    carrier_secrets: dict[str, str] = setting(  # noqa: RUF009
        "CARRIER_WEBHOOK_SECRETS", "", lambda name, value: _carrier_secrets(value)
    )
    carrier_signature_header: str = setting("CARRIER_SIGNATURE_HEADER", "X-Signature", _header_name)
    # Persisted queries: "apq", "allowlist" (documents of `persisted_manifest` only) or "off".
    persisted_queries: str = _joint("PERSISTED_QUERIES", persisted.APQ, persisted.APQ)
    persisted_manifest: Mapping[str, str] | None = _joint("PERSISTED_QUERIES_MANIFEST", "", None)
    persisted_cache_size: int = setting("PERSISTED_QUERIES_CACHE_SIZE", "1000", _whole(1, 1_000_000))
    cache_ttl_seconds: int = setting("CACHE_TTL", "300", _whole(1, 86_400))
    cache_max_bytes: int = setting("CACHE_MAX_BYTES", str(64 * 1024 * 1024), _whole(0, 64 * 1024**3))
    cache_lock_timeout_ms: int = setting("CACHE_LOCK_TIMEOUT_MS", "2000", _whole(0, 60_000))
    cache_max_age_seconds: int = setting("CACHE_MAX_AGE", "5", _whole(0, 86_400))
    cache_stale_while_revalidate_seconds: int = setting("CACHE_STALE_WHILE_REVALIDATE", "30", _whole(0, 86_400))
    # Seconds PostgreSQL lets one statement run before cancelling it; 0: no limit.
    database_statement_timeout: float = setting("DATABASE_STATEMENT_TIMEOUT", "5", _timeout)
    # An outbox event still undelivered this long after its commit was left behind (its process
    # died, Redis was away): the periodic redelivery delivers it. Delivered events are kept this long.
    outbox_redeliver_after_seconds: int = setting("OUTBOX_REDELIVER_AFTER", "5", _whole(1, 3600))
    outbox_retention_seconds: int = setting("OUTBOX_RETENTION", "86400", _whole(60, 90 * 86_400))
    # Customer emails (resolvers/emails.py): through this SMTP server, or unset, as .eml files under
    # var/mail/ (gateway/mail.py); templates in this directory replace the built-in ones of that name.
    email_url: str | None = setting("EMAIL_URL", "", _email_url)
    email_from: str = setting("EMAIL_FROM", "Shop <shop@localhost>", _email_from)
    email_templates_dir: str | None = setting("EMAIL_TEMPLATES_DIR", "", _directory)
    # Where clients reach this gateway: links in emails that lead back to it (a customer's copy of
    # their data, GET /exports/…) start with it.
    public_url: str = setting("PUBLIC_URL", "http://127.0.0.1:8000", _public_url)
    # Uploaded media (gateway/media_storage.py): a directory served under /media/, or
    # s3://bucket/prefix on any S3-compatible store (the standard AWS_* variables configure it);
    # clients fetch the files at MEDIA_PUBLIC_URL when set (a CDN, the bucket's website), else at
    # PUBLIC_URL/media/ or the bucket's own address. An upload may have MEDIA_MAX_BYTES and
    # MEDIA_MAX_PIXELS (width times height, checked before decoding); UPLOAD_MAX_BYTES bounds the request.
    media_storage_url: str = setting("MEDIA_STORAGE_URL", "var/media", _media_storage_url)
    media_public_url: str | None = setting("MEDIA_PUBLIC_URL", "", _optional_public_url)
    media_max_bytes: int = setting("MEDIA_MAX_BYTES", str(10 * 1024 * 1024), _whole(1024, 1024**3))
    media_max_pixels: int = setting("MEDIA_MAX_PIXELS", "40000000", _whole(1, 1_000_000_000))
    # Outgoing webhooks may go to http URLs and to loopback, private and link-local addresses
    # (development and tests only: in production that lets an app reach the internal network).
    webhook_allow_private_targets: bool = setting("WEBHOOK_ALLOW_PRIVATE_TARGETS", "0", _bool)
    # Finished webhook deliveries (and their attempts) are kept this many days, then pruned.
    webhook_log_retention_days: int = setting("WEBHOOK_LOG_RETENTION_DAYS", "30", _whole(1, 365))
    # Staff audit log entries are kept this many days, then pruned; 0: kept for good.
    audit_log_retention_days: int = setting("AUDIT_LOG_RETENTION_DAYS", "0", _whole(0, 36500))
    # A guest's cart nobody changed for this many days is abandoned: it and its lines are deleted.
    cart_ttl_days: int = setting("CART_TTL_DAYS", "30", _whole(1, 365))
    # Fault drills only: the process kills itself (SIGKILL) right after committing a change of
    # this kind (`order`, `catalogue`, ...), before announcing it. Never set it in production.
    test_only_kill_after_commit: str = setting("TEST_ONLY_KILL_AFTER_COMMIT", "", _change_kind)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))


def _value(spec: Setting, env: Mapping[str, str]) -> str:
    """The variable's text, or its default when unset or empty."""
    return env.get(spec.env) or spec.default


def _persisted_queries(env: Mapping[str, str]) -> tuple[str, Mapping[str, str] | None]:
    """The persisted query mode and, in allow-list mode, the manifest's documents by hash."""
    specs = {item.name: item.metadata[SETTING] for item in fields(Settings)}
    mode = _value(specs["persisted_queries"], env).strip().lower()
    if mode not in persisted.MODES:
        raise ConfigError(
            f"PERSISTED_QUERIES: expected one of {', '.join(persisted.MODES)}, got {env['PERSISTED_QUERIES']!r}"
        )
    path = _value(specs["persisted_manifest"], env).strip()
    if mode != persisted.ALLOWLIST:
        if path:
            raise ConfigError(
                f"PERSISTED_QUERIES_MANIFEST: only used with PERSISTED_QUERIES=allowlist, which is {mode!r}"
            )
        return mode, None
    if not path:
        raise ConfigError(
            "PERSISTED_QUERIES_MANIFEST: PERSISTED_QUERIES=allowlist needs the path of a persisted query manifest"
        )
    try:
        # Read now, so a bad manifest stops start-up rather than refusing every request later.
        return mode, persisted.load_manifest(path)
    except ValueError as error:
        raise ConfigError(f"PERSISTED_QUERIES_MANIFEST: {error}") from None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raises ConfigError on the first bad one."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for item in fields(Settings):
        spec: Setting = item.metadata[SETTING]
        if spec.parse is not None:
            values[item.name] = spec.parse(spec.env, _value(spec, env))
    values["persisted_queries"], values["persisted_manifest"] = _persisted_queries(env)
    if values["stripe_webhook_secret"] and not values["stripe_api_key"]:
        raise ConfigError("STRIPE_WEBHOOK_SECRET: only used with STRIPE_API_KEY, which is unset")
    if values["query_cost_restore_rate"] and values["query_cost_bucket_size"] < values["max_query_cost"]:
        # An operation the cost limit allows could never be paid for: it would wait for ever.
        raise ConfigError(
            f"QUERY_COST_BUCKET_SIZE: must hold at least MAX_QUERY_COST ({values['max_query_cost']}) points "
            f"with cost limiting on, got {values['query_cost_bucket_size']}"
        )
    return Settings(**values)


def configure_logging(settings: Settings) -> None:
    logs.configure(settings.log_level, settings.log_format)
