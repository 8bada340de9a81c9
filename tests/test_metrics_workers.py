"""Two workers behind the Procfile's `web:` line (WEB_CONCURRENCY=2): whichever one answers a scrape,
it reports the sum over both, as prometheus_client's parser reads it; and every line either writes
to stderr, the supervisor's included, is one JSON object with a request id field."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from contextlib import AsyncExitStack

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from testbed.processes import started_workers
from testbed.servers import free_port
from tests.conftest import ROOT
from tests.live import client_on_worker
from tests.procfile import commands, environment

pytestmark = pytest.mark.slow  # starts a server of two worker processes
QUERY = {"query": "query Shelf { products(first: 2) { totalCount } }"}


def readings(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape by name and labels, read by prometheus_client's own parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_one_scrape_is_the_sum_over_both_workers(db, tmp_path):
    log_path = tmp_path / "web.log"
    port = free_port()
    env = environment(
        PORT=str(port), WEB_CONCURRENCY="2", DATABASE_URL=db.url, LOG_LEVEL="INFO", RATE_LIMIT_PER_SECOND="0"
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log_path.open("wb") as log:
        # As a platform runs a Procfile line: a shell (exec, so the shell is uvicorn's supervisor).
        server = subprocess.Popen(  # noqa: ASYNC220 - only starts it; the waits below are async
            ["bash", "-c", "exec " + commands()["web"]],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        workers = await asyncio.to_thread(started_workers, server.pid, 2, lambda: log_path.read_text()[-3000:])
        async with AsyncExitStack() as stack:
            await _until_ready(base)
            first = await client_on_worker(base, workers[0], workers, stack)
            second = await client_on_worker(base, workers[1], workers, stack)
            for client, count in ((first, 3), (second, 5)):
                for _ in range(count):
                    response = await client.post("/graphql", json=QUERY)
                    assert response.status_code == 200 and response.json()["data"]["products"]["totalCount"] > 0
            # Each worker publishes its counts within a second; both answer with the same sums.
            deadline = time.monotonic() + 15
            while True:
                scrapes = [readings((await client.get("/metrics")).text) for client in (first, second)]
                graphql = [
                    s.get(("gateway_requests_total", (("operation", "other"), ("status", "200")))) for s in scrapes
                ]
                if graphql == [8, 8] or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
        assert graphql == [8, 8]
        for scrape in scrapes:
            assert scrape[("gateway_workers", ())] == 2
            assert scrape[("gateway_request_duration_seconds_count", (("operation", "other"),))] == 8
            assert scrape[("gateway_request_duration_seconds_bucket", (("le", "+Inf"), ("operation", "other")))] == 8
            assert scrape[("process_resident_memory_bytes", ())] > 0
            assert scrape[("process_cpu_seconds_total", ())] > 0
            assert scrape[("python_gc_collections_total", (("generation", "0"),))] >= 0
        # Counters only grow (Prometheus would read a drop between scrapes as a restart).
        assert (
            scrapes[1][("gateway_requests_total", (("operation", "/metrics"), ("status", "200")))]
            >= scrapes[0][("gateway_requests_total", (("operation", "/metrics"), ("status", "200")))]
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        await asyncio.to_thread(server.wait, 30)

    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    objects = [json.loads(line) for line in lines]  # every line: a JSON object
    for line in objects:
        assert {"timestamp", "level", "logger", "request_id"} <= line.keys(), line
    pids = {line["pid"] for line in objects}
    assert {server.pid, *workers} <= pids  # the supervisor's lines too
    access = [line for line in objects if line["logger"] == "gateway.access" and line["path"] == "/graphql"]
    assert len(access) == 8 and all(line["request_id"] for line in access)
    assert any(line["logger"].startswith("uvicorn") and line["pid"] == server.pid for line in objects)


async def _until_ready(base: str) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while True:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server never became ready"
            await asyncio.sleep(0.2)
