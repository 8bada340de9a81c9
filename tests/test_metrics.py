"""The metrics' own memory: one series per operation name, however many names clients invent."""

from __future__ import annotations

from gateway.metrics import MAX_OPERATIONS, OTHER_OPERATIONS, Metrics


def test_operation_names_beyond_the_limit_share_one_series() -> None:
    metrics = Metrics()
    for number in range(MAX_OPERATIONS + 2000):
        # A client can name every request differently (and a scanner can try any path).
        metrics.observe(f"Probe{number}", 200, 0.002)
    text = metrics.render()
    assert len(metrics.buckets) <= MAX_OPERATIONS + 1
    assert len(metrics.requests) <= MAX_OPERATIONS + 1
    assert 'gateway_requests_total{operation="Probe0",status="200"} 1' in text
    assert f'gateway_requests_total{{operation="{OTHER_OPERATIONS}",status="200"}} ' in text
    counted = sum(metrics.requests.values())
    assert counted == MAX_OPERATIONS + 2000  # nothing is lost, only folded


def test_names_seen_before_the_limit_keep_their_own_series() -> None:
    metrics = Metrics()
    for number in range(MAX_OPERATIONS + 10):
        metrics.observe(f"Probe{number}", 200, 0.002)
    metrics.observe("Probe1", 500, 0.2)
    assert metrics.requests[("Probe1", "500")] == 1
    assert metrics.buckets["Probe1"][-1] == 0 and sum(metrics.buckets["Probe1"]) == 2
