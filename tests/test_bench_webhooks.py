"""The webhooks benchmark's own judgement: its receiver refuses what does not verify and fails the
first attempts it is told to, and its tally finds every order missing, repeated or unexpected. The
scenario itself (`python -m bench webhooks`) needs the bench database and minutes of load."""

from __future__ import annotations

import json
import time

import pytest

from bench.webhook_receiver import Receiver
from bench.webhooks import analyse
from resolvers.webhooks_out import generate_secret, sign


def _delivery(
    secret: str, event_id: str, number: int, timestamp: int | None = None
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = json.dumps({"id": event_id, "type": "ORDER_PLACED", "data": {"object": {"number": number}}}).encode()
    at = int(time.time()) if timestamp is None else timestamp
    message_id = f"msg_{event_id}"
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(at),
        "webhook-signature": sign(secret, message_id, at, body),
    }
    return body, [(name.encode(), value.encode()) for name, value in headers.items()]


def test_the_receiver_fails_the_first_attempts_of_each_webhook_id_then_takes_it():
    secret = generate_secret()
    receiver = Receiver(secret, fail_first=2)
    first, second = _delivery(secret, "e1", 1), _delivery(secret, "e2", 2)
    answers = [receiver.judge(time.time(), *first) for _ in range(3)] + [receiver.judge(time.time(), *second)]
    assert answers == [500, 500, 200, 500]
    assert receiver.delivered == {"msg_e1"}
    assert [(a[0], a[2], a[3], a[4]) for a in receiver.attempts] == [
        ("msg_e1", 500, "ORDER_PLACED", 1),
        ("msg_e1", 500, "ORDER_PLACED", 1),
        ("msg_e1", 200, "ORDER_PLACED", 1),
        ("msg_e2", 500, "ORDER_PLACED", 2),
    ]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, headers: (body + b" ", headers),  # the body changed on the way
        lambda body, headers: (body, [(k, b"v1,AAAA" if k == b"webhook-signature" else v) for k, v in headers]),
        lambda body, headers: (body, [(k, v) for k, v in headers if k != b"webhook-timestamp"]),
    ],
)
def test_the_receiver_refuses_a_delivery_that_does_not_verify(tamper):
    secret = generate_secret()
    receiver = Receiver(secret, fail_first=0)
    body, headers = tamper(*_delivery(secret, "e1", 1))
    assert receiver.judge(time.time(), body, headers) == 400
    assert receiver.delivered == set()
    assert receiver.attempts[0][2] == 400 and receiver.attempts[0][5]


def test_a_signature_older_than_five_minutes_is_refused():
    secret = generate_secret()
    receiver = Receiver(secret, fail_first=0)
    assert receiver.judge(time.time(), *_delivery(secret, "e1", 1, int(time.time()) - 600)) == 400


def test_the_tally_counts_each_order_delivered_once_and_finds_the_rest():
    committed = {"a": 100.0, "b": 100.0, "c": 100.0, "w": 90.0}
    attempts = [
        ["msg_a", 100.5, 500, "ORDER_PLACED", 1, None],
        ["msg_a", 101.0, 200, "ORDER_PLACED", 1, None],
        ["msg_b", 100.2, 200, "ORDER_PLACED", 2, None],
        ["msg_b", 100.9, 200, "ORDER_PLACED", 2, None],  # sent again and taken again: a duplicate
        ["msg_w", 90.1, 200, "ORDER_PLACED", 9, None],  # the warm-up's: expected, not measured
        ["msg_x", 100.3, 200, "ORDER_PLACED", 7, None],  # no order of this run
        ["msg_c", 100.4, 400, None, None, "No matching signature found"],
    ]
    seen = analyse(attempts, placed=[1, 2, 3], warmup=[9], committed=committed)
    assert (seen["placed"], seen["delivered"], seen["missing"]) == (3, 2, 1)
    assert (seen["duplicates"], seen["unexpected"], seen["unverified"]) == (1, 1, 1)
    assert seen["attempts_per_delivery"] == {1: 3, 2: 2}
    assert seen["commit_to_delivery"]["count"] == 2
    assert seen["commit_to_delivery"]["min_s"] == pytest.approx(0.2)
    assert seen["commit_to_delivery"]["max_s"] == pytest.approx(1.0)
    assert seen["commit_to_first_attempt"]["max_s"] == pytest.approx(0.5)
    assert seen["between_attempts"]["1->2"]["count"] == 2
