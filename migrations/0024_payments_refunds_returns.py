"""Payments, refunds and returns (issue 17): payment attempts become payments, which a payment
session records before checkout and which keep every event their provider reports; order lines
count the units refunded and returned; refunds and returns get tables of their own. The attempts
already recorded move over as the payments they were.

It follows 0023, the account tokens, on main before it: one chain, one leaf."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import CheckConstraint

from models.orders import OrderStatus
from models.payments import PaymentStatus
from models.refunds import RefundStatus
from models.returns import ReturnStatus

# An attempt ORDERED is its order's payment: CAPTURED when the order was paid (and refunded with
# it), AUTHORIZED otherwise (manual: promised; staff capture it by marking the order paid). One
# never ordered stays where it was (STARTED: PENDING, recovery gives it back once `expires_at`
# passed; UNUSED and RETURNED: CANCELLED, holding nothing).
COPY_ATTEMPTS = """
INSERT INTO payment (key, provider, cart_token, status, amount, currency, reference, method, client_secret,
                     return_url, redirect_url, captured, refunded, order_id, expires_at, created_at, updated_at)
SELECT a.key, a.provider, a.cart_token,
       CASE
           WHEN a.status = 'ORDERED' AND o.paid_at IS NOT NULL THEN 'CAPTURED'
           WHEN a.status = 'ORDERED' THEN 'AUTHORIZED'
           WHEN a.status = 'STARTED' THEN 'PENDING'
           WHEN a.status IN ('UNUSED', 'RETURNED') THEN 'CANCELLED'
           ELSE a.status
       END,
       a.amount, a.currency, a.reference, '', '', '', '',
       CASE WHEN a.status = 'ORDERED' AND o.paid_at IS NOT NULL THEN a.amount ELSE 0 END,
       CASE
           WHEN a.status = 'ORDERED' AND o.paid_at IS NOT NULL AND o.status IN ('REFUNDED', 'CANCELLED')
           THEN a.amount
           ELSE 0
       END,
       a.order_id,
       CASE WHEN a.order_id IS NULL THEN a.updated_at END,
       a.created_at, a.updated_at
