"""Outgoing webhooks (MANAGE_APPS): subscribing endpoints to events, changing, pausing and deleting them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from models import Permission, WebhookDeliveryStatus, WebhookEvent
from models import WebhookDelivery as DeliveryModel
from models import WebhookSubscription as SubscriptionModel
from models.webhooks_out import URL_LENGTH
from resolvers import webhooks_out
from schema.context import Context
from schema.ids import decode_id_of, encode_id
from schema.permissions import requires
from schema.shared import After, Connection, First, UserError, attempt, described_enum

described_enum(
    WebhookEvent,
    "What an endpoint can be told of, each once its change is committed: orders, parcels, products changed by "
    "staff, and variants whose stock fell low.",
    {
        WebhookEvent.ORDER_PLACED: "An order was placed (its first version).",
        WebhookEvent.ORDER_PAID: "An order changed and is PAID.",
        WebhookEvent.ORDER_CANCELLED: "An order changed and is CANCELLED.",
        WebhookEvent.ORDER_REFUNDED: "An order changed and is REFUNDED.",
        WebhookEvent.ORDER_FULFILLED: "An order changed and is SHIPPED in full.",
        WebhookEvent.ORDER_DELIVERED: "An order changed and is DELIVERED.",
        WebhookEvent.SHIPMENT_CREATED: "A parcel was created.",
        WebhookEvent.SHIPMENT_UPDATED: "A parcel changed (a tracking event).",
        WebhookEvent.PRODUCT_CREATED: "Staff created a product (`productCreate`); the object is the product as "
        "committed, with its category, variants and images.",
        WebhookEvent.PRODUCT_UPDATED: "Staff changed a product: its own fields or status (an ordered product "
        "`productDelete` archives too), its variants (created, changed, deleted) or its images. Not stock: see "
        "STOCK_LOW. The object is the product as committed.",
        WebhookEvent.PRODUCT_DELETED: "Staff deleted a product (`productDelete` of one never ordered); the object is "
        "its last state.",
        WebhookEvent.STOCK_LOW: "A variant's available stock (on hand minus reserved, over all warehouses) fell to its "
        "`lowStockThreshold` or below: once per fall, found by a check every 30 seconds, and again only after it "
        "has been back above. The object has the variant, threshold, available and per-warehouse levels.",
    },
)

described_enum(
    WebhookDeliveryStatus,
    "Where a delivery stands.",
    {
        WebhookDeliveryStatus.PENDING: "Not answered with success yet: waiting for an attempt or a retry.",
        WebhookDeliveryStatus.SUCCEEDED: "The endpoint answered 2xx.",
        WebhookDeliveryStatus.FAILED: (
            "Given up: the endpoint refused it (4xx), its target is no longer allowed, "
            "or it failed every retry (about a day of them)."
        ),
    },
)

MANAGE_APPS = requires(Permission.MANAGE_APPS)


@strawberry.type(description="One POST of a delivery to its endpoint.")
class WebhookAttempt:
    status_code: int | None = strawberry.field(
        description="The endpoint's HTTP status; null when none came (a timeout, no connection, a refused target)."
    )
    duration_ms: int = strawberry.field(description="How long the attempt took, in milliseconds.")
    response: str = strawberry.field(description="The start of the endpoint's answer, or what went wrong.")
    created_at: datetime = strawberry.field(description="When it was made.")


@strawberry.type(description="One event sent to one subscription, with every attempt at it.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="Its global ID, for webhookRedeliver.")
    event_id: str = strawberry.field(description="The event id: the payload's `id`, `webhook-id` without `msg_`.")
    event_type: WebhookEvent = strawberry.field(description="The event.")
    status: WebhookDeliveryStatus = strawberry.field(description="Where it stands.")
    attempts: list[WebhookAttempt] = strawberry.field(description="Every attempt, oldest first.")
    created_at: datetime = strawberry.field(description="When the event reached the subscription.")


def build_delivery(delivery: DeliveryModel) -> WebhookDelivery:
    attempts = sorted(delivery.attempt_log, key=lambda a: a.id)
    return WebhookDelivery(
        id=encode_id("WebhookDelivery", delivery.id),
        event_id=str(delivery.event_id),
        event_type=WebhookEvent(delivery.event_type),
        status=WebhookDeliveryStatus(delivery.status),
        attempts=[
            WebhookAttempt(
                status_code=a.status_code, duration_ms=a.duration_ms, response=a.response, created_at=a.created_at
            )
            for a in attempts
        ],
        created_at=delivery.created_at,
    )


@strawberry.type
class WebhooksOutQuery:
    @strawberry.field(extensions=MANAGE_APPS, description="A subscription's deliveries, newest first.")
    async def webhook_deliveries(
        self,
        subscription: Annotated[strawberry.ID, strawberry.argument(description="The subscription.")],
        status: Annotated[
            WebhookDeliveryStatus | None, strawberry.argument(description="Only deliveries in this status.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[WebhookDelivery] | None:
        page = await webhooks_out.deliveries(
            decode_id_of(subscription, "WebhookSubscription", "subscription"),
            status.value if status is not None else None,
            first,
            after,
        )
        return Connection.of(page, [build_delivery(d) for d in page.rows])


@strawberry.type(description="An endpoint told of committed changes, signed per Standard Webhooks.")
class WebhookSubscription:
    id: strawberry.ID = strawberry.field(description="Its global ID.")
    url: str = strawberry.field(description="Where deliveries are POSTed.")
    events: list[WebhookEvent] = strawberry.field(description="What it is told of.")
    active: bool = strawberry.field(description="False while paused: nothing is sent to it.")
    disabled_reason: str | None = strawberry.field(
        description="Why it was paused by the gateway (the endpoint answered 410 Gone); null otherwise."
    )
    created_at: datetime = strawberry.field(description="When it was created.")


def build_subscription(subscription: SubscriptionModel) -> WebhookSubscription:
    return WebhookSubscription(
        id=encode_id("WebhookSubscription", subscription.id),
        url=subscription.url,
        events=[WebhookEvent(name) for name in subscription.events],
        active=subscription.active,
        disabled_reason=subscription.disabled_reason or None,
        created_at=subscription.created_at,
    )


@strawberry.type(description="What a webhook subscription mutation did.")
class WebhookSubscriptionPayload:
    subscription: WebhookSubscription | None = strawberry.field(description="As it now is; null when refused.")
    secret: str | None = strawberry.field(
        description="The signing secret (`whsec_…`): given once, by webhookSubscriptionCreate; null otherwise."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type(description="What webhookRedeliver did.")
class WebhookRedeliverPayload:
    delivery: WebhookDelivery | None = strawberry.field(
        description="The delivery, PENDING again (its new attempt is sent shortly); null when refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type(description="What webhookSubscriptionDelete did.")
class WebhookSubscriptionDeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="The deleted subscription; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


URL_ARGUMENT = strawberry.argument(
    description=f"An https URL (at most {URL_LENGTH} characters) whose host resolves to public addresses only."
)
EVENTS_ARGUMENT = strawberry.argument(description="What to tell it of: at least one event.")


@strawberry.type
class WebhooksOutMutation:
    @strawberry.mutation(extensions=MANAGE_APPS, description="Subscribe an endpoint to events.")
    async def webhook_subscription_create(
        self,
        info: Info[Context, None],
        url: Annotated[str, URL_ARGUMENT],
        events: Annotated[list[WebhookEvent], EVENTS_ARGUMENT],
        secret: Annotated[
            str | None,
            strawberry.argument(
                description="The signing secret, `whsec_` and base64 of 16 to 64 bytes; generated when left out."
            ),
        ] = None,
    ) -> WebhookSubscriptionPayload:
        created, errors = await attempt(
            webhooks_out.create_subscription(url, events, secret, info.context.webhook_allow_private)
        )
        if created is None:
            return WebhookSubscriptionPayload(subscription=None, secret=None, user_errors=errors)
        subscription, chosen = created
        return WebhookSubscriptionPayload(subscription=build_subscription(subscription), secret=chosen, user_errors=[])

    @strawberry.mutation(
        extensions=MANAGE_APPS, description="Change an endpoint's URL or events, or pause and resume it."
    )
    async def webhook_subscription_update(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The subscription.")],
        url: Annotated[str | None, URL_ARGUMENT] = None,
        events: Annotated[list[WebhookEvent] | None, EVENTS_ARGUMENT] = None,
        active: Annotated[bool | None, strawberry.argument(description="False pauses it, true resumes it.")] = None,
    ) -> WebhookSubscriptionPayload:
        subscription, errors = await attempt(
            webhooks_out.update_subscription(
                decode_id_of(id, "WebhookSubscription"),
                url=url,
                events=events,
                active=active,
                allow_private=info.context.webhook_allow_private,
            )
        )
        return WebhookSubscriptionPayload(
            subscription=None if subscription is None else build_subscription(subscription),
            secret=None,
            user_errors=errors,
        )

    @strawberry.mutation(extensions=MANAGE_APPS, description="Delete an endpoint's subscription and its deliveries.")
    async def webhook_subscription_delete(
        self,
        id: Annotated[strawberry.ID, strawberry.argument(description="The subscription.")],
    ) -> WebhookSubscriptionDeletePayload:
        deleted, errors = await attempt(webhooks_out.delete_subscription(decode_id_of(id, "WebhookSubscription")))
        return WebhookSubscriptionDeletePayload(
            deleted_id=None if deleted is None else encode_id("WebhookSubscription", deleted), user_errors=errors
        )

    @strawberry.mutation(
        extensions=MANAGE_APPS, description="Send a delivery again, with the same `webhook-id`, whatever its status."
    )
    async def webhook_redeliver(
        self,
        delivery_id: Annotated[strawberry.ID, strawberry.argument(description="The delivery.")],
    ) -> WebhookRedeliverPayload:
        delivery, errors = await attempt(
            webhooks_out.redeliver(decode_id_of(delivery_id, "WebhookDelivery", "deliveryId"))
        )
        return WebhookRedeliverPayload(
            delivery=None if delivery is None else build_delivery(delivery), user_errors=errors
        )
