-- wrk script: POST the same JSON body on every request, then print one machine-readable line.
-- The body comes from the environment so one script serves every scenario.
wrk.method = "POST"
wrk.body = assert(os.getenv("BENCH_BODY"), "BENCH_BODY is not set")
wrk.headers["Content-Type"] = "application/json"

-- No `response` callback on purpose: a per-response Lua call would slow wrk itself down.
-- Correctness of the body is checked by the harness before and after the run.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
