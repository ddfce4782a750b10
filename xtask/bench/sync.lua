-- PUT /api/favorites/sync with 100 changes (adds and removes of 100 items, timestamped
-- the last minute), this thread's users in turn.
function request()
  n = n + 1
  local now = os.time()
  local changes = {}
  for k = 0, 99 do
    local ts = os.date("!%Y-%m-%dT%H:%M:%SZ", now - 60 + k)
    if (k + n) % 2 == 0 then
      changes[#changes + 1] = string.format(
        '{"item_id":"sync_%d","action":"add","timestamp":"%s","item_data":{"title":"s","cover":"","duration":1}}', k, ts)
    else
      changes[#changes + 1] = string.format(
        '{"item_id":"sync_%d","action":"remove","timestamp":"%s"}', k, ts)
    end
  end
  local body = '{"last_sync_time":null,"local_changes":[' .. table.concat(changes, ",") .. ']}'
  return wrk.format("PUT", "/api/favorites/sync", bearer(mine[n % #mine + 1]), body)
end
