"""The fault drills' judge of replies (tests/drill_traffic.py): what the contract allows under a fault."""

from __future__ import annotations

import httpx
import pytest

from tests.drill_traffic import judge

UNAVAILABLE = {
    "errors": [
        {"message": "The database is unreachable; retry shortly.", "extensions": {"code": "SERVICE_UNAVAILABLE"}}
    ]
}
LIMITED = {"errors": [{"message": "Too many requests.", "extensions": {"code": "RATE_LIMITED"}}]}


def _reply(status: int, body: object = None, text: str | None = None, **headers: str) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    "response",
    [
        _reply(200, {"data": {"products": {"totalCount": 3}}}),
        _reply(503, UNAVAILABLE, **{"retry-after": "1"}),
        _reply(429, LIMITED, **{"retry-after": "2"}),
        _reply(200, {"data": None, **UNAVAILABLE}),
    ],
    ids=["success", "503 with Retry-After", "429 with Retry-After", "SERVICE_UNAVAILABLE in a 200"],
)
def test_documented_replies_pass(response):
    assert judge(response)[2] == ""


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (
            _reply(
                200,
                {
                    "data": None,
                    "errors": [{"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}],
                },
            ),
            "INTERNAL_SERVER_ERROR",
        ),
        (_reply(503, UNAVAILABLE), "without Retry-After"),
        (_reply(503, text="Service Unavailable", **{"retry-after": "1"}), "not JSON"),
        (_reply(500, text="Internal Server Error"), "not JSON"),
        (
            _reply(502, {"errors": [{"message": "bad gateway", "extensions": {"code": "SERVICE_UNAVAILABLE"}}]}),
            "HTTP 502",
        ),
        (_reply(200, {"errors": [{"message": "boom"}]}), "without a code"),
        (
            _reply(
                200,
                {
                    "errors": [
                        {"message": 'Traceback (most recent call last):\n  File "x.py"', "extensions": {"code": "X"}}
                    ]
                },
            ),
            "traceback",
        ),
    ],
    ids=["masked internal error", "503 without Retry-After", "503 in plain text", "500", "502", "no code", "traceback"],
)
def test_anything_else_is_a_problem(response, problem):
    assert problem in judge(response)[2]