FROM payment_attempt a LEFT JOIN "order" o ON o.id = a.order_id
ORDER BY a.id
"""


class Migration(migrations.Migration):
    dependencies = [("models", "0023_account_tokens")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Payment",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("key", fields.CharField(unique=True, max_length=64)),
                ("provider", fields.CharField(max_length=32)),
                ("cart_token", fields.CharField(max_length=64)),
                (
                    "status",
                    fields.CharEnumField(
                        default=PaymentStatus.PENDING,
                        description="PENDING: PENDING\nACTION_REQUIRED: ACTION_REQUIRED\nAUTHORIZED: AUTHORIZED\nCAPTURED: CAPTURED\nDECLINED: DECLINED\nCANCELLED: CANCELLED\nRETURNING: RETURNING",
                        enum_type=PaymentStatus,
                        max_length=16,
                    ),
                ),
                ("amount", fields.DecimalField(null=True, max_digits=12, decimal_places=2)),
                ("currency", fields.CharField(default="", max_length=3)),
                ("reference", fields.CharField(default="", max_length=128)),
                ("method", fields.CharField(default="", max_length=255)),
                ("client_secret", fields.CharField(default="", max_length=255)),
                ("return_url", fields.CharField(default="", max_length=2048)),
                ("redirect_url", fields.CharField(default="", max_length=2048)),
                ("captured", fields.DecimalField(default=0, max_digits=12, decimal_places=2)),
                ("refunded", fields.DecimalField(default=0, max_digits=12, decimal_places=2)),
                (
                    "order",
                    fields.ForeignKeyField(
                        "models.Order",
                        source_field="order_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="payments",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("expires_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "payment",
                "app": "models",
                "constraints": [
                    CheckConstraint(check="captured >= 0", name="payment_captured_non_negative"),
                    CheckConstraint(
                        check="refunded >= 0 AND refunded <= captured", name="payment_refunded_within_captured"
                    ),
                ],
                "indexes": [
                    Index(fields=["status", "updated_at"], name="payment_status_updated_idx"),
                    Index(fields=["order_id"], name="payment_order_idx"),
                    Index(fields=["provider", "reference"], name="payment_provider_reference_idx"),
                    Index(fields=["expires_at"], name="payment_expires_idx"),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="PaymentEvent",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "payment",
                    fields.ForeignKeyField(
                        "models.Payment",
                        source_field="payment_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="events",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("type", fields.CharField(max_length=32)),
                ("amount", fields.DecimalField(default=0, max_digits=12, decimal_places=2)),
                ("provider_event_id", fields.CharField(null=True, max_length=255)),
                ("message", fields.CharField(default="", max_length=500)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "payment_event",
                "app": "models",
                "unique_together": (("payment_id", "provider_event_id"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Refund",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "order",
                    fields.ForeignKeyField(
                        "models.Order",
                        source_field="order_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="refunds",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "payment",
                    fields.ForeignKeyField(
                        "models.Payment",
                        source_field="payment_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="refunds",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=RefundStatus.PENDING,
                        description="PENDING: PENDING\nSUCCEEDED: SUCCEEDED\nFAILED: FAILED",
                        enum_type=RefundStatus,
                        max_length=16,
                    ),
                ),
                ("amount", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("currency", fields.CharField(max_length=3)),
                ("shipping", fields.DecimalField(default=0, max_digits=12, decimal_places=2)),
                ("reason", fields.CharField(default="", max_length=500)),
                ("key", fields.CharField(unique=True, max_length=64)),
                ("reference", fields.CharField(default="", max_length=128)),
                ("actor", fields.CharField(default="", max_length=254)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "refund",
                "app": "models",
                "constraints": [
                    CheckConstraint(check="amount > 0", name="refund_amount_positive"),
                    CheckConstraint(check="shipping >= 0 AND shipping <= amount", name="refund_shipping_within"),
                ],
                "indexes": [
                    Index(fields=["order_id"], name="refund_order_idx"),
                    Index(fields=["status", "updated_at"], name="refund_status_updated_idx"),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RefundLine",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "refund",
                    fields.ForeignKeyField(
                        "models.Refund",
                        source_field="refund_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="lines",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "order_line",
                    fields.ForeignKeyField(
                        "models.OrderLine",
                        source_field="order_line_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="refund_lines",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("quantity", fields.IntField()),
                ("amount", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("restock", fields.BooleanField(default=False)),
            ],
            options={
                "table": "refund_line",
                "app": "models",
                "constraints": [CheckConstraint(check="quantity > 0", name="refund_line_quantity_positive")],
                "indexes": [Index(fields=["refund_id"], name="refund_line_refund_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Return",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "order",
                    fields.ForeignKeyField(
                        "models.Order",
                        source_field="order_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="returns",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=ReturnStatus.REQUESTED,
                        description="REQUESTED: REQUESTED\nAPPROVED: APPROVED\nREJECTED: REJECTED\nRECEIVED: RECEIVED\nREFUNDED: REFUNDED",
                        enum_type=ReturnStatus,
                        max_length=16,
                    ),
                ),
                ("reason", fields.CharField(default="", max_length=500)),
                ("rejection_reason", fields.CharField(default="", max_length=500)),
                ("requested_by", fields.CharField(default="", max_length=254)),
                (
                    "refund",
                    fields.ForeignKeyField(
                        "models.Refund",
                        source_field="refund_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="returns",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "return_request",
                "app": "models",
                "indexes": [Index(fields=["order_id"], name="return_order_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ReturnLine",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "return_request",
                    fields.ForeignKeyField(
                        "models.Return",
                        source_field="return_request_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="lines",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "order_line",
                    fields.ForeignKeyField(
                        "models.OrderLine",
                        source_field="order_line_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="return_lines",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("quantity", fields.IntField()),
                ("quantity_received", fields.IntField(default=0)),
            ],
            options={
                "table": "return_line",
                "app": "models",
                "unique_together": (("return_request_id", "order_line_id"),),
                "constraints": [
                    CheckConstraint(check="quantity > 0", name="return_line_quantity_positive"),
                    CheckConstraint(
                        check="quantity_received >= 0 AND quantity_received <= quantity",
                        name="return_line_received_within",
                    ),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AlterField(
            model_name="Order",
            name="status",
            field=fields.CharEnumField(
                default=OrderStatus.PLACED,
                description="AWAITING_PAYMENT: AWAITING_PAYMENT\nPLACED: PLACED\nPAID: PAID\nPARTIALLY_SHIPPED: PARTIALLY_SHIPPED\nSHIPPED: SHIPPED\nDELIVERED: DELIVERED\nCANCELLED: CANCELLED\nPARTIALLY_REFUNDED: PARTIALLY_REFUNDED\nREFUNDED: REFUNDED",
                enum_type=OrderStatus,
                max_length=20,
            ),
        ),
        ops.AddField(
            model_name="OrderLine",
            name="quantity_refunded",
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name="OrderLine",
            name="quantity_returned",
            field=fields.IntField(default=0),
        ),
        ops.AddConstraint(
            model_name="OrderLine",
            constraint=CheckConstraint(
                check="quantity_refunded >= 0 AND quantity_refunded <= quantity", name="order_line_refunded_within"
            ),
        ),
        ops.AddConstraint(
            model_name="OrderLine",
            constraint=CheckConstraint(
                check="quantity_returned >= 0 AND quantity_returned <= quantity", name="order_line_returned_within"
            ),
        ),
        ops.RunSQL(COPY_ATTEMPTS),
        ops.DeleteModel(name="PaymentAttempt"),
    ]
