"""The Lua scripts behind ``RedisHotStore``: each operation is one script, so it is atomic on the server.

Each script touches exactly one key (``KEYS[1]``), so it runs unchanged on Redis Cluster. Numbers arrive
as strings: floats in Python's shortest round-trip form, which Lua parses back to the very same double,
so bucket arithmetic here matches ``MemoryHotStore`` bit for bit.

A window is a hash ``bucket index -> amount``; a counter is a hash with the committed total in ``c`` and
reservations in ``r:<lease generation>``. Every write refreshes the key's TTL, so nothing outlives its use.
"""

from __future__ import annotations

# Shared prologue: drop buckets that left the window, collect the rest as {bucket, amount} pairs.
# ARGV[1] amount or delta, ARGV[2] bucket width, ARGV[3] now, ARGV[4] buckets per window, ARGV[5] TTL in ms.
_LIVE_BUCKETS = """
local key = KEYS[1]
local width = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local current = math.floor(now / width)
local oldest = current - tonumber(ARGV[4])
local ttl_ms = tonumber(ARGV[5])
local flat = redis.call('HGETALL', key)
local live = {}
local used = 0
for i = 1, #flat, 2 do
  local bucket = tonumber(flat[i])
  if bucket < oldest then
    redis.call('HDEL', key, flat[i])
  else
    local value = tonumber(flat[i + 1])
    used = used + value
    live[#live + 1] = {bucket, value}
  end
end
table.sort(live, function(a, b) return a[1] < b[1] end)
"""

# ARGV[6] limit. Returns {admitted, used, has_reset, reset_bucket}: the bucket whose expiry drops usage
# (admitted) or frees enough room for the amount (refused).
WINDOW_TAKE = (
    _LIVE_BUCKETS
    + """
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[6])
if used + amount > limit then
  if #live == 0 then
    return {0, used, 0, 0}
  end
  local excess = used + amount - limit
  local freed = 0
  local reset_bucket = live[#live][1]
  for _, entry in ipairs(live) do
    freed = freed + entry[2]
    if freed >= excess then
      reset_bucket = entry[1]
      break
    end
  end
  return {0, used, 1, reset_bucket}
end
redis.call('HINCRBY', key, string.format('%d', current), amount)
redis.call('PEXPIRE', key, ttl_ms)
local reset_bucket = current
if #live > 0 and live[1][1] < current then
  reset_bucket = live[1][1]
end
return {1, used + amount, 1, reset_bucket}
"""
)

# A refund comes off the newest buckets first: the take it corrects is most likely among them.
WINDOW_ADJUST = (
    _LIVE_BUCKETS
    + """
local delta = tonumber(ARGV[1])
if delta > 0 then
  redis.call('HINCRBY', key, string.format('%d', current), delta)
else
  local owed = -delta
  for i = #live, 1, -1 do
    if owed == 0 then
      break
    end
    local bucket, value = live[i][1], live[i][2]
    local taken = math.min(value, owed)
    owed = owed - taken
    local field = string.format('%d', bucket)
    if value == taken then
      redis.call('HDEL', key, field)
    else
      redis.call('HSET', key, field, value - taken)
    end
  end
end
if redis.call('EXISTS', key) == 1 then
  redis.call('PEXPIRE', key, ttl_ms)
end
return 0
"""
)

# Shared prologue of the counter scripts. Reservations are kept per lease generation (fields ``r:<n>``,
# n = server time // lease) and generations older than the previous one are dropped, so a reservation that
# is never settled (a crashed replica, a request cut short) is forgotten after one to two leases instead of
# blocking the budget until the period ends. ARGV[1] is the lease in seconds.
_COUNTER_STATE = """
local key = KEYS[1]
local clock = redis.call('TIME')
local generation = math.floor((tonumber(clock[1]) + tonumber(clock[2]) / 1000000) / tonumber(ARGV[1]))
local flat = redis.call('HGETALL', key)
local committed = 0
local reserved = 0
local held = {}
for i = 1, #flat, 2 do
  local field = flat[i]
  if field == 'c' then
    committed = tonumber(flat[i + 1])
  elseif string.sub(field, 1, 2) == 'r:' then
    local n = tonumber(string.sub(field, 3))
    if n < generation - 1 then
      redis.call('HDEL', key, field)
    else
      local value = tonumber(flat[i + 1])
      reserved = reserved + value
      held[n] = value
    end
  end
end
"""

# ARGV[2] amount, ARGV[3] limit ('' for none), ARGV[4] TTL in ms. Returns {reserved?, committed + reserved}.
COUNTER_RESERVE = (
    _COUNTER_STATE
    + """
local amount = tonumber(ARGV[2])
local total = committed + reserved
if ARGV[3] ~= '' and total + amount > tonumber(ARGV[3]) then
  return {0, total}
end
redis.call('HINCRBY', key, 'r:' .. string.format('%d', generation), amount)
redis.call('PEXPIRE', key, tonumber(ARGV[4]))
return {1, total + amount}
"""
)

# ARGV[2] reserved, ARGV[3] actual, ARGV[4] TTL in ms. Returns the new committed total. The release comes
# off the current generation first, then the previous one, never below zero.
COUNTER_SETTLE = (
    _COUNTER_STATE
    + """
local owed = tonumber(ARGV[2])
for n = generation, generation - 1, -1 do
  local value = held[n]
  if value ~= nil and owed > 0 then
    local taken = math.min(value, owed)
    owed = owed - taken
    local field = 'r:' .. string.format('%d', n)
    if value == taken then
      redis.call('HDEL', key, field)
    else
      redis.call('HSET', key, field, string.format('%d', value - taken))
    end
  end
end
committed = math.max(0, committed + tonumber(ARGV[3]))
redis.call('HSET', key, 'c', string.format('%d', committed))
redis.call('PEXPIRE', key, tonumber(ARGV[4]))
return committed
"""
)

# Returns {committed, reserved}; expired generations are dropped on the way, as in every counter script.
COUNTER_GET = (
    _COUNTER_STATE
    + """
return {committed, reserved}
"""
)
