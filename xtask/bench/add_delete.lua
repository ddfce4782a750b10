-- Each of this thread's users in turn adds, then (its next turn) deletes, one item. A
-- thread has more users than connections, so a user's previous request has always been
-- answered before its next is sent: no request races another of the same user.
local added = {}
-- One item per run (warm-up and measured runs are separate processes), so a run never
-- finds the item its previous run left behind.
local item = "bench_" .. os.time()
function request()
  n = n + 1
  local k = n % #mine + 1
  local headers = bearer(mine[k])
  -- wrk makes a connection's first request when it connects, and drops it if the
  -- connection is made again: a dropped add would make that user's next delete a 404.
  -- So each user's first turn only reads.
  if n <= #mine then
    return wrk.format("GET", "/api/favorites/contains?item_ids=" .. item, headers)
  end
  added[k] = not added[k]
  if added[k] then
    return wrk.format("POST", "/api/favorites", headers,
      string.format('{"item_id":"%s","item_type":"music","item_data":{"title":"t","cover":"c","duration":1}}', item))
  end
  return wrk.format("DELETE", "/api/favorites/items/" .. item, headers)
end
