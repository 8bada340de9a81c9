"""The ASGI application: routes, the request middleware and the lifespan that opens the database.

`gateway.app:app` is what uvicorn serves; `create_app()` builds one from explicit settings (tests).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp
from tortoise import connections
from tortoise.contrib.starlette import RegisterTortoise

from gateway import graphiql, mail, payment_providers, worker
from gateway.breaker import Breaker, redis_client
from gateway.cache import ResponseCache
from gateway.cache_http import ResponseCacheMiddleware
from gateway.cache_keys import Normalizer, key_prefix
from gateway.db import tortoise_config
from gateway.db_identity import database_identity
from gateway.events import EventBus, LocalBus, RedisBus
from gateway.exports import data_export_download, product_export_download
from gateway.graphql_view import GatewayGraphQL
from gateway.job_stats import JobStats
from gateway.jobs import CACHE_CONSUMER, EVENTS_CONSUMER, Jobs
from gateway.media_storage import MEDIA_PATH, LocalStorage, media_files, media_uploads
from gateway.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from gateway.metrics import FLUSH_SECONDS, Metrics
from gateway.middleware import BodyLimit, RateLimit, RequestMiddleware
from gateway.outage import EXCEPTIONS as DATABASE_FAULTS
from gateway.outage import database_fault_response
from gateway.payment_webhooks import payment_webhook
from gateway.periodic import every
from gateway.persisted import DocumentStore, LocalDocuments, PersistedQueries, RedisDocuments, operation_names
from gateway.ratelimit import CostLimit, LocalBuckets, RedisBuckets
from gateway.sessions import LocalRevokedSessions, RedisRevokedSessions
from gateway.settings import ConfigError, Settings, configure_logging, load_settings
from gateway.sitemap import sitemap_index, sitemap_page
from gateway.tracing import from_environment as tracing_from_environment
from gateway.webhooks import carrier_webhook
from gateway.websocket_stats import WebSocketStats
from models.changes import Change
from resolvers import catalogue_sitemap, payments
from resolvers.account_tokens import LinkRules
from resolvers.accounts import TokenRules
from resolvers.cart import CartRules
from schema.limits import Limits
from schema.root import build_schema

if TYPE_CHECKING:
    from gateway.otel import Tracing  # imported at run time only when tracing is on

log = logging.getLogger("gateway")
READINESS_TIMEOUT = 2.0


class GatewayStarlette(Starlette):
    """Starlette with its server-error handler innermost, just around the routes.

    Starlette puts ServerErrorMiddleware outside every middleware; here it wraps only the router,
    so a cache hit (answered by our pure ASGI layers) never passes through it, and a 500 it
    turns an unexpected exception into still goes through the request middleware: request id,
    metrics and log line included.
    """

    def build_middleware_stack(self) -> ASGIApp:
        error_handler = self.exception_handlers.get(500) or self.exception_handlers.get(Exception)
        handlers = {key: value for key, value in self.exception_handlers.items() if key not in (500, Exception)}
        app: ASGIApp = ExceptionMiddleware(self.router, handlers=handlers, debug=self.debug)
        app = ServerErrorMiddleware(app, handler=error_handler, debug=self.debug)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app


def create_app(settings: Settings, tracing: Tracing | None = None) -> Starlette:
    """The gateway under `settings`; `tracing` (gateway/otel.py) traces it, None leaves it untraced."""
    # Operation names label metrics only when the operator listed them (no label from client input).
    metrics = Metrics(operation_names(settings.persisted_manifest or {}))
    websocket_stats = WebSocketStats()
    # Every Redis user of this process goes through one breaker: whichever sees Redis hang first
    # spares all the others the wait.
    breaker = Breaker(settings.redis_breaker_seconds)
    redis = redis_client(settings.redis_url, settings.redis_timeout_ms / 1000) if settings.redis_url else None
    listener = (
        redis_client(settings.redis_url, settings.redis_timeout_ms / 1000, reconnect=False)
        if settings.redis_url
        else None
    )
    limiter = RedisBuckets(redis, breaker=breaker) if redis is not None else LocalBuckets()
    token_rules = TokenRules(
        access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        refresh_grace=timedelta(seconds=settings.refresh_reuse_grace_seconds),
        revoked=RedisRevokedSessions(redis, breaker=breaker) if redis is not None else LocalRevokedSessions(),
        require_confirmed_email=settings.require_email_confirmation,
    )
    link_rules = LinkRules(settings.storefront_urls, timedelta(seconds=settings.password_reset_ttl_seconds))
    stripe_payments = payment_providers.install(settings)
    events: EventBus = (
        RedisBus(redis, settings.subscription_queue_size, breaker, listener)
        if redis is not None
        else LocalBus(settings.subscription_queue_size)
    )
    limits = Limits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_query_aliases,
        max_tokens=settings.max_query_tokens,
        max_cost=settings.max_query_cost,
        introspection=settings.introspection,
    )
    cost_limit = (
        CostLimit(limiter, settings.query_cost_bucket_size, settings.query_cost_restore_rate)
        if settings.query_cost_restore_rate > 0
        else None
    )
    schema = build_schema(
        limits,
        cost_limited=cost_limit is not None,
        around=tracing.schema_extensions() if tracing is not None else (),
    )
    persisted = PersistedQueries(
        settings.persisted_queries,
        # Registrations shared through Redis reach every worker; the LRU saves the round trip.
        DocumentStore(
            LocalDocuments(settings.persisted_cache_size),
            RedisDocuments(redis, breaker=breaker) if redis is not None else None,
        ),
        settings.persisted_manifest,
    )
    cache = _response_cache(settings, schema.as_str(), events, persisted, breaker) if settings.cache_enabled else None

    uploads = media_uploads(settings)
    email_sender = mail.Timed(mail.sender(settings.email_url))
    customer_emails = worker.customer_emails(settings, email_sender)
    job_stats = JobStats()
    jobs = Jobs(
        settings.database_url,
        worker.housekeeping(settings),
        job_stats,
        # On SQLite this process runs its jobs itself (no shared queue), for its own cache and bus.
        consumers={
            **({CACHE_CONSUMER: cache.redeliver} if cache is not None else {}),
            EVENTS_CONSUMER: events.redeliver,
        },
        mailer=customer_emails,
        uploads=uploads,
    )
    kill_after = settings.test_only_kill_after_commit

    async def announce(changes: list[Change]) -> None:
        """Committed changes (written to the outbox already): announced at once, then a job that
        delivers them durably (gateway/jobs.py)."""
        job_stats.events_written += len(changes)
        if kill_after and any(change.kind == kill_after for change in changes):
            os.kill(os.getpid(), signal.SIGKILL)  # a fault drill: dead between commit and announcement
        # The cache first: by the time anyone hears of a change, the stale answers are gone.
        if cache is not None:
            await cache.on_changes(changes)
        await events.announce(changes)
        await jobs.defer_delivery(changes)

    graphql = GatewayGraphQL(
        schema,
        currency=settings.store_currency,
        secret_key=settings.secret_key,
        graphiql=settings.graphiql,
        websocket_origins=settings.websocket_origins,
        limiter=limiter,
        login_attempts_per_minute=settings.login_attempts_per_minute,
        prices_include_tax=settings.prices_include_tax,
        cart_rules=CartRules(max_line_quantity=settings.max_line_quantity),
        events=events,
        announce=announce,
        max_subscriptions=settings.ws_max_subscriptions,
        init_timeout_seconds=settings.ws_init_timeout_seconds,
        persisted=persisted,
        token_rules=token_rules,
        link_rules=link_rules,
        cost_limit=cost_limit,
        trusted_proxies=settings.trusted_proxies,
        websocket_stats=websocket_stats,
        webhook_allow_private=settings.webhook_allow_private_targets,
        media=uploads.storage,
        media_limits=uploads.limits,
    )
    # What the last readiness check found; Redis trouble is reported here and in metrics, not as 503.
    redis_health = {"degraded": False}

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        try:
            await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"), READINESS_TIMEOUT)
        except Exception as error:  # any failure means "not ready"; the reason goes to the prober
            log.warning("readiness check failed: database: %s", error)
            return JSONResponse({"status": "unavailable", "reason": f"database: {type(error).__name__}"}, 503)
        body = {"status": "ok"}
        if redis is not None:
            # Reported, never a 503: every user of Redis has a degraded path that still serves.
            try:
                with breaker:
                    await redis.ping()
                body["redis"] = "ok"
            except Exception as error:  # any failure (or an open breaker) means "degraded"
                log.warning("readiness check: redis degraded: %s: %s", type(error).__name__, error)
                body["redis"] = "degraded"
            redis_health["degraded"] = body["redis"] == "degraded"
        return JSONResponse(body | (cache.describe() if cache else {}))

    async def prometheus(request: Request) -> Response:
        return Response(metrics.render(), media_type=METRICS_CONTENT_TYPE)

    async def flush_metrics() -> None:
        metrics.flush()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(
            app, config=tortoise_config(settings.database_url, settings.database_statement_timeout)
        ):
            # Start-up objects live for the whole process: keep them out of every collection, and
            # collect the young generation less often (measured: +10-40% on listing throughput).
            # Full collections must still come round often: each request leaves reference cycles
            # (graphql-core's execution context with its loaders), and those that outlive a young
            # collection (their request was still running) are freed only by an older one. With
            # the default (10, 10) a full collection came once in ~10 minutes under the soak's
            # traffic, and RSS grew the whole time, 7-8% over minutes 5-10; with (2, 2) one comes
            # every four young collections and RSS stayed flat (BENCHMARKS.md, soak runs 9-10). A
            # full collection is cheap here: what start-up made is frozen, out of its reach.
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 2, 2)
            await events.start()
            if cache is not None:
                await cache.start()
            await jobs.start()
            # Charges that a killed process left without an order, given back from every process.
            recovery = asyncio.create_task(
                every(
                    settings.payment_recovery_interval_seconds,
                    lambda: payments.recover(timedelta(seconds=settings.payment_recovery_after_seconds)),
                    "payment recovery",
                )
            )
            # Other workers' scrapes see this one's counts through the shared files (gateway/metrics.py).
            flushing = asyncio.create_task(every(FLUSH_SECONDS, flush_metrics, "metrics flush"))
            try:
                yield
            finally:
                for task in (recovery, flushing):
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task
                await jobs.stop()
                metrics.close()
                if cache is not None:
                    await cache.close()
                await events.close()
        for client in (redis, listener):
            if client is not None:
                await client.aclose()
        if stripe_payments is not None:
            await stripe_payments.close()

    app = GatewayStarlette(
        routes=[
            # Every method reaches the view, which answers the ones it does not serve with a
            # GraphQL-shaped 405 and `Allow: GET, POST` (Starlette's would be plain text).
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", prometheus),
            Route("/exports/products/{token}", product_export_download(settings.secret_key), methods=["GET"]),
            Route("/exports/{token}", data_export_download(settings.secret_key), methods=["GET"]),
            Route(
                "/webhooks/carriers/{carrier}",
                carrier_webhook(settings.carrier_secrets, settings.carrier_signature_header, announce),
                methods=["POST"],
            ),
            Route("/webhooks/payments/{provider}", payment_webhook(announce), methods=["POST"]),
            Route("/sitemap.xml", sitemap_index(cache, settings.cache_max_age_seconds), methods=["GET"]),
            *(
                Route(
                    f"/sitemap-{kind}-{{number:int}}.xml",
                    sitemap_page(kind, storefront_template(settings, kind), cache, settings.cache_max_age_seconds),
                    methods=["GET"],
                )
                for kind in catalogue_sitemap.KINDS
            ),
            # Uploaded media kept on this host's disk (in S3, clients fetch them from the store).
            *(
                [Route(MEDIA_PATH + "{key:path}", media_files(uploads.storage), methods=["GET", "HEAD"])]
                if isinstance(uploads.storage, LocalStorage)
                else []
            ),
            # GraphiQL's files (the page itself is GET /graphql), only while GraphiQL is on.
            *([Mount(graphiql.ASSETS_PATH, graphiql.assets())] if settings.graphiql else []),
        ],
        lifespan=lifespan,
        exception_handlers={error: database_fault_response for error in DATABASE_FAULTS},
    )
    if cache is not None:
        # Before routing: a hit is answered from bytes without Starlette's routing or Request
        # objects. Inside the rate limiter (a hit still counts against the client) and CORS (hits
        # carry the CORS headers too). Added first, so it is the innermost middleware.
        app.add_middleware(
            ResponseCacheMiddleware,
            cache=cache,
            max_age=settings.cache_max_age_seconds,
            stale_while_revalidate=settings.cache_stale_while_revalidate_seconds,
        )
    if settings.rate_limit_per_second > 0:
        app.add_middleware(
            RateLimit,
            limiter=limiter,
            rate=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
            trusted_proxies=settings.trusted_proxies,
            secret_key=settings.secret_key,
        )
    # Outside the rate limiter, so a browser can read a 429 too.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=list(settings.cors_headers),
            expose_headers=["x-request-id", "cache-status", "retry-after", "etag"],
            max_age=600,
        )
    # Added last, runs first: every response, the 413s included, gets its request id and log line.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, upload_max_bytes=settings.upload_max_bytes)
    app.add_middleware(RequestMiddleware, metrics=metrics)
    if tracing is not None:
        tracing.instrument(app)  # outermost: the request span covers every layer, cache hits included
    metrics.reading(
        "gateway_subscriptions", "gauge", "Subscriptions open in this process.", lambda: events.subscription_count
    )
    metrics.reading(
        "gateway_events_delivered_total",
        "counter",
        "Events handed to this process's subscriptions.",
        lambda: events.delivered,
    )
    metrics.reading(
        "gateway_subscriber_overflows_total",
        "counter",
        "Times a subscriber fell SUBSCRIPTION_QUEUE_SIZE events behind and was sent the current state.",
        lambda: events.overflows,
    )
    websocket_stats.publish(metrics)
    job_stats.publish(metrics)
    mail.publish(metrics, lambda: customer_emails.counts, email_sender)
    if redis is not None:
        metrics.reading(
            "gateway_redis_degraded",
            "gauge",
            "1 while Redis is reported degraded: its circuit breaker is open, or the last /readyz could not reach it.",
            lambda: 1.0 if redis_health["degraded"] or not breaker.closed else 0.0,
            mode="livemax",
        )
        metrics.reading(
            "gateway_redis_breaker_open",
            "gauge",
            "Worker processes skipping Redis after a failure (their users take their fallbacks).",
            lambda: 0 if breaker.closed else 1,
        )
        metrics.reading(
            "gateway_redis_failures_total",
            "counter",
            "Redis calls that failed or timed out (each one waited at most REDIS_TIMEOUT_MS).",
            lambda: breaker.failures,
        )
        metrics.reading(
            "gateway_redis_refused_total",
            "counter",
            "Redis calls skipped at once because the circuit breaker was open.",
            lambda: breaker.refused,
        )
    app.state.metrics = metrics
    app.state.events = events
    app.state.cache = cache
    app.state.jobs = jobs
    app.state.media = uploads
    if cache is not None:
        cache.stats.publish(metrics)
    return app


def storefront_template(settings: Settings, kind: catalogue_sitemap.Kind) -> str:
    """Where the sitemap says a product's or a category's page is (STOREFRONT_PRODUCT_URL and
    STOREFRONT_CATEGORY_URL, else under the first of STOREFRONT_URLS)."""
    given = settings.storefront_product_url if kind == "products" else settings.storefront_category_url
    return given or catalogue_sitemap.default_template(settings.storefront_urls, kind)


def _response_cache(
    settings: Settings, schema_sdl: str, events: EventBus, persisted: PersistedQueries, breaker: Breaker
) -> ResponseCache:
    # Its own connections (the cache makes most of the calls), the same bounds and breaker.
    redis = redis_client(settings.redis_url, settings.redis_timeout_ms / 1000) if settings.redis_url else None
    return ResponseCache(
        prefix=key_prefix(settings.store_currency, settings.prices_include_tax, schema_sdl),
        normalizer=Normalizer(max_tokens=settings.max_query_tokens),
        ttl=settings.cache_ttl_seconds,
        max_bytes=settings.cache_max_bytes,
        lock_timeout=settings.cache_lock_timeout_ms / 1000,
        redis=redis,
        bus=events,
        persisted=persisted,
        breaker=breaker,
        identify=lambda: database_identity(settings.database_url),
    )


def app_from_environment(build: Callable[[Settings, Tracing | None], Starlette] = create_app) -> Starlette:
    """Settings and tracing (the `OTEL_*` variables) from the environment, logging configured,
    then `build(settings, tracing)`."""
    try:
        settings = load_settings()
        tracing = tracing_from_environment()
    except ConfigError as error:
        # One line naming the variable, not a traceback.
        print(f"configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings)
    return build(settings, tracing)


app = app_from_environment()
