-- wrk script: POST the JSON body from the environment on every request, then print one
-- machine-readable line. The same body every time, or, with BENCH_UNIQUE set, `__NONCE__` in it
-- replaced by a fresh value on every request, so each is a distinct GraphQL request (a cache miss).
wrk.method = "POST"
wrk.body = assert(os.getenv("BENCH_BODY"), "BENCH_BODY is not set")
wrk.headers["Content-Type"] = "application/json"

-- Only when asked: with a `request` function wrk builds every request in Lua, which slows it down.
if (os.getenv("BENCH_UNIQUE") or "") ~= "" then
  local template = wrk.body
  local run = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000000))
  local counter = 0

  function request()
    counter = counter + 1
    local body = template:gsub("__NONCE__", run .. "-" .. counter)
    return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
  end
end

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
