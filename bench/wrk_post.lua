-- wrk script for the throughput cross-check: POST the body in $BENCH_BODY with $BENCH_TOKEN as the
-- bearer token, and print one line "BENCH_JSON {...}" with the request and error counts.
-- (wrk's latency statistics are corrected for coordinated omission, so the harness does not use them.)
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
end
