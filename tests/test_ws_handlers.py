"""The graphql-transport-ws handler's logging: a client that leaves is not an error."""

from __future__ import annotations

import logging

import pytest
from strawberry.http.exceptions import WebSocketDisconnected

from gateway.graphql_view import GatewayGraphQL, TransportWSHandler


def test_the_view_uses_the_gateway_handler() -> None:
    assert GatewayGraphQL.graphql_transport_ws_handler_class is TransportWSHandler


async def test_a_client_gone_mid_event_logs_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    # What Strawberry's operation task reports when the socket closed while it sent an event
    # (seen four times in a ten-minute soak, each a traceback in the server log).
    handler = object.__new__(TransportWSHandler)  # the method needs nothing of a live connection
    with caplog.at_level(logging.DEBUG, logger="strawberry.ws.task"):
        await handler.handle_task_exception(WebSocketDisconnected())
    assert not caplog.records


async def test_other_task_failures_are_still_logged(caplog: pytest.LogCaptureFixture) -> None:
    handler = object.__new__(TransportWSHandler)
    with caplog.at_level(logging.DEBUG, logger="strawberry.ws.task"):
        await handler.handle_task_exception(RuntimeError("a real bug"))
    assert [r.exc_info and r.exc_info[0] for r in caplog.records] == [RuntimeError]
