-- wrk script of bench/run.sh: a single machine-readable summary line when the run
-- ends. Defining only done() keeps wrk on its plain C request path, so the script
-- costs nothing while the load runs.
function done(summary, latency, requests)
  local e = summary.errors
  print(string.format(
    "WRK-SUMMARY requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d " ..
    "max_us=%d status_4xx5xx=%d connect=%d read=%d write=%d timeout=%d",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0),
    latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
