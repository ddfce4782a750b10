-- The part every bench script shares (the scenario's `request` follows it): the
-- bench users' tokens (one JWT per line in $TOKENS_FILE), each thread's number and
-- count ($THREADS), and a machine-readable summary line for `cargo xtask bench`.
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

tokens = {}
n = 0

function init(args)
  local path = os.getenv("TOKENS_FILE")
  if path then
    for line in io.lines(path) do
      if #line > 0 then tokens[#tokens + 1] = line end
    end
  end
  tid = tid or 0
  threads = tonumber(os.getenv("THREADS") or "1")
  -- This thread's own users: every user belongs to one thread.
  mine = {}
  for k = 1, #tokens do
    if (k - 1) % threads == tid then mine[#mine + 1] = tokens[k] end
  end
end

function bearer(token)
  return { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d status_errors=%d socket_errors=%d p50=%d p99=%d p999=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
