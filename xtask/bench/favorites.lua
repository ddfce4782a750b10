-- GET /api/favorites, over every user in turn (threads start at different users).
function request()
  n = n + 1
  return wrk.format("GET", "/api/favorites", bearer(tokens[(tid * 37 + n) % #tokens + 1]))
end
