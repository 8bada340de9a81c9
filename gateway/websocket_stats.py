"""WebSocket connections and their operations: counted for `/metrics` and logged.

One line when a connection is accepted, one per operation a client starts (its id and, cut short,
its operation name: logs may carry what a client sent, metric labels may not), one when the
connection closes (how long it lasted and how many operations it started). The request
middleware's request id is on every one of them.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.logs import Fields
from gateway.metrics import Metrics

log = logging.getLogger("gateway.websocket")
# Both protocols Strawberry speaks; the only label values (a client picks one of these or is refused).
GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"
GRAPHQL_WS = "graphql-ws"
PROTOCOLS = (GRAPHQL_TRANSPORT_WS, GRAPHQL_WS)
_NAME_CHARS = 100  # of an operation name in a log line


class WebSocketStats:
    def __init__(self) -> None:
        self.opened: dict[str, int] = defaultdict(int)  # protocol -> connections accepted
        self.closed: dict[str, int] = defaultdict(int)
        self.operations: dict[str, int] = defaultdict(int)  # protocol -> operations started

    @contextmanager
    def connection(self, protocol: str) -> Iterator[Connection]:
        """Around a connection's whole life, from its acceptance to its close."""
        self.opened[protocol] += 1
        log.info(Fields(message="websocket connected", protocol=protocol))
        connection = Connection(self, protocol)
        try:
            yield connection
        finally:
            self.closed[protocol] += 1
            log.info(
                Fields(
                    message="websocket closed",
                    protocol=protocol,
                    duration_s=round(time.monotonic() - connection.started, 3),
                    operations=connection.operations,
                )
            )

    def publish(self, metrics: Metrics) -> None:
        metrics.reading(
            "gateway_websocket_connections_open",
            "gauge",
            "WebSocket connections open, by protocol.",
            lambda: {(p,): float(self.opened[p] - self.closed[p]) for p in PROTOCOLS},
            labels=("protocol",),
        )
        metrics.reading(
            "gateway_websocket_connections_total",
            "counter",
            "WebSocket connections accepted, by protocol.",
            lambda: {(p,): float(self.opened[p]) for p in PROTOCOLS},
            labels=("protocol",),
        )
        metrics.reading(
            "gateway_websocket_operations_total",
            "counter",
            "Operations (subscriptions, queries, mutations) started over WebSocket, by protocol.",
            lambda: {(p,): float(self.operations[p]) for p in PROTOCOLS},
            labels=("protocol",),
        )


class Connection:
    def __init__(self, stats: WebSocketStats, protocol: str) -> None:
        self.stats = stats
        self.protocol = protocol
        self.started = time.monotonic()
        self.operations = 0

    def operation(self, operation_id: object, name: object) -> None:
        """A client started an operation (counted whether or not it is then accepted)."""
        self.operations += 1
        self.stats.operations[self.protocol] += 1
        log.info(
            Fields(
                message="websocket operation",
                protocol=self.protocol,
                id=str(operation_id)[:_NAME_CHARS],
                operation=str(name)[:_NAME_CHARS] if isinstance(name, str) else None,
            )
        )
