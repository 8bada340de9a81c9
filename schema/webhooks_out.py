"""Outgoing webhooks (MANAGE_APPS): subscribing endpoints to events, changing, pausing and deleting them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from models import Permission, WebhookEvent
from models import WebhookSubscription as SubscriptionModel
from models.webhooks_out import URL_LENGTH
from resolvers import webhooks_out
from schema.context import Context
from schema.ids import decode_id_of, encode_id
from schema.permissions import requires
from schema.shared import UserError, attempt, described_enum

described_enum(
    WebhookEvent,
    "What an endpoint can be told of. Fired today: the ORDER_ and SHIPMENT_ events; PRODUCT_ and "
    "STOCK_LOW can be subscribed to and fire once the catalogue and stock announce such changes.",
    {
        WebhookEvent.ORDER_PLACED: "An order was placed (its first version).",
        WebhookEvent.ORDER_PAID: "An order changed and is PAID.",
        WebhookEvent.ORDER_CANCELLED: "An order changed and is CANCELLED.",
        WebhookEvent.ORDER_REFUNDED: "An order changed and is REFUNDED.",
        WebhookEvent.ORDER_FULFILLED: "An order changed and is SHIPPED in full.",
        WebhookEvent.ORDER_DELIVERED: "An order changed and is DELIVERED.",
        WebhookEvent.SHIPMENT_CREATED: "A parcel was created.",
        WebhookEvent.SHIPMENT_UPDATED: "A parcel changed (a tracking event).",
        WebhookEvent.PRODUCT_CREATED: "A product was created (not fired yet).",
        WebhookEvent.PRODUCT_UPDATED: "A product changed (not fired yet).",
        WebhookEvent.PRODUCT_DELETED: "A product was deleted (not fired yet).",
        WebhookEvent.STOCK_LOW: "A variant's stock fell low (not fired yet).",
    },
)

MANAGE_APPS = requires(Permission.MANAGE_APPS)


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
