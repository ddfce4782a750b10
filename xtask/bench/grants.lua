-- Grants over 12 tracks and 3 qualities, every user in turn.
local qualities = { "standard", "high", "lossless" }
function request()
  n = n + 1
  local path = string.format("/api/music/download-url/music_%03d?quality=%s",
    n % 12 + 1, qualities[math.floor(n / 12) % 3 + 1])
  return wrk.format("GET", path, bearer(tokens[(n + tid * 13) % #tokens + 1]))
end
