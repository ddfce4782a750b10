-- Lists and standard-quality grants, alternately, every user in turn.
function request()
  n = n + 1
  local token = tokens[(n * 7 + tid) % #tokens + 1]
  if n % 2 == 0 then
    return wrk.format("GET", "/api/favorites", bearer(token))
  end
  return wrk.format("GET",
    string.format("/api/music/download-url/music_%03d?quality=standard", math.floor(n / 2) % 12 + 1),
    bearer(token))
end
