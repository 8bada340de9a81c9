"""Outgoing webhooks: who is told of which committed changes, and every delivery made to them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

URL_LENGTH = 2000
SECRET_LENGTH = 100
RESPONSE_LENGTH = 500  # characters of an endpoint's answer kept per attempt


class WebhookSubscription(Model):
    # An app's endpoint: `events` lists WebhookEvent names; `secret` (`whsec_` and base64) signs
    # every delivery (Standard Webhooks). A paused (`active` false) subscription gets nothing; one
    # whose endpoint answered 410 Gone is paused for good (`disabled_reason`).
    id = fields.IntField(primary_key=True)
    url = fields.CharField(max_length=URL_LENGTH)
    events: fields.JSONField[list[str]] = fields.JSONField()
    secret = fields.CharField(max_length=SECRET_LENGTH)
    active = fields.BooleanField(default=True)
    disabled_reason = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook_subscription"


class WebhookDelivery(Model):
    # One outbox event for one subscription, exactly once (the unique pair): the outbox hands an
    # event over at least once, and a second hand-over finds the row. `queued` is set once its
    # sending job is deferred (and cleared by a redelivery); `status` is PENDING until an attempt
    # succeeds (SUCCEEDED) or the endpoint is given up on (FAILED). Each attempt is a WebhookAttempt.
    id = fields.IntField(primary_key=True)
    subscription: fields.ForeignKeyRelation[WebhookSubscription] = fields.ForeignKeyField(
        "models.WebhookSubscription", related_name="deliveries", on_delete=fields.CASCADE
    )
    subscription_id: int
    event_id = fields.UUIDField()
    event_type = fields.CharField(max_length=32)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField()
    status = fields.CharField(max_length=16, default="PENDING")
    queued = fields.BooleanField(default=False)
    attempts = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    attempt_log: fields.ReverseRelation[WebhookAttempt]

    class Meta:
        table = "webhook_delivery"
        unique_together = (("subscription", "event_id"),)


class WebhookAttempt(Model):
    # One POST of a delivery (or a check that refused to make it): the endpoint's status code
    # (null when none came: a timeout, no connection, a refused target), how long it took, and the
    # start of its answer or of the error.
    id = fields.IntField(primary_key=True)
    delivery: fields.ForeignKeyRelation[WebhookDelivery] = fields.ForeignKeyField(
        "models.WebhookDelivery", related_name="attempt_log", on_delete=fields.CASCADE
    )
    delivery_id: int
    status_code = fields.IntField(null=True)
    duration_ms = fields.IntField(default=0)
    response = fields.CharField(max_length=RESPONSE_LENGTH, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook_attempt"


class WebhookEvent(StrEnum):
    ORDER_PLACED = "ORDER_PLACED"
    ORDER_PAID = "ORDER_PAID"
    ORDER_CANCELLED = "ORDER_CANCELLED"
    ORDER_REFUNDED = "ORDER_REFUNDED"
    ORDER_FULFILLED = "ORDER_FULFILLED"
    ORDER_DELIVERED = "ORDER_DELIVERED"
    SHIPMENT_CREATED = "SHIPMENT_CREATED"
    SHIPMENT_UPDATED = "SHIPMENT_UPDATED"
    PRODUCT_CREATED = "PRODUCT_CREATED"
    PRODUCT_UPDATED = "PRODUCT_UPDATED"
    PRODUCT_DELETED = "PRODUCT_DELETED"
    STOCK_LOW = "STOCK_LOW"


class WebhookDeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
