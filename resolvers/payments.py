"""Payment providers behind one small interface (authorize, capture, void, refund), as Vendure has it.

Built in: `manual` (the order is placed unpaid; staff mark it paid) and `test-card` (token
`tok_decline` is declined, any other token is approved and captured at once). The test-card
provider stands in for a card processor, so it keeps the processor's side of the books: a ledger
of every charge, void and refund it made, which is how anyone checks that no card was charged
without an order.
"""

from __future__ import annotations

import secrets
from collections import deque
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

    async def void(self, reference: str, amount: Decimal, currency: str) -> PaymentResult: ...

    async def refund(self, reference: str, amount: Decimal, currency: str) -> PaymentResult: ...


async def undo(provider: PaymentProvider, authorization: PaymentResult, amount: Decimal, currency: str) -> PaymentResult:
    """Give back an approved payment that ended without an order: void what was only authorized,
    refund what was captured."""
    if authorization.captured:
        return await provider.refund(authorization.reference, amount, currency)
    return await provider.void(authorization.reference, amount, currency)


class ManualPayment:
    name = "manual"

    async def authorize(self, amount: Decimal, currency: str, token: str | None) -> PaymentResult:
        return PaymentResult(approved=True, captured=False, reference=f"manual_{secrets.token_hex(8)}")

    async def capture(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        # Money arrived outside the gateway (bank transfer, cash); staff confirm it by marking paid.
        return PaymentResult(approved=True, captured=True, reference=reference)

    async def void(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        return PaymentResult(approved=True, captured=False, reference=reference, message="nothing was collected")

    async def refund(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        return PaymentResult(approved=True, captured=False, reference=reference, message="refund recorded")


@dataclass(frozen=True)
class LedgerEntry:
    kind: str  # CHARGE, VOID or REFUND
    reference: str
    amount: Decimal
    currency: str


class Ledger:
    """A processor's record of what it did to cards, newest last.

    It keeps the latest `size` entries only, so a long-running process does not grow with every
    payment; checks read a window of recent activity.
    """

    def __init__(self, size: int = 1000) -> None:
        self.entries: deque[LedgerEntry] = deque(maxlen=size)

    def add(self, kind: str, reference: str, amount: Decimal, currency: str) -> None:
        self.entries.append(LedgerEntry(kind, reference, amount, currency))

    def held(self) -> dict[str, Decimal]:
        """What each charge still holds after its voids and refunds, for those holding anything."""
        held: dict[str, Decimal] = {}
        for entry in self.entries:
            sign = 1 if entry.kind == "CHARGE" else -1
            held[entry.reference] = held.get(entry.reference, Decimal(0)) + sign * entry.amount
        return {reference: amount for reference, amount in held.items() if amount > 0}


class TestCardPayment:
    name = "test-card"
    DECLINED = "tok_decline"

    def __init__(self) -> None:
        self.ledger = Ledger()

    async def authorize(self, amount: Decimal, currency: str, token: str | None) -> PaymentResult:
        if token == self.DECLINED:
            return PaymentResult(approved=False, captured=False, reference="", message="The card was declined.")
        reference = f"test_{secrets.token_hex(8)}"
        self.ledger.add("CHARGE", reference, amount, currency)
        return PaymentResult(approved=True, captured=True, reference=reference)

    async def capture(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        return PaymentResult(approved=True, captured=True, reference=reference)  # captured at authorization

    async def void(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        self.ledger.add("VOID", reference, amount, currency)
        return PaymentResult(approved=True, captured=False, reference=reference, message="voided")

    async def refund(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        self.ledger.add("REFUND", reference, amount, currency)
        return PaymentResult(approved=True, captured=False, reference=reference, message="refunded")


PROVIDERS: dict[str, PaymentProvider] = {p.name: p for p in (ManualPayment(), TestCardPayment())}


def provider(name: str) -> PaymentProvider | None:
    return PROVIDERS.get(name)
