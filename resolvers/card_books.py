"""The test-card processor's books: every charge, void and refund, in an append-only JSON-lines file.

A real card processor's books outlive any of the gateway's processes; these stand in for them, so
they live outside the gateway's memory and outside its database: a worker killed between the
charge and its order's commit leaves the charge here, where recovery (and the fault drills) find
it. Every worker appends to the same file (`TEST_CARD_LEDGER`) with one small O_APPEND write per
entry, under an exclusive `flock` so that "has this key been charged?" and the charge that
follows are one step across processes.

A charge is made under an idempotency key, as Stripe's are: the same key gives the same charge,
and `give_back(key)` refunds whatever that charge still holds, once. Keys are remembered for the
latest `window` charges (Stripe remembers them for a day); giving back reads the whole file, so it
works for any key.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO

DEFAULT_PATH = "var/test-card-ledger.jsonl"


@dataclass(frozen=True)
class Entry:
    kind: str  # CHARGE, VOID or REFUND
    reference: str
    amount: Decimal
    currency: str
    key: str = ""  # the idempotency key the charge was made under (charges, and what `give_back` refunds)


def held(entries: Iterable[Entry]) -> dict[str, Decimal]:
    """What each charge still holds after its voids and refunds, for those holding anything."""
    balance: dict[str, Decimal] = {}
    for entry in entries:
        sign = 1 if entry.kind == "CHARGE" else -1
        balance[entry.reference] = balance.get(entry.reference, Decimal(0)) + sign * entry.amount
    return {reference: amount for reference, amount in balance.items() if amount > 0}


def read(path: str | Path) -> list[Entry]:
    """Every entry of the books at `path`, oldest first (none when there is no file yet)."""
    try:
        with open(path, "rb") as file:
            fcntl.flock(file, fcntl.LOCK_SH)  # no half-written line from a writer
            return _parse(file.read())
    except FileNotFoundError:
        return []


def _parse(data: bytes) -> list[Entry]:
    entries = []
    for line in data.splitlines():
        if line.strip():
            row = json.loads(line)
            entries.append(
                Entry(row["kind"], row["reference"], Decimal(row["amount"]), row["currency"], row.get("key", ""))
            )
    return entries


class CardBooks:
    """The books at `path`, as one process sees and writes them."""

    def __init__(self, path: str | Path, window: int = 10_000) -> None:
        self.path = Path(path)
        self.window = window
        self._charges: OrderedDict[str, Entry] = OrderedDict()  # key -> charge, the latest `window`
        self._read = 0  # bytes of the file already in `_charges`

    def charge(self, key: str, amount: Decimal, currency: str, reference: str = "") -> Entry:
        """Charge the card under `key` (as the charge `reference`, or a new one), or give the
        charge already made under it."""
        with self._locked() as file:
            charge = self._charges.get(key)
            if charge is None:
                charge = Entry("CHARGE", reference or f"test_{secrets.token_hex(8)}", amount, currency, key)
                self._append(file, charge)
            return charge

    def charged(self, key: str) -> Entry | None:
        """The charge made under `key`, by any process, if any (among the latest `window`)."""
        with self._locked():
            return self._charges.get(key)

    def add(self, kind: str, reference: str, amount: Decimal, currency: str) -> Entry:
        """Record a VOID or REFUND of the charge `reference`."""
        entry = Entry(kind, reference, amount, currency)
        with self._locked() as file:
            self._append(file, entry)
        return entry

    def refund(self, key: str, reference: str, amount: Decimal, currency: str) -> Entry:
        """Refund `amount` of the charge `reference` under `key`, or give the refund already made
        under it: asking again (a retry after a lost answer) refunds nothing more."""
        with self._locked() as file:
            file.seek(0)
            done = next((e for e in _parse(file.read()) if e.kind == "REFUND" and e.key == key), None)
            if done is None:
                done = Entry("REFUND", reference, amount, currency, key)
                self._append(file, done)
            return done

    def give_back(self, key: str) -> Entry | None:
        """Refund what the charge made under `key` still holds; None when it holds nothing (never
        charged, or already given back)."""
        with self._locked() as file:
            file.seek(0)
            entries = _parse(file.read())
            charge = next((e for e in entries if e.kind == "CHARGE" and e.key == key), None)
            if charge is None:
                return None
            amount = held(e for e in entries if e.reference == charge.reference).get(charge.reference)
            if amount is None:
                return None
            refund = Entry("REFUND", charge.reference, amount, charge.currency, key)
            self._append(file, refund)
            return refund

    def entries(self) -> list[Entry]:
        return read(self.path)

    def held(self) -> dict[str, Decimal]:
        return held(self.entries())

    @contextmanager
    def _locked(self) -> Iterator[IO[bytes]]:
        """The file opened for appending, locked against every other writer, with the charges other
        processes made since this one last looked already read."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b", buffering=0) as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            size = os.fstat(file.fileno()).st_size
            if size < self._read:  # the books were replaced (a test starting afresh)
                self._charges.clear()
                self._read = 0
            file.seek(self._read)
            self._remember(_parse(file.read()))
            self._read = size
            yield file

    def _append(self, file: IO[bytes], entry: Entry) -> None:
        row = {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(entry).items()}
        line = (json.dumps(row, separators=(",", ":")) + "\n").encode()
        os.write(file.fileno(), line)  # one write to an O_APPEND file: never interleaved with another
        self._remember([entry])
        self._read = os.fstat(file.fileno()).st_size

    def _remember(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            if entry.kind == "CHARGE" and entry.key:
                self._charges[entry.key] = entry
                if len(self._charges) > self.window:
                    self._charges.popitem(last=False)
