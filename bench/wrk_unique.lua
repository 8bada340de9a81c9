-- wrk script: POST the body with `__NONCE__` replaced by a fresh value on every request, so each
-- request is a distinct GraphQL request (a cache miss), then print one machine-readable line.
local template = assert(os.getenv("BENCH_BODY"), "BENCH_BODY is not set")
local run = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000000))
local counter = 0

function request()
  counter = counter + 1
  local body = template:gsub("__NONCE__", run .. "-" .. counter)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
