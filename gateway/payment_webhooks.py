"""`POST /webhooks/payments/{provider}`: payment providers report what became of a payment.

The body is the provider's own event, signed its own way (`PaymentProvider.parse_webhook`: the
test card's is documented in resolvers/payments.py and the README). Answers, each JSON:

- 404: no provider of that name;
- 413: a body over MAX_BODY (no provider's event comes near it);
- 401: a missing, wrong or stale signature (nothing is read further, nothing changes);
- 400: a signed body that is not an event, with the reason;
- 200 `{"result": "applied" | "duplicate" | "ignored"}`: applied once (resolvers/payments_webhooks.py),
  a delivery of an event already applied, or an event about nothing the gateway acts on.

A database that is away answers 503 with Retry-After, as every endpoint does (gateway/outage.py):
the provider delivers it again later.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from models.changes import Sink
from resolvers import outbox, payments, payments_webhooks

log = logging.getLogger("gateway.payments")
MAX_BODY = 64 * 1024


def payment_webhook(announce: Sink | None) -> Callable[[Request], Awaitable[Response]]:
    async def receive(request: Request) -> Response:
        name = request.path_params["provider"]
        provider = payments.provider(name)
        if provider is None:
            return JSONResponse({"error": f"no payment provider is called {name[:64]!r}"}, 404)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return JSONResponse({"error": f"the body is longer than {MAX_BODY} bytes"}, 413)
        try:
            event = provider.parse_webhook(body, request.headers)
        except payments.WebhookRejected as reason:
            log.warning("payment webhook for %s refused: %s", provider.name, reason)
            return JSONResponse({"error": f"signature refused: {reason}"}, 401)
        except ValueError as reason:
            return JSONResponse({"error": f"malformed event: {reason}"}, 400)
        outbox.use_sink(announce)
        result = await payments_webhooks.apply(provider, event)
        return JSONResponse({"result": result, "eventId": event.event_id})

    return receive
