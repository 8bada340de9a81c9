"""Payment providers behind one small interface (authorize, capture, refund), as Vendure has it.

Built in: `manual` (the order is placed unpaid; staff mark it paid) and `test-card` (token
`tok_decline` is declined, any other token is approved and captured at once).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class PaymentResult:
    approved: bool
    captured: bool
    reference: str
    message: str = ""


class PaymentProvider(Protocol):
    name: str

    async def authorize(self, amount: Decimal, currency: str, token: str | None) -> PaymentResult: ...

    async def capture(self, reference: str, amount: Decimal, currency: str) -> PaymentResult: ...

    async def refund(self, reference: str, amount: Decimal, currency: str) -> PaymentResult: ...


class ManualPayment:
    name = "manual"

    async def authorize(self, amount: Decimal, currency: str, token: str | None) -> PaymentResult:
        return PaymentResult(approved=True, captured=False, reference=f"manual_{secrets.token_hex(8)}")

    async def capture(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        # Money arrived outside the gateway (bank transfer, cash); staff confirm it by marking paid.
        return PaymentResult(approved=True, captured=True, reference=reference)

    async def refund(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        return PaymentResult(approved=True, captured=False, reference=reference, message="refund recorded")


class TestCardPayment:
    name = "test-card"
    DECLINED = "tok_decline"

    async def authorize(self, amount: Decimal, currency: str, token: str | None) -> PaymentResult:
        if token == self.DECLINED:
            return PaymentResult(approved=False, captured=False, reference="", message="The card was declined.")
        return PaymentResult(approved=True, captured=True, reference=f"test_{secrets.token_hex(8)}")

    async def capture(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        return PaymentResult(approved=True, captured=True, reference=reference)  # captured at authorization

    async def refund(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        return PaymentResult(approved=True, captured=False, reference=reference, message="refunded")


PROVIDERS: dict[str, PaymentProvider] = {p.name: p for p in (ManualPayment(), TestCardPayment())}


def provider(name: str) -> PaymentProvider | None:
    return PROVIDERS.get(name)
